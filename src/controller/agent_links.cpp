// The controller's side of its agents: launching or dialing them, the hello handshake, maxusers
// overflow agents, and child processes that exit. The run itself is in controller.cpp.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/handshake.hpp"
#include "controller/controller.hpp"
#include "controller/launcher.hpp"

namespace loadctl::controller {

namespace asio = boost::asio;
using control::MsgType;
using SteadyClock = std::chrono::steady_clock;

void Controller::launch_agents() {
  agent_path_ = find_agent_binary();
  unsigned local_agents = 0;
  for (const AgentRecord& a : agents_) local_agents += a.plan.slot.local && !a.plan.slot.monitor_only;
  agent_threads_ = options_.threads;
  if (agent_threads_ == 0) agent_threads_ = std::max(1u, std::thread::hardware_concurrency() / std::max(1u, local_agents));
  dial_back_ = options_.controller_ip;
  if (dial_back_.empty()) dial_back_ = acceptor_.local_endpoint().address().to_string();
  if (dial_back_ == "0.0.0.0" || dial_back_ == "::") {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    dial_back_ = name;
  }
  for (AgentRecord& agent : agents_) {
    if (!agent.plan.slot.monitor_only) {
      launch_agent(agent);
      continue;
    }
    try {
      launch_agent(agent);
    } catch (const std::exception& e) {
      on_agent_lost(agent, fmt::format("could not start it: {}", e.what()));
    }
  }
}

bool Controller::is_direct(const AgentSlot& slot) const {
  return dials_listening_agent(slot, options_.remote_shell, options_.direct_hosts);
}

bool Controller::controller_on_loopback() const {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(dial_back_, ec);
  if (ec) return dial_back_ == "localhost";
  return address.is_loopback();
}

void Controller::launch_agent(AgentRecord& agent) {
  const AgentSlot& slot = agent.plan.slot;
  agent.last_heard = SteadyClock::now();
  if (is_direct(slot)) {
    agent.token = options_.token;
    dial_agent(agent);
    return;
  }
  LaunchSpec spec;
  spec.agent_path = agent_path_;
  if (!slot.local) {
    spec.remote_shell = options_.remote_shell;
    spec.host = slot.address;
  }
  // The slot's token goes to the command's stdin, never on a command line (/proc/PID/cmdline).
  if (agent.token.empty()) agent.token = control::random_token();
  spec.stdin_text = agent.token + "\n";
  bool v6_literal = dial_back_.find(':') != std::string::npos;
  std::string host = v6_literal ? "[" + dial_back_ + "]" : dial_back_;
  spec.agent_args = {"--controller", fmt::format("{}:{}", host, acceptor_.local_endpoint().port()),
                     "--token-stdin", "--id", std::to_string(slot.id), "--threads", std::to_string(agent_threads_)};
  // The trust rule for local effects (<shell>, <fs>, shipped plugins; docs/security.md): an agent
  // this controller starts on its own host or over ssh runs with the rights of the user who
  // started the run, who has a shell there anyway; one started through rsh_daemon.sh (which runs
  // nothing but loadagent, and refuses this flag) never does.
  if (slot.local || std::filesystem::path(options_.remote_shell).filename() == "ssh")
    spec.agent_args.push_back("--allow-local");
  spec.log_path = fmt::format("{}/agent-{}.log", options_.run_dir, slot.id);
  agent.pid = launch(spec);
  spdlog::info("{} {} on {} launched (pid {}{})", slot.monitor_only ? "monitor agent" : "agent", slot.id, slot.host,
               agent.pid, slot.local ? "" : ", via " + options_.remote_shell);
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
  // Steering goes on with the arrivals: the predecessor's factor and pause, not the run-wide ones.
  agent.rate_factor = from.rate_factor;
  agent.paused = from.paused;
  if (started_) from.handed_over_at = std::max(0.0, seconds_between(zero_, std::chrono::steady_clock::now()));
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
  unsigned id = slot.id;
  agent.last_heard = SteadyClock::now();
  std::uint16_t port = agent.dial_port ? agent.dial_port : options_.agent_port;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(slot.address, ec);
  if (!ec) return connect_agent(id, asio::ip::tcp::endpoint(address, port));
  // A name: resolved without blocking the controller (add-agent dials mid-run).
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(ctx_);
  resolver->async_resolve(slot.address, std::to_string(port),
                          [this, resolver, id](const boost::system::error_code& e, asio::ip::tcp::resolver::results_type results) {
                            if (finished_ || agents_[id].state != AgentState::launching) return;
                            if (e || results.empty())
                              return setup_problem(agents_[id], fmt::format("cannot resolve client host '{}': give its address with hostip=\"...\"",
                                                                            agents_[id].plan.slot.address));
                            connect_agent(id, results.begin()->endpoint());
                          });
}

void Controller::connect_agent(unsigned id, asio::ip::tcp::endpoint endpoint) {
  auto socket = std::make_shared<asio::ip::tcp::socket>(ctx_);
  spdlog::info("agent {}: dialing the listening agent at {}", id, fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port()));
  socket->async_connect(endpoint, [this, socket, id, endpoint](const boost::system::error_code& e) {
    if (finished_ || agents_[id].state != AgentState::launching) return;
    if (e) {
      setup_problem(agents_[id], fmt::format("cannot reach the agent for client {} at {}:{}: {} (is `loadagent --listen {}` running there?)",
                             agents_[id].plan.slot.host, endpoint.address().to_string(), endpoint.port(), e.message(),
                             endpoint.port()));
      return;
    }
    on_dialed(agents_[id], std::make_shared<control::Channel>(std::move(*socket)));
  });
}

