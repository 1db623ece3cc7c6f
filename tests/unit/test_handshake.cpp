#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "control/handshake.hpp"

using namespace loadctl::control;

namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";

std::string controller_hello(const std::string& token, std::uint32_t version = kProtocolVersion) {
  Hello h;
  h.version = version;
  h.token = token;
  h.agent_id = 4;
  h.hostname = "controller";
  h.software_version = "test";
  return h.encode();
}

std::string write_file(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()));
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST(Handshake, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal(kToken, kToken));
  EXPECT_FALSE(constant_time_equal(kToken, kToken.substr(1)));
  EXPECT_FALSE(constant_time_equal("abcd", "abce"));
  EXPECT_FALSE(constant_time_equal("xbcd", "abcd"));
}

TEST(Handshake, AcceptsTheRightToken) {
  Hello accepted;
  EXPECT_EQ(check_controller_hello(controller_hello(kToken), kToken, &accepted), std::nullopt);
  EXPECT_EQ(accepted.agent_id, 4u);
  EXPECT_EQ(accepted.hostname, "controller");
}

TEST(Handshake, RefusesWithAReason) {
  auto wrong = check_controller_hello(controller_hello("ffffffffffffffffffffffffffffffff"), kToken, nullptr);
  ASSERT_TRUE(wrong);
  EXPECT_NE(wrong->find("wrong token"), std::string::npos);
  auto version = check_controller_hello(controller_hello(kToken, kProtocolVersion + 1), kToken, nullptr);
  ASSERT_TRUE(version);
  EXPECT_NE(version->find("protocol version"), std::string::npos);
  auto junk = check_controller_hello("GET / HTTP/1.1\r\n\r\n", kToken, nullptr);
  ASSERT_TRUE(junk);
  EXPECT_NE(junk->find("malformed"), std::string::npos);
}

TEST(Handshake, TokenFile) {
  auto good = write_file("loadctl-token-good", "  " + kToken + " \nsecond line ignored\n");
  EXPECT_EQ(read_token_file(good), kToken);
  auto short_token = write_file("loadctl-token-short", "abc\n");
  EXPECT_THROW(read_token_file(short_token), std::runtime_error);
  EXPECT_THROW(read_token_file("/nonexistent/loadctl-token"), std::runtime_error);
  std::filesystem::remove(good);
  std::filesystem::remove(short_token);
}
