// The controller's side of `loadctl status` and `loadctl stop`: the run status model and the
// interrupt path shared by SIGINT/SIGTERM, the control socket and the scenario's own abort.
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/metrics_exposition.hpp"
#include "controller/controller.hpp"

namespace loadctl::controller {

namespace {

using SteadyClock = std::chrono::steady_clock;
using control::MsgType;

/// A `loadctl stop` ends the run as SIGTERM does: exit status 128 + SIGTERM.
constexpr int kStoppedStatus = 128 + SIGTERM;
/// The scenario aborted the test (match do="abort_test", abort type="all"): its planned load did
/// not all run, by its own rule rather than an operator's (Tsung exits 0; docs/stats.md says why not).
constexpr int kAbortedStatus = 5;

std::uint64_t count_of(const MetricSet& set, std::string_view name) {
  const Metric* m = set.find(name);
  return m ? m->count : 0;
}

std::int64_t level_of(const MetricSet& set, std::string_view name) {
  const Metric* m = set.find(name);
  return m ? m->level : 0;
}

}  // namespace

void Controller::open_control_socket() {
  auto server = std::make_unique<ControlServer>(
      ctx_, [this] { return run_status(); }, [this] { return stop_by_request(); },
      [this](unsigned id) { return stop_agent_by_request(id); },
      [this](const control::ControlRequest& r) { return steer_by_request(r); });
  try {
    server->open(options_.run_dir);
  } catch (const std::exception& e) {
    console_.notice(fmt::format("warning: {}: `loadctl status` and `loadctl stop` cannot reach this run", e.what()));
    spdlog::warn("{}", e.what());
    return;
  }
  spdlog::info("control socket {}", server->socket_path());
  try {
    server->register_run();
  } catch (const std::exception& e) {
    console_.notice(fmt::format("warning: {}: `loadctl status` finds this run only with --run-dir {}", e.what(),
                                options_.run_dir));
    spdlog::warn("{}", e.what());
  }
  control_server_ = std::move(server);
}

void Controller::release_control_clients(int exit_status) {
  if (!control_server_) return;
  control::RunStatus s = run_status();
  s.exit_status = exit_status;
  control_server_->release_stop_waiters(control::render_status_text(s), /*close=*/!(web_ && options_.http_keep) || keeping_done_);
}

void Controller::interrupt(int status, const std::string& reason) {
  if (exit_status_ == 0) exit_status_ = status;
  stop_agents(reason);
}

// Tsung: the user calls ts_config_server:stop -> ts_mon:abort (error_abort), the final dump is
// written and the controller node halts, taking the client nodes and their users with it. Here
// every agent is told to stop as on SIGTERM, so each one's last statistics are kept; the cause
// goes to the console, controller.log, stats.jsonl, the dashboard, `loadctl status` and run.json.
void Controller::on_test_abort(AgentRecord& agent, std::string_view payload) {
  auto abort = control::TestAbort::decode(payload);
  if (!abort) {
    spdlog::warn("agent {}: malformed abort message: dropping the agent", agent.plan.slot.id);
    agent.channel->close("protocol violation");
    return;
  }
  abort_reported_ = true;  // one error_abort, as the flag of its done says too
  std::string why = fmt::format("test aborted by agent {} on {}: {}", agent.plan.slot.id, agent.plan.slot.host,
                                abort->cause);
  if (!started_ || stopping_ || finished_) {
    spdlog::info("{} (the run is already ending{})", why, stop_reason_.empty() ? "" : ": " + stop_reason_);
    return;
  }
  console_.notice(fmt::format("\n{}: stopping every agent and writing the final statistics", why));
  spdlog::warn("{}", why);
  double t = seconds_between(zero_, SteadyClock::now());
  live_.add_event(t, why);
  if (jsonl_) jsonl_->write_event(std::time(nullptr), t, why);
  interrupt(kAbortedStatus, why);
}

std::string Controller::stop_by_request(const std::string& via) {
  if (keeping_) {  // -k: the run is over; `loadctl stop` ends the dashboard
    boost::asio::post(ctx_, [this] { ctx_.stop(); });
    return "the run has finished: closing the dashboard (-k)";
  }
  if (finished_) return "the run has already finished";
  if (stopping_) return fmt::format("already stopping ({})", stop_reason_);
  console_.notice(fmt::format("\n{}: stopping agents and writing the final statistics", via));
  spdlog::info("stop asked: {}", via);
  interrupt(kStoppedStatus, via);
  return "stopping: agents stop, the final statistics are written";
}

// One agent stops its users (as at the end of the run: final statistics, Done); the others go on.
// Part of the planned load does not run, so the run exits 143 as a stopped run does.
std::string Controller::stop_agent_by_request(unsigned id, const std::string& via) {
  auto it = std::find_if(agents_.begin(), agents_.end(), [id](const AgentRecord& a) { return a.plan.slot.id == id; });
  if (it == agents_.end()) return fmt::format("error: no agent {}", id);
  if (it->plan.slot.monitor_only) return fmt::format("error: agent {} is the monitor agent of {}, not load", id, it->plan.slot.host);
  if (it->state != AgentState::running || !it->channel || !it->channel->open())
    return fmt::format("error: agent {} is {}, not running", id, state_name(it->state));
  std::string text = fmt::format("{} --agent {}: stopping agent {} on {}", via, id, id, it->plan.slot.host);
  console_.notice(text);
  spdlog::info("{}", text);
  if (exit_status_ == 0) exit_status_ = kStoppedStatus;
  if (stop_reason_.empty()) stop_reason_ = fmt::format("{} --agent {}", via, id);  // run.json
  it->channel->send(MsgType::stop, control::Stop{fmt::format("{} --agent {}", via, id)}.encode());
  return fmt::format("stopping agent {} on {}: its users stop, the other agents go on", id, it->plan.slot.host);
}

control::RunStatus Controller::run_status() const {
  using State = control::RunStatus::State;
  auto now = SteadyClock::now();
  control::RunStatus s;
  // finished_ is set when finish() begins; the exit status is final (judge_agent_losses) only
  // when it hands the final status to the control server.
  s.state = final_status_ ? State::finished
            : finished_   ? State::finishing
            : stopping_   ? State::stopping
            : started_    ? State::running
                          : State::setup;
  s.pid = static_cast<long>(getpid());
  s.run_dir = options_.run_dir;
  s.scenario = options_.scenario_path;
  s.planned = planned_duration(scenario_);
  if (finished_ && end_steady_ != SteadyClock::time_point{}) now = std::min(now, end_steady_);  // -k: frozen
  if (started_ && now > zero_) s.elapsed = seconds_between(zero_, now);
  std::vector<double> durations;
  for (const ArrivalPhase& phase : scenario_.load.phases) durations.push_back(phase.duration);
  auto position = control::phase_at(durations, scenario_.load.loop, s.elapsed);
  s.phase = position.phase;
  s.phases = position.phases;
  s.users = level_of(total_, "users");
  s.connected = level_of(total_, "connected");
  s.users_started = count_of(total_, "users_count");
  s.users_finished = count_of(total_, "finish_users_count");
  s.requests = count_of(total_, "request");
  s.request_rate = stopping_ || finished_ ? 0 : request_rate_;
  for (const auto& [name, metric] : total_.sorted()) {
    if (!name.starts_with("error_") || metric->count == 0) continue;
    s.errors += metric->count;
    s.errors_by_name[name] = metric->count;
  }
  for (const AgentRecord& a : agents_) {
    double silent = a.last_heard == SteadyClock::time_point{} ? 0 : seconds_between(a.last_heard, now);
    s.agents.push_back({a.plan.slot.id, a.plan.slot.host, state_name(a.state), silent});
  }
  for (std::size_t i = 0; i < agents_.size(); ++i) {
    const AgentRecord& a = agents_[i];
    control::AgentStatus& row = s.agents[i];
    row.hostname = a.hostname;
    row.users = a.users;
    row.request_rate = a.state == AgentState::running ? a.request_rate : 0;
    row.cpu = a.cpu;
    row.share = a.plan.slot.monitor_only ? 0 : a.share;
  }
  auto copy = [](control::LatencyStatus& to, const control::Percentiles& from) { to = {from.count, from.p50, from.p95, from.p99}; };
  if (finished_) {  // the whole run's percentiles once it is over
    Metric transactions;
    transactions.kind = MetricKind::sample;
    for (MetricId id = 0; id < total_.size(); ++id)
      if (total_.name(id).starts_with("tr_") && total_.metric(id).kind == MetricKind::sample) transactions.merge(total_.metric(id));
    if (const Metric* m = total_.find("request")) copy(s.request, control::percentiles_of(*m));
    if (const Metric* m = total_.find("page")) copy(s.page, control::percentiles_of(*m));
    copy(s.transaction, control::percentiles_of(transactions));
  } else if (!live_.points().empty()) {
    const control::LivePoint& p = live_.points().back();
    copy(s.request, p.request);
    copy(s.page, p.page);
    copy(s.transaction, p.transaction);
  }
  // Host monitors: the mean of the last second that had samples ({cpu,"h"} every 2 s), else the run's.
  std::string kind, host;
  for (const auto& [name, m] : total_.sorted()) {
    if (m->kind != MetricKind::sample || !control::split_monitor_name(name, kind, host)) continue;
    if (kind != "cpu" && kind != "freemem" && kind != "load") continue;  // the columns shown ({agentcpu,...} is no host)
    auto it = std::find_if(s.monitors.begin(), s.monitors.end(), [&](const auto& x) { return x.host == host; });
    if (it == s.monitors.end()) it = s.monitors.insert(s.monitors.end(), control::MonitorStatus{host});
    const Metric* recent = last_second_.find(name);
    double v = (recent && recent->count ? recent : m)->mean();
    if (kind == "cpu") it->cpu = v;
    else if (kind == "freemem") it->freemem = v;
    else if (kind == "load") it->load = v;
  }
  s.rate_factor = rate_factor_;
  s.arrivals_paused = arrivals_paused_;
  s.dashboard = dashboard_url_;
  // Relative on the dashboard: its URL may name the bind address (0.0.0.0), not one a browser reaches.
  if (!report_path_.empty()) s.report = dashboard_url_.empty() ? report_path_ : "/report";
  s.stop_reason = stop_reason_;
  s.exit_status = exit_status_;
  return s;
}

}  // namespace loadctl::controller