void Controller::on_dialed(AgentRecord& agent, std::shared_ptr<control::Channel> channel) {
  std::weak_ptr<control::Channel> weak = channel;
  std::string where = fmt::format("{} {} at {}", agent.plan.slot.monitor_only ? "monitor agent for" : "agent for client",
                                  agent.plan.slot.host, channel->peer());
  unsigned id = agent.plan.slot.id;
  channel->start(
      [this, weak, where, id](MsgType type, std::string_view payload) {
        auto ch = weak.lock();
        if (!ch) return;
        if (type == MsgType::hello) return on_hello(ch, payload, id);
        if (type == MsgType::reject)
          return setup_problem(agents_[id], fmt::format("{} refused this controller: {}", where,
                                                        control::decode_text(payload).value_or("?")));
        ch->close("protocol violation");
        setup_problem(agents_[id], fmt::format("{}: expected hello, got {}", where, control::to_string(type)));
      },
      [this, where, id](const std::string& reason) {
        // Before its hello only: on_hello rebinds the channel to the agent's own handlers.
        if ((!started_ || agents_[id].added) && !finished_)
          setup_problem(agents_[id], fmt::format("{} closed the connection: {}", where, reason));
      });
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  control::Hello hello;
  hello.token = agent.token;
  hello.agent_id = agent.plan.slot.id;
  hello.hostname = name;
  hello.pid = static_cast<std::uint32_t>(getpid());
  hello.software_version = LOADCTL_VERSION;
  channel->send(MsgType::hello, hello.encode());
}

