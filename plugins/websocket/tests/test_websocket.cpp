// The WebSocket plugin without a network: RFC 6455 vectors for the codec, and a WsConnection
// driven through a recording ConnectionServices (handshake, fragments, ping, close, limits).
#include <gtest/gtest.h>

#include <pugixml.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "loadctl/scenario_error.hpp"
#include "support/parse_request.hpp"
#include "websocket_request.hpp"
#include "ws_frame.hpp"

namespace loadctl::websocket {
namespace {

TEST(WebSocketFrame, AcceptKeyOfRfc6455) {
  char accept[kAcceptSize];
  accept_for("dGhlIHNhbXBsZSBub25jZQ==", accept);
  EXPECT_EQ(std::string(accept, kAcceptSize), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // RFC 6455 section 1.3
}

TEST(WebSocketFrame, MaskedHelloOfRfc6455) {
  std::string out;
  const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  append_frame(out, op_text, "Hello", mask);
  EXPECT_EQ(out, std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
}

TEST(WebSocketFrame, LengthEncodings) {
  const unsigned char mask[4] = {1, 2, 3, 4};
  for (std::size_t size : {0u, 125u, 126u, 65535u, 65536u, 70000u}) {
    std::string out;
    append_frame(out, op_binary, std::string(size, 'x'), mask);
    FrameHeader h;
    ASSERT_EQ(parse_header(out, h), HeaderStatus::ok) << size;
    EXPECT_EQ(h.payload_size, size);
    EXPECT_TRUE(h.fin);
    EXPECT_TRUE(h.masked);
    EXPECT_EQ(h.opcode, op_binary);
    EXPECT_EQ(h.header_size + size, out.size());
    std::string payload = out.substr(h.header_size);
    apply_mask(payload.data(), payload.size(), h.mask);
    EXPECT_EQ(payload, std::string(size, 'x'));
    FrameHeader partial;
    EXPECT_EQ(parse_header(std::span<const char>(out.data(), h.header_size - 1), partial), HeaderStatus::need_more);
  }
}

// Masking keys come from RAND_bytes through a 4 KB per-thread pool (1024 keys): across several
// refills they do not repeat (a pool not refilled, or refilled with the same bytes, would).
TEST(WebSocketFrame, MaskingKeysDoNotRepeatAcrossPoolRefills) {
  std::set<std::string> keys;
  constexpr int kFrames = 5000;
  for (int i = 0; i < kFrames; ++i) {
    std::string out;
    append_frame(out, op_text, "x");
    FrameHeader h;
    ASSERT_EQ(parse_header(out, h), HeaderStatus::ok);
    keys.emplace(reinterpret_cast<const char*>(h.mask), 4);
  }
  // 5000 random 32-bit keys: a collision has a probability of about 0.3 %; allow a few.
  EXPECT_GE(keys.size(), static_cast<std::size_t>(kFrames - 3));
}

TEST(WebSocketFrame, HandshakeCheck) {
  const char* accept = "s3pPLMBiTxaQ9kOcGbXMD5yrR4M=";
  std::string ok = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kOcGbXMD5yrR4M=\r\n\r\n";
  EXPECT_EQ(check_handshake(ok, accept), nullptr);
  EXPECT_NE(check_handshake("HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kOcGbXMD5yrR4M=\r\n\r\n", accept), nullptr);
  EXPECT_NE(check_handshake("HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: AAAALMBiTxaQ9kOcGbXMD5yrR4M=\r\n\r\n", accept), nullptr);
  EXPECT_NE(check_handshake("HTTP/1.1 101 X\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kOcGbXMD5yrR4M=\r\n\r\n", accept), nullptr);
}

// Records what the connection asks of the engine.
struct FakeServices final : ConnectionServices {
  std::string sent;
  std::vector<std::string> counted;
  std::vector<std::string> names;
  std::vector<std::string> errors;
  int timers = 0;
  void send(std::string_view bytes) override { sent.append(bytes); }
  void start_tls() override {}
  void set_timer(double) override { ++timers; }
  void cancel_timer() override {}
  ConnMetric metric(std::string_view name, ConnMetricKind) override {
    names.emplace_back(name);
    return static_cast<ConnMetric>(names.size() - 1);
  }
  void count(ConnMetric m, std::uint64_t) override { counted.push_back(names.at(m)); }
  void sample(ConnMetric, double) override {}
  void set_var(std::string_view, std::string_view) override {}
  void error(std::string_view name) override { errors.emplace_back(name); }
  const VariableSource* vars() const override { return nullptr; }
};

std::shared_ptr<const WsRequest> request(const char* xml) {
  return parse_websocket_request(test::kept_element(xml), test::subst_context(true));
}

// A server frame (unmasked).
std::string frame(unsigned char first, std::string_view payload) {
  std::string out(1, static_cast<char>(first));
  if (payload.size() < 126) {
    out += static_cast<char>(payload.size());
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>(payload.size() >> shift);
  }
  out += payload;
  return out;
}

// Feeds `bytes` as the engine does: again with the rest while something is consumed.
std::vector<ConnEvent> feed(WsConnection& c, FakeServices& s, const RequestSpec* pending, std::string& bytes,
                            ResponseInfo& info, std::string* content = nullptr) {
  std::vector<ConnEvent> events;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    info = ResponseInfo{};
    ConnResult r = c.on_data(s, pending, std::span<const char>(bytes.data() + offset, bytes.size() - offset), info);
    if (info.content && content) *content = std::string(*info.content);
    offset += r.consumed;
    if (r.event != ConnEvent::none) events.push_back(r.event);
    if (r.consumed == 0) break;
  }
  bytes.erase(0, offset);
  return events;
}

// Opens `c`: encodes the connect, answers it as a server would.
void open(WsConnection& c, FakeServices& s, const WsRequest& connect) {
  c.on_open(s);
  std::string out;
  EncodeContext ctx;
  ctx.host_header = "example.org:8080";
  c.encode(s, connect, ctx, out);
  ASSERT_TRUE(out.starts_with("GET /chat?x=1 HTTP/1.1\r\nHost: example.org:8080\r\n")) << out;
  EXPECT_NE(out.find("\r\nOrigin: http://example.org:8080\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nX-Token: abc\r\nSec-WebSocket-Protocol: chat\r\n\r\n"), std::string::npos) << out;
  std::size_t k = out.find("Sec-WebSocket-Key: ") + 19;
  char accept[kAcceptSize];
  accept_for(out.substr(k, kKeySize), accept);
  std::string answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: " + std::string(accept, kAcceptSize) + "\r\n\r\n";
  answer += frame(0x81, "early");  // a message right behind the 101: not part of the handshake
  ResponseInfo info;
  auto events = feed(c, s, &connect, answer, info);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], ConnEvent::complete);
  EXPECT_TRUE(answer.empty());
  EXPECT_EQ(s.counted, std::vector<std::string>{"websocket_succ"});
}

const char* kConnect =
    R"(<websocket type="connect" path="/chat?x=1" subprotocols="chat"><http_header name="X-Token" value="abc"/></websocket>)";

TEST(WebSocketConnection, FragmentsPingAndPayloadAsContent) {
  auto connect = request(kConnect);
  auto message = request(R"(<websocket type="message" frame="text">hi</websocket>)");
  WsConnection c(1 << 20);
  FakeServices s;
  open(c, s, *connect);

  std::string out;
  c.encode(s, *message, EncodeContext{}, out);
  FrameHeader h;
  ASSERT_EQ(parse_header(out, h), HeaderStatus::ok);
  EXPECT_EQ(h.opcode, op_text);
  EXPECT_TRUE(h.masked);

  // "{"uid": 7}" in three fragments with a ping between them, arriving byte by byte.
  std::string in = frame(0x01, "{\"uid\"") + frame(0x89, "p1") + frame(0x00, ": ") + frame(0x80, "7}");
  std::string content;
  std::vector<ConnEvent> events;
  std::string pending;
  for (char byte : in) {
    pending += byte;
    ResponseInfo info;
    for (ConnEvent e : feed(c, s, message.get(), pending, info, &content)) events.push_back(e);
  }
  ASSERT_EQ(events, std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_EQ(content, "{\"uid\": 7}");
  // The pong: masked, same payload.
  ASSERT_EQ(parse_header(s.sent, h), HeaderStatus::ok);
  EXPECT_EQ(h.opcode, op_pong);
  std::string pong = s.sent.substr(h.header_size);
  apply_mask(pong.data(), pong.size(), h.mask);
  EXPECT_EQ(pong, "p1");

  // A whole message while nobody waits: not a response.
  std::string push = frame(0x82, "pushed");
  ResponseInfo info;
  EXPECT_TRUE(feed(c, s, nullptr, push, info).empty());
}

// What the engine keeps as the pending request's content (user_connection.cpp): info.content
// replaces what was captured, else the consumed bytes are appended.
struct Capture {
  std::string bytes;
  std::size_t max = 0;
  std::vector<ConnEvent> events;
  void feed(WsConnection& c, FakeServices& s, const RequestSpec* pending, std::string& in, ResponseInfo& info) {
    std::size_t offset = 0;
    while (offset < in.size()) {
      info = ResponseInfo{};
      std::span<const char> data(in.data() + offset, in.size() - offset);
      ConnResult r = c.on_data(s, pending, data, info);
      std::string_view captured = info.content ? *info.content : std::string_view(data.data(), r.consumed);
      if (info.content) bytes.clear();
      bytes += captured;
      max = std::max(max, bytes.size());
      offset += r.consumed;
      if (r.event != ConnEvent::none) events.push_back(r.event);
      if (r.consumed == 0 || r.event == ConnEvent::fatal) break;
    }
    in.erase(0, offset);
  }
};

// Frame headers, a ping and the pieces of a fragmented message are never the pending request's
// content, even for a moment: max_capture_size counts the payload alone.
TEST(WebSocketConnection, OnlyThePayloadIsCaptured) {
  auto connect = request(kConnect);
  auto message = request(R"(<websocket type="message">x</websocket>)");
  WsConnection c(1 << 20);
  FakeServices s;
  open(c, s, *connect);
  std::string in = frame(0x02, "ab") + frame(0x89, std::string(100, 'p')) + frame(0x00, "cd") + frame(0x80, "e");
  Capture capture;
  std::string pending;
  for (char byte : in) {  // byte by byte: partial headers and payloads too
    pending += byte;
    ResponseInfo info;
    capture.feed(c, s, message.get(), pending, info);
  }
  EXPECT_EQ(capture.events, std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_EQ(capture.bytes, "abcde");
  EXPECT_LE(capture.max, 5u) << "raw frame bytes were captured";

  // A server close while a message waits: the close payload is the content, not the frame.
  std::string close = frame(0x88, std::string("\x03\xe8" "bye", 5));
  Capture closing;
  ResponseInfo info;
  closing.feed(c, s, message.get(), close, info);
  EXPECT_EQ(closing.events, std::vector<ConnEvent>{ConnEvent::close});
  EXPECT_EQ(closing.bytes, std::string("\x03\xe8" "bye", 5));
}

// An oversized message ends the user with error_websocket_frame_too_large: its raw bytes are not
// captured first (the engine would report error_response_too_large instead).
TEST(WebSocketConnection, OversizedFrameBytesAreNotCaptured) {
  auto connect = request(kConnect);
  auto message = request(R"(<websocket type="message">x</websocket>)");
  for (std::string in : {frame(0x02, std::string(60, 'a')) + frame(0x80, std::string(60, 'b')),
                         frame(0x82, std::string(300, 'z'))}) {
    WsConnection c(100);
    FakeServices s;
    open(c, s, *connect);
    Capture capture;
    ResponseInfo info;
    capture.feed(c, s, message.get(), in, info);
    EXPECT_EQ(capture.events, std::vector<ConnEvent>{ConnEvent::fatal});
    EXPECT_STREQ(info.error, "websocket_frame_too_large");
    EXPECT_EQ(capture.max, 0u);
  }
}

// After a large message, an idle connection keeps no large reassembly buffer; the content of
// the message is still whole when on_data returns.
TEST(WebSocketConnection, LargeMessageBufferIsReleased) {
  auto connect = request(kConnect);
  auto message = request(R"(<websocket type="message">x</websocket>)");
  WsConnection c(1 << 20);
  FakeServices s;
  open(c, s, *connect);
  std::string payload(200 * 1024, 'q');
  payload[12345] = 'r';
  std::string in = frame(0x02, std::string_view(payload).substr(0, 100 * 1024)) +
                   frame(0x80, std::string_view(payload).substr(100 * 1024));
  std::string content;
  std::string piece;
  std::vector<ConnEvent> events;
  for (std::size_t at = 0; at < in.size(); at += 16 * 1024) {  // arrives 16 KB at a time
    piece += in.substr(at, 16 * 1024);
    ResponseInfo info;
    for (ConnEvent e : feed(c, s, message.get(), piece, info, &content)) events.push_back(e);
  }
  ASSERT_EQ(events, std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_EQ(content, payload);
  EXPECT_LE(c.held_bytes(), 64u * 1024);
  // A small fragmented message afterwards still works.
  std::string small = frame(0x01, "a") + frame(0x80, "b");
  ResponseInfo info;
  EXPECT_EQ(feed(c, s, message.get(), small, info, &content), std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_EQ(content, "ab");
}

// A 1-byte close payload has no status code: the answer is 1002 (protocol error), not an echo.
TEST(WebSocketConnection, OneByteClosePayloadIsAnsweredWith1002) {
  auto connect = request(kConnect);
  WsConnection c(1 << 20);
  FakeServices s;
  open(c, s, *connect);
  std::string in = frame(0x88, "x");
  ResponseInfo info;
  EXPECT_EQ(feed(c, s, nullptr, in, info), std::vector<ConnEvent>{ConnEvent::close});
  FrameHeader h;
  ASSERT_EQ(parse_header(s.sent, h), HeaderStatus::ok);
  EXPECT_EQ(h.opcode, op_close);
  std::string code = s.sent.substr(h.header_size);
  apply_mask(code.data(), code.size(), h.mask);
  EXPECT_EQ(code, std::string("\x03\xea", 2));
}

TEST(WebSocketConnection, ServerCloseIsAnsweredAndCompletes) {
  auto connect = request(kConnect);
  auto message = request(R"(<websocket type="message">x</websocket>)");
  WsConnection c(1 << 20);
  FakeServices s;
  open(c, s, *connect);
  std::string in = frame(0x88, std::string("\x03\xe9", 2));
  ResponseInfo info;
  EXPECT_EQ(feed(c, s, message.get(), in, info), std::vector<ConnEvent>{ConnEvent::close});
  FrameHeader h;
  ASSERT_EQ(parse_header(s.sent, h), HeaderStatus::ok);
  EXPECT_EQ(h.opcode, op_close);
  std::string code = s.sent.substr(h.header_size);
  apply_mask(code.data(), code.size(), h.mask);
  EXPECT_EQ(code, std::string("\x03\xe9", 2));
}

TEST(WebSocketConnection, OversizedFramesAndBadFramesEndTheUser) {
  auto connect = request(kConnect);
  auto message = request(R"(<websocket type="message">x</websocket>)");
  // Feeds `in` to an open connection whose max_frame_size is 100: the user must end with `error`.
  auto ends_with = [&](std::string in, const char* error) {
    WsConnection c(100);
    FakeServices s;
    open(c, s, *connect);
    ResponseInfo info;
    EXPECT_EQ(feed(c, s, message.get(), in, info), std::vector<ConnEvent>{ConnEvent::fatal});
    EXPECT_STREQ(info.error, error);
  };
  // A 64-bit length of 2^40: refused from the header alone.
  ends_with(std::string("\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00", 10), "websocket_frame_too_large");
  // Fragments whose sum is over the limit.
  ends_with(frame(0x02, std::string(60, 'a')) + frame(0x80, std::string(60, 'b')), "websocket_frame_too_large");
  ends_with(frame(0x80, "orphan continuation"), "websocket_protocol");
  // A masked server frame.
  ends_with(frame(0x82, "masked?").replace(1, 1, 1, static_cast<char>(0x80 | 7)), "websocket_protocol");
}

TEST(WebSocketConnection, BadHandshakeIsCounted) {
  auto connect = request(kConnect);
  WsConnection c(1 << 20);
  FakeServices s;
  c.on_open(s);
  std::string out;
  c.encode(s, *connect, EncodeContext{}, out);
  std::string answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  ResponseInfo info;
  EXPECT_EQ(feed(c, s, connect.get(), answer, info), std::vector<ConnEvent>{ConnEvent::fatal});
  EXPECT_STREQ(info.error, "websocket_handshake");
  EXPECT_EQ(s.counted, std::vector<std::string>{"websocket_fail"});
}

TEST(WebSocketConnection, FrameBeforeConnectEndsTheUser) {
  auto message = request(R"(<websocket type="message">x</websocket>)");
  WsConnection c(1 << 20);
  FakeServices s;
  c.on_open(s);
  std::string out;
  c.encode(s, *message, EncodeContext{}, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s.timers, 1);
  // Counted at once: a no_ack request's user goes on and may end before the timer fires.
  EXPECT_EQ(s.errors, std::vector<std::string>{"protocol"});
  auto noack = request(R"(<websocket type="message" ack="no_ack">x</websocket>)");
  c.encode(s, *noack, EncodeContext{}, out);  // before the timer: the same error, not counted again
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(c.on_timer(s), ConnEvent::fatal_counted);
  EXPECT_EQ(c.on_timer(s), ConnEvent::none);
}

TEST(WebSocketRequest, RefusesWhatWouldHaveNoEffect) {
  auto fails = [](const char* xml, const char* what) {
    try {
      request(xml);
      ADD_FAILURE() << "accepted: " << xml;
    } catch (const ScenarioError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  fails(R"(<websocket type="message" path="/x">a</websocket>)", "applies to type=\"connect\" only");
  fails(R"(<websocket type="connect" ack="no_ack"/>)", "applies to type=\"message\" only");
  fails(R"(<websocket type="close">bye</websocket>)", "no text content");
  fails(R"(<websocket type="connect"><http_header name="Origin" value="x"/></websocket>)", "set by the WebSocket handshake");
  fails(R"(<websocket type="open"/>)", "expected");
  fails(R"(<websocket/>)", "missing attribute 'type'");
  fails(R"(<websocket type="connect" bogus="1"/>)", "bogus");
  auto m = request(R"(<websocket type="message" ack="no_ack">x</websocket>)");
  EXPECT_FALSE(m->awaits_response());
  EXPECT_EQ(m->frame, op_binary);  // Tsung's default
}

}  // namespace
}  // namespace loadctl::websocket
