// <monitor type="munin"|"snmp"> and their children: defaults, <oid eval> forms, refusals with
// their place (file:line:column).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fake_protocol.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"
#include "scenario/loader_internal.hpp"

namespace {

using namespace loadctl;

std::string monitor_scenario_text(const std::string& monitoring) {
  return "<?xml version=\"1.0\"?>\n<tsung>\n<clients><client host=\"localhost\"/></clients>\n"
         "<servers><server host=\"127.0.0.1\" port=\"80\" type=\"tcp\"/></servers>\n"
         "<monitoring>\n" + monitoring + "\n</monitoring>\n"
         "<load><arrivalphase phase=\"1\" duration=\"1\" unit=\"second\"><users arrivalrate=\"1\" unit=\"second\"/></arrivalphase></load>\n"
         "<sessions><session name=\"s\" probability=\"100\" type=\"ts_fake\"><request><fake data=\"x\"/></request></session></sessions>\n"
         "</tsung>\n";
}

Scenario load_monitors(const std::string& monitoring) {
  return load_scenario_text(monitor_scenario_text(monitoring), "t.xml", fake::fake_registry());
}

ScenarioError monitor_error(const std::string& monitoring) {
  try {
    load_monitors(monitoring);
  } catch (const ScenarioError& e) {
    return e;
  }
  ADD_FAILURE() << "loaded: " << monitoring;
  return ScenarioError("", 0, 0, "", "");
}

TEST(MonitorConfig, MuninAndSnmpDefaultsAreTsungs) {
  Scenario s = load_monitors(R"(<monitor host="m1" type="munin"/><monitor host="s1" type="snmp"/>)");
  ASSERT_EQ(s.monitors.size(), 2u);
  EXPECT_EQ(s.monitors[0].type, "munin");
  EXPECT_EQ(s.monitors[0].port, 4949);
  EXPECT_EQ(s.monitors[1].type, "snmp");
  EXPECT_EQ(s.monitors[1].port, 161);
  EXPECT_EQ(s.monitors[1].snmp_version, "v1");  // the manual and the DTD
  EXPECT_EQ(s.monitors[1].community, "public");
}

TEST(MonitorConfig, SnmpOptionsAndOids) {
  Scenario s = load_monitors(R"(<monitor host="db" type="snmp"><snmp version="v2" community="mycommunity" port="11161">
    <oid value="1.3.6.1.4.1.42.2.145.3.163.1.1.2.11.0" name="heapused" type="sample" eval="fun(X)-> X/100 end."/>
    <oid value=".1.3.6.1.2.1.2.2.1.10.2" name="inoctets" type="counter" eval="fun(Bytes) -> Bytes * 8 end"/>
    <oid value="1.3.6.1.2.1.1.3.0" name="uptime" type="sum"/>
  </snmp></monitor>)");
  const MonitorSpec& m = s.monitors.at(0);
  EXPECT_EQ(m.port, 11161);
  EXPECT_EQ(m.snmp_version, "v2");
  EXPECT_EQ(m.community, "mycommunity");
  ASSERT_EQ(m.oids.size(), 3u);
  EXPECT_EQ(m.oids[0].name, "heapused");
  EXPECT_EQ(m.oids[0].oid.size(), 16u);
  EXPECT_DOUBLE_EQ(m.oids[0].factor, 0.01);
  EXPECT_EQ(m.oids[1].oid.front(), 1u);
  EXPECT_EQ(m.oids[1].type, "counter");
  EXPECT_DOUBLE_EQ(m.oids[1].factor, 8);
  EXPECT_EQ(m.oids[2].type, "sum");
  EXPECT_DOUBLE_EQ(m.oids[2].factor, 1);
}

TEST(MonitorConfig, EvalForms) {
  using detail::eval_factor;
  EXPECT_EQ(eval_factor("fun(X)-> X end."), 1.0);
  EXPECT_EQ(eval_factor("fun(X) -> X / 4 end."), 0.25);
  EXPECT_EQ(eval_factor("fun( X )->X/1.0e3 end"), 0.001);
  EXPECT_EQ(eval_factor("fun(V) -> 1024 * V end."), 1024.0);
  EXPECT_FALSE(eval_factor("fun(X) -> X div 100 end."));  // integer division: not the same value
  EXPECT_FALSE(eval_factor("fun(X) -> X / 0 end."));
  EXPECT_FALSE(eval_factor("fun(X) -> Y / 2 end."));
  EXPECT_FALSE(eval_factor("fun(X) -> X / 2 + 1 end."));
  EXPECT_FALSE(eval_factor("fun(x) -> x end."));  // not an Erlang variable
  EXPECT_FALSE(eval_factor("os:cmd(\"rm -rf /\")"));
}

// Erlang's result type, which decides how Tsung prints a type="sum" total: "/" always gives a
// float, "*" a float only with a float literal; X alone keeps X's type.
TEST(MonitorConfig, EvalSaysWhenErlangGivesAFloat) {
  using detail::eval_factor;
  bool is_float = true;
  EXPECT_EQ(eval_factor("fun(X)-> X end.", &is_float), 1.0);
  EXPECT_FALSE(is_float);
  EXPECT_EQ(eval_factor("fun(X) -> X / 4 end.", &is_float), 0.25);
  EXPECT_TRUE(is_float);
  EXPECT_EQ(eval_factor("fun(V) -> 1024 * V end.", &is_float), 1024.0);
  EXPECT_FALSE(is_float);
  EXPECT_EQ(eval_factor("fun(X) -> X * 2 end.", &is_float), 2.0);
  EXPECT_FALSE(is_float);
  EXPECT_EQ(eval_factor("fun(X) -> X * 2.5 end.", &is_float), 2.5);
  EXPECT_TRUE(is_float);
  EXPECT_EQ(eval_factor("fun(X) -> 0.5 * X end.", &is_float), 0.5);
  EXPECT_TRUE(is_float);
}

TEST(MonitorConfig, OtherEvalsAreRefusedAtTheirAttribute) {
  std::string m = R"(<monitor host="db" type="snmp"><snmp>
  <oid value="1.3.6.1.2.1.1.3.0" name="up" eval="fun(X) -> X div 100 end."/></snmp></monitor>)";
  ScenarioError e = monitor_error(m);
  EXPECT_NE(e.message().find("not supported yet: eval \"fun(X) -> X div 100 end.\""), std::string::npos) << e.what();
  EXPECT_EQ(e.line(), 7) << e.what();  // the <oid> line: 5 lines before <monitoring>'s content, then <monitor>
  EXPECT_EQ(e.column(), 44) << e.what();  // at eval= (the element starts at column 3)
  EXPECT_EQ(e.file(), "t.xml");
}

