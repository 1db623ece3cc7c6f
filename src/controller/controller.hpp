#pragma once
// The controller: plans the run, launches agents, hands them the scenario and their plans,
// merges their statistics deltas into tsung.log / stats.jsonl, and decides when the run ends.
// Event order: run -> launch_agents -> on_accept | dial_agent -> on_hello -> on_ready -> go ->
//   on_stats (every 500 ms per agent) -> tick (progress, dumps) -> [on_test_abort -> stop_agents]
//   -> on_done / on_agent_lost -> finish. Agent connections (launch, dial, hello, maxusers
//   handover, child exits) are in agent_links.cpp; the run itself in controller.cpp.

#include <sys/types.h>

#include <array>
#include <chrono>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control/accept_loop.hpp"
#include "control/live_series.hpp"
#include "plugin_host/plugin_loader.hpp"
#include "control/channel.hpp"
#include "controller/barrier_book.hpp"
#include "controller/join_split.hpp"
#include "controller/console.hpp"
#include "controller/control_server.hpp"
#include "control/web_server.hpp"
#include "control/run_status.hpp"
#include "loadctl/capacity.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/stats.hpp"
#include "loadctl/stats_jsonl.hpp"
#include "loadctl/tsung_log.hpp"
#include "monitor/remote_monitors.hpp"

namespace loadctl::controller {

struct ControllerOptions {
  std::string scenario_path;
  std::string run_dir;          ///< created by the caller
  std::string remote_shell = "ssh";  ///< "direct": dial agents already listening instead
  std::uint16_t agent_port = 19998;  ///< port of listening agents (-r direct)
  std::uint16_t control_port = 0;    ///< port agents dial back to; 0 = any free port
  std::uint16_t control_port_max = 0;  ///< -t/-T: the first free port in [control_port, this]
  bool ipv6 = false;                 ///< -6: listen on ::1 / :: rather than 127.0.0.1 / 0.0.0.0
  std::string mon_file = "tsung.log";  ///< -m: relative to run_dir; "-" = standard output
  std::vector<std::string> exclude_tags;  ///< -x: requests with these tags are left out
  unsigned ssl_session_lifetime = 600;    ///< -L: seconds a TLS session is resumed
  double arrival_lag_limit = 0.1;         ///< seconds late before a user counts as users_late
  std::string token;                 ///< shared token of listening agents (--token-file)
  std::vector<std::string> direct_hosts;  ///< clients (host or hostip) dialed IP-direct whatever -r says
  /// --add-agent-allow: more hosts the dashboard may add agents on (besides the clients and --direct)
  std::vector<std::string> add_agent_allow;
  std::string controller_ip;    ///< address agents dial back to (-I, -F); default picked per run
  double dump_interval = 10;    ///< seconds between tsung.log dumps
  double warmup = 0.5;          ///< seconds between "all agents ready" and time zero
  double setup_timeout = 30;    ///< seconds for every agent to connect and load the scenario
  unsigned threads = 0;         ///< per agent; 0 = cores / local agents
  bool quiet = false;
  bool tolerate_agent_loss = false;  ///< agents lost mid-run do not fail the run (exit 0)
  bool force = false;  ///< --force: run a plan the capacity preflight refuses (docs/capacity.md)
  std::vector<PluginFile> plugins;  ///< run-time plugins loaded from -X dirs, shipped to agents
  std::string http_address = "127.0.0.1:8091";  ///< dashboard ADDR:PORT; empty: none (-n)
  bool http_explicit = false;  ///< --http given: a dashboard that cannot listen fails the run
  bool http_keep = false;      ///< -k: the dashboard stays up after the run
  std::string http_token;      ///< --http-token-file; empty: none on loopback, a random one elsewhere
};

enum class AgentState { launching, connected, ready, running, done, lost, failed };

struct AgentRecord {
  AgentPlan plan;
  pid_t pid = 0;
  std::string hostname;
  HostFacts facts;  ///< its host, from its hello (capacity preflight)
  AgentState state = AgentState::launching;
  std::shared_ptr<control::Channel> channel;
  /// Launched agents: a random token of this slot alone, given on the agent's stdin; listening
  /// agents: the shared --token-file token. One verified hello claims the slot for good.
  std::string token;
  std::chrono::steady_clock::time_point last_heard;
  std::string failure;
  bool late_reported = false;  ///< came back after being declared lost (reported once)
  // for the dashboard's agent table, from its stats deltas
  std::int64_t users = 0;
  std::uint64_t requests = 0;
  double cpu = -1;                            ///< its host's last cpu sample (%); -1: none
  std::array<std::uint64_t, 6> request_ticks{};  ///< requests at the last ticks (a ring)
  unsigned tick_count = 0;
  double request_rate = 0;                    ///< over the last 5 ticks
  double rate_factor = 1;                     ///< arrival rate multiplier asked for this agent
  bool paused = false;                        ///< arrivals paused (its rate then 0; rate_factor kept)
  /// Seconds from time zero when its remaining arrivals went to other agents (maxusers hand-over,
  /// remove-agent); -1: never.
  double handed_over_at = -1;
  /// Its part of its planned arrivals (add-agent/remove-agent rebalance the split): it runs at
  /// paused ? 0 : rate_factor * share times its planned rate.
  double share = 1;
  bool added = false;            ///< joined the running test through add-agent
  bool dropped = false;          ///< added, and could not join (drop_added_agent ran once)
  std::uint16_t dial_port = 0;   ///< add-agent of a listening agent: the port it listens on
};

/// The factor an agent's arrivals run at: 0 while paused.
inline double wire_factor(const AgentRecord& a) { return a.paused ? 0 : a.rate_factor * a.share; }

const char* state_name(AgentState s);
/// "exited with status N" or "killed by signal N", from a waitpid status.
std::string describe_exit(int status);

inline double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

class Controller {
 public:
  Controller(ControllerOptions options, Scenario scenario);
  /// Runs the whole test; returns the exit status (0 done, 2 run failed: setup failed, an agent
  /// lost without --tolerate-agent-loss, results not written; 5 the scenario aborted the test;
  /// 128+N after signal N).
  int run();
  /// After run() and the report (--report, --fail-if): each `loadctl stop` client waiting for
  /// the end gets the final status with `exit_status` (the report may change it), then is closed.
  void release_control_clients(int exit_status);
  /// `loadctl report` has written `path` (report.html): the dashboard links to it.
  void set_report(std::string path) { report_path_ = std::move(path); }
  /// -k: serves the dashboard after the run until SIGINT/SIGTERM or `loadctl stop`, then
  /// releases the control clients; returns at once without -k or without a dashboard.
  void keep_serving(int exit_status);

