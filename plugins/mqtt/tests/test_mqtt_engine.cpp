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

namespace loadctl::mqtt {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// One connection: CONNECT -> CONNACK, then 100 ms later a QoS 0 PUBLISH; records DISCONNECT.
class ScriptedBroker {
 public:
  ScriptedBroker() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedBroker() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::atomic<bool> got_disconnect{false};

 private:
  void serve() {
    tcp::socket s(io_);
    boost::system::error_code ec;
    acceptor_.accept(s, ec);
    if (ec) return;
    for (;;) {
      unsigned char head[2];
      asio::read(s, asio::buffer(head), ec);
      if (ec) return;
      std::string body(head[1] & 0x7F, '\0');  // the client's frames here are short
      if (!body.empty()) asio::read(s, asio::buffer(body), ec);
      if (ec) return;
      if (head[0] == 0x10) {
        asio::write(s, asio::buffer(std::string("\x20\x02\x00\x00", 4)), ec);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        asio::write(s, asio::buffer(std::string("\x30\x03\x00\x01t", 5)), ec);
      } else if (head[0] == 0xE0) {
        got_disconnect = true;
        return;
      }
    }
  }
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

std::uint64_t total(const MetricSet& m, std::string_view name) {
  const Metric* metric = m.find(name);
  return metric ? metric->count : 0;
}

TEST(MqttEngine, WaitForMessagesCountsPushesAndIsNotTimed) {
  ScriptedBroker broker;
  std::string xml = R"(<?xml version="1.0"?><tsung>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port=")" + std::to_string(broker.port()) + R"(" type="tcp"/></servers>
    <load><user session="s" start_time="0" unit="second"/></load>
    <sessions><session name="s" probability="100" type="ts_mqtt">
      <request><mqtt type="connect"/></request>
      <request><mqtt type="waitForMessages" timeout="0.5"/></request>
      <request><mqtt type="disconnect"/></request>
    </session></sessions></tsung>)";
  Scenario scenario = load_scenario_text(xml, "mqtt.xml", ProtocolRegistry::builtin());
  std::vector<AgentPlan> plans = plan_run(scenario, plan_slots(scenario), 1);
  ASSERT_EQ(plans.size(), 1u);
  engine::Engine engine(scenario, plans.at(0), 1);
  auto start = std::chrono::steady_clock::now();
  engine.start(engine::Clock::now());
  while (!engine.done() && std::chrono::steady_clock::now() < start + std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(engine.done());
  engine.stop();
  engine.join();
  MetricSet m;
  engine.collect(m);
  for (const auto& [name, metric] : m.sorted())
    EXPECT_FALSE(name.starts_with("error_")) << name << " = " << metric->count;
  EXPECT_GE(took, std::chrono::milliseconds(500)) << "the wait did not last its timeout";
  EXPECT_EQ(total(m, "finish_users_count"), 1u);
  EXPECT_EQ(total(m, "mqtt_connected"), 1u);
  EXPECT_EQ(total(m, "mqtt_server_published"), 1u);  // pushed during the wait
  EXPECT_EQ(total(m, "request"), 1u);                 // connect; the wait is not a timed request
  EXPECT_EQ(total(m, "request_noack"), 1u);           // disconnect
  const Metric* page = m.find("page");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page->count, 2u);  // every MQTT request is a page (Tsung's endpage = true): connect, disconnect
  EXPECT_LT(page->max, 400.0) << "a page includes the 0.5 s wait";
  // DISCONNECT is written before the user's end closes the socket.
  for (int i = 0; i < 100 && !broker.got_disconnect; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(broker.got_disconnect);
}

}  // namespace
}  // namespace loadctl::mqtt
