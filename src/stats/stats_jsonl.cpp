#include <loadctl/stats_jsonl.hpp>

#include "loadctl/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace loadctl {

namespace {

constexpr std::pair<const char*, double> kPercentiles[] = {
    {"p50", 50}, {"p90", 90}, {"p95", 95}, {"p99", 99}, {"p99.9", 99.9}};


void append_gauge_fields(std::string& out, std::int64_t level, std::int64_t max) {
  out += "\"kind\":\"gauge\",\"level\":";
  out += std::to_string(level);
  out += ",\"max\":";
  out += std::to_string(max);
}

void append_key(std::string& out, const char* key) {
  out += '"';
  out += key;
  out += "\":";
}

// Count, moments and percentiles of `m` (ms; histogram in µs).
void append_sample_fields(std::string& out, const Metric& m) {
  out += "\"kind\":\"sample\",\"count\":";
  out += std::to_string(m.count);
  if (m.count == 0) return;
  out += ",\"mean\":";
  StatsJsonlWriter::append_number(out, m.mean());
  out += ",\"stddev\":";
  StatsJsonlWriter::append_number(out, m.stddev());
  out += ",\"min\":";
  StatsJsonlWriter::append_number(out, m.min);
  out += ",\"max\":";
  StatsJsonlWriter::append_number(out, m.max);
  for (auto [key, p] : kPercentiles) {
    out += ',';
    append_key(out, key);
    // The bucket bound can exceed the exact max by < 1%: never report above the real max.
    double ms = static_cast<double>(m.hist.percentile(p)) / 1000.0;
    StatsJsonlWriter::append_number(out, std::min(std::max(ms, m.min), m.max));
  }
}

// A counter: its integer count, or its whole value when add_value gave it a real part.
void append_counter(std::string& out, const Metric& m) {
  if (m.sum == 0 && !m.real) out += std::to_string(m.count);
  else append_json_number(out, m.counter_value());
}

}  // namespace

void StatsJsonlWriter::append_string(std::string& out, std::string_view s) { append_json_string(out, s); }

void StatsJsonlWriter::append_number(std::string& out, double v) { append_json_number(out, v); }

StatsJsonlWriter::StatsJsonlWriter(std::string path, std::time_t start) : start_(start), file_(std::move(path)) {}

bool StatsJsonlWriter::write_line(std::string line) {
  line += '\n';
  return file_.write(line);
}

bool StatsJsonlWriter::write_interval(std::time_t now, const MetricSet& interval) {
  return write_line(render_interval(now, interval));
}

bool StatsJsonlWriter::write_final(std::time_t now) { return write_line(render_final(now)); }

bool StatsJsonlWriter::write_event(std::time_t now, double elapsed, std::string_view text) {
  std::string out = "{\"ts\":" + std::to_string(now) + ",\"elapsed\":";
  append_number(out, elapsed);
  out += ",\"event\":";
  append_string(out, text);
  out += '}';
  return write_line(std::move(out));
}

std::string StatsJsonlWriter::render_interval(std::time_t now, const MetricSet& interval) {
  std::string out = "{\"ts\":";
  out += std::to_string(now);
  out += ",\"elapsed\":";
  out += std::to_string(now - start_);
  out += ",\"metrics\":{";
  bool first = true;
  for (const auto& [name, m] : interval.sorted()) {
    auto it = totals_.find(name);
    if (it == totals_.end()) {
      if (!m->has_data()) continue;  // interned but never used
      it = totals_.emplace(name, Totals{}).first;
      it->second.whole.kind = m->kind;
    }
    Totals& t = it->second;
    if (t.whole.kind != m->kind) continue;
    if (!first) out += ',';
    first = false;
    append_string(out, name);
    out += ":{";
    switch (m->kind) {
      case MetricKind::sample:
        t.whole.merge(*m);
        append_sample_fields(out, *m);
        out += ",\"total_count\":";
        out += std::to_string(t.whole.count);
        break;
      case MetricKind::counter:
        t.whole.merge(*m);
        out += "\"kind\":\"counter\",\"delta\":";
        append_counter(out, *m);
        out += ",\"total\":";
        append_counter(out, t.whole);
        break;
      case MetricKind::gauge:
        t.level_max = std::max({t.level_max, t.level + m->level_max, t.level + m->level});
        t.level += m->level;
        append_gauge_fields(out, t.level, t.level_max);
        break;
    }
    out += '}';
  }
  out += "}}";
  return out;
}

std::string StatsJsonlWriter::render_final(std::time_t now) const {
  std::string out = "{\"ts\":";
  out += std::to_string(now);
  out += ",\"elapsed\":";
  out += std::to_string(now - start_);
  out += ",\"final\":true,\"metrics\":{";
  bool first = true;
  for (const auto& [name, t] : totals_) {
    if (!first) out += ',';
    first = false;
    append_string(out, name);
    out += ":{";
    switch (t.whole.kind) {
      case MetricKind::sample:
        append_sample_fields(out, t.whole);
        break;
      case MetricKind::counter:
        out += "\"kind\":\"counter\",\"total\":";
        append_counter(out, t.whole);
        break;
      case MetricKind::gauge:
        append_gauge_fields(out, t.level, t.level_max);
        break;
    }
    out += '}';
  }
  out += "}}";
  return out;
}

}  // namespace loadctl
