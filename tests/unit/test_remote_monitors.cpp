// Munin polling from the controller's event loop: a fake munin node on loopback (a thread
// speaking the text protocol), a silent one and a closed port.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "monitor/remote_monitors.hpp"

namespace {

using namespace loadctl;
using namespace std::chrono_literals;

TEST(RemoteMonitors, MuninBlockReadsValuesAndCpus) {
  monitor::MuninBlock b;
  EXPECT_TRUE(b.add_line("graph_args --base 1000 -r --lower-limit 0 --upper-limit 400"));
  EXPECT_TRUE(b.add_line("user.value 1200"));
  EXPECT_TRUE(b.add_line("idle.value 99"));
  EXPECT_TRUE(b.add_line("steal.value U"));  // unknown: no value
  EXPECT_TRUE(b.add_line("system.value 34\r"));
  EXPECT_FALSE(b.add_line("."));
  EXPECT_EQ(b.upper_limit, 400);
  EXPECT_EQ(b.values.size(), 3u);
  EXPECT_EQ(b.sum_except("idle"), 1234);
  EXPECT_EQ(b.sum({"idle", "user"}), 1299);
}

TEST(RemoteMonitors, CounterDeltaSkipsFirstAndResets) {
  monitor::CounterDelta c;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.next(100, t0));
  auto s = c.next(300, t0 + 2s);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->delta, 200);
  EXPECT_EQ(s->seconds, 2);
  EXPECT_FALSE(c.next(50, t0 + 3s));  // went back: a new base
  EXPECT_EQ(c.next(60, t0 + 4s)->delta, 10);
  EXPECT_FALSE(c.next(0, t0 + 5s)) << "0 is no value yet (Tsung skips it)";
  EXPECT_EQ(c.next(70, t0 + 6s)->seconds, 2) << "the base stays the reading of 60";
  EXPECT_EQ(c.next(70, t0 + 7s)->delta, 0) << "unchanged is a real 0 by default";
  monitor::CounterDelta stale(/*unchanged_is_stale=*/true);  // snmpd's 5 s CPU cache
  EXPECT_FALSE(stale.next(100, t0));
  EXPECT_FALSE(stale.next(100, t0 + 2s));
  auto s2 = stale.next(600, t0 + 5s);
  ASSERT_TRUE(s2);
  EXPECT_EQ(s2->delta, 500);
  EXPECT_EQ(s2->seconds, 5) << "measured from the last change";
}

// A munin node on 127.0.0.1: `answer` false accepts connections and never says anything.
class FakeMuninNode {
 public:
  explicit FakeMuninNode(bool answer) : answer_(answer) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 4);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeMuninNode() {
    shutdown(fd_, SHUT_RDWR);
    if (client_ >= 0) shutdown(client_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void serve() {
    for (;;) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      client_ = c;
      if (answer_) talk(c);
      else while (read(c, buf_, sizeof buf_) > 0) {}
      client_ = -1;
      close(c);
    }
  }
  void say(int c, const std::string& s) { (void)!write(c, s.data(), s.size()); }
  void talk(int c) {
    say(c, "# munin node at fake1\n");
    std::string pending;
    for (;;) {
      ssize_t n = read(c, buf_, sizeof buf_);
      if (n <= 0) return;
      pending.append(buf_, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
        std::string cmd = pending.substr(0, nl);
        if (cmd == "config cpu") say(c, "graph_title CPU usage\ngraph_args --base 1000 -r --lower-limit 0 --upper-limit 200\nuser.label user\n.\n");
        else if (cmd == "fetch cpu") {
          busy_ += 20;  // 20 jiffies busy per fetch
          say(c, "user.value " + std::to_string(busy_) + "\nsystem.value 7\nidle.value 5000\n.\n");
        } else if (cmd == "fetch memory") say(c, "free.value 1048576000\nbuffers.value 0\ncached.value 1048576\napps.value 5\n.\n");
        else if (cmd == "fetch load") say(c, "load.value 0.50\n.\n");
        else say(c, "# Unknown command\n.\n");
      }
    }
  }
  bool answer_;
  int fd_ = -1;
  std::atomic<int> client_{-1};
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  long busy_ = 1000;
  char buf_[4096];
  std::thread thread_;  // last: starts after the other members exist
};

