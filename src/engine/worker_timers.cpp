// Time-driven work: the timeout sweep (also where a stop is noticed) and the users' timed
// wake-ups, one heap per worker (wake_queue.hpp) served by one timer.

#include "engine/worker.hpp"

#include "engine/buffer_trim.hpp"

namespace loadctl::engine {

namespace {

constexpr auto kSweepPeriod = std::chrono::milliseconds(200);

}  // namespace

// Timeouts are checked by a periodic sweep rather than a timer per request: no timer operations
// on the hot path. idle_timeout is Tsung's: time without a byte received, so a pending request
// that received bytes since the last sweep gets its deadline moved (precision: one sweep period).
void Worker::sweep_timeouts() {
  if (stop_requested_.load() || (config_.abort_test && config_.abort_test->tripped())) stop_now();
  free_retired_tls();
  // Receive buffers the last 10 s did not need go back to the system; after a burst (32 or more
  // unused for 3 s in a row, e.g. the end of a ramp on a slow server) without waiting that long.
  ++sweeps_since_trim_;
  if (buffer_trim_due(sweeps_since_trim_, free_buffers_low_)) {
    sweeps_since_trim_ = 0;
    trim_buffers();
  }
  auto now = Clock::now();
  auto idle = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(config_.scenario->options.idle_timeout));
  for (std::size_t i = 0; i < users_.size(); ++i) {
    User& user = users_[i];
    if (user.received == User::Received::since_sweep) {
      user.received = User::Received::before_sweep;
      // (not a wait without deadline: a throttled read's, an unbounded ack="global")
      if (user.state == UserState::awaiting && user.deadline != Clock::time_point::max()) user.deadline = now + idle;
    }
    // A connection's second lane: its connect and TLS handshake are bounded by connect_timeout.
    for (unsigned i = 0; user.conn && i < user.conn->lanes.size(); ++i)
      if (user.conn->lanes[i] && now >= user.conn->lanes[i]->deadline) [[unlikely]]
        lane_connect_failed(user, i, asio::error::timed_out);
    if (!user.program || now < user.deadline) continue;
    if (user.conn && user.conn->throttled) continue;  // rate_limit defers the read, not the server
    if (user.state == UserState::connecting && user.conn) {  // a plugin handshake that did not end
      close_connection(user, false);
      on_connected(user, asio::error::timed_out);
    } else if (user.state == UserState::connecting) {
      user.socket.close();  // completes the connect with operation_aborted, handled as timeout
    } else if (user.state == UserState::awaiting || user.state == UserState::sending) {
      if (!conn_timeout(user)) on_request_failed(user, "error_timeout", false);
    }
  }
  if (done_.load()) return;
  sweep_timer_.expires_after(kSweepPeriod);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sweep_timeouts();
  });
}

void Worker::wake_after(User& user, Clock::duration delay, Wake what) {
  push_wake({Clock::now() + delay, user.slot, ++user.wake_token, what});
}

void Worker::wake_conn_read_after(User& user, Clock::duration delay) {
  push_wake({Clock::now() + delay, user.slot, static_cast<std::uint32_t>(user.conn->serial), Wake::conn_read});
}

bool Worker::wake_alive(const WakeEntry& e) const {
  const User& user = users_[e.slot];
  if (e.what == Wake::conn_read)
    return user.program && user.conn && user.conn->throttled && static_cast<std::uint32_t>(user.conn->serial) == e.token;
  return user.wake_token == e.token && user.program;
}

void Worker::push_wake(const WakeEntry& entry) {
  // Users released while waiting leave their entry until its deadline: past twice the users
  // alive, the dead ones go, so the heap stays bounded by the users, not by long waits.
  if (wakes_.size() > 2 * users_.size() + 1024)
    wakes_.remove_if([this](const WakeEntry& e) { return !wake_alive(e); });
  wakes_.push(entry);
  if (entry.at < wake_timer_at_) arm_wake_timer(entry.at);
}

void Worker::arm_wake_timer(Clock::time_point at) {
  wake_timer_at_ = at;
  wake_timer_.expires_at(at);  // cancels the wait for a later entry (operation_aborted)
  wake_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_wakes();
  });
}

void Worker::on_wakes() {
  wake_timer_at_ = Clock::time_point::min();  // wake-ups armed while waking users: timer set below
  auto now = Clock::now();
  while (!wakes_.empty() && wakes_.top().at <= now) {
    WakeEntry entry = wakes_.pop();
    User& user = users_[entry.slot];
    if (wake_alive(entry)) wake(user, entry.what);
  }
  wake_timer_at_ = Clock::time_point::max();
  if (!wakes_.empty() && !done_.load()) arm_wake_timer(wakes_.top().at);
}

void Worker::wake(User& user, Wake what) {
  switch (what) {
    case Wake::step:
      step(user);
      break;
    case Wake::retry:  // as in Tsung, a retried connect starts the request (and a page it opens) again
      restart_request(user);
      connect(user);
      break;
    case Wake::rate_limit:  // idle_timeout restarts where the deferred read starts
      settle_rate(*user.dyn);
      user.deadline = user.dyn->refilled + seconds(config_.scenario->options.idle_timeout);
      await_response(user);
      break;
    case Wake::conn_read:
      user.conn->throttled = false;
      settle_rate(*user.dyn);
      if (user.state == UserState::awaiting) user.received = User::Received::since_sweep;
      conn_read_all(user);
      break;
  }
}

}  // namespace loadctl::engine
