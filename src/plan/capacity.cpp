// The capacity preflight's formulas (loadctl/capacity.hpp) and the report `check --hosts` and
// `start` print.
#include "loadctl/capacity.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "loadctl/host_addresses.hpp"
#include "loadctl/wire.hpp"

namespace loadctl {

std::string HostFacts::encode() const {
  std::string out;
  wire::Writer w(out);
  w.u8(known);
  w.u64(nofile_soft);
  w.u64(nofile_hard);
  w.u32(port_low);
  w.u32(port_high);
  w.i64(tw_reuse);
  w.u64(tw_buckets);
  w.u64(mem_available);
  w.u32(cores);
  w.u32(threads);
  std::size_t n = std::min(addresses.size(), kMaxReportedAddresses);
  w.u32(static_cast<std::uint32_t>(n));
  for (std::size_t i = 0; i < n; ++i) w.str(addresses[i]);
  return out;
}

bool HostFacts::decode(std::string_view data) {
  wire::Reader r(data);
  known = r.u8() != 0;
  nofile_soft = r.u64();
  nofile_hard = r.u64();
  port_low = r.u32();
  port_high = r.u32();
  tw_reuse = static_cast<int>(r.i64());
  tw_buckets = r.u64();
  mem_available = r.u64();
  cores = r.u32();
  threads = r.u32();
  std::uint32_t n = r.u32();
  if (!r.ok() || n > kMaxReportedAddresses) return false;
  addresses.clear();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) addresses.push_back(r.str());
  return r.ok() && r.at_end();
}

namespace {

double think_mean_seconds(const ThinkTime& think, const Options& options) {
  const ThinkTime& t = options.thinktime && options.thinktime_override ? *options.thinktime : think;
  if (t.wait_global || !t.value_template.empty()) return 0;  // unknown before the run
  if (t.min && t.max) return (*t.min + *t.max) / 2;
  return t.value;
}

// `lower`: requests take no time and a <repeat> body runs once (it runs at least once).
double actions_seconds(const std::vector<Action>& actions, const Options& options, bool lower) {
  double total = 0;
  for (const Action& a : actions) {
    switch (a.kind) {
      case Action::Kind::request: total += lower ? 0 : kSecondsPerRequest; break;
      case Action::Kind::thinktime: total += think_mean_seconds(a.think, options); break;
      case Action::Kind::for_loop: {
        double rounds = 1;  // bounds from variables: once
        if (a.from_var.empty() && a.to_var.empty() && a.incr != 0 && (a.to - a.from) / a.incr >= 0)
          rounds = static_cast<double>((a.to - a.from) / a.incr + 1);
        total += rounds * actions_seconds(a.body, options, lower);
        break;
      }
      case Action::Kind::repeat: total += (lower ? 1 : a.max_repeat) * actions_seconds(a.body, options, lower); break;
      case Action::Kind::transaction:
      case Action::Kind::if_block:
      case Action::Kind::foreach: total += actions_seconds(a.body, options, lower); break;
      default: break;
    }
  }
  return total;
}

// Arrivals of one phase share: rate r from `start` until `end` (maxnumber reached or the phase
// over), each user living `life` seconds.
struct ArrivalStream {
  double rate, start, end, life;
};

// Users of `streams` and static `starts` (start, life) alive at t.
double users_alive_at(double t, const std::vector<ArrivalStream>& streams, const std::vector<std::pair<double, double>>& starts) {
  double n = 0;
  for (const ArrivalStream& s : streams) n += s.rate * std::max(0.0, std::min(t, s.end) - std::max(t - s.life, s.start));
  for (const auto& [start, life] : starts) n += (start <= t && t < start + life) ? 1 : 0;
  return n;
}

double phase_mix_seconds(const ArrivalPhase& phase, const Scenario& scenario, const std::vector<double>& secs) {
  double total = 0, weight = 0;
  auto add = [&](int index, double probability) {
    if (index < 0 || static_cast<std::size_t>(index) >= secs.size()) return;
    total += probability * secs[static_cast<std::size_t>(index)];
    weight += probability;
  };
  if (!phase.session_setup.empty()) {
    for (const SessionSetup& s : phase.session_setup) add(scenario.session_index(s.session), s.probability);
  } else {
    for (std::size_t i = 0; i < scenario.sessions.size(); ++i) add(static_cast<int>(i), scenario.sessions[i].probability);
  }
  return weight > 0 ? total / weight : 0;
}

// The peak of users that arrived within the last (their life + `extra`) seconds.
double peak_within(const AgentPlan& plan, const Scenario& scenario, const std::vector<double>& secs, double extra) {
  std::vector<ArrivalStream> streams;
  const auto& phases = scenario.load.phases;
  for (std::size_t i = 0; i < plan.phases.size() && !phases.empty(); ++i) {
    const PhaseShare& p = plan.phases[i];
    if (p.rate <= 0) continue;
    double end = p.start + p.duration;
    if (p.max_users) end = std::min(end, p.start + static_cast<double>(*p.max_users) / p.rate);
    auto phase = std::find_if(phases.begin(), phases.end(), [&](const ArrivalPhase& a) { return a.phase == p.phase; });
    const ArrivalPhase& spec = phase != phases.end() ? *phase : phases[i % phases.size()];
    streams.push_back({p.rate, p.start, end, phase_mix_seconds(spec, scenario, secs) + extra});
  }
  std::vector<std::pair<double, double>> starts;
  for (const StaticUser& u : plan.static_users) {
    int index = scenario.session_index(u.session);
    double life = index >= 0 && static_cast<std::size_t>(index) < secs.size() ? secs[static_cast<std::size_t>(index)] : 0;
    starts.emplace_back(u.start_time, life + extra);
  }
  // Each stream's term is piecewise linear with breakpoints start, end, start + life, end + life:
  // the sum's maximum is at one of them.
  std::vector<double> times;
  for (const ArrivalStream& s : streams)
    for (double t : {s.start, s.end, s.start + s.life, s.end + s.life}) times.push_back(t);
  for (const auto& [start, life] : starts) times.push_back(start);
  double peak = 0;
  for (double t : times) {
    if (plan.hard_stop && t > *plan.hard_stop) t = *plan.hard_stop;
    peak = std::max(peak, users_alive_at(t, streams, starts));
  }
  return peak;
}

std::vector<double> all_session_seconds(const Scenario& scenario, bool lower) {
  std::vector<double> secs;
  for (const Session& s : scenario.sessions) secs.push_back(session_seconds(s, scenario.options, lower));
  return secs;
}

bool is_loopback_literal(std::string_view a) {
  if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  return a.starts_with("127.") || a == "::1" || a.starts_with("::ffff:127.");
}

// Loopback (tcp_tw_reuse 2 applies): a loopback address, or a name all of whose addresses are
// (resolved as the run will: /etc/hosts, then DNS).
bool is_loopback_destination(const std::string& host) {
  if (is_loopback_literal(host)) return true;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &list) != 0 || !list) return false;
  bool all = true;
  for (addrinfo* ai = list; ai; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = ai->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                                                : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    all = all && inet_ntop(ai->ai_family, addr, text, sizeof text) && is_loopback_literal(text);
  }
  freeaddrinfo(list);
  return all;
}

