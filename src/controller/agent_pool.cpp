// Agents added to or removed from a running test (`loadctl add-agent HOST[:PORT]`,
// `loadctl remove-agent N`, the dashboard's POST /api/add-agent and /api/remove-agent).
//
// The split of the arrivals is a share per agent (AgentRecord::share): an agent runs at
// rate_factor * share times its planned rate. An added agent gets the run's whole planned
// schedule from the moment it is set up, at share 1/(n+1) (n agents still starting users), and
// each of the others keeps (n/(n+1)) of its share: the planned total is unchanged, and so is the
// rate in force (the new agent's factor is the mean factor of the others, weighted by their
// planned rates). A removed agent's share goes to the others in proportion to theirs; it starts
// no more users (rate 0), its running users finish their sessions, and it stays connected until
// the end of the run. No message of the protocol changes: the agents only get `rate` factors.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/handshake.hpp"
#include "controller/controller.hpp"

namespace loadctl::controller {

namespace {

constexpr long kMaxAddedAgents = 64;  ///< over a run: each one is a record and a connection kept to the end
using SteadyClock = std::chrono::steady_clock;
using control::MsgType;

bool reads_iter_file(const std::vector<Action>& actions) {
  return std::any_of(actions.begin(), actions.end(), [](const Action& a) {
    return (a.kind == Action::Kind::set_vars && a.set_vars.source == SetDynVars::Source::file && a.set_vars.iter) ||
           reads_iter_file(a.body);
  });
}

// "HOST", "HOST:PORT", "[V6]:PORT", "V6": host and port (0: none given); nullopt when malformed.
std::optional<std::pair<std::string, unsigned>> split_host_port(const std::string& text) {
  std::string host = text;
  unsigned port = 0;
  auto colon = text.rfind(':');
  bool bracketed = text.starts_with('[');
  if (colon != std::string::npos && (bracketed ? text[colon - 1] == ']' : text.find(':') == colon)) {
    std::string digits = text.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    port = static_cast<unsigned>(std::stoul(digits));
    if (port == 0 || port > 65535) return std::nullopt;
    host = text.substr(0, colon);
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host.find_first_of("[]") != std::string::npos) return std::nullopt;
  return std::pair{host, port};
}

}  // namespace

std::string Controller::steer_by_request(const control::ControlRequest& request) {
  using Kind = control::ControlRequest::Kind;
  if (request.kind == Kind::add_agent) return add_agent_by_request(request, /*any_host=*/true);
  if (request.kind == Kind::remove_agent) return remove_agent_by_request(request.agent);
  return set_rate_by_request(request);
}

// What keeps the split from being changed now; nullopt: it can be. `joining`: the added agent
// being set up (at its hello and ready), not one that keeps the others from joining.
std::optional<std::string> Controller::why_not_rebalance(const AgentRecord* joining) const {
  if (finished_ || stopping_) return "the run is over or stopping";
  if (!started_) return "the run has not started yet";
  if (phases_shifted_now())
    return "not supported yet: moving arrivals after a phase with wait_all_sessions_end (the agents' phases are "
           "shifted by a wait only they know)";
  double elapsed = std::max(0.0, seconds_between(zero_, SteadyClock::now()));
  double end = 0;
  for (unsigned round = 0; round <= scenario_.load.loop; ++round)
    for (const ArrivalPhase& phase : scenario_.load.phases) {
      end += phase.duration;
      if (end > elapsed && phase.maxnumber)
        return fmt::format("not supported yet: moving arrivals of a phase with maxnumber (phase {}): each agent "
                           "keeps its own cap", phase.phase);
    }
  if (!(planned_rate_now(nullptr) > 0)) return "the current phase has no arrival rate to split (static users or between phases)";
  for (const AgentRecord& a : agents_)
    if (&a != joining && a.added && !a.dropped &&
        (a.state == AgentState::launching || a.state == AgentState::connected || a.state == AgentState::ready))
      return fmt::format("agent {} is still joining: one agent at a time", a.plan.slot.id);
  return std::nullopt;
}

// The dashboard's add-agent makes this controller dial HOST:PORT and present the listening
// agents' token there (in clear: docs/security.md), or start a process on HOST: only on the hosts
// of the run and those of --add-agent-allow (a name or address as written; any local name when one
// of them is local).
bool Controller::dashboard_may_add(const std::string& host) const {
  std::vector<std::string> allowed = options_.direct_hosts;
  allowed.insert(allowed.end(), options_.add_agent_allow.begin(), options_.add_agent_allow.end());
  for (const ClientSpec& c : scenario_.clients) {
    allowed.push_back(c.host);
    if (!c.hostip.empty()) allowed.push_back(c.hostip);
  }
  bool local = is_local_host(host);
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) {
    return (a.size() == host.size() && std::equal(a.begin(), a.end(), host.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           })) || (local && is_local_host(a));
  });
}

