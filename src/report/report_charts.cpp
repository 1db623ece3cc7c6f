// Chart specifications from one or more RunModels (docs/report.md lists them).
#include <cmath>
#include <limits>
#include <set>

#include "report/report.hpp"

namespace loadctl::report {
namespace {

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

const char* color(std::size_t i) { return kPalette[i % std::size(kPalette)]; }

// Per-second rate of `values` per dump interval (NaN for an interval of zero length).
std::vector<double> per_second(const RunModel& run, const std::vector<double>& values, double scale = 1) {
  std::vector<double> out(values.size(), kNaN);
  for (std::size_t i = 0; i < values.size() && i < run.elapsed.size(); ++i) {
    double len = run.elapsed[i] - (i ? run.elapsed[i - 1] : 0.0);
    if (len > 0) out[i] = values[i] * scale / len;
  }
  return out;
}

std::string suffix(const std::vector<const RunModel*>& runs, std::size_t r) {
  return runs.size() > 1 ? " [" + runs[r]->label + "]" : "";
}

ChartSeries line(std::string label, std::size_t c, const std::vector<double>& x, std::vector<double> y, std::size_t run) {
  ChartSeries s;
  s.label = std::move(label);
  s.color = color(c);
  s.x = x;
  s.y = std::move(y);
  s.dashed = run > 0;
  return s;
}

// Names present in any run that satisfy `pred`, sorted.
template <class Pred>
std::vector<std::string> names(const std::vector<const RunModel*>& runs, Pred pred) {
  std::set<std::string> out;
  for (const RunModel* r : runs)
    for (const auto& [name, m] : r->metrics)
      if (m.count.size() == r->dumps.size() && pred(name, m)) out.insert(name);
  return {out.begin(), out.end()};
}

ChartSpec base(std::string id, std::string title, std::string y_label, const std::vector<const RunModel*>& runs) {
  ChartSpec spec;
  spec.id = std::move(id);
  spec.title = std::move(title);
  spec.y_label = std::move(y_label);
  spec.markers = runs.front()->phase_starts;
  spec.marker_label = "phase start";
  spec.events = runs.front()->events;
  for (const auto& limit : runs.front()->generator_limits) spec.alerts.emplace_back(limit.from, limit.to);
  spec.alert_label = "load generator saturated";
  return spec;
}

// One chart, one line per (metric, run): `value` maps a metric to its per-dump series.
template <class Value>
ChartSpec per_metric(std::string id, std::string title, std::string y_label, const std::vector<const RunModel*>& runs,
                     const std::vector<std::string>& metrics, Value value, std::string (*label)(const std::string&)) {
  ChartSpec spec = base(std::move(id), std::move(title), std::move(y_label), runs);
  for (std::size_t r = 0; r < runs.size(); ++r)
    for (std::size_t k = 0; k < metrics.size(); ++k)
      if (const MetricData* m = runs[r]->find(metrics[k]))
        spec.series.push_back(line(label(metrics[k]) + suffix(runs, r), k, runs[r]->elapsed, value(*runs[r], *m), r));
  return spec;
}

std::string same(const std::string& s) { return s; }
std::string host_of(const std::string& s) {
  auto comma = s.find(',');
  std::string host = comma == std::string::npos ? s : s.substr(comma + 1);
  if (!host.empty() && host.back() == '}') host.pop_back();
  if (host.size() >= 2 && host.front() == '"' && host.back() == '"') host = host.substr(1, host.size() - 2);
  return host;
}

void response_time_chart(std::vector<ChartSpec>& out, const std::vector<const RunModel*>& runs, const std::string& name) {
  ChartSpec spec = base("rt-" + name, "Response time: " + name, "response time (ms)", runs);
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const MetricData* m = runs[r]->find(name);
    if (!m) continue;
    std::size_t c = r * 3;
    if (m->p95.size() == runs[r]->jsonl_elapsed.size() && !m->p95.empty()) {
      // Bands from the interval's mean up to p95, and from p95 up to p99 (stats.jsonl lines).
      std::vector<double> mean_j(m->p95.size(), kNaN);
      for (std::size_t j = 0; j < mean_j.size(); ++j) {
        for (std::size_t i = 0; i < runs[r]->elapsed.size(); ++i)
          if (std::abs(runs[r]->elapsed[i] - runs[r]->jsonl_elapsed[j]) < 0.5) mean_j[j] = m->mean[i];
        if (!std::isfinite(mean_j[j]) && std::isfinite(m->p95[j])) mean_j[j] = m->p95[j];
      }
      ChartSeries p95 = line("mean..p95" + suffix(runs, r), c, runs[r]->jsonl_elapsed, m->p95, r);
      p95.band = true;
      p95.y_base = mean_j;
      ChartSeries p99 = line("p95..p99" + suffix(runs, r), c + 1, runs[r]->jsonl_elapsed, m->p99, r);
      p99.band = true;
      p99.y_base = m->p95;
      if (runs.size() == 1) {
        spec.series.push_back(std::move(p95));
        spec.series.push_back(std::move(p99));
      } else {
        spec.series.push_back(line("p99" + suffix(runs, r), c + 1, runs[r]->jsonl_elapsed, m->p99, r));
      }
    }
    spec.series.push_back(line("mean" + suffix(runs, r), c, runs[r]->elapsed, m->mean, r));
  }
  out.push_back(std::move(spec));
}

}  // namespace

