// Monitored hosts in `loadctl report`: one chart per metric with a line per host, on the time
// axis of the response-time charts, gaps left as gaps; intervals where a load generator was
// saturated (its host's CPU above 90 %, out of fds or ports) flagged in a note and on the charts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "report/report.hpp"

namespace rp = loadctl::report;

namespace {

// Four dumps 2 s apart; "server1" (munin) misses the third; "agent1" is the load generator.
const char* kMonitoringLog =
    "# stats: dump at 1000\n"
    "stats: {cpu,\"server1\"} 1 40.0 0 40.0 40.0 0 0\n"
    "stats: {cpu,\"agent1\"} 1 50.0 0 50.0 50.0 0 0\n"
    "stats: {recvpackets,\"agent1\"} 1 120 0 120 120 0 0\n"
    "stats: {diskbusy,\"agent1\"} 1 12.5 0 12.5 12.5 0 0\n"
    "stats: {heapused,\"server1\"} 1 3.5 0 3.5 3.5 0 0\n"
    "stats: request 10 5.0 1.0 9.0 1.0 0 0\n"
    "# stats: dump at 1002\n"
    "stats: {cpu,\"server1\"} 1 45.0 0 45.0 45.0 0 0\n"
    "stats: {cpu,\"agent1\"} 1 97.5 0 97.5 97.5 0 0\n"
    "stats: request 10 25.0 1.0 90.0 1.0 0 0\n"
    "# stats: dump at 1004\n"
    "stats: {cpu,\"agent1\"} 1 60.0 0 60.0 60.0 0 0\n"
    "stats: error_connect_emfile 3 3\n"
    "stats: request 10 6.0 1.0 9.0 1.0 0 0\n"
    "# stats: dump at 1006\n"
    "stats: {cpu,\"server1\"} 1 42.0 0 42.0 42.0 0 0\n"
    "stats: {cpu,\"agent1\"} 1 55.0 0 55.0 55.0 0 0\n"
    "stats: request 10 5.0 1.0 9.0 1.0 0 0\n";

const char* kMonitoringRunJson =
    R"({"software": "loadctl", "start": 998, "end": 1006, "agents": [)"
    R"({"id": 0, "host": "localhost", "hostname": "agent1", "state": "done", "failure": ""},)"
    R"({"id": 1, "host": "server1", "hostname": "server1", "state": "done", "failure": "", "monitor": true}]})";

rp::RunModel monitoring_model() {
  rp::RunModel m;
  rp::read_run_json(kMonitoringRunJson, m);
  rp::read_tsung_log(kMonitoringLog, m);
  rp::compute_tables(m);
  rp::flag_generator_limits(m);
  return m;
}

const rp::ChartSpec* chart_by_id(const std::vector<rp::ChartSpec>& charts, const std::string& id) {
  for (const auto& c : charts)
    if (c.id == id) return &c;
  return nullptr;
}

}  // namespace

TEST(ReportMonitoring, FlagsIntervalsWhereTheGeneratorWasSaturated) {
  rp::RunModel m = monitoring_model();
  EXPECT_EQ(m.agent_hosts, std::vector<std::string>{"agent1"});
  ASSERT_EQ(m.generator_limits.size(), 2u);
  EXPECT_DOUBLE_EQ(m.generator_limits[0].from, 2);  // the interval ending at the second dump
  EXPECT_DOUBLE_EQ(m.generator_limits[0].to, 4);
  EXPECT_NE(m.generator_limits[0].why.find("agent host agent1 CPU 98%"), std::string::npos) << m.generator_limits[0].why;
  EXPECT_NE(m.generator_limits[1].why.find("out of file descriptors"), std::string::npos);
  ASSERT_FALSE(m.notes.empty());
  EXPECT_NE(m.notes.back().find("saturated in 2 interval(s)"), std::string::npos) << m.notes.back();
  // server1 is not a load generator: its CPU is never a reason.
  for (const auto& l : m.generator_limits) EXPECT_EQ(l.why.find("server1"), std::string::npos);
}

