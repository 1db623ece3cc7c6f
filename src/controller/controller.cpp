#include "controller/controller.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/handshake.hpp"
#include "controller/launcher.hpp"

namespace loadctl::controller {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using control::MsgType;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kTickPeriod = 1s;
constexpr auto kAgentSilence = 10s;     // no frame from a running agent: it is lost
constexpr auto kStopGrace = 5s;         // after Stop, how long agents get to send final stats
constexpr auto kMonitorWait = 5s;       // load agents ready: how long monitor agents may still take

}  // namespace

const char* state_name(AgentState s) {
  switch (s) {
    case AgentState::launching: return "launching";
    case AgentState::connected: return "connected";
    case AgentState::ready: return "ready";
    case AgentState::running: return "running";
    case AgentState::done: return "done";
    case AgentState::lost: return "lost";
    case AgentState::failed: return "failed";
  }
  return "?";
}

Controller::Controller(ControllerOptions options, Scenario scenario)
    : options_(std::move(options)),
      scenario_(std::move(scenario)),
      acceptor_(ctx_),
      stop_signals_(ctx_, SIGINT, SIGTERM),
      child_signal_(ctx_, SIGCHLD),
      tick_timer_(ctx_),
      accept_loop_(acceptor_, "control port", [this](asio::ip::tcp::socket socket) { on_accept(std::move(socket)); }),
      console_(options_.quiet, planned_duration(scenario_)) {}

// Binds the control port: --control-port, the first free port of -t..-T, or any free port.
bool Controller::listen_for_agents(const std::string& bind_ip) {
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(bind_ip, ec);
  if (ec) {
    console_.notice(fmt::format("error: bad controller address '{}' (-I)", bind_ip));
    return false;
  }
  unsigned first = options_.control_port, last = std::max<unsigned>(first, options_.control_port_max);
  for (unsigned port = first; port <= last; ++port) {
    if (acceptor_.is_open()) acceptor_.close();
    asio::ip::tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true));
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) return true;
  }
  std::string ports = first == last ? std::to_string(first) : fmt::format("{}-{}", first, last);
  console_.notice(fmt::format("error: cannot listen for agents on {} port {}: {}", bind_ip, ports, ec.message()));
  return false;
}

int Controller::run() {
  auto slots = plan_slots(scenario_);
  std::uint64_t seed = scenario_.options.seed.value_or(std::random_device{}());
  initial_agents_ = static_cast<std::uint32_t>(slots.size());
  for (AgentPlan& plan : plan_run(scenario_, slots, seed)) {
    AgentRecord record;
    record.plan = std::move(plan);
    agents_.push_back(std::move(record));
  }
  // <monitor type="erlang"> hosts without a client: a monitor-only agent each (no users).
  for (AgentSlot& slot : plan_monitor_slots(scenario_, static_cast<unsigned>(agents_.size()))) {
    AgentRecord record;
    record.plan.slot = std::move(slot);
    agents_.push_back(std::move(record));
  }
  bool all_local = std::all_of(agents_.begin(), agents_.end(), [](const AgentRecord& a) { return a.plan.slot.local; });
  // A listening agent's host cannot be asked for another process: it keeps all its users.
  for (AgentRecord& a : agents_)
    if (is_direct(a.plan.slot)) a.plan.slot.maxusers = 0;
  std::string bind_ip = !options_.controller_ip.empty() ? options_.controller_ip
                        : options_.ipv6                   ? (all_local ? "::1" : "::")
                                                          : (all_local ? "127.0.0.1" : "0.0.0.0");
  if (!listen_for_agents(bind_ip)) return 2;
  spdlog::info("control socket on {}:{}", bind_ip, acceptor_.local_endpoint().port());

  open_control_socket();
  if (!open_dashboard()) return 2;
  stop_signals_.async_wait([this](const boost::system::error_code& e, int sig) {
    if (e) return;
    if (stopping_) {  // already stopping (loadctl stop, the end of the run): this signal forces the end
      console_.notice(fmt::format("\nsignal {} while stopping: finishing now", sig));
      if (exit_status_ == 0) exit_status_ = 128 + sig;
      return finish();
    }
    console_.notice(fmt::format("\nsignal {}: stopping agents and writing the final statistics", sig));
    interrupt(128 + sig, fmt::format("signal {}", sig));
    stop_signals_.async_wait([this](const boost::system::error_code& e2, int) {
      if (!e2) {
        console_.notice("second signal: finishing now");
        finish();
      }
    });
  });
  on_child_exit();
  setup_deadline_ = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                             std::chrono::duration<double>(options_.setup_timeout));
  try {
    launch_agents();
  } catch (const std::exception& e) {
    fail_setup(e.what());
  }
  accept_loop_.start();
  tick();
  ctx_.run();
  return exit_status_;
}

