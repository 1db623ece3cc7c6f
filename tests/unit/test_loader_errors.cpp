// Scenario errors: each names file:line:column (of the offending element or attribute), the
// element path, and what was expected.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fake_protocol.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"

namespace {

using namespace loadctl;

const std::string default_load =
    R"(<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>)";
const std::string default_sessions =
    R"(<sessions><session name="s" probability="100" type="ts_fake"><request><fake data="x"/></request></session></sessions>)";

struct Parts {
  std::string clients = R"(<clients><client host="localhost"/></clients>)";
  std::string servers = R"(<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>)";
  std::string load = default_load;
  std::string options;
  std::string sessions = default_sessions;
};

std::string scenario_text(const Parts& p) {
  return "<?xml version=\"1.0\"?>\n<tsung>\n" + p.clients + "\n" + p.servers + "\n" + p.load + "\n" +
         p.options + "\n" + p.sessions + "\n</tsung>\n";
}

/// Line and column (1-based) of the first occurrence of `marker` in `text`.
std::pair<int, int> position_of(const std::string& text, std::string_view marker) {
  std::size_t offset = text.find(marker);
  EXPECT_NE(offset, std::string::npos) << marker;
  int line = 1, column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

ScenarioError load_error(const std::string& text) {
  try {
    load_scenario_text(text, "t.xml", fake::fake_registry());
  } catch (const ScenarioError& e) {
    return e;
  }
  ADD_FAILURE() << "the scenario loaded";
  return ScenarioError("", 0, 0, "", "");
}

/// Expects an error at `marker`, on `path`, whose message contains `message`.
void expect_error(const std::string& text, std::string_view marker, const std::string& path,
                  const std::string& message) {
  ScenarioError e = load_error(text);
  auto [line, column] = position_of(text, marker);
  EXPECT_EQ(e.file(), "t.xml");
  EXPECT_EQ(e.line(), line) << e.what();
  EXPECT_EQ(e.column(), column) << e.what();
  EXPECT_EQ(e.element_path(), path) << e.what();
  EXPECT_NE(e.message().find(message), std::string::npos) << e.what();
  std::string prefix = "t.xml:" + std::to_string(line) + ":" + std::to_string(column) + ": " + path + ": ";
  EXPECT_EQ(std::string(e.what()).substr(0, prefix.size()), prefix);
}

TEST(LoaderErrors, ValidBaseLoads) { EXPECT_NO_THROW(load_scenario_text(scenario_text({}), "t.xml", fake::fake_registry())); }

// A bare <thinktime/> takes the thinktime option's value and random (Tsung's thinks2.xml); its
// own random attribute wins.
TEST(LoaderErrors, BareThinktimeTakesTheOptionsDefault) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake"><thinktime/>)"
               R"(<thinktime random="false"/></session></sessions>)";
  p.options = R"(<options><option name="thinktime" value="3" random="true" override="false"/></options>)";
  Scenario with = load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry());
  EXPECT_DOUBLE_EQ(with.sessions[0].actions[0].think.value, 3);
  EXPECT_TRUE(with.sessions[0].actions[0].think.random);
  EXPECT_FALSE(with.sessions[0].actions[0].think.min);
  EXPECT_DOUBLE_EQ(with.sessions[0].actions[1].think.value, 3);
  EXPECT_FALSE(with.sessions[0].actions[1].think.random);
}

// With a min/max option, a bare <thinktime/> takes its range (Tsung: DefRandom={"range",Min,Max}).
TEST(LoaderErrors, BareThinktimeTakesTheOptionsRange) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake"><thinktime/>)"
               R"(</session></sessions>)";
  p.options = R"(<options><option name="thinktime" min="2" max="7"/></options>)";
  Scenario s = load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry());
  const ThinkTime& think = s.sessions[0].actions[0].think;
  ASSERT_TRUE(think.min && think.max);
  EXPECT_DOUBLE_EQ(*think.min, 2);
  EXPECT_DOUBLE_EQ(*think.max, 7);
  EXPECT_FALSE(think.random);
}

// Without the option Tsung fails on a bare <thinktime/> (its default value is the string "5":
// badarith in ts_config's thinktime parser); refused at check, with its place.
TEST(LoaderErrors, BareThinktimeNeedsTheOption) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <thinktime random="true"/>
</session></sessions>)";
  expect_error(scenario_text(p), "<thinktime", "/tsung/sessions/session/thinktime",
               "<thinktime/> without a value needs <option name=\"thinktime\" .../>");
}

TEST(LoaderErrors, UnknownAttributeNamesTheAllowedOnes) {
  Parts p;
  p.clients = R"(<clients><client host="localhost" colour="red"/></clients>)";
  std::string text = scenario_text(p);
  expect_error(text, "colour=", "/tsung/clients/client", "unknown attribute 'colour', expected");
  EXPECT_NE(std::string(load_error(text).what()).find("'maxusers'"), std::string::npos);
}

