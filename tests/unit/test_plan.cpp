#include <gtest/gtest.h>

#include <unistd.h>

#include <numeric>

#include "engine/engine.hpp"
#include "loadctl/plan.hpp"

using namespace loadctl;

namespace {

Scenario three_clients() {
  Scenario s;
  s.clients = {ClientSpec{.host = "localhost", .weight = 1},
               ClientSpec{.host = "10.0.0.2", .weight = 2, .cpu = 2},
               ClientSpec{.host = "hostc", .hostip = "198.18.0.3", .weight = 3}};
  ArrivalPhase p1;
  p1.phase = 1;
  p1.duration = 60;
  p1.rate = 12;
  p1.maxnumber = 100;
  ArrivalPhase p2;
  p2.phase = 2;
  p2.duration = 30;
  p2.rate = 6;
  s.load.phases = {p1, p2};
  return s;
}

}  // namespace

TEST(PlanSlots, CpuSplitsAClientIntoEqualWeightSlots) {
  Scenario s = three_clients();
  auto slots = plan_slots(s);
  ASSERT_EQ(slots.size(), 4u);
  EXPECT_TRUE(slots[0].local);
  EXPECT_FALSE(slots[1].local);
  EXPECT_DOUBLE_EQ(slots[1].weight, 1.0);
  EXPECT_DOUBLE_EQ(slots[2].weight, 1.0);
  EXPECT_EQ(slots[3].address, "198.18.0.3");
  EXPECT_EQ(slots[3].host, "hostc");
  for (unsigned i = 0; i < slots.size(); ++i) EXPECT_EQ(slots[i].id, i);
}

TEST(PlanRun, IntensityAndMaxnumberSplitByWeightWithExactTotal) {
  Scenario s = three_clients();
  auto plans = plan_run(s, plan_slots(s), 42);
  ASSERT_EQ(plans.size(), 4u);
  // weights 1,1,1,3 of 6
  double rate_sum = 0;
  std::uint64_t max_sum = 0;
  for (const AgentPlan& p : plans) {
    ASSERT_EQ(p.phases.size(), 2u);
    rate_sum += p.phases[0].rate;
    ASSERT_TRUE(p.phases[0].max_users.has_value());
    max_sum += *p.phases[0].max_users;
    EXPECT_FALSE(p.phases[1].max_users.has_value());
    EXPECT_DOUBLE_EQ(p.phases[1].start, 60);
  }
  EXPECT_DOUBLE_EQ(rate_sum, 12);
  EXPECT_EQ(max_sum, 100u);
  EXPECT_DOUBLE_EQ(plans[0].phases[0].rate, 2);
  EXPECT_DOUBLE_EQ(plans[3].phases[0].rate, 6);
  EXPECT_EQ(*plans[0].phases[0].max_users, 16u);  // floor(100/6)
  EXPECT_EQ(*plans[3].phases[0].max_users, 52u);  // the remainder
}

TEST(PlanRun, LoopUnrollsPhasesBackToBack) {
  Scenario s = three_clients();
  s.load.loop = 2;
  auto plans = plan_run(s, plan_slots(s), 1);
  ASSERT_EQ(plans[0].phases.size(), 6u);
  EXPECT_DOUBLE_EQ(plans[0].phases[2].start, 90);
  EXPECT_DOUBLE_EQ(plans[0].phases[5].start, 240);
  EXPECT_DOUBLE_EQ(planned_duration(s), 270);
}

TEST(PlanRun, StaticUsersFollowWeights) {
  Scenario s = three_clients();
  for (int i = 0; i < 60; ++i) s.load.users.push_back({static_cast<double>(i), "x"});
  auto plans = plan_run(s, plan_slots(s), 1);
  EXPECT_EQ(plans[0].static_users.size(), 10u);
  EXPECT_EQ(plans[3].static_users.size(), 30u);
}

TEST(PlanRun, SeedsAndUserIdsDifferPerAgent) {
  Scenario s = three_clients();
  auto a = plan_run(s, plan_slots(s), 7);
  auto b = plan_run(s, plan_slots(s), 7);
  EXPECT_EQ(a[1].seed, b[1].seed);
  EXPECT_NE(a[0].seed, a[1].seed);
  EXPECT_NE(a[0].first_user_id, a[1].first_user_id);
}

