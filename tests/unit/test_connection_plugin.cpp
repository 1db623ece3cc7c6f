// The connection-level plugin interface, end to end through a real Engine: a test plugin
// (ts_push, not a shipped protocol) against an in-process line server that pushes messages while
// the user thinks and upgrades to TLS on "STARTTLS".
//   client: "REQ n"      server: "R:n", then 50 ms later "P:1" "P:2" (pushed during the thinktime)
//   client: "STARTTLS"   server: "OK", then a TLS handshake; the same protocol goes on over TLS
//   client: "BAD n"      server: "R:x" (a mismatch: the plugin fails the request), then pushes
// Replies come in two writes ("R:", then the rest 20 ms later), so that the engine keeps a rest
// between reads. A request with die="true" sends nothing: the plugin counts error_died and its
// timer ends the user (ConnEvent::fatal_counted). "END n": on the answer, the plugin queues
// "ACK" and "BYE" (the server records them, answers nothing) and ends the user (fatal).
// "DROP": the server closes without an answer; "LAST n": it answers "R: n", then closes.

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include "engine/engine.hpp"
#include "loadctl/connection.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"
#include "support/dump_capture.hpp"
#include "support/local_engine.hpp"
#include "support/metric_total.hpp"
#include "support/test_cert.hpp"

namespace loadctl {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using loadctl::test::metric_total;

// <option type="ts_push" name="push_metric" value="..."/>: the name pushed messages are counted
// under (default "push_msg"); exercises Protocol::parse_options end to end.
struct PushOptions final : ProtocolOptions {
  std::string push_metric = "push_msg";
};

class PushRequest final : public RequestSpec {
 public:
  PushRequest(std::string data, bool starttls, bool die = false, bool global = false)
      : data(std::move(data)), starttls(starttls), die(die), global(global) {}
  void encode(const EncodeContext&, std::string& out) const override { out += (starttls ? "STARTTLS" : data) + "\n"; }
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo&) const override {
    return {ParseStatus::error, 0};  // never called: every byte goes to PushConnection
  }
  std::string describe() const override { return data; }
  bool global_ack() const override { return global; }
  std::string data;
  bool starttls;
  bool die;
  bool global;  ///< global="true": Tsung's ack="global", its answer is only counted (global_answer)
};

class PushConnection final : public Connection {
 public:
  explicit PushConnection(const PushOptions* options) : options_(options) {}
  bool on_open(ConnectionServices& s) override {
    pushed_ = s.metric(options_ ? options_->push_metric : "push_msg", ConnMetricKind::counter);
    tls_up_ = s.metric("tls_up", ConnMetricKind::counter);
    looped_ = s.metric("again_looped", ConnMetricKind::counter);
    return false;
  }
  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override {
    if (looping_) {  // a broken plugin: "again" for ever
      s.count(looped_);
      return {0, ConnEvent::none, true};
    }
    if (extra_completes_ > 0 && pending) {  // more answers from the line already consumed
      --extra_completes_;
      return {0, ConnEvent::complete, extra_completes_ > 0};
    }
    std::string_view text(data.data(), data.size());
    auto eol = text.find('\n');
    if (eol == std::string_view::npos) return {0, ConnEvent::none};
    std::string_view line = text.substr(0, eol);
    auto* request = static_cast<const PushRequest*>(pending);
    if (line.starts_with("P:")) {
      s.count(pushed_);  // a pushed message: the plugin's own metric, never a response
      return {eol + 1, ConnEvent::none};
    }
    if (request && request->global) {  // the engine completes it at the rendezvous' release
      s.count(s.metric("global_answer", ConnMetricKind::counter));
      return {eol + 1, ConnEvent::none};
    }
    if (request && request->starttls && line == "OK") {
      s.start_tls();
      return {eol + 1, ConnEvent::none};
    }
    if (request && request->data.starts_with("END") && line == "R:" + request->data.substr(4)) {
      s.send("ACK\n");  // e.g. an ack, then a close frame: both must reach the server
      s.send("BYE\n");
      info.error = "ended";
      return {eol + 1, ConnEvent::fatal};
    }
    if (request && line == "R:LOOP") {
      looping_ = true;
      return {eol + 1, ConnEvent::none, true};
    }
    if (request && line == "R:MULTI") {  // answers this request and the next two (sent unanswered)
      extra_completes_ = 2;
      return {eol + 1, ConnEvent::complete, true};
    }
    if (request && line == "R:" + request->data.substr(4)) {
      info.content = line.substr(2);  // matches and dyn_variables see "n", not "R:n\n"
      return {eol + 1, ConnEvent::complete};
    }
    info.error = "mismatch";
    return {eol + 1, request ? ConnEvent::failed : ConnEvent::none};
  }
  ConnEvent on_tls_ready(ConnectionServices& s) override {
    s.count(tls_up_);
    return ConnEvent::complete;
  }
  // die="true": counts its own error and ends the user from the timer (fatal_counted).
  void encode(ConnectionServices& s, const RequestSpec& request, const EncodeContext& ctx, std::string& out) override {
    const auto& push = static_cast<const PushRequest&>(request);
    if (push.die) {
      s.error("died");
      dying_ = true;
      s.set_timer(0);
    } else if (!push.data.starts_with("QUIET")) {  // QUIET: nothing sent (answered by a MULTI)
      request.encode(ctx, out);
    }
  }
  ConnEvent on_timer(ConnectionServices&) override { return dying_ ? ConnEvent::fatal_counted : ConnEvent::none; }

