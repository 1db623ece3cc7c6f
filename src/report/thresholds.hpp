#pragma once
// Pass/fail thresholds (`--fail-if EXPR`), evaluated on a run's whole-run statistics.
//   EXPR   := FUNC "(" METRIC ")" OP VALUE | "errors" OP VALUE | "late" OP VALUE
//   FUNC   := p50 | p90 | p95 | p99 | p99.9 | max | min | mean | count | rate
//   OP     := > | >= | < | <= | == | !=
//   VALUE  := number [us | ms | s | %]   (durations default to ms; rate is per second)
// `errors` is the sum of every error_* counter; with `%` it is compared as a percentage of the
// request count. `late` is users_late, the users that started more than --arrival-lag-limit after
// their scheduled arrival; with `%` a percentage of the users started (users_count). count(NAME)
// of a counter (`count(404)`) is its total.

#include <optional>
#include <string>
#include <vector>

#include "report/report_model.hpp"

namespace loadctl::report {

enum class ThresholdFunc { P50, P90, P95, P99, P999, Max, Min, Mean, Count, Rate, Errors, Late };
enum class ThresholdOp { Gt, Ge, Lt, Le, Eq, Ne };

struct Threshold {
  std::string text;  ///< as written by the user
  ThresholdFunc func = ThresholdFunc::Count;
  std::string metric;  ///< empty for `errors`, users_late for `late`
  ThresholdOp op = ThresholdOp::Gt;
  double value = 0;     ///< ms for durations, percent when `percent`
  bool percent = false;
};

/// One threshold applied to a run.
struct ThresholdResult {
  Threshold threshold;
  std::optional<double> actual;  ///< nullopt when the value is not available
  bool failed = false;           ///< crossed, or not evaluable
  std::string detail;            ///< "p99(request) = 231.5 ms > 200 ms", or why not evaluable
};

/// Parses one expression; throws std::invalid_argument with a message naming the expression.
Threshold parse_threshold(const std::string& text);

/// Evaluates every threshold against `model`; a threshold whose value cannot be computed (a
/// percentile without stats.jsonl, the mean of a metric that never had a sample) fails.
std::vector<ThresholdResult> evaluate_thresholds(const std::vector<Threshold>& thresholds, const RunModel& model);

/// True when any result failed.
bool any_failed(const std::vector<ThresholdResult>& results);

}  // namespace loadctl::report
