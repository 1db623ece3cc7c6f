// This host's facts for the capacity preflight (loadctl/capacity.hpp): limits, sysctls, memory,
// cores and interface addresses.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "loadctl/capacity.hpp"

namespace loadctl {

namespace {

std::string read_proc_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> interface_addresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    else if (a->ifa_addr->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, text, sizeof text);
    else
      continue;
    std::string s = text;
    if (!s.starts_with("fe80:") && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace

HostFacts read_host_facts(const std::string& proc) {
  HostFacts f;
  f.known = true;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    f.nofile_soft = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
    f.nofile_hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : rl.rlim_max;
  }
  std::istringstream(read_proc_text(proc + "/sys/net/ipv4/ip_local_port_range")) >> f.port_low >> f.port_high;
  std::istringstream(read_proc_text(proc + "/sys/net/ipv4/tcp_tw_reuse")) >> f.tw_reuse;
  std::istringstream(read_proc_text(proc + "/sys/net/ipv4/tcp_max_tw_buckets")) >> f.tw_buckets;
  std::istringstream meminfo(read_proc_text(proc + "/meminfo"));
  std::string key;
  std::uint64_t kb = 0;
  while (meminfo >> key >> kb) {
    if (key == "MemAvailable:") f.mem_available = kb * 1024;
    meminfo.ignore(64, '\n');
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  f.cores = cores > 0 ? static_cast<std::uint32_t>(cores) : 0;
  f.addresses = interface_addresses();
  return f;
}

std::pair<std::uint64_t, std::uint64_t> raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return {0, 0};
  std::uint64_t before = rl.rlim_cur;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return {before, before};
  }
  return {before, rl.rlim_cur};
}

}  // namespace loadctl