 private:
  bool listen_for_agents(const std::string& bind_ip);
  void launch_agents();
  void launch_agent(AgentRecord& agent);
  bool is_direct(const AgentSlot& slot) const;
  /// The address launched agents dial back to is a loopback one: only local agents can.
  bool controller_on_loopback() const;
  void on_handover(AgentRecord& from, std::string_view payload);
  void dial_agent(AgentRecord& agent);
  void connect_agent(unsigned id, boost::asio::ip::tcp::endpoint endpoint);
  void on_dialed(AgentRecord& agent, std::shared_ptr<control::Channel> channel);
  void on_accept(boost::asio::ip::tcp::socket socket);
  void on_hello(const std::shared_ptr<control::Channel>& channel, std::string_view payload,
                std::optional<unsigned> dialed_id);
  std::optional<std::string> check_hello(const control::Hello& hello, std::optional<unsigned> dialed_id) const;
  void refuse(const std::shared_ptr<control::Channel>& channel, const std::string& reason);
  void on_message(AgentRecord& agent, control::MsgType type, std::string_view payload);
  void on_ready(AgentRecord& agent);
  void maybe_go();
  /// The capacity preflight over the facts the agents reported; false: refused (setup failed).
  bool preflight_passes();
  void go();
  void start_remote_monitors();
  void on_stats(AgentRecord& agent, std::string_view payload);
  void on_done(AgentRecord& agent, std::string_view payload);
  void note_done_flags(const AgentRecord& agent, std::string_view payload);
  /// An agent's scenario aborted the whole test (match do="abort_test", abort type="all"):
  /// every agent stops, the run exits kAbortedStatus (run_control.cpp).
  void on_test_abort(AgentRecord& agent, std::string_view payload);
  void on_agent_lost(AgentRecord& agent, const std::string& reason, bool silent = false);
  void on_monitor_agent_lost(AgentRecord& agent, AgentState was);
  void setup_problem(AgentRecord& agent, const std::string& reason);
  void on_late_message(AgentRecord& agent, control::MsgType type, std::string_view payload);
  void on_child_exit();
  void note_process_exit(AgentRecord& agent, int status);
  void reap_agents();
  void tick();
  void tick_later();
  // results (results.cpp): tsung.log, stats.jsonl, run.json, match.log, the final summary
  void open_results();
  void dump(bool final);
  /// Dumps every interval whose boundary is at or before `now`.
  void dump_due(std::chrono::steady_clock::time_point now);
  void check_written(const std::string& path, int error, std::size_t pending);
  void finish_results();
  void print_summary(double elapsed);
  void append_agent_log(const AgentRecord& agent, const std::string& text);
  void stop_agents(const std::string& why);
  void check_end();
  void finish();
  void count_event(const std::string& name);
  void on_barrier(AgentRecord& agent, std::string_view payload);
  void send_releases(const std::vector<std::pair<std::size_t, std::uint64_t>>& releases);
  std::size_t agent_index(const AgentRecord& agent) const;
  void judge_agent_losses();
  void fail_setup(const std::string& reason);
  // control socket (control_server.cpp): `loadctl status` and `loadctl stop`
  void open_control_socket();
  control::RunStatus run_status() const;
  /// `via`: who asked ("loadctl stop", "dashboard POST /api/stop"): console, log, run.json.
  std::string stop_by_request(const std::string& via = "loadctl stop");
  std::string stop_agent_by_request(unsigned id, const std::string& via = "loadctl stop");
  /// SIGINT/SIGTERM and `loadctl stop`: agents stop, final statistics written, exit `status`.
  void interrupt(int status, const std::string& reason);
  // dashboard (dashboard.cpp): the live page, its JSON API, /metrics and steering
  bool open_dashboard();  ///< false: --http given and it cannot listen (the run does not start)
  control::WebResponse on_web(const control::WebRequest& request);
  control::WebResponse on_steer(const control::WebRequest& request);
  void note_agent_stats(AgentRecord& agent, const MetricSet& delta);
  void sample_second(std::chrono::steady_clock::time_point now);
  /// Arrival steering: multiply the planned rate of the current phase by `factor` (0: paused)
  /// for every agent, or for `only`; logged, counted in the series' events. Returns the answer.
  enum class Steer { pause, resume, rate };
  std::string steer_rate(Steer kind, double factor, AgentRecord* only, const std::string& what);
  bool phases_shifted_now() const;
  std::string set_rate_by_request(const control::ControlRequest& request);
  void send_rate(AgentRecord& agent);
  /// A steering event: console, controller.log, stats.jsonl, the dashboard's series and the
  /// counter `counter` in tsung.log.
  void note_steering(const std::string& event, const std::string& counter);
  // agents added to or removed from the running test (agent_pool.cpp)
  std::string steer_by_request(const control::ControlRequest& request);
  /// any_host: from the control socket (the run's owner); the dashboard only adds agents on the
  /// hosts of the run (clients, --direct) and --add-agent-allow ones.
  std::string add_agent_by_request(const control::ControlRequest& request, bool any_host);
  bool dashboard_may_add(const std::string& host) const;
  std::string remove_agent_by_request(unsigned id);
  std::optional<std::string> why_not_rebalance(const AgentRecord* joining = nullptr) const;
  void plan_added_agent(AgentRecord& agent);
  void join_added_agent(AgentRecord& agent);
  void drop_added_agent(AgentRecord& agent, const std::string& reason);
  void forget_added_agent(AgentRecord& agent, const std::string& reason);
  void give_share_away(AgentRecord& agent);
  void return_lost_share(AgentRecord& agent);
  void send_factors();
  double planned_rate_now(const AgentRecord* only) const;
  void write_run_json();
  void collect_match_log();
  void collect_traffic_dump();
  void write_traffic_dump(const std::string& path, const AgentRecord* only, std::string_view header);

