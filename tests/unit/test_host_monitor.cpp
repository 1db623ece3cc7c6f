#include <gtest/gtest.h>

#include <thread>

#include "loadctl/host_monitor.hpp"

using namespace loadctl;

TEST(HostMonitor, RecordsTsungStyleHostSamples) {
  HostMonitor monitor("h1");
  MetricSet set;
  monitor.sample(set);
  EXPECT_EQ(set.find("{cpu,\"h1\"}"), nullptr) << "no CPU share without a previous sample";
  const Metric* mem = set.find("{freemem,\"h1\"}");
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->count, 1u);
  EXPECT_GT(mem->min, 1.0);  // MB available: any machine running this test has more than 1 MB
  ASSERT_NE(set.find("{load,\"h1\"}"), nullptr);
  volatile int spin = 0;  // some CPU time between the samples
  while (spin < 20'000'000) spin = spin + 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  monitor.sample(set);
  const Metric* cpu = set.find("{cpu,\"h1\"}");
  ASSERT_NE(cpu, nullptr);
  EXPECT_GE(cpu->min, 0.0);
  EXPECT_LE(cpu->max, 100.0);
  EXPECT_EQ(set.find("{freemem,\"h1\"}")->count, 2u);
}
