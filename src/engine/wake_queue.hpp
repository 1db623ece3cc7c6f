#pragma once
// Timed wake-ups of a worker's users (thinktimes, connect retries, rate-limit waits, match
// loops): one binary heap per worker, served by one asio timer, instead of a timer in every
// user. An idle user then costs neither the timer object nor the wait operation asio allocates
// for each async_wait. A user waits for at most one thing at a time: an entry is live while its
// token equals the user's current token (bumped at every arm and when the user is released), so
// an abandoned wait is dropped when it comes due, without a search. The one exception is
// Wake::conn_read: a connection-level plugin's socket waiting for rate_limit tokens while its user
// waits for something else (a thinktime); its token is the connection's serial instead, live
// while that connection is open and throttled.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace loadctl::engine {

/// What a user does when its wake-up comes.
enum class Wake : std::uint8_t {
  step,         ///< go on with its program (thinktime, match loop's sleep)
  retry,        ///< connect again (retry_timeout backoff)
  rate_limit,   ///< read again (the rate_limit bucket is out of debt)
  conn_read,    ///< read the connection-level plugin's socket again (rate_limit, as above)
};

struct WakeEntry {
  std::chrono::steady_clock::time_point at;
  std::uint32_t slot;   ///< the user's index in the worker's pool
  std::uint32_t token;  ///< the user's wake token when armed (conn_read: the connection's serial)
  Wake what;
};

class WakeQueue {
 public:
  void push(const WakeEntry& entry) {
    heap_.push_back(entry);
    std::push_heap(heap_.begin(), heap_.end(), later);
  }
  bool empty() const { return heap_.empty(); }
  /// The earliest entry; the queue must not be empty.
  const WakeEntry& top() const { return heap_.front(); }
  WakeEntry pop() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    WakeEntry entry = heap_.back();
    heap_.pop_back();
    return entry;
  }
  std::size_t size() const { return heap_.size(); }
  /// Drops the entries `dead` says are dead and restores the heap.
  template <class Dead>
  void remove_if(Dead dead) {
    heap_.erase(std::remove_if(heap_.begin(), heap_.end(), dead), heap_.end());
    std::make_heap(heap_.begin(), heap_.end(), later);
  }
  void clear() { heap_.clear(); }

 private:
  // std heap functions keep the greatest first: "greater" is "earlier".
  static bool later(const WakeEntry& a, const WakeEntry& b) { return a.at > b.at; }
  std::vector<WakeEntry> heap_;
};

}  // namespace loadctl::engine