 private:
  const PushOptions* options_;
  ConnMetric pushed_ = 0, tls_up_ = 0, looped_ = 0;
  bool dying_ = false, looping_ = false;
  int extra_completes_ = 0;
};

class PushProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "push"; }
  std::string_view session_type() const override { return "ts_push"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext& ctx) const override {
    XmlElement el(element);
    if (el.boolean("needs_options", false) && !ctx.options) el.fail("needs_options", "no ts_push options given");
    std::string data = el.optional("data", "");
    bool starttls = el.boolean("starttls", false);
    bool die = el.boolean("die", false);
    bool global = el.boolean("global", false);
    el.finish();
    return std::make_shared<PushRequest>(data, starttls, die, global);
  }
  bool connection_level() const override { return true; }
  /// Carried as plain lines: the test only checks what the connection is told.
  std::span<const std::string_view> server_types() const override {
    static constexpr std::string_view types[] = {"websocket"};
    return types;
  }
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    last_server_type = std::string(ctx.server_type);
    last_host = std::string(ctx.host);
    last_websocket_path = ctx.carrier ? ctx.carrier->websocket_path : "";
    return std::make_unique<PushConnection>(static_cast<const PushOptions*>(ctx.options));
  }
  static inline std::string last_server_type, last_host, last_websocket_path;  // of the last connection
  std::shared_ptr<const ProtocolOptions> parse_options(std::span<const pugi::xml_node> nodes) const override {
    auto options = std::make_shared<PushOptions>();
    for (pugi::xml_node node : nodes) {
      XmlElement el(node);
      el.ignore({"type"});
      if (el.required("name") != "push_metric") el.fail("name", "unknown ts_push option");
      options->push_metric = el.required("value");
      el.finish();
    }
    return options;
  }
};

