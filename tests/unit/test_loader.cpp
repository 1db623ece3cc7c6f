// The loader on a valid scenario: every supported element, converted to the model's units.

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "fake_protocol.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"

namespace {

using namespace loadctl;

const std::string fixtures = std::string(LOADCTL_SOURCE_DIR) + "/tests/fixtures/scenarios/";

class FullScenario : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { scenario = new Scenario(load_scenario(fixtures + "full.xml", fake::fake_registry())); }
  static void TearDownTestSuite() { delete scenario; }
  static Scenario* scenario;
};
Scenario* FullScenario::scenario = nullptr;

TEST_F(FullScenario, TopLevel) {
  const Scenario& s = *scenario;
  EXPECT_EQ(s.path, fixtures + "full.xml");
  EXPECT_NE(s.text.find("<tsung loglevel=\"info\""), std::string::npos);
  EXPECT_EQ(s.loglevel, "info");
  EXPECT_EQ(s.dumptraffic, "light");
  EXPECT_EQ(s.version, "1.0");
  EXPECT_EQ(s.backend, "text");
  EXPECT_EQ(s.information.name, "full");
  EXPECT_EQ(s.information.description, "every supported element");
}

TEST_F(FullScenario, Clients) {
  const auto& c = scenario->clients;
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].host, "localhost");
  EXPECT_EQ(c[0].hostip, "");
  EXPECT_TRUE(c[0].use_controller_vm);
  EXPECT_EQ(c[0].maxusers, 30000u);
  EXPECT_EQ(c[0].cpu, 1u);
  EXPECT_EQ(c[0].weight, 1);
  EXPECT_EQ(c[0].line, 9);
  EXPECT_EQ(c[1].hostip, "198.18.0.2");
  EXPECT_EQ(c[1].weight, 2);
  EXPECT_EQ(c[1].cpu, 2u);
  EXPECT_EQ(c[1].maxusers, 800u);
  EXPECT_EQ(c[1].source_ips, (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  EXPECT_EQ(c[2].host, "agent3");
  EXPECT_EQ(c[2].hostip, "198.18.0.3");
  EXPECT_EQ(c[2].source_ips,
            (std::vector<std::string>{"127.0.1.10", "127.0.1.11", "127.0.2.10", "127.0.2.11"}));
}

TEST_F(FullScenario, ServersAndMonitors) {
  const auto& sv = scenario->servers;
  ASSERT_EQ(sv.size(), 2u);
  EXPECT_EQ(sv[0].endpoint, (Endpoint{"127.0.0.1", 8080, Transport::tcp}));
  EXPECT_EQ(sv[0].weight, 1);
  EXPECT_EQ(sv[1].endpoint, (Endpoint{"secure.example", 443, Transport::ssl}));
  EXPECT_EQ(sv[1].weight, 3);
  ASSERT_EQ(scenario->monitors.size(), 1u);
  EXPECT_EQ(scenario->monitors[0].host, "localhost");
  EXPECT_EQ(scenario->monitors[0].type, "erlang");
}

TEST_F(FullScenario, LoadInSecondsAndUsersPerSecond) {
  const LoadSpec& load = scenario->load;
  ASSERT_TRUE(load.duration.has_value());
  EXPECT_DOUBLE_EQ(*load.duration, 7200);
  EXPECT_EQ(load.loop, 1u);
  ASSERT_EQ(load.phases.size(), 2u);
  // Sorted by phase number, not file order.
  EXPECT_EQ(load.phases[0].phase, 1);
  EXPECT_DOUBLE_EQ(load.phases[0].duration, 600);
  EXPECT_DOUBLE_EQ(load.phases[0].rate, 2);  // interarrival 0.5 s
  EXPECT_FALSE(load.phases[0].maxnumber.has_value());
  EXPECT_TRUE(load.phases[0].wait_all_sessions_end);
  EXPECT_EQ(load.phases[1].phase, 2);
  EXPECT_DOUBLE_EQ(load.phases[1].duration, 0.5);
  EXPECT_DOUBLE_EQ(load.phases[1].rate, 2);  // 120 per minute
  EXPECT_EQ(load.phases[1].maxnumber, 10u);
  EXPECT_FALSE(load.phases[1].wait_all_sessions_end);
  ASSERT_EQ(load.users.size(), 1u);
  EXPECT_EQ(load.users[0].session, "rare");
  EXPECT_DOUBLE_EQ(load.users[0].start_time, 1.5);
}

TEST_F(FullScenario, OptionsInSeconds) {
  const Options& o = scenario->options;
  ASSERT_TRUE(o.thinktime.has_value());
  EXPECT_DOUBLE_EQ(o.thinktime->value, 3);
  EXPECT_TRUE(o.thinktime->random);
  EXPECT_TRUE(o.thinktime_override);
  EXPECT_DOUBLE_EQ(o.connect_timeout, 5);
  EXPECT_DOUBLE_EQ(o.idle_timeout, 300);
  EXPECT_DOUBLE_EQ(o.retry_timeout, 0.25);
  EXPECT_EQ(o.max_retries, 5u);
  EXPECT_EQ(o.tcp_rcv_buffer, 16384u);
  EXPECT_EQ(o.tcp_snd_buffer, 8192u);
  EXPECT_TRUE(o.tcp_reuseaddr);
  ASSERT_TRUE(o.ports_range.has_value());
  EXPECT_EQ(o.ports_range->first, 1025);
  EXPECT_EQ(o.ports_range->second, 65535);
  EXPECT_EQ(o.seed, 42u);
  // <option type="ts_fake">: the fake plugin's own, given to every ts_fake session.
  ASSERT_EQ(scenario->protocol_options.count("ts_fake"), 1u);
  auto* fake_options = dynamic_cast<const fake::FakeOptions*>(scenario->protocol_options.at("ts_fake").get());
  ASSERT_NE(fake_options, nullptr);
  EXPECT_EQ(fake_options->greeting, "hello fake");
  ASSERT_EQ(scenario->sessions.size(), 2u);
  for (const Session& s : scenario->sessions) EXPECT_EQ(s.protocol_options.get(), fake_options);
}

TEST_F(FullScenario, SessionsAndActions) {
  const auto& ss = scenario->sessions;
  ASSERT_EQ(ss.size(), 2u);
  EXPECT_EQ(ss[0].name, "main");
  EXPECT_EQ(ss[0].type, "ts_fake");
  EXPECT_DOUBLE_EQ(ss[0].probability, 75);  // weights 3:1 normalised to percent
  EXPECT_DOUBLE_EQ(ss[1].probability, 25);
  EXPECT_EQ(scenario->session_index("rare"), 1);
  EXPECT_EQ(scenario->session_index("nope"), -1);

  const auto& a = ss[0].actions;
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].kind, Action::Kind::request);
  auto first = std::dynamic_pointer_cast<const fake::FakeRequest>(a[0].request);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->subst);
  EXPECT_EQ(first->dir, LOADCTL_SOURCE_DIR "/tests/fixtures/scenarios");
  EXPECT_EQ(a[1].kind, Action::Kind::thinktime);
  EXPECT_DOUBLE_EQ(a[1].think.value, 2);
  EXPECT_FALSE(a[1].think.random);

  ASSERT_EQ(a[2].kind, Action::Kind::transaction);
  EXPECT_EQ(a[2].name, "login");
  ASSERT_EQ(a[2].body.size(), 2u);
  EXPECT_EQ(a[2].body[0].tag, "t1");
  auto templated = std::dynamic_pointer_cast<const fake::FakeRequest>(a[2].body[0].request);
  ASSERT_TRUE(templated);
  EXPECT_TRUE(templated->subst);
  EXPECT_TRUE(templated->subst_body);
  ASSERT_EQ(templated->data.variables().size(), 1u);
  EXPECT_EQ(templated->data.variables()[0], "id");
  EXPECT_EQ(a[2].body[1].think.min, 1);
  EXPECT_EQ(a[2].body[1].think.max, 4);
  EXPECT_TRUE(a[2].body[1].think.random);

  ASSERT_EQ(a[3].kind, Action::Kind::for_loop);
  EXPECT_EQ(a[3].name, "i");
  EXPECT_EQ(a[3].from, 1);
  EXPECT_EQ(a[3].to, 10);
  EXPECT_EQ(a[3].incr, 2);
  ASSERT_EQ(a[3].body.size(), 2u);
  auto body = std::dynamic_pointer_cast<const fake::FakeRequest>(a[3].body[0].request);
  ASSERT_TRUE(body);
  EXPECT_TRUE(body->subst);
  EXPECT_FALSE(body->subst_body);
  EXPECT_EQ(a[3].body[1].think.value_template, "pause");
  EXPECT_EQ(a[3].body[0].line, 61);
}

