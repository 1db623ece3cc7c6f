// tsung.log -> RunModel. Format: docs/stats.md ("tsung.log"). Tolerant by design: a run killed
// mid-dump leaves a truncated last line, which is counted and skipped, never fatal.
#include <cmath>
#include <cstdlib>
#include <limits>

#include "report/report_model.hpp"

namespace loadctl::report {
namespace {

constexpr std::size_t kKeptExamples = 5;

void skip(RunModel& model, std::size_t line_no, std::string_view line, std::string_view why) {
  ++model.skipped_lines;
  if (model.skipped_examples.size() < kKeptExamples) {
    std::string shown(line.substr(0, 120));
    model.skipped_examples.push_back("tsung.log line " + std::to_string(line_no) + " (" + std::string(why) +
                                     "): " + shown);
  }
}

bool parse_number(std::string_view token, double& out) {
  std::string s(token);
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() && std::isfinite(out);
}

// Splits "NAME f1 f2 ..." where NAME may be an Erlang tuple such as {cpu,"host"}.
bool split_fields(std::string_view rest, std::string& name, std::vector<double>& fields) {
  std::size_t end;
  if (!rest.empty() && rest.front() == '{') {
    end = rest.find('}');
    if (end == std::string_view::npos) return false;
    ++end;
  } else {
    end = rest.find(' ');
    if (end == std::string_view::npos) return false;
  }
  name = std::string(rest.substr(0, end));
  rest.remove_prefix(end);
  fields.clear();
  while (!rest.empty()) {
    std::size_t b = rest.find_first_not_of(' ');
    if (b == std::string_view::npos) break;
    rest.remove_prefix(b);
    std::size_t e = rest.find(' ');
    double v;
    if (!parse_number(rest.substr(0, e), v)) return false;
    fields.push_back(v);
    rest.remove_prefix(e == std::string_view::npos ? rest.size() : e);
  }
  return !name.empty();
}

// Grows every series of `m` to `n` dumps: nothing measured (count 0, mean NaN, delta 0) and
// levels carried forward.
void extend(MetricData& m, std::size_t n) {
  double last_level = m.level.empty() ? 0 : m.level.back();
  double last_peak = m.peak.empty() ? 0 : m.peak.back();
  m.count.resize(n, 0);
  m.mean.resize(n, kNaN);
  m.delta.resize(n, 0);
  m.level.resize(n, last_level);
  m.peak.resize(n, last_peak);
}

MetricData& metric(RunModel& model, const std::string& name, MetricKind kind) {
  auto [it, inserted] = model.metrics.try_emplace(name);
  if (inserted) {
    it->second.name = name;
    it->second.kind = kind;
  }
  return it->second;
}

bool add_line(RunModel& model, const std::string& name, const std::vector<double>& f) {
  std::size_t n = model.dumps.size();
  std::size_t i = n - 1;
  if (name == "users" || name == "connected") {
    if (f.size() != 2) return false;
    MetricData& m = metric(model, name, MetricKind::Gauge);
    if (m.kind != MetricKind::Gauge) return false;
    extend(m, n);
    if (name == "users") {
      m.level[i] = f[0];
      m.peak[i] = f[1];
    } else {
      m.delta[i] = f[0];
      m.level[i] = f[1];
    }
    return true;
  }
  if (f.size() == 2) {
    MetricData& m = metric(model, name, MetricKind::Counter);
    if (m.kind != MetricKind::Counter) return false;
    extend(m, n);
    m.delta[i] = f[0];
    m.level[i] = f[1];
    return true;
  }
  if (f.size() == 7) {
    MetricData& m = metric(model, name, MetricKind::Sample);
    if (m.kind != MetricKind::Sample || f[0] < 0) return false;
    extend(m, n);
    m.count[i] = f[0];
    m.mean[i] = f[0] > 0 ? f[1] : kNaN;
    // MAX and MIN are whole-run-so-far; the last block that prints them wins.
    m.max = f[3];
    m.min = f[4];
    return true;
  }
  return false;
}

}  // namespace

void read_tsung_log(std::string_view text, RunModel& model) {
  model.has_tsung_log = true;
  bool in_block = false;
  std::string name;
  std::vector<double> fields;
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.starts_with("EndMonitor:")) continue;
    if (line.starts_with("# stats: dump at ")) {
      double ts;
      if (!parse_number(line.substr(17), ts) || (!model.dumps.empty() && ts < static_cast<double>(model.dumps.back()))) {
        skip(model, line_no, line, "bad dump timestamp; block skipped");
        in_block = false;
        continue;
      }
      model.dumps.push_back(static_cast<std::time_t>(ts));
      in_block = true;
      continue;
    }
    if (!line.starts_with("stats: ")) {
      skip(model, line_no, line, "not a stats line");
      continue;
    }
    if (!in_block) {
      skip(model, line_no, line, "outside a dump block");
      continue;
    }
    if (!split_fields(line.substr(7), name, fields) || !add_line(model, name, fields))
      skip(model, line_no, line, "malformed or truncated");
  }
  for (auto& [_, m] : model.metrics) extend(m, model.dumps.size());
}

}  // namespace loadctl::report
