// Arrivals: the phases of this worker's share of the plan (Poisson arrivals, wait_all_sessions_end
// gates, stalls skipped), static users, the maxusers hand-over, and which session and server a
// new user gets.

#include <algorithm>
#include <utility>

#include "engine/worker.hpp"

namespace loadctl::engine {

namespace {

constexpr auto kStallLimit = std::chrono::seconds(1);  // arrivals later than this are skipped
// The arrival timer is due on whole milliseconds (Tsung's timers have that resolution): every
// arrival due by the time it fires starts in that one wake-up, so that the timer is set at most
// 1000 times a second, not once per user.
Clock::time_point arrival_tick(Clock::time_point t) {
  return Clock::time_point(std::chrono::ceil<std::chrono::milliseconds>(t.time_since_epoch()));
}

std::size_t pick(const std::vector<double>& cdf, double u) {
  auto it = std::lower_bound(cdf.begin(), cdf.end(), u);
  return it == cdf.end() ? cdf.size() - 1 : static_cast<std::size_t>(it - cdf.begin());
}

}  // namespace

void Worker::schedule_phase(std::size_t index) {
  phase_ = index;
  phase_started_ = 0;
  if (phase_ >= plan_.phases.size()) {
    no_more_arrivals();
    check_done();
    return;
  }
  next_arrival_ = phase_time(plan_.phases[phase_].start);
  arrival_gaps_.clear();
  schedule_next_arrival();
}

Clock::time_point Worker::phase_time(double s) const { return start_ + phase_shift_ + seconds(s); }

// `from` plus a Poisson gap, at most `limit`: a tiny rate's gap (years) would overflow the clock's
// integer duration.
Clock::time_point Worker::after_gap(Clock::time_point from, double gap, Clock::time_point limit) {
  if (from >= limit || !(gap < std::chrono::duration<double>(limit - from).count())) return std::max(from, limit);
  return from + seconds(gap);
}

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

// True when the next arrival is due within the current wake-up (on_arrival starts it at once);
// otherwise the timer is set for it, or for the phase's end.
bool Worker::schedule_next_arrival() {
  const PhaseShare& phase = plan_.phases[phase_];
  Clock::time_point phase_end = phase_time(phase.start + phase.duration);
  bool capped = phase.max_users && phase_started_ >= *phase.max_users;
  double rate = phase.rate * arrival_factor_;
  if (rate > 0 && !capped && !stopping_) {
    next_arrival_ = after_gap(next_arrival_, arrival_gaps_.take(rate, rng_), phase_end);
    skip_missed_arrivals(rate, phase_end, phase);
    capped = phase.max_users && phase_started_ >= *phase.max_users;
    if (next_arrival_ < phase_end && !capped) {
      if (next_arrival_ <= wake_time_) return true;
      arrival_timer_.expires_at(arrival_tick(next_arrival_));
      arrival_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) on_arrival();
      });
      auto following = following_expiry(rate, phase_end, phase);
      if (following && *following > arrival_timer_.expiry()) hint_tick(*following);
      return false;
    }
  }
  // Phase over (or capped): the next one starts at its own scheduled time.
  if (stopping_) return false;
  arrival_timer_.expires_at(phase_end);
  arrival_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) end_phase();
  });
  return false;
}

// The expiry arrival_timer_ gets once its wait for next_arrival_ ends (schedule_next_arrival after
// the arrivals of that wake-up): the tick of the first later arrival not in the same tick, or the
// phase's end. From the gaps drawn ahead, so exact unless the rate changes, a stall is skipped,
// or the wake-up comes a tick late; none when more than ArrivalGaps::kAhead share the tick.
std::optional<Clock::time_point> Worker::following_expiry(double rate, Clock::time_point phase_end,
                                                          const PhaseShare& phase) {
  Clock::time_point tick = arrival_tick(next_arrival_);
  Clock::time_point t = next_arrival_;
  std::uint64_t started = phase_started_;
  for (std::size_t ahead = 0; ahead < ArrivalGaps::kAhead; ++ahead) {
    if (phase.max_users && ++started >= *phase.max_users) return phase_end;
    t = after_gap(t, arrival_gaps_.peek(ahead, rate, rng_), phase_end);
    if (t >= phase_end) return phase_end;
    if (arrival_tick(t) > tick) return arrival_tick(t);
  }
  return std::nullopt;
}

