// Tsung features of the scenario loader: external/internal XML entities, session wildcards,
// request tags excluded with -x, batch clients (Slurm node lists, PBS node files).

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fake_protocol.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"
#include "scenario/loader_internal.hpp"

namespace {

namespace fs = std::filesystem;
using namespace loadctl;

const char* kHead = R"(<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd" [
  <!ENTITY s1 SYSTEM "sub/s1.xml">
  <!ENTITY url "/from-entity">
]>
<tsung>
<clients><client host="localhost"/></clients>
<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>
<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>
<sessions>
)";

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("loadctl-parity-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path / "sub"); }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name) << text; }
};

Scenario load(const TempDir& dir, const std::string& sessions) {
  dir.write("main.xml", std::string(kHead) + sessions + "</sessions>\n</tsung>\n");
  return load_scenario((dir.path / "main.xml").string(), fake::fake_registry());
}

TEST(Entities, SystemEntityIncludesASessionFileRelativeToTheScenario) {
  TempDir dir;
  dir.write("sub/s1.xml", "<?xml version=\"1.0\"?>\n<session name=\"rec\" probability=\"100\" type=\"ts_fake\">\n"
                          "  <request tag=\"a\"><fake data=\"&url;\"/></request>\n</session>\n");
  Scenario s = load(dir, "&s1;\n");
  ASSERT_EQ(s.sessions.size(), 1u);
  EXPECT_EQ(s.sessions[0].name, "rec");
  EXPECT_EQ(s.sessions[0].line, 2);  // the line in sub/s1.xml
  // The text shipped to agents has nothing left to expand, and loads the same.
  EXPECT_EQ(s.text.find("&s1;"), std::string::npos);
  EXPECT_EQ(s.text.find("ENTITY"), std::string::npos);
  EXPECT_NE(s.text.find("/from-entity"), std::string::npos);
  std::vector<DataFile> shipped;
  Scenario again = load_scenario_text(s.text, "x.xml", fake::fake_registry(), &shipped);
  EXPECT_EQ(again.sessions[0].name, "rec");
  // Agents never read entity files themselves.
  std::string unexpanded = std::string(kHead) + "&s1;</sessions></tsung>";
  EXPECT_THROW(load_scenario_text(unexpanded, (dir.path / "main.xml").string(), fake::fake_registry(), &shipped),
               ScenarioError);
}

TEST(Entities, ADoctypeInACommentIsNotOne) {
  std::string text = "<?xml version=\"1.0\"?>\n<!-- <!DOCTYPE x [ -->\n<tsung><clients><client host=\"localhost\"/>"
                     "</clients><servers><server host=\"127.0.0.1\" port=\"80\" type=\"tcp\"/></servers><load>"
                     "<arrivalphase phase=\"1\" duration=\"1\" unit=\"second\"><users arrivalrate=\"1\" unit=\"second\"/>"
                     "</arrivalphase></load><sessions><session name=\"s\" probability=\"100\" type=\"ts_fake\">"
                     "<request><fake data=\"a&amp;b\"/></request></session></sessions></tsung>";
  EXPECT_NO_THROW(load_scenario_text(text, "c.xml", fake::fake_registry()));
}

/// The error loading `sessions` gives, expected in sub/s1.xml at line `line`.
ScenarioError included_file_error(const TempDir& dir, const std::string& sessions, int line) {
  try {
    load(dir, sessions);
  } catch (const ScenarioError& e) {
    EXPECT_TRUE(e.file().ends_with("sub/s1.xml")) << e.what();
    EXPECT_EQ(e.line(), line) << e.what();
    return e;
  }
  ADD_FAILURE() << "loaded";
  return ScenarioError("", 0, 0, "", "");
}

TEST(Entities, ErrorsInAnIncludedFileNameThatFileLineAndColumn) {
  TempDir dir;
  dir.write("sub/s1.xml", "<session name=\"rec\" probability=\"100\" type=\"ts_fake\">\n"
                          "  <request><fake data=\"&url;\" bogus=\"1\"/></request>\n</session>\n");
  EXPECT_EQ(included_file_error(dir, "&s1;\n", 2).column(), 31);  // 'bogus', after the entity reference
  dir.write("sub/s1.xml", "<session name=\"rec\" probability=\"100\" type=\"ts_fake\">\n</sessio>\n");
  EXPECT_NE(included_file_error(dir, "&s1;\n", 2).message().find("malformed XML"), std::string::npos);
}

