#pragma once
// Samples this host's CPU use, free memory, load average and network packets from /proc, the way
// Tsung's os_mon monitoring does, as sample metrics named {cpu,"host"}, {freemem,"host"},
// {load,"host"}, {recvpackets,"host"} and {sentpackets,"host"}.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "loadctl/stats.hpp"

namespace loadctl {

/// Packets received and sent since boot, summed over the interfaces of a /proc/net/dev text
/// that `counts` accepts (all when empty), never loopback ("lo").
struct NetPackets {
  std::uint64_t received = 0, sent = 0;
};
std::optional<NetPackets> parse_net_dev(std::string_view text,
                                        const std::function<bool(std::string_view)>& counts = {});

/// Tsung's packet counts are per poll of its 10 s monitor interval: loadctl's, sampled every
/// 2 s, are scaled to the same span.
inline constexpr double kTsungMonitorSeconds = 10;

class HostMonitor {
 public:
  /// `sys_class_net`: where the interfaces are listed (tests use a fake one).
  explicit HostMonitor(std::string host, std::string sys_class_net = "/sys/class/net");
  /// Records one sample of each metric into `into`. CPU is the busy share of all cores since the
  /// previous call, in percent (nothing is recorded on the first call); freemem is MemAvailable
  /// in MB; load is the one-minute load average; recvpackets/sentpackets are the packets since
  /// the previous call (Tsung's sample_counter: nothing on the first call or after a reset),
  /// scaled to Tsung's 10 s, over the physical interfaces (those with a `device` link under
  /// /sys/class/net: not lo, veth, bridges, docker0, ifb...; every one but lo when none is).
  void sample(MetricSet& into);
  /// The packet part of sample(), from a /proc/net/dev text read at `at` (for tests).
  void sample_packets(std::string_view net_dev, MetricSet& into, std::chrono::steady_clock::time_point at);
  /// True for an interface with a `device` link in sys_class_net.
  bool physical(std::string_view interface) const;

  /// A load agent also samples its own process (/proc/self/stat utime + stime) at each sample():
  /// {agentcpu,"`name`"}, the CPU it used since the previous sample in percent of its capacity
  /// (process_capacity: 100 = every worker thread busy all the time).
  void watch_process(std::string name, unsigned worker_threads);
  /// The process part of sample(), from utime + stime in clock ticks read at `at` (for tests).
  void sample_process(std::uint64_t cpu_ticks, std::chrono::steady_clock::time_point at, MetricSet& into);
  /// Cores a process of `worker_threads` event loops can keep busy: min(threads, host CPUs), at
  /// least 1. Each worker is one single-threaded event loop, so above 90% of that the agent's own
  /// loops delay its users (report: generator saturated).
  static double process_capacity(unsigned worker_threads, unsigned host_cpus);

 private:
  std::string cpu_name_, freemem_name_, load_name_, recv_name_, sent_name_;
  std::uint64_t last_busy_ = 0, last_total_ = 0;
  std::string sys_class_net_;
  std::optional<NetPackets> last_packets_;
  std::chrono::steady_clock::time_point last_packets_at_{};
  std::string process_name_;  // empty: no process sampling
  double process_cores_ = 1;
  std::optional<std::uint64_t> last_process_ticks_;
  std::chrono::steady_clock::time_point last_process_at_{};
};

/// utime + stime (clock ticks) of a /proc/PID/stat text, or nothing.
std::optional<std::uint64_t> parse_proc_stat_cpu(std::string_view text);

}  // namespace loadctl
