#pragma once
// The agent process: connects to the controller, receives the scenario and its plan, runs the
// engine, and streams statistics deltas until the run ends or the controller goes away.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control/channel.hpp"
#include "engine/engine.hpp"
#include "loadctl/host_monitor.hpp"
#include "loadctl/scenario.hpp"

namespace loadctl::agent {

struct AgentOptions {
  std::string controller;  ///< host:port to dial
  std::string token;
  unsigned id = 0;
  unsigned threads = 0;    ///< 0 = as the controller says
};

class Agent {
 public:
  explicit Agent(AgentOptions options);
  /// Runs until the run ends; returns the process exit status.
  int run();

 private:
  void connect();
  void on_message(control::MsgType type, std::string_view payload);
  void on_setup(std::string_view payload);
  void on_go(std::string_view payload);
  void tick();
  void send_stats();
  void finish(int status);

  AgentOptions options_;
  boost::asio::io_context ctx_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer tick_timer_;
  std::shared_ptr<control::Channel> channel_;
  std::optional<Scenario> scenario_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<HostMonitor> monitor_;
  unsigned ticks_ = 0;
  std::chrono::steady_clock::time_point last_heard_;
  std::chrono::steady_clock::time_point last_heartbeat_sent_;
  bool started_ = false;
  bool done_sent_ = false;
  int exit_status_ = 0;
};

}  // namespace loadctl::agent
