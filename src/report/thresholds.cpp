#include "report/thresholds.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>
#include "loadctl/text.hpp"

namespace loadctl::report {
namespace {

struct FuncName {
  const char* name;
  ThresholdFunc func;
};
constexpr FuncName kFuncs[] = {{"p50", ThresholdFunc::P50},   {"p90", ThresholdFunc::P90},
                               {"p95", ThresholdFunc::P95},   {"p99.9", ThresholdFunc::P999},
                               {"p99", ThresholdFunc::P99},   {"max", ThresholdFunc::Max},
                               {"min", ThresholdFunc::Min},   {"mean", ThresholdFunc::Mean},
                               {"count", ThresholdFunc::Count}, {"rate", ThresholdFunc::Rate}};

const char* op_text(ThresholdOp op) {
  switch (op) {
    case ThresholdOp::Gt: return ">";
    case ThresholdOp::Ge: return ">=";
    case ThresholdOp::Lt: return "<";
    case ThresholdOp::Le: return "<=";
    case ThresholdOp::Eq: return "==";
    case ThresholdOp::Ne: return "!=";
  }
  return "?";
}

bool is_duration(ThresholdFunc f) {
  return f != ThresholdFunc::Count && f != ThresholdFunc::Rate && f != ThresholdFunc::Errors && f != ThresholdFunc::Late;
}

[[noreturn]] void bad(const std::string& text, const std::string& why) {
  throw std::invalid_argument(fmt::format("bad threshold '{}': {}", text, why));
}

}  // namespace

Threshold parse_threshold(const std::string& text) {
  Threshold t;
  t.text = text;
  std::size_t op_pos = text.find_first_of("<>=!");
  if (op_pos == std::string::npos) bad(text, "no comparison operator (one of > >= < <= == !=)");
  std::string lhs(loadctl::text::trim(std::string_view(text).substr(0, op_pos)));
  std::string_view rest = std::string_view(text).substr(op_pos);
  static constexpr std::pair<const char*, ThresholdOp> kOps[] = {{">=", ThresholdOp::Ge}, {"<=", ThresholdOp::Le},
                                                                 {"==", ThresholdOp::Eq}, {"!=", ThresholdOp::Ne},
                                                                 {">", ThresholdOp::Gt},  {"<", ThresholdOp::Lt}};
  bool found = false;
  for (auto [s, op] : kOps) {
    if (rest.starts_with(s)) {
      t.op = op;
      rest.remove_prefix(std::string_view(s).size());
      found = true;
      break;
    }
  }
  if (!found) bad(text, "unknown operator (use > >= < <= == !=)");

  if (lhs == "errors") {
    t.func = ThresholdFunc::Errors;
  } else if (lhs == "late") {
    t.func = ThresholdFunc::Late;
    t.metric = "users_late";
  } else {
    std::size_t open = lhs.find('(');
    if (open == std::string::npos || lhs.back() != ')')
      bad(text, "expected FUNC(METRIC) such as p99(request), or 'errors' or 'late', before the operator");
    std::string func(loadctl::text::trim(std::string_view(lhs).substr(0, open)));
    t.metric = loadctl::text::trim(std::string_view(lhs).substr(open + 1, lhs.size() - open - 2));
    if (t.metric.empty()) bad(text, "empty metric name in " + lhs);
    bool known = false;
    for (const auto& f : kFuncs) {
      if (func == f.name) {
        t.func = f.func;
        known = true;
      }
    }
    if (!known) bad(text, "unknown function '" + func + "' (p50 p90 p95 p99 p99.9 max min mean count rate)");
  }

  std::string value(loadctl::text::trim(rest));
  if (value.empty()) bad(text, "no value after the operator");
  char* end = nullptr;
  t.value = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || !std::isfinite(t.value)) bad(text, "'" + value + "' is not a number");
  std::string unit(loadctl::text::trim(std::string_view(end)));
  if (unit == "%") {
    if (t.func != ThresholdFunc::Errors && t.func != ThresholdFunc::Late) bad(text, "'%' is only allowed with errors and late");
    t.percent = true;
  } else if (unit == "ms" || unit == "s" || unit == "us") {
    if (!is_duration(t.func)) bad(text, "unit '" + unit + "' only applies to durations (p50..p99.9, max, min, mean)");
    if (unit == "s") t.value *= 1000;
    if (unit == "us") t.value /= 1000;
  } else if (!unit.empty()) {
    bad(text, "unknown unit '" + unit + "' (use us, ms, s or %)");
  }
  return t;
}

