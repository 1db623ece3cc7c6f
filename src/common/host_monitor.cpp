#include "loadctl/host_monitor.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace loadctl {

namespace {

std::string host_series(std::string_view metric, std::string_view host) { return fmt::format("{{{},\"{}\"}}", metric, host); }

std::string read_proc_file(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Like Tsung's sample_counter, a counter's increase is a count per poll of its 10 s interval:
// loadctl's, sampled every 2 s, is scaled to that span.
double per_tsung_poll(std::uint64_t increase, double seconds) {
  return static_cast<double>(increase) * kTsungMonitorSeconds / seconds;
}

}  // namespace

HostMonitor::HostMonitor(std::string host, std::string sys_class_net, std::string sys_block)
    : cpu_name_(host_series("cpu", host)),
      freemem_name_(host_series("freemem", host)),
      load_name_(host_series("load", host)),
      recv_name_(host_series("recvpackets", host)),
      sent_name_(host_series("sentpackets", host)),
      recv_bytes_name_(host_series("recvbytes", host)),
      sent_bytes_name_(host_series("sentbytes", host)),
      disk_read_name_(host_series("diskread", host)),
      disk_write_name_(host_series("diskwrite", host)),
      disk_busy_name_(host_series("diskbusy", host)),
      iowait_name_(host_series("iowait", host)),
      sys_class_net_(std::move(sys_class_net)),
      sys_block_(std::move(sys_block)) {}

bool HostMonitor::physical(std::string_view interface) const {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(sys_class_net_) / interface / "device", ec);
}

bool HostMonitor::whole_disk(std::string_view disk) const {
  std::string name(disk);
  std::replace(name.begin(), name.end(), '/', '!');  // cciss/c0d0 is /sys/block/cciss!c0d0
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(sys_block_) / name / "device", ec);
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
    total.received_bytes += v[0];
    total.received += v[1];
    total.sent_bytes += v[8];
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
  const NetPackets* last = last_packets_ ? &*last_packets_ : nullptr;
  if (last && seconds > 0 && now->received >= last->received && now->sent >= last->sent &&
      now->received_bytes >= last->received_bytes && now->sent_bytes >= last->sent_bytes) {
    into.sample(into.intern(recv_name_, MetricKind::sample), per_tsung_poll(now->received - last->received, seconds));
    into.sample(into.intern(sent_name_, MetricKind::sample), per_tsung_poll(now->sent - last->sent, seconds));
    into.sample(into.intern(recv_bytes_name_, MetricKind::sample),
                per_tsung_poll(now->received_bytes - last->received_bytes, seconds));
    into.sample(into.intern(sent_bytes_name_, MetricKind::sample), per_tsung_poll(now->sent_bytes - last->sent_bytes, seconds));
  }
  last_packets_ = now;
  last_packets_at_ = at;
}

// /proc/diskstats: "major minor name" then reads completed, reads merged, sectors read, ms
// reading, writes completed, writes merged, sectors written, ms writing, I/Os in flight, io_ticks
// (ms with I/O in flight), ... A sector here is always 512 bytes, whatever the disk's own size.
std::vector<DiskCounters> parse_diskstats(std::string_view text, const std::function<bool(std::string_view)>& counts) {
  std::vector<DiskCounters> disks;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    unsigned major = 0, minor = 0;
    DiskCounters disk;
    std::uint64_t v[10] = {};
    if (!(fields >> major >> minor >> disk.name)) continue;
    for (std::uint64_t& f : v)
      if (!(fields >> f)) break;
    if (!fields || (counts && !counts(disk.name))) continue;
    disk.read_bytes = v[2] * 512;
    disk.written_bytes = v[6] * 512;
    disk.io_ms = v[9];
    disks.push_back(std::move(disk));
  }
  return disks;
}

