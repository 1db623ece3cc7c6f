#include "control/accept_loop.hpp"

#include <spdlog/spdlog.h>

namespace loadctl::control {

namespace asio = boost::asio;

std::shared_ptr<void> PendingLimit::enter() {
  if (*count_ >= limit_) return nullptr;
  ++*count_;
  std::weak_ptr<std::size_t> count = count_;
  // A non-null pointer with a deleter that frees the slot; the pointer itself is never used.
  return std::shared_ptr<void>(count_.get(), [count](void*) {
    if (auto c = count.lock()) --*c;
  });
}

AcceptLoop::AcceptLoop(asio::ip::tcp::acceptor& acceptor, std::string what, SocketHandler on_socket)
    : acceptor_(acceptor),
      what_(std::move(what)),
      on_socket_(std::move(on_socket)),
      retry_(acceptor.get_executor()) {}

void AcceptLoop::start() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;  // closed: the loop ends
    if (ec) return on_error(ec);
    on_socket_(std::move(socket));
    start();
  });
}

// EMFILE/ENFILE leave the pending connection in the backlog: accepting again at once would
// fail again at once. Wait, log once per interval, and go on accepting.
void AcceptLoop::on_error(const boost::system::error_code& ec) {
  auto now = std::chrono::steady_clock::now();
  if (now - last_log_ >= kAcceptLogInterval) {
    if (unlogged_ > 0)
      spdlog::error("{}: accept failed: {} ({} more failures in the last {} s; retrying every {} ms)", what_, ec.message(),
                    unlogged_, kAcceptLogInterval.count(), kAcceptRetry.count());
    else
      spdlog::error("{}: accept failed: {} (retrying every {} ms)", what_, ec.message(), kAcceptRetry.count());
    last_log_ = now;
    unlogged_ = 0;
  } else {
    ++unlogged_;
  }
  retry_.expires_after(kAcceptRetry);
  retry_.async_wait([this](const boost::system::error_code& e) {
    if (!e && acceptor_.is_open()) start();
  });
}

}  // namespace loadctl::control
