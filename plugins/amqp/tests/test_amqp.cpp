// ts_amqp: request and option parsing (Tsung's attributes and defaults, errors naming
// file:line:column) and the AmqpConnection state machine, driven byte by byte with a fake
// ConnectionServices playing the engine and frames a RabbitMQ would send.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <thread>

#include <pugixml.hpp>

#include "amqp_codec.hpp"
#include "loadctl/connection.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"
#include "support/fake_conn_services.hpp"
#include "support/fake_connection.hpp"
#include "support/map_vars.hpp"
#include "support/parse_request.hpp"

void loadctl_register_amqp(loadctl::ProtocolRegistry& registry);

namespace loadctl::amqp {
namespace {

const Protocol& protocol() {
  static ProtocolRegistry registry = [] {
    ProtocolRegistry r;
    loadctl_register_amqp(r);
    return r;
  }();
  return *registry.by_element("amqp");
}

// One request from its XML text (subst="true" when `subst`).
std::shared_ptr<const RequestSpec> request(const std::string& xml, bool subst = false,
                                           const ProtocolOptions* options = nullptr) {
  RequestParseContext ctx = test::subst_context(subst);
  ctx.options = options;
  return protocol().parse_request(test::kept_element(xml), ctx);
}

// Frames as a server sends them.
std::string method_frame(std::uint16_t channel, std::uint32_t id, const std::function<void(Writer&)>& args = {}) {
  std::string out;
  std::size_t start = begin_method(out, channel, id);
  Writer w{out};
  if (args) args(w);
  end_frame(out, start);
  return out;
}
std::string start_frame(std::string_view mechanisms = "PLAIN AMQPLAIN") {
  return method_frame(0, method::connection_start, [&](Writer& w) {
    w.u8(0);
    w.u8(9);
    w.u32(0);  // server properties: empty table
    w.longstr(mechanisms);
    w.longstr("en_US");
  });
}
std::string tune_frame(std::uint16_t channel_max, std::uint32_t frame_max, std::uint16_t heartbeat) {
  return method_frame(0, method::connection_tune, [&](Writer& w) {
    w.u16(channel_max);
    w.u32(frame_max);
    w.u16(heartbeat);
  });
}
std::string close_frame(std::uint16_t channel, std::uint32_t id, std::uint16_t code) {
  return method_frame(channel, id, [&](Writer& w) {
    w.u16(code);
    w.shortstr("REFUSED");
    w.u16(0);
    w.u16(0);
  });
}
std::string deliver_frames(std::uint16_t channel, std::uint64_t tag, std::string_view body) {
  std::string out = method_frame(channel, method::basic_deliver, [&](Writer& w) {
    w.shortstr("ctag");
    w.u64(tag);
    w.u8(0);
    w.shortstr("test_exchange");
    w.shortstr("test_queue");
  });
  std::size_t start = begin_frame(out, kFrameHeader, channel);
  Writer w{out};
  w.u16(60);
  w.u16(0);
  w.u64(body.size());
  w.u16(0);
  end_frame(out, start);
  start = begin_frame(out, kFrameBody, channel);
  out.append(body);
  end_frame(out, start);
  return out;
}
std::string ack_frame(std::uint16_t channel, std::uint32_t id, std::uint64_t tag, bool multiple) {
  return method_frame(channel, id, [&](Writer& w) {
    w.u64(tag);
    w.u8(multiple ? 1 : 0);
  });
}

// The methods (class<<16|method) and channels of the frames in `bytes`.
std::vector<std::pair<std::uint16_t, std::uint32_t>> methods(std::string_view bytes) {
  std::vector<std::pair<std::uint16_t, std::uint32_t>> out;
  while (!bytes.empty()) {
    Frame f = parse_frame(bytes, 1 << 20);
    EXPECT_EQ(f.status, Frame::Status::whole);
    if (f.status != Frame::Status::whole) break;
    if (f.type == kFrameMethod) out.emplace_back(f.channel, Reader(f.payload).u32());
    else out.emplace_back(f.channel, 0xFF000000u | f.type);
    bytes.remove_prefix(f.size);
  }
  return out;
}

struct Client : test::FakeConnection {
  explicit Client(const ProtocolOptions* options = nullptr, std::size_t max_frame = 16 << 20)
      : FakeConnection(protocol(), max_frame, options) {}
  // Offers `bytes` as the engine does (again with the rest while something is consumed).
  ConnEvent feed(std::string_view bytes, const RequestSpec* pending) {
    info = {};
    while (!bytes.empty()) {
      ConnResult r = conn->on_data(s, pending, {bytes.data(), bytes.size()}, info);
      bytes.remove_prefix(r.consumed);
      if (r.event != ConnEvent::none) {
        if (r.event != ConnEvent::fatal) {  // a fatal event closes the connection: the rest is dropped
          EXPECT_TRUE(bytes.empty()) << bytes.size() << " bytes left after an event";
        }
        return r.event;
      }
      if (r.consumed == 0) break;
    }
    return ConnEvent::none;
  }
  // Offers `bytes` one more byte at a time, as a socket cutting them anywhere would: the
  // unconsumed rest is offered again with the next byte. Returns the events in order.
  std::vector<ConnEvent> feed_bytewise(std::string_view bytes, const RequestSpec* pending) {
    std::vector<ConnEvent> events;
    std::string buffer;
    for (char ch : bytes) {
      buffer.push_back(ch);
      info = {};
      ConnResult r = conn->on_data(s, pending, {buffer.data(), buffer.size()}, info);
      buffer.erase(0, r.consumed);
      if (r.event != ConnEvent::none) events.push_back(r.event);
    }
    EXPECT_TRUE(buffer.empty()) << buffer.size() << " bytes never consumed";
    return events;
  }
  // connection.open through open_ok.
  void open(std::uint32_t frame_max = 131072) {
    auto r = request(R"(<amqp type="connection.open" vhost="/v"/>)");
    EXPECT_EQ(encode(*r), std::string(kProtocolHeader));
    EXPECT_EQ(feed(start_frame(), r.get()), ConnEvent::none);
    EXPECT_EQ(feed(tune_frame(2047, frame_max, 60), r.get()), ConnEvent::none);
    EXPECT_EQ(feed(method_frame(0, method::connection_open_ok, [](Writer& w) { w.shortstr(""); }), r.get()),
              ConnEvent::complete);
    s.sent.clear();
  }
  ConnEvent roundtrip(const RequestSpec& r, std::uint16_t channel, std::uint32_t ok_id) {
    encode(r);
    return feed(method_frame(channel, ok_id), &r);
  }
};

TEST(AmqpParse, TsungDefaultsAndTypes) {
  Client c;
  c.open();
  // basic.publish: channel 1, exchange "", routing_key "/", 100 random bytes, not persistent.
  std::string bytes = c.encode(*request(R"(<amqp type="basic.publish"/>)"));
  auto frames = methods(bytes);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], std::make_pair(std::uint16_t{1}, method::basic_publish));
  Frame publish = parse_frame(bytes, 1 << 20);
  Reader args(publish.payload);
  args.u32();
  args.u16();
  EXPECT_EQ(args.shortstr(), "");
  EXPECT_EQ(args.shortstr(), "/");
  Frame header = parse_frame(std::string_view(bytes).substr(publish.size), 1 << 20);
  Reader h(header.payload);
  h.u16();
  h.u16();
  EXPECT_EQ(h.u64(), 100u);
  EXPECT_EQ(h.u16(), 0u) << "no properties: not persistent";
  EXPECT_EQ(c.s["amqp_published"], 1u);
  EXPECT_FALSE(request(R"(<amqp type="basic.publish"/>)")->awaits_response()) << "Tsung's no_ack";
  EXPECT_TRUE(request(R"(<amqp type="basic.qos"/>)")->awaits_response());
}

