#include "loadctl/plan.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <boost/asio/ip/address.hpp>

#include "loadctl/wire.hpp"

namespace loadctl {

bool is_local_host(const std::string& host) {
  if (host == "localhost" || host == "127.0.0.1" || host == "::1") return true;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(host, ec);
  if (!ec && addr.is_loopback()) return true;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0 && host == name) return true;
  return false;
}

std::vector<AgentSlot> plan_slots(const Scenario& scenario) {
  std::vector<AgentSlot> slots;
  for (unsigned c = 0; c < scenario.clients.size(); ++c) {
    const ClientSpec& client = scenario.clients[c];
    unsigned cpus = std::max(1u, client.cpu);
    for (unsigned i = 0; i < cpus; ++i) {
      AgentSlot slot;
      slot.id = static_cast<unsigned>(slots.size());
      slot.client = c;
      slot.host = client.host;
      slot.address = client.hostip.empty() ? client.host : client.hostip;
      slot.local = client.use_controller_vm || is_local_host(client.host);
      slot.weight = client.weight / cpus;
      slot.maxusers = client.maxusers;
      slot.source_ips = client.source_ips;
      slot.scan_interfaces = client.scan_interfaces;
      slots.push_back(std::move(slot));
    }
  }
  return slots;
}

namespace {

std::string this_hostname() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// The controller's own host by the names that always mean it (not 127.0.0.2..., which tests use
// as separate hosts).
bool names_controller_host(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1" || host == this_hostname();
}

}  // namespace

std::vector<AgentSlot> plan_monitor_slots(const Scenario& scenario, unsigned first_id) {
  std::vector<AgentSlot> slots;
  // A load agent on this machine (any loopback address, its hostname) samples the controller's host.
  bool local_load = std::any_of(scenario.clients.begin(), scenario.clients.end(), [](const ClientSpec& c) {
    return c.use_controller_vm || is_local_host(c.host);
  });
  auto taken = [&](const std::string& host) {
    return std::any_of(scenario.clients.begin(), scenario.clients.end(),
                       [&](const ClientSpec& c) { return c.host == host || c.hostip == host; }) ||
           (local_load && names_controller_host(host)) ||
           std::any_of(slots.begin(), slots.end(), [&](const AgentSlot& s) {
             return s.host == host || (names_controller_host(s.host) && names_controller_host(host));
           });
  };
  auto add = [&](const std::string& host) {
    AgentSlot slot;
    slot.id = first_id + static_cast<unsigned>(slots.size());
    slot.host = host;
    slot.address = host;
    slot.local = is_local_host(host);
    slot.weight = 0;
    slot.maxusers = 0;
    slot.monitor_only = true;
    slots.push_back(std::move(slot));
  };
  for (const MonitorSpec& monitor : scenario.monitors)
    if (monitor.type == "erlang" && !monitor.mysqladmin && !taken(monitor.host)) add(monitor.host);
  // Tsung monitors its controller's node too (ts_os_mon:activate), unless a monitor of any type
  // names it (lists:keyfind(Controller, 1, Hosts)) or a load agent runs here.
  bool named = std::any_of(scenario.monitors.begin(), scenario.monitors.end(),
                           [](const MonitorSpec& m) { return names_controller_host(m.host); });
  if (!scenario.monitors.empty() && !named && !taken(this_hostname())) add(this_hostname());
  return slots;
}

namespace {

// Splits `total` into integer shares proportional to `weights`; the last share takes the rest.
std::vector<std::uint64_t> split_by_weight(std::uint64_t total, const std::vector<double>& weights) {
  double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<std::uint64_t> shares(weights.size(), 0);
  std::uint64_t given = 0;
  for (std::size_t i = 0; i + 1 < weights.size(); ++i) {
    shares[i] = static_cast<std::uint64_t>(std::floor(static_cast<double>(total) * weights[i] / sum));
    given += shares[i];
  }
  if (!shares.empty()) shares.back() = total - std::min(total, given);
  return shares;
}

// Deterministic per-agent seed (splitmix64), so a scenario seed reproduces every agent's stream.
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t id) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (id + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<AgentPlan> plan_run(const Scenario& scenario, const std::vector<AgentSlot>& slots,
                                std::uint64_t seed) {
  std::vector<AgentPlan> plans(slots.size());
  std::vector<double> weights;
  for (const AgentSlot& s : slots) weights.push_back(s.weight);
  double total_weight = std::accumulate(weights.begin(), weights.end(), 0.0);

  for (std::size_t i = 0; i < slots.size(); ++i) {
    plans[i].slot = slots[i];
    plans[i].hard_stop = scenario.load.duration;
    plans[i].seed = mix_seed(seed, i);
    plans[i].data_slot = static_cast<std::uint32_t>(i);
  }

  double start = 0;
  for (unsigned round = 0; round <= scenario.load.loop; ++round) {
    for (const ArrivalPhase& phase : scenario.load.phases) {
      std::vector<std::uint64_t> caps;
      // The rate is split by weight among the agents that may start users: one given none of a
      // small maxnumber takes no share of it (its share would be lost, not moved).
      double starting_weight = total_weight;
      if (phase.maxnumber) {
        caps = split_by_weight(*phase.maxnumber, weights);
        starting_weight = 0;
        for (std::size_t i = 0; i < slots.size(); ++i)
          if (caps[i] > 0) starting_weight += weights[i];
      }
      for (std::size_t i = 0; i < slots.size(); ++i) {
        PhaseShare share;
        share.phase = phase.phase;
        share.start = start;
        share.duration = phase.duration;
        bool starts = !phase.maxnumber || caps[i] > 0;
        share.rate = starts && starting_weight > 0 ? phase.rate * weights[i] / starting_weight : 0;
        if (phase.maxnumber) share.max_users = caps[i];
        plans[i].phases.push_back(share);
      }
      start += phase.duration;
    }
  }

  // Static users: each goes to the agent furthest below its weighted share so far.
  std::vector<double> assigned(slots.size(), 0);
  for (const StaticUser& user : scenario.load.users) {
    std::size_t best = 0;
    double best_deficit = -1e300;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      double deficit = weights[i] / total_weight * (1 + std::accumulate(assigned.begin(), assigned.end(), 0.0)) - assigned[i];
      if (deficit > best_deficit) {
        best_deficit = deficit;
        best = i;
      }
    }
    assigned[best] += 1;
    plans[best].static_users.push_back(user);
  }

  // User ids are unique across agents: each agent gets a disjoint block.
  std::uint64_t block = 0;
  for (AgentPlan& plan : plans) {
    plan.first_user_id = block + 1;
    block += std::uint64_t{1} << 40;
  }
  return plans;
}

