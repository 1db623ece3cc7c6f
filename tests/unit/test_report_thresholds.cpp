// --fail-if expressions: parsing (with the errors users see) and evaluation on a RunModel.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "report/thresholds.hpp"

namespace rp = loadctl::report;

TEST(Thresholds, Parses) {
  auto t = rp::parse_threshold("p99(request) > 200ms");
  EXPECT_EQ(t.func, rp::ThresholdFunc::P99);
  EXPECT_EQ(t.metric, "request");
  EXPECT_EQ(t.op, rp::ThresholdOp::Gt);
  EXPECT_DOUBLE_EQ(t.value, 200);
  EXPECT_DOUBLE_EQ(rp::parse_threshold("mean(page) >= 1s").value, 1000);
  EXPECT_DOUBLE_EQ(rp::parse_threshold("max(connect)<=500us").value, 0.5);
  EXPECT_EQ(rp::parse_threshold("p99.9(tr_login) != 3").func, rp::ThresholdFunc::P999);
  auto e = rp::parse_threshold("errors > 1%");
  EXPECT_EQ(e.func, rp::ThresholdFunc::Errors);
  EXPECT_TRUE(e.percent);
  EXPECT_EQ(rp::parse_threshold("count(404) > 0").metric, "404");
  EXPECT_EQ(rp::parse_threshold("rate(request) < 100").op, rp::ThresholdOp::Lt);
}

TEST(Thresholds, BadExpressionsNameThemselves) {
  for (const char* bad : {"p99(request)", "p98(request) > 1", "p99() > 1", "p99 request > 1", "p99(request) > abc",
                          "p99(request) > 1 parsec", "count(404) > 1ms", "mean(page) > 5%", "errors >", "errors => 1"}) {
    try {
      rp::parse_threshold(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

namespace {

rp::RunModel model(const char* counters = "stats: 404 2 2\nstats: error_connect_econnrefused 3 3\n") {
  rp::RunModel m;
  rp::read_tsung_log(
      std::string("# stats: dump at 110\nstats: users 1 1\nstats: request 100 20.0 1.0 300.0 5.0 0 0\n") + counters, m);
  m.start = 100;
  rp::compute_tables(m);
  m.metrics["request"].pct = rp::Percentiles{15, 40, 90, 250, 300, 300};
  return m;
}

rp::ThresholdResult eval(const std::string& expr, const rp::RunModel& m) {
  return rp::evaluate_thresholds({rp::parse_threshold(expr)}, m).at(0);
}

}  // namespace

TEST(Thresholds, Evaluates) {
  rp::RunModel m = model();
  EXPECT_TRUE(eval("p99(request) > 200ms", m).failed);
  EXPECT_DOUBLE_EQ(*eval("p99(request) > 200ms", m).actual, 250);
  EXPECT_FALSE(eval("p95(request) > 200ms", m).failed);
  EXPECT_FALSE(eval("mean(request) > 1s", m).failed);
  EXPECT_TRUE(eval("max(request) >= 300", m).failed);
  EXPECT_TRUE(eval("errors > 1%", m).failed);  // 3 errors / 100 requests = 3%
  EXPECT_DOUBLE_EQ(*eval("errors > 1%", m).actual, 3);
  EXPECT_FALSE(eval("errors > 5%", m).failed);
  EXPECT_TRUE(eval("errors >= 3", m).failed);
  EXPECT_TRUE(eval("count(404) > 0", m).failed);
  EXPECT_FALSE(eval("count(500) > 0", m).failed);  // never seen: 0
  EXPECT_DOUBLE_EQ(*eval("rate(request) < 100", m).actual, 10);  // 100 requests in 10 s
  EXPECT_TRUE(eval("rate(request) < 100", m).failed);
  auto r = eval("p99(request) > 200ms", m);
  EXPECT_NE(r.detail.find("250"), std::string::npos) << r.detail;
}

TEST(Thresholds, NotEvaluableFails) {
  rp::RunModel m = model();
  m.metrics["request"].pct.reset();
  auto r = eval("p99(request) > 200ms", m);
  EXPECT_TRUE(r.failed);
  EXPECT_FALSE(r.actual.has_value());
  EXPECT_NE(r.detail.find("stats.jsonl"), std::string::npos);
  EXPECT_TRUE(eval("mean(tr_missing) > 1", m).failed);
  EXPECT_FALSE(rp::any_failed(rp::evaluate_thresholds({rp::parse_threshold("count(500) > 0")}, m)));
}

// `late`: users_late (users started more than --arrival-lag-limit after their arrival), as a
// count or a percentage of the users started.
TEST(Thresholds, LateArrivals) {
  auto t = rp::parse_threshold("late > 1%");
  EXPECT_EQ(t.func, rp::ThresholdFunc::Late);
  EXPECT_TRUE(t.percent);
  EXPECT_THROW(rp::parse_threshold("late > 5ms"), std::invalid_argument);
  rp::RunModel m = model("stats: users_count 200 200\nstats: users_late 5 5\n");
  EXPECT_DOUBLE_EQ(*eval("late > 0", m).actual, 5);
  EXPECT_TRUE(eval("late > 0", m).failed);
  EXPECT_DOUBLE_EQ(*eval("late > 1%", m).actual, 2.5);  // 5 of 200 users started
  EXPECT_TRUE(eval("late > 1%", m).failed);
  EXPECT_FALSE(eval("late > 3%", m).failed);
  // Arrivals skipped after a stall are late too (users_late includes them) and due: 60 of 200 + 50.
  rp::RunModel stalled = model("stats: users_count 200 200\nstats: users_late 60 60\nstats: error_arrivals_missed 50 50\n");
  EXPECT_DOUBLE_EQ(*eval("late > 1%", stalled).actual, 24.0);
  rp::RunModel none = model();  // no users_late line: nobody was late
  EXPECT_DOUBLE_EQ(*eval("late > 0", none).actual, 0);
  EXPECT_FALSE(eval("late > 0", none).failed);
}