std::string Controller::add_agent_by_request(const control::ControlRequest& request, bool any_host) {
  if (auto why = why_not_rebalance()) return "error: " + *why;
  if (std::any_of(scenario_.sessions.begin(), scenario_.sessions.end(), [](const Session& s) { return reads_iter_file(s.actions); }))
    return "error: not supported yet: add-agent with a file_server read in order=\"iter\" (its lines are split "
           "between the agents planned at the start)";
  auto where = split_host_port(request.host);
  if (!where || control::encode_control_request(request).size() > control::kMaxControlRequest)
    return fmt::format("error: {}: expected HOST[:PORT]", request.host);
  if (!any_host && !dashboard_may_add(where->first))
    return fmt::format("error: {}: not a host of this run: the dashboard adds agents only on the client hosts, "
                       "--direct hosts and --add-agent-allow ones (`loadctl add-agent` adds any)", where->first);
  auto added = std::count_if(agents_.begin(), agents_.end(), [](const AgentRecord& a) { return a.added; });
  if (added >= kMaxAddedAgents) return fmt::format("error: {} agents added already: the most a run takes", kMaxAddedAgents);
  bool local = is_local_host(where->first);
  AgentSlot probe;
  probe.host = probe.address = where->first;
  probe.local = local;
  // A --direct host's agent listens: --launch dials it too, with the listening agents' token.
  bool dials = !request.launch || is_direct(probe);
  if (dials && options_.token.empty())
    return "error: add-agent dials a listening agent (`loadagent --listen`): start the run with --token-file, "
           "the listening agents' token (or use --launch)";
  if (request.launch && (where->second || (!local && options_.remote_shell == "direct")))
    return fmt::format("error: add-agent --launch {}: {}", request.host,
                       where->second ? "a launched agent dials back: no port" : "-r direct has no remote shell to start it with");
  if (request.launch && !dials && !local && controller_on_loopback())
    return fmt::format("error: add-agent --launch {}: this controller listens for its agents on {} (loopback): an agent "
                       "on another host cannot dial back (start the run with -F IP)", request.host, dial_back_);
  if (!request.source_ip.empty()) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(request.source_ip, ec);
    if (ec) return fmt::format("error: --ip {}: not an IP address", request.source_ip);
  }
  AgentRecord& agent = agents_.emplace_back();  // a deque: the others stay put
  unsigned id = static_cast<unsigned>(agents_.size() - 1);
  agent.plan.slot.id = id;
  agent.plan.slot.host = where->first;
  agent.plan.slot.address = where->first;
  agent.plan.slot.maxusers = 0;  // a listening agent keeps all its users
  if (!request.source_ip.empty()) agent.plan.slot.source_ips.push_back(request.source_ip);
  agent.plan.hard_stop = scenario_.load.duration;
  agent.plan.seed = agents_.front().plan.seed ^ (0x9e3779b97f4a7c15ULL * (id + 1));
  agent.plan.first_user_id = (std::uint64_t{id} << 40) + 1;  // as overflow agents: a block of its own
  agent.plan.data_slot = 0;
  agent.added = true;
  agent.share = 0;  // until it is set up (join_added_agent)
  std::string text;
  if (request.launch && !dials) {  // as `start` launches: a random token of its own, on its stdin
    agent.plan.slot.local = local;
    text = fmt::format("adding agent {}: starting it on {}{}", id, where->first, local ? "" : " via " + options_.remote_shell);
  } else {
    agent.token = options_.token;
    agent.dial_port = static_cast<std::uint16_t>(where->second ? where->second : options_.agent_port);
    text = fmt::format("adding agent {}: dialing the listening agent at {}:{}", id, where->first, agent.dial_port);
  }
  console_.notice(text);
  spdlog::info("{}", text);
  try {
    if (request.launch && !dials) launch_agent(agent);
    else dial_agent(agent);
  } catch (const std::exception& e) {
    agent.state = AgentState::failed;
    agent.failure = e.what();
    return fmt::format("error: {}", e.what());
  }
  return text + "; it takes its share of the remaining arrivals once set up";
}