TEST(LoaderErrors, UnknownElement) {
  Parts p;
  p.sessions = R"(<sessions>
  <session name="s" probability="100" type="ts_fake">
    <request><fake/></request>
    <wait seconds="1"/>
  </session>
</sessions>)";
  expect_error(scenario_text(p), "<wait", "/tsung/sessions/session/wait", "unknown element <wait> in <session>");
}

TEST(LoaderErrors, BadNumber) {
  Parts p;
  p.servers = R"(<servers><server host="a" port="80" type="tcp"/><server host="b" port="eighty" type="tcp"/></servers>)";
  expect_error(scenario_text(p), "port=\"eighty", "/tsung/servers/server[2]",
               "attribute 'port' is 'eighty', expected an integer");
}

TEST(LoaderErrors, NumberOutOfRange) {
  Parts p;
  p.servers = R"(<servers><server host="a" port="70000" type="tcp"/></servers>)";
  expect_error(scenario_text(p), "port=", "/tsung/servers/server", "expected an integer in [1, 65535]");
}

TEST(LoaderErrors, InterarrivalAndArrivalrate) {
  Parts p;
  p.load = R"(<load>
  <arrivalphase phase="1" duration="1" unit="minute">
    <users interarrival="2" arrivalrate="3" unit="second"/>
  </arrivalphase>
</load>)";
  expect_error(scenario_text(p), "<users", "/tsung/load/arrivalphase/users",
               "exactly one of 'interarrival' and 'arrivalrate'");
}

// Tsung's session_setup is a partial override: sessions it does not name keep their own
// probability, and each phase's probabilities then sum to 100.
TEST(LoaderErrors, SessionSetupOverridesOnlyTheSessionsItNames) {
  Parts p;
  p.sessions = R"(<sessions>
  <session name="a" probability="50" type="ts_fake"><request><fake/></request></session>
  <session name="b" probability="30" type="ts_fake"><request><fake/></request></session>
  <session name="c" probability="20" type="ts_fake"><request><fake/></request></session>
</sessions>)";
  // a 70 + b 30 (kept) + c 0 = 100: valid in Tsung although the setups alone sum to 70.
  p.load = R"(<load><arrivalphase phase="1" duration="1" unit="second">
  <session_setup name="a" probability="70"/><session_setup name="c" probability="0"/>
  <users arrivalrate="1" unit="second"/></arrivalphase></load>)";
  Scenario s = load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry());
  EXPECT_EQ(s.load.phases[0].session_setup.size(), 2u);
  // The setups alone sum to 100, but b keeps its 30: 130, which Tsung rejects.
  p.load = R"(<load><arrivalphase phase="1" duration="1" unit="second">
  <session_setup name="a" probability="60"/><session_setup name="c" probability="40"/>
  <users arrivalrate="1" unit="second"/></arrivalphase></load>)";
  expect_error(scenario_text(p), "<session_setup", "/tsung/load/arrivalphase/session_setup[1]",
               "phase 1: session probabilities sum to 130");
  // Global probabilities that do not sum to 100 are fine when every phase overrides them.
  p.sessions = R"(<sessions>
  <session name="a" probability="90" type="ts_fake"><request><fake/></request></session>
  <session name="b" probability="90" type="ts_fake"><request><fake/></request></session>
</sessions>)";
  p.load = R"(<load><arrivalphase phase="1" duration="1" unit="second">
  <session_setup name="a" probability="10"/><users arrivalrate="1" unit="second"/></arrivalphase></load>)";
  EXPECT_NO_THROW(load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry()));
}

// With weights Tsung checks no sum (check_popularity(true, _)): a session_setup value is a weight
// on the sessions' own scale.
TEST(LoaderErrors, SessionSetupWithWeightsIsAWeight) {
  Parts p;
  p.sessions = R"(<sessions>
  <session name="a" weight="3" type="ts_fake"><request><fake/></request></session>
  <session name="b" weight="1" type="ts_fake"><request><fake/></request></session>
</sessions>)";
  p.load = R"(<load><arrivalphase phase="1" duration="1" unit="second">
  <session_setup name="b" probability="9"/><users arrivalrate="1" unit="second"/></arrivalphase></load>)";
  Scenario s = load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry());
  // a: 3 of 4 = 75 %; b's setup weight 9 on the same scale: 225 %, so b is 3 times as likely as a.
  EXPECT_DOUBLE_EQ(s.sessions[0].probability, 75);
  ASSERT_EQ(s.load.phases[0].session_setup.size(), 1u);
  EXPECT_DOUBLE_EQ(s.load.phases[0].session_setup[0].probability, 225);
  p.load = R"(<load><arrivalphase phase="1" duration="1" unit="second">
  <session_setup name="*" probability="0"/><users arrivalrate="1" unit="second"/></arrivalphase></load>)";
  expect_error(scenario_text(p), "<session_setup", "/tsung/load/arrivalphase/session_setup",
               "phase 1: session weights sum to 0");
}

