#include "engine/worker.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <boost/asio/post.hpp>

namespace loadctl::engine {

namespace {

constexpr MetricId kNoMetric = UINT32_MAX;
constexpr auto kSweepPeriod = std::chrono::milliseconds(200);
constexpr auto kStatsPeriod = std::chrono::milliseconds(250);
constexpr auto kStallLimit = std::chrono::seconds(1);  // arrivals later than this are skipped


Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

std::vector<double> cumulative(const std::vector<double>& weights) {
  std::vector<double> cdf;
  double sum = 0;
  for (double w : weights) cdf.push_back(sum += w);
  for (double& c : cdf) c /= sum > 0 ? sum : 1;
  return cdf;
}

std::size_t pick(const std::vector<double>& cdf, double u) {
  auto it = std::lower_bound(cdf.begin(), cdf.end(), u);
  return it == cdf.end() ? cdf.size() - 1 : static_cast<std::size_t>(it - cdf.begin());
}

}  // namespace

Worker::Worker(unsigned index, const RunConfig& config, WorkerPlan plan)
    : index_(index),
      config_(config),
      plan_(std::move(plan)),
      // Only this worker's thread touches its io_context (stop() sets a flag), so no locking.
      ctx_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE),
      arrival_timer_(ctx_.get_executor()),
      sweep_timer_(ctx_.get_executor()),
      stats_timer_(ctx_.get_executor()),
      hard_stop_timer_(ctx_.get_executor()),
      wake_timer_(ctx_.get_executor()),
      rng_(config.seed + 0x51ed2701u * (index + 1)),
      next_user_id_(plan_.first_user_id) {
  ids_.users_count = stats_.intern("users_count", MetricKind::counter);
  ids_.finish_users_count = stats_.intern("finish_users_count", MetricKind::counter);
  ids_.connected = stats_.intern("connected", MetricKind::gauge);
  ids_.connect = stats_.intern("connect", MetricKind::sample);
  ids_.request = stats_.intern("request", MetricKind::sample);
  ids_.page = stats_.intern("page", MetricKind::sample);
  ids_.session = stats_.intern("session", MetricKind::sample);
  ids_.size_rcv = stats_.intern("size_rcv", MetricKind::counter);
  ids_.size_sent = stats_.intern("size_sent", MetricKind::counter);
  ids_.request_noack = stats_.intern("request_noack", MetricKind::counter);
  status_ids_.assign(1000, kNoMetric);
  std::vector<double> probabilities;
  for (const UserProgram& program : config_.programs) {
    probabilities.push_back(program.probability);
    std::vector<MetricId> ids;
    for (const std::string& name : program.transactions) ids.push_back(stats_.intern(name, MetricKind::sample));
    tr_ids_.push_back(std::move(ids));
  }
  program_cdf_ = cumulative(probabilities);
  // <session_setup>: a phase's own probabilities for the sessions it names; the others keep
  // their global one (Tsung's partial override).
  for (const PhaseShare& share : plan_.phases) {
    std::vector<double> weights;
    for (const ArrivalPhase& phase : config_.scenario->load.phases) {
      if (phase.phase != share.phase || phase.session_setup.empty()) continue;
      weights = probabilities;
      for (const SessionSetup& s : phase.session_setup)
        if (int i = config_.scenario->session_index(s.session); i >= 0) weights[static_cast<std::size_t>(i)] = s.probability;
    }
    phase_program_cdf_.push_back(weights.empty() ? std::vector<double>{} : cumulative(weights));
    bool waits = false;
    for (const ArrivalPhase& phase : config_.scenario->load.phases)
      if (phase.phase == share.phase) waits = phase.wait_all_sessions_end;
    phase_waits_.push_back(waits);
  }
  server_cdf_ = cumulative(config_.server_weights);
}

