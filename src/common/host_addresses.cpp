#include "loadctl/host_addresses.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

namespace loadctl {

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
  });
}

std::vector<std::string> interface_ipv4_addresses(std::string_view name) {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> owner(list, freeifaddrs);
  for (const ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !a->ifa_name) continue;
    std::string_view ifname = a->ifa_name;  // "eth0", or an alias's label "eth0:1"
    if (ifname != name && !(ifname.size() > name.size() && ifname.starts_with(name) && ifname[name.size()] == ':'))
      continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    if (!inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text)) continue;
    if (std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
  }
  return out;
}

std::optional<std::string> resolve_host_address(const std::string& host, std::string& error) {
  for (int family : {AF_INET, AF_INET6}) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
    if (rc != 0 || !list) {
      error = rc != 0 ? gai_strerror(rc) : "no address";
      continue;
    }
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(list, freeaddrinfo);
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = family == AF_INET ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(list->ai_addr)->sin_addr)
                                         : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(list->ai_addr)->sin6_addr);
    if (inet_ntop(family, addr, text, sizeof text)) return std::string(text);
  }
  return std::nullopt;
}

}  // namespace loadctl
