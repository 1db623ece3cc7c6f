#pragma once
// Samples this host's CPU use, free memory, load average and network packets from /proc, the way
// Tsung's os_mon monitoring does, as sample metrics named {cpu,"host"}, {freemem,"host"},
// {load,"host"}, {recvpackets,"host"} and {sentpackets,"host"}.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "loadctl/stats.hpp"

namespace loadctl {

/// Packets received and sent since boot, summed over the interfaces of a /proc/net/dev text
/// except loopback ("lo").
struct NetPackets {
  std::uint64_t received = 0, sent = 0;
};
std::optional<NetPackets> parse_net_dev(std::string_view text);

class HostMonitor {
 public:
  explicit HostMonitor(std::string host);
  /// Records one sample of each metric into `into`. CPU is the busy share of all cores since the
  /// previous call, in percent (nothing is recorded on the first call); freemem is MemAvailable
  /// in MB; load is the one-minute load average; recvpackets/sentpackets are the packets since
  /// the previous call (Tsung's sample_counter: nothing on the first call or after a reset).
  void sample(MetricSet& into);
  /// The packet part of sample(), from a /proc/net/dev text (for tests).
  void sample_packets(std::string_view net_dev, MetricSet& into);

 private:
  std::string cpu_name_, freemem_name_, load_name_, recv_name_, sent_name_;
  std::uint64_t last_busy_ = 0, last_total_ = 0;
  std::optional<NetPackets> last_packets_;
};

}  // namespace loadctl
