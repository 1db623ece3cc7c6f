#pragma once
// Runs a scenario through a real Engine (one agent, one thread, bounded 20 s) and collects its
// metrics: for plugins whose users run on this host (<server type="erlang">: fs, shell).

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "engine/engine.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/scenario.hpp"
#include "support/metric_total.hpp"

namespace loadctl::test {

inline MetricSet run_local_engine(const std::string& xml, const char* file_name) {
  Scenario scenario = load_scenario_text(xml, file_name, ProtocolRegistry::builtin());
  std::vector<AgentPlan> plans = plan_run(scenario, plan_slots(scenario), 1);
  EXPECT_EQ(plans.size(), 1u);
  MetricSet m;
  if (plans.size() != 1) return m;
  engine::Engine engine(scenario, plans.at(0), 1);  // the host is never resolved
  auto start = std::chrono::steady_clock::now();
  engine.start(engine::Clock::now());
  while (!engine.done() && std::chrono::steady_clock::now() < start + std::chrono::seconds(20))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(engine.done());
  engine.stop();
  engine.join();
  engine.collect(m);
  return m;
}

}  // namespace loadctl::test
