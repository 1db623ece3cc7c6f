#pragma once
// Samples this host's CPU use, free memory, load average and network packets from /proc, the way
// Tsung's os_mon monitoring does, as sample metrics named {cpu,"host"}, {freemem,"host"},
// {load,"host"}, {recvpackets,"host"} and {sentpackets,"host"}; beyond Tsung, network bytes
// ({recvbytes,"host"}, {sentbytes,"host"}), disk bytes and busy time ({diskread,"host"},
// {diskwrite,"host"}, {diskbusy,"host"}) and CPU time waiting for I/O ({iowait,"host"}).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loadctl/stats.hpp"

namespace loadctl {

/// Packets received and sent since boot, summed over the interfaces of a /proc/net/dev text
/// that `counts` accepts (all when empty), never loopback ("lo").
struct NetPackets {
  std::uint64_t received = 0, sent = 0;
  std::uint64_t received_bytes = 0, sent_bytes = 0;
};
std::optional<NetPackets> parse_net_dev(std::string_view text,
                                        const std::function<bool(std::string_view)>& counts = {});

/// Tsung's packet counts are per poll of its 10 s monitor interval: loadctl's, sampled every
/// 2 s, are scaled to the same span.
inline constexpr double kTsungMonitorSeconds = 10;

/// One whole disk's counters of /proc/diskstats: bytes read and written (sectors x 512) and the
/// milliseconds it had I/O in flight (io_ticks).
struct DiskCounters {
  std::string name;
  std::uint64_t read_bytes = 0, written_bytes = 0, io_ms = 0;
};
/// The disks of a /proc/diskstats text that `counts` accepts (all when empty).
std::vector<DiskCounters> parse_diskstats(std::string_view text,
                                          const std::function<bool(std::string_view)>& counts = {});

/// Cores a cgroup v2 cpu.max text ("QUOTA PERIOD") allows, or nothing for "max ..." or garbage.
std::optional<double> parse_cpu_max(std::string_view text);
/// CPUs this process may use: its affinity mask (sched_getaffinity), capped by the cgroup v2
/// cpu.max quota of its cgroup and the cgroup's ancestors.
double usable_cpus();

class HostMonitor {
 public:
  /// `sys_class_net`: where the interfaces are listed (tests use a fake one).
  /// `sys_block`: where whole disks are listed (/sys/block; a fake one in tests).
  explicit HostMonitor(std::string host, std::string sys_class_net = "/sys/class/net",
                       std::string sys_block = "/sys/block");
  /// Records one sample of each metric into `into`. CPU is the busy share of all cores since the
  /// previous call, in percent (nothing is recorded on the first call); freemem is MemAvailable
  /// in MB; load is the one-minute load average; recvpackets/sentpackets are the packets since
  /// the previous call (Tsung's sample_counter: nothing on the first call or after a reset),
  /// scaled to Tsung's 10 s, over the physical interfaces (those with a `device` link under
  /// /sys/class/net: not lo, veth, bridges, docker0, ifb...; every one but lo when none is).
  /// recvbytes/sentbytes are the bytes of the same interfaces, scaled the same way.
  /// diskread/diskwrite are the bytes read and written by the whole disks (those with a `device`
  /// link under /sys/block: not partitions, loop, ram, zram, dm-, md), per 10 s like packets;
  /// diskbusy is the busiest disk's share of the interval with I/O in flight (io_ticks), in
  /// percent; iowait is the share of all CPUs' time idle waiting for I/O, in percent.
  void sample(MetricSet& into);
  /// The packet and byte part of sample(), from a /proc/net/dev text read at `at` (for tests).
  void sample_packets(std::string_view net_dev, MetricSet& into, std::chrono::steady_clock::time_point at);
  /// The disk part of sample(), from a /proc/diskstats text read at `at` (for tests).
  void sample_disks(std::string_view diskstats, MetricSet& into, std::chrono::steady_clock::time_point at);
  /// The cpu and iowait part of sample(), from a /proc/stat text (for tests).
  void sample_cpu(std::string_view proc_stat, MetricSet& into);
  /// True for an interface with a `device` link in sys_class_net.
  bool physical(std::string_view interface) const;
  /// True for a disk with a `device` link in sys_block.
  bool whole_disk(std::string_view disk) const;

  /// A load agent also samples its own process (/proc/self/stat utime + stime) at each sample():
  /// {agentcpu,"`name`"}, the CPU it used since the previous sample in percent of its capacity
  /// (process_capacity: 100 = every worker thread busy all the time).
  void watch_process(std::string name, unsigned worker_threads);
  /// The process part of sample(), from utime + stime in clock ticks read at `at` (for tests).
  void sample_process(std::uint64_t cpu_ticks, std::chrono::steady_clock::time_point at, MetricSet& into);
  /// Cores a process of `worker_threads` event loops can keep busy: min(threads, usable CPUs)
  /// (usable_cpus() in watch_process; a cgroup quota may make it fractional), 1 when unknown. Each worker is one single-threaded event loop, so above 90% of that the agent's own
  /// loops delay its users (report: generator saturated).
  static double process_capacity(unsigned worker_threads, double host_cpus);

 private:
  std::string cpu_name_, freemem_name_, load_name_, recv_name_, sent_name_;
  std::string recv_bytes_name_, sent_bytes_name_, disk_read_name_, disk_write_name_, disk_busy_name_, iowait_name_;
  std::uint64_t last_busy_ = 0, last_total_ = 0, last_iowait_ = 0;
  std::string sys_class_net_, sys_block_;
  std::optional<NetPackets> last_packets_;
  std::chrono::steady_clock::time_point last_packets_at_{};
  std::optional<std::vector<DiskCounters>> last_disks_;
  std::chrono::steady_clock::time_point last_disks_at_{};
  std::string process_name_;  // empty: no process sampling
  double process_cores_ = 1;
  std::optional<std::uint64_t> last_process_ticks_;
  std::chrono::steady_clock::time_point last_process_at_{};
};

/// utime + stime (clock ticks) of a /proc/PID/stat text, or nothing.
std::optional<std::uint64_t> parse_proc_stat_cpu(std::string_view text);

}  // namespace loadctl