// The line server: one thread per connection, blocking I/O.
class PushServer {
 public:
  /// `client_certs`: the STARTTLS handshake asks for a client certificate and needs one.
  PushServer(const std::string& cert, const std::string& key, bool client_certs = false)
      : tls_(asio::ssl::context::tls_server), acceptor_(io_) {
    tls_.use_certificate_chain_file(cert);
    tls_.use_private_key_file(key, asio::ssl::context::pem);
    if (client_certs) {
      tls_.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      tls_.set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });  // self-signed: any
    }
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~PushServer() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes the blocking accept
    accept_thread_.join();
    for (auto& t : connections_) t.join();
  }
  std::uint16_t port() const { return port_; }
  std::atomic<int> client_certs{0};  ///< STARTTLS handshakes where the client presented a certificate
  /// The server read `line` (without its newline) within `seconds`.
  bool saw(const std::string& line, double seconds = 2) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      {
        std::lock_guard lock(seen_mutex_);
        if (std::find(seen_.begin(), seen_.end(), line) != seen_.end()) return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  void accept_loop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec) return;
      connections_.emplace_back([this, socket] { serve_connection(*socket); });
    }
  }
  template <class Stream>
  bool serve(Stream& stream, std::string& buffer, bool& starttls) {
    boost::system::error_code ec;
    for (;;) {
      std::size_t n = asio::read_until(stream, asio::dynamic_buffer(buffer), '\n', ec);
      if (ec) return false;
      std::string line = buffer.substr(0, n - 1);
      buffer.erase(0, n);
      {
        std::lock_guard lock(seen_mutex_);
        seen_.push_back(line);
      }
      if (line == "ACK" || line == "BYE") continue;
      if (line == "DROP") return false;
      if (line.starts_with("LAST")) {
        asio::write(stream, asio::buffer("R:" + line.substr(4) + "\n"), ec);
        return false;
      }
      if (line == "STARTTLS") {
        asio::write(stream, asio::buffer(std::string("OK\n")), ec);
        starttls = true;
        return true;
      }
      std::string reply = line.starts_with("BAD") ? "x" : line.substr(4);
      asio::write(stream, asio::buffer(std::string("R:")), ec);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      asio::write(stream, asio::buffer(reply + "\n"), ec);
      if (reply == "MULTI") continue;  // nothing after it: its answers come from that line alone
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      asio::write(stream, asio::buffer(std::string("P:1\nP:2\n")), ec);
      if (ec) return false;
    }
  }
  void serve_connection(tcp::socket& socket) {
    std::string buffer;
    bool starttls = false;
    if (!serve(socket, buffer, starttls) || !starttls) return;
    asio::ssl::stream<tcp::socket&> tls(socket, tls_);
    boost::system::error_code ec;
    tls.handshake(asio::ssl::stream_base::server, ec);
    if (ec) return;
    if (SSL_get0_peer_certificate(tls.native_handle())) ++client_certs;
    serve(tls, buffer, starttls);
  }

  asio::io_context io_;
  asio::ssl::context tls_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> connections_;  // joined at destruction (clients close first)
  std::mutex seen_mutex_;
  std::vector<std::string> seen_;  ///< every line read, in order
};

using test::TestCert;

// Runs `body` (<load> and <sessions>) against the server on `port` with one agent of one thread;
// `tick` (when given) is called every 20 ms while it runs, playing the controller.
MetricSet run_push(std::uint16_t port, const std::string& body, const std::function<void(engine::Engine&)>& tick = {},
                   const std::string& server_type = "tcp", const std::string& tsung_attributes = "") {
  ProtocolRegistry registry;
  registry.add(std::make_unique<PushProtocol>());
  std::string xml = R"(<?xml version="1.0"?><tsung )" + tsung_attributes + R"(>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port=")" + std::to_string(port) + R"(" type=")" + server_type + R"("/></servers>
    )" + body + "</tsung>";
  return test::run_engine(load_scenario_text(xml, "push.xml", registry), tick);
}

TEST(ConnectionPlugin, PushedMessagesAreCountedAndStartTlsUpgrades) {
  TestCert cert;
  {
    PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
    MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="3" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push" bidi="true">
        <request><push data="REQ 1"/></request>
        <thinktime value="0.3"/>
        <request><push data="REQ 2"/></request>
        <thinktime value="0.3"/>
        <request><push starttls="true"/></request>
        <request><push data="REQ 3"/></request>
        <thinktime value="0.3"/>
      </session></sessions>)");
    for (const auto& [name, metric] : m.sorted())
      EXPECT_FALSE(name.starts_with("error_")) << name << " = " << metric->count;
    EXPECT_EQ(metric_total(m, "finish_users_count"), 3u);
    EXPECT_EQ(metric_total(m, "request"), 3u * 4);  // REQ 1, REQ 2, STARTTLS, REQ 3
    EXPECT_EQ(metric_total(m, "push_msg"), 3u * 3 * 2);  // two pushes after each REQ, read while thinking
    EXPECT_EQ(metric_total(m, "tls_up"), 3u);
  }
}

// A request the plugin fails (ConnEvent::failed) is counted and the user goes on; the page it
// ended is not timed, and the next page's time starts at the next request, not at the failed one
// (it would then include the 1 s thinktime).
TEST(ConnectionPlugin, FailedRequestEndsItsPage) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push" bidi="true">
        <request><push data="BAD 1"/></request>
        <thinktime value="1" random="false"/>
        <request><push data="REQ 2"/></request>
      </session></sessions>)");
  EXPECT_EQ(metric_total(m, "error_mismatch"), 1u);
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
  EXPECT_EQ(metric_total(m, "request"), 1u);
  const Metric* page = m.find("page");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page->count, 1u);
  EXPECT_LT(page->max, 500.0) << "the page time spans the failed page and the thinktime";
}