TEST(AmqpParse, ErrorsNameTheAttribute) {
  auto error_of = [](const std::string& xml, bool subst = false) {
    return test::scenario_error_of([&] { request(xml, subst); }, "accepted");
  };
  EXPECT_NE(error_of(R"(<amqp type="basic.get"/>)").find("unknown amqp type 'basic.get'"), std::string::npos);
  EXPECT_NE(error_of(R"(<amqp type="channel.open" vhost="/"/>)").find("unknown attribute 'vhost'"), std::string::npos)
      << "an attribute Tsung ignores for this type is refused, not ignored";
  EXPECT_NE(error_of(R"(<amqp type="channel.close" channel="0"/>)").find("channel number from 1"), std::string::npos);
  EXPECT_NE(error_of(R"(<amqp type="basic.qos" prefetch_count="70000"/>)").find("prefetch_count"), std::string::npos);
  EXPECT_NE(error_of(R"(<amqp type="basic.publish" persistent="yes"/>)").find("persistent"), std::string::npos);
  EXPECT_NE(error_of(R"(<amqp type="connection.close">text</amqp>)").find("takes no text"), std::string::npos);
  EXPECT_EQ(error_of(R"(<amqp type="basic.consume" channel="%%_c%%" queue="q" ack="true"/>)", true), "accepted");
  EXPECT_NE(error_of(R"(<amqp type="basic.consume" channel="%%_c%%"/>)").find("got '%%_c%%'"), std::string::npos)
      << "without subst=\"true\" a variable is literal text";
}

