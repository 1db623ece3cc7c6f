// The engine's second lane of a connection (ConnectionServices::send_on, Connection::on_lane_data
// and on_lane_closed), end to end through a real Engine: a test plugin (ts_lane) sends each
// request's line on the connection and on lane 1; a line server answers each line on the socket
// it came from ("L0 n" -> "0:n", "L1 n" -> "1:n") and closes the socket that sends "CLOSE".
// The request completes once both answers came back, each through the hook of its own lane.

#include <gtest/gtest.h>

#include <malloc.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <sstream>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include "engine/engine.hpp"
#include "loadctl/connection.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/xml_reader.hpp"
#include "support/dump_capture.hpp"
#include "support/metric_total.hpp"
#include "support/test_cert.hpp"

namespace loadctl {
namespace {

namespace asio = boost::asio;
using loadctl::test::metric_total;

class LaneRequest final : public RequestSpec {
 public:
  explicit LaneRequest(std::string data) : data(std::move(data)) {}
  void encode(const EncodeContext&, std::string&) const override {}
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo&) const override {
    return {ParseStatus::error, 0};
  }
  std::string describe() const override { return data; }
  std::string data;  ///< "n": a line on both lanes; "close": lane 1 asks the server to close it
};

class LaneConnection final : public Connection {
 public:
  bool on_open(ConnectionServices& s) override {
    lane_data_ = s.metric("lane_data", ConnMetricKind::counter);
    lane_closed_ = s.metric("lane_closed", ConnMetricKind::counter);
    return false;
  }
  bool reopens_lane0() const override { return true; }
  void encode(ConnectionServices& s, const RequestSpec& request, const EncodeContext&, std::string& out) override {
    const auto& r = static_cast<const LaneRequest&>(request);
    got0_ = got1_ = false;
    retry_ = r.data == "retry";
    if (r.data == "close") {
      s.send_on(1, "CLOSE\n");
      return;
    }
    if (r.data == "close0") {  // the connection's own socket, lane 0 (reopens_lane0)
      s.send_on(0, "CLOSE\n");
      return;
    }
    if (retry_) {  // lane 1 once the connection answered (after the server stopped accepting)
      out += "L0 retry\n";
      return;
    }
    out += "L0 " + r.data + "\n";
    s.send_on(1, "L1 " + (big(r) ? kBig : r.data) + "\n");
  }
  /// "big", "starttls" (lane 0 then upgrades to TLS): lane 1's line (and its answer) is kBig.
  static bool big(const LaneRequest& r) { return r.data == "big" || r.data == "starttls"; }
  /// "big": lane 1's line (and so its answer) is this long.
  static inline const std::string kBig = std::string(64 * 1024, 'x');
  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override {
    return answer(s, '0', got0_, pending, data, info);
  }
  ConnResult on_lane_data(ConnectionServices& s, unsigned lane, const RequestSpec* pending, std::span<const char> data,
                          ResponseInfo& info) override {
    if (lane != 1) {
      info.error = "bad_lane";
      return {data.size(), ConnEvent::fatal};
    }
    s.count(lane_data_);
    return answer(s, '1', got1_, pending, data, info);
  }
  ConnEvent on_lane_closed(ConnectionServices& s, unsigned lane, const RequestSpec* pending, bool eof,
                           ResponseInfo& info) override {
    s.count(lane_closed_);
    auto* r = static_cast<const LaneRequest*>(pending);
    if (lane == 1 && eof && r && r->data == "close") return ConnEvent::complete;
    if (lane == 0 && eof && r && r->data == "close0") return ConnEvent::complete;
    if (lane == 1 && !eof && retry_) {  // a plugin that retries from here: bounded by max_retries
      s.send_on(1, "L1 retry\n");
      return ConnEvent::none;
    }
    info.error = "unexpected_lane_close";
    return ConnEvent::fatal;
  }

