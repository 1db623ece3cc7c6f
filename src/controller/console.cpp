#include "controller/console.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace loadctl::controller {

std::uint64_t total_errors(const MetricSet& set) {
  std::uint64_t errors = 0;
  for (const auto& [name, metric] : set.sorted())
    if (name.rfind("error_", 0) == 0) errors += metric->count;
  return errors;
}

std::string late_arrivals_warning(const MetricSet& total) {
  const Metric* late = total.find("users_late");
  if (!late || late->count == 0) return {};
  // users_late includes the arrivals skipped after a stall (error_arrivals_missed): due, not started.
  const Metric* started = total.find("users_count");
  const Metric* missed = total.find("error_arrivals_missed");
  std::uint64_t due = (started ? started->count : 0) + (missed ? missed->count : 0);
  double percent = due ? 100.0 * static_cast<double>(late->count) / static_cast<double>(due) : 100.0;
  std::string skipped = missed && missed->count
                            ? fmt::format(" ({} of them skipped after a stall of the agent: error_arrivals_missed)", missed->count)
                            : std::string();
  return fmt::format("\nwarning: {} users ({:.1f}% of those due) were not launched in time{}: they started later than "
                     "--arrival-lag-limit after their scheduled arrival; the agents could not keep up with the "
                     "arrival rate, so the load applied was lower than planned\n",
                     late->count, percent, skipped);
}

Console::Console(bool quiet, double planned_seconds) : quiet_(quiet), planned_(planned_seconds) {}

void Console::progress(double elapsed, const MetricSet& total) {
  if (quiet_) return;
  const Metric* users = total.find("users");
  const Metric* started = total.find("users_count");
  const Metric* requests = total.find("request");
  std::uint64_t request_count = requests ? requests->count : 0;
  double dt = elapsed - last_elapsed_;
  double rate = dt > 0 ? static_cast<double>(request_count - last_requests_) / dt : 0;
  last_requests_ = request_count;
  last_elapsed_ = elapsed;
  const Metric* late = total.find("users_late");
  std::fprintf(stderr,
               "[%6.0fs/%.0fs] users %6lld running %8llu started | %9.0f req/s | %10llu requests | errors %llu | late %llu\n",
               elapsed, planned_, static_cast<long long>(users ? users->level : 0),
               static_cast<unsigned long long>(started ? started->count : 0), rate,
               static_cast<unsigned long long>(request_count),
               static_cast<unsigned long long>(total_errors(total)),
               static_cast<unsigned long long>(late ? late->count : 0));
}

void Console::summary(double elapsed, const MetricSet& total, std::FILE* file, bool even_if_quiet) const {
  if (quiet_ && !even_if_quiet) return;
  std::string out = fmt::format("\nRun finished after {:.1f} s\n", elapsed);
  out += fmt::format("{:<24} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "metric (ms)", "count",
                     "mean", "p50", "p95", "p99", "min", "max");
  // Percentiles are histogram bucket bounds: clamp them to the exact min and max.
  auto pct = [](const Metric* m, double p) {
    return std::clamp(static_cast<double>(m->hist.percentile(p)) / 1000.0, m->min, m->max);
  };
  std::string hosts;
  for (const auto& [name, m] : total.sorted()) {
    if (m->kind != MetricKind::sample || m->count == 0) continue;
    if (name.starts_with("{")) {  // host monitoring ({cpu,"host"} ...): not durations
      hosts += fmt::format("{:<32} {:>10.2f} {:>10.2f} {:>10.2f}\n", name, m->sum / static_cast<double>(m->count),
                           m->min, m->max);
      continue;
    }
    out += fmt::format("{:<24} {:>10} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f}\n", name,
                       m->count, m->sum / static_cast<double>(m->count), pct(m, 50), pct(m, 95), pct(m, 99),
                       m->min, m->max);
  }
  if (!hosts.empty())
    out += fmt::format("\n{:<32} {:>10} {:>10} {:>10}\n{}", "host (cpu %, freemem MB, load)", "mean", "min", "max",
                       hosts);
  out += fmt::format("\n{:<24} {:>12} {:>12}\n", "counter", "total", "per second");
  for (const auto& [name, m] : total.sorted()) {
    if (m->kind != MetricKind::counter || !m->has_data()) continue;
    // A sum counter (an SNMP type="sum" OID) adds values, maybe fractional or negative.
    double value = m->counter_value();
    std::string shown = m->real ? fmt::format("{:.2f}", value) : fmt::format("{}", std::llround(value));
    out += fmt::format("{:<24} {:>12} {:>12.1f}\n", name, shown, elapsed > 0 ? value / elapsed : 0.0);
  }
  out += late_arrivals_warning(total);
  std::fputs(out.c_str(), file);
  std::fflush(file);
}

void Console::notice(const std::string& text) const { std::fprintf(stderr, "%s\n", text.c_str()); }

void Console::info(const std::string& text) const {
  if (!quiet_) std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace loadctl::controller