// ResponseInfo::content: what a match sees is the plugin's content ("1"), not the bytes it
// consumed ("R:1\n"): neither pattern matches those.
TEST(ConnectionPlugin, MatchesSeeThePluginsContent) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push" bidi="true">
        <request><match do="continue" when="match">^1$</match><push data="REQ 1"/></request>
        <request><match do="continue" when="match">^2$</match><push data="REQ 2"/></request>
        <thinktime value="0.2"/>
      </session></sessions>)");
  EXPECT_EQ(metric_total(m, "request"), 2u);
  EXPECT_EQ(metric_total(m, "match"), 2u);
  EXPECT_EQ(metric_total(m, "nomatch"), 0u);
}

// ConnEvent::fatal_counted (here from on_timer): the user ends, with the plugin's error counted
// once and no error_protocol.
TEST(ConnectionPlugin, FatalCountedEndsTheUserWithoutASecondError) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="2" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push" bidi="true">
        <request><push data="REQ 1"/></request>
        <request><push die="true"/></request>
        <request><push data="REQ 2"/></request>
      </session></sessions>)");
  EXPECT_EQ(metric_total(m, "request"), 2u);  // REQ 1 of each user; REQ 2 never runs
  EXPECT_EQ(metric_total(m, "error_died"), 2u);
  EXPECT_EQ(metric_total(m, "error_protocol"), 0u);
}

// <session persistent>, through the plugin interface: a server close while the user thinks is
// forgotten (the next request reconnects) and one while a request waits ends that request (the
// user goes on), as Tsung's persistent sessions; with persistent="false" either is error_closed
// and the user stops there.
TEST(ConnectionPlugin, ServerClosesFollowThePersistentAttribute) {
  TestCert cert;
  auto session = [](const std::string& attribute, const std::string& second) {
    return R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push")" + attribute + R"(>
        <request><push data="REQ 1"/></request>
        <request><push data=")" + second + R"("/></request>
        <thinktime value="0.3" random="false"/>
        <request><push data="REQ 3"/></request>
      </session></sessions>)";
  };
  for (std::string second : {"LAST 2", "DROP"}) {
    SCOPED_TRACE(second);
    bool answered = second != "DROP";
    PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
    MetricSet m = run_push(server.port(), session("", second));
    EXPECT_EQ(metric_total(m, "error_closed"), 0u);
    EXPECT_EQ(metric_total(m, "error_connection_closed"), answered ? 0u : 1u);
    EXPECT_EQ(metric_total(m, "request"), answered ? 3u : 2u);
    EXPECT_TRUE(server.saw("REQ 3"));
    PushServer server2(cert.dir + "/cert.pem", cert.dir + "/key.pem");
    m = run_push(server2.port(), session(R"( persistent="false")", second));
    EXPECT_EQ(metric_total(m, "error_closed"), 1u);
    EXPECT_EQ(metric_total(m, "error_connection_closed"), 0u);
    EXPECT_EQ(metric_total(m, "request"), answered ? 2u : 1u);
    EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
    EXPECT_FALSE(server2.saw("REQ 3", 0.5));
  }
}

// <option type="ts_push" ...>: parsed by the plugin, given to its requests and connections.
TEST(ConnectionPlugin, ProtocolOptionsReachRequestsAndConnections) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <options><option type="ts_push" name="push_metric" value="pushed_here"/></options>
      <sessions><session name="push" probability="100" type="ts_push" bidi="true">
        <request><push data="REQ 1" needs_options="true"/></request>
        <thinktime value="0.3"/>
      </session></sessions>)");
  EXPECT_EQ(metric_total(m, "request"), 1u);
  EXPECT_EQ(metric_total(m, "pushed_here"), 2u);
  EXPECT_EQ(metric_total(m, "push_msg"), 0u);
}