// Refused when even the lower bound exceeds the limit; tight when the upper estimate is above
// kTightShare of it (beyond it: "may run out").
Verdict limit_verdict(double needed_min, double needed, double available) {
  if (available <= 0) return Verdict::ok;
  if (needed_min > available) return Verdict::refused;
  return needed > available * kTightShare ? Verdict::tight : Verdict::ok;
}

void set_verdict(CapacityItem& item) {
  item.verdict = item.unknown ? Verdict::ok : limit_verdict(item.needed_min, item.needed, item.available);
}

// A limit that holds `needed` without being tight, rounded up to a multiple of 1024.
std::uint64_t comfortable_limit(double needed) {
  return static_cast<std::uint64_t>(std::ceil(needed / kTightShare / 1024)) * 1024;
}

std::uint64_t ceil_count(double x) { return static_cast<std::uint64_t>(std::ceil(x - 1e-9)); }


// Open files per agent process: its users' sockets and its own descriptors.
CapacityItem open_files_item(const HostCapacity& hc, const HostFacts& f, double users_per_process,
                             double users_per_process_min, double base_fds, unsigned threads, bool can_add_processes) {
  CapacityItem item;
  item.what = "open files per agent process";
  item.needed = users_per_process + base_fds;
  item.needed_min = users_per_process_min + base_fds;
  item.available = double(f.nofile_hard);
  item.unknown = !f.known;
  set_verdict(item);
  std::uint64_t n = comfortable_limit(item.needed);
  item.fixes.push_back(fmt::format("ulimit -n {} in the shell that starts the agent (raising the hard limit "
                                   "{} needs root)", n, f.nofile_hard));
  item.fixes.push_back(fmt::format("/etc/security/limits.d/90-loadctl.conf: '* soft nofile {0}' and '* hard "
                                   "nofile {0}' (scripts/host_setup.sh --nofile {0}); a systemd unit: LimitNOFILE={0}", n));
  // The largest maxusers whose processes hold at most per_process users (T * ceil(maxusers / T)).
  double per_process = std::floor(double(f.nofile_hard) * kTightShare) - base_fds;
  unsigned maxusers = per_process >= threads ? static_cast<unsigned>(per_process) / threads * threads : 0;
  if (can_add_processes && maxusers >= 1 && maxusers < users_per_process)
    item.fixes.push_back(fmt::format("maxusers {} on <client host=\"{}\"> so that more agent processes start "
                                     "({} instead of {})",
                                     maxusers, hc.host, agent_processes(hc.peak_users, maxusers, threads), hc.processes));
  return item;
}