TEST(Entities, MissingFilesNonRegularFilesUndefinedAndRecursiveEntitiesAreRefused) {
  TempDir dir;
  auto error_of = [&](const std::string& sessions) {
    try {
      load(dir, sessions);
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  EXPECT_NE(error_of("&s1;").find("main.xml:11:1: entity 's1'"), std::string::npos) << error_of("&s1;");
  fs::create_directories(dir.path / "sub" / "s1.xml");
  EXPECT_NE(error_of("&s1;").find("not a regular file"), std::string::npos) << error_of("&s1;");
  EXPECT_NE(error_of("&nope;").find("main.xml:11:1: undefined entity '&nope;'"), std::string::npos);
  fs::remove(dir.path / "sub" / "s1.xml");
  dir.write("sub/s1.xml", "&s1;");
  EXPECT_NE(error_of("&s1;").find("nested more than"), std::string::npos) << error_of("&s1;");
}

TEST(Tags, ExcludedRequestsAreRemovedAtEveryDepth) {
  TempDir dir;
  dir.write("sub/s1.xml", "");
  Scenario s = load(dir, R"(<session name="a" probability="100" type="ts_fake">
    <request tag="login"><fake data="1"/></request>
    <transaction name="t"><request tag="search"><fake data="2"/></request><request><fake data="3"/></request></transaction>
    <request tag="other"><fake data="4"/></request>
  </session>)");
  EXPECT_EQ(exclude_tagged_requests(s, {}), 0u);
  EXPECT_EQ(exclude_tagged_requests(s, {"login", "search"}), 2u);
  const auto& actions = s.sessions[0].actions;
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].kind, Action::Kind::transaction);
  ASSERT_EQ(actions[0].body.size(), 1u);
  EXPECT_EQ(actions[0].body[0].tag, "");
  EXPECT_EQ(actions[1].tag, "other");
}

TEST(Wildcards, StaticUsersAndSessionSetupsExpandToEveryMatchingSession) {
  std::string text = R"(<tsung><clients><client host="localhost"/></clients>
<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>
<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/>
<session_setup name="foo*" probability="50"/></arrivalphase>
<user session="foo*" start_time="10"/><user session="fo?" start_time="20"/></load>
<sessions>
<session name="foo" probability="50" type="ts_fake"><request><fake data="1"/></request></session>
<session name="foobar" probability="50" type="ts_fake"><request><fake data="1"/></request></session>
<session name="bar" probability="0" type="ts_fake"><request><fake data="1"/></request></session>
</sessions></tsung>)";
  Scenario s = load_scenario_text(text, "w.xml", fake::fake_registry());
  ASSERT_EQ(s.load.users.size(), 3u);
  EXPECT_EQ(s.load.users[0].session, "foo");
  EXPECT_EQ(s.load.users[1].session, "foobar");
  EXPECT_EQ(s.load.users[2].session, "foo");
  EXPECT_EQ(s.load.users[2].start_time, 20);
  ASSERT_EQ(s.load.phases[0].session_setup.size(), 2u);
  EXPECT_EQ(s.load.phases[0].session_setup[1].session, "foobar");
  std::string none = text;
  none.replace(none.find("fo?"), 3, "zz*");
  EXPECT_THROW(load_scenario_text(none, "w.xml", fake::fake_registry()), ScenarioError);
}

TEST(BatchClients, SlurmNodeListsExpandAsScontrolDoes) {
  using detail::expand_slurm_nodelist;
  EXPECT_EQ(expand_slurm_nodelist("node[01-03,7],gpu5", 100),
            (std::vector<std::string>{"node01", "node02", "node03", "node7", "gpu5"}));
  EXPECT_EQ(expand_slurm_nodelist("r[1-2]n[8-9]", 100), (std::vector<std::string>{"r1n8", "r1n9", "r2n8", "r2n9"}));
  EXPECT_EQ(expand_slurm_nodelist("single", 100), (std::vector<std::string>{"single"}));
  EXPECT_THROW(expand_slurm_nodelist("n[1-", 100), std::invalid_argument);
  EXPECT_THROW(expand_slurm_nodelist("n[3-1]", 100), std::invalid_argument);
  EXPECT_THROW(expand_slurm_nodelist("n[1-100000]", 100), std::invalid_argument);
  // The running total counts: ranges of 60 each fit, but not together nor after other hosts.
  EXPECT_THROW(expand_slurm_nodelist("n[1-60,1-60]", 100), std::invalid_argument);
  EXPECT_THROW(expand_slurm_nodelist("a[1-60],b[1-60]", 100), std::invalid_argument);
  EXPECT_THROW(expand_slurm_nodelist("r[1-10]n[1-11]", 100), std::invalid_argument);
  EXPECT_EQ(expand_slurm_nodelist("r[1-10]n[1-10]", 100).size(), 100u);
}

