// The worker's pools: users (slots reused, their completions told apart by generation) and the
// receive buffers lent to users while a response is pending; a user's start and end.

#include <sys/mman.h>

#include <algorithm>
#include <new>

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
  if (free_buffers_.empty()) {
    free_buffers_low_ = 0;
    void* pages = ::mmap(nullptr, kReceiveBuffer, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) return nullptr;  // await_response fails the request, not the loop
    return static_cast<char*>(pages);
  }
  char* buffer = free_buffers_.back().release();
  free_buffers_.pop_back();
  free_buffers_low_ = std::min(free_buffers_low_, free_buffers_.size());
  return buffer;
}

void Worker::release_buffer(User& user) {
  if (!user.buffer) return;
  free_buffers_.emplace_back(user.buffer);
  user.buffer = nullptr;
}

void Worker::PagesDeleter::operator()(char* pages) const { ::munmap(pages, kReceiveBuffer); }

// The pool keeps what the busiest moment since the last trim used, plus a few. The sweep trims
// every 10 s, and early once 32 or more stayed unused for 3 s (buffer_trim_due): a ramp's or a
// slow server's peak of pending responses does not stay resident for the rest of the run, and a
// steady or bursting load does not map and unmap buffers.
void Worker::trim_buffers() {
  constexpr std::size_t kSpare = 8;
  std::size_t unused = free_buffers_low_ > kSpare ? free_buffers_low_ - kSpare : 0;
  free_buffers_.resize(free_buffers_.size() - unused);
  free_buffers_low_ = free_buffers_.size();
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
  user.send_retries = 0;
  if (!program.loops.empty()) {
    if (!user.loop_counters) user.loop_counters = std::make_unique<std::int64_t[]>(max_loops_);
    std::fill_n(user.loop_counters.get(), program.loops.size(), 0);
  }
  if (!program.transactions.empty()) {
    if (!user.tr_starts) user.tr_starts = std::make_unique<Clock::time_point[]>(max_transactions_);
    std::fill_n(user.tr_starts.get(), program.transactions.size(), Clock::time_point{});
  }
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
