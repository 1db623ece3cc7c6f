#pragma once
// Statistics that merge exactly: counters, sample moments (count, sum, sum of squares, min, max)
// and a log-linear histogram per sample metric. Each agent thread records into its own MetricSet
// without locks; deltas are drained, encoded, shipped and merged, so percentiles computed by the
// controller are percentiles of every sample of the run.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace loadctl {

/// HdrHistogram-style log-linear buckets over non-negative integers (microseconds here),
/// relative error under 1% (two significant digits), exact merge.
class Histogram {
 public:
  void record(std::uint64_t value, std::uint64_t count = 1);
  void merge(const Histogram& other);
  void clear();
  std::uint64_t count() const { return total_; }
  /// The smallest recorded-bucket value v such that `percentile`% of samples are <= v.
  std::uint64_t percentile(double percentile) const;
  bool empty() const { return total_ == 0; }

  /// Sparse binary encoding (bucket index, count) of non-empty buckets.
  void encode(std::string& out) const;
  /// Decodes what encode() wrote; returns false on malformed input. `pos` advances.
  bool decode(std::string_view in, std::size_t& pos);

  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t bucket_high(std::size_t index);  ///< largest value in the bucket

 private:
  std::vector<std::uint64_t> buckets_;  // grown on demand
  std::uint64_t total_ = 0;
};

enum class MetricKind : std::uint8_t {
  sample,   ///< durations in ms: request, page, connect, session, tr_*
  counter,  ///< monotonically counted: users_count, 200, size_rcv, error_*
  gauge,    ///< a level that goes up and down: users, connected
};

/// One metric's accumulated values over some interval.
struct Metric {
  MetricKind kind = MetricKind::counter;
  // sample
  std::uint64_t count = 0;
  double sum = 0, sum_sq = 0;  // ms
  double min = 0, max = 0;     // ms, valid when count > 0
  Histogram hist;              // microseconds
  // counter: count holds the total. gauge: level is the signed change (delta) or level (total).
  std::int64_t level = 0;
  std::int64_t level_max = 0;  ///< highest level seen (gauges)

  void merge(const Metric& other);
  void reset_interval();  ///< clears sample/counter values; gauges keep their level
};

using MetricId = std::uint32_t;

/// A named set of metrics. Ids are stable within one MetricSet (interned names).
class MetricSet {
 public:
  MetricId intern(std::string_view name, MetricKind kind);
  void sample(MetricId id, double ms);
  void add(MetricId id, std::uint64_t n = 1);
  void gauge_add(MetricId id, std::int64_t delta);

  /// Adds every metric of `other` (matched by name) into this set.
  void merge(const MetricSet& other);
  /// Moves this set's values into `into` (merge), then resets samples, counters and gauge deltas.
  void drain_into(MetricSet& into);

  const Metric* find(std::string_view name) const;
  /// Metrics by name, sorted.
  std::vector<std::pair<std::string, const Metric*>> sorted() const;
  bool empty() const;

  /// Binary encoding of all metrics (for control-protocol stats deltas).
  std::string encode() const;
  /// Decodes encode()'s output; false on malformed input (the set is then unspecified).
  bool decode(std::string_view data);

 private:
  std::vector<std::string> names_;
  std::vector<Metric> metrics_;
  std::map<std::string, MetricId, std::less<>> index_;
};

}  // namespace loadctl
