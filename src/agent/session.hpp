#pragma once
// One run, seen from the agent: on an authenticated channel to the controller it receives the
// scenario and its plan, runs the engine, and streams statistics deltas until the run ends or
// the controller goes away. The channel comes from a dial-back connect (agent.cpp) or from an
// accepted connection (listener.cpp); the session does not care which.
//
// Event order: start → on_message (welcome, setup → on_setup, go → on_go, stop, bye) →
// tick (every 500 ms: stats, the scenario's abort of the whole test, heartbeat, controller
// silence, engine done) → finish.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/log_forward.hpp"
#include "control/channel.hpp"
#include "engine/engine.hpp"
#include "loadctl/host_monitor.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/scenario.hpp"

namespace loadctl::agent {

class Session {
 public:
  /// Called once, from the io_context (never from inside a Session method), with the exit status:
  /// 0 the run completed, 2 setup or protocol failure, 3 stopped (controller lost or signal).
  using EndHandler = std::function<void(int status)>;

  /// threads: event-loop threads, 0 = as the controller's setup says.
  Session(boost::asio::io_context& ctx, std::shared_ptr<control::Channel> channel, unsigned threads, EndHandler on_end);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Takes over the channel's handlers (its read loop must be running or about to start).
  void attach();
  /// Sends the lines `sink` keeps to the controller as log messages (listening agents).
  void forward_logs(std::shared_ptr<LogForwardSink> sink) { log_sink_ = std::move(sink); }
  /// Starts the channel's read loop and takes it over.
  void start();
  /// Stops users, sends the final statistics and done if the load had started, closes the channel.
  void finish(int status);

 private:
  void on_message(control::MsgType type, std::string_view payload);
  void on_setup(std::string_view payload);
  void on_go(std::string_view payload);
  void tick();
  void send_stats();
  void send_handovers();
  void send_logs();
  void send_done();  ///< with how the load ended (control::Done)
  /// <match do="abort_test"> / <abort type="all"> fired: tells the controller once (control::TestAbort).
  void report_abort();

  boost::asio::io_context& ctx_;
  std::shared_ptr<control::Channel> channel_;
  unsigned threads_;
  unsigned worker_threads_ = 1;  ///< the engine's event-loop threads
  EndHandler on_end_;
  boost::asio::steady_timer tick_timer_;
  std::optional<Scenario> scenario_;
  std::optional<AgentPlan> plan_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<HostMonitor> monitor_;
  std::shared_ptr<LogForwardSink> log_sink_;  ///< cpu/freemem/load samples, from go on
  unsigned ticks_ = 0;
  std::chrono::steady_clock::time_point last_heard_;
  std::chrono::steady_clock::time_point last_heartbeat_sent_;
  bool started_ = false;
  bool done_sent_ = false;
  bool abort_sent_ = false;
  bool ended_ = false;
  int status_ = 0;
};

}  // namespace loadctl::agent