TEST(AmqpParse, OptionsThroughTheScenarioLoader) {
  auto load = [](const std::string& options) {
    std::string xml = R"(<?xml version="1.0"?><tsung>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port="5672" type="tcp"/></servers>
    <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="1" unit="second"/></arrivalphase></load>
    <options>)" + options + R"(</options>
    <sessions><session name="s" probability="100" type="ts_amqp" bidi="true"><request><amqp type="connection.open"/></request></session></sessions>
    </tsung>)";
    return load_scenario_text(xml, "amqp.xml", ProtocolRegistry::builtin());
  };
  try {
    load(R"(<option type="ts_amqp" name="vhost" value="x"/>)");
    FAIL() << "an unknown ts_amqp option was accepted";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("amqp.xml:5:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("username"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load(R"(<option type="ts_amqp" name="heartbeat" value="70000"/>)"), ScenarioError);
  Scenario s = load(R"(<option type="ts_amqp" name="username" value="bob"/><option type="ts_amqp" name="password" value="s3cret"/>)");
  ASSERT_NE(s.sessions[0].protocol_options, nullptr);
  // The options reach the connection: PLAIN carries them.
  Client c(s.sessions[0].protocol_options.get());
  auto r = request(R"(<amqp type="connection.open"/>)");
  c.encode(*r);
  c.feed(start_frame(), r.get());
  EXPECT_NE(c.s.sent.find(std::string("\0bob\0s3cret", 11)), std::string::npos);
}

TEST(AmqpConnection, HandshakeNegotiatesFrameMaxAndHeartbeat) {
  auto options = protocol().parse_options({});  // no option elements: Tsung's defaults
  Client c(options.get());
  auto r = request(R"(<amqp type="connection.open" vhost="/v"/>)");
  EXPECT_EQ(c.encode(*r), std::string(kProtocolHeader));
  EXPECT_EQ(c.feed(start_frame("AMQPLAIN"), r.get()), ConnEvent::fatal) << "no PLAIN: refused";
  EXPECT_STREQ(c.info.error, "amqp_no_plain_mechanism");

  Client d;
  d.encode(*r);
  EXPECT_EQ(d.feed(start_frame(), r.get()), ConnEvent::none);
  ASSERT_EQ(methods(d.s.sent), (std::vector<std::pair<std::uint16_t, std::uint32_t>>{{0, method::connection_start_ok}}));
  d.s.sent.clear();
  EXPECT_EQ(d.feed(tune_frame(2047, 8192, 60), r.get()), ConnEvent::none);
  auto sent = methods(d.s.sent);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].second, method::connection_open);
  Frame tune_ok = parse_frame(d.s.sent, 1 << 20);
  Reader t(tune_ok.payload);
  t.u32();
  EXPECT_EQ(t.u16(), 2047u);
  EXPECT_EQ(t.u32(), 8192u) << "the server's smaller frame_max";
  EXPECT_EQ(t.u16(), 600u) << "Tsung's default heartbeat";
  EXPECT_NEAR(d.s.timer, 300, 1) << "our heartbeats every half interval";
  Frame open = parse_frame(std::string_view(d.s.sent).substr(tune_ok.size), 1 << 20);
  Reader o(open.payload);
  o.u32();
  EXPECT_EQ(o.shortstr(), "/v");
  // A server heartbeat while waiting for open_ok is not the answer.
  std::string hb;
  heartbeat(hb);
  EXPECT_EQ(d.feed(hb, r.get()), ConnEvent::none);
  EXPECT_EQ(d.feed(method_frame(0, method::connection_open_ok, [](Writer& w) { w.shortstr(""); }), r.get()),
            ConnEvent::complete);
  EXPECT_EQ(d.s["amqp_connected"], 1u);
  // Publishes are split into body frames of the negotiated frame_max.
  std::string bytes = d.encode(*request(R"(<amqp type="basic.publish" payload_size="20000"/>)"));
  auto frames = methods(bytes);
  ASSERT_EQ(frames.size(), 2u + 3u);  // method, header, 8184 + 8184 + 3632 body bytes
  EXPECT_EQ(parse_frame(std::string_view(bytes).substr(bytes.size() - 3640), 1 << 20).payload.size(), 3632u);
}

