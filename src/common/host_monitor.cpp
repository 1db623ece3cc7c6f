#include "loadctl/host_monitor.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

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

// /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so the fields
// are counted after the last ')': state is field 3, utime 14 and stime 15.
std::optional<std::uint64_t> parse_proc_stat_cpu(std::string_view text) {
  auto close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::istringstream in{std::string(text.substr(close + 1))};
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 13; ++i)
    if (!(in >> field)) return std::nullopt;
  if (!(in >> utime >> stime)) return std::nullopt;
  return utime + stime;
}

double HostMonitor::process_capacity(unsigned worker_threads, unsigned host_cpus) {
  unsigned cores = std::min(std::max(worker_threads, 1u), std::max(host_cpus, 1u));
  return static_cast<double>(cores);
}

void HostMonitor::watch_process(std::string name, unsigned worker_threads) {
  process_name_ = fmt::format("{{agentcpu,\"{}\"}}", name);
  process_cores_ = process_capacity(worker_threads, std::thread::hardware_concurrency());
}

void HostMonitor::sample_process(std::uint64_t cpu_ticks, std::chrono::steady_clock::time_point at, MetricSet& into) {
  static const double ticks_per_second = static_cast<double>(std::max(1L, sysconf(_SC_CLK_TCK)));
  double seconds = std::chrono::duration<double>(at - last_process_at_).count();
  if (last_process_ticks_ && seconds > 0 && cpu_ticks >= *last_process_ticks_) {
    double busy_seconds = static_cast<double>(cpu_ticks - *last_process_ticks_) / ticks_per_second;
    into.sample(into.intern(process_name_, MetricKind::sample), 100.0 * busy_seconds / seconds / process_cores_);
  }
  last_process_ticks_ = cpu_ticks;
  last_process_at_ = at;
}

void HostMonitor::sample(MetricSet& into) {
  if (!process_name_.empty()) {
    std::ifstream self("/proc/self/stat");
    std::stringstream text;
    text << self.rdbuf();
    if (auto ticks = parse_proc_stat_cpu(text.str())) sample_process(*ticks, std::chrono::steady_clock::now(), into);
  }
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