void Controller::on_message(AgentRecord& agent, MsgType type, std::string_view payload) {
  agent.last_heard = SteadyClock::now();
  if (agent.state == AgentState::lost) return on_late_message(agent, type, payload);
  switch (type) {
    case MsgType::ready: on_ready(agent); break;
    case MsgType::setup_failed:
      agent.state = AgentState::failed;
      setup_problem(agent, fmt::format("agent {} on {} could not set up: {}", agent.plan.slot.id, agent.plan.slot.host,
                                       control::decode_text(payload).value_or("?")));
      break;
    case MsgType::stats: on_stats(agent, payload); break;
    case MsgType::done: on_done(agent, payload); break;
    case MsgType::abort: on_test_abort(agent, payload); break;
    case MsgType::handover: on_handover(agent, payload); break;
    case MsgType::barrier: on_barrier(agent, payload); break;
    case MsgType::log:  // a listening agent's log: its stderr is on its own host
      if (auto text = control::decode_text(payload)) append_agent_log(agent, *text);
      break;
    case MsgType::heartbeat: break;
    default:
      spdlog::warn("agent {}: unexpected {} message: dropping the agent", agent.plan.slot.id, control::to_string(type));
      agent.channel->close("protocol violation");
  }
}

// An agent declared lost for its silence came back: it stays lost (the run's exit status says so)
// and was told to stop; its statistics still count, so tsung.log matches what the target served.
void Controller::on_late_message(AgentRecord& agent, MsgType type, std::string_view payload) {
  if (!agent.late_reported) {
    agent.late_reported = true;
    std::string text = fmt::format("agent {} on {} came back after being declared lost: it stays lost, is told to "
                                   "stop, and its late statistics are merged", agent.plan.slot.id, agent.plan.slot.host);
    console_.notice("warning: " + text);
    spdlog::warn("{}", text);
  }
  switch (type) {
    case MsgType::stats: on_stats(agent, payload); break;
    case MsgType::done:
      note_done_flags(agent, payload);
      spdlog::info("lost agent {} stopped; its final statistics are merged", agent.plan.slot.id);
      agent.channel->send(MsgType::bye);
      agent.channel->close_after_flush();
      break;
    case MsgType::log:
      if (auto text = control::decode_text(payload)) append_agent_log(agent, *text);
      break;
    case MsgType::abort: on_test_abort(agent, payload); break;  // its scenario's word still holds
    default: break;  // heartbeat; a handover from a lost agent is not acted upon
  }
}

void Controller::on_ready(AgentRecord& agent) {
  agent.state = AgentState::ready;
  spdlog::info("agent {} ready", agent.plan.slot.id);
  if (agent.added) {
    if (auto why = why_not_rebalance(&agent)) return drop_added_agent(agent, *why);
    // Its workers begin at factor 0 (the arrivals due so far were the others'), then take its
    // share from now on (join_added_agent): no catch-up, no user late.
    control::Go go;
    go.delay = seconds_between(SteadyClock::now(), zero_);
    agent.channel->send(MsgType::rate, control::encode_rate(0));
    agent.channel->send(MsgType::go, go.encode());
    join_added_agent(agent);
    agent.state = AgentState::running;
    agent.channel->send(MsgType::rate, control::encode_rate(wire_factor(agent)));
    spdlog::info("agent {} joined the running test at x{:.4g}", agent.plan.slot.id, wire_factor(agent));
    return;
  }
  if (started_) {  // a late agent (maxusers overflow): same time zero as the others
    control::Go go;
    go.delay = seconds_between(SteadyClock::now(), zero_);
    agent.state = AgentState::running;
    // Steered before it joined (its predecessor's steering): the factor first, so that its
    // workers begin at it.
    if (wire_factor(agent) != 1) agent.channel->send(MsgType::rate, control::encode_rate(wire_factor(agent)));
    agent.channel->send(MsgType::go, go.encode());
    return;
  }
  maybe_go();
}

