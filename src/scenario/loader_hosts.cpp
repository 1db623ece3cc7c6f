// <clients>, <servers> and <monitoring>: the hosts of a scenario.

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "scenario/loader_internal.hpp"

namespace loadctl::detail {
namespace {

constexpr std::size_t max_iprange_addresses = 1 << 20;

struct OctetRange {
  unsigned lo, hi;
};

unsigned parse_octet(std::string_view s) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > 255)
    throw std::invalid_argument(fmt::format("'{}' is not a number in [0, 255]", s));
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    std::size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::uint32_t parse_ipv4(std::string_view s) {
  std::vector<std::string_view> parts = split(s, '.');
  if (parts.size() != 4) throw std::invalid_argument(fmt::format("'{}' is not an IPv4 address", s));
  std::uint32_t v = 0;
  for (std::string_view p : parts) v = (v << 8) | parse_octet(p);
  return v;
}

std::string format_ipv4(std::uint32_t v) {
  return fmt::format("{}.{}.{}.{}", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
}

}  // namespace

// IPv6 (loadctl; Tsung ranges are IPv4 only): whole addresses "first-last" that differ in their
// last 64 bits, e.g. "fd00::1-fd00::ff".
std::vector<std::string> expand_iprange_v6(std::string_view value) {
  std::vector<std::string_view> dashes = split(value, '-');
  if (dashes.size() != 2) throw std::invalid_argument("expected first-last, two IPv6 addresses");
  unsigned char first[16], last[16];
  std::string a(dashes[0]), b(dashes[1]);
  if (inet_pton(AF_INET6, a.c_str(), first) != 1) throw std::invalid_argument(fmt::format("'{}' is not an IPv6 address", a));
  if (inet_pton(AF_INET6, b.c_str(), last) != 1) throw std::invalid_argument(fmt::format("'{}' is not an IPv6 address", b));
  if (std::memcmp(first, last, 8) != 0) throw std::invalid_argument("the addresses differ in their first 64 bits");
  std::uint64_t lo = 0, hi = 0;
  for (int i = 8; i < 16; ++i) {
    lo = (lo << 8) | first[i];
    hi = (hi << 8) | last[i];
  }
  if (hi < lo) throw std::invalid_argument("the range ends before it starts");
  if (hi - lo >= max_iprange_addresses) throw std::invalid_argument("the range is too large");
  std::vector<std::string> out;
  for (std::uint64_t v = lo;; ++v) {
    for (int i = 15; i >= 8; --i) first[i] = static_cast<unsigned char>(v >> (8 * (15 - i)));
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, first, text, sizeof text);
    out.emplace_back(text);
    if (v == hi) break;
  }
  return out;
}

std::vector<std::string> expand_iprange(std::string_view value) {
  std::vector<std::string> out;
  std::vector<std::string_view> dashes = split(value, '-');
  if (dashes.size() == 2 && split(dashes[0], '.').size() == 4 && split(dashes[1], '.').size() == 4) {
    std::uint32_t first = parse_ipv4(dashes[0]), last = parse_ipv4(dashes[1]);
    if (last < first) throw std::invalid_argument("the range ends before it starts");
    if (last - first >= max_iprange_addresses) throw std::invalid_argument("the range is too large");
    for (std::uint64_t a = first; a <= last; ++a) out.push_back(format_ipv4(static_cast<std::uint32_t>(a)));
    return out;
  }
  std::vector<std::string_view> parts = split(value, '.');
  if (parts.size() != 4)
    throw std::invalid_argument("expected four dotted parts, each a number or a range a-b");
  OctetRange ranges[4];
  std::size_t count = 1;
  for (int i = 0; i < 4; ++i) {
    std::vector<std::string_view> bounds = split(parts[i], '-');
    if (bounds.size() > 2) throw std::invalid_argument(fmt::format("'{}' is not a range a-b", parts[i]));
    ranges[i].lo = parse_octet(bounds[0]);
    ranges[i].hi = bounds.size() == 2 ? parse_octet(bounds[1]) : ranges[i].lo;
    if (ranges[i].hi < ranges[i].lo)
      throw std::invalid_argument(fmt::format("the range '{}' ends before it starts", parts[i]));
    count *= ranges[i].hi - ranges[i].lo + 1;
  }
  if (count > max_iprange_addresses) throw std::invalid_argument("the range is too large");
  for (unsigned a = ranges[0].lo; a <= ranges[0].hi; ++a)
    for (unsigned b = ranges[1].lo; b <= ranges[1].hi; ++b)
      for (unsigned c = ranges[2].lo; c <= ranges[2].hi; ++c)
        for (unsigned d = ranges[3].lo; d <= ranges[3].hi; ++d) out.push_back(fmt::format("{}.{}.{}.{}", a, b, c, d));
  return out;
}