struct Captured {
  std::ostringstream log;
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  Captured() { spdlog::set_default_logger(std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::ostream_sink_st>(log))); }
  ~Captured() { spdlog::set_default_logger(previous); }
  int count(const std::string& what) const {
    std::string s = log.str();
    int n = 0;
    for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
  }
};

MetricSet run_monitors(const MonitorSpec& spec, std::chrono::milliseconds interval, std::chrono::milliseconds for_how_long) {
  boost::asio::io_context ctx;
  MetricSet got;
  monitor::RemoteMonitors monitors(ctx, {spec}, interval, [&](const MetricSet& s) { got.merge(s); });
  EXPECT_EQ(monitors.size(), 1u);
  monitors.start();
  ctx.run_for(for_how_long);
  monitors.stop();
  ctx.run_for(50ms);
  return got;
}

TEST(RemoteMonitors, MuninNodeGivesTsungsMetrics) {
  FakeMuninNode node(true);
  MonitorSpec spec{"127.0.0.1", "munin", node.port()};
  Captured captured;
  MetricSet got = run_monitors(spec, 200ms, 1100ms);
  const Metric* cpu = got.find("{cpu,\"fake1\"}");  // named after the node's banner, as Tsung does
  ASSERT_NE(cpu, nullptr) << captured.log.str();
  EXPECT_GE(cpu->count, 3u);
  // 20 jiffies per 0.2 s = 100 per second = one CPU of the node's two: 50 %.
  EXPECT_GT(cpu->min, 25);
  EXPECT_LT(cpu->max, 75);
  const Metric* mem = got.find("{freemem,\"fake1\"}");
  ASSERT_NE(mem, nullptr);
  EXPECT_DOUBLE_EQ(mem->max, 1001);  // free + buffers + cached, in MB
  EXPECT_DOUBLE_EQ(got.find("{load,\"fake1\"}")->max, 0.5);
  EXPECT_EQ(node.connections(), 1) << "one connection for the whole run";
  EXPECT_EQ(captured.count("munin monitor"), 0) << captured.log.str();
}

TEST(RemoteMonitors, SilentMuninNodeIsAGapReportedOncePerInterval) {
  FakeMuninNode node(false);
  MonitorSpec spec{"127.0.0.1", "munin", node.port()};
  Captured captured;
  MetricSet got = run_monitors(spec, 300ms, 1050ms);  // polls at 0, 300, 600, 900 ms
  EXPECT_TRUE(got.empty());
  int gaps = captured.count("munin monitor 127.0.0.1: no answer within 240 ms");
  EXPECT_GE(gaps, 2) << captured.log.str();  // 3 unless the machine stalls the timers
  EXPECT_LE(gaps, 4) << captured.log.str();
  EXPECT_GE(node.connections(), 2) << "each poll tries again";
}

TEST(RemoteMonitors, DownHostsAreGapsAndTheLoopGoesOn) {
  int probe = socket(AF_INET, SOCK_STREAM, 0);  // a free port, closed again: nothing listens there
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
  close(probe);
  auto port = ntohs(a.sin_port);
  Captured captured;
  MetricSet munin = run_monitors(MonitorSpec{"127.0.0.1", "munin", port}, 200ms, 500ms);
  MetricSet snmp = run_monitors(MonitorSpec{"127.0.0.1", "snmp", port}, 200ms, 500ms);
  EXPECT_TRUE(munin.empty());
  EXPECT_TRUE(snmp.empty());
  EXPECT_GE(captured.count("munin monitor 127.0.0.1: cannot connect"), 2) << captured.log.str();
  EXPECT_GE(captured.count("snmp monitor 127.0.0.1:"), 2) << captured.log.str();
}

}  // namespace
