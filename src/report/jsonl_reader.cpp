// stats.jsonl and run.json -> RunModel (layouts in docs/stats.md and src/controller/run_json.cpp).
#include <algorithm>
#include <cmath>
#include <limits>

#include "report/json_value.hpp"
#include "report/report_model.hpp"

namespace loadctl::report {
namespace {


void skip_jsonl(RunModel& model, std::size_t line_no, const std::string& why) {
  ++model.skipped_lines;
  if (model.skipped_examples.size() < 5)
    model.skipped_examples.push_back("stats.jsonl line " + std::to_string(line_no) + ": " + why);
}

void read_final(const JsonValue& metrics, RunModel& model) {
  model.has_final_jsonl = true;
  for (const auto& [name, v] : metrics.object) {
    if (v.string_at("kind") != "sample") continue;
    auto p50 = v.number_at("p50");
    if (!p50) continue;
    Percentiles p;
    p.p50 = *p50;
    p.p90 = v.number_at("p90").value_or(kNaN);
    p.p95 = v.number_at("p95").value_or(kNaN);
    p.p99 = v.number_at("p99").value_or(kNaN);
    p.p999 = v.number_at("p99.9").value_or(kNaN);
    p.max = v.number_at("max").value_or(kNaN);
    auto [it, inserted] = model.metrics.try_emplace(name);
    if (inserted) it->second.name = name;
    it->second.pct = p;
  }
}

void read_interval(const JsonValue& line, const JsonValue& metrics, RunModel& model) {
  model.jsonl_ts.push_back(line.number_at("ts").value_or(kNaN));
  std::size_t n = model.jsonl_ts.size();
  for (const auto& [name, v] : metrics.object) {
    if (v.string_at("kind") != "sample") continue;
    auto it = model.metrics.find(name);
    if (it == model.metrics.end() || it->second.kind != MetricKind::Sample) continue;
    MetricData& m = it->second;
    m.p95.resize(n, kNaN);
    m.p99.resize(n, kNaN);
    m.p95[n - 1] = v.number_at("p95").value_or(kNaN);
    m.p99[n - 1] = v.number_at("p99").value_or(kNaN);
  }
}

}  // namespace

void read_stats_jsonl(std::string_view text, RunModel& model) {
  model.has_jsonl = true;
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    std::string error;
    auto doc = parse_json(line, &error);
    const JsonValue* metrics = doc ? doc->find("metrics") : nullptr;
    if (!metrics && doc && doc->find("event")) {  // a steering event (docs/dashboard.md)
      if (auto t = doc->number_at("elapsed")) model.events.emplace_back(*t, doc->string_at("event"));
      continue;
    }
    if (!metrics || metrics->type != JsonValue::Type::Object) {
      skip_jsonl(model, line_no, doc ? "no \"metrics\" object" : error);
      continue;
    }
    const JsonValue* final_flag = doc->find("final");
    if (final_flag && final_flag->type == JsonValue::Type::Bool && final_flag->boolean)
      read_final(*metrics, model);
    else
      read_interval(*doc, *metrics, model);
  }
  for (auto& [_, m] : model.metrics) {
    if (m.kind != MetricKind::Sample) continue;
    m.p95.resize(model.jsonl_ts.size(), kNaN);
    m.p99.resize(model.jsonl_ts.size(), kNaN);
  }
}

void read_run_json(std::string_view text, RunModel& model) {
  std::string error;
  auto doc = parse_json(text, &error);
  if (!doc || doc->type != JsonValue::Type::Object) {
    model.notes.push_back("run.json is not valid JSON (" + error + "); run details omitted");
    return;
  }
  model.software = doc->string_at("software");
  model.scenario = doc->string_at("scenario");
  model.stop_reason = doc->string_at("stop_reason");
  if (auto s = doc->number_at("start")) model.start = static_cast<std::time_t>(*s);
  if (auto e = doc->number_at("end")) model.end = static_cast<std::time_t>(*e);
  if (auto x = doc->number_at("exit_status")) model.exit_status = static_cast<int>(*x);
  if (const JsonValue* agents = doc->find("agents"); agents && agents->type == JsonValue::Type::Array)
    for (const JsonValue& a : agents->array) {
      // A monitor-only agent's host is under test, not a generator: its CPU is not flagged.
      const JsonValue* monitor = a.find("monitor");
      if (monitor && monitor->type == JsonValue::Type::Bool && monitor->boolean) continue;
      if (std::string host = a.string_at("hostname"); !host.empty() &&
          std::find(model.agent_hosts.begin(), model.agent_hosts.end(), host) == model.agent_hosts.end())
        model.agent_hosts.push_back(host);
    }
}

}  // namespace loadctl::report