 private:
  ConnResult answer(ConnectionServices& s, char lane, bool& got, const RequestSpec* pending, std::span<const char> data, ResponseInfo& info) {
    std::string_view text(data.data(), data.size());
    auto eol = text.find('\n');
    if (eol == std::string_view::npos) return {0, ConnEvent::none};
    auto* r = static_cast<const LaneRequest*>(pending);
    if (r && r->data == "end") {  // the user ends while lane 1 connects, handshakes or reads
      info.error = "ended";
      return {eol + 1, ConnEvent::fatal};
    }
    if (!r || text.substr(0, eol) != std::string{lane, ':'} + (big(*r) && lane == '1' ? kBig : r->data)) {
      info.error = "lane_mismatch";
      return {eol + 1, ConnEvent::fatal};
    }
    got = true;
    if (retry_ && lane == '0') s.send_on(1, "L1 retry\n");
    if (lane == '0' && r->data == "starttls") s.start_tls();
    return {eol + 1, got0_ && got1_ ? ConnEvent::complete : ConnEvent::none};
  }
  ConnMetric lane_data_ = 0, lane_closed_ = 0;
  bool got0_ = false, got1_ = false, retry_ = false;
};

class LaneProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "lane"; }
  std::string_view session_type() const override { return "ts_lane"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext&) const override {
    XmlElement el(element);
    std::string data = el.required("data");
    el.finish();
    return std::make_shared<LaneRequest>(data);
  }
  bool connection_level() const override { return true; }
  std::unique_ptr<Connection> open_connection(const ConnectionContext&) const override {
    return std::make_unique<LaneConnection>();
  }
  std::shared_ptr<const ProtocolOptions> parse_options(std::span<const pugi::xml_node>) const override { return nullptr; }
};

// Answers each line on its own socket (over TLS when given a certificate), one thread per
// connection; counts the connections and records their source ports. Connections after the
// first `answered` are accepted and read but get no answer (nor TLS handshake); after
// `accepts` connections the listening socket closes (later connects are refused).
class LaneServer {
 public:
  explicit LaneServer(const std::string& cert_dir = "", int answered = 1 << 30, int accepts = 1 << 30)
      : acceptor_(io_) {
    if (!cert_dir.empty()) {
      tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      tls_->use_certificate_chain_file(cert_dir + "/cert.pem");
      tls_->use_private_key_file(cert_dir + "/key.pem", asio::ssl::context::pem);
    }
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, answered, accepts] {
      for (;;) {
        auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
        boost::system::error_code ec;
        acceptor_.accept(*socket, ec);
        if (ec) return;
        int index = ++accepted;
        {
          std::lock_guard lock(mutex_);
          ports.push_back(socket->remote_endpoint(ec).port());
        }
        if (index >= accepts) acceptor_.close(ec);  // before this connection's first answer
        threads_.emplace_back([this, socket, index, stall = index > answered] {
          if (stall) {
            char sink[512];
            boost::system::error_code read_ec;
            while (!read_ec) socket->read_some(asio::buffer(sink), read_ec);
            return;
          }
          if (!tls_ || starttls_delay_ms > 0) {
            answer_lines(*socket, *socket);
            return;
          }
          asio::ssl::stream<asio::ip::tcp::socket&> stream(*socket, *tls_);
          boost::system::error_code ec;
          stream.handshake(asio::ssl::stream_base::server, ec);
          if (ec) return;
          if (SSL_session_reused(stream.native_handle()) && index < 8) resumed[index] = true;
          answer_lines(stream, *socket);
        });
        if (index >= accepts) return;
      }
    });
  }
  ~LaneServer() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
    for (auto& t : threads_) t.join();
  }
  std::uint16_t port() const { return port_; }
  std::atomic<int> accepted{0};
  std::array<std::atomic<bool>, 8> resumed{};  ///< by accept order (1...): the TLS handshake resumed
  std::vector<std::uint16_t> ports;  ///< source ports of the accepted connections
  std::atomic<int> answers{0};       ///< lines answered, on every socket
  /// > 0: connections start plain; "L0 starttls" is answered, then (after this many ms) the
  /// server's TLS handshake on that socket (set before the first connect).
  std::atomic<int> starttls_delay_ms{0};

 private:
  template <class Stream>
  void answer_lines(Stream& stream, asio::ip::tcp::socket& socket) {
    std::string buffer;
    boost::system::error_code ec;
    for (;;) {
      std::size_t n = asio::read_until(stream, asio::dynamic_buffer(buffer), '\n', ec);
      if (ec) return;
      std::string line = buffer.substr(0, n - 1);
      buffer.erase(0, n);
      if (line == "CLOSE") {
        socket.close(ec);
        return;
      }
      asio::write(stream, asio::buffer(line.substr(1, 1) + ":" + line.substr(3) + "\n"), ec);
      ++answers;
      if constexpr (std::is_same_v<Stream, asio::ip::tcp::socket>) {
        if (line == "L0 starttls" && tls_) {
          std::this_thread::sleep_for(std::chrono::milliseconds(starttls_delay_ms.load()));
          asio::ssl::stream<asio::ip::tcp::socket&> tls(socket, *tls_);
          tls.handshake(asio::ssl::stream_base::server, ec);
          if (!ec) answer_lines(tls, socket);
          return;
        }
      }
    }
  }

  asio::io_context io_;
  std::mutex mutex_;
  std::unique_ptr<asio::ssl::context> tls_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::vector<std::thread> threads_;
};