TEST(AmqpConnection, HeartbeatsGoFromTheTimer) {
  static const auto options = [] {
    pugi::xml_document doc;
    doc.load_string(R"(<option type="ts_amqp" name="heartbeat" value="1"/>)");
    std::vector<pugi::xml_node> nodes{doc.first_child()};
    return protocol().parse_options(nodes);
  }();
  Client c(options.get());
  c.open();
  EXPECT_NEAR(c.s.timer, 0.5, 0.1);
  std::this_thread::sleep_for(std::chrono::milliseconds(520));
  EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::none);
  EXPECT_EQ(c.s.sent, std::string("\x08\0\0\0\0\0\0\xCE", 8));
  EXPECT_NEAR(c.s.timer, 0.5, 0.1) << "re-armed";
}

TEST(AmqpConnection, ChannelNumbersAndUnexpectedAnswers) {
  Client c;
  c.open();
  auto auto_open = request(R"(<amqp type="channel.open"/>)");
  auto open5 = request(R"(<amqp type="channel.open" channel="5"/>)");
  EXPECT_EQ(c.roundtrip(*auto_open, 1, method::channel_open_ok), ConnEvent::complete);
  EXPECT_EQ(c.roundtrip(*auto_open, 2, method::channel_open_ok), ConnEvent::complete);
  EXPECT_EQ(c.roundtrip(*open5, 5, method::channel_open_ok), ConnEvent::complete);
  c.s.sent.clear();
  c.encode(*open5);  // 5 is taken: Tsung's new_number gives the next one
  EXPECT_EQ(methods(c.out).at(0).first, 6u);
  EXPECT_EQ(c.feed(method_frame(6, method::channel_open_ok), open5.get()), ConnEvent::complete);
  EXPECT_EQ(c.s["amqp_channel_opened"], 4u);
  // An answer on another channel is not taken for ours; a wrong one on ours is unexpected.
  auto qos = request(R"(<amqp type="basic.qos" channel="2" prefetch_count="10"/>)");
  c.encode(*qos);
  EXPECT_EQ(c.feed(method_frame(1, method::basic_qos_ok), qos.get()), ConnEvent::none);
  EXPECT_EQ(c.feed(method_frame(2, method::basic_qos_ok), qos.get()), ConnEvent::complete);
  c.encode(*qos);
  EXPECT_EQ(c.feed(method_frame(2, method::confirm_select_ok), qos.get()), ConnEvent::fatal);
  EXPECT_STREQ(c.info.error, "amqp_unexpected");
  // A channel the server closes (e.g. a queue that does not exist): counted, the user goes on.
  Client d;
  d.open();
  d.roundtrip(*auto_open, 1, method::channel_open_ok);
  auto consume = request(R"(<amqp type="basic.consume" queue="nope"/>)");
  d.encode(*consume);
  EXPECT_EQ(d.feed(close_frame(1, method::channel_close, 404), consume.get()), ConnEvent::failed);
  EXPECT_STREQ(d.info.error, "amqp_not_found");
  EXPECT_EQ(d.s["amqp_unexpected"], 1u);
  EXPECT_EQ(methods(d.s.sent).back(), std::make_pair(std::uint16_t{1}, method::channel_close_ok));
}

TEST(AmqpConnection, DeliveriesAreAckedAndCountedWhateverIsPending) {
  Client c;
  c.open();
  auto open = request(R"(<amqp type="channel.open"/>)");
  c.roundtrip(*open, 1, method::channel_open_ok);
  auto consume = request(R"(<amqp type="basic.consume" channel="1" queue="q" ack="true"/>)");
  c.encode(*consume);
  Frame f = parse_frame(c.out, 1 << 20);
  Reader args(f.payload);
  args.u32();
  args.u16();
  EXPECT_EQ(args.shortstr(), "q");
  args.shortstr();
  EXPECT_EQ(args.u8(), 0u) << "ack=\"true\": no-ack off";
  EXPECT_EQ(c.feed(method_frame(1, method::basic_consume_ok, [](Writer& w) { w.shortstr("ctag"); }), consume.get()),
            ConnEvent::complete);
  // While channel 2 opens, messages arrive on 1: acked and counted, not an answer.
  c.s.sent.clear();
  c.encode(*open);
  std::string burst = deliver_frames(1, 1, "hello") + deliver_frames(1, 2, std::string(300, 'x'));
  EXPECT_EQ(c.feed(burst, open.get()), ConnEvent::none);
  EXPECT_EQ(c.feed(method_frame(2, method::channel_open_ok), open.get()), ConnEvent::complete);
  // While the user thinks (nothing pending), too.
  EXPECT_EQ(c.feed(deliver_frames(1, 3, "x"), nullptr), ConnEvent::none);
  EXPECT_EQ(c.s["amqp_delivered"], 3u);
  auto acks = methods(c.s.sent);
  ASSERT_EQ(acks.size(), 3u);
  for (auto& a : acks) EXPECT_EQ(a, std::make_pair(std::uint16_t{1}, method::basic_ack));
  // waitForMessages: a thinktime of `timeout` (Tsung's): its timer ends it, untimed.
  auto wait = request(R"(<amqp type="waitForMessages" timeout="0.05"/>)");
  EXPECT_EQ(c.encode(*wait), "");
  EXPECT_NEAR(c.s.timer, 0.05, 0.02);
  EXPECT_EQ(c.feed(deliver_frames(1, 4, "x"), wait.get()), ConnEvent::none);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::waited);
  EXPECT_EQ(c.s["amqp_delivered"], 4u);
  EXPECT_TRUE(c.conn->is_wait(*wait)) << "idle_timeout does not apply";
  EXPECT_FALSE(c.conn->is_wait(*open));
}