// The load starts when every load agent is ready. Monitor agents still starting (a remote shell
// is slower than a fork) get up to kMonitorWait more, so that their samples cover time zero; one
// ready later still gets its go (on_ready), a lost one is not waited for.
void Controller::maybe_go() {
  if (started_ || stopping_ || finished_) return;
  auto ready = [](const AgentRecord& a) { return a.state == AgentState::ready; };
  bool load_ready = std::all_of(agents_.begin(), agents_.end(),
                                [&](const AgentRecord& a) { return a.plan.slot.monitor_only || ready(a); });
  if (!load_ready) return;
  bool monitors_settled = std::all_of(agents_.begin(), agents_.end(), [&](const AgentRecord& a) {
    return !a.plan.slot.monitor_only || ready(a) || a.state == AgentState::lost || a.state == AgentState::failed;
  });
  if (!preflight_done_) {
    preflight_done_ = true;
    if (!preflight_passes()) return;
  }
  auto now = SteadyClock::now();
  if (!monitors_ready_deadline_) {
    monitors_ready_deadline_ = now + kMonitorWait;
    if (!monitors_settled) spdlog::info("load agents ready; waiting up to {} s for the monitor agents", kMonitorWait.count());
  }
  if (monitors_settled || now >= *monitors_ready_deadline_) go();
}

// Every load agent is ready and none has a user yet: what the plan needs from each host against
// what its agents reported at hello (docs/capacity.md). Overflow agents (maxusers) are counted
// from the plan; their host's facts are the first agent's.
bool Controller::preflight_passes() {
  std::vector<AgentPlan> plans;
  std::map<std::string, HostFacts> facts;
  for (const AgentRecord& a : agents_) {
    if (a.plan.slot.monitor_only) continue;
    plans.push_back(a.plan);
    if (a.facts.known) facts.emplace(a.plan.slot.host, a.facts);
  }
  CapacityReport report = preflight(scenario_, plans, facts, options_.threads);
  std::string text = report.format(false);
  spdlog::info("capacity preflight:\n{}", text);
  if (!report.refused() && !report.tight()) return true;
  std::string problems = report.format(true);
  if (!problems.empty() && problems.back() == '\n') problems.pop_back();
  if (report.refused() && !options_.force) {
    fail_setup("capacity preflight: this plan cannot run on its hosts (no user started; --force runs it anyway):\n" +
               problems);
    return false;
  }
  std::string what = report.refused() ? "warning: capacity preflight (--force: running anyway):\n"
                                      : "warning: capacity preflight: limits above 80%:\n";
  console_.notice(what + problems);
  spdlog::warn("{}{}", what, problems);
  return true;
}