// Ports to one destination from each of `n_ips` source IPs (0: the default source), spread
// evenly over them. One item per (destination, number of source IPs), however large an <iprange>.
struct PortDemand {
  double open = 0;       // connections open at the peak
  double time_wait = 0;  // ports of closed connections still in TIME_WAIT (TCP, no tcp_tw_reuse)
};
using PortDemands = std::map<std::pair<std::string, std::size_t>, PortDemand>;
constexpr std::size_t kUnknownIps = SIZE_MAX;  // <ip scan> on another host: its agent finds them

// A slot's source IPs as its agent will have them: <ip scan> interfaces are expanded here when
// the agent runs on this machine; on another host only its agent knows them (nullopt).
std::optional<std::vector<std::string>> slot_source_ips(const AgentSlot& slot) {
  if (slot.scan_interfaces.empty()) return slot.source_ips;
  if (!slot.local) return std::nullopt;
  std::vector<std::string> ips = slot.source_ips;
  for (const std::string& name : slot.scan_interfaces)
    for (std::string& ip : interface_ipv4_addresses(name)) ips.push_back(std::move(ip));
  return ips;
}

std::string sources_text(std::size_t n_ips) {
  if (n_ips == kUnknownIps) return "the <ip scan> addresses";
  return n_ips == 0 ? "the default source" : n_ips == 1 ? "1 source IP" : fmt::format("each of {} source IPs", n_ips);
}

// `hi`: the upper estimate, `lo`: the lower bound (same keys).
void add_port_items(HostCapacity& hc, const HostFacts& f, const PortDemands& hi, const PortDemands& lo,
                    std::size_t host_ips, const std::optional<std::pair<std::uint16_t, std::uint16_t>>& ports_range) {
  std::uint32_t range = ports_range ? ports_range->second - ports_range->first + 1u : f.ports();
  // TIME_WAIT sockets are kept at most tcp_max_tw_buckets (host-wide): capped per destination.
  double tw_cap = f.known && f.tw_buckets > 0 ? double(f.tw_buckets) : 1e300;
  std::map<std::string, double> per_destination;  // all the host's source IPs together
  for (const auto& [key, d] : hi) per_destination[key.first] += d.open + std::min(d.time_wait, tw_cap);
  for (const auto& [key, d] : hi) {
    const auto& [destination, n_ips] = key;
    double ips_here = double(std::max<std::size_t>(1, n_ips));
    CapacityItem item;
    item.what = fmt::format("ports to {} from {}", destination, sources_text(n_ips));
    double time_wait = std::min(d.time_wait, tw_cap) / ips_here;
    // Unknown facts: tcp_tw_reuse is unknown too; the TIME_WAIT ports are named, not counted.
    item.needed = d.open / ips_here + (f.known ? time_wait : 0);
    auto low = lo.find(key);
    item.needed_min = low != lo.end() ? low->second.open / ips_here : 0;
    if (time_wait > 0)
      item.detail = f.known ? fmt::format("{} of them in TIME_WAIT", ceil_count(time_wait))
                            : fmt::format("TIME_WAIT: depends on tcp_tw_reuse (up to {} more)", ceil_count(time_wait));
    item.available = range;
    item.unknown = range == 0 || n_ips == kUnknownIps;
    if (n_ips == kUnknownIps) item.detail = "not counted: the agent finds the interface's addresses when it starts";
    set_verdict(item);
    if (!item.unknown) {
      double total = per_destination[destination];
      std::uint64_t ips = ceil_count(total / (range * kTightShare));
      std::uint64_t have = std::max<std::size_t>(1, host_ips);
      if (ips > have)
        item.fixes.push_back(fmt::format("add {} source IP(s) (<ip value=\"...\"/> in <client host=\"{}\">, {} in all) "
                                         "or {} more host(s)", ips - have, hc.host, ips, ceil_count(double(ips) / double(have)) - 1));
      if (!ports_range && range < 64512 && total / double(have) <= 64512 * kTightShare)
        item.fixes.push_back("/etc/sysctl.d/60-loadctl.conf: 'net.ipv4.ip_local_port_range = 1024 65535' "
                             "(now: sysctl -w net.ipv4.ip_local_port_range='1024 65535'; scripts/host_setup.sh does both)");
      if (time_wait > 0)
        item.fixes.push_back("/etc/sysctl.d/60-loadctl.conf: 'net.ipv4.tcp_tw_reuse = 1' (ports in TIME_WAIT are "
                             "counted: closed connections keep theirs 60 s)");
    }
    hc.items.push_back(std::move(item));
  }
}