TEST(AmqpConnection, PublisherConfirms) {
  Client c;
  c.open();
  auto open = request(R"(<amqp type="channel.open"/>)");
  c.roundtrip(*open, 1, method::channel_open_ok);
  EXPECT_EQ(c.roundtrip(*request(R"(<amqp type="confirm.select"/>)"), 1, method::confirm_select_ok),
            ConnEvent::complete);
  c.vars.values["n"] = "1";
  auto publish = request(R"(<amqp type="basic.publish" channel="%%_n%%" exchange="x" routing_key="k" persistent="true" payload="m%%_n%%"/>)", true);
  for (int i = 0; i < 4; ++i) c.encode(*publish);
  Frame header = parse_frame(std::string_view(c.out).substr(parse_frame(c.out, 1 << 20).size), 1 << 20);
  Reader h(header.payload);
  h.u16();
  h.u16();
  EXPECT_EQ(h.u64(), 2u) << "the substituted payload 'm1'";
  EXPECT_EQ(h.u16(), 0x1000u);
  EXPECT_EQ(h.u8(), 2u) << "persistent: delivery_mode 2";
  // A long wait for the checks made before its end (a slow machine cannot reach it), then a
  // short one for its end.
  auto wait = request(R"(<amqp type="waitForConfirms" timeout="30"/>)");
  c.encode(*wait);
  EXPECT_NEAR(c.s.timer, 30, 1);
  EXPECT_EQ(c.feed(ack_frame(1, method::basic_ack, 2, true), wait.get()), ConnEvent::none);
  EXPECT_EQ(c.s["amqp_confirmed"], 2u);
  EXPECT_EQ(c.feed(ack_frame(1, method::basic_ack, 2, false), wait.get()), ConnEvent::none) << "twice: once";
  EXPECT_EQ(c.feed(ack_frame(1, method::basic_nack, 4, false), wait.get()), ConnEvent::none);
  EXPECT_EQ(c.s["amqp_unconfirmed"], 1u);
  EXPECT_EQ(c.feed(ack_frame(1, method::basic_ack, 3, false), wait.get()), ConnEvent::none)
      << "all four settled: the wait still lasts its timeout, as Tsung's thinktime";
  EXPECT_EQ(c.s["amqp_confirmed"], 3u);
  EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::none) << "early: the timer only re-arms";
  EXPECT_GT(c.s.timer, 20);
  auto short_wait = request(R"(<amqp type="waitForConfirms" timeout="0.05"/>)");
  c.encode(*short_wait);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::waited);
  EXPECT_TRUE(c.conn->is_wait(*wait));
  EXPECT_EQ(c.s["amqp_published"], 4u);
}

TEST(AmqpConnection, RefusedLoginsBadFramesAndClose) {
  auto r = request(R"(<amqp type="connection.open"/>)");
  {
    Client c;
    c.encode(*r);
    c.feed(start_frame(), r.get());
    c.s.sent.clear();
    EXPECT_EQ(c.feed(close_frame(0, method::connection_close, 403), r.get()), ConnEvent::fatal);
    EXPECT_STREQ(c.info.error, "amqp_access_refused");
    EXPECT_EQ(methods(c.s.sent).at(0).second, method::connection_close_ok);
  }
  {
    Client c(nullptr, 1024);  // max_frame_size
    c.encode(*r);
    std::string big(7, '\0');
    big[0] = 1;
    big[3] = 0x7F;  // a 2 GB frame announced: refused from its header, nothing awaited
    EXPECT_EQ(c.feed(big, r.get()), ConnEvent::fatal);
    EXPECT_STREQ(c.info.error, "amqp_frame_too_large");
    EXPECT_EQ(c.s["amqp_error"], 1u);
  }
  {
    Client c;
    c.encode(*r);
    EXPECT_EQ(c.feed(std::string_view("AMQP\0\0\x09\x01", 8), r.get()), ConnEvent::fatal);
    EXPECT_STREQ(c.info.error, "amqp_protocol_version");
    std::string bad = start_frame();
    bad.back() = 'x';
    Client d;
    d.encode(*r);
    EXPECT_EQ(d.feed(bad, r.get()), ConnEvent::fatal);
    EXPECT_STREQ(d.info.error, "amqp_bad_frame");
  }
  {
    Client c;  // a request before connection.open: counted, the user ends
    EXPECT_EQ(c.encode(*request(R"(<amqp type="channel.open"/>)")), "");
    EXPECT_EQ(c.s.timer, 0);
    EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::fatal);
    EXPECT_EQ(c.s["amqp_error"], 1u);
  }
  {
    Client c;
    c.open();
    auto close = request(R"(<amqp type="connection.close"/>)");
    EXPECT_EQ(c.roundtrip(*close, 0, method::connection_close_ok), ConnEvent::close);
    EXPECT_EQ(c.s["amqp_closed"], 1u);
  }
}

