// A <dyn_variable> that finds nothing, through a real Engine with ts_shell users: Tsung's
// ts_search:parse_dynvar sets an re (and pgsql_expr) variable to empty then, it does not keep
// the value of an earlier response (user_dynamics.cpp: the same branch for every extractor kind
// Tsung empties: re, form, a protocol's own as pgsql_expr).

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "engine/engine.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/scenario.hpp"

namespace loadctl::shell {
namespace {

std::uint64_t shell_engine_total(const MetricSet& m, std::string_view name) {
  const Metric* metric = m.find(name);
  return metric ? metric->count : 0;
}

TEST(ShellEngine, DynVariableNotFoundIsEmptiedAsTsung) {
  set_shell_allowed(true);
  std::string xml = R"x(<?xml version="1.0"?><tsung>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port="1" type="erlang"/></servers>
    <load><user session="s" start_time="0" unit="second"/><user session="s" start_time="0" unit="second"/></load>
    <sessions><session name="s" probability="100" type="ts_shell">
      <request><dyn_variable name="v" re="val=(\w+)"/><shell cmd="echo" args="val=abc"/></request>
      <request><dyn_variable name="v" re="val=(\w+)"/><shell cmd="echo" args="nothing"/></request>
      <request subst="true"><match do="continue" when="match">^\[\]$</match><shell cmd="echo" args="[%%_v%%]"/></request>
    </session></sessions></tsung>)x";
  Scenario scenario = load_scenario_text(xml, "shell.xml", ProtocolRegistry::builtin());
  std::vector<AgentPlan> plans = plan_run(scenario, plan_slots(scenario), 1);
  ASSERT_EQ(plans.size(), 1u);
  engine::Engine engine(scenario, plans.at(0), 1);
  auto start = std::chrono::steady_clock::now();
  engine.start(engine::Clock::now());
  while (!engine.done() && std::chrono::steady_clock::now() < start + std::chrono::seconds(20))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(engine.done());
  engine.stop();
  engine.join();
  MetricSet m;
  engine.collect(m);
  set_shell_allowed(false);
  EXPECT_EQ(shell_engine_total(m, "finish_users_count"), 2u);
  EXPECT_EQ(shell_engine_total(m, "shell_exit_0"), 6u);
  EXPECT_EQ(shell_engine_total(m, "match"), 2u);    // "[]": emptied by the second response
  EXPECT_EQ(shell_engine_total(m, "nomatch"), 0u);  // "[abc]" if the old value were kept
}

}  // namespace
}  // namespace loadctl::shell
