#include <loadctl/stats_jsonl.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using loadctl::MetricKind;
using loadctl::MetricSet;
using loadctl::StatsJsonlWriter;

namespace fs = std::filesystem;

TEST(StatsJsonl, EscapesStrings) {
  std::string out;
  StatsJsonlWriter::append_string(out, "a\"b\\c\n\x01\xc3\xa9\xff{cpu,\"vm\"}");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\\ufffd{cpu,\\\"vm\\\"}\"");
}

TEST(StatsJsonl, NumbersAreShortestAndNonFiniteIsNull) {
  std::string out;
  StatsJsonlWriter::append_number(out, 0.1);
  out += ' ';
  StatsJsonlWriter::append_number(out, 2.0);
  out += ' ';
  StatsJsonlWriter::append_number(out, std::nan(""));
  out += ' ';
  StatsJsonlWriter::append_number(out, -HUGE_VAL);
  EXPECT_EQ(out, "0.1 2 null null");
}

TEST(StatsJsonl, IntervalAndFinalLines) {
  fs::path path = fs::path(LOADCTL_BINARY_DIR) / "test_stats.jsonl";
  {
    StatsJsonlWriter w(path.string(), 100);
    MetricSet s;
    auto req = s.intern("request", MetricKind::sample);
    auto ok = s.intern("200", MetricKind::counter);
    auto users = s.intern("users", MetricKind::gauge);
    s.intern("unused", MetricKind::counter);
    s.sample(req, 1.0);
    s.sample(req, 3.0);
    s.add(ok, 2);
    s.gauge_add(users, 3);
    // p50 is the upper bound of the bucket holding 1000 µs (1000..1003); higher percentiles are
    // capped at the exact max.
    EXPECT_EQ(w.render_interval(110, s),
              "{\"ts\":110,\"elapsed\":10,\"metrics\":{"
              "\"200\":{\"kind\":\"counter\",\"delta\":2,\"total\":2},"
              "\"request\":{\"kind\":\"sample\",\"count\":2,\"mean\":2,\"stddev\":1,\"min\":1,"
              "\"max\":3,\"p50\":1.003,\"p90\":3,\"p95\":3,\"p99\":3,\"p99.9\":3,\"total_count\":2},"
              "\"users\":{\"kind\":\"gauge\",\"level\":3,\"max\":3}}}");

    MetricSet s2;
    s2.sample(s2.intern("request", MetricKind::sample), 5.0);
    s2.gauge_add(s2.intern("users", MetricKind::gauge), -1);
    s2.intern("200", MetricKind::counter);
    ASSERT_TRUE(w.write_interval(120, s2));
    ASSERT_TRUE(w.write_final(121));
  }
  std::ifstream in(path);
  std::string line1, line2, extra;
  ASSERT_TRUE(std::getline(in, line1));
  ASSERT_TRUE(std::getline(in, line2));
  EXPECT_FALSE(std::getline(in, extra));
  EXPECT_EQ(line1,
            "{\"ts\":120,\"elapsed\":20,\"metrics\":{"
            "\"200\":{\"kind\":\"counter\",\"delta\":0,\"total\":2},"
            "\"request\":{\"kind\":\"sample\",\"count\":1,\"mean\":5,\"stddev\":0,\"min\":5,"
            "\"max\":5,\"p50\":5,\"p90\":5,\"p95\":5,\"p99\":5,\"p99.9\":5,\"total_count\":3},"
            "\"users\":{\"kind\":\"gauge\",\"level\":2,\"max\":3}}}");
  // Whole run: 1, 3, 5 ms -> mean 3, population stddev sqrt(8/3); p50 in 3000 µs's bucket.
  std::string sd;
  StatsJsonlWriter::append_number(sd, std::sqrt(8.0 / 3.0));
  EXPECT_EQ(line2,
            "{\"ts\":121,\"elapsed\":21,\"final\":true,\"metrics\":{"
            "\"200\":{\"kind\":\"counter\",\"total\":2},"
            "\"request\":{\"kind\":\"sample\",\"count\":3,\"mean\":3,\"stddev\":" + sd +
            ",\"min\":1,\"max\":5,\"p50\":3.007,\"p90\":5,\"p95\":5,\"p99\":5,\"p99.9\":5},"
            "\"users\":{\"kind\":\"gauge\",\"level\":2,\"max\":3}}}");
}

TEST(StatsJsonl, FinalPercentilesCoverTheWholeRun) {
  StatsJsonlWriter w((fs::path(LOADCTL_BINARY_DIR) / "test_stats_whole.jsonl").string(), 0);
  for (int interval = 0; interval < 10; ++interval) {
    MetricSet s;
    auto r = s.intern("request", MetricKind::sample);
    for (int i = 1; i <= 100; ++i) s.sample(r, interval * 100 + i);  // 1..1000 ms overall
    w.render_interval(interval, s);
  }
  std::string last = w.render_final(10);
  // Exact p50 = 500 ms, p99 = 990 ms; the histogram reports the bucket bound (< 1% above).
  auto value = [&](const std::string& key) {
    auto pos = last.find("\"" + key + "\":");
    EXPECT_NE(pos, std::string::npos) << key;
    return std::stod(last.substr(pos + key.size() + 3));
  };
  EXPECT_EQ(value("count"), 1000);
  EXPECT_NEAR(value("p50"), 500, 5);
  EXPECT_NEAR(value("p99"), 990, 9.9);
  EXPECT_EQ(value("max"), 1000);
  EXPECT_EQ(value("min"), 1);
}
