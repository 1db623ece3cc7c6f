#pragma once
// Samples this host's CPU use, free memory and load average from /proc, the way Tsung's os_mon
// monitoring does, as sample metrics named {cpu,"host"}, {freemem,"host"} and {load,"host"}.

#include <cstdint>
#include <string>

#include "loadctl/stats.hpp"

namespace loadctl {

class HostMonitor {
 public:
  explicit HostMonitor(std::string host);
  /// Records one sample of each metric into `into`. CPU is the busy share of all cores since the
  /// previous call, in percent (nothing is recorded on the first call); freemem is MemAvailable
  /// in MB; load is the one-minute load average.
  void sample(MetricSet& into);

 private:
  std::string cpu_name_, freemem_name_, load_name_;
  std::uint64_t last_busy_ = 0, last_total_ = 0;
};

}  // namespace loadctl