std::vector<ChartSpec> build_charts(const std::vector<const RunModel*>& runs) {
  std::vector<ChartSpec> charts;
  auto has = [&](const std::string& n) {
    for (const RunModel* r : runs)
      if (r->find(n) && r->find(n)->count.size() == r->dumps.size()) return true;
    return false;
  };
  charts.push_back(per_metric("users", "Simultaneous users and open connections", "users / connections", runs,
                              names(runs, [](const std::string& n, const MetricData&) { return n == "users" || n == "connected"; }),
                              [](const RunModel&, const MetricData& m) { return m.level; }, same));
  charts.push_back(per_metric("arrival", "Arrival rate (users started and finished per second)", "users per second", runs,
                              names(runs, [](const std::string& n, const MetricData&) { return n == "users_count" || n == "finish_users_count"; }),
                              [](const RunModel& r, const MetricData& m) { return per_second(r, m.delta); }, same));
  for (const char* n : {"request", "page", "session", "connect"})
    if (has(n)) response_time_chart(charts, runs, n);
  for (const auto& n : names(runs, [](const std::string& n, const MetricData&) { return n.starts_with("tr_"); }))
    response_time_chart(charts, runs, n);
  charts.push_back(per_metric("rate", "Request and page rate", "per second", runs,
                              names(runs, [](const std::string& n, const MetricData&) { return n == "request" || n == "page"; }),
                              [](const RunModel& r, const MetricData& m) { return per_second(r, m.count); }, same));
  charts.push_back(per_metric("network", "Network throughput (in = size_rcv, out = size_sent)", "kbit/s", runs,
                              names(runs, [](const std::string& n, const MetricData&) { return n == "size_rcv" || n == "size_sent"; }),
                              [](const RunModel& r, const MetricData& m) { return per_second(r, m.delta, 8.0 / 1000); }, same));
  auto codes = names(runs, [](const std::string& n, const MetricData&) { return is_status_code(n); });
  if (!codes.empty())
    charts.push_back(per_metric("codes", "HTTP status codes", "responses per second", runs, codes,
                                [](const RunModel& r, const MetricData& m) { return per_second(r, m.delta); }, same));
  auto errors = names(runs, [](const std::string& n, const MetricData&) { return n.starts_with("error_"); });
  if (!errors.empty())
    charts.push_back(per_metric("errors", "Errors", "errors per second", runs, errors,
                                [](const RunModel& r, const MetricData& m) { return per_second(r, m.delta); }, same));
  // Monitored hosts ({name,"host"}): one chart per name, one line per host; an interval without
  // a sample (host down) is a gap in the line.
  struct Monitor { std::string key, title, unit; };
  std::vector<Monitor> monitors{{"cpu", "CPU usage per monitored host", "cpu (%; snmp: ticks/s, 100 = one CPU)"},
                                {"freemem", "Free memory per monitored host", "free memory (MB)"},
                                {"load", "Load average per monitored host", "load (1 min)"},
                                {"recvpackets", "Packets received per monitored host", "packets per sample"},
                                {"sentpackets", "Packets sent per monitored host", "packets per sample"},
                                {"recvbytes", "Bytes received per monitored host", "bytes per 10 s"},
                                {"sentbytes", "Bytes sent per monitored host", "bytes per 10 s"},
                                {"diskread", "Disk bytes read per monitored host", "bytes per 10 s"},
                                {"diskwrite", "Disk bytes written per monitored host", "bytes per 10 s"},
                                {"diskbusy", "Busiest disk's busy time per monitored host", "% of the time with I/O in flight"},
                                {"iowait", "CPU time waiting for I/O per monitored host", "iowait (% of all CPUs)"},
                                {"agentcpu", "CPU of each load agent process", "% of its worker threads' cores"}};
  // (a sample's interval mean; an SNMP type="sum" counter is in the tables only)
  for (const auto& n : names(runs, [](const std::string& n, const MetricData& m) {
         return is_monitor_metric(n) && m.kind == MetricKind::Sample;
       })) {
    std::string key = n.substr(1, n.find(',') == std::string::npos ? 0 : n.find(',') - 1);
    bool known = false;
    for (const Monitor& m : monitors) known = known || m.key == key;
    if (!key.empty() && !known) monitors.push_back({key, "Monitored: " + key, key});
  }
  for (const Monitor& mon : monitors) {
    std::string prefix = "{" + mon.key + ",";
    auto hosts = names(runs, [&](const std::string& n, const MetricData&) { return n.starts_with(prefix); });
    if (!hosts.empty())
      charts.push_back(per_metric("mon-" + mon.key, mon.title, mon.unit, runs, hosts,
                                  [](const RunModel&, const MetricData& m) { return m.mean; }, host_of));
  }
  return charts;
}

}  // namespace loadctl::report