TEST(LoaderErrors, WaitGlobalThinktimeNeedsGlobalNumber) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
<request><fake/></request><thinktime value="wait_global"/></session></sessions>)";
  expect_error(scenario_text(p), "value=\"wait_global", "/tsung/sessions/session/thinktime",
               "thinktime value=\"wait_global\" needs <option name=\"global_number\"");
  p.options = R"(<options><option type="ts_jabber" name="global_number" value="3"/></options>)";
  Scenario s = load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry());
  EXPECT_EQ(s.options.global_number, 3u);
  EXPECT_TRUE(s.sessions[0].actions[1].think.wait_global);
}

// A request with RequestSpec::global_ack (jabber ack="global") joins the same rendezvous.
TEST(LoaderErrors, GlobalAckNeedsGlobalNumber) {
  const std::string head = R"(<?xml version="1.0"?><tsung><clients><client host="localhost" use_controller_vm="true"/></clients>
<servers><server host="127.0.0.1" port="5222" type="tcp"/></servers>
<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="1" unit="second"/></arrivalphase></load>)";
  const std::string sessions = R"(<sessions><session name="s" probability="100" type="ts_jabber">
<request><jabber type="presence:initial" ack="global"/></request></session></sessions></tsung>)";
  try {
    load_scenario_text(head + sessions, "g.xml");
    FAIL() << "ack=\"global\" without global_number accepted";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("g.xml:4:10: /tsung/sessions/session/request/jabber"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ack=\"global\" needs <option name=\"global_number\""), std::string::npos) << e.what();
  }
  Scenario s = load_scenario_text(head + R"(<options><option name="global_number" value="2"/>
<option name="global_ack_timeout" value="1500"/></options>)" + sessions, "g.xml");
  EXPECT_DOUBLE_EQ(s.options.global_ack_timeout, 1.5);
  // refused at check time: captures on it (its answer is not awaited), a regexp answer
  for (std::string request : {R"x(<request><jabber type="presence:initial" ack="global"/><dyn_variable name="x" re="(.*)"/></request>)x",
                              R"(<request><jabber type="chat" ack="global" regexp="ok"/></request>)"}) {
    try {
      load_scenario_text(head + R"(<options><option name="global_number" value="2"/></options><sessions><session name="s" probability="100" type="ts_jabber">)" +
                         request + "</session></sessions></tsung>", "g.xml");
      FAIL() << request << " accepted";
    } catch (const ScenarioError& e) {
      EXPECT_NE(std::string(e.what()).find("not supported yet"), std::string::npos) << e.what();
    }
  }
}

TEST(LoaderErrors, ProbabilitiesMustSumTo100) {
  Parts p;
  p.sessions = R"(<sessions>
  <session name="a" probability="60" type="ts_fake"><request><fake/></request></session>
  <session name="b" probability="30" type="ts_fake"><request><fake/></request></session>
</sessions>)";
  expect_error(scenario_text(p), "<sessions", "/tsung/sessions", "session probabilities sum to 90, expected 100");
}

TEST(LoaderErrors, UndefinedSessionInUser) {
  Parts p;
  p.load = R"(<load>
  <user session="s" start_time="1" unit="second"/>
  <user session="ghost" start_time="2" unit="second"/>
</load>)";
  expect_error(scenario_text(p), "<user session=\"ghost", "/tsung/load/user[2]", "undefined session 'ghost'");
}

TEST(LoaderErrors, ForToLessThanFrom) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <for var="i" from="10" to="2"><request><fake/></request></for>
</session></sessions>)";
  expect_error(scenario_text(p), "to=\"2\"", "/tsung/sessions/session/for", "'to' (2) is less than 'from' (10)");
}

TEST(LoaderErrors, MalformedXml) {
  std::string text = "<?xml version=\"1.0\"?>\n<tsung>\n  <clients>\n    <client host=\"a\">\n  </clients>\n</tsung>\n";
  ScenarioError e = load_error(text);
  EXPECT_EQ(e.file(), "t.xml");
  // pugixml stops in the mismatched end tag </clients> on line 5.
  EXPECT_EQ(e.line(), 5) << e.what();
  EXPECT_GE(e.column(), 3) << e.what();
  EXPECT_LE(e.column(), 12) << e.what();
  EXPECT_NE(e.message().find("malformed XML"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).rfind("t.xml:5:", 0), 0u) << e.what();
}

TEST(LoaderErrors, WrongRootElement) {
  expect_error("<tsunami/>", "<tsunami", "/tsunami", "expected <tsung>");
}