// The slots' <ip>s that are not addresses of the host: one note with a count and a few examples.
// The agent reports at most kMaxReportedAddresses addresses: a full list may be incomplete, so
// nothing is checked then.
constexpr std::size_t kMissingIpExamples = 5;

void add_source_ip_note(HostCapacity& hc, const HostFacts& f, const std::vector<const std::vector<std::string>*>& slot_ips) {
  if (!f.known || std::all_of(slot_ips.begin(), slot_ips.end(), [](auto* ips) { return ips->empty(); })) return;
  if (f.addresses.size() >= kMaxReportedAddresses) {
    hc.notes.push_back(fmt::format("<ip> addresses not checked: the agent reported {} of the host's addresses (the "
                                   "most it reports), the list may be incomplete", f.addresses.size()));
    return;
  }
  std::unordered_set<std::string> have(f.addresses.begin(), f.addresses.end());
  bool loopback = have.contains("127.0.0.1");  // lo holds 127.0.0.0/8: any 127.x can be bound
  std::unordered_set<std::string_view> missing;
  std::vector<std::string_view> examples;  // the first few, in the scenario's order
  for (const std::vector<std::string>* ips : slot_ips)
    for (const std::string& ip : *ips) {
      if (have.contains(ip) || (loopback && ip.starts_with("127.")) || !missing.insert(ip).second) continue;
      if (examples.size() < kMissingIpExamples) examples.push_back(ip);
    }
  if (missing.empty()) return;
  hc.notes.push_back(fmt::format("{} <ip> address(es) are not addresses of this host, e.g. {}{}: their connections "
                                 "will fail (error_connect_eaddrnotavail)",
                                 missing.size(), fmt::join(examples, ", "), missing.size() > examples.size() ? ", ..." : ""));
}

// Memory, from the measured figures per user and per process (kBytesPerUser, kAgentBaseBytes).
CapacityItem memory_item(const HostCapacity& hc, const HostFacts& f, unsigned processes_min) {
  CapacityItem item;
  item.what = "memory (MB)";
  item.needed = (hc.peak_users * kBytesPerUser + hc.processes * kAgentBaseBytes) / (1024 * 1024);
  item.needed_min = (hc.peak_users_min * kBytesPerUser + processes_min * kAgentBaseBytes) / (1024 * 1024);
  item.available = double(f.mem_available) / (1024 * 1024);
  item.unknown = !f.known || f.mem_available == 0;
  set_verdict(item);
  if (!item.unknown)
    item.fixes.push_back(fmt::format("add {} host(s), or free memory on this one",
                                     std::max<std::uint64_t>(1, ceil_count(item.needed / (item.available * kTightShare)) - 1)));
  return item;
}

}  // namespace

double session_seconds(const Session& session, const Options& options, bool lower) {
  return actions_seconds(session.actions, options, lower);
}

unsigned agent_processes(double peak, unsigned maxusers, unsigned threads) {
  if (maxusers == 0) return 1;
  threads = std::max(1u, threads);
  // A full agent holds its workers' caps; then each worker hands over to an agent of its own.
  double per_agent = double(threads) * double((maxusers + threads - 1) / threads);
  if (threads == 1) return static_cast<unsigned>(std::max<std::uint64_t>(1, ceil_count(peak / per_agent)));
  double remaining = peak, level = 1;
  unsigned total = 0;
  do {
    total += static_cast<unsigned>(level);
    remaining -= level * per_agent;
    level *= threads;
  } while (remaining > 1e-9 && total < 1000000);
  return total;
}