TEST(MonitorConfig, Refusals) {
  EXPECT_NE(monitor_error(R"(<monitor host="a" type="munin"><snmp/></monitor>)").message().find("type=\"snmp\""),
            std::string::npos);
  EXPECT_NE(monitor_error(R"(<monitor host="a" type="snmp"><snmp port="0"/></monitor>)").message().find("port"),
            std::string::npos);
  EXPECT_NE(monitor_error(R"(<monitor host="a" type="snmp"><snmp version="v3"/></monitor>)")
                .message().find("not supported yet: SNMP version v3"),
            std::string::npos);
  EXPECT_NE(monitor_error(R"(<monitor host="a" type="snmp"><snmp version="v2c"/></monitor>)").message().find("v2c"),
            std::string::npos);
  EXPECT_NE(monitor_error(R"(<monitor host="a" type="snmp"><snmp><oid value="1.x" name="n"/></snmp></monitor>)")
                .message().find("not a numeric OID"),
            std::string::npos);
  EXPECT_NE(monitor_error(R"(<monitor host="a" type="snmp"><snmp><oid value="1.3" name="n" type="gauge"/></snmp></monitor>)")
                .message().find("gauge"),
            std::string::npos);
  EXPECT_NE(monitor_error(R"(<monitor host="a" type="snmp"><mysqladmin/></monitor>)").message().find("type=\"erlang\""),
            std::string::npos);
}

// L5 and EMPTY elements: an OID X.690 cannot encode, and children of <munin>, <mysqladmin>,
// <oid>, are refused at their place instead of loading silently.
TEST(MonitorConfig, BadOidArcsAndChildrenOfEmptyElementsAreRefused) {
  for (const char* bad : {"3.1.2", "1.40.1", "0.99", "2.4294967290"}) {
    ScenarioError e = monitor_error(fmt::format(R"(<monitor host="a" type="snmp"><snmp><oid value="{}" name="n"/></snmp></monitor>)", bad));
    EXPECT_NE(e.message().find("arc"), std::string::npos) << bad << ": " << e.what();
    EXPECT_EQ(e.line(), 6) << e.what();
    EXPECT_GT(e.column(), 0) << e.what();
  }
  EXPECT_EQ(load_monitors(R"(<monitor host="a" type="snmp"><snmp><oid value="2.999.3" name="n"/></snmp></monitor>)")
                .monitors.at(0).oids.at(0).oid.at(1), 999u);
  for (const char* bad : {R"(<monitor host="a" type="munin"><munin>
  <oid/></munin></monitor>)", R"(<monitor host="a" type="erlang"><mysqladmin>
  <oid/></mysqladmin></monitor>)", R"(<monitor host="a" type="snmp"><snmp><oid value="1.3" name="n">
  <oid/></oid></snmp></monitor>)"}) {
    ScenarioError e = monitor_error(bad);
    EXPECT_NE(e.message().find("<oid> is not allowed"), std::string::npos) << e.what();
    EXPECT_EQ(e.line(), 7) << e.what();
    EXPECT_EQ(e.column(), 3) << e.what();
    EXPECT_EQ(e.file(), "t.xml");
  }
}

TEST(MonitorConfig, Mysqladmin) {
  Scenario s = load_monitors(R"(<monitor host="db"><mysqladmin port="3307" username="mon" password="sesame"/></monitor>
    <monitor host="db2" type="erlang"><mysqladmin/></monitor><monitor host="web"/>)");
  ASSERT_EQ(s.monitors.size(), 3u);
  EXPECT_TRUE(s.monitors[0].mysqladmin);
  EXPECT_EQ(s.monitors[0].mysql_port, 3307);
  EXPECT_EQ(s.monitors[0].mysql_user, "mon");
  EXPECT_EQ(s.monitors[0].mysql_password, "sesame");
  EXPECT_EQ(s.monitors[1].mysql_port, 3306);  // the DTD's defaults
  EXPECT_EQ(s.monitors[1].mysql_user, "root");
  EXPECT_FALSE(s.monitors[1].mysql_password);
  EXPECT_FALSE(s.monitors[2].mysqladmin);
}

}  // namespace
