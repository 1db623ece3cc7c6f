#include "controller/controller.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/handshake.hpp"
#include "controller/launcher.hpp"
#include "controller/run_json.hpp"

namespace loadctl::controller {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using control::MsgType;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kTickPeriod = 1s;
constexpr auto kAgentSilence = 10s;     // no frame from a running agent: it is lost
constexpr auto kStopGrace = 5s;         // after Stop, how long agents get to send final stats

std::string random_token() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}

double seconds_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

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

}  // namespace

Controller::Controller(ControllerOptions options, Scenario scenario)
    : options_(std::move(options)),
      scenario_(std::move(scenario)),
      acceptor_(ctx_),
      stop_signals_(ctx_, SIGINT, SIGTERM),
      child_signal_(ctx_, SIGCHLD),
      tick_timer_(ctx_),
      token_(options_.token.empty() ? random_token() : options_.token),
      console_(options_.quiet, planned_duration(scenario_)) {}

int Controller::run() {
  auto slots = plan_slots(scenario_);
  std::uint64_t seed = scenario_.options.seed.value_or(std::random_device{}());
  initial_agents_ = static_cast<std::uint32_t>(slots.size());
  for (AgentPlan& plan : plan_run(scenario_, slots, seed)) {
    AgentRecord record;
    record.plan = std::move(plan);
    agents_.push_back(std::move(record));
  }
  bool all_local = std::all_of(agents_.begin(), agents_.end(), [](const AgentRecord& a) { return a.plan.slot.local; });
  // A listening agent's host cannot be asked for another process: it keeps all its users.
  for (AgentRecord& a : agents_)
    if (is_direct(a.plan.slot)) a.plan.slot.maxusers = 0;
  std::string bind_ip = !options_.controller_ip.empty() ? options_.controller_ip : all_local ? "127.0.0.1" : "0.0.0.0";
  boost::system::error_code ec;
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(bind_ip, ec), options_.control_port);
  if (ec) {
    console_.notice(fmt::format("error: bad controller address '{}' (-F)", bind_ip));
    return 2;
  }
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    console_.notice(fmt::format("error: cannot listen for agents on {}:{}: {}", bind_ip, options_.control_port, ec.message()));
    return 2;
  }
  spdlog::info("control socket on {}:{}", bind_ip, acceptor_.local_endpoint().port());

  stop_signals_.async_wait([this](const boost::system::error_code& e, int sig) {
    if (e) return;
    console_.notice(fmt::format("\nsignal {}: stopping agents and writing the final statistics", sig));
    if (exit_status_ == 0) exit_status_ = 128 + sig;
    stop_agents(fmt::format("signal {}", sig));
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
  accept_next();
  tick();
  ctx_.run();
  return exit_status_;
}

void Controller::launch_agents() {
  agent_path_ = find_agent_binary();
  unsigned local_agents = 0;
  for (const AgentRecord& a : agents_) local_agents += a.plan.slot.local;
  agent_threads_ = options_.threads;
  if (agent_threads_ == 0) agent_threads_ = std::max(1u, std::thread::hardware_concurrency() / std::max(1u, local_agents));
  dial_back_ = options_.controller_ip;
  if (dial_back_.empty()) dial_back_ = acceptor_.local_endpoint().address().to_string();
  if (dial_back_ == "0.0.0.0") {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    dial_back_ = name;
  }
  for (AgentRecord& agent : agents_) launch_agent(agent);
}

bool Controller::is_direct(const AgentSlot& slot) const {
  return !slot.local && options_.remote_shell == "direct";
}

void Controller::launch_agent(AgentRecord& agent) {
  const AgentSlot& slot = agent.plan.slot;
  agent.last_heard = SteadyClock::now();
  if (is_direct(slot)) {
    dial_agent(agent);
    return;
  }
  LaunchSpec spec;
  spec.agent_path = agent_path_;
  if (!slot.local) {
    spec.remote_shell = options_.remote_shell;
    spec.host = slot.address;
  }
  spec.agent_args = {"--controller", fmt::format("{}:{}", dial_back_, acceptor_.local_endpoint().port()),
                     "--token", token_, "--id", std::to_string(slot.id), "--threads", std::to_string(agent_threads_)};
  spec.log_path = fmt::format("{}/agent-{}.log", options_.run_dir, slot.id);
  agent.pid = launch(spec);
  spdlog::info("agent {} on {} launched (pid {}{})", slot.id, slot.host, agent.pid,
               slot.local ? "" : ", via " + options_.remote_shell);
}

// An agent reached maxusers (Tsung's semantics): start another agent on the same host for the
// arrivals it gave up; it joins at the run's time zero, already past.
void Controller::on_handover(AgentRecord& from, std::string_view payload) {
  auto plan = AgentPlan::decode(payload);
  if (!plan || stopping_) {
    if (!plan) spdlog::warn("agent {}: malformed handover ignored", from.plan.slot.id);
    return;
  }
  unsigned from_id = from.plan.slot.id;
  AgentRecord& agent = agents_.emplace_back();  // a deque: `from` stays valid
  agent.plan = std::move(*plan);
  agent.plan.slot.id = static_cast<unsigned>(agents_.size() - 1);
  agent.plan.seed = from.plan.seed ^ (0x9e3779b97f4a7c15ULL * (agent.plan.slot.id + 1));
  agent.plan.first_user_id = (std::uint64_t{agent.plan.slot.id} << 40) + 1;
  console_.info(fmt::format("agent {} on {} reached maxusers ({}): starting agent {} for the rest of its arrivals",
                            from_id, agent.plan.slot.host, agent.plan.slot.maxusers, agent.plan.slot.id));
  spdlog::info("agent {} reached maxusers {}: agent {} takes {} phase share(s)", from_id, agent.plan.slot.maxusers,
               agent.plan.slot.id, agent.plan.phases.size());
  try {
    launch_agent(agent);
  } catch (const std::exception& e) {
    on_agent_lost(agent, fmt::format("could not start the overflow agent: {}", e.what()));
  }
}

// IP-direct: the agent already listens (`loadagent --listen`); the controller dials it and speaks
// first, proving it knows the token; the agent answers with its own hello.
void Controller::dial_agent(AgentRecord& agent) {
  const AgentSlot& slot = agent.plan.slot;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(slot.address, ec);
  if (ec) {
    asio::ip::tcp::resolver resolver(ctx_);
    auto results = resolver.resolve(slot.address, std::to_string(options_.agent_port), ec);
    if (ec || results.empty())
      throw std::runtime_error(fmt::format("cannot resolve client host '{}': give its address with hostip=\"...\"", slot.address));
    address = results.begin()->endpoint().address();
  }
  asio::ip::tcp::endpoint endpoint(address, options_.agent_port);
  auto socket = std::make_shared<asio::ip::tcp::socket>(ctx_);
  unsigned id = slot.id;
  agent.last_heard = SteadyClock::now();
  spdlog::info("agent {}: dialing the listening agent at {}", id, fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port()));
  socket->async_connect(endpoint, [this, socket, id, endpoint](const boost::system::error_code& e) {
    if (finished_) return;
    if (e) {
      fail_setup(fmt::format("cannot reach the agent for client {} at {}:{}: {} (is `loadagent --listen {}` running there?)",
                             agents_[id].plan.slot.host, endpoint.address().to_string(), endpoint.port(), e.message(),
                             endpoint.port()));
      return;
    }
    on_dialed(agents_[id], std::make_shared<control::Channel>(std::move(*socket)));
  });
}

