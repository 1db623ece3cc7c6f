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

void loadctl_register_amqp(loadctl::ProtocolRegistry& registry);

namespace loadctl::amqp {
namespace {

struct FakeServices final : ConnectionServices {
  std::string sent;
  double timer = -1;  // seconds of the last set_timer, -1 none
  std::vector<std::string> names;
  std::map<std::string, std::uint64_t> counts;
  void send(std::string_view bytes) override { sent.append(bytes); }
  void start_tls() override {}
  void set_timer(double s) override { timer = s; }
  void cancel_timer() override { timer = -1; }
  ConnMetric metric(std::string_view name, ConnMetricKind) override {
    names.emplace_back(name);
    return static_cast<ConnMetric>(names.size() - 1);
  }
  void count(ConnMetric m, std::uint64_t n) override { counts[names.at(m)] += n; }
  void sample(ConnMetric, double) override {}
  void set_var(std::string_view, std::string_view) override {}
  void error(std::string_view name) override { counts["error_" + std::string(name)]++; }
  const VariableSource* vars() const override { return nullptr; }
  std::uint64_t operator[](const std::string& name) const {
    auto it = counts.find(name);
    return it == counts.end() ? 0 : it->second;
  }
};

struct Vars final : VariableSource {
  std::map<std::string, std::string, std::less<>> values;
  bool append(std::string_view name, std::string& out) const override {
    auto it = values.find(name);
    if (it == values.end()) return false;
    out += it->second;
    return true;
  }
};

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
  static std::vector<std::unique_ptr<pugi::xml_document>> docs;  // nodes outlive the call
  docs.push_back(std::make_unique<pugi::xml_document>());
  EXPECT_TRUE(docs.back()->load_string(xml.c_str()));
  RequestParseContext ctx;
  ctx.subst = subst;
  ctx.subst_body = subst;
  ctx.options = options;
  return protocol().parse_request(docs.back()->first_child(), ctx);
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

struct Client {
  FakeServices s;
  std::unique_ptr<Connection> conn;
  Vars vars;
  std::string out;
  ResponseInfo info;

  explicit Client(const ProtocolOptions* options = nullptr, std::size_t max_frame = 16 << 20) {
    ConnectionContext ctx;
    ctx.options = options;
    ctx.max_frame_size = max_frame;
    conn = protocol().open_connection(ctx);
    EXPECT_FALSE(conn->on_open(s));
  }
  // Encodes `r`; returns the bytes it wrote.
  std::string encode(const RequestSpec& r) {
    out.clear();
    EncodeContext ctx;
    ctx.vars = &vars;
    conn->encode(s, r, ctx, out);
    return out;
  }
  // Offers `bytes` as the engine does (again with the rest while something is consumed).
  ConnEvent feed(std::string_view bytes, const RequestSpec* pending) {
    info = {};
    while (!bytes.empty()) {
      ConnResult r = conn->on_data(s, pending, {bytes.data(), bytes.size()}, info);
      bytes.remove_prefix(r.consumed);
      if (r.event != ConnEvent::none) {
        if (r.event != ConnEvent::fatal)  // a fatal event closes the connection: the rest is dropped
          EXPECT_TRUE(bytes.empty()) << bytes.size() << " bytes left after an event";
        return r.event;
      }
      if (r.consumed == 0) break;
    }
    return ConnEvent::none;
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
  auto error_of = [](const std::string& xml, bool subst = false) -> std::string {
    try {
      request(xml, subst);
    } catch (const ScenarioError& e) {
      return e.what();
    }
    return "accepted";
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
  // waitForMessages: the timer (or idle_timeout) ends it.
  auto wait = request(R"(<amqp type="waitForMessages" timeout="0.05"/>)");
  EXPECT_EQ(c.encode(*wait), "");
  EXPECT_NEAR(c.s.timer, 0.05, 0.02);
  EXPECT_EQ(c.feed(deliver_frames(1, 4, "x"), wait.get()), ConnEvent::none);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::complete);
  EXPECT_EQ(c.s["amqp_delivered"], 4u);
  EXPECT_TRUE(c.conn->timeout_completes(*wait));
  EXPECT_FALSE(c.conn->timeout_completes(*open));
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
  auto wait = request(R"(<amqp type="waitForConfirms" timeout="5"/>)");
  c.encode(*wait);
  EXPECT_NEAR(c.s.timer, 5, 0.1);
  EXPECT_EQ(c.feed(ack_frame(1, method::basic_ack, 2, true), wait.get()), ConnEvent::none);
  EXPECT_EQ(c.s["amqp_confirmed"], 2u);
  EXPECT_EQ(c.feed(ack_frame(1, method::basic_ack, 2, false), wait.get()), ConnEvent::none) << "twice: once";
  EXPECT_EQ(c.feed(ack_frame(1, method::basic_nack, 4, false), wait.get()), ConnEvent::none);
  EXPECT_EQ(c.s["amqp_unconfirmed"], 1u);
  EXPECT_EQ(c.feed(ack_frame(1, method::basic_ack, 3, false), wait.get()), ConnEvent::complete)
      << "all four settled: the wait ends before its timeout";
  EXPECT_EQ(c.s["amqp_confirmed"], 3u);
  // Nothing outstanding: waitForConfirms completes at once (from the timer, armed at 0).
  c.encode(*wait);
  EXPECT_EQ(c.s.timer, 0);
  EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::complete);
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

}  // namespace
}  // namespace loadctl::amqp
