#pragma once
// The agent's engine: turns a scenario and this agent's plan into per-thread Workers, runs them,
// and collects their statistics.

#include <memory>
#include <thread>
#include <vector>

#include "engine/worker.hpp"

namespace loadctl::engine {

class Engine {
 public:
  /// Compiles sessions and resolves servers. Throws std::runtime_error with a clear message.
  /// `agent_count`: agents in the run, so that file_server lines are split between all of them.
  /// `arrival_lag_limit`: seconds a user may start after its scheduled arrival before it is
  /// counted as users_late.
  Engine(const Scenario& scenario, const AgentPlan& plan, unsigned threads, unsigned agent_count = 1,
         double arrival_lag_limit = 0.1);
  ~Engine();

  /// Starts the worker threads; the schedule's time zero is `start`.
  void start(Clock::time_point start);
  /// Stops every user now; returns at once (join() waits).
  void stop();
  void join();
  /// Moves statistics gathered since the last call into `into`.
  void collect(MetricSet& into);
  bool done() const;
  /// Arrivals handed over by workers that reached their maxusers share since the last call.
  std::vector<Handover> take_handovers();
  std::uint64_t active_users() const;
  /// Users that reached a wait_global thinktime since the last call (for the controller).
  std::uint64_t take_barrier_arrivals() { return barrier_arrivals_.exchange(0); }
  /// Lets `n` users waiting at wait_global go on (the controller's release).
  void release_barrier(std::uint64_t n);
  /// Arrivals of every worker from now on at `factor` times the planned rate (0: paused); before
  /// start(), the factor they begin at.
  void set_arrival_factor(double factor);
  /// <load duration> cut this agent's load short (users running or still to arrive).
  bool hard_stopped() const { return hard_stopped_.load(); }
  /// <abort type="all"> or <match do="abort_test"> stopped this agent.
  bool test_aborted() const { return abort_test_.tripped(); }
  /// What aborted the test (the match or the <abort>, the user, the session); empty if nothing did.
  std::string abort_cause() const { return abort_test_.cause(); }
  /// Sum of the workers' peaks: an upper bound of the users this agent ran at once.
  std::uint64_t peak_users() const;

 private:
  RunConfig config_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> file_next_;  ///< see RunConfig::file_next
  AbortLatch abort_test_;                                    ///< see RunConfig::abort_test
  std::atomic<bool> hard_stopped_{false};                    ///< see RunConfig::hard_stopped
  std::atomic<std::int64_t> users_level_{0}, users_peak_{0};  ///< see RunConfig::users_level
  std::int64_t users_sent_ = 0;                              ///< users level in the last collect
  std::atomic<std::uint64_t> barrier_arrivals_{0};           ///< see RunConfig::barrier_arrivals
  std::unique_ptr<std::atomic<std::uint32_t>[]> phases_done_;   ///< see RunConfig::phases_done
  std::unique_ptr<std::atomic<std::int64_t>[]> phase_released_; ///< see RunConfig::phase_released
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

/// Splits an agent plan between `threads` workers (rates and caps divided, ids interleaved).
std::vector<WorkerPlan> split_plan(const AgentPlan& plan, unsigned threads);

}  // namespace loadctl::engine