void Controller::on_dialed(AgentRecord& agent, std::shared_ptr<control::Channel> channel) {
  std::weak_ptr<control::Channel> weak = channel;
  std::string where = fmt::format("agent for client {} at {}", agent.plan.slot.host, channel->peer());
  channel->start(
      [this, weak, where](MsgType type, std::string_view payload) {
        auto ch = weak.lock();
        if (!ch) return;
        if (type == MsgType::hello) return on_hello(ch, payload);
        if (type == MsgType::reject)
          return fail_setup(fmt::format("{} refused this controller: {}", where, control::decode_text(payload).value_or("?")));
        ch->close("protocol violation");
        fail_setup(fmt::format("{}: expected hello, got {}", where, control::to_string(type)));
      },
      [this, where](const std::string& reason) {
        if (!started_ && !finished_) fail_setup(fmt::format("{} closed the connection: {}", where, reason));
      });
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  control::Hello hello;
  hello.token = token_;
  hello.agent_id = agent.plan.slot.id;
  hello.hostname = name;
  hello.pid = static_cast<std::uint32_t>(getpid());
  hello.software_version = LOADCTL_VERSION;
  channel->send(MsgType::hello, hello.encode());
}

void Controller::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) return;  // acceptor closed
    on_accept(std::make_shared<control::Channel>(std::move(socket)));
    accept_next();
  });
}

