#include "control/metrics_exposition.hpp"

#include <limits>
#include <map>

#include <fmt/format.h>

namespace loadctl::control {

const std::vector<std::uint64_t>& exposition_bounds_us() {
  static const std::vector<std::uint64_t> bounds = [] {
    std::vector<std::uint64_t> b;
    for (unsigned k = 7; k <= 26; ++k) {  // 128 us .. ~100 s
      std::uint64_t power = std::uint64_t{1} << k;
      b.push_back(Histogram::bucket_high(Histogram::bucket_of(power) - 1));  // 2^k - 1
      b.push_back(Histogram::bucket_high(Histogram::bucket_of(power + power / 2) - 1));  // 1.5 * 2^k - 1
    }
    return b;
  }();
  return bounds;
}

bool split_monitor_name(std::string_view name, std::string& kind, std::string& host) {
  if (!name.starts_with('{') || !name.ends_with("\"}")) return false;
  auto comma = name.find(",\"");
  if (comma == std::string_view::npos) return false;
  kind = std::string(name.substr(1, comma - 1));
  host = std::string(name.substr(comma + 2, name.size() - comma - 4));
  return true;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

// A float as the format reads it (Go's ParseFloat): shortest round trip, +Inf/-Inf/NaN spelled so.
std::string prom_number(double v) {
  if (v != v) return "NaN";
  if (v == std::numeric_limits<double>::infinity()) return "+Inf";
  if (v == -std::numeric_limits<double>::infinity()) return "-Inf";
  return fmt::format("{}", v);
}

void prom_family(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void prom_histogram(std::string& out, const std::string& label, const Metric& m) {
  const auto& bounds = exposition_bounds_us();
  std::uint64_t cumulative = 0;
  std::size_t bucket = 0;
  for (std::uint64_t bound : bounds) {
    std::size_t last = Histogram::bucket_of(bound);
    for (; bucket <= last; ++bucket) cumulative += m.hist.bucket_count(bucket);
    out += fmt::format("loadctl_duration_seconds_bucket{{metric=\"{}\",le=\"{}\"}} {}\n", label,
                       prom_number(static_cast<double>(bound) / 1e6), cumulative);
  }
  out += fmt::format("loadctl_duration_seconds_bucket{{metric=\"{}\",le=\"+Inf\"}} {}\n", label, m.hist.count());
  out += fmt::format("loadctl_duration_seconds_sum{{metric=\"{}\"}} {}\n", label, prom_number(m.sum / 1000.0));
  out += fmt::format("loadctl_duration_seconds_count{{metric=\"{}\"}} {}\n", label, m.hist.count());
}

}  // namespace

std::string render_prometheus(const MetricSet& total, const MetricSet& last_second, const RunStatus& status) {
  std::string out;
  out.reserve(16384);
  auto sorted = total.sorted();
  prom_family(out, "loadctl_count_total", "counter", "Tsung counters of the run (users_count, HTTP status codes, error_*, ...).");
  for (const auto& [name, m] : sorted)
    if (m->kind == MetricKind::counter)
      out += fmt::format("loadctl_count_total{{metric=\"{}\"}} {}\n", escape_label_value(name), prom_number(m->counter_value()));
  prom_family(out, "loadctl_level", "gauge", "Tsung gauges of the run (users, connected) now.");
  for (const auto& [name, m] : sorted)
    if (m->kind == MetricKind::gauge)
      out += fmt::format("loadctl_level{{metric=\"{}\"}} {}\n", escape_label_value(name), m->level);
  prom_family(out, "loadctl_duration_seconds", "histogram", "Tsung sample metrics (request, page, connect, tr_*, ...) in seconds.");
  std::string kind, host;
  for (const auto& [name, m] : sorted)
    if (m->kind == MetricKind::sample && !split_monitor_name(name, kind, host)) prom_histogram(out, escape_label_value(name), *m);
  prom_family(out, "loadctl_monitor", "gauge", "Host monitors: mean of the last second with samples (cpu %, freemem MB, load).");
  for (const auto& [name, m] : sorted) {
    if (m->kind != MetricKind::sample || !split_monitor_name(name, kind, host)) continue;
    const Metric* recent = last_second.find(name);
    const Metric& use = recent && recent->count ? *recent : *m;
    out += fmt::format("loadctl_monitor{{metric=\"{}\",host=\"{}\"}} {}\n", escape_label_value(kind),
                       escape_label_value(host), prom_number(use.mean()));
  }
  prom_family(out, "loadctl_run_elapsed_seconds", "gauge", "Seconds since time zero.");
  out += "loadctl_run_elapsed_seconds " + prom_number(status.elapsed) + "\n";
  prom_family(out, "loadctl_run_planned_seconds", "gauge", "Planned duration of the run.");
  out += "loadctl_run_planned_seconds " + prom_number(status.planned) + "\n";
  prom_family(out, "loadctl_run_phase", "gauge", "Current arrival phase (1-based; 0 after the last one).");
  out += fmt::format("loadctl_run_phase {}\n", status.phase);
  prom_family(out, "loadctl_run_request_rate", "gauge", "Requests per second over the last seconds.");
  out += "loadctl_run_request_rate " + prom_number(status.request_rate) + "\n";
  prom_family(out, "loadctl_run_agents", "gauge", "Agents by state.");
  std::map<std::string, int> states;
  for (const char* s : {"launching", "connected", "ready", "running", "done", "lost", "failed"}) states[s] = 0;
  for (const AgentStatus& a : status.agents) ++states[a.state];
  for (const auto& [state, n] : states) out += fmt::format("loadctl_run_agents{{state=\"{}\"}} {}\n", state, n);
  prom_family(out, "loadctl_run_state", "gauge", "1 for the run's state.");
  out += fmt::format("loadctl_run_state{{state=\"{}\"}} 1\n", state_name(status.state));
  return out;
}

}  // namespace loadctl::control