TEST(BatchClients, ALargeSlurmRangeExpandsInLinearTime) {
  // A million hosts (under the 2^20 limit): erasing the front of a vector each time took hours.
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> hosts = detail::expand_slurm_nodelist("n[1-1000000]", 1u << 20);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_EQ(hosts.size(), 1000000u);
  EXPECT_EQ(hosts.front(), "n1");
  EXPECT_EQ(hosts.back(), "n1000000");
}

// Tsung's <ip>: an address, a host name resolved once by the controller ("resolve": the client's
// own), or scan="true" with an interface (eth0 by default) whose addresses the agent finds.
TEST(ClientSourceAddresses, NamesResolveAndInterfacesAreScannedByTheAgent) {
  std::string text = R"(<tsung><clients><client host="localhost" use_controller_vm="true">
<ip value="127.0.0.5"/><ip value="resolve"/><ip value="localhost"/><ip scan="true"/><ip scan="true" value="lo"/>
</client></clients>
<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>
<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>
<sessions><session name="s" probability="100" type="ts_fake"><request><fake data="1"/></request></session></sessions></tsung>)";
  Scenario s = load_scenario_text(text, "ip.xml", fake::fake_registry());
  ASSERT_EQ(s.clients.size(), 1u);
  EXPECT_EQ(s.clients[0].source_ips, (std::vector<std::string>{"127.0.0.5", "127.0.0.1", "127.0.0.1"}));
  EXPECT_EQ(s.clients[0].scan_interfaces, (std::vector<std::string>{"eth0", "lo"}));
  // An agent takes the controller's resolved addresses from its plan: it resolves nothing.
  std::vector<DataFile> shipped;
  std::string unresolvable = text;
  unresolvable.replace(unresolvable.find("value=\"localhost\""), 17, "value=\"no-such-host.invalid\"");
  EXPECT_THROW(load_scenario_text(unresolvable, "ip.xml", fake::fake_registry()), ScenarioError);
  EXPECT_NO_THROW(load_scenario_text(unresolvable, "ip.xml", fake::fake_registry(), &shipped));
}

TEST(BatchClients, HostsComeFromTheSchedulersVariables) {
  TempDir dir;
  std::string text = R"(<tsung><clients><client type="batch" batch="BATCH" maxusers="7"/></clients>
<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>
<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>
<sessions><session name="s" probability="100" type="ts_fake"><request><fake data="1"/></request></session></sessions></tsung>)";
  auto with = [&](const std::string& batch) {
    std::string t = text;
    t.replace(t.find("BATCH"), 5, batch);
    return load_scenario_text(t, "b.xml", fake::fake_registry());
  };
  ::setenv("SLURM_JOB_NODELIST", "cn[1-3].cluster", 1);
  Scenario slurm = with("slurm");
  ASSERT_EQ(slurm.clients.size(), 3u);
  EXPECT_EQ(slurm.clients[2].host, "cn3");  // short names, as Tsung's
  EXPECT_EQ(slurm.clients[2].maxusers, 7u);
  EXPECT_TRUE(slurm.clients[2].scan_interfaces.empty());
  Scenario scanned = with("slurm\" scan_intf=\"ib0");  // each node's own addresses on ib0
  ASSERT_EQ(scanned.clients.size(), 3u);
  for (const ClientSpec& c : scanned.clients) EXPECT_EQ(c.scan_interfaces, std::vector<std::string>{"ib0"});
  ::unsetenv("SLURM_JOB_NODELIST");
  EXPECT_THROW(with("slurm"), ScenarioError);
  dir.write("nodes", "n1.a\nn1.a\nn2\n");
  ::setenv("PBS_NODEFILE", (dir.path / "nodes").c_str(), 1);
  Scenario pbs = with("pbs");
  ASSERT_EQ(pbs.clients.size(), 3u);  // one client per line: a host with 2 slots twice
  EXPECT_EQ(pbs.clients[0].host, "n1");
  EXPECT_EQ(pbs.clients[2].host, "n2");
  ::unsetenv("PBS_NODEFILE");
  // Agents do not resolve the hosts: the controller's plan names them.
  std::vector<DataFile> shipped;
  std::string t = text;
  t.replace(t.find("BATCH"), 5, "oar");
  EXPECT_NO_THROW(load_scenario_text(t, "b.xml", fake::fake_registry(), &shipped));
}