void Controller::go() {
  started_ = true;
  control::Go go;
  go.delay = options_.warmup;
  auto delay = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options_.warmup));
  zero_ = SteadyClock::now() + delay;
  start_wall_ = std::time(nullptr) + static_cast<std::time_t>(options_.warmup + 0.5);
  next_dump_ = zero_ + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options_.dump_interval));
  open_results();
  start_remote_monitors();
  std::size_t load_agents = 0, monitors_ready = 0, monitor_agents = 0;
  for (AgentRecord& agent : agents_) {
    load_agents += !agent.plan.slot.monitor_only;
    monitor_agents += agent.plan.slot.monitor_only;
    if (agent.state != AgentState::ready) continue;  // a monitor agent still starting, or lost
    monitors_ready += agent.plan.slot.monitor_only;
    agent.state = AgentState::running;
    agent.channel->send(MsgType::go, go.encode());
  }
  console_.info(monitor_agents == 0 ? fmt::format("{} agent(s) ready; load starts", load_agents)
                                    : fmt::format("{} agent(s) and {} of {} monitor agent(s) ready; load starts",
                                                  load_agents, monitors_ready, monitor_agents));
  spdlog::info("all {} agents ready, {} of {} monitor agent(s) (the others join when ready); time zero in {:.3f} s",
               load_agents, monitors_ready, monitor_agents, options_.warmup);
}

// <monitor type="munin"|"snmp"> and <mysqladmin>: polled at each dump boundary (Tsung: every 10 s), so each
// tsung.log interval holds one sample per host, or none when the host did not answer.
void Controller::start_remote_monitors() {
  auto interval = std::chrono::milliseconds(static_cast<long>(options_.dump_interval * 1000));
  monitors_ = std::make_unique<monitor::RemoteMonitors>(ctx_, scenario_.monitors, interval, [this](const MetricSet& s, SteadyClock::time_point started) {
    // A poll started at a boundary whose dump the 1 s tick has not made yet: dump first, so
    // its samples go to the interval it started in.
    dump_due(started);
    interval_.merge(s);
    total_.merge(s);
  });
  if (monitors_->size() > 0) spdlog::info("polling {} munin/snmp/mysqladmin monitor(s) every {} ms", monitors_->size(), interval.count());
  monitors_->start(zero_);
}

void Controller::on_stats(AgentRecord& agent, std::string_view payload) {
  MetricSet delta;
  if (!delta.decode(payload)) {
    spdlog::warn("agent {}: malformed stats frame ignored", agent.plan.slot.id);
    return;
  }
  interval_.merge(delta);
  total_.merge(delta);
  note_agent_stats(agent, delta);
}

void Controller::on_done(AgentRecord& agent, std::string_view payload) {
  note_done_flags(agent, payload);
  agent.state = AgentState::done;
  barriers_.drop(agent_index(agent));  // users it stopped while they waited
  spdlog::info("agent {} finished", agent.plan.slot.id);
  agent.channel->send(MsgType::bye);
  agent.channel->close_after_flush();
  check_end();
}

// Tsung counts one error_abort when its max duration or an abort of the whole test ends the
// run (ts_config_server -> ts_mon:abort): here, when any agent reports that its <load duration>
// cut users off, or that <abort type="all"> / <match do="abort_test"> stopped it.
void Controller::note_done_flags(const AgentRecord& agent, std::string_view payload) {
  auto done = control::Done::decode(payload);
  if (!done) {
    spdlog::warn("agent {}: malformed done message (its end is taken as clean)", agent.plan.slot.id);
    return;
  }
  if (done->hard_stopped) spdlog::info("agent {}: <load duration> cut its load short", agent.plan.slot.id);
  if (done->test_aborted) spdlog::info("agent {}: the test was aborted (abort type=\"all\" or abort_test)", agent.plan.slot.id);
  abort_reported_ = abort_reported_ || done->hard_stopped || done->test_aborted;
}

