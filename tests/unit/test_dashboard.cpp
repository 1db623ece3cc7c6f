// The live dashboard's parts that run without a controller: the per-second series, steering
// requests (control socket lines, the rate message), and the HTTP server's limits and auth.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "control/live_series.hpp"
#include "control/local_control.hpp"
#include "control/messages.hpp"
#include "control/web_server.hpp"

using namespace loadctl;
using namespace loadctl::control;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(LiveSeries, OnePointPerSecondFromTheDeltas) {
  LiveSeries series;
  MetricSet second;
  MetricId request = second.intern("request", MetricKind::sample);
  for (int i = 1; i <= 100; ++i) second.sample(request, i);  // 1..100 ms
  second.sample(second.intern("tr_login", MetricKind::sample), 40);
  second.sample(second.intern("tr_buy", MetricKind::sample), 80);
  second.add(second.intern("users_count", MetricKind::counter), 7);
  second.add(second.intern("error_timeout", MetricKind::counter), 3);
  second.add(second.intern("200", MetricKind::counter), 97);  // not an error
  series.add(1.0, 0.5, second, 12);
  series.add(2.0, 1.0, MetricSet(), 10);
  ASSERT_EQ(series.points().size(), 2u);
  const LivePoint& p = series.points()[0];
  EXPECT_EQ(p.request.count, 100u);
  EXPECT_DOUBLE_EQ(p.request_rate, 100);  // 100 requests in 0.5 s count over 1 s: no spike at the run's end
  EXPECT_DOUBLE_EQ(p.error_rate, 3);
  EXPECT_EQ(p.users_started, 7u);
  EXPECT_EQ(p.users, 12);
  EXPECT_NEAR(p.request.p50, 50, 0.5);
  EXPECT_NEAR(p.request.p95, 95, 1);
  EXPECT_NEAR(p.request.p99, 99, 1);
  EXPECT_EQ(p.transaction.count, 2u);
  EXPECT_NEAR(p.transaction.p99, 80, 1);
  EXPECT_EQ(series.points()[1].request.count, 0u);

  series.add_event(1.5, "rate 2x (all agents)");
  std::string all = series.render_json(-1);
  EXPECT_NE(all.find("\"t\":1,\"users\":12,\"users_started\":7,\"request_rate\":100,\"error_rate\":3"), std::string::npos) << all;
  EXPECT_NE(all.find("\"events\":[{\"t\":1.5,\"text\":\"rate 2x (all agents)\"}]"), std::string::npos) << all;
  std::string later = series.render_json(1);  // since=1: the second point and the event only
  EXPECT_EQ(later.find("\"t\":1,"), std::string::npos) << later;
  EXPECT_NE(later.find("\"t\":2,\"users\":10"), std::string::npos) << later;
  EXPECT_NE(later.find("\"request\":null"), std::string::npos) << later;
  EXPECT_EQ(series.render_json(2), "{\"points\":[],\"events\":[]}\n");
}

TEST(LiveSeries, KeepsTheLastHourOnly) {
  LiveSeries series;
  for (std::size_t i = 0; i < LiveSeries::kMaxPoints + 10; ++i) series.add(static_cast<double>(i + 1), 1, MetricSet(), 0);
  EXPECT_EQ(series.points().size(), LiveSeries::kMaxPoints);
  EXPECT_EQ(series.points().front().t, 11);
}

TEST(Steering, RateRequestsOnTheControlSocket) {
  using Kind = ControlRequest::Kind;
  auto r = parse_control_request("rate 2x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Kind::rate);
  EXPECT_EQ(r->rate, 2);
  EXPECT_FALSE(r->per_second);
  // Below 1e-6 a factor's arrival gap would overflow the clock: refused (pause is the way).
  EXPECT_FALSE(parse_rate("0.0000001x"));
  EXPECT_FALSE(parse_rate("0.0000000001x"));
  ASSERT_TRUE(parse_rate("0.000001x"));
  r = parse_control_request("rate 500/s agent 3");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->per_second && r->one_agent);
  EXPECT_EQ(r->rate, 500);
  EXPECT_EQ(r->agent, 3u);
  EXPECT_EQ(parse_control_request("pause")->kind, Kind::pause);
  EXPECT_EQ(parse_control_request("resume")->kind, Kind::resume);
  for (const char* bad : {"rate", "rate ", "rate 2", "rate x", "rate 0x", "rate -1x", "rate 1001x", "rate 2000000/s",
                          "rate 2x agent", "rate 2x agent 01", "rate 2x agent x", "rate nanx", "rate 1e3x", "rate 2X",
                          "rate 2x  agent 1", "pause now", "rate 1..2x"})
    EXPECT_FALSE(parse_control_request(bad)) << bad;
  for (const char* line : {"rate 2x", "rate 0.5x", "rate 500/s agent 3", "pause", "resume", "rate 0.00001x",
                           "rate 1000000/s", "rate 0.1/s agent 999999"}) {
    auto request = parse_control_request(line);
    ASSERT_TRUE(request) << line;
    EXPECT_EQ(encode_control_request(*request), std::string(line) + "\n");
  }
}