// A server type the plugin carries (Protocol::server_types): the engine connects over tcp and
// tells each connection the type, the server's host and Tsung's carrier options.
TEST(ConnectionPlugin, CarriedServerTypesReachTheConnection) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <options><option name="websocket_path" value="/p"/></options>
      <sessions><session name="push" probability="100" type="ts_push">
        <request><push data="REQ 1"/></request>
      </session></sessions>)", {}, "ws");
  EXPECT_EQ(metric_total(m, "request"), 1u);
  EXPECT_EQ(PushProtocol::last_server_type, "websocket");
  EXPECT_EQ(PushProtocol::last_host, "127.0.0.1");
  EXPECT_EQ(PushProtocol::last_websocket_path, "/p");
  run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push"><request><push data="REQ 1"/></request></session></sessions>)");
  EXPECT_EQ(PushProtocol::last_server_type, "");  // tcp: none
}

TEST(ConnectionPlugin, ProtocolOptionErrorsNameTheElement) {
  ProtocolRegistry registry;
  registry.add(std::make_unique<PushProtocol>());
  auto load = [&](const std::string& options) {
    std::string xml = R"(<?xml version="1.0"?><tsung>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port="1" type="tcp"/></servers>
    <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="1" unit="second"/></arrivalphase></load>
    <options>)" + options + R"(</options>
    <sessions><session name="push" probability="100" type="ts_push"><request><push data="x"/></request></session></sessions>
    </tsung>)";
    return load_scenario_text(xml, "push.xml", registry);
  };
  try {
    load(R"(<option type="ts_push" name="bogus" value="1"/>)");
    FAIL() << "an unknown plugin option was accepted";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown ts_push option"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("push.xml:5:"), std::string::npos) << e.what();
  }
  try {
    load(R"(<option type="ts_nothing" name="x" value="1"/>)");
    FAIL() << "an option of a protocol nobody serves was accepted";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("not supported yet: ts_nothing option 'x'"), std::string::npos) << e.what();
  }
  Scenario s = load(R"(<option type="ts_push" name="push_metric" value="a"/><option type="ts_push" name="push_metric" value="b"/>)");
  ASSERT_EQ(s.sessions.size(), 1u);
  auto* options = dynamic_cast<const PushOptions*>(s.sessions[0].protocol_options.get());
  ASSERT_NE(options, nullptr);
  EXPECT_EQ(options->push_metric, "b");  // all of them, in document order
}

}  // namespace
}  // namespace loadctl

namespace loadctl {
namespace {

// RequestSpec::global_ack (Tsung's ack="global"): the request waits, whatever the connection
// receives, until the controller releases the rendezvous of global_number users; it is then
// complete, timed from its send. global_ack_timeout bounds the wait: error_timeout, the user ends.
TEST(ConnectionPlugin, GlobalAckWaitsForTheRelease) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  const std::string sessions = R"(
      <sessions><session name="push" probability="100" type="ts_push">
        <request><push data="REQ 1" global="true"/></request>
        <request><push data="REQ 2"/></request>
      </session></sessions>)";
  std::uint64_t arrived = 0;
  std::chrono::steady_clock::time_point all_arrived{};
  MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="2" arrivalrate="20" unit="second"/></arrivalphase></load>
      <options><option name="global_number" value="2"/><option name="idle_timeout" value="250"/></options>)" + sessions,
      [&](engine::Engine& e) {
        arrived += e.take_barrier_arrivals();
        if (arrived == 2 && all_arrived == std::chrono::steady_clock::time_point{}) all_arrived = std::chrono::steady_clock::now();
        // released 600 ms after both arrived (longer than idle_timeout: it does not apply)
        if (arrived == 2 && std::chrono::steady_clock::now() - all_arrived > std::chrono::milliseconds(600)) {
          e.release_barrier(2);
          arrived = 3;
        }
      });
  EXPECT_EQ(arrived, 3u) << "both users reached the rendezvous";
  EXPECT_EQ(metric_total(m, "global_answer"), 2u) << "the answers were read, not taken as the response";
  EXPECT_EQ(metric_total(m, "request"), 4u);
  const Metric* request = m.find("request");
  ASSERT_NE(request, nullptr);
  EXPECT_GE(request->max, 600.0) << "the global request is timed until its release";
  EXPECT_EQ(metric_total(m, "error_timeout"), 0u);
  EXPECT_EQ(metric_total(m, "finish_users_count"), 2u);

  MetricSet t = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <options><option name="global_number" value="2"/><option name="global_ack_timeout" value="300"/></options>)" + sessions);
  EXPECT_EQ(metric_total(t, "error_timeout"), 1u) << "never released: global_ack_timeout";
  EXPECT_EQ(metric_total(t, "request"), 0u);
}

