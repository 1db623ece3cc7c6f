// tsung.log / stats.jsonl readers of `loadctl report`, on Tsung 1.7.0's own log and on damage.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "report/json_value.hpp"
#include "report/report_model.hpp"

namespace rp = loadctl::report;

namespace {

std::string fixture_log() {
  std::ifstream in(std::string(LOADCTL_SOURCE_DIR) + "/tests/fixtures/tsung/tsung-1.7.0.log");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

rp::RunModel read(const std::string& text) {
  rp::RunModel m;
  rp::read_tsung_log(text, m);
  rp::compute_tables(m);
  return m;
}

}  // namespace

TEST(ReportReader, TsungFixtureDumpsAndSeries) {
  rp::RunModel m = read(fixture_log());
  ASSERT_EQ(m.dumps.size(), 3u);
  EXPECT_EQ(m.dumps[0], 1795460126);
  EXPECT_EQ(m.dumps[2], 1795460143);
  EXPECT_EQ(m.skipped_lines, 0u);  // EndMonitor is known and ignored
  // No run.json: time zero is one interval (10 s) before the first dump.
  EXPECT_DOUBLE_EQ(m.elapsed[0], 10);
  EXPECT_TRUE(m.start_estimated);
  EXPECT_DOUBLE_EQ(m.elapsed[2], 27);
  const rp::MetricData* req = m.find("request");
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(req->kind, rp::MetricKind::Sample);
  EXPECT_EQ(req->count, (std::vector<double>{91, 103, 22}));
  EXPECT_DOUBLE_EQ(req->total_count, 216);  // 91 + 103 + 22, last interval included
  EXPECT_DOUBLE_EQ(req->max, 1.671);
  EXPECT_DOUBLE_EQ(req->min, 0.058);
  EXPECT_DOUBLE_EQ(req->highest_mean, 0.5101648351648354);
  EXPECT_DOUBLE_EQ(req->lowest_mean, 0.40295454545454545);
  EXPECT_NEAR(req->highest_rate, 10.3, 1e-9);  // 103 in the 10 s interval
  const rp::MetricData* c404 = m.find("404");
  ASSERT_NE(c404, nullptr);
  EXPECT_EQ(c404->kind, rp::MetricKind::Counter);
  EXPECT_DOUBLE_EQ(c404->total_count, 72);
  EXPECT_EQ(c404->delta, (std::vector<double>{30, 33, 9}));
  const rp::MetricData* users = m.find("users");
  ASSERT_NE(users, nullptr);
  EXPECT_DOUBLE_EQ(users->max, 10);
  EXPECT_EQ(m.find("connected")->level, (std::vector<double>{1, 5, 0}));
  const rp::MetricData* cpu = m.find("{cpu,\"tsung_controller@vm\"}");
  ASSERT_NE(cpu, nullptr);
  EXPECT_TRUE(rp::is_monitor_metric(cpu->name));
  EXPECT_DOUBLE_EQ(cpu->max, 6.710113195075601);
  EXPECT_DOUBLE_EQ(m.error_total(), 68 + 17);
}

TEST(ReportReader, TruncatedLogKeepsWhatIsThereAndCountsTheRest) {
  std::string log = fixture_log();
  // Cut in the middle of the last block's "request" line, as a run killed mid-dump leaves it.
  std::size_t cut = log.rfind("stats: request 22 ");
  ASSERT_NE(cut, std::string::npos);
  log = log.substr(0, cut + 22) + "\nstats: 200 garbage 1\nnot a stats line\n";
  rp::RunModel m = read(log);
  EXPECT_EQ(m.dumps.size(), 3u);
  EXPECT_EQ(m.skipped_lines, 3u);
  ASSERT_EQ(m.skipped_examples.size(), 3u);
  EXPECT_NE(m.skipped_examples[0].find("malformed or truncated"), std::string::npos);
  const rp::MetricData* req = m.find("request");
  EXPECT_DOUBLE_EQ(req->total_count, 91 + 103);  // the truncated interval line is not counted
  EXPECT_TRUE(std::isnan(req->mean[2]));
  // Counters missing from the cut block keep their total.
  EXPECT_DOUBLE_EQ(m.find("404")->total_count, 63);
}

TEST(ReportReader, GarbageBeforeFirstDumpAndBadTimestamps) {
  rp::RunModel m = read("stats: users 1 1\n# stats: dump at 100\nstats: users 2 3\n# stats: dump at 50\nstats: users 9 9\n");
  EXPECT_EQ(m.dumps.size(), 1u);
  EXPECT_EQ(m.skipped_lines, 3u);
  EXPECT_EQ(m.find("users")->level, (std::vector<double>{2}));
}

TEST(ReportReader, StatsJsonlPercentilesAndIntervals) {
  rp::RunModel m;
  rp::read_tsung_log("# stats: dump at 110\nstats: users 1 1\nstats: request 2 1.5 0.5 2.0 1.0 0 0\n", m);
  rp::read_stats_jsonl(
      "{\"ts\":110,\"elapsed\":10,\"metrics\":{\"request\":{\"kind\":\"sample\",\"count\":2,\"mean\":1.5,"
      "\"p50\":1.0,\"p90\":2.0,\"p95\":2.0,\"p99\":2.0,\"p99.9\":2.0}}}\n"
      "{\"ts\":11\n"
      "{\"ts\":110,\"elapsed\":10,\"final\":true,\"metrics\":{\"request\":{\"kind\":\"sample\",\"count\":2,"
      "\"p50\":1.0,\"p90\":1.9,\"p95\":1.95,\"p99\":1.99,\"p99.9\":2.0,\"max\":2.0}}}\n",
      m);
  m.start = 100;
  rp::compute_tables(m);
  EXPECT_EQ(m.skipped_lines, 1u);
  const rp::MetricData* req = m.find("request");
  ASSERT_TRUE(req->pct.has_value());
  EXPECT_DOUBLE_EQ(req->pct->p99, 1.99);
  EXPECT_DOUBLE_EQ(req->pct->p999, 2.0);
  ASSERT_EQ(req->p95.size(), 1u);
  EXPECT_DOUBLE_EQ(req->p95[0], 2.0);
  EXPECT_DOUBLE_EQ(m.jsonl_elapsed[0], 10);
}

TEST(ReportJson, ParsesAndRejects) {
  auto v = rp::parse_json(R"({"a":[1,-2.5e1,true,null],"s":"x\"\u00e9\ud83d\ude00","o":{}})");
  ASSERT_TRUE(v);
  EXPECT_DOUBLE_EQ(v->find("a")->array[1].number, -25);
  EXPECT_EQ(v->string_at("s"), "x\"\xc3\xa9\xf0\x9f\x98\x80");
  std::string err;
  EXPECT_FALSE(rp::parse_json("{\"a\":1,}", &err));
  EXPECT_FALSE(err.empty());
  EXPECT_FALSE(rp::parse_json("[1] x"));
  EXPECT_FALSE(rp::parse_json(std::string(100, '[')));
}

TEST(ReportReader, EveryTruncationOfTsungsLogSkipsAtMostOneLine) {
  const std::string log = fixture_log();
  for (std::size_t cut = 0; cut <= log.size(); ++cut) {
    rp::RunModel m = read(log.substr(0, cut));
    ASSERT_LE(m.skipped_lines, 1u) << "cut at " << cut << ": " << (m.skipped_examples.empty() ? "" : m.skipped_examples[0]);
    if (m.dumps.empty()) continue;
    for (const auto& [name, d] : m.metrics) ASSERT_EQ(d.count.size(), m.dumps.size()) << name;
  }
}

TEST(ReportReader, RandomBytesDoNotBreakTheReaders) {
  std::string log = fixture_log();
  std::uint32_t seed = 12345;
  for (int round = 0; round < 300; ++round) {
    std::string damaged = log;
    for (int k = 0; k < 20; ++k) {
      seed = seed * 1664525u + 1013904223u;
      damaged[seed % damaged.size()] = static_cast<char>(seed >> 24);
    }
    rp::RunModel m = read(damaged);
    rp::read_stats_jsonl(damaged, m);  // not JSON at all: every line skipped, nothing thrown
    EXPECT_GT(m.skipped_lines, 0u);
  }
}