// Content frames: a delivery counts (and is acked) once its header and whole body arrived.
std::string header_frame(std::uint16_t channel, std::uint64_t size) {
  std::string out;
  std::size_t start = begin_frame(out, kFrameHeader, channel);
  Writer w{out};
  w.u16(60);
  w.u16(0);
  w.u64(size);
  w.u16(0);
  end_frame(out, start);
  return out;
}
std::string body_frame(std::uint16_t channel, std::string_view body) {
  std::string out;
  std::size_t start = begin_frame(out, kFrameBody, channel);
  out.append(body);
  end_frame(out, start);
  return out;
}
std::string deliver_method(std::uint16_t channel, std::uint64_t tag) {
  std::string all = deliver_frames(channel, tag, "");
  return all.substr(0, parse_frame(all, 1 << 20).size);
}
// A client with channel 1 consuming with acks.
void consuming(Client& c) {
  c.open(8192);
  c.roundtrip(*request(R"(<amqp type="channel.open"/>)"), 1, method::channel_open_ok);
  auto consume = request(R"(<amqp type="basic.consume" queue="q" ack="true"/>)");
  c.encode(*consume);
  c.feed(method_frame(1, method::basic_consume_ok, [](Writer& w) { w.shortstr("ctag"); }), consume.get());
  c.s.sent.clear();
}

TEST(AmqpConnection, DeliveriesCountOnceTheirContentIsComplete) {
  Client c;
  consuming(c);
  EXPECT_EQ(c.feed(deliver_method(1, 7), nullptr), ConnEvent::none);
  EXPECT_EQ(c.feed(header_frame(1, 5), nullptr), ConnEvent::none);
  EXPECT_EQ(c.feed(body_frame(1, "he"), nullptr), ConnEvent::none);
  EXPECT_EQ(c.s["amqp_delivered"], 0u) << "3 body bytes still to come";
  EXPECT_EQ(c.s.sent, "") << "no ack before the content";
  // Another channel's method between body frames is allowed (frames interleave across channels).
  EXPECT_EQ(c.feed(method_frame(2, method::channel_flow, [](Writer& w) { w.u8(1); }), nullptr), ConnEvent::none);
  c.s.sent.clear();
  EXPECT_EQ(c.feed(body_frame(1, "llo"), nullptr), ConnEvent::none);
  EXPECT_EQ(c.s["amqp_delivered"], 1u);
  Frame ack = parse_frame(c.s.sent, 1 << 20);
  ASSERT_EQ(ack.status, Frame::Status::whole);
  Reader a(ack.payload);
  EXPECT_EQ(a.u32(), method::basic_ack);
  EXPECT_EQ(a.u64(), 7u) << "the delivery's tag";
  // An empty body: complete with its header.
  c.feed(deliver_method(1, 8) + header_frame(1, 0), nullptr);
  EXPECT_EQ(c.s["amqp_delivered"], 2u);

  auto fatal = [](const std::string& bytes, const char* why) {
    Client d;
    consuming(d);
    EXPECT_EQ(d.feed(bytes, nullptr), ConnEvent::fatal) << why;
    EXPECT_STREQ(d.info.error, "amqp_unexpected_frame") << why;
    EXPECT_EQ(d.s["amqp_delivered"], 0u) << why;
    EXPECT_EQ(d.s["amqp_error"], 1u) << why;
  };
  fatal(header_frame(1, 3), "a header with no delivery");
  fatal(body_frame(1, "x"), "a body with no delivery");
  fatal(deliver_method(1, 1) + body_frame(1, "x"), "a body before the header");
  fatal(deliver_method(1, 1) + header_frame(1, 2) + body_frame(1, "xyz"), "more body than announced");
  fatal(deliver_method(1, 1) + header_frame(1, 2) + deliver_method(1, 2), "a method in the middle of content");
  fatal(deliver_method(1, 1) + header_frame(1, 2) + header_frame(1, 2), "a second header");
}