// asio's epoll reactor re-arms its timerfd when timers fire (for the earliest one left) and again
// when a wait is set earlier than every other: an arrival timer re-armed in its own handler costs
// two timerfd_settime calls per tick. With a hint already waiting at the tick it is re-armed for,
// the reactor's re-arm is for that tick and the arrival timer's own is not the earliest: one.
// Two hints take turns: the one due with the tick that just fired moves to the tick after the next.
void Worker::hint_tick(Clock::time_point at) {
  Timer* older = &tick_hints_[0];
  for (Timer& hint : tick_hints_) {
    if (hint.expiry() == at) return;
    if (hint.expiry() < older->expiry()) older = &hint;
  }
  older->expires_at(at);  // a wait still pending (a wrong guess) ends with operation_aborted
  older->async_wait([](const boost::system::error_code&) {});
}

void Worker::cancel_tick_hints() {
  for (Timer& hint : tick_hints_) hint.expires_at(Clock::time_point{});
}

// After a stall (the process stopped by SIGSTOP, a swapped-out host, a frozen VM), the arrivals
// due during it are not fired all at once: those more than kStallLimit late are skipped and
// counted as error_arrivals_missed (the planned load did not run) and as users_late (they were
// not launched in time: the late figure, its warning and --fail-if late include them), and the
// schedule resumes from now. Poisson arrivals: the count in the missed span is Poisson, the next
// one exponential.
void Worker::skip_missed_arrivals(double rate, Clock::time_point phase_end, const PhaseShare& phase) {
  auto now = Clock::now();
  // Arrivals due before this worker ran (an agent joining late for maxusers) are caught up.
  if (now - std::max(next_arrival_, running_since_) <= kStallLimit) return;
  auto missed_until = std::min(now, phase_end);
  std::uint64_t missed = 1;
  if (missed_until > next_arrival_) {
    double span = std::chrono::duration<double>(missed_until - next_arrival_).count();
    std::poisson_distribution<std::uint64_t> count(rate * span);
    missed += count(rng_);
  }
  if (phase.max_users) missed = std::min(missed, *phase.max_users - std::min(*phase.max_users, phase_started_));
  phase_started_ += missed;
  if (missed) {
    stats_.add(error_metric("error_arrivals_missed"), missed);
    stats_.add(error_metric("users_late"), missed);
  }
  std::exponential_distribution<double> gap(rate);
  next_arrival_ = after_gap(missed_until, gap(rng_), phase_end);
}

void Worker::set_arrival_factor(double factor) {
  asio::post(ctx_, [this, factor] { apply_arrival_factor(factor); });
}

// Poisson arrivals are memoryless: the pending one is drawn again at the new rate from now (or
// from the phase's start, not reached yet). A worker waiting at a phase's end re-arms the same wait.
void Worker::apply_arrival_factor(double factor) {
  if (factor == arrival_factor_) return;
  arrival_factor_ = factor;
  if (arrivals_over_ || stopping_ || phase_ >= plan_.phases.size()) return;
  arrival_timer_.cancel();
  cancel_tick_hints();
  next_arrival_ = std::max(Clock::now(), phase_time(plan_.phases[phase_].start));
  schedule_next_arrival();
}

// Starts every arrival due by now. One that starts more than the arrival lag limit after its
// scheduled time (the worker's loop was too busy: the load generator did not keep up) is counted
// as users_late (Tsung: "users were not launched in time"). The lag is measured when the user
// starts, not at the wake-up: in a long catch-up batch the last ones start later than the first
// (one clock read per arrival, only while the wake-up alone does not make it late).
void Worker::on_arrival() {
  wake_time_ = Clock::now();
  bool due = true;
  while (due) {
    if (plan_.max_active && active_.load(std::memory_order_relaxed) >= plan_.max_active) {
      hand_over();
      break;
    }
    ++phase_started_;
    if (wake_time_ - next_arrival_ > config_.arrival_lag_limit || Clock::now() - next_arrival_ > config_.arrival_lag_limit)
        [[unlikely]]
      stats_.add(error_metric("users_late"));
    start_user(pick_program());
    due = schedule_next_arrival();
  }
  wake_time_ = Clock::time_point::min();
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
  cancel_tick_hints();
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

}  // namespace loadctl::engine
