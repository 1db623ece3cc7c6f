// The worker's pools: users (slots reused, their completions told apart by generation) and the
// receive buffers lent to users while a response is pending; a user's start and end.

#include "engine/worker.hpp"

namespace loadctl::engine {

User& Worker::acquire_user() {
  if (!free_users_.empty()) {
    User& user = users_[free_users_.back()];
    free_users_.pop_back();
    return user;
  }
  User& user = users_.emplace_back(ctx_.get_executor());
  user.slot = static_cast<std::uint32_t>(users_.size() - 1);
  return user;
}

void Worker::release_user(User& user) {
  release_buffer(user);
  ++user.generation;
  ++user.wake_token;  // a pending wake-up is for the user that ended, not the slot's next one
  user.state = UserState::idle;
  user.program = nullptr;
  user.session.reset();  // cookies and the like end with the user, as in Tsung
  std::string().swap(user.pending);
  free_users_.push_back(user.slot);
}

char* Worker::acquire_buffer() {
  if (free_buffers_.empty()) return new char[kReceiveBuffer];
  char* buffer = free_buffers_.back().release();
  free_buffers_.pop_back();
  return buffer;
}

void Worker::release_buffer(User& user) {
  if (!user.buffer) return;
  free_buffers_.emplace_back(user.buffer);
  user.buffer = nullptr;
}

void Worker::start_user(const UserProgram& program) {
  User& user = acquire_user();
  user.program = &program;
  user.id = next_user_id_;
  next_user_id_ += plan_.user_id_stride;
  user.pc = 0;
  user.server = pick_server();
  user.connected_to = -1;
  user.connect_attempts = 0;
  user.loop_counters.assign(program.loops.size(), 0);
  user.tr_starts.assign(program.transactions.size(), {});
  init_dynamics(user);
  user.session_start = Clock::now();
  user.page_start = {};
  std::uint64_t active = active_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (active > peak_.load(std::memory_order_relaxed)) peak_.store(active, std::memory_order_relaxed);
  if (config_.users_level) {
    std::int64_t level = config_.users_level->fetch_add(1, std::memory_order_relaxed) + 1;
    std::int64_t peak = config_.users_peak->load(std::memory_order_relaxed);
    while (level > peak && !config_.users_peak->compare_exchange_weak(peak, level, std::memory_order_relaxed)) {
    }
  }
  stats_.add(ids_.users_count);
  step(user);
}

// Tsung (ts_client:finish_session -> ts_mon:endclient): every user that ends, at the end of its
// session or by an error or a match abort, is a finished user with a session time. A user cut
// off by a stop is not: it stays in the `users` level, as in Tsung's log after its max duration.
void Worker::finish_user(User& user, bool cut_off) {
  if (!cut_off) {
    auto now = Clock::now();
    stats_.sample(ids_.session, std::chrono::duration<double, std::milli>(now - user.session_start).count());
    stats_.add(ids_.finish_users_count);
    if (config_.users_level) config_.users_level->fetch_sub(1, std::memory_order_relaxed);
  }
  close_connection(user);
  active_.fetch_sub(1, std::memory_order_relaxed);
  release_user(user);
  check_done();
}

}  // namespace loadctl::engine
