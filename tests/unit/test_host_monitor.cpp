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

namespace {
// /proc/net/dev as Linux writes it; rx packets is field 2, tx packets field 10.
std::string net_dev(std::uint64_t eth_rx, std::uint64_t eth_tx) {
  return "Inter-|   Receive                                                |  Transmit\n"
         " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
         "    lo: 9000 90 0 0 0 0 0 0 9000 90 0 0 0 0 0 0\n"
         "  eth0: 123456 " + std::to_string(eth_rx) + " 0 0 0 0 0 0 654321 " + std::to_string(eth_tx) + " 0 0 0 0 0 0\n"
         " veth1: 100 5 0 0 0 0 0 0 200 7 0 0 0 0 0 0\n";
}
}  // namespace

TEST(HostMonitor, ParsesNetDevPacketsWithoutLoopback) {
  auto p = parse_net_dev(net_dev(1000, 2000));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->received, 1005u);
  EXPECT_EQ(p->sent, 2007u);
  EXPECT_FALSE(parse_net_dev("Inter-|\n face |\n"));
}

TEST(HostMonitor, PacketsAreDeltasBetweenReadingsLikeTsungSampleCounter) {
  HostMonitor monitor("h2");
  MetricSet set;
  monitor.sample_packets(net_dev(1000, 2000), set);
  EXPECT_EQ(set.find("{recvpackets,\"h2\"}"), nullptr) << "the first reading is only the base";
  monitor.sample_packets(net_dev(1300, 2050), set);
  const Metric* rx = set.find("{recvpackets,\"h2\"}");
  const Metric* tx = set.find("{sentpackets,\"h2\"}");
  ASSERT_NE(rx, nullptr);
  ASSERT_NE(tx, nullptr);
  EXPECT_EQ(rx->max, 300.0);
  EXPECT_EQ(tx->max, 50.0);
  monitor.sample_packets(net_dev(10, 20), set);  // counters reset: new base, no sample
  EXPECT_EQ(set.find("{recvpackets,\"h2\"}")->count, 1u);
  monitor.sample_packets(net_dev(110, 20), set);
  EXPECT_EQ(set.find("{recvpackets,\"h2\"}")->count, 2u);
  EXPECT_EQ(set.find("{recvpackets,\"h2\"}")->min, 100.0);
}

TEST(HostMonitor, ReadsThisHostsPackets) {
  HostMonitor monitor("h3");
  MetricSet set;
  monitor.sample(set);
  monitor.sample(set);
  // A host without any interface but lo has no packet metrics; otherwise both are present.
  EXPECT_EQ(set.find("{recvpackets,\"h3\"}") == nullptr, set.find("{sentpackets,\"h3\"}") == nullptr);
}