std::string one_session(const std::string& body) {
  return R"(<tsung><clients><client host="localhost"/></clients>
<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>
<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>
<sessions><session name="s" probability="100" type="ts_fake">)" +
         body + "</session></sessions></tsung>";
}

std::string error_of(const std::string& text) {
  try {
    load_scenario_text(text, "f.xml", fake::fake_registry());
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "loaded";
}

struct UserSeven final : VariableSource {
  bool append(std::string_view, std::string&) const override { return false; }
  std::uint64_t user_id() const override { return 7; }
};

TEST(Functions, BuiltInsRenderAndOthersAreRefusedUntilAPluginRegistersThem) {
  Template t("/u/%%ts_user_server:get_unique_id%%/%%ts_user_server:get_really_unique_id%%", true);
  EXPECT_TRUE(t.variables().empty());
  UserSeven seven;
  std::string out = t.render(&seven);
  EXPECT_TRUE(out.starts_with("/u/7/")) << out;
  EXPECT_TRUE(out.ends_with("-7")) << out;
  EXPECT_GE(out.size(), std::string("/u/7/1700000000-7").size()) << out;

  std::string uses = one_session(R"(<request subst="true"><fake data="%%my_mod:my_fun%%"/></request>)");
  EXPECT_NE(error_of(uses).find("not supported yet: Erlang function call %%my_mod:my_fun%%"), std::string::npos)
      << error_of(uses);
  std::string callback =
      one_session(R"(<setdynvars sourcetype="erlang" callback="my_mod:my_fun"><var name="v"/></setdynvars>)");
  EXPECT_NE(error_of(callback).find("not supported yet: Erlang callback my_mod:my_fun"), std::string::npos);
  register_substitution_function("my_mod:my_fun", [](const VariableSource& v, std::string& o) {
    o += "id" + std::to_string(v.user_id());
  });
  EXPECT_EQ(error_of(uses), "loaded");
  EXPECT_EQ(error_of(callback), "loaded");
  EXPECT_EQ(Template("%%my_mod:my_fun%%", true).render(&seven), "id7");
  EXPECT_EQ(error_of(one_session(R"(<request subst="true"><fake data="%%ts_user_server:get_unique_id%%"/></request>)")),
            "loaded");
}

TEST(ListIndex, IfTakesTheNthElementOnlyInIf) {
  std::string set = R"(<setdynvars sourcetype="value" value="a"><var name="x"/></setdynvars>)";
  Scenario s = load_scenario_text(
      one_session(set + R"(<if var="x[2]" eq="b"><request><fake data="1"/></request></if>)"), "f.xml",
      fake::fake_registry());
  const Action& a = s.sessions[0].actions.back();
  EXPECT_EQ(a.condition.var, "x");
  EXPECT_EQ(a.condition.index, 2u);
  EXPECT_NE(error_of(one_session(set + R"(<if var="x[0]" eq="b"><request><fake data="1"/></request></if>)"))
                .find("expected name[N]"),
            std::string::npos);
  EXPECT_NE(error_of(one_session(set + R"(<if var="y[1]" eq="b"><request><fake data="1"/></request></if>)"))
                .find("undefined variable 'y'"),
            std::string::npos);
  EXPECT_NE(error_of(one_session(set + R"(<repeat name="r"><request><fake data="1"/></request><while var="x[1]" eq="a"/></repeat>)"))
                .find("for <if> only"),
            std::string::npos);
}

TEST(RequestSetsVariables, DefinesThemForWhatFollows) {
  // A request whose response sets a variable (ts_ldap's result_var) defines it for the <if>,
  // <foreach> and <for> after it, not before it.
  const std::string req = R"(<request><fake data="1" sets="found n"/></request>)";
  const std::string use = R"(<if var="found" eq="a"><request><fake data="2"/></request></if>)"
                          R"(<foreach name="e" in="found"><request><fake data="3"/></request></foreach>)"
                          R"(<for var="i" from="1" to="%%_n%%" incr="1"><request><fake data="4"/></request></for>)";
  EXPECT_EQ(error_of(one_session(req + use)), "loaded");
  EXPECT_NE(error_of(one_session(use + req)).find("undefined variable 'found'"), std::string::npos);
  EXPECT_NE(error_of(one_session(R"(<request><fake data="1"/></request>)" + use)).find("undefined variable 'found'"),
            std::string::npos);
}

}  // namespace