TEST(AmqpConnection, FramesCutAtEveryByte) {
  Client c;
  consuming(c);
  EXPECT_EQ(c.roundtrip(*request(R"(<amqp type="confirm.select"/>)"), 1, method::confirm_select_ok),
            ConnEvent::complete);
  auto publish = request(R"(<amqp type="basic.publish" payload="m"/>)");
  for (int i = 0; i < 3; ++i) c.encode(*publish);
  auto wait = request(R"(<amqp type="waitForConfirms" timeout="5"/>)");
  c.encode(*wait);
  c.s.sent.clear();
  std::string hb;
  heartbeat(hb);
  std::string bytes = deliver_frames(1, 1, "hello") + hb + deliver_frames(1, 2, std::string(5000, 'x')) +
                      ack_frame(1, method::basic_ack, 1, false) + ack_frame(1, method::basic_nack, 3, true);
  EXPECT_EQ(c.feed_bytewise(bytes, wait.get()), std::vector<ConnEvent>{}) << "the wait lasts its timeout";
  EXPECT_EQ(c.s["amqp_delivered"], 2u);
  EXPECT_EQ(c.s["amqp_confirmed"], 1u);
  EXPECT_EQ(c.s["amqp_unconfirmed"], 2u) << "one multiple nack settles 2 and 3";
  EXPECT_EQ(methods(c.s.sent).size(), 2u) << "two acks";
}

TEST(AmqpConnection, MalformedAndOversizedFrames) {
  auto r = request(R"(<amqp type="connection.open"/>)");
  {  // connection.start cut inside its mechanisms
    Client c;
    c.encode(*r);
    std::string cut = method_frame(0, method::connection_start, [&](Writer& w) {
      w.u8(0);
      w.u8(9);
      w.u32(0);
      w.u32(5);  // mechanisms announced 5 bytes, 2 follow
      w.u8('P');
      w.u8('L');
    });
    EXPECT_EQ(c.feed(cut, r.get()), ConnEvent::fatal);
    EXPECT_STREQ(c.info.error, "amqp_no_plain_mechanism");
    EXPECT_EQ(c.s.sent, "") << "no start_ok";
  }
  {  // a long string announcing 4 GB
    Client c;
    c.encode(*r);
    std::string huge = method_frame(0, method::connection_start, [&](Writer& w) {
      w.u8(0);
      w.u8(9);
      w.u32(0xFFFFFFFF);
      w.longstr("PLAIN");
    });
    EXPECT_EQ(c.feed(huge, r.get()), ConnEvent::fatal);
    EXPECT_STREQ(c.info.error, "amqp_no_plain_mechanism");
  }
  {  // above the negotiated frame_max (8192) though below max_frame_size (16 MB)
    Client c;
    c.open(8192);
    std::string big = body_frame(1, std::string(8200, 'x'));
    EXPECT_EQ(c.feed(big, nullptr), ConnEvent::fatal);
    EXPECT_STREQ(c.info.error, "amqp_frame_too_large");
    Client d;
    d.open(8192);
    EXPECT_EQ(d.feed(body_frame(1, std::string(8184, 'x')), nullptr), ConnEvent::fatal);
    EXPECT_STREQ(d.info.error, "amqp_unexpected_frame") << "8192 - 8 payload bytes fit (then: no delivery)";
  }
  {  // a bad frame end on the second frame: the first is used, then the user ends
    Client c;
    c.open();
    std::string hb;
    heartbeat(hb);
    std::string second = hb;
    second.back() = 'x';
    std::string both = hb + second;
    ConnResult res = c.conn->on_data(c.s, nullptr, {both.data(), both.size()}, c.info);
    EXPECT_EQ(res.event, ConnEvent::fatal);
    EXPECT_EQ(res.consumed, 8u);
    EXPECT_STREQ(c.info.error, "amqp_bad_frame");
  }
}

TEST(AmqpConnection, FrameMaxNeverAboveMaxFrameSize) {
  Client c(nullptr, 2048);
  auto r = request(R"(<amqp type="connection.open"/>)");
  c.encode(*r);
  c.feed(start_frame(), r.get());
  c.s.sent.clear();
  c.feed(tune_frame(0, 0, 0), r.get());
  Reader t(parse_frame(c.s.sent, 1 << 20).payload);
  t.u32();
  t.u16();
  EXPECT_EQ(t.u32(), 2048u) << "what we advertise is what we accept";
  c.feed(method_frame(0, method::connection_open_ok, [](Writer& w) { w.shortstr(""); }), r.get());
  std::string bytes = c.encode(*request(R"(<amqp type="basic.publish" payload_size="3000"/>)"));
  auto frames = methods(bytes);
  ASSERT_EQ(frames.size(), 4u) << "method, header, 2040 + 960 body bytes";
  EXPECT_EQ(c.feed(body_frame(1, std::string(2041, 'x')), nullptr), ConnEvent::fatal);
  EXPECT_STREQ(c.info.error, "amqp_frame_too_large");
}