TEST(Steering, AddAndRemoveAgentRequests) {
  using Kind = ControlRequest::Kind;
  auto r = parse_control_request("add agent 10.0.0.7:19998 ip 127.0.0.2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Kind::add_agent);
  EXPECT_EQ(r->host, "10.0.0.7:19998");
  EXPECT_EQ(r->source_ip, "127.0.0.2");
  r = parse_control_request("remove agent 12");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Kind::remove_agent);
  EXPECT_EQ(r->agent, 12u);
  for (const char* bad : {"add agent ", "add agent a b", "add agent h;rm", "add agent h ip ", "add agent h ip a/b",
                          "remove agent", "remove agent 01", "remove agent x", "add agent h\tx"})
    EXPECT_FALSE(parse_control_request(bad)) << bad;
  r = parse_control_request("launch agent localhost ip 127.0.0.3");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->launch);
  EXPECT_EQ(r->host, "localhost");
  EXPECT_FALSE(parse_control_request("add agent h")->launch);
  // An ssh option through `add-agent --launch` (plain_host): refused, host or ip.
  for (const char* bad : {"launch agent -oProxyCommand=x", "add agent -h", "add agent h ip -1"})
    EXPECT_FALSE(parse_control_request(bad)) << bad;
  // A cloud host name (up to 253 characters) fits a request line; one character more than
  // kMaxAgentHost does not.
  std::string name = std::string(kMaxAgentHost - 6, 'a') + ":19998";
  std::string line = "launch agent " + name + " ip 2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff";
  ASSERT_TRUE(parse_control_request(line));
  EXPECT_LT(encode_control_request(*parse_control_request(line)).size(), kMaxControlRequest);
  EXPECT_EQ(scan_control_request(line + "\n").result, RequestScan::Result::complete);
  EXPECT_FALSE(parse_control_request("add agent a" + name));
  for (const char* line : {"add agent host-1.example", "add agent [::1]:19998 ip ::1", "remove agent 3",
                           "launch agent gen2.example"}) {
    auto request = parse_control_request(line);
    ASSERT_TRUE(request) << line;
    EXPECT_EQ(encode_control_request(*request), std::string(line) + "\n");
  }
}

TEST(Steering, RateMessage) {
  EXPECT_EQ(decode_rate(encode_rate(2.5)), 2.5);
  EXPECT_EQ(decode_rate(encode_rate(0)), 0);
  EXPECT_FALSE(decode_rate(encode_text("-1")));
  EXPECT_FALSE(decode_rate(encode_text("nan")));
  EXPECT_FALSE(decode_rate(encode_text("2x")));
  EXPECT_FALSE(decode_rate(encode_text("")));
}

// A WebServer on 127.0.0.1:0 in its own thread; requests through blocking sockets.
class WebServerTest : public ::testing::Test {
 protected:
  void start(std::string token, WebServer::Limits limits = {}, bool open_reads = false) {
    server_ = std::make_unique<WebServer>(
        ctx_,
        [this](const WebRequest& r) {
          ++handled_;
          return WebResponse{200, "text/plain", std::string(r.post ? "post " : "get ") + std::string(r.path) + "?" +
                                                    std::string(r.query) + " " + std::string(r.body)};
        },
        limits);
    ASSERT_FALSE(server_->open(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), std::move(token), open_reads));
    port_ = server_->local_endpoint().port();
    thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(ctx_);
      ctx_.run();
    });
  }
  void TearDown() override {
    asio::post(ctx_, [this] {
      server_->close();
      ctx_.stop();
    });
    if (thread_.joinable()) thread_.join();
  }
  tcp::socket connect() {
    tcp::socket s(client_ctx_);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    return s;
  }
  // Sends `request` and reads the answer until the server closes (Connection: close) or 2 s.
  std::string exchange(const std::string& request) {
    tcp::socket s = connect();
    asio::write(s, asio::buffer(request));
    timeval limit{2, 0};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    std::string answer;
    char buf[4096];
    boost::system::error_code ec;
    while (std::size_t n = s.read_some(asio::buffer(buf), ec)) answer.append(buf, n);
    return answer;
  }
  static std::string get(const std::string& target, const std::string& headers = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + "\r\n";
  }

  asio::io_context ctx_, client_ctx_;
  std::unique_ptr<WebServer> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::atomic<int> handled_{0};
};