// The added agent's hello was verified and its setup is about to be sent: its plan is the run's
// schedule from now on (at share 0 until it joins, join_added_agent).
void Controller::plan_added_agent(AgentRecord& agent) {
  double elapsed = std::max(0.0, seconds_between(zero_, SteadyClock::now()));
  double start = 0;
  agent.plan.phases.clear();
  for (unsigned round = 0; round <= scenario_.load.loop; ++round)
    for (const ArrivalPhase& phase : scenario_.load.phases) {
      PhaseShare share;
      share.phase = phase.phase;
      share.start = std::max(start, elapsed);
      share.duration = start + phase.duration - share.start;
      share.rate = phase.rate;
      start += phase.duration;
      if (share.duration > 0) agent.plan.phases.push_back(share);
    }
}

// The added agent is ready, its hello and setup done: from now on it runs at its share, the
// others at theirs (reduced), so that no arrival is lost or doubled. Its workers begin at factor
// 0 (on_ready) and start their schedule at this factor from now: the arrivals due during its
// setup were the others'.
void Controller::join_added_agent(AgentRecord& agent) {
  double elapsed = std::max(0.0, seconds_between(zero_, SteadyClock::now()));
  double planned = 0, effective = 0;
  unsigned n = 0;
  for (AgentRecord& a : agents_) {
    if (&a == &agent || a.plan.slot.monitor_only || a.state != AgentState::running || a.share <= 0) continue;
    if (a.handed_over_at >= 0 && elapsed >= a.handed_over_at) continue;
    double mine = planned_rate_now(&a);
    planned += mine;
    effective += mine * a.rate_factor;
    ++n;
  }
  double own = 0;
  for (const PhaseShare& p : agent.plan.phases)
    if (elapsed >= p.start && elapsed < p.start + p.duration) own += p.rate;
  JoinSplit split = split_for_join(planned, own, n);
  for (AgentRecord& a : agents_)
    if (&a != &agent && !a.plan.slot.monitor_only) a.share *= split.others_keep;
  agent.share = split.share;
  agent.rate_factor = planned > 0 && effective > 0 ? effective / planned : rate_factor_;
  agent.paused = arrivals_paused_;
  send_factors();
  note_steering(fmt::format("agent {} added ({}, {}): 1/{} of the remaining arrivals", agent.plan.slot.id,
                            agent.plan.slot.host, agent.hostname, n + 1),
                "steer_add_agent");
}

// An added agent that failed before it ran: its share goes back to the others; the run goes on,
// or ends if the others are over (check_end).
void Controller::drop_added_agent(AgentRecord& agent, const std::string& reason) {
  forget_added_agent(agent, reason);
  if (!finished_) check_end();
}

// drop_added_agent without check_end (check_end itself drops the added agents still joining when
// the others are over). Once per agent: the `dropped` flag, not its state (a setup_failed
// message marks it failed first).
void Controller::forget_added_agent(AgentRecord& agent, const std::string& reason) {
  if (agent.dropped || agent.state == AgentState::lost) return;
  agent.dropped = true;
  agent.state = AgentState::failed;
  agent.failure = reason;
  if (agent.channel) agent.channel->close("failed");
  if (agent.pid > 0) kill(agent.pid, SIGTERM);  // a launched agent still starting; reaped by on_child_exit
  std::string text = fmt::format("agent {} could not join: {}", agent.plan.slot.id, reason);
  console_.notice("warning: " + text + "; the run goes on with the others");
  spdlog::warn("{}", text);
  if (agent.share > 0) {
    give_share_away(agent);
    send_factors();
    note_steering(fmt::format("agent {} dropped: its arrivals back to the others", agent.plan.slot.id), "steer_remove_agent");
  }
}

