#include "control/accept_loop.hpp"

#include <spdlog/spdlog.h>

namespace loadctl::control {

namespace asio = boost::asio;

std::shared_ptr<void> PendingLimit::enter() {
  if (*count_ >= limit_) return nullptr;
  ++*count_;
  std::weak_ptr<std::atomic<std::size_t>> count = count_;
  // A non-null pointer with a deleter that frees the slot; the pointer itself is never used.
  return std::shared_ptr<void>(count_.get(), [count](void*) {
    if (auto c = count.lock()) --*c;
  });
}

void AcceptErrorLog::on_error(const boost::system::error_code& ec) {
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
}

}  // namespace loadctl::control