void Controller::on_agent_lost(AgentRecord& agent, const std::string& reason, bool silent) {
  if (agent.state == AgentState::lost || finished_) return;
  if (agent.added && agent.state != AgentState::running) return drop_added_agent(agent, reason);
  AgentState was = agent.state;
  agent.state = AgentState::lost;
  agent.failure = reason;
  if (agent.plan.slot.monitor_only) return on_monitor_agent_lost(agent, was);
  std::string text = fmt::format("agent {} on {} lost ({}): {}", agent.plan.slot.id, agent.plan.slot.host,
                                 state_name(was), reason);
  console_.notice("warning: " + text + "; the run goes on with the others");
  spdlog::error("{}", text);
  // A silent agent may only be stalled (SIGSTOP, a frozen VM): it is lost for good, but told to
  // stop, and what it sends if it comes back is merged (on_late_message), so nothing it measured
  // is dropped. Any other loss closes the connection.
  if (agent.channel && started_ && agent.channel->open() && was == AgentState::running && silent)
    agent.channel->send(MsgType::stop, control::Stop{"declared lost: " + reason}.encode());
  else if (agent.channel)
    agent.channel->close("lost");
  if (!started_) {
    fail_setup(text);
    return;
  }
  count_event("error_agent_lost");
  return_lost_share(agent);
  // Its users waiting at wait_global are gone: they no longer count toward a group (Tsung keeps
  // a dead user's pid in ts_timer's list, so a group could be completed by users that are gone).
  barriers_.drop(agent_index(agent));
  check_end();
}

// A monitor, not load: its loss is one warning (controller.log and console) and the run goes on;
// it neither fails the setup nor the run, nor counts as error_agent_lost.
void Controller::on_monitor_agent_lost(AgentRecord& agent, AgentState was) {
  const AgentSlot& slot = agent.plan.slot;
  std::string text = fmt::format("monitor agent {} for host {} lost ({}): {}; no more {{cpu,\"{}\"}} samples, the load "
                                 "goes on", slot.id, slot.host, state_name(was), agent.failure, slot.host);
  console_.notice("warning: " + text);
  spdlog::warn("{}", text);
  if (agent.channel) agent.channel->close("lost");
  if (agent.pid > 0 && was == AgentState::launching) kill(agent.pid, SIGTERM);
  maybe_go();
  check_end();
}

// Setup trouble of one agent: fails the setup, except for a monitor agent (lost, with a warning).
void Controller::setup_problem(AgentRecord& agent, const std::string& reason) {
  if (agent.added) return drop_added_agent(agent, reason);  // the run goes on without it
  if (!agent.plan.slot.monitor_only) return fail_setup(reason);
  if (agent.state == AgentState::lost) return;
  on_agent_lost(agent, reason);
}

// thinktime wait_global (Tsung's ts_timer): once global_number users of all agents wait, whole
// groups are released, the users reported first going first (BarrierBook), one release per agent.
// A report must be a plain count from a running agent; anything else is a protocol violation.
void Controller::on_barrier(AgentRecord& agent, std::string_view payload) {
  if (agent.state != AgentState::running) return;  // a stopped or finished agent's users are gone
  auto text = control::decode_text(payload);
  std::optional<std::uint64_t> count = text ? BarrierBook::parse_count(*text) : std::nullopt;
  if (!count || !barriers_.arrive(agent_index(agent), *count)) {
    spdlog::warn("agent {}: malformed wait_global count: dropping the agent", agent.plan.slot.id);
    agent.channel->close("protocol violation");
    return;
  }
  send_releases(barriers_.release());
  // Tsung's ts_timer: an arrival that leaves a group incomplete restarts global_ack_timeout (the
  // controller's default: 1 hour); when it expires the incomplete group goes and the next starts.
  if (barriers_.waiting() == 0) {
    barrier_timer_.cancel();
    return;
  }
  double timeout = scenario_.options.global_ack_timeout;
  barrier_timer_.expires_after(std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(timeout < 0 ? 3600.0 : timeout)));
  barrier_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) send_releases(barriers_.release_all());
  });
}

void Controller::send_releases(const std::vector<std::pair<std::size_t, std::uint64_t>>& releases) {
  for (auto [index, n] : releases) {
    AgentRecord& a = agents_[index];
    if (a.channel && a.channel->open()) a.channel->send(MsgType::release, control::encode_text(std::to_string(n)));
  }
}

std::size_t Controller::agent_index(const AgentRecord& agent) const {
  std::size_t i = 0;
  while (&agents_[i] != &agent) ++i;
  return i;
}

// A counter of the run itself (not of an agent's users), merged like an agent's delta.
void Controller::count_event(const std::string& name) {
  MetricSet event;
  event.add(event.intern(name, MetricKind::counter));
  interval_.merge(event);
  total_.merge(event);
}

