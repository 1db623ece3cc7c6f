// The MQTT plugin: <mqtt> parsing (Tsung's attributes and defaults), the frames it sends, and the
// connection's behaviour against scripted server bytes through a fake ConnectionServices.
#include <gtest/gtest.h>

#include <pugixml.hpp>

#include "loadctl/scenario_error.hpp"
#include "mqtt_connection.hpp"
#include "mqtt_frame.hpp"
#include "mqtt_request.hpp"
#include "support/fake_conn_services.hpp"
#include "support/map_vars.hpp"
#include "support/parse_request.hpp"

namespace loadctl::mqtt {
namespace {

using loadctl::test::MapVars;
using FakeServices = loadctl::test::FakeConnServices;

std::shared_ptr<const MqttRequest> parse(const char* xml, bool subst = false) {
  return test::parse_request_xml(parse_mqtt_request, xml, subst);
}

std::string error_of(const char* xml) {
  return test::scenario_error_of([&] { parse(xml); });
}

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

struct Client {
  FakeServices s;
  MqttConnection conn{1 << 20};
  MqttConnection::Clock::time_point t = MqttConnection::Clock::now();
  Client() {
    conn.set_now_for_test(t);
    EXPECT_FALSE(conn.on_open(s));
  }
  std::string send(const MqttRequest& r) {
    std::string out;
    EncodeContext ctx;
    conn.encode(s, r, ctx, out);
    return out;
  }
  ConnResult feed(const RequestSpec* pending, const std::string& data, ResponseInfo* info_out = nullptr) {
    ResponseInfo info;
    ConnResult r = conn.on_data(s, pending, {data.data(), data.size()}, info);
    if (info_out) *info_out = info;
    return r;
  }
  void advance(double seconds) {
    t += std::chrono::duration_cast<MqttConnection::Clock::duration>(std::chrono::duration<double>(seconds));
    conn.set_now_for_test(t);
  }
};

TEST(MqttParse, TsungDefaults) {
  auto r = parse(R"(<mqtt type="connect"/>)");
  EXPECT_EQ(r->kind, Kind::connect);
  EXPECT_TRUE(r->clean_start);  // ts_config_mqtt's default (the DTD's "false" is not applied)
  EXPECT_EQ(r->keepalive, 10);
  EXPECT_TRUE(r->will_topic.empty());
  EXPECT_FALSE(r->username.has_value());
  EXPECT_FALSE(r->password.has_value());
  EXPECT_TRUE(r->awaits_response());
  auto w = parse(R"(<mqtt type="waitForMessages"/>)");
  EXPECT_EQ(w->kind, Kind::wait_for_messages);
  EXPECT_EQ(w->timeout_s, 1);
  auto p = parse(R"(<mqtt type="publish" topic="t">  hello  </mqtt>)");
  EXPECT_EQ(p->qos, 0);
  EXPECT_FALSE(p->retained);
  EXPECT_FALSE(p->awaits_response());  // QoS 0: Tsung's no_ack
  EXPECT_TRUE(parse(R"(<mqtt type="publish" topic="t" qos="1"/>)")->awaits_response());
  EXPECT_FALSE(parse(R"(<mqtt type="disconnect"/>)")->awaits_response());
}

TEST(MqttParse, Errors) {
  EXPECT_NE(error_of(R"(<mqtt/>)").find("type"), std::string::npos);
  EXPECT_NE(error_of(R"(<mqtt type="ping"/>)").find("type"), std::string::npos);
  EXPECT_NE(error_of(R"(<mqtt type="publish"/>)").find("needs a topic"), std::string::npos);
  EXPECT_NE(error_of(R"(<mqtt type="publish" topic="t" qos="2"/>)").find("not supported yet"), std::string::npos);
  EXPECT_NE(error_of(R"(<mqtt type="subscribe" topic="t" qos="2"/>)").find("not supported yet"), std::string::npos);
  EXPECT_NE(error_of(R"(<mqtt type="connect" keepalive="70000"/>)").find("keepalive"), std::string::npos);
  EXPECT_NE(error_of(R"(<mqtt type="connect" clean_start="yes"/>)").find("clean_start"), std::string::npos);
  EXPECT_NE(error_of(R"(<mqtt type="connect" client_id="x"/>)").find("client_id"), std::string::npos);
  EXPECT_NE(error_of(R"(<mqtt type="publish" topic="t" qos="3"/>)").find("qos"), std::string::npos);
  EXPECT_NE(error_of(R"(<mqtt type="publish" topic="t"><x/></mqtt>)").find("<x>"), std::string::npos);
}

TEST(MqttEncode, Connect) {
  auto r = parse(R"(<mqtt type="connect" clean_start="true" keepalive="30" will_topic="wt" will_qos="1" will_msg="bye" will_retain="true" username="u" password="p"/>)");
  Client c;
  std::string f = c.send(*r);
  // header, remaining length, "MQTT", level 4, flags, keepalive
  ASSERT_GT(f.size(), 12u);
  EXPECT_EQ(f[0], 0x10);
  EXPECT_EQ(static_cast<std::size_t>(f[1]), f.size() - 2);
  EXPECT_EQ(f.substr(2, 7), bytes({0, 4, 'M', 'Q', 'T', 'T', 4}));
  EXPECT_EQ(static_cast<std::uint8_t>(f[9]), 0x80 | 0x40 | 0x20 | (1 << 3) | 0x04 | 0x02);
  EXPECT_EQ(f.substr(10, 2), bytes({0, 30}));
  EXPECT_EQ(f.substr(12, 8), bytes({0, 16, 't', 's', 'u', 'n', 'g', '-'}));
  EXPECT_EQ(f.substr(30), bytes({0, 2, 'w', 't', 0, 3, 'b', 'y', 'e', 0, 1, 'u', 0, 1, 'p'}));
  // No will without will_topic, no flags for absent username/password; clean_start false.
  std::string g = c.send(*parse(R"(<mqtt type="connect" clean_start="false" will_msg="x"/>)"));
  EXPECT_EQ(g[9], 0);
  EXPECT_EQ(g.size(), 2u + 10 + 18);
}

TEST(MqttEncode, PublishSubscribeIdsPerConnection) {
  Client c;
  auto p0 = parse(R"(<mqtt type="publish" topic="a/%%_n%%" retained="true">m=%%_n%%</mqtt>)", true);
  MapVars vars;
  vars.values = {{"n", "7"}};
  EncodeContext ctx;
  ctx.vars = &vars;
  std::string out;
  c.conn.encode(c.s, *p0, ctx, out);
  EXPECT_EQ(out, bytes({0x31, 8, 0, 3, 'a', '/', '7', 'm', '=', '7'}));
  auto p1 = parse(R"(<mqtt type="publish" topic="t" qos="1">x</mqtt>)");
  EXPECT_EQ(c.send(*p1), bytes({0x32, 6, 0, 1, 't', 0, 1, 'x'}));
  EXPECT_EQ(c.send(*parse(R"(<mqtt type="subscribe" topic="t" qos="1"/>)")), bytes({0x82, 6, 0, 2, 0, 1, 't', 1}));
  EXPECT_EQ(c.send(*parse(R"(<mqtt type="unsubscribe" topic="t"/>)")), bytes({0xA2, 5, 0, 3, 0, 1, 't'}));
  EXPECT_EQ(c.send(*p1), bytes({0x32, 6, 0, 1, 't', 0, 4, 'x'}));
  EXPECT_EQ(c.send(*parse(R"(<mqtt type="disconnect"/>)")), bytes({0xE0, 0}));
  EXPECT_EQ(c.s.get("mqtt_published"), 3u);
  EXPECT_EQ(c.s.get("mqtt_disconnected"), 1u);
  // Another connection starts its own ids.
  Client d;
  EXPECT_EQ(d.send(*p1), bytes({0x32, 6, 0, 1, 't', 0, 1, 'x'}));
}

TEST(MqttEncode, LongRemainingLength) {
  std::string out;
  append_length(out, 321);
  EXPECT_EQ(out, bytes({0xC1, 0x02}));
  FrameHeader h;
  std::string frame = bytes({0x30}) + out;
  EXPECT_EQ(parse_header({frame.data(), frame.size()}, h), HeaderStatus::ok);
  EXPECT_EQ(h.remaining, 321u);
  EXPECT_EQ(h.header_size, 3u);
  std::string five = bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
  EXPECT_EQ(parse_header({five.data(), five.size()}, h), HeaderStatus::malformed);
  std::string partial = bytes({0x30, 0xFF});
  EXPECT_EQ(parse_header({partial.data(), partial.size()}, h), HeaderStatus::need_more);
}

TEST(MqttConnection, ConnackCompletesAndStartsPings) {
  Client c;
  auto connect = parse(R"(<mqtt type="connect" keepalive="5"/>)");
  c.send(*connect);
  EXPECT_EQ(c.feed(connect.get(), bytes({0x20, 2})).consumed, 0u);  // partial frame
  ConnResult r = c.feed(connect.get(), bytes({0x20, 2, 0, 0}));
  EXPECT_EQ(r.consumed, 4u);
  EXPECT_EQ(r.event, ConnEvent::complete);
  EXPECT_EQ(c.s.get("mqtt_connected"), 1u);
  EXPECT_DOUBLE_EQ(c.s.timer, 5);
  c.advance(5);
  EXPECT_EQ(c.conn.on_timer(c.s), ConnEvent::none);
  EXPECT_EQ(c.s.sent, bytes({0xC0, 0}));
  EXPECT_DOUBLE_EQ(c.s.timer, 5);
  // PINGRESP is consumed, whatever is pending.
  EXPECT_EQ(c.feed(nullptr, bytes({0xD0, 0})).event, ConnEvent::none);
  c.send(*parse(R"(<mqtt type="disconnect"/>)"));
  EXPECT_EQ(c.s.timer, -1);  // no more pings
}

TEST(MqttConnection, RefusedConnackEndsTheUser) {
  Client c;
  auto connect = parse(R"(<mqtt type="connect"/>)");
  c.send(*connect);
  ResponseInfo info;
  ConnResult r = c.feed(connect.get(), bytes({0x20, 2, 0, 5}), &info);
  EXPECT_EQ(r.event, ConnEvent::fatal);
  EXPECT_STREQ(info.error, "mqtt_connack_refused");
  EXPECT_EQ(c.s.get("mqtt_connected"), 0u);
}

TEST(MqttConnection, PushedMessagesAreCountedNeverResponses) {
  Client c;
  auto pub = parse(R"(<mqtt type="publish" topic="t" qos="1">x</mqtt>)");
  c.send(*pub);  // packet id 1, waits for PUBACK 1
  // A QoS 1 message pushed while the PUBACK is pending: counted and acknowledged (its own id 9).
  ConnResult r = c.feed(pub.get(), bytes({0x32, 6, 0, 1, 't', 0, 9, 'y'}));
  EXPECT_EQ(r.consumed, 8u);
  EXPECT_EQ(r.event, ConnEvent::none);
  EXPECT_EQ(c.s.sent, bytes({0x40, 2, 0, 9}));
  // A PUBACK for another id is not this request's.
  EXPECT_EQ(c.feed(pub.get(), bytes({0x40, 2, 0, 9})).event, ConnEvent::none);
  EXPECT_EQ(c.feed(pub.get(), bytes({0x40, 2, 0, 1})).event, ConnEvent::complete);
  EXPECT_EQ(c.s.get("mqtt_server_pubacked"), 1u);
  // QoS 0 while nothing is pending: counted, nothing sent.
  c.s.sent.clear();
  EXPECT_EQ(c.feed(nullptr, bytes({0x30, 4, 0, 1, 't', 'z'})).event, ConnEvent::none);
  EXPECT_TRUE(c.s.sent.empty());
  EXPECT_EQ(c.s.get("mqtt_server_published"), 2u);
  EXPECT_EQ(c.s.get("mqtt_pubacked"), 2u);
}

TEST(MqttConnection, WaitForMessagesEndsOnItsTimer) {
  Client c;
  auto wait = parse(R"(<mqtt type="waitForMessages" timeout="2.5"/>)");
  EXPECT_EQ(c.send(*wait), "");
  EXPECT_DOUBLE_EQ(c.s.timer, 2.5);
  EXPECT_EQ(c.feed(wait.get(), bytes({0x30, 3, 0, 1, 't'})).event, ConnEvent::none);
  EXPECT_EQ(c.s.get("mqtt_server_published"), 1u);
  c.advance(2.5);
  EXPECT_EQ(c.conn.on_timer(c.s), ConnEvent::waited);
  EXPECT_TRUE(c.conn.is_wait(*wait));
  EXPECT_FALSE(c.conn.is_wait(*parse(R"(<mqtt type="subscribe" topic="t"/>)")));
}

TEST(MqttConnection, SubackFailureAndOversizedFrames) {
  Client c;
  auto sub = parse(R"(<mqtt type="subscribe" topic="t" qos="1"/>)");
  c.send(*sub);
  ResponseInfo info;
  EXPECT_EQ(c.feed(sub.get(), bytes({0x90, 3, 0, 1, 0x80}), &info).event, ConnEvent::failed);
  EXPECT_STREQ(info.error, "mqtt_subscribe_refused");
  // A length over max_frame_size is refused from its header, before the bytes arrive.
  MqttConnection small(100);
  FakeServices s;
  small.on_open(s);
  std::string huge = bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F});
  ResponseInfo big;
  ConnResult r = small.on_data(s, nullptr, {huge.data(), huge.size()}, big);
  EXPECT_EQ(r.event, ConnEvent::fatal);
  EXPECT_STREQ(big.error, "mqtt_frame_too_large");
  std::string bad = bytes({0x30, 0x80, 0x80, 0x80, 0x80, 0x01});
  EXPECT_EQ(small.on_data(s, nullptr, {bad.data(), bad.size()}, big).event, ConnEvent::fatal);
  EXPECT_STREQ(big.error, "mqtt_malformed");
}

}  // namespace
}  // namespace loadctl::mqtt