TEST(AgentPlan, EncodeDecodeRoundTripAndRejectsTruncation) {
  Scenario s = three_clients();
  s.clients[0].source_ips = {"127.0.0.2", "127.0.0.3"};
  s.clients[0].scan_interfaces = {"eth1", "bond0"};
  s.load.users.push_back({1.5, "static"});
  s.load.duration = 99;
  auto plans = plan_run(s, plan_slots(s), 3);
  std::string bytes = plans[0].encode();
  auto back = AgentPlan::decode(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->slot.source_ips, plans[0].slot.source_ips);
  EXPECT_EQ(back->slot.scan_interfaces, (std::vector<std::string>{"eth1", "bond0"}));
  EXPECT_EQ(back->phases.size(), plans[0].phases.size());
  EXPECT_EQ(back->phases[0].max_users, plans[0].phases[0].max_users);
  EXPECT_EQ(back->static_users.size(), plans[0].static_users.size());
  EXPECT_EQ(back->hard_stop, 99);
  EXPECT_EQ(back->seed, plans[0].seed);
  for (std::size_t cut = 0; cut < bytes.size(); cut += 3)
    EXPECT_FALSE(AgentPlan::decode(std::string_view(bytes).substr(0, cut))) << cut;
}

// <monitor type="erlang">: an agent of its own only for a host that is no client's host or hostip,
// once per host; munin/snmp and <mysqladmin> monitors are polled by the controller.
TEST(PlanMonitorSlots, OnlyErlangHostsWithoutAClientOncePerHost) {
  Scenario s = three_clients();
  auto monitor = [](std::string host, std::string type = "erlang", bool mysqladmin = false) {
    MonitorSpec m;
    m.host = std::move(host);
    m.type = std::move(type);
    m.mysqladmin = mysqladmin;
    return m;
  };
  s.monitors = {monitor("db"), monitor("localhost"), monitor("198.18.0.3"), monitor("hostc"),
                monitor("db"), monitor("127.0.0.2"), monitor("snmphost", "snmp"), monitor("mysql", "erlang", true)};
  auto slots = plan_monitor_slots(s, 4);
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[0].id, 4u);
  EXPECT_EQ(slots[0].host, "db");
  EXPECT_EQ(slots[0].address, "db");
  EXPECT_FALSE(slots[0].local);
  EXPECT_TRUE(slots[0].monitor_only);
  EXPECT_EQ(slots[0].maxusers, 0u);
  EXPECT_EQ(slots[1].id, 5u);
  EXPECT_EQ(slots[1].host, "127.0.0.2");
  EXPECT_TRUE(slots[1].local);

  AgentPlan plan;
  plan.slot = slots[0];
  auto back = AgentPlan::decode(plan.encode());
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->slot.monitor_only);
  EXPECT_TRUE(back->phases.empty());
  plan.slot.monitor_only = false;
  EXPECT_FALSE(AgentPlan::decode(plan.encode())->slot.monitor_only);
}

// The controller's host: "localhost", 127.0.0.1 and its hostname are one host, taken by a local
// client; with remote clients only, any <monitor> also monitors the controller's host (Tsung's
// ts_os_mon:activate), once, named by its hostname; without <monitoring>, nothing.
TEST(PlanMonitorSlots, TheControllersHostIsMonitoredLikeTsungs) {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  const std::string me = name;
  MonitorSpec snmp{"server", "snmp", 161};
  MonitorSpec mine{me, "erlang"};
  Scenario local = three_clients();  // a localhost client
  local.monitors = {snmp, mine, MonitorSpec{"127.0.0.1", "erlang"}};
  EXPECT_TRUE(plan_monitor_slots(local, 4).empty()) << "the local client's agent samples this host";

  Scenario remote;
  remote.clients = {ClientSpec{.host = "10.0.0.2", .weight = 1}};
  EXPECT_TRUE(plan_monitor_slots(remote, 1).empty()) << "no <monitoring>: no monitor agent";
  remote.monitors = {snmp};
  auto slots = plan_monitor_slots(remote, 1);
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].host, me);
  EXPECT_TRUE(slots[0].local);
  EXPECT_TRUE(slots[0].monitor_only);
  EXPECT_EQ(slots[0].id, 1u);
  remote.monitors = {MonitorSpec{"localhost", "erlang"}, mine, snmp};
  slots = plan_monitor_slots(remote, 1);
  ASSERT_EQ(slots.size(), 1u) << "localhost and the hostname are one host";
  EXPECT_EQ(slots[0].host, "localhost");
  remote.monitors = {MonitorSpec{"127.0.0.2", "erlang"}};
  slots = plan_monitor_slots(remote, 1);
  ASSERT_EQ(slots.size(), 2u);  // 127.0.0.2 stays a host of its own (as written)
  EXPECT_EQ(slots[1].host, me);
}

