#include "control/live_series.hpp"

#include <algorithm>

#include "loadctl/json.hpp"

namespace loadctl::control {

Percentiles percentiles_of(const Metric& m) {
  Percentiles p;
  p.count = m.count;
  if (m.count == 0) return p;
  auto at = [&m](double q) {
    double ms = static_cast<double>(m.hist.percentile(q)) / 1000.0;
    return std::min(std::max(ms, m.min), m.max);
  };
  p.p50 = at(50);
  p.p95 = at(95);
  p.p99 = at(99);
  return p;
}

void LiveSeries::add(double t, double seconds, const MetricSet& delta, std::int64_t users) {
  LivePoint p;
  p.t = t;
  // At least 1 s: the run's last point (at its end, maybe 0.1 s after a tick) would otherwise
  // show a rate spike.
  p.seconds = std::max(seconds, 1.0);
  p.users = users;
  Metric transactions;
  transactions.kind = MetricKind::sample;
  std::uint64_t errors = 0;
  for (MetricId id = 0; id < delta.size(); ++id) {
    const std::string& name = delta.name(id);
    const Metric& m = delta.metric(id);
    if (name == "request") p.request = percentiles_of(m);
    else if (name == "page") p.page = percentiles_of(m);
    else if (name == "users_count") p.users_started = m.count;
    else if (name.starts_with("tr_") && m.kind == MetricKind::sample) transactions.merge(m);
    else if (name.starts_with("error_") && m.kind == MetricKind::counter) errors += m.count;
  }
  p.transaction = percentiles_of(transactions);
  p.request_rate = static_cast<double>(p.request.count) / p.seconds;
  p.error_rate = static_cast<double>(errors) / p.seconds;
  points_.push_back(p);
  if (points_.size() > kMaxPoints) points_.pop_front();
}

void LiveSeries::add_event(double t, std::string text) {
  events_.push_back({t, std::move(text)});
  if (events_.size() > kMaxEvents) events_.pop_front();
}

namespace {

void append_live_percentiles(std::string& out, const char* key, const Percentiles& p) {
  out += ",\"";
  out += key;
  out += "\":";
  if (p.count == 0) {
    out += "null";
    return;
  }
  out += "{\"count\":" + std::to_string(p.count) + ",\"p50\":";
  append_json_number(out, p.p50);
  out += ",\"p95\":";
  append_json_number(out, p.p95);
  out += ",\"p99\":";
  append_json_number(out, p.p99);
  out += '}';
}

}  // namespace

std::string LiveSeries::render_json(double since) const {
  std::string out = "{\"points\":[";
  const char* sep = "";
  auto first = std::upper_bound(points_.begin(), points_.end(), since,
                                [](double s, const LivePoint& p) { return s < p.t; });
  for (auto it = first; it != points_.end(); ++it) {
    const LivePoint& p = *it;
    out += sep;
    sep = ",";
    out += "{\"t\":";
    append_json_number(out, p.t);
    out += ",\"users\":" + std::to_string(p.users) + ",\"users_started\":" + std::to_string(p.users_started);
    out += ",\"request_rate\":";
    append_json_number(out, p.request_rate);
    out += ",\"error_rate\":";
    append_json_number(out, p.error_rate);
    append_live_percentiles(out, "request", p.request);
    append_live_percentiles(out, "page", p.page);
    append_live_percentiles(out, "transaction", p.transaction);
    out += '}';
  }
  out += "],\"events\":[";
  sep = "";
  for (const LiveEvent& e : events_) {
    if (!(e.t > since)) continue;
    out += sep;
    sep = ",";
    out += "{\"t\":";
    append_json_number(out, e.t);
    out += ",\"text\":";
    append_json_string(out, e.text);
    out += '}';
  }
  out += "]}\n";
  return out;
}

}  // namespace loadctl::control
