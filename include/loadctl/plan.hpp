#pragma once
// Planning: which agent processes run where, and how each arrival phase is split between them.
// Tsung's rule, per phase with intensity I and maxnumber M, agents of weight w_i out of W:
//   intensity_i = I * w_i / W,   users_i = min(duration * intensity_i, M * w_i / W)
// with the remainder of M given to the last agent so the total is exactly M.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loadctl/scenario.hpp"

namespace loadctl {

/// One agent process to start: a slot of a <client> (cpu="N" gives N slots).
struct AgentSlot {
  unsigned id = 0;           ///< 0-based, unique in the run
  unsigned client = 0;       ///< index into Scenario::clients
  std::string host;          ///< as written in the scenario
  std::string address;       ///< address to reach the host (hostip, or the host itself)
  bool local = false;        ///< runs on the controller's machine (fork/exec)
  double weight = 1;         ///< client weight / cpu
  unsigned maxusers = 800;
  std::vector<std::string> source_ips;
  std::vector<std::string> scan_interfaces;  ///< ClientSpec::scan_interfaces, expanded by the agent
  /// A monitor-only agent (<monitor type="erlang"> on a host without a client): no users; it
  /// samples its host from /proc every 2 s, named {cpu,"host"} after the monitor's host.
  bool monitor_only = false;
};

/// One agent's share of one arrival phase.
struct PhaseShare {
  int phase = 0;
  double start = 0;     ///< seconds from the run start (phases back to back, loops unrolled)
  double duration = 0;  ///< seconds
  double rate = 0;      ///< users per second for this agent
  std::optional<std::uint64_t> max_users;  ///< this agent's cap for the phase
};

/// Everything one agent needs to generate its own load.
struct AgentPlan {
  AgentSlot slot;
  std::vector<PhaseShare> phases;
  std::vector<StaticUser> static_users;
  std::optional<double> hard_stop;  ///< seconds from start (load duration)
  std::uint64_t seed = 0;           ///< per-agent seed, derived from the scenario seed
  std::uint64_t first_user_id = 0;  ///< user ids of this agent start here (unique across agents)
  std::uint32_t data_slot = 0;      ///< its share of file_server order="iter" lines (maxusers
                                    ///< overflow agents continue their parent's share)

  std::string encode() const;
  static std::optional<AgentPlan> decode(std::string_view data);
};

/// Expands clients into agent slots. `is_local` decides whether a host is the controller's own.
std::vector<AgentSlot> plan_slots(const Scenario& scenario);

/// One monitor-only slot per <monitor type="erlang"> host (without <mysqladmin>) that is no
/// client's host or hostip (a client's agent already samples its host), ids from `first_id`.
/// The controller's host ("localhost", 127.0.0.1, ::1 or its hostname: one host) is taken by a
/// local client. With any <monitor>, the controller's host is monitored as Tsung does: a slot
/// named by its hostname when neither a local client nor a monitor covers it.
std::vector<AgentSlot> plan_monitor_slots(const Scenario& scenario, unsigned first_id);

/// Splits every phase and static user between the slots.
std::vector<AgentPlan> plan_run(const Scenario& scenario, const std::vector<AgentSlot>& slots,
                                std::uint64_t seed);

/// Planned length of the arrival schedule in seconds (all phases, loops included), capped by the
/// load duration when one is set.
double planned_duration(const Scenario& scenario);

/// True for "localhost", loopback addresses and this machine's hostname.
bool is_local_host(const std::string& host);

}  // namespace loadctl