double planned_duration(const Scenario& scenario) {
  double total = 0;
  for (const ArrivalPhase& phase : scenario.load.phases) total += phase.duration;
  total *= (scenario.load.loop + 1);
  for (const StaticUser& user : scenario.load.users) total = std::max(total, user.start_time);
  if (scenario.load.duration) total = std::min(total, *scenario.load.duration);
  return total;
}

std::string AgentPlan::encode() const {
  std::string out;
  wire::Writer w(out);
  w.u32(slot.id);
  w.u32(slot.client);
  w.str(slot.host);
  w.str(slot.address);
  w.u8(slot.local);
  w.f64(slot.weight);
  w.u32(slot.maxusers);
  w.u32(static_cast<std::uint32_t>(slot.source_ips.size()));
  for (const auto& ip : slot.source_ips) w.str(ip);
  w.u32(static_cast<std::uint32_t>(phases.size()));
  for (const PhaseShare& p : phases) {
    w.i64(p.phase);
    w.f64(p.start);
    w.f64(p.duration);
    w.f64(p.rate);
    w.u8(p.max_users.has_value());
    w.u64(p.max_users.value_or(0));
  }
  w.u32(static_cast<std::uint32_t>(static_users.size()));
  for (const StaticUser& u : static_users) {
    w.f64(u.start_time);
    w.str(u.session);
  }
  w.u8(hard_stop.has_value());
  w.f64(hard_stop.value_or(0));
  w.u64(seed);
  w.u64(first_user_id);
  w.u32(data_slot);
  w.u8(slot.monitor_only);
  w.u32(static_cast<std::uint32_t>(slot.scan_interfaces.size()));
  for (const auto& name : slot.scan_interfaces) w.str(name);
  return out;
}

std::optional<AgentPlan> AgentPlan::decode(std::string_view data) {
  wire::Reader r(data);
  AgentPlan plan;
  plan.slot.id = r.u32();
  plan.slot.client = r.u32();
  plan.slot.host = r.str();
  plan.slot.address = r.str();
  plan.slot.local = r.u8() != 0;
  plan.slot.weight = r.f64();
  plan.slot.maxusers = r.u32();
  std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; r.ok() && i < n; ++i) plan.slot.source_ips.push_back(r.str());
  n = r.u32();
  for (std::uint32_t i = 0; r.ok() && i < n; ++i) {
    PhaseShare p;
    p.phase = static_cast<int>(r.i64());
    p.start = r.f64();
    p.duration = r.f64();
    p.rate = r.f64();
    bool has_max = r.u8() != 0;
    std::uint64_t max = r.u64();
    if (has_max) p.max_users = max;
    plan.phases.push_back(p);
  }
  n = r.u32();
  for (std::uint32_t i = 0; r.ok() && i < n; ++i) {
    StaticUser u;
    u.start_time = r.f64();
    u.session = r.str();
    plan.static_users.push_back(std::move(u));
  }
  bool has_stop = r.u8() != 0;
  double stop = r.f64();
  if (has_stop) plan.hard_stop = stop;
  plan.seed = r.u64();
  plan.first_user_id = r.u64();
  plan.data_slot = r.u32();
  plan.slot.monitor_only = r.u8() != 0;
  n = r.u32();
  for (std::uint32_t i = 0; r.ok() && i < n; ++i) plan.slot.scan_interfaces.push_back(r.str());
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return plan;
}

}  // namespace loadctl
