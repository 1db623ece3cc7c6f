#pragma once
// `loadctl report`: log directory -> report.html + summary.json (and compare.html for two runs).
// Data flow: load_run (report_model) -> evaluate_thresholds -> build_charts / render_*_tables
// -> render_report_html / render_summary_json -> files.

#include <string>
#include <vector>

#include "report/report_model.hpp"
#include "report/svg_chart.hpp"
#include "report/thresholds.hpp"

namespace loadctl::report {

/// What write_report produced.
struct ReportOutcome {
  std::vector<std::string> written;        ///< paths of the files written
  std::vector<ThresholdResult> thresholds;  ///< evaluated on the first run
  bool thresholds_failed = false;
};

/// Renders `dirs[0]` (report.html + summary.json); with a second directory also
/// `dirs[0]/compare.html` comparing the two. Throws std::runtime_error when a directory cannot
/// be read or a file cannot be written.
ReportOutcome write_report(const std::vector<std::string>& dirs, const std::vector<Threshold>& thresholds);

/// The charts of one run (bands for percentiles) or of several overlaid (later runs dashed).
std::vector<ChartSpec> build_charts(const std::vector<const RunModel*>& runs);

/// HTML tables of one run (main statistics, percentiles, transactions, network, counters, HTTP
/// codes, errors, monitoring).
std::string render_run_tables(const RunModel& model);
/// HTML tables comparing run `a` with run `b` (values and deltas).
std::string render_compare_tables(const RunModel& a, const RunModel& b);

/// The full page for one run.
std::string render_report_html(const RunModel& model, const std::vector<ThresholdResult>& results);
/// The comparison page.
std::string render_compare_html(const RunModel& a, const RunModel& b);
/// summary.json: run details, the main table, percentiles, counters and threshold results.
std::string render_summary_json(const RunModel& model, const std::vector<ThresholdResult>& results);

/// Number formatting shared by the tables: 3-4 significant digits, "-" for NaN.
std::string fmt_num(double v);

}  // namespace loadctl::report
