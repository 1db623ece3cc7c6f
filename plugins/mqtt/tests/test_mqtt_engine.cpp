// The MQTT plugin through a real Engine against a scripted in-process broker: a message pushed
// during waitForMessages is counted, and the wait ends on its timeout untimed (ConnEvent::waited:
// no request or page sample, as Tsung's thinktime), then DISCONNECT goes out; every request is
// a page (Protocol::request_is_page).
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "engine/engine.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/scenario.hpp"
#include "support/local_engine.hpp"

namespace loadctl::mqtt {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using loadctl::test::metric_total;

// One connection: CONNECT -> CONNACK, then `push_after` later a QoS 0 PUBLISH (or, with
// `slow_start`, nothing and a pause before reading on, so that the client's writes queue up);
// counts the PUBLISH frames it reads and records DISCONNECT.
class ScriptedBroker {
 public:
  explicit ScriptedBroker(bool slow_start = false)
      : slow_start_(slow_start), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedBroker() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::atomic<bool> got_disconnect{false};
  std::atomic<int> publishes{0};

 private:
  void serve() {
    tcp::socket s(io_);
    boost::system::error_code ec;
    acceptor_.accept(s, ec);
    if (ec) return;
    for (;;) {
      unsigned char head = 0, byte = 0;
      asio::read(s, asio::buffer(&head, 1), ec);
      std::size_t length = 0, multiplier = 1;
      do {
        if (!ec) asio::read(s, asio::buffer(&byte, 1), ec);
        length += (byte & 0x7F) * multiplier;
        multiplier *= 128;
      } while (!ec && (byte & 0x80));
      std::string body(length, '\0');
      if (!ec && !body.empty()) asio::read(s, asio::buffer(body), ec);
      if (ec) return;
      if (head == 0x10) {
        asio::write(s, asio::buffer(std::string("\x20\x02\x00\x00", 4)), ec);
        std::this_thread::sleep_for(std::chrono::milliseconds(slow_start_ ? 500 : 100));
        if (!slow_start_) asio::write(s, asio::buffer(std::string("\x30\x03\x00\x01t", 5)), ec);
      } else if ((head >> 4) == 3) {
        ++publishes;
      } else if (head == 0xE0) {
        got_disconnect = true;
        return;
      }
    }
  }
  bool slow_start_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// Runs one user of `session` (the body of a ts_mqtt <session>) against `broker`.
MetricSet run_one(const ScriptedBroker& broker, const std::string& session, std::chrono::steady_clock::duration& took) {
  std::string xml = R"(<?xml version="1.0"?><tsung>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port=")" + std::to_string(broker.port()) + R"(" type="tcp"/></servers>
    <load><user session="s" start_time="0" unit="second"/></load>
    <sessions><session name="s" probability="100" type="ts_mqtt">)" + session + "</session></sessions></tsung>";
  return test::run_engine(load_scenario_text(xml, "mqtt.xml", ProtocolRegistry::builtin()), {}, &took);
}

TEST(MqttEngine, WaitForMessagesCountsPushesAndIsNotTimed) {
  ScriptedBroker broker;
  std::chrono::steady_clock::duration took{};
  MetricSet m = run_one(broker, R"(
      <request><mqtt type="connect"/></request>
      <request><mqtt type="waitForMessages" timeout="0.5"/></request>
      <request><mqtt type="disconnect"/></request>)", took);
  for (const auto& [name, metric] : m.sorted())
    EXPECT_FALSE(name.starts_with("error_")) << name << " = " << metric->count;
  EXPECT_GE(took, std::chrono::milliseconds(500)) << "the wait did not last its timeout";
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
  EXPECT_EQ(metric_total(m, "mqtt_connected"), 1u);
  EXPECT_EQ(metric_total(m, "mqtt_server_published"), 1u);  // pushed during the wait
  EXPECT_EQ(metric_total(m, "request"), 1u);                 // connect; the wait is not a timed request
  EXPECT_EQ(metric_total(m, "request_noack"), 1u);           // disconnect
  const Metric* page = m.find("page");
  ASSERT_NE(page, nullptr);
  // Tsung's mark_prev_req: connect, the wait (a thinktime that still marks the request before it)
  // and disconnect are one page, its time from connect to disconnect, the wait included.
  EXPECT_EQ(page->count, 1u);
  EXPECT_GE(page->max, 500.0) << "the page does not include the 0.5 s wait";
  // DISCONNECT is written before the user's end closes the socket.
  for (int i = 0; i < 100 && !broker.got_disconnect; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(broker.got_disconnect);
}

// QoS 0 publishes and DISCONNECT are not acknowledged: each is done once its bytes are written
// (as Tsung's send returns), so a user whose writes queue up (16 MB against a broker that pauses)
// neither queues without bound nor ends, closing the socket, before they left.
TEST(MqttEngine, UnacknowledgedRequestsAreWrittenBeforeTheUserEnds) {
  ScriptedBroker broker(true);
  std::chrono::steady_clock::duration took{};
  std::string payload(8192, 'x');
  MetricSet m = run_one(broker, R"(
      <request><mqtt type="connect"/></request>
      <for from="1" to="2000" incr="1" var="i">
        <request><mqtt type="publish" topic="t" qos="0">)" + payload + R"(</mqtt></request>
      </for>
      <request><mqtt type="disconnect"/></request>)", took);
  EXPECT_EQ(metric_total(m, "mqtt_published"), 2000u);
  EXPECT_EQ(metric_total(m, "request_noack"), 2001u);
  EXPECT_EQ(metric_total(m, "finish_users_count"), 1u);
  for (int i = 0; i < 500 && !broker.got_disconnect; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(broker.publishes.load(), 2000);
  EXPECT_TRUE(broker.got_disconnect);
}

}  // namespace
}  // namespace loadctl::mqtt
