// RunModel: whole-run tables from the per-dump series, and loading a log directory.
#include "report/report_model.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "report/report.hpp"

namespace fs = std::filesystem;

namespace loadctl::report {

const MetricData* RunModel::find(std::string_view name) const {
  auto it = metrics.find(std::string(name));
  return it == metrics.end() ? nullptr : &it->second;
}

double RunModel::error_total() const {
  double total = 0;
  for (const auto& [name, m] : metrics)
    if (name.starts_with("error_") && m.kind == MetricKind::Counter) total += m.total_count;
  return total;
}

bool is_monitor_metric(std::string_view name) { return name.starts_with("{"); }

bool is_status_code(std::string_view name) {
  return name.size() == 3 && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void compute_tables(RunModel& model) {
  const std::size_t n = model.dumps.size();
  if (n == 0) return;
  // Time zero: run.json's start when it is consistent, else one interval before the first dump
  // (the interval being the gap between the first two dumps, as Tsung's report assumes).
  double first = static_cast<double>(model.dumps[0]);
  double gap = n >= 2 ? static_cast<double>(model.dumps[1] - model.dumps[0]) : 10.0;
  double start = first - gap;
  if (model.start > 0 && static_cast<double>(model.start) <= first) start = static_cast<double>(model.start);
  else {
    model.start = static_cast<std::time_t>(start);
    model.start_estimated = true;
  }
  model.elapsed.resize(n);
  for (std::size_t i = 0; i < n; ++i) model.elapsed[i] = static_cast<double>(model.dumps[i]) - start;
  model.duration = model.elapsed.back();
  model.jsonl_elapsed.resize(model.jsonl_ts.size());
  for (std::size_t i = 0; i < model.jsonl_ts.size(); ++i) model.jsonl_elapsed[i] = model.jsonl_ts[i] - start;

  // Interval lengths; an interval under one second (a final dump right after a periodic one)
  // does not count for the highest rate, its rate would be noise.
  std::vector<double> len(n);
  for (std::size_t i = 0; i < n; ++i) len[i] = model.elapsed[i] - (i ? model.elapsed[i - 1] : 0.0);
  auto rate_ok = [&](std::size_t i) { return len[i] >= 1.0 || n == 1; };

  for (auto& [name, m] : model.metrics) {
    if (m.count.size() != n) continue;  // only in stats.jsonl
    m.total_count = m.sum = m.highest_rate = 0;
    if (m.kind == MetricKind::Sample) {
      bool any = false;
      for (std::size_t i = 0; i < n; ++i) {
        if (m.count[i] <= 0) continue;
        m.total_count += m.count[i];
        m.sum += m.count[i] * m.mean[i];
        m.highest_mean = any ? std::max(m.highest_mean, m.mean[i]) : m.mean[i];
        m.lowest_mean = any ? std::min(m.lowest_mean, m.mean[i]) : m.mean[i];
        any = true;
        if (rate_ok(i) && len[i] > 0) m.highest_rate = std::max(m.highest_rate, m.count[i] / len[i]);
      }
    } else if (m.kind == MetricKind::Counter) {
      m.total_count = m.level.back();
      for (std::size_t i = 0; i < n; ++i)
        if (rate_ok(i) && len[i] > 0) m.highest_rate = std::max(m.highest_rate, m.delta[i] / len[i]);
    } else {
      m.max = 0;
      for (std::size_t i = 0; i < n; ++i) m.max = std::max({m.max, m.level[i], m.peak[i]});
      m.total_count = m.level.back();
    }
  }
}

namespace {

std::optional<std::string> slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double unit_seconds(std::string_view unit) {
  if (unit == "millisecond") return 0.001;
  if (unit == "minute") return 60;
  if (unit == "hour") return 3600;
  return 1;
}

// Phase boundaries from the scenario copy in the log directory (<load><arrivalphase>).
void read_phases(const fs::path& dir, RunModel& model) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".xml") continue;
    pugi::xml_document doc;
    if (!doc.load_file(entry.path().c_str())) continue;
    pugi::xml_node load = doc.child("tsung").child("load");
    if (!load) continue;
    double t = 0;
    bool first = true;
    for (pugi::xml_node phase : load.children("arrivalphase")) {
      if (!first) model.phase_starts.push_back(t);
      first = false;
      t += phase.attribute("duration").as_double() * unit_seconds(phase.attribute("unit").as_string("second"));
    }
    return;
  }
}

}  // namespace