void Controller::on_accept(std::shared_ptr<control::Channel> channel) {
  // Until Hello names an agent, the connection belongs to nobody.
  std::weak_ptr<control::Channel> weak = channel;
  channel->start(
      [this, weak](MsgType type, std::string_view payload) {
        auto ch = weak.lock();
        if (!ch) return;
        if (type != MsgType::hello) {
          spdlog::warn("{}: refused: expected hello, got {}", ch->peer(), control::to_string(type));
          ch->close("protocol violation");
          return;
        }
        on_hello(ch, payload);
      },
      [](const std::string&) {});
}

void Controller::on_hello(const std::shared_ptr<control::Channel>& channel, std::string_view payload) {
  auto hello = control::Hello::decode(payload);
  auto refuse = [&](const std::string& reason) {
    spdlog::warn("{}: refused: {}", channel->peer(), reason);
    channel->send(MsgType::reject, control::encode_text(reason));
    channel->close_after_flush();
  };
  if (!hello) return refuse("malformed hello (not a loadctl agent?)");
  if (hello->version != control::kProtocolVersion)
    return refuse(fmt::format("protocol version {} is not {} (agent {} vs controller {}): install the same loadctl version",
                              hello->version, control::kProtocolVersion, hello->software_version, LOADCTL_VERSION));
  if (!control::constant_time_equal(hello->token, token_)) return refuse("wrong token");
  if (hello->agent_id >= agents_.size()) return refuse(fmt::format("unknown agent id {}", hello->agent_id));
  AgentRecord& agent = agents_[hello->agent_id];
  if (agent.state != AgentState::launching) return refuse(fmt::format("agent {} is already connected", hello->agent_id));

  agent.state = AgentState::connected;
  agent.channel = channel;
  agent.hostname = hello->hostname;
  agent.last_heard = SteadyClock::now();
  unsigned id = hello->agent_id;
  channel->rebind(
      [this, id](MsgType type, std::string_view body) { on_message(agents_[id], type, body); },
      [this, id](const std::string& reason) {
        AgentRecord& a = agents_[id];
        if (a.state != AgentState::done && a.state != AgentState::failed) on_agent_lost(a, reason);
      });
  channel->send(MsgType::welcome);
  control::Setup setup;
  setup.scenario_name = scenario_.path;
  setup.scenario_text = scenario_.text;
  setup.plan = agent.plan.encode();
  setup.threads = options_.threads;
  setup.agent_count = initial_agents_;  // overflow agents share their parent's data slot
  setup.files = scenario_.files;
  channel->send(MsgType::setup, setup.encode());
  spdlog::info("agent {} connected from {} ({}, pid {})", id, channel->peer(), hello->hostname, hello->pid);
}

void Controller::on_message(AgentRecord& agent, MsgType type, std::string_view payload) {
  agent.last_heard = SteadyClock::now();
  switch (type) {
    case MsgType::ready: on_ready(agent); break;
    case MsgType::setup_failed:
      agent.state = AgentState::failed;
      agent.failure = control::decode_text(payload).value_or("?");
      fail_setup(fmt::format("agent {} on {} could not set up: {}", agent.plan.slot.id, agent.plan.slot.host, agent.failure));
      break;
    case MsgType::stats: on_stats(agent, payload); break;
    case MsgType::done: on_done(agent); break;
    case MsgType::handover: on_handover(agent, payload); break;
    case MsgType::log:  // a listening agent's log: its stderr is on its own host
      if (auto text = control::decode_text(payload))
        std::ofstream(fmt::format("{}/agent-{}.log", options_.run_dir, agent.plan.slot.id), std::ios::app) << *text;
      break;
    case MsgType::heartbeat: break;
    default:
      spdlog::warn("agent {}: unexpected {} message: dropping the agent", agent.plan.slot.id, control::to_string(type));
      agent.channel->close("protocol violation");
  }
}

