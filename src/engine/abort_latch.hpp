#pragma once
// <abort type="all"> and <match do="abort_test">: a user aborts the whole test. The first one to
// do so on this agent says why; every worker of the agent then stops (at its next sweep), and the
// agent's session tells the controller, which stops every other agent. Touched once per run,
// never on the per-request path, hence the mutex.

#include <atomic>
#include <mutex>
#include <string>

namespace loadctl::engine {

class AbortLatch {
 public:
  /// Trips the latch; the first cause given is the one kept.
  void trip(std::string cause) {
    {
      std::lock_guard lock(mutex_);
      if (cause_.empty()) cause_ = std::move(cause);
    }
    tripped_.store(true, std::memory_order_release);
  }
  bool tripped() const { return tripped_.load(std::memory_order_acquire); }
  /// What tripped it (empty until then).
  std::string cause() const {
    std::lock_guard lock(mutex_);
    return cause_;
  }

 private:
  std::atomic<bool> tripped_{false};
  mutable std::mutex mutex_;
  std::string cause_;
};

}  // namespace loadctl::engine
