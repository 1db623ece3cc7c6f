#pragma once
// What the person running the test sees: a progress line every second and a summary table.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "loadctl/stats.hpp"

namespace loadctl::controller {

class Console {
 public:
  Console(bool quiet, double planned_seconds);

  /// One progress line from the run's running totals.
  void progress(double elapsed, const MetricSet& total);
  /// The end-of-run table: sample metrics with percentiles, then counters, on `out` (stderr;
  /// stdout when the results could not be written, then even when quiet).
  void summary(double elapsed, const MetricSet& total, std::FILE* out, bool even_if_quiet = false) const;
  /// A notice that is printed even when quiet (errors, lost agents).
  void notice(const std::string& text) const;
  void info(const std::string& text) const;

 private:
  bool quiet_;
  double planned_;
  std::uint64_t last_requests_ = 0;
  double last_elapsed_ = 0;
};

/// Sum of every error_* counter.
std::uint64_t total_errors(const MetricSet& set);

/// The summary's warning when users started late (users_late, Tsung's "users were not launched
/// in time"), or "" when none did.
std::string late_arrivals_warning(const MetricSet& total);

}  // namespace loadctl::controller
