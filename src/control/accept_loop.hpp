#pragma once
// The accept loop of the controller's control port and of a listening agent. It survives
// EMFILE/ENFILE (and any other accept error): it waits kAcceptRetry before the next accept and
// logs one line per kAcceptLogInterval, counting the errors in between, instead of spinning.
// It also caps connections whose hello is not verified yet (PendingLimit): past the cap, new
// connections are closed at once, so unauthenticated peers cannot hold unbounded resources.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace loadctl::control {

inline constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
inline constexpr auto kAcceptLogInterval = std::chrono::seconds(5);
inline constexpr std::size_t kMaxUnauthenticated = 64;
/// An accepted connection must send a verified hello within this.
inline constexpr auto kHelloTimeout = std::chrono::seconds(5);

/// Counts unauthenticated connections; single-threaded.
class PendingLimit {
 public:
  explicit PendingLimit(std::size_t limit) : limit_(limit) {}
  /// A ticket while below the limit, else null. The slot is free again when the last copy of
  /// the ticket is destroyed (keep it in the connection's handlers until its hello is verified).
  std::shared_ptr<void> enter();
  std::size_t pending() const { return *count_; }

 private:
  std::size_t limit_;
  std::shared_ptr<std::size_t> count_ = std::make_shared<std::size_t>(0);
};

class AcceptLoop {
 public:
  using SocketHandler = std::function<void(boost::asio::ip::tcp::socket)>;

  /// `what` names the port in log lines ("control port", "listening port").
  AcceptLoop(boost::asio::ip::tcp::acceptor& acceptor, std::string what, SocketHandler on_socket);
  /// Accepts until the acceptor is closed.
  void start();

 private:
  void on_error(const boost::system::error_code& ec);

  boost::asio::ip::tcp::acceptor& acceptor_;
  std::string what_;
  SocketHandler on_socket_;
  boost::asio::steady_timer retry_;
  std::chrono::steady_clock::time_point last_log_{};
  unsigned unlogged_ = 0;
};

}  // namespace loadctl::control