// Tsung skips its controller's extra monitor when a monitor of any type names that host
// (ts_os_mon:activate's lists:keyfind): an SNMP or munin monitor of it is the only one.
TEST(PlanMonitorSlots, AnyMonitorOfTheControllersHostReplacesTheExtraAgent) {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  const std::string me = name;
  Scenario remote;
  remote.clients = {ClientSpec{.host = "10.0.0.2", .weight = 1}};
  for (const char* type : {"snmp", "munin"}) {
    for (const std::string& host : {me, std::string("localhost"), std::string("127.0.0.1")}) {
      remote.monitors = {MonitorSpec{"server", "snmp", 161}, MonitorSpec{host, type, 161}};
      EXPECT_TRUE(plan_monitor_slots(remote, 1).empty()) << type << " " << host;
    }
  }
  remote.monitors = {MonitorSpec{"127.0.0.2", "snmp", 161}};  // another host (as written)
  ASSERT_EQ(plan_monitor_slots(remote, 1).size(), 1u);
}

// A client on any loopback address (or the hostname) runs its agent here: it samples this host,
// so no monitor-only agent is added for the controller's host.
TEST(PlanMonitorSlots, AClientOnAnyLoopbackAddressIsLocalLoad) {
  Scenario s;
  s.clients = {ClientSpec{.host = "127.0.0.2", .weight = 1}};
  s.monitors = {MonitorSpec{"server", "snmp", 161}};
  EXPECT_TRUE(plan_monitor_slots(s, 1).empty());
  s.clients = {ClientSpec{.host = "10.0.0.2", .weight = 1}};
  EXPECT_EQ(plan_monitor_slots(s, 1).size(), 1u);
}

// Fewer users than workers or agents (maxnumber="1"): the ones that start none take none of the
// rate, so the user arrives at the phase's rate (at half of it, a 1 s phase at 10/s missed it in
// e^-5 = 0.7 % of runs).
TEST(SplitPlan, RateGoesOnlyWhereUsersMayStart) {
  AgentPlan plan;
  plan.phases = {PhaseShare{.phase = 1, .start = 0, .duration = 1, .rate = 10, .max_users = 1},
                 PhaseShare{.phase = 2, .start = 1, .duration = 1, .rate = 9, .max_users = 2},
                 PhaseShare{.phase = 3, .start = 2, .duration = 1, .rate = 6}};
  auto parts = engine::split_plan(plan, 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_DOUBLE_EQ(parts[0].phases[0].rate, 10);
  EXPECT_DOUBLE_EQ(parts[1].phases[0].rate, 0);
  EXPECT_DOUBLE_EQ(parts[2].phases[0].rate, 0);
  EXPECT_DOUBLE_EQ(parts[0].phases[1].rate, 4.5);
  EXPECT_DOUBLE_EQ(parts[1].phases[1].rate, 4.5);
  EXPECT_DOUBLE_EQ(parts[2].phases[1].rate, 0);
  EXPECT_EQ(*parts[2].phases[1].max_users, 0u);
  for (const auto& p : parts) EXPECT_DOUBLE_EQ(p.phases[2].rate, 2) << "uncapped: an equal share";

  Scenario s = three_clients();  // agents of weights 1, 1, 1, 3
  s.load.phases[0].maxnumber = 2;
  auto plans = plan_run(s, plan_slots(s), 7);
  double sum = 0;
  for (const AgentPlan& p : plans) {
    sum += p.phases[0].rate;
    if (*p.phases[0].max_users == 0) EXPECT_DOUBLE_EQ(p.phases[0].rate, 0);
  }
  EXPECT_DOUBLE_EQ(sum, 12) << "the whole rate goes to the agents that start the 2 users";
}

TEST(SplitPlan, ThreadsShareRatesCapsAndStaticUsers) {
  AgentPlan plan;
  plan.phases = {PhaseShare{.phase = 1, .start = 0, .duration = 10, .rate = 9, .max_users = 10}};
  for (int i = 0; i < 5; ++i) plan.static_users.push_back({0, "s"});
  plan.first_user_id = 100;
  auto parts = engine::split_plan(plan, 3);
  ASSERT_EQ(parts.size(), 3u);
  std::uint64_t caps = 0;
  for (const auto& p : parts) {
    EXPECT_DOUBLE_EQ(p.phases[0].rate, 3);
    caps += *p.phases[0].max_users;
    EXPECT_EQ(p.user_id_stride, 3u);
  }
  EXPECT_EQ(caps, 10u);
  EXPECT_EQ(parts[0].static_users.size() + parts[1].static_users.size() + parts[2].static_users.size(), 5u);
  EXPECT_EQ(parts[2].first_user_id, 102u);
}
