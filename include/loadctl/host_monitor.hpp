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

 private:
  std::string cpu_name_, freemem_name_, load_name_, recv_name_, sent_name_;
  std::uint64_t last_busy_ = 0, last_total_ = 0;
  std::string sys_class_net_;
  std::optional<NetPackets> last_packets_;
  std::chrono::steady_clock::time_point last_packets_at_{};
};

}  // namespace loadctl
