// A worker's life: construction, the event loop, statistics hand-off, the end and a stop. The
// rest of Worker is split by responsibility: arrivals (worker_arrivals.cpp), the pools of users
// and receive buffers (worker_users.cpp), timeouts and timed wake-ups (worker_timers.cpp), metric
// ids (worker_metrics.cpp), and the users themselves (user_*.cpp).

#include "engine/worker.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <boost/asio/post.hpp>

namespace loadctl::engine {

namespace {

constexpr auto kStatsPeriod = std::chrono::milliseconds(250);

std::vector<double> cumulative(const std::vector<double>& weights) {
  std::vector<double> cdf;
  double sum = 0;
  for (double w : weights) cdf.push_back(sum += w);
  for (double& c : cdf) c /= sum > 0 ? sum : 1;
  return cdf;
}

}  // namespace

Worker::Worker(unsigned index, const RunConfig& config, WorkerPlan plan)
    : index_(index),
      config_(config),
      plan_(std::move(plan)),
      // Only this worker's thread touches its io_context (stop() sets a flag), so no locking.
      ctx_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE),
      arrival_timer_(ctx_.get_executor()),
      tick_hints_{Timer(ctx_.get_executor()), Timer(ctx_.get_executor())},
      sweep_timer_(ctx_.get_executor()),
      stats_timer_(ctx_.get_executor()),
      hard_stop_timer_(ctx_.get_executor()),
      wake_timer_(ctx_.get_executor()),
      rng_(config.seed + 0x51ed2701u * (index + 1)),
      next_user_id_(plan_.first_user_id),
      connect_checks_(config.servers.size()) {
  intern_metrics();
  std::vector<double> probabilities;
  for (const UserProgram& program : config_.programs) {
    probabilities.push_back(program.probability);
    max_loops_ = std::max(max_loops_, program.loops.size());
    max_transactions_ = std::max(max_transactions_, program.transactions.size());
  }
  program_cdf_ = cumulative(probabilities);
  // <session_setup>: a phase's own probabilities for the sessions it names; the others keep
  // their global one (Tsung's partial override).
  for (const PhaseShare& share : plan_.phases) {
    std::vector<double> weights;
    for (const ArrivalPhase& phase : config_.scenario->load.phases) {
      if (phase.phase != share.phase || phase.session_setup.empty()) continue;
      weights = probabilities;
      const std::vector<Session>& sessions = config_.scenario->sessions;
      for (const SessionSetup& s : phase.session_setup)
        for (std::size_t i = 0; i < sessions.size() && i < weights.size(); ++i)
          if (sessions[i].name == s.session) weights[i] = s.probability;  // each session of that name
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

void Worker::check_done() {
  if (done_.load()) return;
  bool over = stopping_ || (arrivals_over_ && static_pending_ == 0);
  if (over && active_.load(std::memory_order_relaxed) == 0) {
    done_.store(true);
    arrival_timer_.cancel();
    cancel_tick_hints();
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
  cancel_tick_hints();
  no_more_arrivals();
  for (Timer& t : static_timers_) t.cancel();
  for (std::size_t i = 0; i < users_.size(); ++i) {
    User& user = users_[i];
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

}  // namespace loadctl::engine
