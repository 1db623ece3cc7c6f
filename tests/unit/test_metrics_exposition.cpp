// /metrics (control/metrics_exposition): read back by a strict parser of Prometheus' text
// exposition format 0.0.4 written here from the format's specification (no Prometheus library on
// this machine; tests/integration/test_dashboard_api.sh also runs `promtool check metrics` when
// the Debian prometheus package is installed).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "control/metrics_exposition.hpp"

using namespace loadctl;
using namespace loadctl::control;

namespace {

struct Series {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> type
  std::vector<Series> series;
  std::string error;  // empty when valid

  std::optional<double> value(const std::string& name, const std::map<std::string, std::string>& labels) const {
    for (const Series& s : series)
      if (s.name == name && s.labels == labels) return s.value;
    return std::nullopt;
  }
};

bool parse_float(const std::string& text, double& out) {
  if (text == "+Inf" || text == "Inf") return out = INFINITY, true;
  if (text == "-Inf") return out = -INFINITY, true;
  if (text == "NaN") return out = NAN, true;
  static const std::regex number(R"([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)");
  if (!std::regex_match(text, number)) return false;
  out = std::strtod(text.c_str(), nullptr);
  return true;
}

// The family a sample belongs to: histogram samples are NAME_bucket, NAME_sum, NAME_count.
std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s = suffix;
    if (name.size() > s.size() && name.ends_with(s)) {
      auto it = types.find(name.substr(0, name.size() - s.size()));
      if (it != types.end() && it->second == "histogram") return it->first;
    }
  }
  return name;
}

Exposition parse_exposition(const std::string& text) {
  Exposition e;
  static const std::regex metric_name("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_name("[a-zA-Z_][a-zA-Z0-9_]*");
  static const std::set<std::string> kinds{"counter", "gauge", "histogram", "summary", "untyped"};
  std::set<std::string> helped, finished_families, seen_series;
  std::string current_family;
  if (!text.empty() && text.back() != '\n') return e.error = "does not end with a newline", e;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto fail = [&](const std::string& why) { e.error = "line " + std::to_string(n) + ": " + why + ": " + line; };
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string keyword, name;
      words >> keyword >> name;
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      if (!std::regex_match(name, metric_name)) return fail("bad metric name in " + keyword), e;
      if (keyword == "HELP") {
        if (!helped.insert(name).second) return fail("second HELP"), e;
        continue;
      }
      std::string kind, extra;
      words >> kind;
      if (!kinds.count(kind) || (words >> extra)) return fail("bad TYPE"), e;
      if (e.types.count(name)) return fail("second TYPE"), e;
      for (const Series& s : e.series)
        if (family_of(s.name, e.types) == name) return fail("TYPE after samples"), e;
      e.types[name] = kind;
      continue;
    }
    Series s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!std::regex_match(s.name, metric_name)) return fail("bad metric name"), e;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') break;
        std::size_t eq = line.find('=', i);
        if (eq == std::string::npos) return fail("label without ="), e;
        std::string lname = line.substr(i, eq - i);
        if (!std::regex_match(lname, label_name) || lname.starts_with("__")) return fail("bad label name"), e;
        if (eq + 1 >= line.size() || line[eq + 1] != '"') return fail("label value not quoted"), e;
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] != '\\') {
            value += line[j];
            continue;
          }
          if (++j >= line.size()) return fail("dangling escape"), e;
          if (line[j] == 'n') value += '\n';
          else if (line[j] == '\\' || line[j] == '"') value += line[j];
          else return fail("bad escape"), e;
        }
        if (j >= line.size()) return fail("unterminated label value"), e;
        if (!s.labels.emplace(lname, value).second) return fail("duplicate label"), e;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
        else if (i >= line.size() || line[i] != '}') return fail("expected , or }"), e;
      }
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') return fail("no value"), e;
    std::istringstream rest(line.substr(i + 1));
    std::string value, timestamp, extra;
    rest >> value >> timestamp >> extra;
    if (!extra.empty() || !parse_float(value, s.value)) return fail("bad value"), e;
    std::string family = family_of(s.name, e.types);
    if (!e.types.count(family)) return fail("sample without TYPE"), e;
    if (family != current_family) {
      if (finished_families.count(family)) return fail("family not contiguous"), e;
      if (!current_family.empty()) finished_families.insert(current_family);
      current_family = family;
    }
    const std::string& kind = e.types[family];
    if (kind == "histogram" && s.name == family) return fail("histogram sample without _bucket/_sum/_count"), e;
    if (kind == "histogram" && s.name.ends_with("_bucket") != (s.labels.count("le") == 1)) return fail("le label"), e;
    if (kind == "counter" && !(s.value >= 0)) return fail("negative counter"), e;
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) key += "|" + k + "=" + v;
    if (!seen_series.insert(key).second) return fail("duplicate series"), e;
    e.series.push_back(std::move(s));
  }
  // Histograms: per label set, le ascending, counts cumulative, +Inf last and equal to _count.
  for (const auto& [family, kind] : e.types) {
    if (kind != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    for (const Series& s : e.series) {
      if (s.name != family + "_bucket") continue;
      auto labels = s.labels;
      double le = 0;
      if (!parse_float(labels["le"], le)) return e.error = family + ": bad le " + labels["le"], e;
      labels.erase("le");
      buckets[labels].emplace_back(le, s.value);
    }
    for (const auto& [labels, list] : buckets) {
      for (std::size_t k = 1; k < list.size(); ++k) {
        if (!(list[k].first > list[k - 1].first)) return e.error = family + ": le not ascending", e;
        if (list[k].second < list[k - 1].second) return e.error = family + ": counts not cumulative", e;
      }
      if (list.empty() || !std::isinf(list.back().first)) return e.error = family + ": no +Inf bucket", e;
      auto count = e.value(family + "_count", labels);
      if (!count || *count != list.back().second) return e.error = family + ": _count differs from +Inf", e;
      if (!e.value(family + "_sum", labels)) return e.error = family + ": no _sum", e;
    }
  }
  return e;
}