void Controller::tick() {
  if (finished_) return;
  auto now = SteadyClock::now();
  maybe_go();  // monitor agents waited for long enough
  if (finished_) return;
  if (!started_ && now > setup_deadline_) {
    std::string missing;
    for (const AgentRecord& a : agents_)
      if (a.state != AgentState::ready && !a.plan.slot.monitor_only) missing += fmt::format(" {}@{} ({})", a.plan.slot.id, a.plan.slot.host, state_name(a.state));
    if (missing.empty()) {  // only monitor agents are missing: they do not hold the load back
      go();
      return tick_later();
    }
    fail_setup(fmt::format("agents not ready after {:.0f} s:{}; check the agent logs and that hosts can reach this controller", options_.setup_timeout, missing));
    return;
  }
  for (AgentRecord& agent : agents_) {
    if (started_ && agent.state == AgentState::launching &&
        now - agent.last_heard > std::chrono::duration<double>(options_.setup_timeout))
      on_agent_lost(agent, fmt::format("did not connect within {:.0f} s", options_.setup_timeout));
    if (agent.channel && agent.channel->open()) agent.channel->send(MsgType::heartbeat);
    if ((agent.state == AgentState::running || agent.state == AgentState::connected || agent.state == AgentState::ready) &&
        now - agent.last_heard > kAgentSilence)
      on_agent_lost(agent, fmt::format("no message for {} s", kAgentSilence.count()), /*silent=*/true);
  }
  if (started_) {
    std::uint64_t requests = total_.find("request") ? total_.find("request")->count : 0;
    // Over the last 5 s or more (agents report every 500 ms: one tick holds one to three deltas).
    rate_samples_.emplace_back(now, requests);
    while (rate_samples_.size() > 2 && now - rate_samples_[1].first >= kRateWindow) rate_samples_.pop_front();
    const auto& [oldest_at, oldest_requests] = rate_samples_.front();
    if (now > oldest_at) request_rate_ = static_cast<double>(requests - oldest_requests) / seconds_between(oldest_at, now);
    spdlog::debug("tick: {:.1f} s, {} requests, {:.1f} req/s", seconds_between(zero_, now), requests, request_rate_);
    sample_second(now);
    dump_due(now);
    if (now >= zero_) console_.progress(seconds_between(zero_, now), total_);
  }
  if ((stopping_ || monitors_stopping_) && now > stop_deadline_) {
    spdlog::warn("agents did not confirm the stop in time; finishing with what arrived");
    finish();
    return;
  }
  tick_later();
}

void Controller::tick_later() {
  tick_timer_.expires_after(kTickPeriod);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void Controller::dump_due(SteadyClock::time_point now) {
  while (now >= next_dump_ && !finished_) {
    dump(false);
    next_dump_ += std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options_.dump_interval));
  }
}

void Controller::stop_agents(const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = why;
  stop_deadline_ = SteadyClock::now() + kStopGrace;
  spdlog::info("stopping agents: {}", why);
  for (AgentRecord& agent : agents_) {
    if (agent.channel && agent.channel->open()) agent.channel->send(MsgType::stop, control::Stop{why}.encode());
    else if (agent.pid > 0 && agent.state == AgentState::launching) kill(agent.pid, SIGTERM);
  }
  if (!started_) finish();
  else check_end();
}