bool is_ip_literal(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

void load_clients(pugi::xml_node node, Scenario& scenario, const LoadContext& ctx) {
  XmlElement clients(node);
  clients.finish();
  for (pugi::xml_node child : clients.children({"client"})) {
    XmlElement el(child);
    ClientSpec client;
    client.line = ctx.line(child);
    el.choice("type", {"machine", "batch"}, "machine");
    if (el.optional("type") == "batch") el.fail("type", "not supported yet: batch clients");
    el.unsupported({"batch", "scan_intf"});
    client.host = el.required("host");
    if (client.host.empty()) el.fail("host", "attribute 'host' is empty");
    if (auto hostip = el.maybe("hostip")) {
      if (!is_ip_literal(*hostip)) el.fail("hostip", fmt::format("'{}' is not an IP address", *hostip));
      client.hostip = *hostip;
    } else if (is_ip_literal(client.host)) {
      client.hostip = client.host;
    }
    client.weight = el.number("weight", 1, 0);
    client.maxusers = static_cast<unsigned>(el.integer("maxusers", 800, 1, 100'000'000));
    client.cpu = static_cast<unsigned>(el.integer("cpu", 1, 1, 1024));
    client.use_controller_vm = el.boolean("use_controller_vm", false);
    el.finish();

    std::vector<pugi::xml_node> addresses = el.children({"ip", "iprange"});
    for (pugi::xml_node a : addresses) {
      XmlElement addr(a);
      std::string value = addr.required("value");
      if (std::string_view(a.name()) == "ip") {
        if (addr.boolean("scan", false)) addr.fail("scan", "not supported yet: <ip scan=\"true\">");
        addr.finish();
        if (!is_ip_literal(value)) addr.fail("value", fmt::format("'{}' is not an IP address", value));
        client.source_ips.push_back(value);
        continue;
      }
      bool v6 = addr.choice("version", {"v4", "v6"}, "v4") == "v6";
      addr.finish();
      try {
        for (std::string& ip : v6 ? expand_iprange_v6(value) : expand_iprange(value)) client.source_ips.push_back(std::move(ip));
      } catch (const std::invalid_argument& e) {
        addr.fail("value", fmt::format("bad iprange '{}': {}", value, e.what()));
      }
    }
    scenario.clients.push_back(std::move(client));
  }
  if (scenario.clients.empty()) fail_at(node, "expected at least one <client>");
  double total = 0;
  for (const ClientSpec& c : scenario.clients) total += c.weight;
  if (total <= 0) fail_at(node, "client weights sum to 0");
}

void load_servers(pugi::xml_node node, Scenario& scenario, const LoadContext& ctx) {
  XmlElement servers(node);
  servers.finish();
  for (pugi::xml_node child : servers.children({"server"})) {
    XmlElement el(child);
    ServerSpec server;
    server.line = ctx.line(child);
    server.endpoint.host = el.required("host");
    server.endpoint.port = static_cast<std::uint16_t>(el.integer("port", std::nullopt, 1, 65535));
    server.weight = el.number("weight", 1, 0);
    std::string type = el.choice("type", {"tcp", "ssl", "udp", "erlang", "ssl6", "tcp6", "udp6", "bosh",
                                          "bosh_ssl", "websocket", "websocket_ssl"}, "");
    if (type.empty()) fail_at(child, "missing attribute 'type'");
    if (type == "tcp" || type == "tcp6") server.endpoint.transport = Transport::tcp;
    else if (type == "ssl" || type == "ssl6") server.endpoint.transport = Transport::ssl;
    else if (type == "udp" || type == "udp6") server.endpoint.transport = Transport::udp;
    else el.fail("type", fmt::format("not supported yet: server type '{}'", type));
    server.endpoint.ipv6 = type.ends_with('6');
    el.finish();
    scenario.servers.push_back(std::move(server));
  }
  if (scenario.servers.empty()) fail_at(node, "expected at least one <server>");
  double total = 0;
  for (const ServerSpec& s : scenario.servers) total += s.weight;
  if (total <= 0) fail_at(node, "server weights sum to 0");
}

void load_monitoring(pugi::xml_node node, Scenario& scenario, const LoadContext& ctx) {
  XmlElement monitoring(node);
  monitoring.finish();
  for (pugi::xml_node child : monitoring.children({"monitor"})) {
    XmlElement el(child);
    MonitorSpec monitor;
    monitor.host = el.required("host");
    monitor.type = el.choice("type", {"erlang", "snmp", "munin"}, "erlang");
    if (monitor.type != "erlang") el.fail("type", fmt::format("not supported yet: {} monitoring", monitor.type));
    if (el.boolean("batch", false)) el.fail("batch", "not supported yet: monitoring batch nodes");
    el.finish();
    for (pugi::xml_node sub : el.children({"snmp", "munin", "mysqladmin"}))
      unsupported_at(sub, fmt::format("<{}> monitoring", sub.name()));
    scenario.monitors.push_back(std::move(monitor));
  }
}

}  // namespace loadctl::detail