  ControllerOptions options_;
  Scenario scenario_;
  boost::asio::io_context ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::signal_set stop_signals_;
  boost::asio::signal_set child_signal_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer barrier_timer_{ctx_};  ///< global_ack_timeout: releases an incomplete group
  control::AcceptLoop accept_loop_;
  control::PendingLimit pending_{control::kMaxUnauthenticated};
  std::chrono::steady_clock::time_point last_full_log_{};  ///< last "too many unauthenticated" line
  unsigned full_refusals_ = 0;                              ///< connections closed since that line
  bool abort_reported_ = false;  ///< an agent's Done said the load was cut off or aborted
  BarrierBook barriers_{scenario_.options.global_number};  ///< after scenario_: built from it
  std::deque<AgentRecord> agents_;  ///< a deque: records stay put when overflow agents are added
  std::string agent_path_;          ///< loadagent binary
  std::string dial_back_;           ///< address launched agents dial
  unsigned agent_threads_ = 1;
  std::uint32_t initial_agents_ = 1;  ///< agents planned at start (maxusers may add more)

  MetricSet interval_;  ///< deltas since the last tsung.log dump
  MetricSet total_;     ///< the whole run, for the console and the summary
  std::unique_ptr<TsungLogWriter> tsung_log_;
  std::unique_ptr<StatsJsonlWriter> jsonl_;
  Console console_;
  std::map<std::string, int> write_errors_;  ///< results file -> errno of its failing writes
  bool results_lost_ = false;                 ///< some results never reached the disk

