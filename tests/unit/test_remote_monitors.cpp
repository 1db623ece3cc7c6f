// Munin polling from the controller's event loop: a fake munin node on loopback (a thread
// speaking the text protocol), a silent one and a closed port.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "monitor/remote_monitors.hpp"
#include "monitor/snmp_ber.hpp"

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

TEST(RemoteMonitors, MuninBlockStopsAtItsLineCap) {
  monitor::MuninBlock b;
  std::size_t n = 0;
  while (b.add_line("x.value 1") && n < 100000) ++n;  // a node that never says "."
  EXPECT_EQ(n, monitor::MuninBlock::kMaxLines);
  EXPECT_TRUE(b.too_long());
  EXPECT_EQ(b.values.size(), monitor::MuninBlock::kMaxLines);
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
struct NodeBehaviour {
  std::chrono::milliseconds fetch_delay{0};  ///< before the answer to each "fetch cpu"
  std::chrono::milliseconds line_delay{0};   ///< before each line of a fetch answer
  int close_after_fetches = 0;               ///< closes the (then idle) connection after N "fetch load"
};

// A socket of `type` bound to 127.0.0.1 on a free port.
int bound_on_loopback(int type, std::uint16_t& port) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

class FakeMuninNode {
 public:
  explicit FakeMuninNode(bool answer, NodeBehaviour how = {}) : answer_(answer), how_(how) {
    fd_ = bound_on_loopback(SOCK_STREAM, port_);
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
  void say_slowly(int c, const std::string& s) {  // line by line, each after line_delay
    for (std::size_t at = 0, nl; at < s.size(); at = nl + 1) {
      nl = s.find('\n', at);
      std::this_thread::sleep_for(how_.line_delay);
      say(c, s.substr(at, nl - at + 1));
    }
  }
  void talk(int c) {
    say(c, "# munin node at fake1\n");
    std::string pending;
    int fetches = 0;  // on this connection
    for (;;) {
      ssize_t n = read(c, buf_, sizeof buf_);
      if (n <= 0) return;
      pending.append(buf_, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
        std::string cmd = pending.substr(0, nl);
        if (cmd == "config cpu") say(c, "graph_title CPU usage\ngraph_args --base 1000 -r --lower-limit 0 --upper-limit 200\nuser.label user\n.\n");
        else if (cmd == "fetch cpu") {
          std::this_thread::sleep_for(how_.fetch_delay);
          busy_ += 20;  // 20 jiffies busy per fetch
          say_slowly(c, "user.value " + std::to_string(busy_) + "\nsystem.value 7\nidle.value 5000\n.\n");
        } else if (cmd == "fetch memory") say_slowly(c, "free.value 1048576000\nbuffers.value 0\ncached.value 1048576\napps.value 5\n.\n");
        else if (cmd == "fetch load") {
          say_slowly(c, "load.value 0.50\n.\n");
          if (++fetches == how_.close_after_fetches) return;  // munin-node's global_timeout
        }
        else say(c, "# Unknown command\n.\n");
      }
    }
  }
  bool answer_;
  NodeBehaviour how_;
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

// Polls every `interval` (no 5 s floor for munin/snmp unless `slow_host_period` says so).
MetricSet run_monitors(const MonitorSpec& spec, std::chrono::milliseconds interval, std::chrono::milliseconds for_how_long,
                       std::chrono::milliseconds slow_host_period = 0ms) {
  boost::asio::io_context ctx;
  MetricSet got;
  monitor::RemoteMonitors monitors(ctx, {spec}, interval, [&](const MetricSet& s, auto) { got.merge(s); }, slow_host_period);
  EXPECT_EQ(monitors.size(), 1u);
  monitors.start(std::chrono::steady_clock::now());
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

// M1: polls start at the dump boundaries (zero + k x interval) and a slow node's answer reaches
// the sink inside the interval its poll started in: one sample per interval, no gap then double.
TEST(RemoteMonitors, SlowNodeAnswersLandInTheIntervalTheirPollStartedIn) {
  FakeMuninNode node(true, {.fetch_delay = 240ms});  // 0.6 x interval
  MonitorSpec spec{"127.0.0.1", "munin", node.port()};
  Captured captured;
  boost::asio::io_context ctx;
  const auto interval = 400ms;
  const auto zero = std::chrono::steady_clock::now() + 200ms;  // the controller's 0.5 s warmup, scaled
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::chrono::steady_clock::time_point>> polls;
  monitor::RemoteMonitors monitors(ctx, {spec}, interval, [&](const MetricSet& s, std::chrono::steady_clock::time_point started) {
    if (s.find("{freemem,\"fake1\"}")) polls.emplace_back(started, std::chrono::steady_clock::now());
  }, 0ms);
  monitors.start(zero);
  ctx.run_for(2100ms);
  monitors.stop();
  ctx.run_for(50ms);
  auto index = [&](std::chrono::steady_clock::time_point t) {  // dump interval k holds [zero+(k-1)I, zero+kI)
    return static_cast<int>(std::floor(std::chrono::duration<double>(t - zero) / interval)) + 1;
  };
  ASSERT_GE(polls.size(), 4u) << captured.log.str();
  std::set<int> seen;
  for (std::size_t i = 1; i < polls.size(); ++i) {  // polls[0]: the base poll at start, before zero
    auto [started, answered] = polls[i];
    auto late = std::chrono::duration<double, std::milli>(started - (zero + interval * (index(started) - 1))).count();
    EXPECT_LT(late, 60) << "poll " << i << " started " << late << " ms after its boundary";
    EXPECT_EQ(index(started), index(answered)) << "poll " << i << " answered in the next interval";
    EXPECT_TRUE(seen.insert(index(started)).second) << "two polls in interval " << index(started);
  }
  EXPECT_EQ(captured.count("munin monitor"), 0) << captured.log.str();
}

// M2: munin's budget is the whole exchange's (0.8 x interval, at most 5 s), not 2.5 s: a busy
// node answering line by line in 2.75 s still gives samples.
TEST(RemoteMonitors, MuninNodeAnsweringSlowlyLineByLineIsNoGap) {
  FakeMuninNode node(true, {.line_delay = 250ms});  // 11 lines per poll
  MonitorSpec spec{"127.0.0.1", "munin", node.port()};
  Captured captured;
  MetricSet got = run_monitors(spec, 5000ms, 3300ms);
  EXPECT_NE(got.find("{freemem,\"fake1\"}"), nullptr) << captured.log.str();
  EXPECT_EQ(captured.count("munin monitor"), 0) << captured.log.str();
}

// M3: munin-node closes an idle session after its global_timeout; the next poll reconnects at
// once instead of reporting a gap.
TEST(RemoteMonitors, MuninNodeClosingAnIdleSessionIsNoGap) {
  FakeMuninNode node(true, {.close_after_fetches = 1});  // every session answers one poll only
  MonitorSpec spec{"127.0.0.1", "munin", node.port()};
  Captured captured;
  MetricSet got = run_monitors(spec, 200ms, 1100ms);  // polls at 0, 200, ..., 1000 ms
  const Metric* mem = got.find("{freemem,\"fake1\"}");
  ASSERT_NE(mem, nullptr) << captured.log.str();
  EXPECT_GE(mem->count, 5u) << captured.log.str();
  EXPECT_GE(node.connections(), 5);
  EXPECT_EQ(captured.count("munin monitor"), 0) << captured.log.str();
}

// L2: munin and snmp hosts are polled every max(interval, 5 s), on whole dump intervals.
TEST(RemoteMonitors, SlowHostsArePolledEveryFiveSecondsAtLeast) {
  using monitor::RemoteMonitors;
  EXPECT_EQ(RemoteMonitors::slow_host_every(500ms, 5000ms), 10u);
  EXPECT_EQ(RemoteMonitors::slow_host_every(3000ms, 5000ms), 2u);
  EXPECT_EQ(RemoteMonitors::slow_host_every(5000ms, 5000ms), 1u);
  EXPECT_EQ(RemoteMonitors::slow_host_every(10000ms, 5000ms), 1u);
  FakeMuninNode node(true);
  MonitorSpec spec{"127.0.0.1", "munin", node.port()};
  Captured captured;
  MetricSet got = run_monitors(spec, 100ms, 1050ms, 300ms);  // base poll, then at 300, 600, 900 ms
  const Metric* mem = got.find("{freemem,\"fake1\"}");
  ASSERT_NE(mem, nullptr) << captured.log.str();
  EXPECT_GE(mem->count, 3u);
  EXPECT_LE(mem->count, 5u) << "polled at each 100 ms boundary";
}

// An SNMP agent on 127.0.0.1 (UDP, a thread) answering each GetRequest as `mode` says, with
// memAvailReal = 2000000 kB (freemem 2000) and 0 for every other OID.
enum class AgentMode { junk_first, drop_first, no_such_name };

class FakeSnmpAgent {
 public:
  explicit FakeSnmpAgent(AgentMode mode) : mode_(mode) {
    fd_ = bound_on_loopback(SOCK_DGRAM, port_);
    timeval tv{0, 50000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeSnmpAgent() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::uint16_t port() const { return port_; }
  int requests() const { return requests_; }

 private:
  static std::string tlv(int tag, const std::string& body) {
    std::string out(1, static_cast<char>(tag));
    if (body.size() >= 0x80) out += '\x81';
    return out + static_cast<char>(body.size()) + body;
  }
  static std::string integer(std::int64_t v) {  // 5 bytes: not minimal, still BER
    std::string b(1, '\0');
    for (int shift = 24; shift >= 0; shift -= 8) b += static_cast<char>((v >> shift) & 0xff);
    return tlv(0x02, b);
  }
  static std::string oid(const monitor::Oid& o) {
    std::string body;
    auto arc = [&](std::uint32_t v) {
      std::string rev(1, static_cast<char>(v & 0x7f));
      for (v >>= 7; v; v >>= 7) rev += static_cast<char>(0x80 | (v & 0x7f));
      body.append(rev.rbegin(), rev.rend());
    };
    arc(o[0] * 40 + o[1]);
    for (std::size_t i = 2; i < o.size(); ++i) arc(o[i]);
    return tlv(0x06, body);
  }
  static std::string response(std::int64_t id, const std::string& community, const monitor::SnmpResponse& request,
                              std::int64_t mem, int status = 0, int index = 0) {
    const monitor::Oid mem_oid{1, 3, 6, 1, 4, 1, 2021, 4, 6, 0};
    std::string binds;
    for (const auto& b : request.varbinds) binds += tlv(0x30, oid(b.oid) + integer(b.oid == mem_oid ? mem : 0));
    std::string pdu = integer(id) + integer(status) + integer(index) + tlv(0x30, binds);
    return tlv(0x30, integer(request.version) + tlv(0x04, community) + tlv(0xa2, pdu));
  }
  void serve() {
    char buf[4096];
    std::int64_t last_id = -1;
    while (!stop_) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      std::string request(buf, static_cast<std::size_t>(n));
      auto pdu = request.find('\xa0');  // read the GetRequest with the response decoder
      if (pdu == std::string::npos) continue;
      request[pdu] = '\xa2';
      auto r = monitor::decode_snmp_response(request);
      if (!r) continue;
      ++requests_;
      bool first = r->request_id != last_id;
      last_id = r->request_id;
      auto reply = [&](const std::string& m) {
        sendto(fd_, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      };
      switch (mode_) {
        case AgentMode::junk_first:
          reply(response(r->request_id - 1, r->community, *r, 1));        // a late answer to the previous poll
          reply(response(r->request_id, r->community + "x", *r, 2000));   // another community's
          reply(response(r->request_id, r->community, *r, 2000000));
          break;
        case AgentMode::drop_first:
          if (!first) reply(response(r->request_id, r->community, *r, 2000000));
          break;
        case AgentMode::no_such_name:
          reply(response(r->request_id, r->community, *r, 0, /*noSuchName*/ 2, /*memAvailReal*/ 3));
          break;
      }
    }
  }
  AgentMode mode_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

TEST(RemoteMonitors, SnmpPollerIgnoresLateAndForeignAnswers) {
  FakeSnmpAgent agent(AgentMode::junk_first);
  Captured captured;
  MetricSet got = run_monitors(MonitorSpec{"127.0.0.1", "snmp", agent.port()}, 200ms, 700ms);
  const Metric* mem = got.find("{freemem,\"127.0.0.1\"}");
  ASSERT_NE(mem, nullptr) << captured.log.str();
  EXPECT_GE(mem->count, 3u);
  EXPECT_EQ(mem->min, 2000) << "a wrong request-id's or community's value was taken";
  EXPECT_EQ(mem->max, 2000);
  EXPECT_EQ(captured.count("snmp monitor"), 0) << captured.log.str();
}

// <oid type="sum">: each poll's value is added to a counter, a float one when Erlang's eval gives
// a float (X / 4), an integer one otherwise (Tsung's {sum, Name, V}).
TEST(RemoteMonitors, SnmpSumOidsAddUpAsTsungsFloatsOrIntegers) {
  FakeSnmpAgent agent(AgentMode::junk_first);
  Captured captured;
  MonitorSpec spec{"127.0.0.1", "snmp", agent.port()};
  const std::vector<std::uint32_t> mem_oid{1, 3, 6, 1, 4, 1, 2021, 4, 6, 0};
  spec.oids = {SnmpOid{mem_oid, "quarter", "sum", 0.25, true}, SnmpOid{mem_oid, "whole", "sum", 1, false}};
  MetricSet got = run_monitors(spec, 200ms, 700ms);
  const Metric* mem = got.find("{freemem,\"127.0.0.1\"}");
  const Metric* quarter = got.find("{quarter,\"127.0.0.1\"}");
  const Metric* whole = got.find("{whole,\"127.0.0.1\"}");
  ASSERT_TRUE(mem && quarter && whole) << captured.log.str();
  EXPECT_EQ(quarter->kind, MetricKind::counter);
  EXPECT_TRUE(quarter->real);
  EXPECT_DOUBLE_EQ(quarter->counter_value(), 500000.0 * static_cast<double>(mem->count));
  EXPECT_FALSE(whole->real);
  EXPECT_DOUBLE_EQ(whole->counter_value(), 2000000.0 * static_cast<double>(mem->count));
}

TEST(RemoteMonitors, SnmpPollerRetransmitsALostRequestOnce) {
  FakeSnmpAgent agent(AgentMode::drop_first);
  Captured captured;
  MetricSet got = run_monitors(MonitorSpec{"127.0.0.1", "snmp", agent.port()}, 400ms, 1300ms);
  const Metric* mem = got.find("{freemem,\"127.0.0.1\"}");
  ASSERT_NE(mem, nullptr) << captured.log.str();
  EXPECT_GE(mem->count, 3u);
  EXPECT_GE(agent.requests(), 6) << "each poll sent twice";
  EXPECT_EQ(captured.count("snmp monitor"), 0) << captured.log.str();
}

TEST(RemoteMonitors, SnmpErrorStatusIsAGapNamingTheOid) {
  FakeSnmpAgent agent(AgentMode::no_such_name);
  Captured captured;
  MetricSet got = run_monitors(MonitorSpec{"127.0.0.1", "snmp", agent.port()}, 200ms, 500ms);
  EXPECT_TRUE(got.empty());
  EXPECT_GE(captured.count("snmp monitor 127.0.0.1: error-status 2 for 1.3.6.1.4.1.2021.4.6.0"), 2) << captured.log.str();
}

}  // namespace
