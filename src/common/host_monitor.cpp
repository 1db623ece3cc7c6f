#include "loadctl/host_monitor.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace loadctl {

HostMonitor::HostMonitor(std::string host)
    : cpu_name_(fmt::format("{{cpu,\"{}\"}}", host)),
      freemem_name_(fmt::format("{{freemem,\"{}\"}}", host)),
      load_name_(fmt::format("{{load,\"{}\"}}", host)) {}

void HostMonitor::sample(MetricSet& into) {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal && cpu == "cpu") {
    std::uint64_t busy = user + nice + system + irq + softirq + steal;
    std::uint64_t total = busy + idle + iowait;
    if (last_total_ != 0 && total > last_total_) {
      double percent = 100.0 * static_cast<double>(busy - last_busy_) / static_cast<double>(total - last_total_);
      into.sample(into.intern(cpu_name_, MetricKind::sample), percent);
    }
    last_busy_ = busy;
    last_total_ = total;
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  while (meminfo >> key >> kb >> unit) {
    if (key == "MemAvailable:") {
      into.sample(into.intern(freemem_name_, MetricKind::sample), static_cast<double>(kb) / 1024.0);
      break;
    }
  }
  std::ifstream loadavg("/proc/loadavg");
  double load1 = 0;
  if (loadavg >> load1) into.sample(into.intern(load_name_, MetricKind::sample), load1);
}

}  // namespace loadctl
