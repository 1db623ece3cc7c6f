#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http_connection.hpp"

namespace loadtarget {

/// One io_context per thread; connections are spread over them round-robin.
class IoContextPool {
 public:
  explicit IoContextPool(unsigned threads);
  /// Runs context 0 on the calling thread and the others on new threads; returns after stop().
  void run();
  /// Stops every context (callable from any thread).
  void stop();
  /// The context used for listeners and signals.
  boost::asio::io_context& main_context() { return *contexts_[0]; }
  /// Index of the context the next connection goes to.
  unsigned next_index();
  boost::asio::io_context& context(unsigned i) { return *contexts_[i]; }
  unsigned size() const { return static_cast<unsigned>(contexts_.size()); }

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<WorkGuard> guards_;
  unsigned next_ = 0;
};

/// What a listener serves.
enum class ListenerKind { http, tcp_echo, qmsg, ws_echo };

/// Accepts on one endpoint (on the main context) and hands sockets to the pool's contexts.
class Listener {
 public:
  /// Binds and listens; throws boost::system::system_error on failure.
  Listener(IoContextPool& pool, std::vector<WorkerContext>& workers, ListenerKind kind,
           const boost::asio::ip::tcp::endpoint& endpoint);
  /// The bound endpoint (the real port when 0 was asked for).
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  /// Starts accepting.
  void start() { do_accept(); }

 private:
  void do_accept();

  IoContextPool& pool_;
  std::vector<WorkerContext>& workers_;
  ListenerKind kind_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;  ///< backs off when out of file descriptors
};

/// Parses "HOST:PORT", "[V6]:PORT" or "PORT" (host 127.0.0.1); throws std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& text);

}  // namespace loadtarget