TEST(LoaderErrors, PluginErrorsAreLocatedToo) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <request><fake data="x" extra="y"/></request>
</session></sessions>)";
  expect_error(scenario_text(p), "extra=", "/tsung/sessions/session/request/fake", "unknown attribute 'extra'");
}

TEST(LoaderErrors, UnsupportedFeaturesSaySo) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_jabber"></session></sessions>)";
  expect_error(scenario_text(p), "type=\"ts_jabber", "/tsung/sessions/session", "not supported yet: ts_jabber sessions");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <setdynvars sourcetype="eval" code="fun(_) -> 1 end."><var name="n"/></setdynvars>
</session></sessions>)";
  expect_error(scenario_text(p), "sourcetype=", "/tsung/sessions/session/setdynvars",
               "not supported yet: sourcetype=\"eval\"");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <change_type new_type="ts_fake" host="a" port="1" server_type="tcp"/>
</session></sessions>)";
  expect_error(scenario_text(p), "<change_type", "/tsung/sessions/session/change_type", "not supported yet: <change_type>");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <set_option name="user_agent" value="x"/>
</session></sessions>)";
  expect_error(scenario_text(p), "name=\"user_agent", "/tsung/sessions/session/set_option", "not supported yet: set_option 'user_agent'");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <request><raw data="x" ack="local"/></request>
</session></sessions>)";
  expect_error(scenario_text(p), "<raw", "/tsung/sessions/session/request/raw", "not supported yet: <raw> requests");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <request subst="true"><fake data="%%no_such_module:no_such_function%%"/></request>
</session></sessions>)";
  expect_error(scenario_text(p), "data=", "/tsung/sessions/session/request/fake",
               "not supported yet: Erlang function call %%no_such_module:no_such_function%%");

  p = Parts{};
  p.options = R"(<options><option name="file_server" value="/nonexistent/users.csv"/></options>)";
  expect_error(scenario_text(p), "value=", "/tsung/options/option", "file_server 'default': cannot read");

  p = Parts{};
  p.servers = R"(<servers><server host="a" port="5222" type="erlang"/></servers>)";
  // erlang (Tsung's ts_erlang: no network): only for the plugins that run on the agent host
  expect_error(scenario_text(p), "type=\"ts_fake\"", "/tsung/sessions/session",
               "not supported yet: ts_fake sessions over erlang (<server> on line 4)");
  // bosh and websocket servers: refused for sessions whose plugin does not carry them
  // (Protocol::server_types), at the session's type
  p.servers = R"(<servers><server host="a" port="5280" type="bosh"/></servers>)";
  expect_error(scenario_text(p), "type=\"ts_fake\"", "/tsung/sessions/session",
               "not supported yet: ts_fake sessions over bosh (<server> on line 4)");
}

TEST(LoaderErrors, DynamicsAreCheckedAtLoad) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <if var="nope" eq="1"><request><fake/></request></if>
</session></sessions>)";
  expect_error(scenario_text(p), "var=", "/tsung/sessions/session/if", "undefined variable 'nope'");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <request><dyn_variable name="t" re="a(b"/><fake/></request>
</session></sessions>)";
  expect_error(scenario_text(p), "re=", "/tsung/sessions/session/request/dyn_variable", "invalid regular expression 'a(b'");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <request><dyn_variable name="t" jsonpath="a[?x]"/><fake/></request>
</session></sessions>)";
  expect_error(scenario_text(p), "jsonpath=", "/tsung/sessions/session/request/dyn_variable", "jsonpath 'a[?x]'");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <request><match do="abort">(unclosed</match><fake/></request>
</session></sessions>)";
  expect_error(scenario_text(p), "<match", "/tsung/sessions/session/request/match", "invalid regular expression");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <setdynvars sourcetype="file" fileid="users"><var name="u"/></setdynvars>
</session></sessions>)";
  expect_error(scenario_text(p), "fileid=", "/tsung/sessions/session/setdynvars", "no <option name=\"file_server\" id=\"users\">");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <repeat name="r"><request><fake/></request></repeat>
</session></sessions>)";
  expect_error(scenario_text(p), "<repeat", "/tsung/sessions/session/repeat", "must be <while> or <until>");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <setdynvars sourcetype="erlang" callback="mymod:myfun"><var name="u"/></setdynvars>
</session></sessions>)";
  expect_error(scenario_text(p), "callback=", "/tsung/sessions/session/setdynvars", "not supported yet: Erlang callback mymod:myfun");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <for from="1" to="%%_max%%" var="i"><request><fake/></request></for>
</session></sessions>)";
  expect_error(scenario_text(p), "to=", "/tsung/sessions/session/for", "undefined variable 'max'");

  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <foreach name="e" in="list"><request><fake/></request></foreach>
</session></sessions>)";
  expect_error(scenario_text(p), "in=", "/tsung/sessions/session/foreach", "undefined variable 'list'");
}

