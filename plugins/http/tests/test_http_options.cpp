// <option type="ts_http" name="user_agent">: parsed by the http plugin, drawn once per user with
// the option's probabilities, shared with ts_webdav sessions; other ts_http options are refused.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "http_options.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"

void loadctl_register_http(loadctl::ProtocolRegistry& registry);

namespace loadctl::http {
namespace {

Scenario load(const std::string& options, const std::string& type = "ts_http") {
  ProtocolRegistry registry;
  loadctl_register_http(registry);
  std::string xml = R"(<?xml version="1.0"?><tsung>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port="80" type="tcp"/></servers>
    <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="1" unit="second"/></arrivalphase></load>
    <options>)" + options + R"(</options>
    <sessions><session name="s" probability="100" type=")" + type + R"("><request><http url="/"/></request></session></sessions>
    </tsung>)";
  return load_scenario_text(xml, "ua.xml", registry);
}

const char* kTwoAgents = R"(<option type="ts_http" name="user_agent">
      <user_agent probability="75">Agent/1.0</user_agent>
      <user_agent probability="25">
        Agent/2.0 (long)
      </user_agent></option>)";

TEST(HttpOptions, UserAgentsDrawnPerUserWithTheirProbabilities) {
  Scenario s = load(kTwoAgents);
  auto* options = dynamic_cast<const HttpOptions*>(s.sessions.at(0).protocol_options.get());
  ASSERT_NE(options, nullptr);
  ASSERT_EQ(options->agents().size(), 2u);
  EXPECT_EQ(options->agents()[1].value, "Agent/2.0 (long)");
  // Fixed for the user's life and across agents: another load of the scenario draws the same.
  Scenario again = load(kTwoAgents);
  auto* options2 = dynamic_cast<const HttpOptions*>(again.sessions.at(0).protocol_options.get());
  ASSERT_NE(options2, nullptr);
  std::map<std::string, int> seen;
  for (std::uint64_t user = 1; user <= 20000; ++user) {
    ++seen[std::string(options->user_agent(user))];
    EXPECT_EQ(options->user_agent(user), options2->user_agent(user));
  }
  EXPECT_NEAR(seen["Agent/1.0"], 15000, 450);
  EXPECT_NEAR(seen["Agent/2.0 (long)"], 5000, 450);
}

TEST(HttpOptions, RequestsSendTheUsersAgentOrTsungsDefault) {
  Scenario with = load(kTwoAgents);
  Scenario without = load("");
  auto encode = [](const Scenario& s, std::uint64_t user) {
    EncodeContext ctx;
    ctx.user_id = user;
    std::string out;
    s.sessions.at(0).actions.at(0).request->encode(ctx, out);
    return out;
  };
  auto* options = dynamic_cast<const HttpOptions*>(with.sessions.at(0).protocol_options.get());
  ASSERT_NE(options, nullptr);
  for (std::uint64_t user : {1u, 2u, 3u, 77u})
    EXPECT_NE(encode(with, user).find("User-Agent: " + std::string(options->user_agent(user)) + "\r\n"),
              std::string::npos);
  EXPECT_NE(encode(without, 1).find("User-Agent: Tsung\r\n"), std::string::npos);
}

TEST(HttpOptions, WebdavSessionsReadTsHttpOptions) {
  Scenario s = load(kTwoAgents, "ts_webdav");
  EXPECT_NE(dynamic_cast<const HttpOptions*>(s.sessions.at(0).protocol_options.get()), nullptr);
  try {
    load(R"(<option type="ts_webdav" name="user_agent"><user_agent probability="100">A</user_agent></option>)", "ts_webdav");
    FAIL() << "type=ts_webdav options were accepted but would be ignored";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("ts_webdav sessions read the options of type=\"ts_http\""), std::string::npos)
        << e.what();
  }
}

TEST(HttpOptions, OtherOptionsAndBadProbabilitiesAreRefused) {
  try {
    load(R"(<option type="ts_http" name="cookies" value="1"/>)");
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("not supported yet: ts_http option 'cookies'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ua.xml:5:"), std::string::npos) << e.what();
  }
  try {
    load(R"(<option type="ts_http" name="user_agent"><user_agent probability="50">A</user_agent></option>)");
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("user_agent probabilities sum to 50, expected 100"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace loadctl::http
