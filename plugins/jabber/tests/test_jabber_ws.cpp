// XMPP over WebSocket (jabber_ws.cpp): RFC 7395 framing both ways, the opening handshake with
// Tsung's websocket options, control frames, limits; the server types at load.
#include <gtest/gtest.h>

#include <map>
#include <pugixml.hpp>

#include "jabber_test_support.hpp"
#include "jabber_ws.hpp"
#include "loadctl/connection.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"
#include "../websocket/ws_frame.hpp"  // the websocket plugin's codec (loadctl_ws_frame)

namespace loadctl::jabber {
namespace {

namespace ws = loadctl::websocket;

const Protocol& jabber() { return test::protocol(); }

std::shared_ptr<const RequestSpec> request(const char* xml) {
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_string(xml));
  return jabber().parse_request(doc.first_child(), RequestParseContext{});
}

// A server frame (unmasked), as prosody sends them.
std::string server_frame(std::string_view payload, std::uint8_t opcode = ws::op_text, bool fin = true) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | opcode);
  if (payload.size() < 126) {
    f += static_cast<char>(payload.size());
  } else {
    f += static_cast<char>(126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  }
  return f.append(payload);
}

// The client's frames in `bytes`, unmasked: (opcode, payload) each.
std::vector<std::pair<int, std::string>> client_frames(std::string bytes) {
  std::vector<std::pair<int, std::string>> frames;
  while (!bytes.empty()) {
    ws::FrameHeader h;
    EXPECT_EQ(ws::parse_header(bytes, h), ws::HeaderStatus::ok);
    EXPECT_TRUE(h.masked && h.fin);
    std::string payload = bytes.substr(h.header_size, h.payload_size);
    ws::apply_mask(payload.data(), payload.size(), h.mask);
    frames.emplace_back(h.opcode, payload);
    bytes.erase(0, h.header_size + h.payload_size);
  }
  return frames;
}

using Services = test::FakeServices;


// One WebSocket connection of a ts_jabber session, driven as the engine drives it.
struct Client {
  CarrierOptions carrier;
  std::unique_ptr<Connection> conn;
  Services s;
  std::string unconsumed;
  std::vector<ConnEvent> events;
  std::string error, content;

  explicit Client(std::size_t max_frame_size = 4096, bool bidi = false, std::string subprotocols = "") {
    carrier.websocket_path = "/xmpp-websocket";
    carrier.websocket_text = true;
    carrier.websocket_subprotocols = std::move(subprotocols);
    ConnectionContext ctx;
    ctx.server_type = "websocket";
    ctx.host = "xmpp.test";
    ctx.carrier = &carrier;
    ctx.max_frame_size = max_frame_size;
    ctx.bidi = bidi;
    conn = jabber().open_connection(ctx);
  }
  std::string encode(const RequestSpec& r) {
    std::string out;
    conn->encode(s, r, EncodeContext{}, out);
    return out;
  }
  void feed(std::string_view bytes, const RequestSpec* pending) {
    unconsumed += bytes;
    std::size_t offset = 0;
    while (offset < unconsumed.size()) {
      ResponseInfo info;
      ConnResult r = conn->on_data(s, pending, {unconsumed.data() + offset, unconsumed.size() - offset}, info);
      offset += r.consumed;
      if (info.content) content = *info.content;
      if (r.event != ConnEvent::none) {
        events.push_back(r.event);
        if (info.error) error = info.error;
        if (r.event == ConnEvent::complete) pending = nullptr;
      }
      if (r.consumed == 0) break;
    }
    unconsumed.erase(0, offset);
  }
  // The handshake Tsung sends, answered by a server that accepts it.
  void open() {
    ASSERT_TRUE(conn->on_open(s));
    std::string_view sent = s.sent;
    auto key_at = sent.find("Sec-WebSocket-Key: ");
    ASSERT_NE(key_at, std::string_view::npos);
    char accept[ws::kAcceptSize];
    ws::accept_for(sent.substr(key_at + 19, ws::kKeySize), accept);
    s.sent.clear();
    feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
             std::string(accept, ws::kAcceptSize) + "\r\n\r\n",
         nullptr);
    ASSERT_EQ(events, std::vector<ConnEvent>{ConnEvent::ready});
    events.clear();
  }
};