  std::chrono::steady_clock::time_point setup_deadline_;
  std::chrono::steady_clock::time_point zero_;        ///< time zero of the schedule
  std::chrono::steady_clock::time_point next_dump_;
  std::chrono::steady_clock::time_point stop_deadline_;
  std::chrono::steady_clock::time_point end_steady_{};  ///< when finish() began
  std::time_t start_wall_ = 0;
  std::time_t end_wall_ = 0;
  std::time_t last_dump_ = 0;  ///< timestamp of the last tsung.log dump
  bool started_ = false;
  bool stopping_ = false;
  bool monitors_stopping_ = false;
  std::optional<std::chrono::steady_clock::time_point> monitors_ready_deadline_;  ///< see maybe_go  ///< the load is over; monitor agents were told to stop
  bool preflight_done_ = false;  ///< the capacity preflight ran (maybe_go, once)
  bool final_status_ = false;  ///< finish() has settled the exit status (status: finished)
  bool finished_ = false;
  int exit_status_ = 0;
  std::string stop_reason_;
  static constexpr std::chrono::seconds kRateWindow{5};
  double request_rate_ = 0;  ///< requests/s over the last kRateWindow (or since the start)
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> rate_samples_;  ///< (tick, request count)
  std::unique_ptr<monitor::RemoteMonitors> monitors_;  ///< munin and snmp hosts, polled from here as Tsung does
  std::unique_ptr<ControlServer> control_server_;  ///< after ctx_: closed before it
  std::unique_ptr<control::WebServer> web_;                 ///< the dashboard; after ctx_: closed before it
  control::LiveSeries live_;                       ///< per-second points for /api/stats
  MetricSet second_;       ///< deltas merged since the last tick (dashboard only)
  MetricSet last_second_;  ///< the previous tick's second_
  std::chrono::steady_clock::time_point last_sample_{};
  std::string dashboard_url_;
  std::string report_path_;
  double rate_factor_ = 1;  ///< arrival rate multiplier of the whole run (steering)
  bool arrivals_paused_ = false;
  bool keeping_ = false;    ///< -k: serving the dashboard after the run
  bool keeping_done_ = false;  ///< -k: the kept dashboard has closed
};

}  // namespace loadctl::controller