// Bytes a plugin queues and then closes on (an ack, then a close frame answered with a fatal
// event) reach the server before the connection closes: the close sends what is queued first.
TEST(ConnectionPlugin, BytesQueuedBeforeAFatalEventAreSent) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push">
        <request><push data="END 1"/></request>
        <request><push data="REQ 2"/></request>
      </session></sessions>)");
  EXPECT_EQ(metric_total(m, "error_ended"), 1u);
  EXPECT_EQ(metric_total(m, "request"), 0u);
  EXPECT_TRUE(server.saw("ACK"));
  EXPECT_TRUE(server.saw("BYE")) << "the second queued line was dropped by the close";
  EXPECT_FALSE(server.saw("REQ 2", 0));
}

// dumptraffic="true": the plugin's own sends on the connection (ConnectionServices::send: acks,
// pongs, bidi answers) get a Send line as the request's bytes do, each once.
TEST(ConnectionPlugin, DumptrafficShowsThePluginsSends) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  test::DumpCapture dump;
  run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push">
        <request><push data="END 1"/></request>
      </session></sessions>)", {}, "tcp", R"(dumptraffic="true")");
  dump.restore();
  EXPECT_TRUE(server.saw("BYE"));
  EXPECT_EQ(dump.count("tsung.dump: Send:", "END 1\\n"), 1u) << dump.text();
  EXPECT_EQ(dump.count("tsung.dump: Send:", "ACK\\n"), 1u) << dump.text();
  EXPECT_EQ(dump.count("tsung.dump: Send:", "BYE\\n"), 1u) << dump.text();
}

// ConnResult::again: one read holding several answers (the plugin consumed it whole); the engine
// calls the plugin again at once, with no byte left, for each, so no answer waits for more bytes.
TEST(ConnectionPlugin, AgainDeliversEveryEventOfConsumedBytes) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push">
        <request><push data="REQ MULTI"/></request>
        <request><push data="QUIET 1"/></request>
        <request><push data="QUIET 2"/></request>
      </session></sessions>)");
  for (const auto& [name, metric] : m.sorted())
    EXPECT_FALSE(name.starts_with("error_")) << name << " = " << metric->count;
  EXPECT_EQ(metric_total(m, "request"), 3u);
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
}

// A plugin that returns ConnResult::again for ever without consuming anything: the engine stops
// calling it after a bound, counts error_plugin_again_loop and ends the user (no hang).
TEST(ConnectionPlugin, EndlessAgainEndsTheUser) {
  TestCert cert;
  PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem");
  MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push">
        <request><push data="REQ LOOP"/></request>
        <request><push data="REQ 2"/></request>
      </session></sessions>)");
  EXPECT_EQ(metric_total(m, "error_plugin_again_loop"), 1u);
  EXPECT_EQ(metric_total(m, "again_looped"), 100000u);  // the 100 000th call without a byte consumed ends it
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
  EXPECT_EQ(metric_total(m, "request"), 0u);
  EXPECT_FALSE(server.saw("REQ 2", 0));
}

// STARTTLS presents the user's <set_option name="certificate"> as a direct TLS connection does
// (jabber's starttls, ldap's start_tls): a server that needs a client certificate gets it.
TEST(ConnectionPlugin, StartTlsPresentsTheUsersCertificate) {
  TestCert cert;
  for (bool with_certificate : {false, true}) {
    PushServer server(cert.dir + "/cert.pem", cert.dir + "/key.pem", true);
    std::string option = with_certificate ? R"(<set_option name="certificate"><certificate certfile=")" + cert.dir +
                                                R"(/cert.pem" keyfile=")" + cert.dir + R"(/key.pem"/></set_option>)"
                                          : "";
    MetricSet m = run_push(server.port(), R"(<load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="20" unit="second"/></arrivalphase></load>
      <sessions><session name="push" probability="100" type="ts_push">)" + option + R"(
        <request><push data="REQ 1"/></request>
        <request><push starttls="true"/></request>
        <request><push data="REQ 2"/></request>
      </session></sessions>)");
    EXPECT_EQ(server.client_certs.load(), with_certificate ? 1 : 0);
    if (with_certificate) {
      EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
      for (const auto& [name, metric] : m.sorted())
        EXPECT_FALSE(name.starts_with("error_")) << name << " = " << metric->count;
      EXPECT_EQ(metric_total(m, "request"), 3u);
    } else {
      EXPECT_LT(metric_total(m, "request"), 3u);  // refused by the server: REQ 2 never answered
    }
  }
}