namespace {
const std::string kWebToken = "0123456789abcdef0123456789abcdef";
}  // namespace

TEST_F(WebServerTest, LoopbackReadsWithoutTokenChangesWithToken) {
  start(kWebToken, {}, true);
  EXPECT_TRUE(exchange(get("/api/status?x=1")).starts_with("HTTP/1.1 200")) << exchange(get("/api/status"));
  EXPECT_NE(exchange(get("/api/status?x=1")).find("get /api/status?x=1"), std::string::npos);
  // DNS rebinding: a page of evil.example resolved to 127.0.0.1 sends its own name.
  std::string rebound = "GET / HTTP/1.1\r\nHost: evil.example:8091\r\nConnection: close\r\n\r\n";
  EXPECT_TRUE(exchange(rebound).starts_with("HTTP/1.1 403"));
  for (const char* host : {"localhost:8091", "[::1]:8091", "127.0.0.1", "127.1.2.3:1"}) {
    std::string r = std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\nConnection: close\r\n\r\n";
    EXPECT_TRUE(exchange(r).starts_with("HTTP/1.1 200")) << host;
  }
  int before = handled_;
  // Another local user (no token) cannot stop or steer the run, even with X-Loadctl.
  std::string bare = "POST /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Loadctl: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  EXPECT_TRUE(exchange(bare).starts_with("HTTP/1.1 401")) << exchange(bare);
  std::string wrong = "POST /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Loadctl: 1\r\nAuthorization: Bearer " + kWebToken +
                      "0\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  EXPECT_TRUE(exchange(wrong).starts_with("HTTP/1.1 401"));
  // A cross-site form cannot add X-Loadctl: its POST is refused before the handler (the cookie is sent).
  std::string form = "POST /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: loadctl_token_" + std::to_string(port_) + "=" +
                     kWebToken + "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  EXPECT_TRUE(exchange(form).starts_with("HTTP/1.1 403"));
  EXPECT_EQ(handled_, before);
  std::string post = "POST /api/rate?value=2x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Loadctl: 1\r\nAuthorization: bEaReR " + kWebToken +
                     "\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbody";
  EXPECT_NE(exchange(post).find("post /api/rate?value=2x body"), std::string::npos);
  std::string by_cookie = "POST /api/pause HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Loadctl: 1\r\nCookie: loadctl_token_" +
                          std::to_string(port_) + "=" + kWebToken + "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  EXPECT_NE(exchange(by_cookie).find("post /api/pause"), std::string::npos);
  // Another port's cookie is not this dashboard's.
  std::string other_port = "POST /api/pause HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Loadctl: 1\r\nCookie: loadctl_token_1=" + kWebToken +
                           "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  EXPECT_TRUE(exchange(other_port).starts_with("HTTP/1.1 401"));
}

TEST_F(WebServerTest, RedirectAfterTokenStaysOnTheSite) {
  start(kWebToken);
  for (const char* target : {"//evil.example/", "/\\evil.example/", "///evil.example/"}) {
    std::string answer = exchange(get(std::string(target) + "?token=" + kWebToken));
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 303")) << answer;
    EXPECT_NE(answer.find("Location: /evil.example/\r\n"), std::string::npos) << target << "\n" << answer;
  }
}

TEST(QueryValue, PercentDecodedAndBounded) {
  EXPECT_EQ(query_value("value=500%2Fs&agent=1", "value"), std::optional<std::string>("500/s"));
  EXPECT_EQ(query_value("a=1&value=%32x", "value"), std::optional<std::string>("2x"));
  EXPECT_EQ(query_value("a=1", "value"), std::optional<std::string>(""));
  EXPECT_EQ(query_value("value=1e+3", "value"), std::optional<std::string>("1e+3"));
  EXPECT_FALSE(query_value("value=5%2", "value"));
  EXPECT_FALSE(query_value("value=5%", "value"));
  EXPECT_FALSE(query_value("value=%zz", "value"));
  EXPECT_EQ(percent_decode("%41%62c"), std::optional<std::string>("Abc"));
}

