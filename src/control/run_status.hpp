#pragma once
// The state of a run as `loadctl status`, `loadctl stop` and (later) the web dashboard show it:
// built by the controller on demand (Controller::run_status), never per request. One model, two
// renderings: Tsung's status lines (tsung_controller:status_str) and JSON.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace loadctl::control {

struct AgentStatus {
  unsigned id = 0;
  std::string host;       ///< as in the scenario
  std::string state;      ///< launching, connected, ready, running, done, lost, failed
  double silent_for = 0;  ///< seconds since its last message
  std::string hostname;   ///< as the agent reported it (empty before its hello)
  std::int64_t users = 0;     ///< its running users
  double request_rate = 0;    ///< its requests/s over the last seconds
  double cpu = -1;            ///< its host's cpu % (last monitor sample); -1: none yet
  double share = 1;           ///< its part of its planned arrivals (add-agent/remove-agent; 0: starts no users)
};

/// A monitored host's last samples (Tsung's {cpu,"h"}, {freemem,"h"}, {load,"h"}); -1: none.
struct MonitorStatus {
  std::string host;
  double cpu = -1, freemem = -1, load = -1;
};

/// p50/p95/p99 (ms) of one sample metric over the last second with samples; count 0: none.
struct LatencyStatus {
  std::uint64_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0;
};

struct RunStatus {
  /// finishing: the run has ended, its results (and exit status) are being written.
  enum class State { setup, running, stopping, finishing, finished };
  State state = State::setup;
  long pid = 0;
  std::string run_dir;
  std::string scenario;
  double elapsed = 0;  ///< seconds since time zero (0 before it)
  double planned = 0;  ///< planned duration, seconds
  /// 1-based arrival phase by the schedule (phases x (loop + 1)); 0 once the last one ended:
  /// users still running are finishing (Tsung: "last, waiting for pending clients").
  unsigned phase = 1;
  unsigned phases = 1;
  std::int64_t users = 0;            ///< running now (gauge "users")
  std::int64_t connected = 0;        ///< users with an open connection (gauge "connected")
  std::uint64_t users_started = 0;   ///< counter "users_count"
  std::uint64_t users_finished = 0;  ///< counter "finish_users_count"
  std::uint64_t requests = 0;
  double request_rate = 0;  ///< requests/s over the last second
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> errors_by_name;
  std::vector<AgentStatus> agents;
  LatencyStatus request, page, transaction;  ///< the last second's percentiles; the whole run's once finished
  std::vector<MonitorStatus> monitors;  ///< by host name
  double rate_factor = 1;   ///< arrival rate multiplier asked by steering (1: as planned)
  bool arrivals_paused = false;
  std::string dashboard;    ///< URL of the live dashboard; empty: none
  std::string report;       ///< report.html once rendered; empty: none
  std::string stop_reason;  ///< why the run is stopping or stopped
  int exit_status = 0;      ///< finished runs
};

const char* state_name(RunStatus::State state);

/// The phase at `elapsed` seconds of a schedule whose arrival phases last `durations` seconds,
/// played 1 + `loop` times: {phase (1-based; 0 after the last one), phases}.
struct PhasePosition {
  unsigned phase;
  unsigned phases;
};
PhasePosition phase_at(const std::vector<double>& durations, unsigned loop, double elapsed);

/// Tsung's status lines ("Tsung is running [OK]", " Current request rate: ..."), with loadctl's
/// name, then loadctl's own lines (elapsed, requests, errors, agents).
std::string render_status_text(const RunStatus& status);
/// The same as one JSON object (one line, newline-terminated).
std::string render_status_json(const RunStatus& status);

}  // namespace loadctl::control