void Controller::on_ready(AgentRecord& agent) {
  agent.state = AgentState::ready;
  spdlog::info("agent {} ready", agent.plan.slot.id);
  if (started_) {  // a late agent (maxusers overflow): same time zero as the others
    control::Go go;
    go.delay = seconds_between(SteadyClock::now(), zero_);
    agent.state = AgentState::running;
    agent.channel->send(MsgType::go, go.encode());
    return;
  }
  bool all_ready = std::all_of(agents_.begin(), agents_.end(), [](const AgentRecord& a) { return a.state == AgentState::ready; });
  if (all_ready && !started_ && !stopping_) go();
}

void Controller::go() {
  started_ = true;
  control::Go go;
  go.delay = options_.warmup;
  auto delay = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options_.warmup));
  zero_ = SteadyClock::now() + delay;
  start_wall_ = std::time(nullptr) + static_cast<std::time_t>(options_.warmup + 0.5);
  next_dump_ = zero_ + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options_.dump_interval));
  tsung_log_ = std::make_unique<TsungLogWriter>(options_.run_dir + "/tsung.log", start_wall_);
  jsonl_ = std::make_unique<StatsJsonlWriter>(options_.run_dir + "/stats.jsonl", start_wall_);
  for (AgentRecord& agent : agents_) {
    agent.state = AgentState::running;
    agent.channel->send(MsgType::go, go.encode());
  }
  console_.info(fmt::format("{} agent(s) ready; load starts", agents_.size()));
  spdlog::info("all {} agents ready; time zero in {:.3f} s", agents_.size(), options_.warmup);
}

void Controller::on_stats(AgentRecord& agent, std::string_view payload) {
  MetricSet delta;
  if (!delta.decode(payload)) {
    spdlog::warn("agent {}: malformed stats frame ignored", agent.plan.slot.id);
    return;
  }
  interval_.merge(delta);
  total_.merge(delta);
}

void Controller::on_done(AgentRecord& agent) {
  agent.state = AgentState::done;
  spdlog::info("agent {} finished", agent.plan.slot.id);
  agent.channel->send(MsgType::bye);
  agent.channel->close_after_flush();
  check_end();
}

void Controller::on_agent_lost(AgentRecord& agent, const std::string& reason) {
  if (agent.state == AgentState::lost || finished_) return;
  AgentState was = agent.state;
  agent.state = AgentState::lost;
  agent.failure = reason;
  std::string text = fmt::format("agent {} on {} lost ({}): {}", agent.plan.slot.id, agent.plan.slot.host,
                                 state_name(was), reason);
  console_.notice("warning: " + text + "; the run goes on with the others");
  spdlog::error("{}", text);
  if (agent.channel) agent.channel->close("lost");
  if (!started_) {
    fail_setup(text);
    return;
  }
  MetricSet lost;
  lost.add(lost.intern("error_agent_lost", MetricKind::counter));
  interval_.merge(lost);
  total_.merge(lost);
  check_end();
}

void Controller::on_child_exit() {
  child_signal_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (AgentRecord& agent : agents_) {
        if (agent.pid != pid) continue;
        agent.pid = 0;
        if (agent.state == AgentState::done || agent.state == AgentState::failed || agent.state == AgentState::lost) break;
        std::string how = WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                                              : fmt::format("exited with status {}", WEXITSTATUS(status));
        on_agent_lost(agent, fmt::format("process {} (see agent-{}.log)", how, agent.plan.slot.id));
      }
    }
    on_child_exit();
  });
}

