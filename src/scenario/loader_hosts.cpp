// <clients>, <servers> and <monitoring>: the hosts of a scenario.

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "loadctl/host_addresses.hpp"
#include "loadctl/input_file.hpp"
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

std::vector<std::string> expand_slurm_nodelist(std::string_view list, std::size_t max_hosts) {
  std::vector<std::string> out;
  // Top-level items are separated by commas outside brackets: "node[01-03,7],gpu5".
  std::size_t depth = 0, start = 0;
  std::vector<std::string_view> items;
  for (std::size_t i = 0; i <= list.size(); ++i) {
    if (i == list.size() || (list[i] == ',' && depth == 0)) {
      if (i > start) items.push_back(list.substr(start, i - start));
      start = i + 1;
    } else if (list[i] == '[') {
      if (++depth > 1) throw std::invalid_argument("nested '['");
    } else if (list[i] == ']') {
      if (depth-- == 0) throw std::invalid_argument("']' without '['");
    }
  }
  if (depth != 0) throw std::invalid_argument("'[' without ']'");
  // One item: prefix[ranges]rest, where rest may hold more brackets (a cartesian product).
  // `pending` is a stack (next item at the back): each item yields at least one host, so
  // out.size() + pending.size() is a lower bound of the result, checked before each range.
  std::vector<std::string> pending(items.rbegin(), items.rend());
  while (!pending.empty()) {
    std::string item = std::move(pending.back());
    pending.pop_back();
    std::size_t open = item.find('[');
    if (open == std::string::npos) {
      out.push_back(std::move(item));
      if (out.size() > max_hosts) throw std::invalid_argument("too many hosts");
      continue;
    }
    std::size_t close = item.find(']', open);
    std::string prefix = item.substr(0, open), rest = item.substr(close + 1);
    std::vector<std::string> expanded;
    for (std::string_view range : split(std::string_view(item).substr(open + 1, close - open - 1), ',')) {
      std::vector<std::string_view> bounds = split(range, '-');
      if (bounds.size() > 2 || bounds[0].empty()) throw std::invalid_argument(fmt::format("bad range '{}'", range));
      auto number = [&](std::string_view t) {
        unsigned long v = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size())
          throw std::invalid_argument(fmt::format("bad range '{}'", range));
        return v;
      };
      unsigned long lo = number(bounds[0]), hi = bounds.size() == 2 ? number(bounds[1]) : lo;
      if (hi < lo) throw std::invalid_argument(fmt::format("the range '{}' ends before it starts", range));
      std::size_t have = out.size() + pending.size() + expanded.size();
      if (have >= max_hosts || hi - lo >= max_hosts - have) throw std::invalid_argument("too many hosts");
      std::size_t width = bounds[0].size();  // "01-03": zero-padded as written, as scontrol does
      for (unsigned long n = lo; n <= hi; ++n) expanded.push_back(fmt::format("{}{:0{}}{}", prefix, n, width, rest));
    }
    pending.insert(pending.end(), std::make_move_iterator(expanded.rbegin()), std::make_move_iterator(expanded.rend()));
  }
  return out;
}

namespace {

std::string short_name(std::string_view host) { return std::string(host.substr(0, host.find('.'))); }

/// Tsung's get_batch_nodes: the hosts of the job, short names, one per line of the node file
/// (so a host with N slots comes N times). Empty when the variable is unset.
std::vector<std::string> batch_nodes(const std::string& batch, std::string& source) {
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  std::vector<std::string> nodes;
  if (batch == "lsf") {
    source = "LSB_HOSTS";
    if (auto hosts = env("LSB_HOSTS"))
      for (std::string_view h : split(*hosts, ' '))
        if (!h.empty()) nodes.push_back(short_name(h));
  } else if (batch == "slurm") {
    source = "SLURM_JOB_NODELIST";
    auto list = env("SLURM_JOB_NODELIST");
    if (!list) list = env("SLURM_NODELIST");
    if (list)
      for (const std::string& h : expand_slurm_nodelist(*list, max_iprange_addresses)) nodes.push_back(short_name(h));
  } else {
    source = batch == "oar" ? "OAR_NODEFILE" : "PBS_NODEFILE";
    if (auto file = env(source.c_str())) {
      std::string text = read_regular_file(*file, kMaxDataFileBytes);
      for (std::string_view line : split(text, '\n')) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (!line.empty()) nodes.push_back(short_name(line));
      }
    }
  }
  // Tsung leaves the controller's own host out, unless it is the only one.
  char self[256] = {};
  gethostname(self, sizeof self - 1);
  std::vector<std::string> others;
  for (const std::string& n : nodes)
    if (n != short_name(self)) others.push_back(n);
  return others.empty() ? nodes : others;
}

}  // namespace

