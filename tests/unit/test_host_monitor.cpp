#include <gtest/gtest.h>

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

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
// rx bytes field 1, tx bytes field 9 (eth0's by default: 100 bytes per packet).
std::string net_dev(std::uint64_t eth_rx, std::uint64_t eth_tx, std::uint64_t rx_bytes = 0, std::uint64_t tx_bytes = 0) {
  if (rx_bytes == 0) rx_bytes = eth_rx * 100;
  if (tx_bytes == 0) tx_bytes = eth_tx * 100;
  return "Inter-|   Receive                                                |  Transmit\n"
         " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
         "    lo: 9000 90 0 0 0 0 0 0 9000 90 0 0 0 0 0 0\n"
         "  eth0: " + std::to_string(rx_bytes) + " " + std::to_string(eth_rx) + " 0 0 0 0 0 0 " + std::to_string(tx_bytes) + " " +
         std::to_string(eth_tx) + " 0 0 0 0 0 0\n"
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
  EXPECT_EQ(p->received_bytes, 100000u + 100u);
  EXPECT_EQ(p->sent_bytes, 200000u + 200u);
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

// Bytes of the same interfaces as the packets, scaled to Tsung's 10 s the same way.
TEST(HostMonitor, NetworkBytesLikePackets) {
  FakeSysNet sys;
  HostMonitor monitor("h5", sys.root.string());
  MetricSet set;
  auto t0 = std::chrono::steady_clock::now();
  monitor.sample_packets(net_dev(1000, 2000, 50'000, 70'000), set, t0);
  EXPECT_EQ(set.find("{recvbytes,\"h5\"}"), nullptr) << "the first reading is only the base";
  monitor.sample_packets(net_dev(1001, 2001, 50'000 + 3'000, 70'000 + 800), set, t0 + std::chrono::seconds(2));
  const Metric* rx = set.find("{recvbytes,\"h5\"}");
  const Metric* tx = set.find("{sentbytes,\"h5\"}");
  ASSERT_NE(rx, nullptr);
  ASSERT_NE(tx, nullptr);
  EXPECT_EQ(rx->max, 15'000.0) << "3000 bytes in 2 s: 15000 per 10 s, veth1 not counted";
  EXPECT_EQ(tx->max, 4'000.0);
  monitor.sample_packets(net_dev(1002, 2002, 10, 20), set, t0 + std::chrono::seconds(4));  // reset
  EXPECT_EQ(set.find("{recvbytes,\"h5\"}")->count, 1u);
}

namespace {
// /proc/diskstats: sectors read field 6, sectors written field 10, io_ticks field 13 (1-based).
std::string diskstats(std::uint64_t vda_read, std::uint64_t vda_written, std::uint64_t vda_ticks, std::uint64_t sdb_ticks = 0) {
  auto line = [](const char* name, std::uint64_t rd, std::uint64_t wr, std::uint64_t ticks) {
    return fmt::format(" 254 0 {} 100 2 {} 30 40 5 {} 60 0 {} 80 0 0 0 0 0 0\n", name, rd, wr, ticks);
  };
  return line("loop0", 8000, 8000, 9000) + line("vda", vda_read, vda_written, vda_ticks) +
         line("vda1", vda_read, vda_written, vda_ticks) + line("sdb", 0, 0, sdb_ticks) + line("dm-0", 7000, 7000, 9000) +
         line("ram0", 6000, 6000, 9000);
}

// A /sys/block where vda and sdb are disks (a `device` link); loop0, dm-0, ram0 are not, and a
// partition (vda1) is not listed at all.
struct FakeSysBlock {
  std::filesystem::path root = std::filesystem::temp_directory_path() / ("loadctl-sysblock-" + std::to_string(getpid()));
  FakeSysBlock() {
    for (const char* disk : {"vda", "sdb"}) std::filesystem::create_directories(root / disk / "device");
    for (const char* virt : {"loop0", "dm-0", "ram0"}) std::filesystem::create_directories(root / virt);
  }
  ~FakeSysBlock() { std::filesystem::remove_all(root); }
};
}  // namespace

TEST(HostMonitor, ParsesDiskstatsSectorsAndIoTicks) {
  auto disks = parse_diskstats(diskstats(10, 20, 30));
  ASSERT_EQ(disks.size(), 6u);
  EXPECT_EQ(disks[1].name, "vda");
  EXPECT_EQ(disks[1].read_bytes, 10u * 512);
  EXPECT_EQ(disks[1].written_bytes, 20u * 512);
  EXPECT_EQ(disks[1].io_ms, 30u);
  EXPECT_TRUE(parse_diskstats("   8 0 sda 1 2 3\n").empty()) << "a short line is no disk";
}

// Whole disks only; bytes per Tsung's 10 s like the packets; diskbusy is the busiest disk's
// share of the interval with I/O in flight.
TEST(HostMonitor, DiskBytesAndBusyOfWholeDisksOnly) {
  FakeSysNet net;
  FakeSysBlock block;
  HostMonitor monitor("h6", net.root.string(), block.root.string());
  EXPECT_TRUE(monitor.whole_disk("vda"));
  EXPECT_FALSE(monitor.whole_disk("vda1"));
  EXPECT_FALSE(monitor.whole_disk("loop0"));
  MetricSet set;
  auto t0 = std::chrono::steady_clock::now();
  monitor.sample_disks(diskstats(1000, 2000, 5000, 100), set, t0);
  EXPECT_EQ(set.find("{diskread,\"h6\"}"), nullptr) << "the first reading is only the base";
  // In 2 s: vda read 40 sectors, wrote 400, busy 500 ms (25 %); sdb busy 1200 ms (60 %).
  monitor.sample_disks(diskstats(1040, 2400, 5500, 1300), set, t0 + std::chrono::seconds(2));
  const Metric* rd = set.find("{diskread,\"h6\"}");
  const Metric* wr = set.find("{diskwrite,\"h6\"}");
  const Metric* busy = set.find("{diskbusy,\"h6\"}");
  ASSERT_NE(rd, nullptr);
  ASSERT_NE(wr, nullptr);
  ASSERT_NE(busy, nullptr);
  EXPECT_EQ(rd->max, 40.0 * 512 * 5) << "vda only, not its partition, loop0, dm-0 or ram0";
  EXPECT_EQ(wr->max, 400.0 * 512 * 5);
  EXPECT_DOUBLE_EQ(busy->max, 60.0);
  monitor.sample_disks(diskstats(0, 0, 0), set, t0 + std::chrono::seconds(4));  // counters reset: new base
  EXPECT_EQ(set.find("{diskread,\"h6\"}")->count, 1u);

  HostMonitor no_disks("h7", net.root.string(), "/nonexistent/sys/block");
  no_disks.sample_disks(diskstats(1, 2, 3), set, t0);
  no_disks.sample_disks(diskstats(10, 20, 30), set, t0 + std::chrono::seconds(2));
  EXPECT_EQ(set.find("{diskread,\"h7\"}"), nullptr);
}

// iowait: the share of all CPUs' ticks idle waiting for I/O, next to {cpu,...}.
TEST(HostMonitor, IowaitIsAShareOfAllCpuTime) {
  HostMonitor monitor("h8");
  MetricSet set;
  //                      user nice system idle iowait irq softirq steal
  monitor.sample_cpu("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8\n", set);
  EXPECT_EQ(set.find("{iowait,\"h8\"}"), nullptr);
  monitor.sample_cpu("cpu  150 0 150 800 300 0 0 0 0 0\n", set);  // +100 busy, +100 idle, +200 iowait
  ASSERT_NE(set.find("{iowait,\"h8\"}"), nullptr);
  EXPECT_DOUBLE_EQ(set.find("{iowait,\"h8\"}")->max, 50.0);
  EXPECT_DOUBLE_EQ(set.find("{cpu,\"h8\"}")->max, 25.0);
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
  EXPECT_EQ(HostMonitor::process_capacity(4, 1.5), 1.5);  // a cgroup quota of 1.5 CPUs

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

  // The real process: a busy loop shows as the CPU the process used over the same window, by
  // CLOCK_PROCESS_CPUTIME_ID (not wall time: the machine may be shared).
  HostMonitor self("h");
  MetricSet mine;
  self.watch_process("agent0@h", 1);
  auto process_cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  auto wall0 = std::chrono::steady_clock::now();
  double cpu0 = process_cpu();
  self.sample(mine);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  volatile std::uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  self.sample(mine);
  double used = (process_cpu() - cpu0) / std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const Metric* own = mine.find("{agentcpu,\"agent0@h\"}");
  ASSERT_NE(own, nullptr);
  // The process may use several cores (test threads) and ticks are 10 ms: a loose bound.
  double capacity = HostMonitor::process_capacity(1, usable_cpus());
  EXPECT_NEAR(own->mean(), 100.0 * used / capacity, 12.0) << "process CPU share " << used;
}

// cgroup v2 cpu.max: "QUOTA PERIOD" in microseconds, or "max PERIOD" for no limit.
TEST(HostMonitor, CpuMaxQuotaCapsTheUsableCpus) {
  EXPECT_EQ(parse_cpu_max("150000 100000\n"), std::optional<double>(1.5));
  EXPECT_EQ(parse_cpu_max("50000 100000"), std::optional<double>(0.5));
  EXPECT_FALSE(parse_cpu_max("max 100000\n"));
  EXPECT_FALSE(parse_cpu_max(""));
  EXPECT_FALSE(parse_cpu_max("12x 100000"));
  EXPECT_FALSE(parse_cpu_max("100000 0"));
  cpu_set_t cpus;
  ASSERT_EQ(sched_getaffinity(0, sizeof cpus, &cpus), 0);
  EXPECT_GT(usable_cpus(), 0.0);
  EXPECT_LE(usable_cpus(), CPU_COUNT(&cpus));
}