// Tsung accepts two sessions of one name (its http_distributed.xml has two "http-example"s): a
// <session_setup> naming it sets each of them (ts_config_server:compute_popularities).
TEST(LoaderErrors, DuplicateSessionNamesAreTwoSessions) {
  Parts p;
  p.sessions = R"(<sessions>
<session name="s" probability="50" type="ts_fake"><request><fake/></request></session>
<session name="s" probability="30" type="ts_fake"><request><fake/></request></session>
<session name="t" probability="20" type="ts_fake"><request><fake/></request></session>
</sessions>)";
  Scenario s = load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry());
  ASSERT_EQ(s.sessions.size(), 3u);
  EXPECT_EQ(s.sessions[1].name, "s");
  // s 40 + s 40 + t 20 = 100 only when the setup sets both sessions named s.
  p.load = R"(<load><arrivalphase phase="1" duration="1" unit="second">
  <session_setup name="s" probability="40"/><users arrivalrate="1" unit="second"/></arrivalphase></load>)";
  s = load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry());
  ASSERT_EQ(s.load.phases[0].session_setup.size(), 1u);
  EXPECT_EQ(s.load.phases[0].session_setup[0].probability, 40);
  p.load = R"(<load><arrivalphase phase="1" duration="1" unit="second">
  <session_setup name="s*" probability="45"/><users arrivalrate="1" unit="second"/></arrivalphase></load>)";
  expect_error(scenario_text(p), "<session_setup", "/tsung/load/arrivalphase/session_setup",
               "phase 1: session probabilities sum to 110");
  // A wildcard setup sets each name once; a wildcard <user> starts one user per matching session,
  // so two for the two sessions named s (Tsung: both run the first s).
  p.load = R"(<load><arrivalphase phase="1" duration="1" unit="second">
  <session_setup name="s*" probability="40"/><users arrivalrate="1" unit="second"/></arrivalphase>
  <user session="s*" start_time="1" unit="second"/><user session="t" start_time="2" unit="second"/></load>)";
  s = load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry());
  ASSERT_EQ(s.load.phases[0].session_setup.size(), 1u);
  EXPECT_EQ(s.load.phases[0].session_setup[0].session, "s");
  ASSERT_EQ(s.load.users.size(), 3u);
  EXPECT_EQ(s.load.users[0].session, "s");
  EXPECT_EQ(s.load.users[1].session, "s");
  EXPECT_EQ(s.load.users[2].session, "t");
}

// A protocol's options are its plugin's (Protocol::parse_options; the http plugin's user_agent is
// tested in plugins/http/tests): with no plugin for the type, they are refused.
TEST(LoaderErrors, OptionsOfAProtocolWithoutPlugin) {
  Parts p;
  p.options = R"(<options><option type="ts_http" name="user_agent">
  <user_agent probability="50">A</user_agent><user_agent probability="40">B</user_agent>
</option></options>)";
  expect_error(scenario_text(p), "<option ", "/tsung/options/option", "not supported yet: ts_http option 'user_agent'");
}

TEST(LoaderErrors, ProbabilityXorWeight) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" weight="1" type="ts_fake"/></sessions>)";
  expect_error(scenario_text(p), "<session ", "/tsung/sessions/session",
               "expected exactly one of 'probability' and 'weight'");
  p.sessions = R"(<sessions>
<session name="a" probability="100" type="ts_fake"/>
<session name="b" weight="1" type="ts_fake"/>
</sessions>)";
  expect_error(scenario_text(p), "weight=", "/tsung/sessions/session[2]", "sessions mix 'probability' and 'weight'");
  p.sessions = R"(<sessions><session name="s" weight="1" type="ts_fake" colour="red"/></sessions>)";
  expect_error(scenario_text(p), "colour=", "/tsung/sessions/session",
               "unknown attribute 'colour', expected 'bidi', 'name', 'persistent', 'probability', 'type' or 'weight'");
}

TEST(LoaderErrors, MissingAndDuplicateSections) {
  Parts p;
  p.sessions = "";
  expect_error(scenario_text(p), "<tsung>", "/tsung", "missing <sessions>");
  p = Parts{};
  p.servers += "\n" + p.servers;
  expect_error(scenario_text(p), "<servers><server host=\"127.0.0.1\" port=\"80\" type=\"tcp\"/></servers>\n<load",
               "/tsung/servers[2]", "duplicate <servers>");
}

TEST(LoaderErrors, ThinktimeValueIsANumberOrAVariable) {
  Parts p;  // no value at all: BareThinktimeNeedsTheOption
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <thinktime value="%%_a%%-%%_b%%"/>
</session></sessions>)";
  expect_error(scenario_text(p), "value=", "/tsung/sessions/session/thinktime", "must be a number or a single %%_var%%");
}

