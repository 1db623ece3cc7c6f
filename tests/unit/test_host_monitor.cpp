#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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

// A /sys/class/net where eth0 and eno1 are cards (a `device` link) and veth1, docker0 are not.
struct FakeSysNet {
  std::filesystem::path root = std::filesystem::temp_directory_path() / ("loadctl-sysnet-" + std::to_string(getpid()));
  FakeSysNet() {
    for (const char* card : {"eth0", "eno1"}) std::filesystem::create_directories(root / card / "device");
    for (const char* virt : {"veth1", "docker0", "lo"}) std::filesystem::create_directories(root / virt);
  }
  ~FakeSysNet() { std::filesystem::remove_all(root); }
};

TEST(HostMonitor, ParsesNetDevPacketsWithoutLoopback) {
  auto p = parse_net_dev(net_dev(1000, 2000));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->received, 1005u);
  EXPECT_EQ(p->sent, 2007u);
  auto only_eth = parse_net_dev(net_dev(1000, 2000), [](std::string_view n) { return n == "eth0"; });
  ASSERT_TRUE(only_eth);
  EXPECT_EQ(only_eth->received, 1000u);
  EXPECT_FALSE(parse_net_dev("Inter-|\n face |\n"));
}

TEST(HostMonitor, PacketsAreDeltasBetweenReadingsLikeTsungSampleCounter) {
  FakeSysNet sys;
  HostMonitor monitor("h2", sys.root.string());
  EXPECT_TRUE(monitor.physical("eth0"));
  EXPECT_FALSE(monitor.physical("veth1"));
  MetricSet set;
  auto t0 = std::chrono::steady_clock::now();
  using std::chrono::seconds;
  monitor.sample_packets(net_dev(1000, 2000), set, t0);
  EXPECT_EQ(set.find("{recvpackets,\"h2\"}"), nullptr) << "the first reading is only the base";
  monitor.sample_packets(net_dev(1300, 2050), set, t0 + seconds(10));
  const Metric* rx = set.find("{recvpackets,\"h2\"}");
  const Metric* tx = set.find("{sentpackets,\"h2\"}");
  ASSERT_NE(rx, nullptr);
  ASSERT_NE(tx, nullptr);
  EXPECT_EQ(rx->max, 300.0) << "eth0 only: lo and veth1 (no device link) are not counted";
  EXPECT_EQ(tx->max, 50.0);
  monitor.sample_packets(net_dev(10, 20), set, t0 + seconds(20));  // counters reset: new base, no sample
  EXPECT_EQ(set.find("{recvpackets,\"h2\"}")->count, 1u);
  monitor.sample_packets(net_dev(110, 20), set, t0 + seconds(22));  // 100 packets in 2 s: 500 per Tsung's 10 s
  EXPECT_EQ(set.find("{recvpackets,\"h2\"}")->count, 2u);
  EXPECT_EQ(set.find("{recvpackets,\"h2\"}")->min, 300.0);
  EXPECT_EQ(set.find("{recvpackets,\"h2\"}")->max, 500.0);
}

TEST(HostMonitor, WithoutAPhysicalInterfaceAllButLoopbackCount) {
  HostMonitor monitor("h4", "/nonexistent/sys/class/net");  // a container: eth0 is a veth
  MetricSet set;
  auto t0 = std::chrono::steady_clock::now();
  monitor.sample_packets(net_dev(1000, 2000), set, t0);
  monitor.sample_packets(net_dev(1100, 2000), set, t0 + std::chrono::seconds(10));
  ASSERT_NE(set.find("{recvpackets,\"h4\"}"), nullptr);
  EXPECT_EQ(set.find("{recvpackets,\"h4\"}")->max, 100.0);
}

TEST(HostMonitor, ReadsThisHostsPackets) {
  std::ifstream in("/proc/net/dev");
  std::stringstream text;
  text << in.rdbuf();
  bool any_interface = parse_net_dev(text.str()).has_value();  // anything but lo
  HostMonitor monitor("h3");
  MetricSet set;
  monitor.sample(set);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  monitor.sample(set);
  const Metric* rx = set.find("{recvpackets,\"h3\"}");
  EXPECT_EQ(rx != nullptr, any_interface);
  EXPECT_EQ(set.find("{sentpackets,\"h3\"}") != nullptr, any_interface);
  if (rx) {
    EXPECT_EQ(rx->count, 1u);
    EXPECT_GE(rx->min, 0.0);
  }
}

// A load agent's own CPU: utime + stime of /proc/self/stat, per second of the interval, in percent
// of the cores its worker threads can use (min(threads, CPUs)); the first reading is a base only.
TEST(HostMonitor, ProcessCpuIsAShareOfItsWorkerThreadsCores) {
  EXPECT_EQ(parse_proc_stat_cpu("4242 (load agent) (x) R 1 4242 4242 0 -1 4194560 100 0 0 0 350 50 0 0 20 0 3 0"),
            std::optional<std::uint64_t>(400));
  EXPECT_FALSE(parse_proc_stat_cpu("4242 (loadagent) R 1 2 3"));
  EXPECT_FALSE(parse_proc_stat_cpu("garbage"));
  EXPECT_EQ(HostMonitor::process_capacity(1, 8), 1);
  EXPECT_EQ(HostMonitor::process_capacity(4, 2), 2);  // more loops than cores: the cores bound it
  EXPECT_EQ(HostMonitor::process_capacity(0, 0), 1);

  HostMonitor monitor("h");
  MetricSet set;
  monitor.watch_process("agent3@h", 1);
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  monitor.sample_process(1000, t0, set);
  EXPECT_EQ(set.find("{agentcpu,\"agent3@h\"}"), nullptr) << "a base, no sample";
  // 1.9 s of CPU in 2 s on one worker thread: 95 %.
  monitor.sample_process(1000 + static_cast<std::uint64_t>(1.9 * hz), t0 + std::chrono::seconds(2), set);
  const Metric* cpu = set.find("{agentcpu,\"agent3@h\"}");
  ASSERT_NE(cpu, nullptr);
  EXPECT_NEAR(cpu->mean(), 95, 1.0);

  // The real process: a busy loop of ~0.3 s shows as CPU used.
  HostMonitor self("h");
  MetricSet mine;
  self.watch_process("agent0@h", 1);
  self.sample(mine);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  volatile std::uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  self.sample(mine);
  const Metric* own = mine.find("{agentcpu,\"agent0@h\"}");
  ASSERT_NE(own, nullptr);
  EXPECT_GT(own->mean(), 20);
}
