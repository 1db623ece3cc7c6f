#pragma once
// The report's data model, built after a run from the files of one log directory:
//   read_tsung_log (tsung.log, required) -> read_stats_jsonl (stats.jsonl, optional)
//   -> read_run_json / read_phases (run.json, scenario copy, optional) -> compute_tables.
// Nothing here runs during a load: it only reads files.

#include <cstddef>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadctl::report {

/// "No value": a sample or point the input did not give (charts leave a gap, tables print "-").
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

enum class MetricKind { Sample, Counter, Gauge };

/// Percentiles of one sample metric (ms), from stats.jsonl.
struct Percentiles {
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0, max = 0;
};

/// One metric over the run: per-dump series (index i = dump i) and whole-run figures.
struct MetricData {
  std::string name;
  MetricKind kind = MetricKind::Sample;
  // Per dump, from tsung.log (0 where the metric was not printed).
  std::vector<double> count;   ///< samples in the interval (Sample)
  std::vector<double> mean;    ///< interval mean (Sample), NaN when count is 0
  std::vector<double> delta;   ///< interval delta (Counter, `connected`)
  std::vector<double> level;   ///< running total (Counter), level (Gauge), current users (`users`)
  std::vector<double> peak;    ///< max since start (`users`)
  // Per stats.jsonl interval line (x = jsonl_elapsed), Sample only.
  std::vector<double> p95, p99;
  // Whole run.
  double total_count = 0;      ///< sum of interval counts / last counter total
  double sum = 0;              ///< sum of interval count*mean
  double max = 0, min = 0;     ///< whole-run max/min (Sample)
  double highest_mean = 0, lowest_mean = 0;  ///< over intervals with samples
  double highest_rate = 0;     ///< per second, over intervals
  std::optional<Percentiles> pct;  ///< from the final stats.jsonl line

  double run_mean() const { return total_count > 0 ? sum / total_count : 0; }
};

/// A log directory read into memory.
struct RunModel {
  std::string dir;
  std::string label;                ///< directory name, for legends
  std::vector<std::time_t> dumps;   ///< "# stats: dump at" timestamps
  std::vector<double> elapsed;      ///< seconds since the start at each dump
  std::vector<double> jsonl_ts;       ///< "ts" of each stats.jsonl interval line
  std::vector<double> jsonl_elapsed;  ///< the same as seconds since the start
  std::time_t start = 0, end = 0;
  bool start_estimated = false;     ///< no usable run.json: one interval before the first dump
  double duration = 0;              ///< seconds from start to the last dump
  std::map<std::string, MetricData> metrics;
  bool has_tsung_log = false;
  bool has_jsonl = false;
  bool has_final_jsonl = false;
  // What the readers could not use: skipped lines and why (the first few kept verbatim).
  std::size_t skipped_lines = 0;
  std::vector<std::string> skipped_examples;
  std::vector<std::string> notes;   ///< other remarks shown in the report
  // From run.json and the scenario copy.
  std::string software, scenario, stop_reason;
  std::optional<int> exit_status;
  std::vector<double> phase_starts;  ///< elapsed seconds where arrival phases 2..n begin
  /// Steering events of stats.jsonl (rate, pause/resume, agents added/removed): elapsed seconds, text.
  std::vector<std::pair<double, std::string>> events;
  std::vector<std::string> agent_hosts;  ///< run.json agents' hostnames: the load generators
  /// Dump intervals where a load generator was saturated (flag_generator_limits).
  struct GeneratorLimit {
    double from, to;  ///< elapsed seconds: the dump interval
    std::string why;
  };
  std::vector<GeneratorLimit> generator_limits;

  const MetricData* find(std::string_view name) const;
  /// Sum of the totals of every error_* counter.
  double error_total() const;
};

/// Reads `text` in tsung.log format into `model` (tolerant: malformed lines are counted and
/// skipped, a truncated last block is kept).
void read_tsung_log(std::string_view text, RunModel& model);
/// Reads stats.jsonl: p95/p99 series per interval and the final line's percentiles.
void read_stats_jsonl(std::string_view text, RunModel& model);
/// Reads run.json (software, scenario, start/end, exit status).
void read_run_json(std::string_view text, RunModel& model);
/// Fills elapsed/duration and the whole-run figures once everything is read.
void compute_tables(RunModel& model);

/// Reads a whole log directory; throws std::runtime_error when it has no readable tsung.log.
RunModel load_run(const std::string& dir);

/// Finds the intervals where the load generators themselves limited the run: an agent host's
/// {cpu,"host"} above kGeneratorCpuLimit, a load agent process's {agentcpu,"agentN@host"} (its CPU
/// in % of the cores its worker threads can use) above kGeneratorCpuLimit, or connects failing for lack of file descriptors
/// (error_connect_emfile, _enfile) or source ports (error_connect_eaddrnotavail). Adds one note.
void flag_generator_limits(RunModel& model);
inline constexpr double kGeneratorCpuLimit = 90;

/// True for Tsung's monitoring metrics such as {cpu,"host"}.
bool is_monitor_metric(std::string_view name);
/// True for HTTP status-code counters ("200", "404", ...).
bool is_status_code(std::string_view name);

}  // namespace loadctl::report
