#include <loadctl/tsung_log.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <vector>
#include <fstream>
#include <regex>
#include <sstream>
#include "test_files.hpp"

using loadctl::MetricKind;
using loadctl::MetricSet;
using loadctl::TsungLogWriter;

namespace fs = std::filesystem;

namespace {

using loadctl::test::read_all;

// Grammar of a tsung.log line as documented in docs/stats.md.
bool valid_line(const std::string& line) {
  static const std::regex number(R"(-?\d+(\.\d+)?(e-?\d+)?)");
  static const std::regex dump(R"(# stats: dump at \d+)");
  static const std::regex stats(R"(stats: (\S+)((?: \S+)+))");
  if (std::regex_match(line, dump)) return true;
  std::smatch m;
  if (!std::regex_match(line, m, stats)) return false;
  std::istringstream values(m[2].str());
  std::string v;
  int n = 0;
  while (values >> v) {
    if (!std::regex_match(v, number)) return false;
    ++n;
  }
  return n == 2 || n == 7;
}

}  // namespace

TEST(TsungLogFormat, FloatsPrintLikeErlang) {
  // Reference strings printed by `erl -eval 'io:format("~p", [X])'` (OTP shipped with Tsung).
  EXPECT_EQ(TsungLogWriter::format_float(0.0), "0.0");
  EXPECT_EQ(TsungLogWriter::format_float(0.0001), "0.0001");
  EXPECT_EQ(TsungLogWriter::format_float(1.0e20), "1.0e20");
  EXPECT_EQ(TsungLogWriter::format_float(100.0), "100.0");
  EXPECT_EQ(TsungLogWriter::format_float(0.1), "0.1");
  EXPECT_EQ(TsungLogWriter::format_float(0.001), "0.001");
  EXPECT_EQ(TsungLogWriter::format_float(123456789012345678.0), "1.2345678901234568e17");
  EXPECT_EQ(TsungLogWriter::format_float(1.0e15), "1.0e15");
  EXPECT_EQ(TsungLogWriter::format_float(1.5e16), "1.5e16");
  EXPECT_EQ(TsungLogWriter::format_float(123456789012345.6), "123456789012345.6");
  EXPECT_EQ(TsungLogWriter::format_float(1.0e-5), "1.0e-5");
  EXPECT_EQ(TsungLogWriter::format_float(0.00012345), "1.2345e-4");
  EXPECT_EQ(TsungLogWriter::format_float(0.00001234), "1.234e-5");
  EXPECT_EQ(TsungLogWriter::format_float(1234567.0), "1234567.0");
  EXPECT_EQ(TsungLogWriter::format_float(0.5101648351648354), "0.5101648351648354");
  EXPECT_EQ(TsungLogWriter::format_float(23741.48828125), "23741.48828125");
  EXPECT_EQ(TsungLogWriter::format_float(-2.5), "-2.5");
  EXPECT_EQ(TsungLogWriter::format_float(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(TsungLogWriter::format_float(9007199254740992.0), "9.007199254740992e15");
  EXPECT_EQ(TsungLogWriter::format_float(1500.0), "1.5e3");
  EXPECT_EQ(TsungLogWriter::format_float(100000.0), "1.0e5");
  EXPECT_EQ(TsungLogWriter::format_float(0.0012), "0.0012");
  EXPECT_EQ(TsungLogWriter::format_float(1.2e-6), "1.2e-6");
  EXPECT_EQ(TsungLogWriter::format_float(0.001234567), "0.001234567");
}

TEST(TsungLogFormat, RealTsungFixtureMatchesDocumentedGrammar) {
  std::istringstream log(read_all(fs::path(LOADCTL_SOURCE_DIR) / "tests/fixtures/tsung/tsung-1.7.0.log"));
  std::string line;
  int dumps = 0, lines = 0;
  while (std::getline(log, line)) {
    if (line.rfind("EndMonitor", 0) == 0) continue;  // Tsung's end marker, ignored by the renderer
    EXPECT_TRUE(valid_line(line)) << line;
    dumps += line.rfind("# stats: dump at", 0) == 0;
    ++lines;
  }
  EXPECT_EQ(dumps, 3);
  EXPECT_GT(lines, 40);
}

TEST(TsungLogWriter, KnownIntervalsGiveExpectedText) {
  TsungLogWriter w((fs::path(LOADCTL_BINARY_DIR) / "test_known_tsung.log").string(), 990);
  MetricSet interval;
  auto req = interval.intern("request", MetricKind::sample);
  auto ok = interval.intern("200", MetricKind::counter);
  auto nf = interval.intern("404", MetricKind::counter);
  auto users = interval.intern("users", MetricKind::gauge);
  auto connected = interval.intern("connected", MetricKind::gauge);

  // Interval 1: samples 1 ms and 3 ms -> mean 2, population stddev 1.
  interval.sample(req, 1.0);
  interval.sample(req, 3.0);
  interval.add(ok, 2);
  interval.gauge_add(users, 3);
  interval.gauge_add(connected, 2);
  EXPECT_EQ(w.render(1000, interval),
            "# stats: dump at 1000\n"
            "stats: users 3 3\n"
            "stats: 200 2 2\n"
            "stats: connected 2 2\n"
            "stats: request 2 2.0 1.0 3.0 1.0 0 0\n");
  interval = MetricSet();  // each interval starts from a fresh set of deltas
  req = interval.intern("request", MetricKind::sample);
  nf = interval.intern("404", MetricKind::counter);
  users = interval.intern("users", MetricKind::gauge);
  connected = interval.intern("connected", MetricKind::gauge);

  // Interval 2: one 5 ms sample; global mean/count are those before this dump (2.0 over 2).
  interval.sample(req, 5.0);
  interval.add(nf);
  interval.gauge_add(users, -1);
  interval.gauge_add(connected, -2);
  EXPECT_EQ(w.render(1010, interval),
            "# stats: dump at 1010\n"
            "stats: users 2 3\n"
            "stats: 200 0 2\n"
            "stats: 404 1 1\n"
            "stats: connected -2 0\n"
            "stats: request 1 5.0 0.0 5.0 1.0 2.0 2\n");

  // Interval 3: nothing happened; max/min stay, global mean = (1 + 3 + 5) / 3.
  MetricSet nothing;
  EXPECT_EQ(w.render(1020, nothing),
            "# stats: dump at 1020\n"
            "stats: users 2 3\n"
            "stats: 200 0 2\n"
            "stats: 404 0 1\n"
            "stats: connected 0 0\n"
            "stats: request 0 0 0 5.0 1.0 3.0 3\n");
}

TEST(TsungLogWriter, OrdersLikeTsungAndWritesFile) {
  fs::path path = fs::path(LOADCTL_BINARY_DIR) / "test_order_tsung.log";
  {
    TsungLogWriter w(path.string(), 0);
    MetricSet s;
    s.add(s.intern("users_count", MetricKind::counter), 4);
    s.sample(s.intern("session", MetricKind::sample), 1200.5);
    s.sample(s.intern("{cpu,\"vm\"}", MetricKind::sample), 7.5);
    s.add(s.intern("finish_users_count", MetricKind::counter), 1);
    s.sample(s.intern("connect", MetricKind::sample), 0.25);
    ASSERT_TRUE(w.dump(5, s));
  }
  std::string text = read_all(path);
  EXPECT_EQ(text,
            "# stats: dump at 5\n"
            "stats: users 0 0\n"
            "stats: {cpu,\"vm\"} 1 7.5 0 7.5 7.5 0 0\n"
            "stats: session 1 1200.5 0 1200.5 1200.5 0 0\n"
            "stats: users_count 4 4\n"
            "stats: finish_users_count 1 1\n"
            "stats: connect 1 0.25 0 0.25 0.25 0 0\n");
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) EXPECT_TRUE(valid_line(line)) << line;
}

TEST(TsungLogWriter, UnwritablePathThrows) {
  EXPECT_THROW(TsungLogWriter("/nonexistent-dir/x/tsung.log", 0), std::system_error);
}

// The semantics docs/stats.md gives for each column: GMEAN/GCOUNT lag one dump, MAX/MIN are since
// start, counter TOTAL is the sum of DELTAs, connected's second column is the sum of its first.
// Returns how many sample and counter lines were checked against the previous dump.
static std::pair<int, int> check_columns(const std::string& text) {
  std::istringstream log(text);
  std::map<std::string, std::vector<double>> prev;
  std::string line;
  int checked_samples = 0, checked_counters = 0;
  while (std::getline(log, line)) {
    if (line.rfind("stats: ", 0) != 0) continue;
    std::istringstream fields(line.substr(7));
    std::string name;
    fields >> name;
    std::vector<double> v;
    for (double x; fields >> x;) v.push_back(x);
    auto it = prev.find(name);
    if (it != prev.end() && v.size() == 7 && name.front() != '{') {
      const auto& p = it->second;  // N MEAN STDDEV MAX MIN GMEAN GCOUNT
      EXPECT_EQ(v[6], p[6] + p[0]) << line;
      if (v[6] > 0) {
        EXPECT_NEAR(v[5], (p[5] * p[6] + p[1] * p[0]) / v[6], 1e-9) << line;
      }
      EXPECT_GE(v[3], p[3]) << line;
      EXPECT_LE(v[4], p[4]) << line;
      if (v[0] > 0) {
        EXPECT_GE(v[3], v[1]) << line;
        EXPECT_LE(v[4], v[1]) << line;
      }
      ++checked_samples;
    } else if (it != prev.end() && v.size() == 2 && name != "users") {
      EXPECT_EQ(v[1], it->second[1] + v[0]) << line;
      ++checked_counters;
    } else if (it == prev.end() && v.size() == 7) {
      EXPECT_EQ(v[5], 0) << line;  // nothing before the first dump
      EXPECT_EQ(v[6], 0) << line;
    } else if (it == prev.end() && v.size() == 2 && name != "users") {
      EXPECT_EQ(v[0], v[1]) << line;
    }
    if (name == "users") {
      EXPECT_LE(v[0], v[1]) << line;  // current level <= max so far
    }
    prev[name] = v;
  }
  return {checked_samples, checked_counters};
}

TEST(TsungLogFormat, RealTsungFixtureColumnsMeanWhatDocsSay) {
  auto [samples, counters] =
      check_columns(read_all(fs::path(LOADCTL_SOURCE_DIR) / "tests/fixtures/tsung/tsung-1.7.0.log"));
  EXPECT_GE(samples, 10);
  EXPECT_GE(counters, 10);
}

TEST(TsungLogWriter, OutputColumnsMeanWhatTsungsDo) {
  TsungLogWriter w((fs::path(LOADCTL_BINARY_DIR) / "test_columns_tsung.log").string(), 0);
  std::mt19937 rng(5);
  std::exponential_distribution<double> latency(2.0);
  std::string text;
  for (int d = 1; d <= 8; ++d) {
    MetricSet s;
    auto req = s.intern("request", MetricKind::sample);
    auto tr = s.intern("tr_buy", MetricKind::sample);
    int n = static_cast<int>(rng() % 50);  // some intervals have no sample at all
    for (int i = 0; i < n; ++i) s.sample(req, latency(rng));
    if (d % 3 == 0) s.sample(tr, 10 + d);
    s.add(s.intern("200", MetricKind::counter), static_cast<std::uint64_t>(n));
    s.gauge_add(s.intern("connected", MetricKind::gauge), d % 2 ? 3 : -2);
    s.gauge_add(s.intern("users", MetricKind::gauge), d % 2 ? 4 : -3);
    text += w.render(10 * d, s);
  }
  auto [samples, counters] = check_columns(text);
  EXPECT_GE(samples, 10);
  EXPECT_GE(counters, 10);
}

// Tsung's {sum, Name, V} (an SNMP <oid type="sum">): ts_stats_mon adds V with Erlang arithmetic
// and prints "stats: Name Total-PreviousTotal Total"; a float V makes both floats (2.5, 0.0),
// integer values stay integers, negative ones lower the total.
TEST(TsungLogWriter, RealValuedSumsPrintLikeTsungsFloats) {
  TsungLogWriter w((fs::path(LOADCTL_BINARY_DIR) / "test_real_sum_tsung.log").string(), 990);
  MetricSet a;
  auto f = a.intern("{bytes,\"h\"}", MetricKind::counter);
  auto i = a.intern("{jobs,\"h\"}", MetricKind::counter);
  a.add_value(f, 2.5, true);
  a.add_value(f, 0.25, true);
  a.add_value(i, 7, false);
  EXPECT_EQ(w.render(1000, a),
            "# stats: dump at 1000\nstats: users 0 0\nstats: {bytes,\"h\"} 2.75 2.75\nstats: {jobs,\"h\"} 7 7\n");
  MetricSet b;
  b.add_value(b.intern("{jobs,\"h\"}", MetricKind::counter), -3, false);
  EXPECT_EQ(w.render(1010, b),
            "# stats: dump at 1010\nstats: users 0 0\nstats: {bytes,\"h\"} 0.0 2.75\nstats: {jobs,\"h\"} -3 4\n");
  MetricSet c;
  c.add_value(c.intern("{bytes,\"h\"}", MetricKind::counter), 0.0009765625, true);  // 2^-10: exact
  EXPECT_EQ(w.render(1020, c),
            "# stats: dump at 1020\nstats: users 0 0\nstats: {bytes,\"h\"} 9.765625e-4 2.7509765625\nstats: {jobs,\"h\"} 0 4\n");
  // An integer total that returns to exactly 0 prints its change (Tsung: -4 0), not "0 0".
  MetricSet d;
  d.add_value(d.intern("{jobs,\"h\"}", MetricKind::counter), -4, false);
  EXPECT_EQ(w.render(1030, d), "# stats: dump at 1030\nstats: users 0 0\nstats: {bytes,\"h\"} 0.0 2.7509765625\nstats: {jobs,\"h\"} -4 0\n");
  EXPECT_EQ(w.render(1040, MetricSet{}), "# stats: dump at 1040\nstats: users 0 0\nstats: {bytes,\"h\"} 0.0 2.7509765625\nstats: {jobs,\"h\"} 0 0\n");
}