RunModel load_run(const std::string& dir) {
  RunModel model;
  model.dir = dir;
  fs::path path(dir);
  model.label = fs::absolute(path).lexically_normal().filename().string();
  if (model.label.empty()) model.label = fs::absolute(path).parent_path().filename().string();
  if (auto run = slurp(path / "run.json")) read_run_json(*run, model);
  auto log = slurp(path / "tsung.log");
  if (!log) throw std::runtime_error(dir + ": no readable tsung.log");
  read_tsung_log(*log, model);
  if (model.dumps.empty()) throw std::runtime_error(dir + "/tsung.log: no \"# stats: dump at\" block");
  if (auto jsonl = slurp(path / "stats.jsonl")) read_stats_jsonl(*jsonl, model);
  else model.notes.push_back("no stats.jsonl (a log written by Tsung?): percentiles are not available");
  if (model.has_jsonl && !model.has_final_jsonl)
    model.notes.push_back("stats.jsonl has no final line (run interrupted?): percentiles are not available");
  read_phases(path, model);
  compute_tables(model);
  flag_generator_limits(model);
  return model;
}

void flag_generator_limits(RunModel& model) {
  std::map<std::size_t, std::string> why;  // dump index -> reasons
  auto add = [&](std::size_t i, const std::string& reason) {
    std::string& w = why[i];
    if (w.find(reason) == std::string::npos) w += (w.empty() ? "" : "; ") + reason;
  };
  for (const std::string& host : model.agent_hosts) {
    const MetricData* cpu = model.find("{cpu,\"" + host + "\"}");
    if (!cpu) continue;
    for (std::size_t i = 0; i < cpu->mean.size(); ++i)
      if (cpu->count[i] > 0 && cpu->mean[i] > kGeneratorCpuLimit)
        add(i, fmt::format("agent host {} CPU {:.0f}%", host, cpu->mean[i]));
  }
  // A load agent process's own CPU ({agentcpu,"agentN@host"}, % of its worker threads' cores).
  for (const auto& [name, m] : model.metrics) {
    if (!name.starts_with("{agentcpu,\"") || name.size() < 13) continue;
    std::string agent = name.substr(11, name.size() - 13);
    for (std::size_t i = 0; i < m.mean.size() && i < m.count.size(); ++i)
      if (m.count[i] > 0 && m.mean[i] > kGeneratorCpuLimit)
        add(i, fmt::format("agent {} process CPU {:.0f}% of its worker threads", agent, m.mean[i]));
  }
  for (auto [name, what] : {std::pair{"error_connect_emfile", "out of file descriptors"},
                            std::pair{"error_connect_enfile", "out of file descriptors (system)"},
                            std::pair{"error_connect_eaddrnotavail", "out of source ports"}})
    if (const MetricData* e = model.find(name))
      for (std::size_t i = 0; i < e->delta.size(); ++i)
        if (e->delta[i] > 0) add(i, fmt::format("{} ({})", what, name));
  if (why.empty()) return;
  std::string list;
  for (const auto& [i, reasons] : why) {
    double at = i < model.elapsed.size() ? model.elapsed[i] : kNaN;
    double from = i == 0 ? 0 : i - 1 < model.elapsed.size() ? model.elapsed[i - 1] : kNaN;
    model.generator_limits.push_back({from, at, reasons});
    if (model.generator_limits.size() <= 5) list += fmt::format("{}at {} s: {}", list.empty() ? "" : ", ", fmt_num(at), reasons);
  }
  model.notes.push_back(fmt::format(
      "The load generators were saturated in {} interval(s) ({}{}): response times there measure the generator, "
      "not the server.", why.size(), list, why.size() > 5 ? ", ..." : ""));
}

}  // namespace loadctl::report