void HostMonitor::sample_disks(std::string_view diskstats, MetricSet& into, std::chrono::steady_clock::time_point at) {
  std::vector<DiskCounters> now = parse_diskstats(diskstats, [this](std::string_view name) { return whole_disk(name); });
  if (now.empty()) return;
  double seconds = std::chrono::duration<double>(at - last_disks_at_).count();
  // Sampled only when the same disks as the previous reading all went forward (sample_counter).
  bool comparable = last_disks_ && seconds > 0 && last_disks_->size() == now.size();
  std::uint64_t read = 0, written = 0;
  double busiest = 0;
  for (std::size_t i = 0; comparable && i < now.size(); ++i) {
    const DiskCounters& before = (*last_disks_)[i];
    const DiskCounters& after = now[i];
    comparable = before.name == after.name && after.read_bytes >= before.read_bytes &&
                 after.written_bytes >= before.written_bytes && after.io_ms >= before.io_ms;
    if (!comparable) break;
    read += after.read_bytes - before.read_bytes;
    written += after.written_bytes - before.written_bytes;
    busiest = std::max(busiest, std::min(100.0, static_cast<double>(after.io_ms - before.io_ms) / 10.0 / seconds));
  }
  if (comparable) {
    into.sample(into.intern(disk_read_name_, MetricKind::sample), per_tsung_poll(read, seconds));
    into.sample(into.intern(disk_write_name_, MetricKind::sample), per_tsung_poll(written, seconds));
    into.sample(into.intern(disk_busy_name_, MetricKind::sample), busiest);
  }
  last_disks_ = std::move(now);
  last_disks_at_ = at;
}

// /proc/stat's first line: "cpu user nice system idle iowait irq softirq steal ..." (ticks).
void HostMonitor::sample_cpu(std::string_view proc_stat, MetricSet& into) {
  std::istringstream stat{std::string(proc_stat.substr(0, proc_stat.find('\n')))};
  std::string cpu;
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu") return;
  std::uint64_t busy = user + nice + system + irq + softirq + steal;
  std::uint64_t total = busy + idle + iowait;
  if (last_total_ != 0 && total > last_total_ && busy >= last_busy_ && iowait >= last_iowait_) {
    double span = static_cast<double>(total - last_total_);
    into.sample(into.intern(cpu_name_, MetricKind::sample), 100.0 * static_cast<double>(busy - last_busy_) / span);
    into.sample(into.intern(iowait_name_, MetricKind::sample), 100.0 * static_cast<double>(iowait - last_iowait_) / span);
  }
  last_busy_ = busy;
  last_total_ = total;
  last_iowait_ = iowait;
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

std::optional<double> parse_cpu_max(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string quota;
  double period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return std::nullopt;
  double q = 0;
  auto [end, ec] = std::from_chars(quota.data(), quota.data() + quota.size(), q);
  if (ec != std::errc() || end != quota.data() + quota.size() || q <= 0) return std::nullopt;
  return q / period;
}

double usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  double cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : std::thread::hardware_concurrency();
  // cgroup v2: /proc/self/cgroup's "0::/path"; the quota of the cgroup and of each ancestor applies.
  std::istringstream cgroups(read_proc_file("/proc/self/cgroup"));
  std::string line;
  while (std::getline(cgroups, line)) {
    if (!line.starts_with("0::/")) continue;
    std::filesystem::path dir = std::filesystem::path("/sys/fs/cgroup") / line.substr(4);
    for (;; dir = dir.parent_path()) {
      if (auto quota = parse_cpu_max(read_proc_file((dir / "cpu.max").c_str()))) cpus = std::min(cpus, *quota);
      if (dir == "/sys/fs/cgroup" || !dir.has_relative_path() || dir == dir.parent_path()) break;
    }
  }
  return cpus;
}

double HostMonitor::process_capacity(unsigned worker_threads, double host_cpus) {
  double threads = std::max(worker_threads, 1u);
  return host_cpus > 0 ? std::min(threads, host_cpus) : 1.0;
}

void HostMonitor::watch_process(std::string name, unsigned worker_threads) {
  process_name_ = host_series("agentcpu", name);
  process_cores_ = process_capacity(worker_threads, usable_cpus());
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
    if (auto ticks = parse_proc_stat_cpu(read_proc_file("/proc/self/stat"))) sample_process(*ticks, std::chrono::steady_clock::now(), into);
  }
  sample_cpu(read_proc_file("/proc/stat"), into);
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
  sample_packets(read_proc_file("/proc/net/dev"), into, std::chrono::steady_clock::now());
  sample_disks(read_proc_file("/proc/diskstats"), into, std::chrono::steady_clock::now());
}

}  // namespace loadctl