TEST(LoaderErrors, BadIprange) {
  Parts p;
  p.clients = R"(<clients><client host="localhost"><iprange value="10.0.0.9-3"/></client></clients>)";
  expect_error(scenario_text(p), "value=", "/tsung/clients/client/iprange",
               "bad iprange '10.0.0.9-3': the range '9-3' ends before it starts");
}

TEST(LoaderErrors, SourceAddressesThatAreNeitherIpsNorNamesNorInterfaces) {
  Parts p;
  p.clients = R"(<clients><client host="localhost"><ip scan="true" value="eth0/1"/></client></clients>)";
  expect_error(scenario_text(p), "value=", "/tsung/clients/client/ip", "'eth0/1' is not an interface name");
  p.clients = R"(<clients><client host="localhost"><ip value="no-such-host.invalid"/></client></clients>)";
  expect_error(scenario_text(p), "value=", "/tsung/clients/client/ip", "cannot resolve 'no-such-host.invalid' to a source address");
  p.clients = R"(<clients><client host="no-such-host.invalid" hostip="127.0.0.1"><ip value="resolve"/></client></clients>)";
  EXPECT_NO_THROW(load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry())) << "resolve: hostip when given";
  p.clients = R"(<clients><client host="localhost" scan_intf="eth0"/></clients>)";
  expect_error(scenario_text(p), "scan_intf=", "/tsung/clients/client", "scan_intf");
}

TEST(LoaderErrors, ErlangCallsAreRefusedForEveryProtocol) {
  // The fake plugin's own check is bypassed by a child element it would reject anyway: the
  // loader's check runs first, for any attribute or text under the protocol element.
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <request subst="all_except_body"><fake><x v="a%%no_such_module:no_such_function%%"/></fake></request>
</session></sessions>)";
  expect_error(scenario_text(p), "v=", "/tsung/sessions/session/request/fake/x",
               "not supported yet: Erlang function call %%no_such_module:no_such_function%%");
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <request><fake data="%%mod:fun%%"/></request>
</session></sessions>)";
  EXPECT_NO_THROW(load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry()));  // no subst: literal
}

/// A session whose actions are `depth` nested copies of <open>...</close> around one request.
std::string nested_sessions(int depth, const std::string& open, const std::string& close) {
  std::string body;
  for (int i = 0; i < depth; ++i) body += open;
  body += R"(<request><fake data="x"/></request>)";
  for (int i = 0; i < depth; ++i) body += close;
  return R"(<sessions><session name="s" probability="100" type="ts_fake">)" + body + "</session></sessions>";
}

TEST(LoaderErrors, DeepNestingIsRefusedNotACrash) {
  Parts p;
  p.sessions = nested_sessions(10'000, R"(<transaction name="t">)", "</transaction>");
  std::string text = scenario_text(p);
  ScenarioError e = load_error(text);
  EXPECT_NE(e.message().find("nested more than 100 levels"), std::string::npos) << e.what();
  // Located at the first element past the limit: <tsung>, <sessions>, <session>, 97 transactions.
  std::size_t offset = 0;
  for (int i = 0; i < 98; ++i) offset = text.find("<transaction", offset + 1);
  std::size_t line_start = text.rfind('\n', offset) + 1;
  EXPECT_EQ(e.line(), position_of(text, "<sessions").first) << e.what();
  EXPECT_EQ(e.column(), static_cast<int>(offset - line_start) + 1) << e.what();

  p.sessions = nested_sessions(50'000, R"(<for from="1" to="2" incr="1" var="i">)", "</for>");
  EXPECT_NE(std::string(load_error(scenario_text(p)).what()).find("nested more than 100 levels"), std::string::npos);

  p.sessions = nested_sessions(90, R"(<transaction name="t">)", "</transaction>");
  EXPECT_NO_THROW(load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry()));
}

TEST(LoaderErrors, DataFilesMustBeRegularAndBounded) {
  Parts p;
  p.options = R"(<options><option name="file_server" value="/dev/zero"/></options>)";
  expect_error(scenario_text(p), "value=", "/tsung/options/option", "/dev/zero is not a regular file");
}

TEST(LoaderErrors, ScenarioFileMustBeRegular) {
  try {
    load_scenario("/dev/zero", fake::fake_registry());
    ADD_FAILURE() << "/dev/zero loaded";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/zero is not a regular file"), std::string::npos) << e.what();
  }
}

// Tsung's runtime-tuning options: hibernate's value is checked (loadctl users are always compact),
// max_ssh_startup_per_core is refused (agents are launched all at once).
TEST(LoaderErrors, RuntimeTuningOptions) {
  Parts p;
  p.options = R"(<options><option name="hibernate" value="soon"/></options>)";
  expect_error(scenario_text(p), "value=", "/tsung/options/option", "");
  p.options = R"(<options><option name="hibernate" value="infinity"/></options>)";
  EXPECT_NO_THROW(load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry()));
  p.options = R"(<options><option name="max_ssh_startup_per_core" value="5"/></options>)";
  expect_error(scenario_text(p), "name=", "/tsung/options/option", "not supported yet: option 'max_ssh_startup_per_core'");
}