double peak_users(const AgentPlan& plan, const Scenario& scenario, const std::vector<double>& session_secs) {
  return peak_within(plan, scenario, session_secs, 0);
}

bool CapacityReport::refused() const {
  for (const HostCapacity& h : hosts)
    for (const CapacityItem& i : h.items)
      if (i.verdict == Verdict::refused) return true;
  return false;
}

bool CapacityReport::tight() const {
  for (const HostCapacity& h : hosts)
    for (const CapacityItem& i : h.items)
      if (i.verdict == Verdict::tight) return true;
  return false;
}

std::string CapacityReport::format(bool only_problems) const {
  std::string out;
  for (const HostCapacity& h : hosts) {
    bool problem = std::any_of(h.items.begin(), h.items.end(), [](const CapacityItem& i) { return i.verdict != Verdict::ok; });
    if (only_problems && !problem) continue;
    std::string at_least = ceil_count(h.peak_users_min) < ceil_count(h.peak_users)
                               ? fmt::format(" (at least {})", ceil_count(h.peak_users_min)) : "";
    out += fmt::format("host {}: peak {}{} concurrent users, {} connections, {} agent process(es){}\n", h.host,
                       ceil_count(h.peak_users), at_least, ceil_count(h.connections), h.processes,
                       h.facts_known ? "" : " (host facts unknown: reported by its agent at start)");
    for (const CapacityItem& i : h.items) {
      if (only_problems && i.verdict == Verdict::ok) continue;
      std::string needs = fmt::format("needs {}", ceil_count(i.needed));
      if (ceil_count(i.needed_min) < ceil_count(i.needed)) needs += fmt::format(" (at least {})", ceil_count(i.needed_min));
      std::string detail = i.detail.empty() ? "" : "; " + i.detail;
      if (i.unknown) {
        out += fmt::format("  {}: {} (limit unknown{})\n", i.what, needs, detail);
        continue;
      }
      const char* verdict = i.verdict == Verdict::refused ? "WILL RUN OUT"
                            : i.verdict == Verdict::ok    ? "ok"
                            : i.needed > i.available      ? "may run out"
                                                          : "tight";
      out += fmt::format("  {}: {} of {} ({:.0f}%{}): {}\n", i.what, needs, ceil_count(i.available),
                         100 * i.needed / i.available, detail, verdict);
      if (i.verdict != Verdict::ok)
        for (const std::string& fix : i.fixes) out += fmt::format("    fix: {}\n", fix);
    }
    for (const std::string& note : h.notes) out += fmt::format("  note: {}\n", note);
  }
  return out;
}

namespace {

// A <server> users connect to (by weight; none: the requests' own URLs).
struct Destination {
  std::string name;
  double share;
  bool loopback;
  bool udp;  // no TIME_WAIT
};

// What one host's slots need with session lengths `secs` (the upper estimate or the lower bound).
struct HostDemand {
  double peak = 0;
  unsigned processes = 0;
  double users_per_process = 0;
  PortDemands ports;
};

HostDemand host_demand(const std::string& host, const std::vector<AgentPlan>& plans, const Scenario& scenario,
                       const std::vector<double>& secs, const HostFacts& f, unsigned threads,
                       const std::vector<Destination>& destinations) {
  HostDemand demand;
  for (const AgentPlan& p : plans) {
    if (p.slot.host != host || p.slot.monitor_only) continue;
    double peak = peak_within(p, scenario, secs, 0);
    demand.peak += peak;
    unsigned maxusers = p.slot.maxusers;
    demand.processes += agent_processes(peak, maxusers, threads);
    double per_agent = maxusers == 0 ? peak : double(threads) * double((maxusers + threads - 1) / threads);
    demand.users_per_process = std::max(demand.users_per_process, std::min(peak, per_agent));
    // Ports: a closed TCP connection keeps its port kTimeWaitSeconds unless tcp_tw_reuse lets
    // connect() take it back (1: always; 2: to loopback destinations).
    double with_time_wait = -1;  // computed once per slot, when needed
    auto ips = slot_source_ips(p.slot);
    for (const Destination& d : destinations) {
      PortDemand& ports = demand.ports[{d.name, ips ? ips->size() : kUnknownIps}];
      ports.open += peak * d.share;
      bool reuse = d.udp || f.tw_reuse == 1 || (f.tw_reuse == 2 && d.loopback);
      if (reuse) continue;
      if (with_time_wait < 0) with_time_wait = peak_within(p, scenario, secs, kTimeWaitSeconds);
      ports.time_wait += (with_time_wait - peak) * d.share;
    }
  }
  return demand;
}

}  // namespace