void load_clients(pugi::xml_node node, Scenario& scenario, const LoadContext& ctx) {
  XmlElement clients(node);
  clients.finish();
  bool any_batch = false;
  for (pugi::xml_node child : clients.children({"client"})) {
    XmlElement el(child);
    ClientSpec client;
    client.line = ctx.line(child);
    bool batch = el.choice("type", {"machine", "batch"}, "machine") == "batch";
    if (batch) {
      std::string scheduler = el.choice("batch", {"torque", "pbs", "lsf", "oar", "slurm"}, "");
      if (scheduler.empty()) fail_at(child, "missing attribute 'batch' (torque, pbs, lsf, oar or slurm)");
      client.weight = el.number("weight", 1, 0);
      client.maxusers = static_cast<unsigned>(el.integer("maxusers", 800, 1, 100'000'000));
      el.ignore({"host", "cpu", "use_controller_vm"});  // Tsung: one client per node of the job
      if (auto scan = el.maybe("scan_intf"); scan && !scan->empty()) {  // Tsung: [{scan, Interface}] per node
        if (!valid_interface_name(*scan)) el.fail("scan_intf", fmt::format("'{}' is not an interface name", *scan));
        client.scan_interfaces.push_back(*scan);
      }
      el.finish();
      el.children({});
      any_batch = true;
      if (ctx.shipped_files) continue;  // an agent: the controller's plan names the hosts
      std::string source;
      std::vector<std::string> nodes;
      try {
        nodes = batch_nodes(scheduler, source);
      } catch (const std::exception& e) {
        el.fail("batch", fmt::format("batch '{}': {}", scheduler, e.what()));
      }
      if (nodes.empty())
        el.fail("batch", fmt::format("batch '{}': no nodes ({} is unset or empty)", scheduler, source));
      for (std::string& host : nodes) {
        ClientSpec c = client;
        c.host = std::move(host);
        scenario.clients.push_back(std::move(c));
      }
      continue;
    }
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
      if (std::string_view(a.name()) == "ip") {
        if (addr.boolean("scan", false)) {  // the interface's addresses, on the agent's host
          std::string name = addr.maybe("value").value_or("eth0");  // Tsung's default
          addr.finish();
          if (!valid_interface_name(name)) addr.fail("value", fmt::format("'{}' is not an interface name", name));
          client.scan_interfaces.push_back(std::move(name));
          continue;
        }
        std::string value = addr.required("value");
        addr.finish();
        if (is_ip_literal(value)) {
          client.source_ips.push_back(value);
          continue;
        }
        // Tsung resolves a name (and "resolve": the client's host) once, on the controller: an
        // agent takes the address from the controller's plan.
        if (ctx.shipped_files) continue;
        std::string name = value != "resolve" ? value : !client.hostip.empty() ? client.hostip : client.host;
        std::string error;
        auto address = resolve_host_address(name, error);
        if (!address) addr.fail("value", fmt::format("cannot resolve '{}' to a source address: {}", name, error));
        client.source_ips.push_back(std::move(*address));
        continue;
      }
      std::string value = addr.required("value");
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
  if (any_batch && ctx.shipped_files) return;
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
                                          "bosh_ssl", "websocket", "websocket_ssl", "ws", "wss"}, "");
    if (type.empty()) fail_at(child, "missing attribute 'type'");
    if (type == "tcp" || type == "tcp6") server.endpoint.transport = Transport::tcp;
    else if (type == "ssl" || type == "ssl6") server.endpoint.transport = Transport::ssl;
    else if (type == "udp" || type == "udp6") server.endpoint.transport = Transport::udp;
    else if (type == "erlang") server.carrier = "erlang";  // no network: the session's plugin runs locally
    else {  // Tsung's ts_bosh(_ssl), ts_server_websocket(_ssl): the session's plugin carries them (loader_sessions)
      server.carrier = type.starts_with("bosh") ? "bosh" : "websocket";
      bool tls = type.ends_with("_ssl") || type == "wss";
      server.endpoint.transport = tls ? Transport::ssl : Transport::tcp;
    }
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
    bool batch = el.boolean("batch", false);
    el.finish();
    load_monitor_backend(el, monitor);
    if (!batch) {
      scenario.monitors.push_back(std::move(monitor));
      continue;
    }
    // Tsung: host names the scheduler; every node of the job is monitored once.
    if (monitor.host != "torque" && monitor.host != "pbs" && monitor.host != "lsf" && monitor.host != "oar" &&
        monitor.host != "slurm")
      el.fail("host", fmt::format("batch monitor host '{}': expected torque, pbs, lsf, oar or slurm", monitor.host));
    if (ctx.shipped_files) continue;
    std::string source;
    std::vector<std::string> nodes;
    try {
      nodes = batch_nodes(monitor.host, source);
    } catch (const std::exception& e) {
      el.fail("host", fmt::format("batch '{}': {}", monitor.host, e.what()));
    }
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    for (std::string& host : nodes) {
      scenario.monitors.push_back(monitor);
      scenario.monitors.back().host = std::move(host);
    }
  }
}

}  // namespace loadctl::detail