TEST(LoaderErrors, MaxCaptureSizeIsBounded) {
  Parts p;
  p.options = R"(<options><option name="max_capture_size" value="10"/></options>)";
  expect_error(scenario_text(p), "value=", "/tsung/options/option", "");
  p.options = R"(<options><option name="max_capture_size" value="65536"/></options>)";
  EXPECT_EQ(load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry()).options.max_capture_size, 65536u);
}

}  // namespace

namespace {

TEST(LoaderTransports, TlsUdpAndIpv6Load) {
  Parts p;
  p.servers = R"(<servers><server host="::1" port="443" type="ssl6"/><server host="h" port="53" type="udp"/></servers>)";
  p.options = R"(<options><option name="ssl_ciphers" value="ECDHE-RSA-AES128-GCM-SHA256,TLS_AES_128_GCM_SHA256"/>
<option name="ssl_versions" value="'tlsv1.2'"/><option name="ssl_reuse_sessions" value="false"/>
<option name="udp_rcv_buffer" value="65536"/></options>)";
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <set_option name="certificate"><certificate certfile="/c.pem" keyfile="k.pem" keypass="secret"/></set_option>
  <request><fake data="x"/></request></session></sessions>)";
  Scenario s = load_scenario_text(scenario_text(p), "/etc/t.xml", fake::fake_registry());
  EXPECT_EQ(s.servers[0].endpoint, (Endpoint{"::1", 443, Transport::ssl, true}));
  EXPECT_EQ(s.servers[1].endpoint, (Endpoint{"h", 53, Transport::udp, false}));
  EXPECT_EQ(s.options.ssl_ciphers, "ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(s.options.ssl_version, "tlsv1.2");
  EXPECT_FALSE(s.options.ssl_reuse_sessions);
  EXPECT_EQ(s.options.udp_rcv_buffer, 65536u);
  const TlsCertificate& cert = s.sessions[0].actions[0].certificate;
  EXPECT_EQ(cert.certfile, "/c.pem");
  EXPECT_EQ(cert.keyfile, "/etc/k.pem");  // relative to the scenario
  EXPECT_EQ(cert.keypass, "secret");
}

TEST(LoaderTransports, UnsupportedOnesAreRefusedAtLoad) {
  Parts p;
  p.options = R"(<options><option name="ssl_versions" value="sslv2"/></options>)";
  expect_error(scenario_text(p), "value=", "/tsung/options/option", "unknown ssl version 'sslv2'");
  p.options = R"(<options><option name="bosh_path" value="http-bind"/></options>)";
  expect_error(scenario_text(p), "value=", "/tsung/options/option", "'http-bind' is no request path");
  p.options = R"(<options><option name="bosh_path" value="/a b"/></options>)";
  expect_error(scenario_text(p), "value=", "/tsung/options/option", "'/a b' is no request path");
  p.options = R"(<options><option name="websocket_path" value="/a&#13;&#10;X: y"/></options>)";
  expect_error(scenario_text(p), "value=", "/tsung/options/option", "is no request path");
  p = Parts{};
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake" bidi="true"><request><fake/></request></session></sessions>)";
  expect_error(scenario_text(p), "bidi=", "/tsung/sessions/session", "not supported yet: bidirectional ts_fake sessions");
  p = Parts{};
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <set_option name="certificate"><certificate certfile="%%_c%%" keyfile="k.pem" keypass="%%nope:fn%%"/></set_option><request><fake/></request></session></sessions>)";
  expect_error(scenario_text(p), "keypass=", "/tsung/sessions/session/set_option/certificate", "nope:fn");
}