void Worker::run(Clock::time_point start) {
  start_ = start;
  running_since_ = Clock::now();
  auto guard = asio::make_work_guard(ctx_);
  asio::post(ctx_, [this] {
    if (!plan_.phases.empty()) schedule_phase(0); else no_more_arrivals();
    schedule_static_users();
    if (plan_.hard_stop) {
      hard_stop_timer_.expires_at(start_ + seconds(*plan_.hard_stop));
      hard_stop_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        if (config_.hard_stopped) config_.hard_stopped->store(true);  // not done: check_done cancels this timer
        stop_now();
      });
    }
    sweep_timeouts();
    drain_stats();
    check_done();
  });
  ctx_.run();
  drain_stats();
}

void Worker::stop() { stop_requested_.store(true); }

void Worker::collect(MetricSet& into) {
  std::lock_guard lock(outbox_mutex_);
  outbox_.drain_into(into);
}

void Worker::drain_stats() {
  {
    std::lock_guard lock(outbox_mutex_);
    stats_.drain_into(outbox_);
  }
  if (done_.load()) return;
  stats_timer_.expires_after(kStatsPeriod);
  stats_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) drain_stats();
  });
}

// ---- arrivals ---------------------------------------------------------------------------------

void Worker::schedule_phase(std::size_t index) {
  phase_ = index;
  phase_started_ = 0;
  if (phase_ >= plan_.phases.size()) {
    no_more_arrivals();
    check_done();
    return;
  }
  next_arrival_ = phase_time(plan_.phases[phase_].start);
  schedule_next_arrival();
}

Clock::time_point Worker::phase_time(double s) const { return start_ + phase_shift_ + seconds(s); }

// A phase with wait_all_sessions_end (Tsung's ts_launcher:check_sessions_end) lets the next one
// start only when no user of this agent runs any more, checked every 100 ms as Tsung does; the
// later phases start that much later. One gate per agent: the first worker that sees every
// worker at the end of the phase and no user running releases the next phase for all of them
// at that time, so the workers' new users cannot hold each other back.
void Worker::end_phase() {
  bool waits = phase_ < phase_waits_.size() && phase_waits_[phase_] && phase_ + 1 < plan_.phases.size();
  if (!waits || stopping_) {
    schedule_phase(phase_ + 1);
    return;
  }
  std::int64_t released = -1;
  if (config_.phase_released) {
    config_.phases_done[index_].store(static_cast<std::uint32_t>(phase_ + 1), std::memory_order_release);
    released = config_.phase_released[phase_].load(std::memory_order_acquire);
  }
  if (released < 0) {
    if (!phase_gate_open()) {
      arrival_timer_.expires_after(std::chrono::milliseconds(100));
      arrival_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) end_phase();
      });
      return;
    }
    std::int64_t now = (Clock::now() - start_).count();
    if (!config_.phase_released || config_.phase_released[phase_].compare_exchange_strong(released, now, std::memory_order_acq_rel))
      released = now;
  }
  phase_shift_ = std::max(phase_shift_, Clock::duration(released) - seconds(plan_.phases[phase_ + 1].start));
  schedule_phase(phase_ + 1);
}

// Every worker of the agent has finished the current phase's arrivals, and no user runs.
bool Worker::phase_gate_open() const {
  if (config_.users_level && config_.users_level->load(std::memory_order_relaxed) > 0) return false;
  if (!config_.phases_done) return true;
  for (unsigned w = 0; w < config_.workers; ++w)
    if (config_.phases_done[w].load(std::memory_order_acquire) < phase_ + 1) return false;
  return true;
}

// This worker starts no more users: the other workers' phase gates do not wait for it.
void Worker::no_more_arrivals() {
  arrivals_over_ = true;
  if (config_.phases_done) config_.phases_done[index_].store(UINT32_MAX, std::memory_order_release);
}

void Worker::schedule_next_arrival() {
  const PhaseShare& phase = plan_.phases[phase_];
  Clock::time_point phase_end = phase_time(phase.start + phase.duration);
  bool capped = phase.max_users && phase_started_ >= *phase.max_users;
  if (phase.rate > 0 && !capped && !stopping_) {
    std::exponential_distribution<double> gap(phase.rate);
    next_arrival_ += seconds(gap(rng_));
    skip_missed_arrivals(phase, phase_end);
    capped = phase.max_users && phase_started_ >= *phase.max_users;
    if (next_arrival_ < phase_end && !capped) {
      arrival_timer_.expires_at(next_arrival_);
      arrival_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) on_arrival();
      });
      return;
    }
  }
  // Phase over (or capped): the next one starts at its own scheduled time.
  if (stopping_) return;
  arrival_timer_.expires_at(phase_end);
  arrival_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) end_phase();
  });
}

