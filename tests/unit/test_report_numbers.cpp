// The report's numbers equal the numbers of tsung.log and stats.jsonl: files written by the real
// writers (and Tsung's own log) are loaded with load_run and a few figures are recomputed here.
#include <gtest/gtest.h>

#include <loadctl/stats.hpp>
#include <loadctl/stats_jsonl.hpp>
#include <loadctl/tsung_log.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "report/json_value.hpp"
#include "report/report.hpp"
#include "test_files.hpp"

namespace fs = std::filesystem;
namespace rp = loadctl::report;

namespace {

using loadctl::test::read_all;

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::path(LOADCTL_BINARY_DIR) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST(ReportNumbers, MatchWritersOutput) {
  fs::path dir = fresh_dir("report_numbers_run");
  std::vector<double> all;
  {
    loadctl::TsungLogWriter log((dir / "tsung.log").string(), 1000);
    loadctl::StatsJsonlWriter jsonl((dir / "stats.jsonl").string(), 1000);
    for (int interval = 0; interval < 3; ++interval) {
      loadctl::MetricSet s;
      auto req = s.intern("request", loadctl::MetricKind::sample);
      auto ok = s.intern("200", loadctl::MetricKind::counter);
      auto err = s.intern("error_connect_timeout", loadctl::MetricKind::counter);
      for (int i = 0; i < 50 + 25 * interval; ++i) {
        double ms = 0.5 + ((i * 37 + interval * 11) % 100) * 0.25;
        s.sample(req, ms);
        s.add(ok);
        all.push_back(ms);
      }
      s.add(err, interval + 1);
      std::time_t now = 1000 + 10 * (interval + 1);
      log.dump(now, s);
      jsonl.write_interval(now, s);
    }
    jsonl.write_final(1030);
  }
  std::ofstream(dir / "run.json") << R"({"software":"loadctl test","scenario":"x.xml","start":1000,"end":1030,"exit_status":0})";

  rp::RunModel m = rp::load_run(dir.string());
  EXPECT_EQ(m.skipped_lines, 0u);
  EXPECT_TRUE(m.has_final_jsonl);
  EXPECT_DOUBLE_EQ(m.duration, 30);
  EXPECT_FALSE(m.start_estimated);  // run.json start
  const rp::MetricData* req = m.find("request");
  ASSERT_NE(req, nullptr);
  double sum = 0;
  for (double v : all) sum += v;
  EXPECT_DOUBLE_EQ(req->total_count, static_cast<double>(all.size()));  // 50 + 75 + 100
  EXPECT_NEAR(req->run_mean(), sum / static_cast<double>(all.size()), 1e-9);
  EXPECT_DOUBLE_EQ(req->max, *std::max_element(all.begin(), all.end()));
  EXPECT_DOUBLE_EQ(req->min, *std::min_element(all.begin(), all.end()));
  EXPECT_NEAR(req->highest_rate, 10.0, 1e-9);  // 100 samples in the last 10 s interval

  // Percentiles: what stats.jsonl's final line says, and within 1% of the exact sorted value.
  std::string jsonl = read_all(dir / "stats.jsonl");
  std::string final_line = jsonl.substr(jsonl.rfind("{\"ts\""));
  auto doc = rp::parse_json(final_line.substr(0, final_line.find('\n')));
  ASSERT_TRUE(doc);
  const rp::JsonValue* jr = doc->find("metrics")->find("request");
  ASSERT_TRUE(req->pct);
  EXPECT_DOUBLE_EQ(req->pct->p99, *jr->number_at("p99"));
  EXPECT_DOUBLE_EQ(req->pct->p50, *jr->number_at("p50"));
  std::sort(all.begin(), all.end());
  double exact_p99 = all[static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(all.size()))) - 1];
  EXPECT_NEAR(req->pct->p99, exact_p99, exact_p99 * 0.01);

  // Counters and the summary.
  EXPECT_DOUBLE_EQ(m.find("200")->total_count, static_cast<double>(all.size()));
  EXPECT_DOUBLE_EQ(m.error_total(), 1 + 2 + 3);
  auto results = rp::evaluate_thresholds({rp::parse_threshold("errors > 2%")}, m);  // 6 / 225 = 2.67%
  EXPECT_TRUE(results[0].failed);
  auto summary = rp::parse_json(rp::render_summary_json(m, results));
  ASSERT_TRUE(summary);
  const rp::JsonValue* sreq = summary->find("metrics")->find("request");
  EXPECT_DOUBLE_EQ(*sreq->number_at("count"), 225);
  EXPECT_DOUBLE_EQ(*sreq->number_at("p99"), *jr->number_at("p99"));
  EXPECT_DOUBLE_EQ(*sreq->number_at("mean_rate"), 225.0 / 30);
  EXPECT_EQ(summary->find("passed")->boolean, false);
  EXPECT_EQ(summary->find("thresholds")->array.at(0).string_at("expr"), "errors > 2%");
}

TEST(ReportNumbers, TsungFixtureTotalsRecomputed) {
  std::string log = read_all(fs::path(LOADCTL_SOURCE_DIR) / "tests/fixtures/tsung/tsung-1.7.0.log");
  // Recompute from the text: sum of the interval counts and count*mean of `page`, last 200 total.
  std::regex page(R"(stats: page (\d+) ([0-9.e-]+) )");
  double count = 0, sum = 0;
  for (std::sregex_iterator it(log.begin(), log.end(), page), end; it != end; ++it) {
    count += std::stod((*it)[1]);
    sum += std::stod((*it)[1]) * std::stod((*it)[2]);
  }
  fs::path dir = fresh_dir("report_numbers_tsung");
  fs::copy_file(fs::path(LOADCTL_SOURCE_DIR) / "tests/fixtures/tsung/tsung-1.7.0.log", dir / "tsung.log");
  rp::RunModel m = rp::load_run(dir.string());
  EXPECT_FALSE(m.has_jsonl);
  const rp::MetricData* p = m.find("page");
  EXPECT_DOUBLE_EQ(p->total_count, count);
  EXPECT_NEAR(p->run_mean(), sum / count, 1e-12);
  EXPECT_DOUBLE_EQ(m.find("200")->total_count, 144);
  std::string html = rp::render_report_html(m, {});
  EXPECT_NE(html.find("Percentiles</h3><p class=\"note\">Not available"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"name\">page</td>"), std::string::npos);
  EXPECT_NE(html.find("id=\"mon-cpu\""), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // nothing fetched
}
