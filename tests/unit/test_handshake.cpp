#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

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
  using std::filesystem::perms;
  auto good = write_file("loadctl-token-good", "  " + kToken + " \nsecond line ignored\n");
  std::filesystem::permissions(good, perms::owner_read | perms::owner_write);
  EXPECT_EQ(read_token_file(good), kToken);
  // The same file readable by group/others is refused, naming the mode and the fix.
  std::filesystem::permissions(good, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
  try {
    read_token_file(good);
    ADD_FAILURE() << "a mode-644 token file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("mode 0644): run chmod 600"), std::string::npos) << e.what();
  }
  auto short_token = write_file("loadctl-token-short", kToken.substr(1) + "\n");  // 31 hex digits: < 128 bits
  std::filesystem::permissions(short_token, perms::owner_read | perms::owner_write);
  try {
    read_token_file(short_token);
    ADD_FAILURE() << "a 124-bit token was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("32-128 hex digits"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_token_file("/nonexistent/loadctl-token"), std::runtime_error);
  std::filesystem::remove(good);
  std::filesystem::remove(short_token);
}

TEST(Handshake, RandomTokensAre128BitHex) {
  auto a = random_token();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(check_token(a), std::nullopt);
  EXPECT_NE(a, random_token());
  EXPECT_TRUE(check_token("xyz0123456789abcdef0123456789abcdef"));
}

namespace {

Hello agent_hello(std::uint32_t id, const std::string& token) {
  Hello h;
  h.token = token;
  h.agent_id = id;
  h.hostname = "agent";
  return h;
}

}  // namespace

// One hello per slot: the first right token claims it; a later claimant (even with the right
// token) is refused with a reason, and so are wrong tokens and listening agents' slots.
TEST(Handshake, AgentSlotAcceptsExactlyOneHello) {
  SlotClaim slot{true, false, kToken, false};
  EXPECT_EQ(check_agent_hello(agent_hello(3, kToken), std::nullopt, slot), std::nullopt);
  slot.claimed = true;  // what the controller records on acceptance
  auto second = check_agent_hello(agent_hello(3, kToken), std::nullopt, slot);
  ASSERT_TRUE(second);
  EXPECT_NE(second->find("already been claimed"), std::string::npos) << *second;

  SlotClaim fresh{true, false, kToken, false};
  auto wrong = check_agent_hello(agent_hello(3, "ffffffffffffffffffffffffffffffff"), std::nullopt, fresh);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(*wrong, "wrong token");
  SlotClaim not_started{true, false, "", false};  // no agent launched for it yet: nothing matches
  EXPECT_TRUE(check_agent_hello(agent_hello(3, ""), std::nullopt, not_started));
  EXPECT_TRUE(check_agent_hello(agent_hello(9, kToken), std::nullopt, SlotClaim{}));

  SlotClaim listening{true, true, kToken, false};
  auto on_control_port = check_agent_hello(agent_hello(3, kToken), std::nullopt, listening);
  ASSERT_TRUE(on_control_port);
  EXPECT_NE(on_control_port->find("unknown agent id"), std::string::npos);
  EXPECT_EQ(check_agent_hello(agent_hello(3, kToken), 3u, listening), std::nullopt);
  EXPECT_TRUE(check_agent_hello(agent_hello(4, kToken), 3u, listening));
}