// The others still starting users take `agent`'s share, in proportion to their planned rates.
void Controller::give_share_away(AgentRecord& agent) {
  double elapsed = std::max(0.0, seconds_between(zero_, SteadyClock::now()));
  double mine = planned_rate_now(&agent), total = planned_rate_now(nullptr);
  if (agent.state != AgentState::running) {  // not counted by planned_rate_now: its share of the schedule
    mine = 0;
    for (const PhaseShare& p : agent.plan.phases)
      if (elapsed >= p.start && elapsed < p.start + p.duration) mine += p.rate * agent.share;
    total += mine;
  }
  agent.share = 0;
  agent.handed_over_at = elapsed;
  if (!(total - mine > 0)) return;
  double grow = total / (total - mine);
  for (AgentRecord& a : agents_)
    if (&a != &agent && !a.plan.slot.monitor_only) a.share *= grow;
}

// A load agent lost mid-run: the others still starting users take its share (as remove-agent
// moves it) when the split can be changed; otherwise its arrivals do not run (the run's exit
// status says so either way).
void Controller::return_lost_share(AgentRecord& agent) {
  double elapsed = std::max(0.0, seconds_between(zero_, SteadyClock::now()));
  if (agent.share <= 0 || (agent.handed_over_at >= 0 && elapsed >= agent.handed_over_at)) return;
  if (auto why = why_not_rebalance()) {
    spdlog::info("agent {} lost: its arrivals are not moved to the others: {}", agent.plan.slot.id, *why);
    return;
  }
  give_share_away(agent);
  send_factors();
  note_steering(fmt::format("agent {} lost: its arrivals to the others", agent.plan.slot.id), "steer_remove_agent");
}

std::string Controller::remove_agent_by_request(unsigned id) {
  if (auto why = why_not_rebalance()) return "error: " + *why;
  auto it = std::find_if(agents_.begin(), agents_.end(), [id](const AgentRecord& a) { return a.plan.slot.id == id; });
  if (it == agents_.end()) return fmt::format("error: no agent {}", id);
  if (it->plan.slot.monitor_only) return fmt::format("error: agent {} is the monitor agent of {}, not load", id, it->plan.slot.host);
  if (it->state != AgentState::running) return fmt::format("error: agent {} is {}, not running", id, state_name(it->state));
  double elapsed = std::max(0.0, seconds_between(zero_, SteadyClock::now()));
  if (it->share <= 0 || (it->handed_over_at >= 0 && elapsed >= it->handed_over_at))
    return fmt::format("error: agent {} starts no more users already", id);
  if (!(planned_rate_now(nullptr) - planned_rate_now(&*it) > 0))
    return fmt::format("error: agent {} is the only agent starting users: use `loadctl stop`", id);
  if (std::any_of(it->plan.static_users.begin(), it->plan.static_users.end(),
                  [&](const StaticUser& u) { return u.start_time > elapsed; }))
    return fmt::format("error: not supported yet: removing agent {}, which has static users still to start", id);
  give_share_away(*it);
  send_factors();
  note_steering(fmt::format("agent {} removed ({}): its arrivals to the others", id, it->plan.slot.host), "steer_remove_agent");
  return fmt::format("agent {} removed: it starts no more users (those running finish), the others take its arrivals", id);
}

// Every running agent gets the factor it runs at now.
void Controller::send_factors() {
  for (AgentRecord& a : agents_)
    if (a.state == AgentState::running && a.channel && a.channel->open() && !a.plan.slot.monitor_only)
      a.channel->send(MsgType::rate, control::encode_rate(wire_factor(a)));
}

}  // namespace loadctl::controller
