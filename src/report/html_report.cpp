// report.html / compare.html: one self-contained page (inline CSS and SVG, no script, nothing
// fetched), and write_report, which writes every file of `loadctl report`.
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "report/html_escape.hpp"
#include "report/report.hpp"

namespace fs = std::filesystem;

namespace loadctl::report {
namespace {

constexpr const char* kCss = R"(
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;color:#222;margin:1.5em auto;max-width:1000px;padding:0 1em;font-size:14px}
h1{font-size:1.5em;margin-bottom:.2em}h2{border-bottom:2px solid #1f77b4;padding-bottom:.2em;margin-top:1.6em}
h3{margin:1.2em 0 .4em}table{border-collapse:collapse;width:100%;margin-bottom:.6em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums}
th{background:#eef3f8}td.name,th.name{text-align:left;font-family:monospace}
p.note{color:#555;font-size:.9em;margin:.2em 0 .5em}.warn{background:#fff4d6;border:1px solid #e0b300;padding:.5em .8em}
.fail{color:#b00;font-weight:bold}.pass{color:#070;font-weight:bold}
dl.run{display:grid;grid-template-columns:max-content auto;gap:2px 14px}dl.run dt{font-weight:bold}dl.run dd{margin:0}
figure.chart{margin:1em 0;page-break-inside:avoid;break-inside:avoid}figure.chart svg{border:1px solid #ddd;background:#fff}
figcaption{font-size:.9em;color:#444;text-align:center}
nav a{margin-right:1em}
@media print{body{max-width:none;font-size:11px}nav{display:none}h2{page-break-after:avoid}}
)";

std::string utc(std::time_t t) {
  if (t <= 0) return "-";
  char buf[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string page_head(const std::string& title) {
  return fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<title>{}</title><style>{}</style></head><body>\n",
                     html_escape(title), kCss);
}

std::string run_details(const RunModel& m) {
  std::string out = "<dl class=\"run\">";
  auto item = [&](const std::string& k, const std::string& v) {
    out += fmt::format("<dt>{}</dt><dd>{}</dd>", html_escape(k), html_escape(v));
  };
  item("log directory", m.dir);
  if (!m.scenario.empty()) item("scenario", m.scenario);
  if (!m.software.empty()) item("written by", m.software);
  item("start", utc(m.start) + (m.start_estimated ? " (estimated: one dump interval before the first dump)" : ""));
  item("last dump", m.dumps.empty() ? "-" : utc(m.dumps.back()));
  item("duration", fmt_num(m.duration) + " s (" + std::to_string(m.dumps.size()) + " dumps in tsung.log)");
  if (m.exit_status) item("run exit status", std::to_string(*m.exit_status) + (m.stop_reason.empty() ? "" : " (" + m.stop_reason + ")"));
  item("sources", std::string("tsung.log") + (m.has_jsonl ? ", stats.jsonl" : "") + (m.software.empty() ? "" : ", run.json"));
  return out + "</dl>\n";
}

std::string warnings(const RunModel& m) {
  if (m.skipped_lines == 0 && m.notes.empty()) return "";
  std::string out = "<div class=\"warn\" id=\"skipped\">";
  if (m.skipped_lines > 0) {
    out += fmt::format("<p><b>{} line(s) skipped</b> (malformed or truncated, e.g. a run killed mid-dump); "
                       "everything else is shown.</p><ul>", m.skipped_lines);
    for (const auto& e : m.skipped_examples) out += "<li><code>" + html_escape(e) + "</code></li>";
    out += "</ul>";
  }
  for (const auto& n : m.notes) out += "<p>" + html_escape(n) + "</p>";
  return out + "</div>\n";
}

std::string threshold_section(const std::vector<ThresholdResult>& results) {
  if (results.empty()) return "";
  bool failed = any_failed(results);
  std::string out = fmt::format("<section id=\"thresholds\"><h2>Thresholds: <span class=\"{}\">{}</span></h2><table>"
                                "<thead><tr><th class=\"name\">threshold</th><th>measured</th><th>result</th></tr></thead><tbody>",
                                failed ? "fail" : "pass", failed ? "FAILED" : "passed");
  for (const auto& r : results)
    out += fmt::format("<tr><td class=\"name\">{}</td><td>{}</td><td class=\"{}\">{}</td></tr>", html_escape(r.threshold.text),
                       html_escape(r.detail), r.failed ? "fail" : "pass", r.failed ? "failed" : "ok");
  return out + "</tbody></table></section>\n";
}

std::string charts_section(const std::vector<const RunModel*>& runs) {
  std::string out = "<h2 id=\"charts\">Charts</h2>\n";
  if (runs.size() > 1) out += "<p class=\"note\">Solid lines: A; dashed lines: B.</p>\n";
  else if (!runs[0]->has_jsonl) out += "<p class=\"note\">No stats.jsonl: response-time charts show the interval mean only, without p95/p99 bands.</p>\n";
  for (const auto& spec : build_charts(runs)) out += render_chart(spec);
  return out;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

std::string render_report_html(const RunModel& m, const std::vector<ThresholdResult>& results) {
  std::string out = page_head("loadctl report: " + m.label);
  out += "<h1>Load test report: " + html_escape(m.label) + "</h1>\n";
  out += "<nav><a href=\"#stats\">Statistics</a><a href=\"#charts\">Charts</a></nav>\n";
  out += run_details(m) + warnings(m) + threshold_section(results);
  out += "<h2 id=\"stats\">Statistics</h2>\n" + render_run_tables(m);
  out += charts_section({&m});
  return out + "<p class=\"note\">Rendered by loadctl report from the files of the log directory.</p></body></html>\n";
}

std::string render_compare_html(const RunModel& a, const RunModel& b) {
  std::string out = page_head("loadctl comparison: " + a.label + " vs " + b.label);
  out += "<h1>Comparison: A = " + html_escape(a.label) + ", B = " + html_escape(b.label) + "</h1>\n";
  out += "<h2>A</h2>" + run_details(a) + warnings(a) + "<h2>B</h2>" + run_details(b) + warnings(b);
  out += "<h2 id=\"stats\">Statistics</h2>\n" + render_compare_tables(a, b);
  out += charts_section({&a, &b});
  return out + "</body></html>\n";
}

ReportOutcome write_report(const std::vector<std::string>& dirs, const std::vector<Threshold>& thresholds) {
  if (dirs.empty() || dirs.size() > 2) throw std::runtime_error("report takes one or two log directories");
  ReportOutcome outcome;
  RunModel a = load_run(dirs[0]);
  outcome.thresholds = evaluate_thresholds(thresholds, a);
  outcome.thresholds_failed = any_failed(outcome.thresholds);
  fs::path dir(dirs[0]);
  write_file(dir / "report.html", render_report_html(a, outcome.thresholds));
  write_file(dir / "summary.json", render_summary_json(a, outcome.thresholds));
  outcome.written = {(dir / "report.html").string(), (dir / "summary.json").string()};
  if (dirs.size() == 2) {
    RunModel b = load_run(dirs[1]);
    write_file(dir / "compare.html", render_compare_html(a, b));
    outcome.written.push_back((dir / "compare.html").string());
  }
  return outcome;
}

}  // namespace loadctl::report
