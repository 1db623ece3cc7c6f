#include "control/run_status.hpp"

#include <cmath>

#include <fmt/format.h>

#include "loadctl/json.hpp"

namespace loadctl::control {

const char* state_name(RunStatus::State state) {
  switch (state) {
    case RunStatus::State::setup: return "setup";
    case RunStatus::State::running: return "running";
    case RunStatus::State::stopping: return "stopping";
    case RunStatus::State::finishing: return "finishing";
    case RunStatus::State::finished: return "finished";
  }
  return "?";
}

PhasePosition phase_at(const std::vector<double>& durations, unsigned loop, double elapsed) {
  if (durations.empty()) return {1, 1};
  unsigned phases = static_cast<unsigned>(durations.size()) * (loop + 1);
  double end = 0;
  for (unsigned i = 0; i < phases; ++i) {
    end += durations[i % durations.size()];
    if (elapsed < end) return {i + 1, phases};
  }
  return {0, phases};
}

namespace {

// Tsung's headline while the controller runs (scripts grep "is running"); loadctl's state is
// on a line of its own.
std::string headline(const RunStatus& s) {
  if (s.state != RunStatus::State::finished) return "loadctl is running [OK]";
  return fmt::format("loadctl has finished{}: exit status {}", s.stop_reason.empty() ? "" : " (" + s.stop_reason + ")",
                     s.exit_status);
}

std::string state_line(const RunStatus& s) {
  switch (s.state) {
    case RunStatus::State::setup: return "setup (agents are being set up)";
    case RunStatus::State::running: return "running";
    case RunStatus::State::stopping: return fmt::format("stopping ({})", s.stop_reason);
    case RunStatus::State::finishing: return "finishing (writing the results)";
    case RunStatus::State::finished: return "finished";
  }
  return "?";
}

}  // namespace

std::string render_status_text(const RunStatus& s) {
  std::string out = headline(s) + "\n";
  auto line = [&out](const char* label, const std::string& value) { out += fmt::format(" {:<25}{}\n", label, value); };
  line("Current request rate:", fmt::format("{:.2f} req/sec", s.request_rate));
  line("Current users:", std::to_string(s.users));
  line("Current connected users:", std::to_string(s.connected));
  // Tsung: a bare phase number (phases x loops), or "last, ..." once the last one has ended.
  line("Current phase:", s.phase == 0 ? "last, waiting for pending clients" : std::to_string(s.phase));
  line("Phases planned:", std::to_string(s.phases));
  line("State:", state_line(s));
  line("Elapsed:", fmt::format("{:.0f} s of {:.0f} s planned", s.elapsed, s.planned));
  line("Users started:", fmt::format("{} ({} finished)", s.users_started, s.users_finished));
  line("Requests:", std::to_string(s.requests));
  std::string errors = std::to_string(s.errors);
  for (const auto& [name, count] : s.errors_by_name) errors += fmt::format(" {}={}", name, count);
  line("Errors:", errors);
  for (const AgentStatus& a : s.agents)
    line("Agent:", fmt::format("{} on {}: {} (last heard {:.0f} s ago)", a.id, a.host, a.state, a.silent_for));
  if (!s.dashboard.empty()) line("Dashboard:", s.dashboard);
  line("Log directory:", s.run_dir);
  line("Controller pid:", std::to_string(s.pid));
  return out;
}

std::string render_status_json(const RunStatus& s) {
  std::string out = "{";
  out += fmt::format("\"state\": {}, \"pid\": {}, \"run_dir\": {}, \"scenario\": {}, ", json_string(state_name(s.state)),
                     s.pid, json_string(s.run_dir), json_string(s.scenario));
  out += fmt::format("\"elapsed\": {}, \"planned\": {}, \"phase\": {}, \"phases\": {}, ", json_number(s.elapsed),
                     json_number(s.planned), s.phase, s.phases);
  out += fmt::format("\"users\": {}, \"connected\": {}, \"users_started\": {}, \"users_finished\": {}, ", s.users,
                     s.connected, s.users_started, s.users_finished);
  out += fmt::format("\"requests\": {}, \"request_rate\": {}, \"errors\": {}, \"errors_by_name\": {{", s.requests,
                     json_number(s.request_rate), s.errors);
  const char* sep = "";
  for (const auto& [name, count] : s.errors_by_name) {
    out += fmt::format("{}{}: {}", sep, json_string(name), count);
    sep = ", ";
  }
  out += "}, ";
  for (auto [key, l] : {std::pair{"request", &s.request}, std::pair{"page", &s.page}, std::pair{"transaction", &s.transaction}}) {
    if (l->count == 0) out += fmt::format("\"{}\": null, ", key);
    else
      out += fmt::format("\"{}\": {{\"count\": {}, \"p50\": {}, \"p95\": {}, \"p99\": {}}}, ", key, l->count,
                         json_number(l->p50), json_number(l->p95), json_number(l->p99));
  }
  out += fmt::format("\"rate_factor\": {}, \"arrivals_paused\": {}, \"dashboard\": {}, \"report\": {}, ",
                     json_number(s.rate_factor), s.arrivals_paused ? "true" : "false", json_string(s.dashboard),
                     json_string(s.report));
  out += "\"monitors\": [";
  sep = "";
  auto value = [](double v) { return v < 0 ? std::string("null") : json_number(std::round(v * 10) / 10); };
  for (const MonitorStatus& m : s.monitors) {
    out += fmt::format("{}{{\"host\": {}, \"cpu\": {}, \"freemem\": {}, \"load\": {}}}", sep, json_string(m.host),
                       value(m.cpu), value(m.freemem), value(m.load));
    sep = ", ";
  }
  out += "], \"agents\": [";
  sep = "";
  for (const AgentStatus& a : s.agents) {
    out += fmt::format("{}{{\"id\": {}, \"host\": {}, \"hostname\": {}, \"state\": {}, \"silent_for\": {}, "
                       "\"users\": {}, \"request_rate\": {}, \"cpu\": {}, \"share\": {}}}",
                       sep, a.id, json_string(a.host), json_string(a.hostname), json_string(a.state),
                       json_number(std::round(a.silent_for * 10) / 10), a.users,
                       json_number(std::round(a.request_rate * 10) / 10), a.cpu < 0 ? "null" : json_number(a.cpu),
                       json_number(std::round(a.share * 10000) / 10000));
    sep = ", ";
  }
  out += fmt::format("], \"stop_reason\": {}, \"exit_status\": {}}}\n", json_string(s.stop_reason), s.exit_status);
  return out;
}

}  // namespace loadctl::control
