#include "loadctl/host_monitor.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace loadctl {

HostMonitor::HostMonitor(std::string host, std::string sys_class_net)
    : cpu_name_(fmt::format("{{cpu,\"{}\"}}", host)),
      freemem_name_(fmt::format("{{freemem,\"{}\"}}", host)),
      load_name_(fmt::format("{{load,\"{}\"}}", host)),
      recv_name_(fmt::format("{{recvpackets,\"{}\"}}", host)),
      sent_name_(fmt::format("{{sentpackets,\"{}\"}}", host)),
      sys_class_net_(std::move(sys_class_net)) {}

bool HostMonitor::physical(std::string_view interface) const {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(sys_class_net_) / interface / "device", ec);
}

// /proc/net/dev: two header lines, then "  name: rx_bytes rx_packets ... (8 rx fields) tx_bytes
// tx_packets ...". Tsung sums the packet columns of `netstat -in` over its "eth" interfaces (the
// network cards of its day); loadctl counts the physical ones whatever their names (ens3, eno1).
std::optional<NetPackets> parse_net_dev(std::string_view text, const std::function<bool(std::string_view)>& counts) {
  NetPackets total;
  bool any = false;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    std::istringstream fields(line.substr(colon + 1));
    std::uint64_t v[10] = {};
    for (std::uint64_t& f : v)
      if (!(fields >> f)) break;
    if (!fields || name == "lo" || (counts && !counts(name))) continue;
    total.received += v[1];
    total.sent += v[9];
    any = true;
  }
  if (!any) return std::nullopt;
  return total;
}

void HostMonitor::sample_packets(std::string_view net_dev, MetricSet& into, std::chrono::steady_clock::time_point at) {
  std::optional<NetPackets> now = parse_net_dev(net_dev, [this](std::string_view name) { return physical(name); });
  if (!now) now = parse_net_dev(net_dev);  // no physical interface (a container's veth): all but lo
  if (!now) return;
  // Like Tsung's sample_counter: the first reading only sets the base; a counter that went back
  // (interface gone or reset) sets a new base without a sample.
  double seconds = std::chrono::duration<double>(at - last_packets_at_).count();
  if (last_packets_ && seconds > 0 && now->received >= last_packets_->received && now->sent >= last_packets_->sent) {
    double per_tsung_poll = kTsungMonitorSeconds / seconds;
    into.sample(into.intern(recv_name_, MetricKind::sample), static_cast<double>(now->received - last_packets_->received) * per_tsung_poll);
    into.sample(into.intern(sent_name_, MetricKind::sample), static_cast<double>(now->sent - last_packets_->sent) * per_tsung_poll);
  }
  last_packets_ = now;
  last_packets_at_ = at;
}

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
  std::ifstream net_dev("/proc/net/dev");
  std::stringstream text;
  text << net_dev.rdbuf();
  sample_packets(text.str(), into, std::chrono::steady_clock::now());
}

}  // namespace loadctl