TEST(JabberWs, UnframesOpenAndClose) {
  std::string out;
  append_unframed(out, " <open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='s1' version='1.0'/>");
  EXPECT_EQ(out, "<stream:stream xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='s1' version='1.0'>");
  out.clear();
  append_unframed(out, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
  EXPECT_EQ(out, "</stream:stream>");
  out.clear();  // other elements, and an <open> of another namespace, are left as they are
  append_unframed(out, "<openx xmlns='urn:ietf:params:xml:ns:xmpp-framing'/><open xmlns='other'/>");
  EXPECT_EQ(out, "<openx xmlns='urn:ietf:params:xml:ns:xmpp-framing'/><open xmlns='other'/>");
}

TEST(JabberWs, HandshakeWithTsungOptions) {
  Client c(4096, false, "xmpp");
  ASSERT_TRUE(c.conn->on_open(c.s));
  EXPECT_TRUE(c.s.sent.starts_with("GET /xmpp-websocket HTTP/1.1\r\nHost: xmpp.test\r\nUpgrade: websocket\r\n"));
  EXPECT_NE(c.s.sent.find("\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"), std::string::npos);
  // a wrong accept value ends the user
  c.feed("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n", nullptr);
  ASSERT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
  EXPECT_EQ(c.error, "websocket_handshake");
}

TEST(JabberWs, StreamOverFrames) {
  Client c(4096, true);
  c.open();
  auto connect = request(R"(<jabber type="connect" ack="local" version="websocket"/>)");
  auto frames = client_frames(c.encode(*connect));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].first, ws::op_text);  // websocket_frame="text"
  EXPECT_EQ(frames[0].second, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='erlang-projects.org' version='1.0'/>");
  // the server's <open/> then its features, one message each, in one read: the answer
  const std::string open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='s1' version='1.0'/>";
  c.feed(server_frame(open) + server_frame("<stream:features><mech"), connect.get());
  EXPECT_TRUE(c.events.empty());
  c.feed(server_frame("anisms/></stream:features>", ws::op_cont), connect.get());  // a bad continuation
  ASSERT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
  EXPECT_EQ(c.error, "websocket_protocol");

  Client d(4096, true);
  d.open();
  d.encode(*connect);
  // fragments of one message are reassembled; the content is the messages, frames stripped
  d.feed(server_frame(open) + server_frame("<stream:features><mech", ws::op_text, false), connect.get());
  d.feed(server_frame("anisms/></stream:features>", ws::op_cont), connect.get());
  ASSERT_EQ(d.events, std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_EQ(d.content, open + "<stream:features><mechanisms/></stream:features>");
  d.events.clear();
  // an iq waits for its id; a chat pushed meanwhile and a ping frame are handled on the way
  auto roster = request(R"(<jabber type="iq:roster:get" ack="local"/>)");
  std::string iq = client_frames(d.encode(*roster))[0].second;
  EXPECT_TRUE(iq.starts_with("<iq xmlns='jabber:client' type='get' id=")) << iq;  // RFC 7395 section 3.3.3
  std::string id = iq.substr(iq.find("id='") + 4);
  id = id.substr(0, id.find('\''));
  d.feed(server_frame("<message from='a@b'><body>hi</body></message>") + server_frame("p1", ws::op_ping) +
             server_frame("<iq type='result' id='" + id + "'/>"),
         roster.get());
  ASSERT_EQ(d.events, std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_EQ(d.s.counts["xmpp_chat_received"], 1u);
  auto pong = client_frames(d.s.sent);
  ASSERT_EQ(pong.size(), 1u);
  EXPECT_EQ(pong[0], (std::pair<int, std::string>{ws::op_pong, "p1"}));
  d.s.sent.clear();
  d.events.clear();
  // bidi replies go out framed; two elements in one message (Tsung 1.7 style) are both read
  d.feed(server_frame("<presence from='x@y' type='subscribe'/><presence from='z@y' type='subscribe'/>"), nullptr);
  auto replies = client_frames(d.s.sent);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1].second, "<presence xmlns='jabber:client' to='z@y' type='subscribed'/>");
  // close: <close/> out, the server's <close/> completes it
  auto close = request(R"(<jabber type="close" ack="local" version="websocket"/>)");
  EXPECT_EQ(client_frames(d.encode(*close))[0].second, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
  d.feed(server_frame("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"), close.get());
  ASSERT_EQ(d.events, std::vector<ConnEvent>{ConnEvent::close});
}

TEST(JabberWs, StarttlsOverAWebSocketEndsTheUser) {
  Client c;
  c.open();
  auto starttls = request(R"(<jabber type="starttls" ack="local"/>)");
  c.encode(*starttls);
  c.feed(server_frame("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"), starttls.get());
  ASSERT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
  EXPECT_EQ(c.error, "xmpp_starttls_over_websocket");
}

TEST(JabberWs, LimitsAndCloseFrame) {
  Client c(64);
  c.open();
  c.feed(server_frame(std::string(100, 'x')), nullptr);
  ASSERT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
  EXPECT_EQ(c.error, "websocket_frame_too_large");
  Client d;
  d.open();
  auto presence = request(R"(<jabber type="presence" ack="local"/>)");
  d.encode(*presence);
  d.feed(server_frame("\x03\xe8", ws::op_close), presence.get());
  ASSERT_EQ(d.events, std::vector<ConnEvent>{ConnEvent::close});
}

Scenario load(const std::string& servers, const std::string& session_type, const std::string& request) {
  std::string xml = R"(<?xml version="1.0"?><tsung><clients><client host="localhost" use_controller_vm="true"/></clients>
<servers>)" + servers + R"(</servers>
<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>
<options><option name="websocket_path" value="/xmpp-websocket"/><option name="websocket_frame" value="text"/></options>
<sessions><session name="s" probability="100" type=")" + session_type + R"(">
<request>)" + request + R"(</request></session></sessions></tsung>)";
  return load_scenario_text(xml, "ws.xml");
}