TEST(Loader, ProbabilitiesAreKeptAsPercent) {
  const char* text = R"(<tsung><clients><client host="localhost"/></clients>
<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>
<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>
<sessions>
<session name="a" probability="33.3" type="ts_fake"><request><fake/></request></session>
<session name="b" probability="66.7" type="ts_fake"><request><fake/></request></session>
</sessions></tsung>)";
  Scenario s = load_scenario_text(text, "p.xml", fake::fake_registry());
  ASSERT_EQ(s.sessions.size(), 2u);
  EXPECT_DOUBLE_EQ(s.sessions[0].probability, 33.3);
  EXPECT_DOUBLE_EQ(s.sessions[1].probability, 66.7);
  EXPECT_EQ(s.options.idle_timeout, 600);  // defaults untouched
  EXPECT_FALSE(s.options.tcp_reuseaddr);
  EXPECT_EQ(s.options.max_retries, 3u);
}

TEST(Loader, MissingFileIsAScenarioError) {
  EXPECT_THROW(load_scenario("/nonexistent/scenario.xml", fake::fake_registry()), ScenarioError);
}

}  // namespace

namespace {

using namespace loadctl;

/// Every truncation and many one-byte mutations of a valid scenario either load or raise a
/// located ScenarioError: no other exception, no crash (run it under ASan).
TEST(LoaderRobustness, TruncatedAndMutatedScenarios) {
  std::ifstream in(fixtures + "full.xml", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  auto check = [](const std::string& t) {
    try {
      load_scenario_text(t, "m.xml", fake::fake_registry());
    } catch (const ScenarioError& e) {
      EXPECT_TRUE(e.located()) << e.what();
      EXPECT_GE(e.line(), 1);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected exception: " << e.what() << "\n" << t;
    }
  };
  for (std::size_t n = 0; n < text.size(); n += 7) check(text.substr(0, n));
  const char replacements[] = {'<', '>', '"', '0', '-', 'x', ' ', '/', '%'};
  unsigned seed = 12345;
  for (int i = 0; i < 600; ++i) {
    seed = seed * 1103515245 + 12345;
    std::string t = text;
    t[(seed >> 8) % t.size()] = replacements[(seed >> 20) % sizeof replacements];
    check(t);
  }
}

}  // namespace
