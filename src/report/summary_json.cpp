// summary.json: the report's main table in machine-readable form (layout in docs/report.md).
#include <fmt/format.h>

#include "loadctl/json.hpp"
#include "report/report.hpp"

namespace loadctl::report {
namespace {

void field(std::string& out, bool& first, std::string_view key, double v) {
  out += first ? "" : ",";
  first = false;
  append_json_string(out, key);
  out += ':';
  append_json_number(out, v);
}

}  // namespace

std::string render_summary_json(const RunModel& m, const std::vector<ThresholdResult>& results) {
  std::string out = "{\"run\":{\"dir\":" + json_string(m.dir) + ",\"label\":" + json_string(m.label) +
                    ",\"scenario\":" + json_string(m.scenario) + ",\"software\":" + json_string(m.software);
  out += fmt::format(",\"start\":{},\"last_dump\":{},\"duration\":{},\"dumps\":{}", static_cast<long long>(m.start),
                     m.dumps.empty() ? 0LL : static_cast<long long>(m.dumps.back()), json_number(m.duration), m.dumps.size());
  out += fmt::format(",\"start_estimated\":{}", m.start_estimated);
  out += m.exit_status ? fmt::format(",\"exit_status\":{}", *m.exit_status) : std::string(",\"exit_status\":null");
  out += fmt::format("}},\n\"sources\":{{\"tsung_log\":true,\"stats_jsonl\":{},\"percentiles\":{},\"skipped_lines\":{}}}",
                     m.has_jsonl, m.has_final_jsonl, m.skipped_lines);
  out += ",\n\"metrics\":{";
  bool first_metric = true;
  for (const auto& [name, d] : m.metrics) {
    if (d.count.size() != m.dumps.size()) continue;
    out += first_metric ? "\n" : ",\n";
    first_metric = false;
    append_json_string(out, name);
    const char* kind = d.kind == MetricKind::Sample ? "sample" : d.kind == MetricKind::Counter ? "counter" : "gauge";
    out += fmt::format(":{{\"kind\":\"{}\"", kind);
    bool first = false;
    double rate = m.duration > 0 ? d.total_count / m.duration : 0;
    if (d.kind == MetricKind::Sample) {
      field(out, first, "count", d.total_count);
      field(out, first, "mean", d.run_mean());
      field(out, first, "highest_mean", d.highest_mean);
      field(out, first, "lowest_mean", d.lowest_mean);
      field(out, first, "highest_rate", d.highest_rate);
      field(out, first, "mean_rate", rate);
      field(out, first, "min", d.min);
      field(out, first, "max", d.max);
      if (d.pct) {
        field(out, first, "p50", d.pct->p50);
        field(out, first, "p90", d.pct->p90);
        field(out, first, "p95", d.pct->p95);
        field(out, first, "p99", d.pct->p99);
        field(out, first, "p99.9", d.pct->p999);
      }
    } else if (d.kind == MetricKind::Counter) {
      field(out, first, "total", d.total_count);
      field(out, first, "highest_rate", d.highest_rate);
      field(out, first, "mean_rate", rate);
    } else {
      field(out, first, "last", d.total_count);
      field(out, first, "max", d.max);
    }
    out += "}";
  }
  out += fmt::format("}},\n\"errors\":{{\"total\":{},\"per_request_percent\":{}}}", json_number(m.error_total()),
                     [&] {
                       const MetricData* r = m.find("request");
                       return r && r->total_count > 0 ? json_number(100.0 * m.error_total() / r->total_count) : std::string("null");
                     }());
  out += ",\n\"thresholds\":[";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    out += fmt::format("{}\n{{\"expr\":{},\"failed\":{},\"value\":{},\"limit\":{},\"detail\":{}}}", i ? "," : "",
                       json_string(r.threshold.text), r.failed, r.actual ? json_number(*r.actual) : "null",
                       json_number(r.threshold.value), json_string(r.detail));
  }
  out += fmt::format("],\n\"passed\":{}}}\n", !any_failed(results));
  return out;
}

}  // namespace loadctl::report