// Not test::run_engine: `while_running` runs right after the start, before the 20 s bound begins.
MetricSet run_scenario(LaneServer& server, const char* server_type, int users, const std::string& options,
                       const std::string& requests, const std::string& tsung_attributes = "",
                       const std::function<void()>& while_running = {}) {
  ProtocolRegistry registry;
  registry.add(std::make_unique<LaneProtocol>());
  std::string xml = R"(<?xml version="1.0"?><tsung )" + tsung_attributes + R"(>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port=")" + std::to_string(server.port()) + R"(" type=")" + server_type + R"("/></servers>
    <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber=")" + std::to_string(users) +
                    R"(" arrivalrate="20" unit="second"/></arrivalphase></load><options>)" + options +
                    R"(</options><sessions><session name="lane" probability="100" type="ts_lane">)" + requests +
                    "</session></sessions></tsung>";
  Scenario scenario = load_scenario_text(xml, "lane.xml", registry);
  std::vector<AgentPlan> plans = plan_run(scenario, plan_slots(scenario), 1);
  MetricSet m;
  EXPECT_EQ(plans.size(), 1u);
  if (plans.size() != 1) return m;
  engine::Engine engine(scenario, plans.at(0), 1);
  engine.start(engine::Clock::now());
  if (while_running) while_running();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!engine.done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(engine.done());
  engine.stop();
  engine.join();
  engine.collect(m);
  return m;
}

// Two users, each: a line on both lanes, again, lane 1 closed by the server, a line on both.
void run_lanes(LaneServer& server, const char* server_type, const std::string& options = "") {
  MetricSet m = run_scenario(server, server_type, 2, options, R"(
      <request><lane data="1"/></request>
      <thinktime value="0.1"/>
      <request><lane data="2"/></request>
      <request><lane data="close"/></request>
      <request><lane data="3"/></request>)");
  for (const auto& [name, metric] : m.sorted())
    EXPECT_FALSE(name.starts_with("error_")) << name << " = " << metric->count;
  EXPECT_EQ(metric_total(m, "finish_users_count"), 2u);
  EXPECT_EQ(metric_total(m, "request"), 2u * 4);
  EXPECT_EQ(metric_total(m, "lane_data"), 2u * 3);    // one answer on lane 1 per line request
  EXPECT_EQ(metric_total(m, "lane_closed"), 2u * 1);  // the server closed lane 1 once per user
  // Per user: its connection, lane 1 at the first request, lane 1 again after the close.
  EXPECT_EQ(server.accepted.load(), 2 * 3);
}

TEST(ConnectionLane, SecondSocketConnectsLazilyAndReconnectsAfterClose) {
  LaneServer server;
  run_lanes(server, "tcp");
}

TEST(ConnectionLane, SecondSocketOfTlsConnectionIsTls) {
  test::TestCert cert;
  LaneServer server(cert.dir);
  run_lanes(server, "ssl");
}

}  // namespace
}  // namespace loadctl