MetricSet sample_run() {
  MetricSet set;
  MetricId request = set.intern("request", MetricKind::sample);
  for (int i = 1; i <= 1000; ++i) set.sample(request, i * 0.125);  // 0.125 .. 125 ms, exact in binary
  set.sample(set.intern("tr_log\"in\\", MetricKind::sample), 12.5);
  set.add(set.intern("200", MetricKind::counter), 990);
  set.add(set.intern("error_connect_econnrefused", MetricKind::counter), 10);
  set.gauge_add(set.intern("users", MetricKind::gauge), 42);
  set.sample(set.intern("{cpu,\"agent-host\"}", MetricKind::sample), 37.5);
  return set;
}

}  // namespace

TEST(MetricsExposition, TheStrictParserRefusesWhatTheFormatForbids) {
  EXPECT_EQ(parse_exposition("# TYPE a counter\na 1\n").error, "");
  for (const char* bad : {"a 1\n",                                        // no TYPE
                          "# TYPE a counter\na 1",                        // no final newline
                          "# TYPE a counter\na{x=\"1} 1\n",               // unterminated
                          "# TYPE a counter\na{x=\"\\t\"} 1\n",           // bad escape
                          "# TYPE a counter\na -1\n",                      // negative counter
                          "# TYPE a counter\na one\n",                     // value
                          "# TYPE a counter\n# TYPE a gauge\na 1\n",       // second TYPE
                          "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n",  // not contiguous
                          "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                          "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"})
    EXPECT_NE(parse_exposition(bad).error, "") << bad;
}

TEST(MetricsExposition, IsValidAndHoldsTheRunsNumbers) {
  MetricSet total = sample_run();
  RunStatus status;
  status.state = RunStatus::State::running;
  status.elapsed = 12.5;
  status.planned = 60;
  status.phase = 2;
  status.request_rate = 81.5;
  status.agents = {{0, "h1", "running"}, {1, "h2", "lost"}};
  std::string text = render_prometheus(total, MetricSet(), status);
  Exposition e = parse_exposition(text);
  ASSERT_EQ(e.error, "") << text;
  EXPECT_EQ(e.types["loadctl_count_total"], "counter");
  EXPECT_EQ(e.types["loadctl_duration_seconds"], "histogram");
  EXPECT_EQ(e.value("loadctl_count_total", {{"metric", "200"}}), 990);
  EXPECT_EQ(e.value("loadctl_count_total", {{"metric", "error_connect_econnrefused"}}), 10);
  EXPECT_EQ(e.value("loadctl_level", {{"metric", "users"}}), 42);
  EXPECT_EQ(e.value("loadctl_duration_seconds_count", {{"metric", "request"}}), 1000);
  EXPECT_NEAR(*e.value("loadctl_duration_seconds_sum", {{"metric", "request"}}), 62.5625, 1e-9);  // sum of ms / 1000
  EXPECT_EQ(e.value("loadctl_duration_seconds_count", {{"metric", "tr_log\"in\\"}}), 1);  // escaped and read back
  EXPECT_EQ(e.value("loadctl_monitor", {{"metric", "cpu"}, {"host", "agent-host"}}), 37.5);
  EXPECT_FALSE(e.value("loadctl_duration_seconds_count", {{"metric", "{cpu,\"agent-host\"}"}}));  // not a duration
  EXPECT_EQ(e.value("loadctl_run_agents", {{"state", "running"}}), 1);
  EXPECT_EQ(e.value("loadctl_run_agents", {{"state", "lost"}}), 1);
  EXPECT_EQ(e.value("loadctl_run_phase", {}), 2);
  EXPECT_EQ(e.value("loadctl_run_state", {{"state", "running"}}), 1);
}

// Each le is the upper bound of a histogram bucket, so a cumulative count is exact: the samples
// (125, 250, ... 125000 us) at or below each bound, no interpolation.
TEST(MetricsExposition, BucketCountsAreExactAtTheHistogramsOwnBounds) {
  MetricSet total = sample_run();
  Exposition e = parse_exposition(render_prometheus(total, MetricSet(), RunStatus()));
  ASSERT_EQ(e.error, "");
  const auto& bounds = exposition_bounds_us();
  ASSERT_GE(bounds.size(), 30u);
  for (std::uint64_t bound : bounds) {
    EXPECT_EQ(Histogram::bucket_high(Histogram::bucket_of(bound)), bound);
    bool found = false;
    for (const Series& s : e.series) {
      if (s.name != "loadctl_duration_seconds_bucket" || s.labels.at("metric") != "request") continue;
      double v = std::strtod(s.labels.at("le").c_str(), nullptr);
      if (std::abs(v * 1e6 - static_cast<double>(bound)) > 1e-3) continue;
      found = true;
      std::uint64_t exact = 0;
      for (std::uint64_t i = 1; i <= 1000; ++i) exact += i * 125 <= bound;
      EXPECT_EQ(s.value, static_cast<double>(exact)) << "le " << bound << " us";
    }
    EXPECT_TRUE(found) << bound;
  }
}