// After a stall (the process stopped by SIGSTOP, a swapped-out host, a frozen VM), the arrivals
// due during it are not fired all at once: those more than kStallLimit late are skipped and
// counted as error_arrivals_missed (the planned load did not run), and the schedule resumes from
// now. Poisson arrivals: the count in the missed span is Poisson, the next one exponential.
void Worker::skip_missed_arrivals(const PhaseShare& phase, Clock::time_point phase_end) {
  auto now = Clock::now();
  // Arrivals due before this worker ran (an agent joining late for maxusers) are caught up.
  if (now - std::max(next_arrival_, running_since_) <= kStallLimit) return;
  auto missed_until = std::min(now, phase_end);
  std::uint64_t missed = 1;
  if (missed_until > next_arrival_) {
    double span = std::chrono::duration<double>(missed_until - next_arrival_).count();
    std::poisson_distribution<std::uint64_t> count(phase.rate * span);
    missed += count(rng_);
  }
  if (phase.max_users) missed = std::min(missed, *phase.max_users - std::min(*phase.max_users, phase_started_));
  phase_started_ += missed;
  if (missed) stats_.add(error_metric("error_arrivals_missed"), missed);
  std::exponential_distribution<double> gap(phase.rate);
  next_arrival_ = missed_until + seconds(gap(rng_));
}

void Worker::on_arrival() {
  if (plan_.max_active && active_.load(std::memory_order_relaxed) >= plan_.max_active) {
    hand_over();
    return;
  }
  ++phase_started_;
  start_user(pick_program());
  schedule_next_arrival();
}

// maxusers reached (Tsung's semantics): this worker starts no more users; the rest of its
// arrivals, from now on, go to a new agent that the controller starts on the same host.
void Worker::hand_over() {
  Handover handover;
  double now = std::chrono::duration<double>(Clock::now() - start_).count();
  double shift = std::chrono::duration<double>(phase_shift_).count();
  for (std::size_t i = phase_; i < plan_.phases.size(); ++i) {
    PhaseShare share = plan_.phases[i];
    share.start += shift;
    if (i == phase_) {
      double end = share.start + share.duration;
      share.start = std::max(share.start, now);
      share.duration = std::max(0.0, end - share.start);
      if (share.max_users) share.max_users = *share.max_users - std::min(*share.max_users, phase_started_);
    }
    handover.phases.push_back(share);
  }
  arrival_timer_.cancel();
  no_more_arrivals();
  {
    std::lock_guard lock(outbox_mutex_);
    handover_ = std::move(handover);
  }
  check_done();
}

std::optional<Handover> Worker::take_handover() {
  std::lock_guard lock(outbox_mutex_);
  return std::exchange(handover_, std::nullopt);
}

void Worker::schedule_static_users() {
  static_pending_ = plan_.static_users.size();
  static_timers_.reserve(static_pending_);
  for (const StaticUser& user : plan_.static_users) {
    int index = config_.scenario->session_index(user.session);
    const UserProgram* program = index >= 0 ? &config_.programs[static_cast<std::size_t>(index)] : nullptr;
    Timer& timer = static_timers_.emplace_back(ctx_.get_executor());
    timer.expires_at(start_ + seconds(user.start_time));
    timer.async_wait([this, program](const boost::system::error_code& ec) {
      --static_pending_;
      if (!ec && program && !stopping_) start_user(*program);
      check_done();
    });
  }
}

const UserProgram& Worker::pick_program() {
  std::uniform_real_distribution<double> u(0, 1);
  bool own = phase_ < phase_program_cdf_.size() && !phase_program_cdf_[phase_].empty();
  return config_.programs[pick(own ? phase_program_cdf_[phase_] : program_cdf_, u(rng_))];
}

