#pragma once
// stats.jsonl writer: one JSON object per dump interval, with percentiles, then a final line
// with whole-run values. Layout (docs/stats.md):
//   {"ts":T,"elapsed":E,"metrics":{
//      "request":{"kind":"sample","count":..,"mean":..,"stddev":..,"min":..,"max":..,"p50":..,
//                 "p90":..,"p95":..,"p99":..,"p99.9":..,"total_count":..},
//      "200":{"kind":"counter","delta":..,"total":..},
//      "users":{"kind":"gauge","level":..,"max":..}}}
//   {"ts":T,"elapsed":E,"event":"rate 2x (all agents)"}   steering (docs/dashboard.md), between intervals
//   {"ts":T,"elapsed":E,"final":true,"metrics":{...whole run: samples without total_count,
//      counters as {"kind":"counter","total":..}, gauges as in intervals}}
// Sample values are milliseconds (percentiles from the µs histogram, < 1% error).

#include <loadctl/retrying_file.hpp>
#include <loadctl/stats.hpp>

#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <string_view>

namespace loadctl {

class StatsJsonlWriter {
 public:
  /// Creates (truncates) `path`; throws std::system_error when it cannot be opened.
  /// `start` is the run's start (unix seconds), for "elapsed".
  StatsJsonlWriter(std::string path, std::time_t start);

  /// Appends the line of one interval (same MetricSet as TsungLogWriter::dump) and flushes.
  bool write_interval(std::time_t now, const MetricSet& interval);
  /// Appends a steering event line {"ts":T,"elapsed":E,"event":"text"} (no "metrics": readers of
  /// intervals skip it) and flushes. `elapsed` is seconds since time zero.
  bool write_event(std::time_t now, double elapsed, std::string_view text);
  /// Appends the final whole-run line ("final":true) and flushes.
  /// Both return false when the write failed; the line stays queued and goes out before the next.
  bool write_final(std::time_t now);
  /// The file, to retry what a full disk refused, check pending bytes, or close it.
  RetryingFile& file() { return file_; }

  /// The lines write_interval()/write_final() append (without the newline); render_interval
  /// updates the cumulative state like write_interval.
  std::string render_interval(std::time_t now, const MetricSet& interval);
  std::string render_final(std::time_t now) const;

  const std::string& path() const { return file_.path(); }

  /// JSON string literal with quotes; control characters, '"' and '\\' escaped, invalid UTF-8
  /// bytes replaced by U+FFFD.
  static void append_string(std::string& out, std::string_view s);
  /// Shortest round-trip number; NaN and infinities become null.
  static void append_number(std::string& out, double v);

 private:
  struct Totals {
    Metric whole;              // samples: every sample of the run; counters: total
    std::int64_t level = 0;    // gauges: running level
    std::int64_t level_max = 0;
  };
  bool write_line(std::string line);

  std::time_t start_;
  RetryingFile file_;
  std::map<std::string, Totals, std::less<>> totals_;
};

}  // namespace loadctl