// Protocol::supports_bidi and supports_udp: a plugin that says false has bidi="true", or a udp
// server, refused at its session (file:line:column); the defaults keep what loaded before.
TEST(LoaderTransports, PluginsSayWhetherBidiAndUdpApply) {
  struct Stream final : fake::FakeProtocol {  // like ts_mysql: connection-level, neither
    std::string_view element() const override { return "stream"; }
    std::string_view session_type() const override { return "ts_stream"; }
    bool connection_level() const override { return true; }
    bool supports_bidi() const override { return false; }
    bool supports_udp() const override { return false; }
  };
  struct Conn final : fake::FakeProtocol {  // like ts_jabber: the defaults
    std::string_view element() const override { return "conn"; }
    std::string_view session_type() const override { return "ts_conn"; }
    bool connection_level() const override { return true; }
  };
  ProtocolRegistry registry;
  registry.add(std::make_unique<fake::FakeProtocol>());
  registry.add(std::make_unique<Stream>());
  registry.add(std::make_unique<Conn>());
  auto session = [](const char* type, const char* attrs, const char* element) {
    return fmt::format(R"(<sessions><session name="s" probability="100" type="{}"{}><request><{}/></request></session></sessions>)",
                       type, attrs, element);
  };
  auto error_of = [&](const std::string& text) -> std::string {
    try {
      load_scenario_text(text, "t.xml", registry);
    } catch (const ScenarioError& e) {
      return e.what();
    }
    return "";
  };
  Parts p;
  p.sessions = session("ts_conn", R"( bidi="true")", "conn");
  EXPECT_TRUE(load_scenario_text(scenario_text(p), "t.xml", registry).sessions[0].bidi);
  p.sessions = session("ts_stream", R"( bidi="true")", "stream");
  std::string text = scenario_text(p);
  auto [line, column] = position_of(text, "bidi=");
  EXPECT_TRUE(error_of(text).starts_with(fmt::format("t.xml:{}:{}: /tsung/sessions/session: ", line, column)))
      << error_of(text);
  EXPECT_NE(error_of(text).find("not supported yet: bidirectional ts_stream sessions"), std::string::npos);
  p.sessions = session("ts_stream", R"( bidi="false")", "stream");
  EXPECT_EQ(error_of(scenario_text(p)), "");
  p.servers = R"(<servers><server host="h" port="53" type="udp6"/></servers>)";
  text = scenario_text(p);
  std::tie(line, column) = position_of(text, R"(type="ts_stream")");
  EXPECT_TRUE(error_of(text).starts_with(fmt::format("t.xml:{}:{}: /tsung/sessions/session: ", line, column)))
      << error_of(text);
  EXPECT_NE(error_of(text).find("not supported yet: ts_stream sessions over udp (<server> on line 4)"), std::string::npos);
  for (const char* type : {"ts_fake", "ts_conn"}) {
    p.sessions = session(type, "", type + 3);
    EXPECT_EQ(error_of(scenario_text(p)), "") << type;
  }
  // The built-in plugins: only ts_mysql and the local ones (ts_fs, ts_shell: no network) say no;
  // every other keeps the defaults (bidi for the connection-level ones: jabber, mqtt, amqp,
  // websocket; udp for all).
  for (const auto& protocol : ProtocolRegistry::builtin().all()) {
    std::string_view type = protocol->session_type();
    bool mysql = type == "ts_mysql" || type == "ts_fs" || type == "ts_shell";
    EXPECT_EQ(protocol->supports_bidi(), protocol->connection_level() && !mysql) << protocol->session_type();
    EXPECT_EQ(protocol->supports_udp(), !mysql) << protocol->session_type();
  }
}

// %%_var%% in certificate attributes: kept as templates (substituted per user at run time, paths
// then taken relative to the scenario's directory); the variables count as read by the session.
TEST(LoaderTransports, DynamicCertificateAttributesAreTemplates) {
  Parts p;
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake">
  <setdynvars sourcetype="random_number" start="1" end="4"><var name="n"/></setdynvars>
  <set_option name="certificate"><certificate certfile="c%%_n%%.pem" keyfile="/k/%%_n%%.key" cacertfile="ca.pem"/></set_option>
  <request><fake data="x"/></request></session></sessions>)";
  Scenario s = load_scenario_text(scenario_text(p), "/etc/t.xml", fake::fake_registry());
  const TlsCertificate& cert = s.sessions[0].actions[1].certificate;
  EXPECT_TRUE(cert.dynamic);
  EXPECT_EQ(cert.certfile, "c%%_n%%.pem");
  EXPECT_EQ(cert.keyfile, "/k/%%_n%%.key");
  EXPECT_EQ(cert.cacertfile, "ca.pem");  // a dynamic certificate resolves every path at run time
  EXPECT_EQ(cert.dir, "/etc");
  const auto& used = s.sessions[0].used_vars;
  EXPECT_NE(std::find(used.begin(), used.end(), "n"), used.end());
}

// <session persistent>: Tsung's session_defaults() say true for every protocol; "false" is kept,
// anything else is an error at the attribute.
TEST(LoaderSessions, PersistentDefaultsToTrueAsTsung) {
  Parts p;
  EXPECT_TRUE(load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry()).sessions[0].persistent);
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake" persistent="false"><request><fake/></request></session></sessions>)";
  EXPECT_FALSE(load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry()).sessions[0].persistent);
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake" persistent="true"><request><fake/></request></session></sessions>)";
  EXPECT_TRUE(load_scenario_text(scenario_text(p), "t.xml", fake::fake_registry()).sessions[0].persistent);
  p.sessions = R"(<sessions><session name="s" probability="100" type="ts_fake" persistent="yes"><request><fake/></request></session></sessions>)";
  expect_error(scenario_text(p), "persistent=", "/tsung/sessions/session", "attribute 'persistent' is 'yes'");
}

}  // namespace