TEST(AmqpConnection, ChannelCloseDuringAWaitIsCountedOnly) {
  Client c;
  c.open();
  c.roundtrip(*request(R"(<amqp type="channel.open"/>)"), 1, method::channel_open_ok);
  c.roundtrip(*request(R"(<amqp type="confirm.select"/>)"), 1, method::confirm_select_ok);
  auto publish = request(R"(<amqp type="basic.publish" exchange="nope"/>)");
  c.encode(*publish);
  c.encode(*publish);
  auto wait = request(R"(<amqp type="waitForConfirms" timeout="30"/>)");
  c.encode(*wait);
  EXPECT_EQ(c.feed(close_frame(1, method::channel_close, 404), wait.get()), ConnEvent::none)
      << "the wait goes on";
  EXPECT_EQ(c.s["error_amqp_not_found"], 1u);
  EXPECT_EQ(methods(c.s.sent).back(), std::make_pair(std::uint16_t{1}, method::channel_close_ok));
}

TEST(AmqpConnection, DeferredFatalIsNotDowngraded) {
  Client c;
  c.open();
  c.vars.values["x"] = std::string(256, 'e');
  c.encode(*request(R"(<amqp type="basic.publish" exchange="%%_x%%"/>)", true));
  EXPECT_EQ(c.out, "") << "nothing truncated is sent";
  EXPECT_EQ(c.s["amqp_error"], 1u);
  EXPECT_EQ(c.s["amqp_published"], 0u);
  c.encode(*request(R"(<amqp type="waitForConfirms"/>)"));  // would wait 1 s
  EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::fatal);
  Client d;
  d.open();
  d.vars.values["q"] = std::string(300, 'q');
  d.encode(*request(R"(<amqp type="basic.consume" queue="%%_q%%"/>)", true));
  EXPECT_EQ(d.out, "");
  EXPECT_EQ(d.conn->on_timer(d.s), ConnEvent::fatal);
  Client e;
  e.open();
  e.vars.values["q"] = std::string(255, 'q');
  e.encode(*request(R"(<amqp type="basic.consume" queue="%%_q%%"/>)", true));
  EXPECT_NE(e.out, "") << "255 bytes fit";
  // Any deferred fatal (here a channel that is not a number) outlives a later complete.
  Client f;
  f.open();
  f.vars.values["c"] = "x";
  f.encode(*request(R"(<amqp type="basic.publish" channel="%%_c%%"/>)", true));
  f.encode(*request(R"(<amqp type="waitForConfirms"/>)"));
  EXPECT_EQ(f.conn->on_timer(f.s), ConnEvent::fatal);
  EXPECT_EQ(f.s["amqp_error"], 1u);
}

TEST(AmqpParse, LongNamesAndPayloadSizeWithPayloadAreRefused) {
  auto error_of = [](const std::string& xml) {
    return test::scenario_error_of([&] { request(xml); }, "accepted");
  };
  std::string n256(256, 'n'), n255(255, 'n');
  for (const char* attr : {"exchange", "routing_key"}) {
    EXPECT_NE(error_of(R"(<amqp type="basic.publish" )" + std::string(attr) + "=\"" + n256 + "\"/>").find("255 bytes"),
              std::string::npos) << attr;
    EXPECT_EQ(error_of(R"(<amqp type="basic.publish" )" + std::string(attr) + "=\"" + n255 + "\"/>"), "accepted");
  }
  EXPECT_NE(error_of(R"(<amqp type="basic.consume" queue=")" + n256 + "\"/>").find("attribute queue"), std::string::npos);
  EXPECT_NE(error_of(R"(<amqp type="connection.open" vhost=")" + n256 + "\"/>").find("attribute vhost"), std::string::npos);
  EXPECT_NE(error_of(R"(<amqp type="basic.publish" payload="m" payload_size="10"/>)").find("payload is sent instead"),
            std::string::npos);
  EXPECT_EQ(error_of(R"(<amqp type="basic.publish" payload="" payload_size="10"/>)"), "accepted");
  EXPECT_EQ(error_of(R"(<amqp type="basic.publish" payload="m"/>)"), "accepted");
}

}  // namespace
}  // namespace loadctl::amqp