// A plugin that negotiates TLS in the clear (Protocol::negotiates_tls, as pgsql's SSLRequest):
// its connection says HELLO and holds the first request for an answer that never comes.
class HoldConnection final : public Connection {
 public:
  bool on_open(ConnectionServices& s) override {
    s.send("HELLO\n");
    return true;
  }
  ConnResult on_data(ConnectionServices&, const RequestSpec*, std::span<const char> data, ResponseInfo&) override {
    return {data.size(), ConnEvent::none};
  }
};

class HoldProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "push"; }
  std::string_view session_type() const override { return "ts_push"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext&) const override {
    XmlElement el(element);
    std::string data = el.optional("data", "");
    el.finish();
    return std::make_shared<PushRequest>(data, false);
  }
  bool connection_level() const override { return true; }
  bool negotiates_tls() const override { return true; }
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    negotiate_tls = ctx.negotiate_tls;
    return std::make_unique<HoldConnection>();
  }
  static inline bool negotiate_tls = false;  // of the last connection
};

// A server that accepts and never answers; keeps what each connection sent first.
class SilentServer {
 public:
  SilentServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] {
      for (;;) {
        auto socket = std::make_shared<tcp::socket>(io_);
        boost::system::error_code ec;
        acceptor_.accept(*socket, ec);
        if (ec) return;
        char first[6] = {};
        asio::read(*socket, asio::buffer(first), ec);
        std::lock_guard lock(mutex_);
        firsts_.emplace_back(first, sizeof first);
        sockets_.push_back(socket);  // held open, silent
      }
    });
  }
  ~SilentServer() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> firsts() {
    std::lock_guard lock(mutex_);
    return firsts_;
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> firsts_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
};

// <server type="ssl"> for a plugin that negotiates TLS itself: the engine connects in the clear
// (the server reads the plugin's HELLO, not a TLS ClientHello) and tells the connection. A
// handshake of the plugin's own that never ends is a failed connect: connect_timeout bounds each,
// and max_retries of them in a row end the user (the TCP connect succeeding each time does not
// start the count again).
TEST(ConnectionPlugin, NegotiatedTlsStartsInTheClearAndAStalledHandshakeIsAFailedConnect) {
  SilentServer server;
  ProtocolRegistry registry;
  registry.add(std::make_unique<HoldProtocol>());
  std::string xml = R"(<?xml version="1.0"?><tsung>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port=")" + std::to_string(server.port()) + R"(" type="ssl"/></servers>
    <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="2" arrivalrate="20" unit="second"/></arrivalphase></load>
    <options><option name="connect_timeout" value="200"/><option name="max_retries" value="2"/>
      <option name="retry_timeout" value="10"/></options>
    <sessions><session name="hold" probability="100" type="ts_push"><request><push data="REQ 1"/></request></session></sessions>
    </tsung>)";
  MetricSet m = test::run_engine(load_scenario_text(xml, "hold.xml", registry));
  EXPECT_TRUE(HoldProtocol::negotiate_tls);
  EXPECT_EQ(metric_total(m, "finish_users_count"), 2u);
  EXPECT_EQ(metric_total(m, "error_connect_timeout"), 2u * 3);  // the first connect and 2 retries
  EXPECT_EQ(metric_total(m, "error_abort_max_conn_retries"), 2u);
  EXPECT_EQ(metric_total(m, "request"), 0u);
  std::vector<std::string> firsts = server.firsts();
  EXPECT_EQ(firsts.size(), 2u * 3);
  for (const std::string& first : firsts) EXPECT_EQ(first, "HELLO\n");
}
}  // namespace
}  // namespace loadctl