namespace {

bool compare(double a, ThresholdOp op, double b) {
  switch (op) {
    case ThresholdOp::Gt: return a > b;
    case ThresholdOp::Ge: return a >= b;
    case ThresholdOp::Lt: return a < b;
    case ThresholdOp::Le: return a <= b;
    case ThresholdOp::Eq: return a == b;
    case ThresholdOp::Ne: return a != b;
  }
  return false;
}

// The value a threshold looks at, or an explanation of why there is none.
std::optional<double> measure(const Threshold& t, const RunModel& model, std::string& why) {
  if (t.func == ThresholdFunc::Errors) {
    double errors = model.error_total();
    if (!t.percent) return errors;
    const MetricData* req = model.find("request");
    double requests = req ? req->total_count : 0;
    if (requests <= 0) return errors > 0 ? 100.0 : 0.0;  // errors without a single request: 100%
    return 100.0 * errors / requests;
  }
  if (t.func == ThresholdFunc::Late) {
    const MetricData* late = model.find("users_late");
    double n = late ? late->total_count : 0;
    if (!t.percent) return n;
    // Of the arrivals due: those started and those skipped after a stall (late too).
    const MetricData* started = model.find("users_count");
    const MetricData* missed = model.find("error_arrivals_missed");
    double users = (started ? started->total_count : 0) + (missed ? missed->total_count : 0);
    if (users <= 0) return n > 0 ? 100.0 : 0.0;
    return 100.0 * n / users;
  }
  const MetricData* m = model.find(t.metric);
  if (t.func == ThresholdFunc::Count) return m ? m->total_count : 0.0;
  if (t.func == ThresholdFunc::Rate) return m && model.duration > 0 ? m->total_count / model.duration : 0.0;
  if (!m || m->kind != MetricKind::Sample || m->total_count <= 0) {
    why = "no samples of '" + t.metric + "' in this run";
    return std::nullopt;
  }
  switch (t.func) {
    case ThresholdFunc::Mean: return m->run_mean();
    case ThresholdFunc::Max: return m->max;
    case ThresholdFunc::Min: return m->min;
    default: break;
  }
  if (!m->pct) {
    why = "percentiles need stats.jsonl's final line, which this log directory lacks";
    return std::nullopt;
  }
  switch (t.func) {
    case ThresholdFunc::P50: return m->pct->p50;
    case ThresholdFunc::P90: return m->pct->p90;
    case ThresholdFunc::P95: return m->pct->p95;
    case ThresholdFunc::P99: return m->pct->p99;
    default: return m->pct->p999;
  }
}

std::string with_unit(const Threshold& t, double v) {
  if (t.percent) return fmt::format("{:.3g}%", v);
  if (is_duration(t.func)) return fmt::format("{:.4g} ms", v);
  if (t.func == ThresholdFunc::Rate) return fmt::format("{:.4g}/s", v);
  return fmt::format("{:.0f}", v);
}

}  // namespace

std::vector<ThresholdResult> evaluate_thresholds(const std::vector<Threshold>& thresholds, const RunModel& model) {
  std::vector<ThresholdResult> results;
  for (const Threshold& t : thresholds) {
    ThresholdResult r;
    r.threshold = t;
    std::string why;
    r.actual = measure(t, model, why);
    std::string lhs(loadctl::text::trim(std::string_view(t.text).substr(0, t.text.find_first_of("<>=!"))));
    if (!r.actual) {
      r.failed = true;
      r.detail = fmt::format("{}: not evaluable: {}", lhs, why);
    } else {
      r.failed = compare(*r.actual, t.op, t.value);
      r.detail = fmt::format("{} = {} ({} {} {})", lhs, with_unit(t, *r.actual), r.failed ? "crossed:" : "ok, not",
                             op_text(t.op), with_unit(t, t.value));
    }
    results.push_back(std::move(r));
  }
  return results;
}

bool any_failed(const std::vector<ThresholdResult>& results) {
  for (const auto& r : results)
    if (r.failed) return true;
  return false;
}

}  // namespace loadctl::report
