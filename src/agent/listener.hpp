#pragma once
// loadagent --listen: the "IP-direct" daemon. The controller dials it; the controller speaks
// first with hello (magic, version, the token from the agent's token file, the agent id it
// assigns); the agent answers reject(reason) or its own hello, and the run goes on as in
// dial-back mode (welcome, setup, ...). One run at a time: while busy, other controllers get
// reject "busy". After a run (or a lost controller) it waits for the next one; SIGINT/SIGTERM
// stop the current run and end the daemon.
//
// Event order: run → accept_next → on_accept → on_controller_hello → Session → on_session_end.

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include "agent/log_forward.hpp"
#include "agent/session.hpp"
#include "control/accept_loop.hpp"
#include "control/channel.hpp"

namespace loadctl::agent {

struct ListenOptions {
  std::string address;   ///< [IP:]PORT to listen on; IPv6 as [IP]:PORT
  std::string token;     ///< read from the token file
  unsigned threads = 0;  ///< 0 = as the controller says
  std::shared_ptr<LogForwardSink> log_sink;  ///< log lines sent to the controller during a run
};

class Listener {
 public:
  explicit Listener(ListenOptions options);
  /// Serves runs until a signal; returns the process exit status (2 when it cannot listen).
  int run();

 private:
  void on_accept(boost::asio::ip::tcp::socket socket);
  void on_controller_hello(const std::shared_ptr<control::Channel>& channel, std::string_view payload);
  void on_session_end(int status);

  ListenOptions options_;
  boost::asio::io_context ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::signal_set signals_;
  control::AcceptLoop accept_loop_;
  control::PendingLimit pending_{control::kMaxUnauthenticated};
  std::chrono::steady_clock::time_point last_full_log_{};  ///< last "too many unauthenticated" line
  unsigned full_refusals_ = 0;                              ///< connections closed since that line
  std::unique_ptr<Session> session_;
  std::string session_peer_;
  bool stopping_ = false;
};

}  // namespace loadctl::agent
