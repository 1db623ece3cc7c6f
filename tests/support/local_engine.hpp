#pragma once
// Runs a scenario through a real Engine (one agent, one thread, bounded 20 s) and collects its
// metrics: for engine-level tests against a server of their own (run_engine), and for plugins
// whose users run on this host (<server type="erlang">: fs, shell; run_local_engine).

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "engine/engine.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/scenario.hpp"
#include "support/metric_total.hpp"

namespace loadctl::test {

/// Runs `scenario` (one agent) until its users are done, at most 20 s; `tick` (when given) is
/// called every 20 ms meanwhile, and `took` (when given) receives how long the users ran.
inline MetricSet run_engine(const Scenario& scenario, const std::function<void(engine::Engine&)>& tick = {},
                            std::chrono::steady_clock::duration* took = nullptr) {
  std::vector<AgentPlan> plans = plan_run(scenario, plan_slots(scenario), 1);
  EXPECT_EQ(plans.size(), 1u);
  MetricSet m;
  if (plans.size() != 1) return m;
  engine::Engine engine(scenario, plans.at(0), 1);
  auto start = std::chrono::steady_clock::now();
  engine.start(engine::Clock::now());
  while (!engine.done() && std::chrono::steady_clock::now() < start + std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (tick) tick(engine);
  }
  if (took) *took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(engine.done());
  engine.stop();
  engine.join();
  engine.collect(m);
  return m;
}

/// Runs the scenario `xml` of the built-in protocols (the host is never resolved).
inline MetricSet run_local_engine(const std::string& xml, const char* file_name) {
  return run_engine(load_scenario_text(xml, file_name, ProtocolRegistry::builtin()));
}

}  // namespace loadctl::test