void Controller::tick() {
  if (finished_) return;
  auto now = SteadyClock::now();
  if (!started_ && now > setup_deadline_) {
    std::string missing;
    for (const AgentRecord& a : agents_)
      if (a.state != AgentState::ready) missing += fmt::format(" {}@{} ({})", a.plan.slot.id, a.plan.slot.host, state_name(a.state));
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
      on_agent_lost(agent, fmt::format("no message for {} s", kAgentSilence.count()));
  }
  if (started_) {
    while (now >= next_dump_ && !finished_) {
      dump(false);
      next_dump_ += std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options_.dump_interval));
    }
    if (now >= zero_) console_.progress(seconds_between(zero_, now), total_);
  }
  if (stopping_ && now > stop_deadline_) {
    spdlog::warn("agents did not confirm the stop in time; finishing with what arrived");
    finish();
    return;
  }
  tick_timer_.expires_after(kTickPeriod);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void Controller::dump(bool final) {
  std::time_t now = final ? std::time(nullptr)
                          : start_wall_ + static_cast<std::time_t>(seconds_between(zero_, next_dump_) + 0.5);
  // Tsung's renderer ignores a dump stamped with the same second as the one before it.
  if (now <= last_dump_) now = last_dump_ + 1;
  last_dump_ = now;
  tsung_log_->dump(now, interval_);
  jsonl_->write_interval(now, interval_);
  interval_ = MetricSet();
}

void Controller::stop_agents(const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = why;
  stop_deadline_ = SteadyClock::now() + kStopGrace;
  spdlog::info("stopping agents: {}", why);
  for (AgentRecord& agent : agents_) {
    if (agent.channel && agent.channel->open()) agent.channel->send(MsgType::stop);
    else if (agent.pid > 0 && agent.state == AgentState::launching) kill(agent.pid, SIGTERM);
  }
  if (!started_) finish();
  else check_end();
}

void Controller::check_end() {
  bool all_over = std::all_of(agents_.begin(), agents_.end(), [](const AgentRecord& a) {
    return a.state == AgentState::done || a.state == AgentState::lost || a.state == AgentState::failed;
  });
  if (all_over) finish();
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
  if (started_) {
    dump(true);
    jsonl_->write_final(end_wall_);
    console_.summary(seconds_between(zero_, SteadyClock::now()), total_);
  }
  bool any_lost = std::any_of(agents_.begin(), agents_.end(), [](const AgentRecord& a) { return a.state == AgentState::lost; });
  if (exit_status_ == 0 && !started_) exit_status_ = 2;
  if (any_lost) spdlog::warn("some agents were lost during the run");
  for (AgentRecord& agent : agents_) {
    if (agent.channel && agent.channel->open()) {
      agent.channel->send(MsgType::bye);
      agent.channel->close_after_flush();
    }
  }
  write_run_json();
  // Give agents a moment to exit on their own, then make sure none is left behind.
  auto deadline = SteadyClock::now() + 3s;
  for (AgentRecord& agent : agents_) {
    while (agent.pid > 0 && SteadyClock::now() < deadline) {
      int status;
      if (waitpid(agent.pid, &status, WNOHANG) == agent.pid) agent.pid = 0;
      else {
        ctx_.poll();
        std::this_thread::sleep_for(20ms);
      }
    }
    if (agent.pid > 0) {
      kill(agent.pid, SIGKILL);
      waitpid(agent.pid, nullptr, 0);
      agent.pid = 0;
    }
  }
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  ctx_.stop();
}

void Controller::write_run_json() {
  RunSummary summary;
  summary.scenario = scenario_.path;
  summary.run_dir = options_.run_dir;
  summary.start = start_wall_;
  summary.end = end_wall_;
  summary.exit_status = exit_status_;
  summary.stop_reason = stop_reason_;
  for (const AgentRecord& agent : agents_)
    summary.agents.push_back({agent.plan.slot.id, agent.plan.slot.host, agent.hostname, state_name(agent.state), agent.failure});
  write_run_json_file(options_.run_dir + "/run.json", summary);
}

}  // namespace loadctl::controller
