#pragma once
// Capacity preflight (docs/capacity.md): what a plan needs from each agent host (concurrent users,
// connections per source IP and destination, file descriptors per agent process, memory) against
// what the host has (HostFacts, reported by each agent at hello), and the exact fix for each
// limit the plan would run into.
//
// Formulas (the unit tests check them; docs/capacity.md explains them):
//   session seconds   D_s = sum(thinktime means) + requests * kSecondsPerRequest (loops unrolled,
//                     <repeat> max_repeat times); lower bound: requests 0 s, <repeat> once
//   phase p           arrivals at rate r_p from s_p until e_p = min(end_p, s_p + maxnumber_p / r_p),
//                     each living D_p = sum_s(probability_s * D_s) (its session mix)
//   users alive at t  sum_p r_p * |[t - D_p, t] ∩ [s_p, e_p]| + static users with start <= t < start + D_s
//   peak              the largest of those at the breakpoints s_p, e_p, s_p + D_p, e_p + D_p (the
//                     sum is piecewise linear in t), capped by the load duration
//   agent processes   each of an agent's T workers hands its arrivals over to a new agent on
//                     reaching ceil(maxusers / T): 1 + T + T^2 + ... agents until they hold the peak
//   fds per process   min(peak, T * ceil(maxusers / T)) + kAgentBaseFds + kFdsPerThread * T
//   ports per pair    connections to that destination / source IPs (+ TIME_WAIT, TCP only: users
//                     closed within kTimeWaitSeconds, at most tcp_max_tw_buckets, unless
//                     tcp_tw_reuse applies; a shortage due to TIME_WAIT alone is a warning)
//   memory            peak * kBytesPerUser + processes * kAgentBaseBytes

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loadctl/plan.hpp"
#include "loadctl/scenario.hpp"

namespace loadctl {

// Measured figures (docs/performance.md; docs/capacity.md says which run each comes from).
/// Peak RSS per connected user, all processes, 25 000-40 000 users ramped ("Scale", session 7):
/// 1.55-1.62 KB; the largest is taken.
inline constexpr double kBytesPerUser = 1.62 * 1024;
/// Resident memory of an agent process before users: shared-library and binary pages (~10.7 MB,
/// "10 000 idle users" of session 2) plus its heap at start.
inline constexpr double kAgentBaseBytes = 12.0 * 1024 * 1024;
/// Descriptors an agent process holds without users: stdio, log, the control socket and its event
/// loop (9 in /proc/PID/fd of agents with 1, 2 and 8 threads), plus room for a listening socket,
/// plugins and TLS files.
inline constexpr std::uint64_t kAgentBaseFds = 16;
/// Per event-loop thread: an epoll, an eventfd and a timerfd (the same count: 3 more per thread).
inline constexpr std::uint64_t kFdsPerThread = 3;
/// Time per request in the upper estimate of a session's length (the server's response time is
/// not known beforehand); the lower bound counts requests as taking no time. A plan is refused
/// only when even the lower bound exceeds a limit; the upper estimate beyond it is a warning.
inline constexpr double kSecondsPerRequest = 0.02;
/// Linux keeps a closed connection's port for this long (TCP_TIMEWAIT_LEN).
inline constexpr double kTimeWaitSeconds = 60;
/// A limit used above this share is reported as tight (a warning, the run goes on).
inline constexpr double kTightShare = 0.8;

/// What an agent tells the controller about its host at hello (zero / empty: unknown).
struct HostFacts {
  bool known = false;
  std::uint64_t nofile_soft = 0, nofile_hard = 0;  ///< RLIMIT_NOFILE of the agent (after raising soft)
  std::uint32_t port_low = 0, port_high = 0;       ///< net.ipv4.ip_local_port_range
  int tw_reuse = -1;                               ///< net.ipv4.tcp_tw_reuse (0, 1, 2: loopback only)
  std::uint64_t tw_buckets = 0;                    ///< net.ipv4.tcp_max_tw_buckets (TIME_WAIT sockets kept at most)
  std::uint64_t mem_available = 0;                 ///< bytes (MemAvailable)
  std::uint32_t cores = 0;
  /// Event-loop threads the agent runs (its --threads); 0: the controller's --threads, else `cores`.
  std::uint32_t threads = 0;
  std::vector<std::string> addresses;              ///< the host's interface addresses (source IPs)

  std::uint32_t ports() const { return port_high >= port_low && port_low > 0 ? port_high - port_low + 1 : 0; }
  /// The Hello's trailing field; at most kMaxReportedAddresses addresses.
  std::string encode() const;
  /// Reads what encode() wrote; false when malformed.
  bool decode(std::string_view data);
};
inline constexpr std::size_t kMaxReportedAddresses = 32;

/// This host's facts, read from getrlimit, /proc and getifaddrs (`proc`: a fake /proc for tests).
HostFacts read_host_facts(const std::string& proc = "/proc");

/// Raises the soft RLIMIT_NOFILE to the hard one. Returns {before, after}.
std::pair<std::uint64_t, std::uint64_t> raise_nofile_limit();

/// Mean seconds one user of `session` lives (the formula above); `lower`: the lower bound.
double session_seconds(const Session& session, const Options& options, bool lower = false);

/// Agent processes a slot with `maxusers` (0: no limit) and `threads` per agent runs to hold
/// `peak` users: each worker of a full agent hands over to a new agent of its own.
unsigned agent_processes(double peak, unsigned maxusers, unsigned threads);

/// Peak concurrent users of one agent's plan (the formula above); `session_secs` by session index.
double peak_users(const AgentPlan& plan, const Scenario& scenario, const std::vector<double>& session_secs);

enum class Verdict { ok, tight, refused };

/// One limit of one host: what is needed, what there is, and how to fix it.
struct CapacityItem {
  std::string what;      ///< "open files per agent process", "ports to 127.0.0.1:80 from each of 2 source IPs", "memory"
  double needed = 0;      ///< the upper estimate (20 ms per request, <repeat> max, TIME_WAIT)
  double needed_min = 0;  ///< the lower bound (refused only when this exceeds `available`)
  double available = 0;   ///< 0 with `unknown`
  std::string detail;     ///< printed after the figures (e.g. what TIME_WAIT adds)
  bool unknown = false;
  Verdict verdict = Verdict::ok;
  std::vector<std::string> fixes;  ///< exact lines to apply, in order of preference
};

struct HostCapacity {
  std::string host;
  bool facts_known = false;
  double peak_users = 0;
  double peak_users_min = 0;  ///< with the lower-bound session lengths
  double connections = 0;
  unsigned processes = 0;  ///< agent processes at peak (maxusers overflow included)
  std::vector<CapacityItem> items;
  std::vector<std::string> notes;
};

struct CapacityReport {
  std::vector<HostCapacity> hosts;
  bool refused() const;
  bool tight() const;
  /// The report as printed by `check --hosts` and `start` (one block per host).
  std::string format(bool only_problems = false) const;
};

/// The preflight: `facts` by slot host name (a host missing from it has unknown facts);
/// `threads`: the controller's --threads (0: none), for agents whose facts give no threads.
CapacityReport preflight(const Scenario& scenario, const std::vector<AgentPlan>& plans,
                         const std::map<std::string, HostFacts>& facts, unsigned threads);

}  // namespace loadctl
