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
  static std::uint64_t bucket_low(std::size_t index);   ///< smallest value in the bucket

  /// Values below 2^(kSubBits+1) have their own bucket; above, each power of two is split into
  /// 2^kSubBits buckets, so a bucket is narrower than 1/128 of its values (< 0.8% error).
  static constexpr unsigned kSubBits = 7;
  static constexpr std::size_t kBucketCount = (64 - kSubBits + 1) << kSubBits;

  /// Count in bucket `index` (0 when never grown that far).
  std::uint64_t bucket_count(std::size_t index) const {
    return index < buckets_.size() ? buckets_[index] : 0;
  }
  std::uint64_t min() const;  ///< bucket_low of the lowest non-empty bucket; 0 when empty
  std::uint64_t max() const;  ///< bucket_high of the highest non-empty bucket; 0 when empty
  bool operator==(const Histogram& other) const;

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
  // merge/drain of gauges: level += other.level, then level_max = max(level_max, level).
  std::int64_t level = 0;
  std::int64_t level_max = 0;  ///< highest level seen (gauges)
  /// counter: a value added with MetricSet::add_value (Tsung's {sum, Name, V} with a float or
  /// negative V) goes to `sum`; `real` says a float was added, so the total prints as a float.
  bool real = false;

  void merge(const Metric& other);
  void reset_interval();  ///< clears sample/counter values; gauges keep their level
  void clear();           ///< back to zero, kind kept (used by drain_into on the source)
  bool has_data() const;  ///< any sample, any count, or a non-zero gauge level/max

  void record(double ms);  ///< one sample (ms); no allocation once the histogram has grown
  double mean() const { return count ? sum / static_cast<double>(count) : 0.0; }
  /// counter: the whole value, count plus what add_value added.
  double counter_value() const { return static_cast<double>(count) + sum; }
  /// Population standard deviation of this interval's samples (what Tsung prints).
  double stddev() const;
};

using MetricId = std::uint32_t;

/// A named set of metrics. Ids are stable within one MetricSet (interned names).
class MetricSet {
 public:
  /// Id of `name`, interning it when new; an existing name keeps its first kind and id.
  MetricId intern(std::string_view name, MetricKind kind);
  /// Hot path: no allocation, no lock. `ms` < 0 counts as 0.
  void sample(MetricId id, double ms);
  void add(MetricId id, std::uint64_t n = 1);
  /// A counter's real-valued addition, as Tsung's {sum, Name, V}: V may be fractional or
  /// negative; `is_float` marks the counter as printed with floats (Erlang's float arithmetic).
  void add_value(MetricId id, double v, bool is_float);
  void gauge_add(MetricId id, std::int64_t delta);

  /// Adds every metric of `other` (matched by name, interned here when new) into this set.
  /// Gauges add levels (sums of deltas); a name already interned with another kind is skipped.
  void merge(const MetricSet& other);
  /// Moves this set's values into `into` (merge), then resets samples, counters and gauge deltas.
  void drain_into(MetricSet& into);

  const Metric* find(std::string_view name) const;
  /// Id of an interned name, or npos.
  static constexpr MetricId npos = static_cast<MetricId>(-1);
  MetricId id_of(std::string_view name) const;
  std::size_t size() const { return metrics_.size(); }
  const std::string& name(MetricId id) const { return names_[id]; }
  const Metric& metric(MetricId id) const { return metrics_[id]; }
  /// Clears every metric's values (reset_interval); names and ids stay.
  void reset_interval();
  /// Zeroes every value, gauge levels included; names and ids stay (start of a new delta set).
  void clear_values();
  /// Metrics by name, sorted.
  std::vector<std::pair<std::string, const Metric*>> sorted() const;
  /// True when no metric holds a value (names may be interned).
  bool empty() const;

  /// Binary encoding of all metrics (for control-protocol stats deltas).
  std::string encode() const;
  /// Decodes encode()'s output into this set (cleared first: names, ids and values);
  /// false on malformed input (the set is then unspecified but valid).
  bool decode(std::string_view data);

 private:
  std::vector<std::string> names_;
  std::vector<Metric> metrics_;
  std::map<std::string, MetricId, std::less<>> index_;
};

}  // namespace loadctl
