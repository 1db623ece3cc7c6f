#include <gtest/gtest.h>

#include "loadctl/text.hpp"

namespace text = loadctl::text;

TEST(Text, IequalsFoldsAsciiLettersOnly) {
  EXPECT_TRUE(text::iequals("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(text::iequals("abc", "abcd"));
  // (c | 0x20) folding, which two parsers used, took these for equal.
  EXPECT_FALSE(text::iequals("@", "`"));
  EXPECT_FALSE(text::iequals("[", "{"));
  EXPECT_FALSE(text::iequals("\xC3\x89", "\xC3\xA9"));  // É and é: bytes, not letters
}

TEST(Text, IequalsLowerFoldsTheFirstArgumentOnly) {
  EXPECT_TRUE(text::iequals_lower("Transfer-Encoding", "transfer-encoding"));
  EXPECT_FALSE(text::iequals_lower("chunked", "Chunked"));
}

TEST(Text, TrimRemovesOnlyTheGivenCharacters) {
  EXPECT_EQ(text::trim(" \t value \t"), "value");
  EXPECT_EQ(text::trim("\r\n value\r\n"), "\r\n value\r\n");
  EXPECT_EQ(text::trim("\r\n value\r\n", " \t\r\n"), "value");
  EXPECT_EQ(text::trim(" \t "), "");
  EXPECT_EQ(text::trim("a b"), "a b");
}

TEST(Text, HasCtlFindsC0AndDel) {
  EXPECT_FALSE(text::has_ctl("plain value ~"));
  EXPECT_TRUE(text::has_ctl("a\rb"));
  EXPECT_TRUE(text::has_ctl(std::string_view("a\0b", 3)));
  EXPECT_TRUE(text::has_ctl("a\x7f"));
  EXPECT_FALSE(text::has_ctl("\x80\xff"));  // bytes above DEL are not controls
}

TEST(Text, Lowered) { EXPECT_EQ(text::lowered("MiXeD-09_Z"), "mixed-09_z"); }
