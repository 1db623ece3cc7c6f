// SVG charts: points, axis labels, legends, bands and the chart set of a run.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <regex>

#include "report/report.hpp"
#include "report/svg_chart.hpp"

namespace rp = loadctl::report;

namespace {

std::size_t occurrences(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST(SvgChart, NiceTicks) {
  EXPECT_EQ(rp::nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(rp::nice_ticks(0, 0.9, 4), (std::vector<double>{0, 0.5, 1.0}));  // last tick covers the top
  EXPECT_EQ(rp::nice_ticks(0, 27, 8), (std::vector<double>{0, 5, 10, 15, 20, 25, 30}));
  EXPECT_EQ(rp::tick_label(15000), "15k");
  EXPECT_EQ(rp::tick_label(0.25), "0.25");
}

TEST(SvgChart, PointsAxesLegend) {
  rp::ChartSpec spec;
  spec.id = "c1";
  spec.title = "Response time <request>";
  spec.y_label = "response time (ms)";
  spec.markers = {10};
  rp::ChartSeries s;
  s.label = "mean";
  s.color = "#123456";
  s.x = {10, 20, 30, 40};
  s.y = {1, 2, std::numeric_limits<double>::quiet_NaN(), 4};
  spec.series.push_back(s);
  std::string svg = rp::render_chart(spec);
  // NaN splits the line: one polyline of 2 points and one of 1 point (drawn with a circle).
  EXPECT_EQ(occurrences(svg, "<polyline class=\"series\""), 2u);
  EXPECT_NE(svg.find("data-points=\"2\""), std::string::npos);
  EXPECT_NE(svg.find("data-points=\"1\""), std::string::npos);
  EXPECT_EQ(occurrences(svg, "<circle"), 1u);
  EXPECT_NE(svg.find(">response time (ms)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">elapsed time (s)</text>"), std::string::npos);
  EXPECT_NE(svg.find("Response time &lt;request&gt;"), std::string::npos);  // escaped
  EXPECT_NE(svg.find(">mean</text>"), std::string::npos);                   // legend
  EXPECT_EQ(occurrences(svg, "class=\"marker\""), 1u);
  // X ticks cover 0..40 and Y ticks 0..4.
  EXPECT_NE(svg.find("class=\"xtick\""), std::string::npos);
  EXPECT_NE(svg.find(">40</text>"), std::string::npos);
  EXPECT_NE(svg.find(">4</text>"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
}

TEST(SvgChart, BandsAndRunCharts) {
  rp::RunModel m;
  rp::read_tsung_log(
      "# stats: dump at 110\nstats: users 3 3\nstats: request 10 2.0 1.0 5.0 1.0 0 0\nstats: users_count 3 3\n"
      "stats: size_rcv 1000 1000\nstats: 200 10 10\n"
      "# stats: dump at 120\nstats: users 1 3\nstats: request 20 3.0 1.0 6.0 1.0 2.0 10\nstats: users_count 0 3\n"
      "stats: size_rcv 2000 3000\nstats: 200 20 30\n",
      m);
  rp::read_stats_jsonl(
      "{\"ts\":110,\"metrics\":{\"request\":{\"kind\":\"sample\",\"count\":10,\"p95\":4,\"p99\":5}}}\n"
      "{\"ts\":120,\"metrics\":{\"request\":{\"kind\":\"sample\",\"count\":20,\"p95\":5,\"p99\":6}}}\n",
      m);
  m.start = 100;
  rp::compute_tables(m);
  auto charts = rp::build_charts({&m});
  std::vector<std::string> ids;
  for (const auto& c : charts) ids.push_back(c.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"users", "arrival", "rt-request", "rate", "network", "codes"}));
  std::string rt = rp::render_chart(charts[2]);
  EXPECT_EQ(occurrences(rt, "<polygon class=\"band\""), 2u);  // mean..p95, p95..p99
  EXPECT_NE(rt.find("data-points=\"2\""), std::string::npos);
  // Throughput: 1000 bytes in 10 s = 0.8 kbit/s; 2000 bytes = 1.6 kbit/s.
  EXPECT_DOUBLE_EQ(charts[4].series[0].y[0], 0.8);
  EXPECT_DOUBLE_EQ(charts[4].series[0].y[1], 1.6);
  // Request rate: 10 then 20 per 10 s.
  EXPECT_DOUBLE_EQ(charts[3].series[0].y[1], 2.0);
}

TEST(SvgChart, LongSeriesAreThinnedPerPixelColumnKeepingSpikes) {
  rp::ChartSpec spec;
  spec.id = "long";
  spec.y_label = "ms";
  rp::ChartSeries s;
  s.label = "mean";
  s.color = "#000";
  for (int i = 0; i < 100000; ++i) {
    s.x.push_back(i);
    s.y.push_back(i == 54321 ? 1000.0 : 1.0);
  }
  spec.series.push_back(s);
  std::string svg = rp::render_chart(spec);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("data-points=\"(\\d+)\"")));
  std::size_t points = std::stoul(m[1]);
  EXPECT_LE(points, 4u * 900);  // at most 4 per pixel column of a 900-unit-wide chart
  EXPECT_GE(points, 800u);
  // The spike survives: the y axis goes up to 1000 and one point is drawn at its top.
  EXPECT_NE(svg.find(">1000</text>"), std::string::npos);
  EXPECT_LT(svg.size(), 200000u);
}

TEST(SvgChart, SteeringEventsAreLabelledLines) {
  rp::ChartSpec spec;
  spec.id = "c2";
  spec.title = "Requests";
  rp::ChartSeries s;
  s.label = "request";
  s.color = "#123456";
  s.x = {0, 10, 20, 30};
  s.y = {1, 2, 3, 4};
  spec.series.push_back(s);
  spec.events = {{12.5, "rate 2x (all agents)"}, {25, "agent 2 added <x>"}, {99, "after the end"}};
  std::string svg = rp::render_chart(spec);
  EXPECT_EQ(occurrences(svg, "<g class=\"event\">"), 2u);  // the one outside the x range is left out
  EXPECT_NE(svg.find("<title>12.5 s: rate 2x (all agents)</title>"), std::string::npos);
  EXPECT_NE(svg.find(">rate 2x (all agents)</text></g>"), std::string::npos);
  EXPECT_NE(svg.find(">agent 2 added &lt;x&gt;</text></g>"), std::string::npos);  // escaped
  EXPECT_EQ(svg.find("after the end"), std::string::npos);
}