TEST_F(WebServerTest, TokenAsBearerQueryOnceThenCookie) {
  start(kWebToken);
  int before = handled_;
  EXPECT_TRUE(exchange(get("/api/status")).starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(exchange(get("/api/status", "Authorization: Bearer wrong\r\n")).starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(exchange(get("/api/status?token=" + kWebToken + "x")).starts_with("HTTP/1.1 401"));
  EXPECT_EQ(handled_, before);  // nothing reached the handler
  EXPECT_TRUE(exchange(get("/api/status", "Authorization: Bearer " + kWebToken + "\r\n")).starts_with("HTTP/1.1 200"));
  std::string redirect = exchange(get("/?a=1&token=" + kWebToken));
  EXPECT_TRUE(redirect.starts_with("HTTP/1.1 303")) << redirect;
  EXPECT_NE(redirect.find("Location: /?a=1\r\n"), std::string::npos) << redirect;
  EXPECT_NE(redirect.find("Set-Cookie: loadctl_token_" + std::to_string(port_) + "=" + kWebToken + "; Path=/; HttpOnly; SameSite=Strict"),
            std::string::npos) << redirect;
  EXPECT_TRUE(exchange(get("/", "Cookie: a=b; loadctl_token_" + std::to_string(port_) + "=" + kWebToken + "\r\n")).starts_with("HTTP/1.1 200"));
  // With a token, any Host is fine (a non-loopback bind is reached by name).
  std::string named = "GET / HTTP/1.1\r\nHost: loadhost:8091\r\nAuthorization: Bearer " + kWebToken + "\r\nConnection: close\r\n\r\n";
  EXPECT_TRUE(exchange(named).starts_with("HTTP/1.1 200"));
}

TEST_F(WebServerTest, OversizedRequestsAreRefused) {
  start(kWebToken);
  int before = handled_;
  std::string big_header = get("/", "X-Big: " + std::string(WebServer::kMaxHeader, 'a') + "\r\n");
  EXPECT_TRUE(exchange(big_header).starts_with("HTTP/1.1 431"));
  // An unauthenticated body is never read: refused on its header, its body never sent.
  std::string post = "POST /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Loadctl: 1\r\nConnection: close\r\n"
                     "Content-Length: 1000\r\n\r\n";
  EXPECT_TRUE(exchange(post).starts_with("HTTP/1.1 401"));
  // A body announced beyond the limit is refused on its Content-Length, authorised or not.
  std::string body(WebServer::kMaxBody * 4, 'b');
  std::string announced = "POST /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Loadctl: 1\r\nConnection: close\r\n"
                          "Content-Length: 100000000\r\n\r\n";
  EXPECT_TRUE(exchange(announced).starts_with("HTTP/1.1 413"));
  std::string authed = "POST /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Loadctl: 1\r\nAuthorization: Bearer " + kWebToken +
                       "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_TRUE(exchange(authed).starts_with("HTTP/1.1 413"));
  EXPECT_EQ(handled_, before);
  EXPECT_TRUE(exchange("NONSENSE\r\n\r\n").starts_with("HTTP/1.1 400"));
}

TEST_F(WebServerTest, ConnectionsAreCappedAndSlowClientsTimedOut) {
  WebServer::Limits limits;
  limits.connections = 4;
  limits.read_timeout = std::chrono::milliseconds(300);
  start(kWebToken, limits, true);
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(connect());  // hold every slot, send nothing
  for (int i = 0; i < 100 && server_->connections() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server_->connections(), 4u);
  // A fifth is closed at once, unanswered.
  EXPECT_EQ(exchange(get("/")), "");
  // The silent ones are closed after the read timeout; then the server answers again.
  auto start_wait = std::chrono::steady_clock::now();
  for (int i = 0; i < 300 && server_->connections() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server_->connections(), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start_wait, std::chrono::seconds(2));
  EXPECT_TRUE(exchange(get("/")).starts_with("HTTP/1.1 200"));
  // A client that trickles its header byte by byte is cut at the same timeout.
  tcp::socket slow = connect();
  std::string request = get("/");
  boost::system::error_code ec;
  auto began = std::chrono::steady_clock::now();
  for (char c : request) {
    asio::write(slow, asio::buffer(&c, 1), ec);
    if (ec) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::chrono::steady_clock::now() - began > std::chrono::seconds(3)) break;
  }
  char buf[256];
  timeval limit{1, 0};
  setsockopt(slow.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::size_t n = slow.read_some(asio::buffer(buf), ec);
  EXPECT_FALSE(n > 0 && std::string(buf, n).starts_with("HTTP/1.1 200")) << "a 2.5 s trickle got an answer";
}