// The run ends when every load agent is over; monitor agents are then told to stop (they send
// their last sample and done) and get kStopGrace to do so.
void Controller::check_end() {
  auto over = [](const AgentRecord& a) {
    return a.state == AgentState::done || a.state == AgentState::lost || a.state == AgentState::failed;
  };
  // An added agent still joining does not hold the end back: once the others are over, it is dropped.
  auto joining = [](const AgentRecord& a) { return a.added && a.state != AgentState::running && !a.dropped; };
  bool load_over = std::all_of(agents_.begin(), agents_.end(),
                               [&](const AgentRecord& a) { return a.plan.slot.monitor_only || over(a) || joining(a); });
  if (!load_over) return;
  for (AgentRecord& a : agents_)
    if (joining(a) && !over(a)) forget_added_agent(a, "the load ended before it joined");
  if (std::all_of(agents_.begin(), agents_.end(), over)) return finish();
  if (monitors_stopping_ || stopping_) return;  // stop_agents already told them; tick() bounds the wait
  monitors_stopping_ = true;
  stop_deadline_ = SteadyClock::now() + kStopGrace;
  spdlog::info("load finished: stopping the monitor agents");
  for (AgentRecord& agent : agents_) {
    if (over(agent)) continue;
    if (agent.channel && agent.channel->open()) agent.channel->send(MsgType::stop, control::Stop{"the load is over"}.encode());
    else if (agent.pid > 0) kill(agent.pid, SIGTERM);
  }
}

void Controller::fail_setup(const std::string& reason) {
  console_.notice("error: " + reason);
  spdlog::error("{}", reason);
  exit_status_ = 2;
  if (!stopping_) stop_agents("setup failed");
  finish();
}

void Controller::finish() {
  if (finished_) return;
  finished_ = true;
  end_wall_ = std::time(nullptr);
  end_steady_ = SteadyClock::now();
  if (monitors_) monitors_->stop();
  if (started_ && abort_reported_) count_event("error_abort");  // see note_done_flags
  if (started_ && web_ && !second_.empty()) sample_second(SteadyClock::now());  // the series holds every delta
  if (started_) finish_results();
  if (exit_status_ == 0 && !started_) exit_status_ = 2;
  for (AgentRecord& agent : agents_) {
    if (agent.channel && agent.channel->open()) {
      agent.channel->send(MsgType::bye);
      agent.channel->close_after_flush();
    }
  }
  reap_agents();  // first, so that how a lost agent's process ended is in the report
  if (started_) judge_agent_losses();
  write_run_json();
  collect_match_log();
  collect_traffic_dump();
  if (started_) print_summary(seconds_between(zero_, SteadyClock::now()));
  final_status_ = true;  // the exit status is final: status says "finished" from now on
  // `stop` clients wait for the report: release_control_clients; -k keeps the socket for `stop`.
  if (control_server_ && !(web_ && options_.http_keep)) control_server_->finish();
  // Without -k nobody answers from here on (the report may take a while): refuse at once, not hang.
  if (web_ && !options_.http_keep) web_->close();
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  barrier_timer_.cancel();
  ctx_.stop();
}

// A run succeeds only if its planned load ran: an agent lost mid-run fails it (exit 2), unless
// the user accepts that with --tolerate-agent-loss and at least one agent finished.
void Controller::judge_agent_losses() {
  std::string lost;
  std::size_t count = 0, done = 0, load_agents = 0;
  for (const AgentRecord& a : agents_) {
    if (a.plan.slot.monitor_only) continue;  // reported when lost (on_monitor_agent_lost)
    ++load_agents;
    done += a.state == AgentState::done;
    if (a.state != AgentState::lost) continue;
    ++count;
    lost += fmt::format("\n  agent {} on {}: {}", a.plan.slot.id, a.plan.slot.host, a.failure);
  }
  if (count == 0) return;
  bool tolerated = options_.tolerate_agent_loss && done > 0;
  std::string text = fmt::format("{} of {} agent(s) lost during the run, so part of the planned load did not run:{}",
                                 count, load_agents, lost);
  if (tolerated) {
    console_.notice("warning: " + text + "\n(--tolerate-agent-loss: the run still counts as done)");
    spdlog::warn("{} (tolerated)", text);
    return;
  }
  console_.notice(fmt::format("error: {}\n{}", text,
                              done > 0 ? "(exit status 2; --tolerate-agent-loss accepts a partial run)"
                                       : "(exit status 2: no agent finished its share)"));
  spdlog::error("{}", text);
  if (exit_status_ == 0) exit_status_ = 2;
}

}  // namespace loadctl::controller