std::int32_t Worker::pick_server() {
  if (server_cdf_.size() <= 1) return 0;
  std::uniform_real_distribution<double> u(0, 1);
  return static_cast<std::int32_t>(pick(server_cdf_, u(rng_)));
}

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

void Worker::check_done() {
  if (done_.load()) return;
  bool over = stopping_ || (arrivals_over_ && static_pending_ == 0);
  if (over && active_.load(std::memory_order_relaxed) == 0) {
    done_.store(true);
    arrival_timer_.cancel();
    sweep_timer_.cancel();
    stats_timer_.cancel();
    hard_stop_timer_.cancel();
    wake_timer_.cancel();
    wakes_.clear();
    for (Timer& t : static_timers_) t.cancel();
    ctx_.stop();
  }
}

void Worker::stop_now() {
  if (stopping_) return;
  stopping_ = true;
  arrival_timer_.cancel();
  no_more_arrivals();
  for (Timer& t : static_timers_) t.cancel();
  for (User& user : users_) {
    if (!user.program) continue;
    count_cut_off(user);
    finish_user(user, /*cut_off=*/true);
  }
  check_done();
}

// A stop (hard stop, controller's stop, abort_test) cuts users short: what they were doing is
// counted, so a run whose users never got an answer cannot look clean. Only runs at stop time.
void Worker::count_cut_off(const User& user) {
  bool retrying = user.state == UserState::thinking && user.connect_attempts > 0;  // connect backoff
  bool in_flight = user.state == UserState::connecting || user.state == UserState::sending ||
                   user.state == UserState::awaiting || retrying;
  if (in_flight) stats_.add(error_metric("error_abort_inflight"));
  if (in_flight || user.state == UserState::thinking) stats_.add(error_metric("users_cut_off"));
}

// Timeouts are checked by a periodic sweep rather than a timer per request: no timer operations
// on the hot path. idle_timeout is Tsung's: time without a byte received, so a pending request
// that received bytes since the last sweep gets its deadline moved (precision: one sweep period).
void Worker::sweep_timeouts() {
  if (stop_requested_.load() || (config_.abort_test && config_.abort_test->load(std::memory_order_relaxed))) stop_now();
  free_retired_tls();
  auto now = Clock::now();
  auto idle = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(config_.scenario->options.idle_timeout));
  for (User& user : users_) {
    if (user.received == User::Received::since_sweep) {
      user.received = User::Received::before_sweep;
      if (user.state == UserState::awaiting) user.deadline = now + idle;
    }
    if (!user.program || now < user.deadline) continue;
    if (user.state == UserState::connecting && user.conn) {  // a plugin handshake that did not end
      close_connection(user);
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
    case Wake::rate_limit:
      user.dyn->tokens = 0;
      user.dyn->refilled = Clock::now();
      await_response(user);
      break;
    case Wake::conn_read:
      user.conn->throttled = false;
      user.dyn->tokens = 0;
      user.dyn->refilled = Clock::now();
      conn_read(user);
      break;
  }
}

MetricId Worker::status_metric(std::uint16_t code) {
  if (code >= status_ids_.size()) return stats_.intern(std::to_string(code), MetricKind::counter);
  MetricId& id = status_ids_[code];
  if (id == kNoMetric) id = stats_.intern(std::to_string(code), MetricKind::counter);
  return id;
}

MetricId Worker::error_metric(std::string_view name) {
  for (const auto& [known, id] : error_ids_)
    if (known == name) return id;
  MetricId id = stats_.intern(name, MetricKind::counter);
  error_ids_.emplace_back(std::string(name), id);
  return id;
}

double Worker::think_seconds(const ThinkTime& t) {
  if (t.min && t.max) {
    std::uniform_real_distribution<double> u(*t.min, *t.max);
    return u(rng_);
  }
  if (t.random && t.value > 0) {
    std::exponential_distribution<double> e(1.0 / t.value);
    return e(rng_);
  }
  return t.value;
}

}  // namespace loadctl::engine
