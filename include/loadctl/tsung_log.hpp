#pragma once
// tsung.log writer: Tsung 1.7.0's text statistics format, so tsung_stats.pl renders our runs.
// Format summary (details in docs/stats.md): no header; every dump is a line
// "# stats: dump at <unix seconds>" followed by one "stats: ..." line per metric:
//   stats: users LEVEL MAX_SINCE_START
//   stats: NAME COUNT MEAN STDDEV MAX MIN GMEAN GCOUNT   samples (ms; MAX/MIN since start,
//                                                        GMEAN/GCOUNT up to the previous dump)
//   stats: NAME DELTA TOTAL                              counters, and gauges other than users

#include <loadctl/retrying_file.hpp>
#include <loadctl/stats.hpp>

#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <string_view>

namespace loadctl {

/// Appends one dump block per call to a tsung.log file; keeps the cumulative values Tsung prints
/// (max/min since start, global mean/count, counter totals, gauge levels) itself.
class TsungLogWriter {
 public:
  /// Creates (truncates) `path`. Throws std::system_error when it cannot be opened.
  /// `start` is the run's start time; the format has no header, so it only bounds `now`.
  TsungLogWriter(std::string path, std::time_t start);

  /// Writes the block for one interval and flushes. `interval` holds that interval's merged
  /// deltas: samples and counters of the interval only, gauges as their change since the last
  /// dump (level) and the highest partial sum within the interval (level_max).
  /// Returns false when the write failed: the cumulative state is still updated and the block
  /// stays queued in memory, written before the next one (file().error() says why).
  bool dump(std::time_t now, const MetricSet& interval);
  /// The file, to retry what a full disk refused, check pending bytes, or close it.
  RetryingFile& file() { return file_; }

  /// The block dump() would write, updating the cumulative state the same way.
  std::string render(std::time_t now, const MetricSet& interval);

  const std::string& path() const { return file_.path(); }

  /// A double the way Erlang's "~p" prints it: shortest round-trip digits, in fixed or
  /// scientific notation ("1.0e-5"), whichever is shorter (fixed on a tie), always with a '.'.
  static std::string format_float(double value);

 private:
  struct Totals {
    MetricKind kind = MetricKind::counter;
    bool seen = false;          // printed from the first interval that had data on
    double max = 0, min = 0;    // samples: since start
    double gmean = 0;           // samples: mean of all samples before this dump
    std::uint64_t gcount = 0;   // samples: count of all samples before this dump
    std::uint64_t total = 0;    // counters
    double real_total = 0;      // counters: what add_value added
    bool real = false;          // counters: a float was added, printed as floats from then on
    bool signed_ints = false;   // counters: add_value moved the total once, printed signed from then on
    std::int64_t level = 0;     // gauges: running level
    std::int64_t level_max = 0; // gauges: highest level since start
    const Metric* current = nullptr;  // this interval's values, during render() only
  };
  void append_line(std::string& out, const std::string& name, Totals& t, const Metric* m);

  std::time_t start_;
  RetryingFile file_;
  std::map<std::string, Totals, std::less<>> totals_;
};

}  // namespace loadctl
