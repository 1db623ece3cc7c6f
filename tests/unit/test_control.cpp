#include <gtest/gtest.h>

#include <random>

#include "control/messages.hpp"

using namespace loadctl::control;

TEST(ControlMessages, HelloRoundTrip) {
  Hello h;
  h.token = "abc";
  h.agent_id = 7;
  h.hostname = "host";
  h.pid = 1234;
  h.software_version = "0.1.0";
  auto back = Hello::decode(h.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->token, "abc");
  EXPECT_EQ(back->agent_id, 7u);
  EXPECT_EQ(back->version, kProtocolVersion);
}

TEST(ControlMessages, HelloWithoutMagicIsRefused) {
  std::string bytes = Hello{}.encode();
  bytes[5] = 'X';  // inside the magic string
  EXPECT_FALSE(Hello::decode(bytes));
  EXPECT_FALSE(Hello::decode("GET / HTTP/1.1\r\n\r\n"));
}

TEST(ControlMessages, SetupAndGoRoundTrip) {
  loadctl::control::Setup s{"x.xml", "<tsung/>", std::string("\0\1\2", 3), 4};
  auto back = loadctl::control::Setup::decode(s.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->plan, s.plan);
  EXPECT_EQ(back->threads, 4u);
  s.agent_count = 3;
  s.files = {{"users", "/tmp/u.csv", {"a;1", "b;2"}}, {"empty", "e.csv", {}}};
  back = loadctl::control::Setup::decode(s.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->agent_count, 3u);
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[0].id, "users");
  EXPECT_EQ(back->files[0].path, "/tmp/u.csv");
  EXPECT_EQ(back->files[0].lines, (std::vector<std::string>{"a;1", "b;2"}));
  auto go = Go::decode(Go{1.25}.encode());
  ASSERT_TRUE(go);
  EXPECT_DOUBLE_EQ(go->delay, 1.25);
  EXPECT_TRUE(Go::decode(Go{-1}.encode())) << "a late agent joins after time zero";
  EXPECT_FALSE(Go::decode(Go{-100000}.encode()));
  EXPECT_FALSE(Go::decode(Go{4000}.encode()));
}

TEST(ControlMessages, RandomBytesNeverDecode) {
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    EXPECT_FALSE(Hello::decode(junk));
    // Setup may decode by chance only if lengths line up exactly; it must never crash.
    (void)loadctl::control::Setup::decode(junk);
  }
}