// A load agent process above 90 % of its worker threads' cores is flagged, whatever its host's CPU
// (here 50-60 %); below, or another metric, is not.
TEST(ReportMonitoring, FlagsAnAgentProcessAboveItsWorkerThreadsCapacity) {
  rp::RunModel m;
  rp::read_tsung_log("# stats: dump at 1000\n"
                     "stats: {cpu,\"h\"} 1 50.0 0 50.0 50.0 0 0\n"
                     "stats: {agentcpu,\"agent0@h\"} 1 89.0 0 89.0 89.0 0 0\n"
                     "# stats: dump at 1002\n"
                     "stats: {cpu,\"h\"} 1 60.0 0 60.0 60.0 0 0\n"
                     "stats: {agentcpu,\"agent0@h\"} 1 96.0 0 96.0 96.0 0 0\n"
                     "stats: {agentcpu,\"agent1@h\"} 1 40.0 0 40.0 40.0 0 0\n",
                     m);
  rp::compute_tables(m);
  rp::flag_generator_limits(m);
  ASSERT_EQ(m.generator_limits.size(), 1u);
  EXPECT_NE(m.generator_limits[0].why.find("agent agent0@h process CPU 96% of its worker threads"), std::string::npos)
      << m.generator_limits[0].why;
  EXPECT_EQ(m.generator_limits[0].why.find("agent1"), std::string::npos);
  auto charts = rp::build_charts({&m});
  const rp::ChartSpec* chart = chart_by_id(charts, "mon-agentcpu");
  ASSERT_NE(chart, nullptr);
  EXPECT_EQ(chart->title, "CPU of each load agent process");
}

TEST(ReportMonitoring, NoFlagWithoutAgentsOrBelowTheLimit) {
  rp::RunModel m;
  rp::read_tsung_log(kMonitoringLog, m);  // no run.json: no known generator host
  rp::compute_tables(m);
  rp::flag_generator_limits(m);
  ASSERT_EQ(m.generator_limits.size(), 1u);  // the emfile errors alone
  EXPECT_EQ(m.generator_limits[0].why.find("CPU"), std::string::npos);
}

TEST(ReportMonitoring, HostChartsShareTheTimeAxisAndKeepGaps) {
  rp::RunModel m = monitoring_model();
  auto charts = rp::build_charts({&m});
  const rp::ChartSpec* cpu = chart_by_id(charts, "mon-cpu");
  const rp::ChartSpec* rt = chart_by_id(charts, "rt-request");
  ASSERT_NE(cpu, nullptr);
  ASSERT_NE(rt, nullptr);
  ASSERT_EQ(cpu->series.size(), 2u);  // agent1, server1
  const rp::ChartSeries& server = cpu->series[1];
  EXPECT_EQ(server.label, "server1");
  EXPECT_EQ(server.x, rt->series.back().x);  // same elapsed seconds as the response times
  EXPECT_TRUE(std::isnan(server.y[2])) << "the missed poll stays a gap";
  EXPECT_DOUBLE_EQ(server.y[3], 42);
  EXPECT_NE(chart_by_id(charts, "mon-recvpackets"), nullptr);
  const rp::ChartSpec* busy = chart_by_id(charts, "mon-diskbusy");
  ASSERT_NE(busy, nullptr);
  EXPECT_EQ(busy->title, "Busiest disk's busy time per monitored host") << "a host metric of its own, titled";
  EXPECT_EQ(chart_by_id(charts, "mon-diskread"), nullptr) << "no chart for a metric without samples";
  EXPECT_NE(chart_by_id(charts, "mon-heapused"), nullptr) << "custom SNMP oids get a chart of their own";
  // The saturated intervals are shaded on every chart, response times included.
  EXPECT_EQ(rt->alerts.size(), 2u);
  std::string svg = rp::render_chart(*cpu);
  std::size_t alerts = 0, lines = 0;
  for (std::size_t at = svg.find("class=\"alert\""); at != std::string::npos; at = svg.find("class=\"alert\"", at + 1)) ++alerts;
  for (std::size_t at = svg.find("class=\"series\""); at != std::string::npos; at = svg.find("class=\"series\"", at + 1)) ++lines;
  EXPECT_EQ(alerts, 2u);
  EXPECT_EQ(lines, 3u) << "agent1 one line, server1 two pieces around its gap";
  EXPECT_NE(svg.find("load generator saturated"), std::string::npos);
}
