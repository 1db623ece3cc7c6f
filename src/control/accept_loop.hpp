#pragma once
// The accept loop of the controller's control port and of a listening agent. It survives
// EMFILE/ENFILE (and any other accept error): it waits kAcceptRetry before the next accept and
// logs one line per kAcceptLogInterval, counting the errors in between, instead of spinning.
// It also caps connections whose hello is not verified yet (PendingLimit): past the cap, new
// connections are closed at once, so unauthenticated peers cannot hold unbounded resources.

#include <atomic>
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
  /// Atomic: readable from another thread (tests poll it while the server's thread runs).
  std::size_t pending() const { return count_->load(); }

 private:
  std::size_t limit_;
  std::shared_ptr<std::atomic<std::size_t>> count_ = std::make_shared<std::atomic<std::size_t>>(0);
};

/// What an accept loop does on an accept error: logs at most one line per kAcceptLogInterval
/// (counting the errors in between); the loop retries after kAcceptRetry.
class AcceptErrorLog {
 public:
  explicit AcceptErrorLog(std::string what) : what_(std::move(what)) {}
  void on_error(const boost::system::error_code& ec);

 private:
  std::string what_;
  std::chrono::steady_clock::time_point last_log_{};
  unsigned unlogged_ = 0;
};

/// Accepts on an acceptor of `Protocol` (TCP, or a Unix stream socket) until it is closed.
template <class Protocol>
class BasicAcceptLoop {
 public:
  using Socket = typename Protocol::socket;
  using SocketHandler = std::function<void(Socket)>;

  /// `what` names the port in log lines ("control port", "listening port").
  BasicAcceptLoop(typename Protocol::acceptor& acceptor, std::string what, SocketHandler on_socket)
      : acceptor_(acceptor), log_(std::move(what)), on_socket_(std::move(on_socket)), retry_(acceptor.get_executor()) {}

  /// Accepts until the acceptor is closed.
  void start() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, Socket socket) {
      if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;  // closed: the loop ends
      if (ec) return on_error(ec);
      on_socket_(std::move(socket));
      if (gate_ && !gate_()) {
        paused_ = true;  // the next connections wait in the listen backlog until resume()
        return;
      }
      start();
    });
  }

  /// After each accepted connection, `gate` says whether to accept the next one now; when it says
  /// no, the loop pauses until resume().
  void set_gate(std::function<bool()> gate) { gate_ = std::move(gate); }
  /// Accepts again after a pause (nothing when not paused).
  void resume() {
    if (!paused_ || !acceptor_.is_open()) return;
    paused_ = false;
    start();
  }
  bool paused() const { return paused_; }

 private:
  // EMFILE/ENFILE leave the pending connection in the backlog: accepting again at once would
  // fail again at once. Wait, log once per interval, and go on accepting.
  void on_error(const boost::system::error_code& ec) {
    log_.on_error(ec);
    retry_.expires_after(kAcceptRetry);
    retry_.async_wait([this](const boost::system::error_code& e) {
      if (!e && acceptor_.is_open()) start();
    });
  }

  typename Protocol::acceptor& acceptor_;
  AcceptErrorLog log_;
  SocketHandler on_socket_;
  boost::asio::steady_timer retry_;
  std::function<bool()> gate_;
  bool paused_ = false;
};

using AcceptLoop = BasicAcceptLoop<boost::asio::ip::tcp>;

}  // namespace loadctl::control
