#pragma once
// The live dashboard's per-second series (`/api/stats?since=T`): one point per controller tick,
// built from the statistics deltas merged during that second (the same deltas that feed
// tsung.log and stats.jsonl), plus the run's steering events (rate changes, pauses). Bounded:
// the oldest points are dropped past kMaxPoints.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "loadctl/stats.hpp"

namespace loadctl::control {

/// p50/p95/p99 in ms of one sample metric (or of all tr_* merged) over one interval; count 0: none.
struct Percentiles {
  std::uint64_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0;
};
/// Percentiles of `m`'s histogram, clamped to its exact min/max.
Percentiles percentiles_of(const Metric& m);

struct LivePoint {
  double t = 0;                  ///< seconds since time zero, at the end of the second
  double seconds = 1;            ///< length of the interval the rates are over
  std::int64_t users = 0;        ///< running at the end of the interval
  std::uint64_t users_started = 0;  ///< in the interval
  double request_rate = 0;       ///< requests/s
  double error_rate = 0;         ///< error_* counts/s
  Percentiles request, page, transaction;
};

struct LiveEvent {
  double t = 0;
  std::string text;
};

class LiveSeries {
 public:
  static constexpr std::size_t kMaxPoints = 3600;
  static constexpr std::size_t kMaxEvents = 200;

  /// Adds the point of the interval ending `t` s after time zero, `seconds` long: `delta` holds
  /// what was merged in it; `users` is the running level then.
  void add(double t, double seconds, const MetricSet& delta, std::int64_t users);
  void add_event(double t, std::string text);
  const std::deque<LivePoint>& points() const { return points_; }
  const std::deque<LiveEvent>& events() const { return events_; }
  /// {"points":[{"t":..,"users":..,...}...],"events":[...]} of points and events with t > since.
  std::string render_json(double since) const;

 private:
  std::deque<LivePoint> points_;
  std::deque<LiveEvent> events_;
};

}  // namespace loadctl::control