namespace loadctl {
namespace {

// Lane 1 is set up as the connection: ports_range (and <ip>, tcp_reuseaddr, buffer sizes).
TEST(ConnectionLane, SecondSocketUsesTheConnectionsSourcePorts) {
  LaneServer server;
  run_lanes(server, "tcp", R"(<option name="ports_range" min="47100" max="47299"/>)");
  ASSERT_EQ(server.ports.size(), 6u);
  for (std::uint16_t port : server.ports) {
    EXPECT_GE(port, 47100);
    EXPECT_LE(port, 47299);
  }
}

// A lane whose TLS handshake never ends: connect_timeout (error_connect_timeout), the plugin
// told (here it ends the user).
TEST(ConnectionLane, SecondSocketHandshakeIsBoundedByConnectTimeout) {
  test::TestCert cert;
  LaneServer server(cert.dir, 1);
  MetricSet m = run_scenario(server, "ssl", 1, R"(<option name="connect_timeout" value="300"/>)",
                             R"(<request><lane data="1"/></request>)");
  EXPECT_EQ(metric_total(m, "error_connect_timeout"), 1u);
  EXPECT_EQ(metric_total(m, "error_unexpected_lane_close"), 1u);
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
}

// Lane 0 (the connection's socket) closed by the server, for a plugin that reopens it: the plugin
// told (on_lane_closed(0)), the connection kept, the next request's bytes on a new socket.
TEST(ConnectionLane, ConnectionsSocketReopensAsLaneZero) {
  for (const char* type : {"tcp", "ssl"}) {
    test::TestCert cert;
    LaneServer server(std::string(type) == "ssl" ? cert.dir : "");
    MetricSet m = run_scenario(server, type, 2, "", R"(
        <request><lane data="1"/></request>
        <request><lane data="close0"/></request>
        <request><lane data="2"/></request>
        <thinktime value="0.3"/>
        <request><lane data="3"/></request>)");
    for (const auto& [name, metric] : m.sorted())
      EXPECT_FALSE(name.starts_with("error_")) << type << " " << name << " = " << metric->count;
    EXPECT_EQ(metric_total(m, "finish_users_count"), 2u) << type;
    EXPECT_EQ(metric_total(m, "request"), 2u * 4) << type;
    EXPECT_EQ(metric_total(m, "lane_closed"), 2u * 1) << type;
    EXPECT_EQ(server.accepted.load(), 2 * 3) << type;  // connection, lane 1, lane 0 again
  }
}

// A TLS lane closed by the server is retired clean: the session it shares with the connection
// stays resumable once the stream is freed (a sweep later), as retire_tls keeps it.
TEST(ConnectionLane, ClosedTlsLaneKeepsTheSessionResumable) {
  test::TestCert cert;
  LaneServer server(cert.dir);
  MetricSet m = run_scenario(server, "ssl", 1, "", R"(
      <request><lane data="1"/></request>
      <request><lane data="close"/></request>
      <thinktime value="0.6"/>
      <request><lane data="2"/></request>)");
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
  EXPECT_EQ(server.accepted.load(), 3);
  // (the first lane may come before the connection's TLS 1.3 ticket: not asserted)
  EXPECT_TRUE(server.resumed[3].load());
}

// A refused lane: error_connect_econnrefused each time; a plugin reconnecting from
// on_lane_closed is bounded by max_retries (then error_abort_max_conn_retries ends the user).
TEST(ConnectionLane, RefusedSecondSocketCountsAndBoundsRetries) {
  LaneServer server("", 1 << 30, 1);
  MetricSet m = run_scenario(server, "tcp", 1,
                             R"(<option name="max_retries" value="2"/><option name="retry_timeout" value="10"/>)",
                             R"(<request><lane data="retry"/></request>)");
  EXPECT_EQ(metric_total(m, "error_connect_econnrefused"), 3u);
  EXPECT_EQ(metric_total(m, "error_abort_max_conn_retries"), 1u);
  EXPECT_EQ(metric_total(m, "lane_closed"), 2u);
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
}

// The user ends (a fatal answer on the connection) while lane 1 connects/handshakes (TLS) or
// reads (TCP): its completions find the lane retired (ASan runs this too).
TEST(ConnectionLane, UserEndsWhileSecondSocketIsBusy) {
  for (const char* type : {"tcp", "ssl"}) {
    test::TestCert cert;
    LaneServer server(std::string(type) == "ssl" ? cert.dir : "", 1);
    MetricSet m = run_scenario(server, type, 1, "", R"(<request><lane data="end"/></request>)");
    EXPECT_EQ(metric_total(m, "error_ended"), 1u) << type;
    EXPECT_EQ(metric_total(m, "finish_users_count"), 1u) << type;
    EXPECT_EQ(server.accepted.load(), 2) << type;
  }
}

// rate_limit applies to lane 1 as to the connection's socket (one bucket): lane 1's 64 KiB
// answer at 64 KB/s with a 16 KB burst is read in at least (64 - 16 - 16) / 64 = 0.5 s (the
// last read's debt is not waited for; read sizes vary); unlimited, on loopback, in a few ms.
TEST(ConnectionLane, RateLimitAppliesToTheSecondSocket) {
  LaneServer server;
  MetricSet m = run_scenario(server, "tcp", 1, R"(<option name="rate_limit" value="64" max="16"/>)",
                             R"(<request><lane data="big"/></request>)");
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
  const Metric* request = m.find("request");
  ASSERT_TRUE(request && request->count == 1);
  EXPECT_GE(request->max, 450.0) << "lane 1's bytes were not limited";
}

// A lane's rate_limit wait that ends while the connection's STARTTLS handshake is in flight
// (the server holds its handshake 1.5 s; lane 1's 64 KiB answer at 64 KB/s waits ~0.5 s): the
// wake-up's read waits for the handshake, instead of ending the user as a second STARTTLS.
TEST(ConnectionLane, RateLimitWakeDuringStartTlsWaitsForTheHandshake) {
  test::TestCert cert;
  LaneServer server(cert.dir);
  server.starttls_delay_ms = 1500;
  MetricSet m = run_scenario(server, "tcp", 1, R"(<option name="rate_limit" value="64" max="16"/>)",
                             R"(<request><lane data="starttls"/></request><request><lane data="1"/></request>)");
  for (const auto& [name, metric] : m.sorted())
    EXPECT_FALSE(name.starts_with("error_")) << name << " = " << metric->count;
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
  EXPECT_EQ(metric_total(m, "request"), 2u);  // the second over TLS on lane 0
}

// dumptraffic="true": what goes on lane 1 and comes back on it is dumped as the connection's
// traffic is (Send/Recv lines of tsung.dump, through the agent's log).
TEST(ConnectionLane, DumptrafficShowsTheSecondSocket) {
  test::DumpCapture dump;
  LaneServer server;
  MetricSet m = run_scenario(server, "tcp", 1, "", R"(<request><lane data="7"/></request>)", R"(dumptraffic="true")");
  dump.restore();
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
  EXPECT_EQ(dump.count("tsung.dump: Send:", ":L0 7\\n"), 1u) << dump.text();  // send_on(0): once
  EXPECT_TRUE(dump.has("tsung.dump: Send:", ":L1 7\\n")) << dump.text();
  EXPECT_TRUE(dump.has("tsung.dump: Recv:", ":0:7\\n")) << dump.text();
  EXPECT_TRUE(dump.has("tsung.dump: Recv:", ":1:7\\n")) << dump.text();
}

// A plain lane reads into the worker's buffer as the connection's socket does: users idle after
// an answer on lane 1 hold no 16 KiB receive buffer each. Measured as heap in use (mallinfo2,
// every thread on the main arena: ctest runs each test in a process of its own) while the users
// think, for 10 then 20 users after a first run: the slope is the cost of one more user (the
// engine's and the test server's fixed costs cancel out; the server's threads cost some per
// connection).
TEST(ConnectionLane, IdlePlainSecondSocketHoldsNoReceiveBuffer) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define LOADCTL_TEST_OTHER_ALLOCATOR 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(LOADCTL_TEST_OTHER_ALLOCATOR)
  GTEST_SKIP() << "the sanitizer's allocator is not malloc's";
#else
  mallopt(M_ARENA_MAX, 1);
  auto heap_while_idle = [](int users) {
    LaneServer server;
    std::size_t before = mallinfo2().uordblks, most = 0;
    MetricSet m = run_scenario(server, "tcp", users, "", R"(<request><lane data="1"/></request><thinktime value="2"/>)",
                               "", [&] {
                                 auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
                                 while (server.answers.load() < 2 * users && std::chrono::steady_clock::now() < deadline)
                                   std::this_thread::sleep_for(std::chrono::milliseconds(10));
                                 for (int i = 0; i < 20; ++i) {  // the users think: sample while they do
                                   std::this_thread::sleep_for(std::chrono::milliseconds(20));
                                   most = std::max(most, mallinfo2().uordblks);
                                 }
                               });
    EXPECT_EQ(server.answers.load(), 2 * users);
    EXPECT_EQ(metric_total(m, "finish_users_count"), static_cast<std::uint64_t>(users));
    return static_cast<double>(most) - static_cast<double>(before);
  };
  heap_while_idle(5);  // what stays allocated after the first run (caches, thread-locals) is not per user
  double ten = heap_while_idle(10), twenty = heap_while_idle(20);  // the phase: 1 s at 20 a second
  double per_user = (twenty - ten) / 10;
  std::printf("heap per idle user with lane 1 open: %.0f bytes (10 users: %.0f, 20: %.0f)\n", per_user, ten, twenty);
  EXPECT_LT(per_user, 12.0 * 1024) << "heap per idle user with lane 1 open";
#endif
}

}  // namespace
}  // namespace loadctl
