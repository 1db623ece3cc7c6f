// The report's HTML tables, for one run and for a comparison of two.
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "report/html_escape.hpp"
#include "report/report.hpp"

namespace loadctl::report {

std::string fmt_num(double v) {
  if (!std::isfinite(v)) return "-";
  double a = std::abs(v);
  if (a == 0) return "0";
  if (a >= 1e5 || std::floor(v) == v) return fmt::format("{:.0f}", v);
  if (a >= 100) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

namespace {

using Cells = std::vector<std::string>;

std::string table(const std::string& id, const std::string& title, const Cells& header, const std::vector<Cells>& rows,
                  const std::string& note = "") {
  if (rows.empty()) return "";
  std::string out = fmt::format("<section class=\"table\" id=\"{}\"><h3>{}</h3>", id, html_escape(title));
  if (!note.empty()) out += "<p class=\"note\">" + html_escape(note) + "</p>";
  out += "<table><thead><tr>";
  for (std::size_t i = 0; i < header.size(); ++i) out += fmt::format("<th{}>{}</th>", i ? "" : " class=\"name\"", html_escape(header[i]));
  out += "</tr></thead><tbody>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (std::size_t i = 0; i < row.size(); ++i)
      out += i ? "<td>" + html_escape(row[i]) + "</td>" : "<td class=\"name\">" + html_escape(row[i]) + "</td>";
    out += "</tr>\n";
  }
  return out + "</tbody></table></section>\n";
}

double interval_len(const RunModel& m) {
  return m.dumps.size() >= 2 ? static_cast<double>(m.dumps[1] - m.dumps[0]) : m.duration;
}

double mean_rate(const RunModel& run, const MetricData& m) { return run.duration > 0 ? m.total_count / run.duration : NAN; }

std::vector<Cells> sample_rows(const RunModel& run, bool transactions) {
  std::vector<Cells> rows;
  for (const auto& [n, m] : run.metrics) {
    bool tr = n.starts_with("tr_");
    if (tr != transactions || m.kind != MetricKind::Sample || is_monitor_metric(n) || m.count.empty()) continue;
    rows.push_back({n, fmt_num(m.highest_mean), fmt_num(m.lowest_mean), fmt_num(m.highest_rate), fmt_num(mean_rate(run, m)),
                    fmt_num(m.run_mean()), fmt_num(m.total_count)});
  }
  return rows;
}

template <class Pred>
std::vector<Cells> counter_rows(const RunModel& run, Pred pred, bool with_mean_rate) {
  std::vector<Cells> rows;
  for (const auto& [n, m] : run.metrics) {
    if (m.kind != MetricKind::Counter || !pred(n)) continue;
    Cells row{n, fmt_num(m.highest_rate)};
    if (with_mean_rate) row.push_back(fmt_num(mean_rate(run, m)));
    row.push_back(fmt_num(m.total_count));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

std::string render_run_tables(const RunModel& run) {
  std::string out;
  std::string span = fmt::format("highest {} s mean", fmt_num(interval_len(run)));
  std::string low = fmt::format("lowest {} s mean", fmt_num(interval_len(run)));
  Cells sample_head{"name", span, low, "highest rate (/s)", "mean rate (/s)", "mean (ms)", "count"};
  out += table("main", "Main statistics", sample_head, sample_rows(run, false),
               "Durations in ms. Count and mean cover every interval, the last one included (Tsung's own report omits the last interval from its count column).");

  std::vector<Cells> pct;
  for (const auto& [n, m] : run.metrics) {
    if (!m.pct || is_monitor_metric(n)) continue;
    pct.push_back({n, fmt_num(m.total_count), fmt_num(m.min), fmt_num(m.pct->p50), fmt_num(m.pct->p90), fmt_num(m.pct->p95),
                   fmt_num(m.pct->p99), fmt_num(m.pct->p999), fmt_num(m.pct->max)});
  }
  if (pct.empty())
    out += "<section class=\"table\" id=\"percentiles\"><h3>Percentiles</h3><p class=\"note\">Not available: "
           "percentiles come from stats.jsonl's final line, which this log directory does not have "
           "(a log written by Tsung, or an interrupted run).</p></section>\n";
  else
    out += table("percentiles", "Percentiles (whole run, merged histograms)",
                 {"name", "count", "min", "p50", "p90", "p95", "p99", "p99.9", "max"}, pct,
                 "Milliseconds, from stats.jsonl's final line (histogram bucket bounds, under 1% above the true value).");

  out += table("transactions", "Transactions", sample_head, sample_rows(run, true));

  std::vector<Cells> net;
  for (const char* n : {"size_rcv", "size_sent"}) {
    const MetricData* m = run.find(n);
    if (!m) continue;
    net.push_back({std::string(n) + (n[5] == 'r' ? " (in)" : " (out)"), fmt_num(m->highest_rate * 8 / 1000),
                   fmt_num(mean_rate(run, *m) * 8 / 1000), fmt_num(m->total_count / 1e6)});
  }
  out += table("network", "Network throughput", {"name", "highest rate (kbit/s)", "mean rate (kbit/s)", "total (MB)"}, net);

  auto counters = counter_rows(run, [](const std::string& n) {
    return !is_status_code(n) && !n.starts_with("error_") && n != "size_rcv" && n != "size_sent";
  }, false);
  for (const char* g : {"users", "connected"})
    if (const MetricData* m = run.find(g)) counters.push_back({std::string("max ") + g, "-", fmt_num(m->max)});
  out += table("counters", "Counters", {"name", "highest rate (/s)", "total"}, counters);
  out += table("codes", "HTTP status codes", {"code", "highest rate (/s)", "mean rate (/s)", "total"},
               counter_rows(run, [](const std::string& n) { return is_status_code(n); }, true));
  out += table("errors", "Errors", {"name", "highest rate (/s)", "total"},
               counter_rows(run, [](const std::string& n) { return n.starts_with("error_"); }, false));

  std::vector<Cells> mon;
  for (const auto& [n, m] : run.metrics)
    if (is_monitor_metric(n) && m.kind == MetricKind::Sample)
      mon.push_back({n, fmt_num(m.highest_mean), fmt_num(m.lowest_mean), fmt_num(m.run_mean()), fmt_num(m.max), fmt_num(m.min)});
  out += table("monitoring", "Server monitoring", {"name", span, low, "mean", "max", "min"}, mon,
               "cpu in %, freemem in MB, load as the 1-minute load average.");
  return out;
}

namespace {

Cells delta_row(const std::string& name, const std::string& what, double a, double b) {
  std::string pct = "-";
  if (std::isfinite(a) && std::isfinite(b) && a != 0) pct = fmt::format("{:+.1f}%", 100.0 * (b - a) / a);
  return {name, what, fmt_num(a), fmt_num(b), std::isfinite(a) && std::isfinite(b) ? fmt_num(b - a) : "-", pct};
}

}  // namespace

std::string render_compare_tables(const RunModel& a, const RunModel& b) {
  Cells head{"name", "value", "A: " + a.label, "B: " + b.label, "B - A", "change"};
  std::set<std::string> all;
  for (const auto& [n, _] : a.metrics) all.insert(n);
  for (const auto& [n, _] : b.metrics) all.insert(n);
  std::vector<Cells> samples, counters;
  for (const auto& n : all) {
    const MetricData* ma = a.find(n);
    const MetricData* mb = b.find(n);
    const MetricData* any = ma ? ma : mb;
    if (is_monitor_metric(n)) continue;
    auto get = [](const MetricData* m, auto f) { return m ? f(*m) : NAN; };
    if (any->kind == MetricKind::Sample) {
      samples.push_back(delta_row(n, "mean (ms)", get(ma, [](auto& m) { return m.run_mean(); }), get(mb, [](auto& m) { return m.run_mean(); })));
      auto p = [](double Percentiles::*f) { return [f](const MetricData& m) { return m.pct ? m.pct.value().*f : NAN; }; };
      samples.push_back(delta_row(n, "p95 (ms)", get(ma, p(&Percentiles::p95)), get(mb, p(&Percentiles::p95))));
      samples.push_back(delta_row(n, "p99 (ms)", get(ma, p(&Percentiles::p99)), get(mb, p(&Percentiles::p99))));
      samples.push_back(delta_row(n, "max (ms)", get(ma, [](auto& m) { return m.max; }), get(mb, [](auto& m) { return m.max; })));
      samples.push_back(delta_row(n, "count", get(ma, [](auto& m) { return m.total_count; }), get(mb, [](auto& m) { return m.total_count; })));
      samples.push_back(delta_row(n, "mean rate (/s)", ma ? mean_rate(a, *ma) : NAN, mb ? mean_rate(b, *mb) : NAN));
    } else if (any->kind == MetricKind::Counter) {
      // A counter a run never printed counted nothing in that run.
      counters.push_back(delta_row(n, "total", ma ? ma->total_count : 0.0, mb ? mb->total_count : 0.0));
    } else {
      counters.push_back(delta_row(n, "max", get(ma, [](auto& m) { return m.max; }), get(mb, [](auto& m) { return m.max; })));
    }
  }
  std::vector<Cells> run_rows{delta_row("duration", "s", a.duration, b.duration),
                              delta_row("errors", "total", a.error_total(), b.error_total())};
  return table("cmp-run", "Runs", head, run_rows) +
         table("cmp-samples", "Response times and rates", head, samples, "p95/p99 need stats.jsonl; '-' where a run lacks them.") +
         table("cmp-counters", "Counters, HTTP codes and errors", head, counters);
}

}  // namespace loadctl::report