CapacityReport preflight(const Scenario& scenario, const std::vector<AgentPlan>& plans,
                         const std::map<std::string, HostFacts>& facts, unsigned threads) {
  std::vector<double> secs = all_session_seconds(scenario, false), secs_min = all_session_seconds(scenario, true);
  CapacityReport report;
  std::vector<std::string> order;
  for (const AgentPlan& p : plans)
    if (!p.slot.monitor_only && std::find(order.begin(), order.end(), p.slot.host) == order.end()) order.push_back(p.slot.host);

  std::vector<Destination> destinations;
  double server_weight = 0;
  for (const ServerSpec& s : scenario.servers) server_weight += s.weight;
  for (const ServerSpec& s : scenario.servers) {
    bool v6 = s.endpoint.host.find(':') != std::string::npos && !s.endpoint.host.starts_with('[');
    std::string name = v6 ? fmt::format("[{}]:{}", s.endpoint.host, s.endpoint.port) : fmt::format("{}:{}", s.endpoint.host, s.endpoint.port);
    destinations.push_back({std::move(name), s.weight / server_weight,
                            is_loopback_destination(s.endpoint.host), s.endpoint.transport == Transport::udp});
  }
  if (destinations.empty()) destinations.push_back({"the requests' URLs", 1, false, false});

  for (const std::string& host : order) {
    HostCapacity hc;
    hc.host = host;
    auto found = facts.find(host);
    HostFacts f = found != facts.end() ? found->second : HostFacts{};
    hc.facts_known = f.known;
    unsigned host_threads = f.threads != 0 ? f.threads : threads != 0 ? threads : std::max(1u, f.cores);
    const double base_fds = double(kAgentBaseFds + kFdsPerThread * host_threads);
    HostDemand hi = host_demand(host, plans, scenario, secs, f, host_threads, destinations);
    HostDemand lo = host_demand(host, plans, scenario, secs_min, f, host_threads, destinations);
    bool can_add_processes = true;
    std::unordered_set<std::string_view> host_ips;
    std::vector<std::vector<std::string>> slot_ip_lists;  // the host's slots' source IPs, as known here
    std::vector<std::string> scan_notes;                  // <ip scan> interfaces without an address here
    for (const AgentPlan& p : plans) {
      if (p.slot.host != host || p.slot.monitor_only) continue;
      if (p.slot.maxusers == 0) can_add_processes = false;
      slot_ip_lists.push_back(slot_source_ips(p.slot).value_or(p.slot.source_ips));
      for (const std::string& name : p.slot.scan_interfaces)
        if (p.slot.local && interface_ipv4_addresses(name).empty() &&
            std::find(scan_notes.begin(), scan_notes.end(), name) == scan_notes.end())
          scan_notes.push_back(name);
    }
    std::vector<const std::vector<std::string>*> slot_ips;
    for (const std::vector<std::string>& ips : slot_ip_lists) {
      host_ips.insert(ips.begin(), ips.end());
      slot_ips.push_back(&ips);
    }
    hc.peak_users = hi.peak;
    hc.peak_users_min = lo.peak;
    hc.processes = hi.processes;
    hc.connections = hc.peak_users;  // one connection per user at a time

    hc.items.push_back(open_files_item(hc, f, hi.users_per_process, lo.users_per_process, base_fds, host_threads,
                                       can_add_processes));
    add_port_items(hc, f, hi.ports, lo.ports, host_ips.size(), scenario.options.ports_range);
    hc.items.push_back(memory_item(hc, f, lo.processes));
    add_source_ip_note(hc, f, slot_ips);
    for (const std::string& name : scan_notes)
      hc.notes.push_back(fmt::format("<ip scan=\"true\" value=\"{}\">: interface '{}' has no IPv4 address on this host: "
                                     "its agents will not start", name, name));
    if (f.known && f.cores > 0) hc.notes.push_back(fmt::format("{} core(s)", f.cores));
    report.hosts.push_back(std::move(hc));
  }
  return report;
}

}  // namespace loadctl
