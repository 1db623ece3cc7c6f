#pragma once
// `/metrics`: the run in Prometheus' text exposition format (version 0.0.4), so that a run can be
// scraped by an existing Prometheus. Families (every series labelled metric="<Tsung name>"):
//   loadctl_count_total            counter   Tsung counters (users_count, 200, error_*, size_rcv, ...)
//   loadctl_level                  gauge     Tsung gauges (users, connected)
//   loadctl_duration_seconds       histogram Tsung samples in ms (request, page, connect, tr_*, ...)
//   loadctl_monitor                gauge     host monitors ({cpu,"h"} -> metric="cpu",host="h"): last mean
//   loadctl_run_*                  gauges    elapsed/planned seconds, phase, request rate, agents by state
// Histogram bounds are upper bounds of the mergeable histogram's own buckets (two per octave,
// 2^k-1 and 1.5*2^k-1 microseconds), so every cumulative count is exact, not interpolated.

#include <cstdint>
#include <string>
#include <vector>

#include "control/run_status.hpp"
#include "loadctl/stats.hpp"

namespace loadctl::control {

/// The `le` bounds of loadctl_duration_seconds, in microseconds (each a Histogram::bucket_high).
const std::vector<std::uint64_t>& exposition_bounds_us();

/// Renders the whole exposition. `total`: the run's merged metrics; `last_second`: the latest
/// one-second delta (host monitor means come from it, else from `total`).
std::string render_prometheus(const MetricSet& total, const MetricSet& last_second, const RunStatus& status);

/// A host monitor's metric name {cpu,"host"} split into ("cpu", "host"); false for any other name.
bool split_monitor_name(std::string_view name, std::string& kind, std::string& host);

/// A label value escaped as the format requires (backslash, double quote, newline).
std::string escape_label_value(std::string_view value);

}  // namespace loadctl::control