std::string refusal(const std::string& servers, const std::string& session_type, const std::string& request) {
  try {
    load(servers, session_type, request);
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(JabberWs, ServerTypesAtLoad) {
  const std::string chat = R"(<jabber type="chat" ack="no_ack"/>)";
  Scenario s = load(R"(<server host="h" port="5280" type="websocket"/><server host="h" port="5281" type="wss"/>)",
                    "ts_jabber", chat);
  ASSERT_EQ(s.servers.size(), 2u);
  EXPECT_EQ(s.servers[0].carrier, "websocket");
  EXPECT_EQ(s.servers[0].endpoint.transport, Transport::tcp);
  EXPECT_EQ(s.servers[1].carrier, "websocket");
  EXPECT_EQ(s.servers[1].endpoint.transport, Transport::ssl);
  EXPECT_EQ(s.options.carrier.websocket_path, "/xmpp-websocket");
  EXPECT_TRUE(s.options.carrier.websocket_text);
  // a protocol that does not carry the type: refused by name; jabber carries bosh and bosh_ssl
  std::string http = refusal(R"(<server host="h" port="80" type="websocket_ssl"/>)", "ts_http", R"(<http url="/"/>)");
  EXPECT_NE(http.find("ws.xml:5:"), std::string::npos) << http;
  EXPECT_NE(http.find("not supported yet: ts_http sessions over websocket"), std::string::npos) << http;
  Scenario b = load(R"(<server host="h" port="5280" type="bosh"/><server host="h" port="5281" type="bosh_ssl"/>)",
                    "ts_jabber", chat);
  EXPECT_EQ(b.servers[0].carrier, "bosh");
  EXPECT_EQ(b.servers[0].endpoint.transport, Transport::tcp);
  EXPECT_EQ(b.servers[1].carrier, "bosh");
  EXPECT_EQ(b.servers[1].endpoint.transport, Transport::ssl);
  std::string bosh = refusal(R"(<server host="h" port="5280" type="bosh"/>)", "ts_mqtt", R"(<mqtt type="connect"/>)");
  EXPECT_NE(bosh.find("not supported yet: ts_mqtt sessions over bosh"), std::string::npos) << bosh;
  EXPECT_NE(refusal(R"(<server host="h" port="1" type="erlang"/>)", "ts_jabber", chat).find("not supported yet"),
            std::string::npos);
}

}  // namespace
}  // namespace loadctl::jabber