void Controller::on_accept(asio::ip::tcp::socket socket) {
  auto ticket = pending_.enter();
  if (!ticket) {  // too many connections without a verified hello: close this one at once
    ++full_refusals_;
    if (SteadyClock::now() - last_full_log_ >= control::kAcceptLogInterval) {
      spdlog::warn("control port: {} connections without a verified hello; closed {} new connection(s)",
                   control::kMaxUnauthenticated, full_refusals_);
      last_full_log_ = SteadyClock::now();
      full_refusals_ = 0;
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  // Until its hello is verified the connection belongs to nobody: small frames only (Channel),
  // kHelloTimeout, and one of the kMaxUnauthenticated tickets, released by rebind or close.
  auto channel = std::make_shared<control::Channel>(std::move(socket));
  std::weak_ptr<control::Channel> weak = channel;
  auto timer = std::make_shared<asio::steady_timer>(ctx_, control::kHelloTimeout);
  timer->async_wait([weak](const boost::system::error_code& ec) {
    auto ch = weak.lock();
    if (ec || !ch || !ch->open() || ch->trusted()) return;
    spdlog::warn("{}: refused: no hello within {} s", ch->peer(), control::kHelloTimeout.count());
    ch->close("hello timeout");
  });
  channel->start(
      [this, weak, ticket, timer](MsgType type, std::string_view payload) {
        auto ch = weak.lock();
        if (!ch) return;
        timer->cancel();
        if (type != MsgType::hello) {
          spdlog::warn("{}: refused: expected hello, got {}", ch->peer(), control::to_string(type));
          ch->close("protocol violation");
          return;
        }
        on_hello(ch, payload, std::nullopt);
      },
      [ticket, timer](const std::string&) { timer->cancel(); });
}

void Controller::refuse(const std::shared_ptr<control::Channel>& channel, const std::string& reason) {
  spdlog::warn("{}: refused: {}", channel->peer(), reason);
  channel->rebind([](MsgType, std::string_view) {}, [](const std::string&) {});
  channel->send(MsgType::reject, control::encode_text(reason));
  channel->close_after_flush();
}

// dialed_id: the slot of a listening agent this controller dialed; nullopt for a connection
// accepted on the control port (a launched agent dialing back).
std::optional<std::string> Controller::check_hello(const control::Hello& hello, std::optional<unsigned> dialed_id) const {
  control::SlotClaim slot;
  if (hello.agent_id < agents_.size()) {
    const AgentRecord& agent = agents_[hello.agent_id];
    slot.exists = true;
    slot.dial_only = agent.dial_port != 0 || is_direct(agent.plan.slot);
    slot.token = agent.token;
    slot.claimed = agent.state != AgentState::launching;  // connected once: claimed for good
  }
  return control::check_agent_hello(hello, dialed_id, slot);
}

void Controller::on_hello(const std::shared_ptr<control::Channel>& channel, std::string_view payload,
                          std::optional<unsigned> dialed_id) {
  auto hello = control::Hello::decode(payload);
  if (!hello) return refuse(channel, "malformed hello (not a loadctl agent?)");
  if (auto reason = check_hello(*hello, dialed_id)) {
    refuse(channel, *reason);
    if (dialed_id) setup_problem(agents_[*dialed_id], fmt::format("agent for client {} at {}: {}", agents_[*dialed_id].plan.slot.host, channel->peer(), *reason));
    return;
  }

  AgentRecord& agent = agents_[hello->agent_id];
  if (agent.added) {  // the split may have become unchangeable while it was starting
    if (auto why = why_not_rebalance(&agent)) {
      refuse(channel, *why);
      return drop_added_agent(agent, *why);
    }
  }
  agent.state = AgentState::connected;
  agent.channel = channel;
  agent.hostname = hello->hostname;
  agent.facts = hello->facts;
  agent.last_heard = SteadyClock::now();
  unsigned id = hello->agent_id;
  channel->trust();
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
  if (agent.added) plan_added_agent(agent);  // the run's schedule from now on; its share at on_ready
  setup.plan = agent.plan.encode();
  setup.threads = options_.threads;
  setup.agent_count = initial_agents_;  // overflow agents share their parent's data slot
  setup.files = scenario_.files;
  setup.plugins = options_.plugins;
  setup.exclude_tags = options_.exclude_tags;
  setup.ssl_session_lifetime = options_.ssl_session_lifetime;
  setup.arrival_lag_limit = options_.arrival_lag_limit;
  channel->send(MsgType::setup, setup.encode());
  spdlog::info("agent {} connected from {} ({}, pid {})", id, channel->peer(), hello->hostname, hello->pid);
}

std::string describe_exit(int status) {
  return WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                             : fmt::format("exited with status {}", WEXITSTATUS(status));
}

// A process that ends after its agent was done, failed or lost: a non-zero status is logged and,
// for a lost agent (first lost through its connection), added to the reason.
void Controller::note_process_exit(AgentRecord& agent, int status) {
  if (status == 0) return;
  std::string how = describe_exit(status);
  spdlog::warn("agent {} process {} (see agent-{}.log)", agent.plan.slot.id, how, agent.plan.slot.id);
  if (agent.state == AgentState::lost) agent.failure += fmt::format("; process {}", how);
}

// At the end: agents get a moment to exit on their own, then none is left behind.
void Controller::reap_agents() {
  auto deadline = SteadyClock::now() + std::chrono::seconds(3);
  for (AgentRecord& agent : agents_) {
    while (agent.pid > 0 && SteadyClock::now() < deadline) {
      int status = 0;
      if (waitpid(agent.pid, &status, WNOHANG) == agent.pid) {
        agent.pid = 0;
        note_process_exit(agent, status);
      } else {
        ctx_.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    if (agent.pid > 0) {
      kill(agent.pid, SIGKILL);
      waitpid(agent.pid, nullptr, 0);
      agent.pid = 0;
    }
  }
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
        if (agent.state == AgentState::done || agent.state == AgentState::failed || agent.state == AgentState::lost) {
          note_process_exit(agent, status);
          break;
        }
        on_agent_lost(agent, fmt::format("process {} (see agent-{}.log)", describe_exit(status), agent.plan.slot.id));
      }
    }
    on_child_exit();
  });
}

}  // namespace loadctl::controller
