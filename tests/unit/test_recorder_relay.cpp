// ResponseRelay (a response passed on as it arrives) and WsFrameScanner (the WebSocket frames the
// recorder reads as they pass), fed byte by byte as a slow peer would send them.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "recorder/response_relay.hpp"
#include "recorder/websocket_record.hpp"

using namespace loadctl::recorder;

namespace {

// Feeds `wire` one byte per read, as the proxy would (unused bytes kept for the next call).
struct Fed {
  ResponseRelay::Status status = ResponseRelay::Status::more;
  std::string out;
  std::size_t out_before_last_byte = 0;
};
Fed feed_bytewise(ResponseRelay& relay, const std::string& wire) {
  Fed r;
  std::string pending;
  for (char c : wire) {
    pending += c;
    r.out_before_last_byte = r.out.size();
    std::size_t used = 0;
    r.status = relay.feed(pending, used, r.out);
    pending.erase(0, used);
    if (r.status != ResponseRelay::Status::more) break;
  }
  return r;
}

std::string masked_frame(unsigned char first, const std::string& payload) {
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  std::string f(1, static_cast<char>(first));
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  }
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

}  // namespace

TEST(ResponseRelay, ChunkedBodyPassesAsItComes) {
  ResponseRelay relay(false, false, true);
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string body = "b\r\ndata: one\n\n\r\nb\r\ndata: two\n\n\r\n0\r\n\r\n";
  Fed r = feed_bytewise(relay, head + body);
  EXPECT_EQ(r.status, ResponseRelay::Status::done);
  EXPECT_TRUE(relay.client_keep_alive());
  EXPECT_TRUE(relay.upstream_keep_alive());
  // The header as sent, then the chunked body byte for byte; the first event was out before the end.
  EXPECT_EQ(r.out, head + body);
  EXPECT_LT(r.out.find("data: one"), r.out_before_last_byte);
}

TEST(ResponseRelay, InterimDroppedCloseDelimitedEndsAtEof) {
  ResponseRelay relay(false, false, true);
  std::string out;
  std::size_t used = 0;
  std::string wire = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart one;";
  EXPECT_EQ(relay.feed(wire, used, out), ResponseRelay::Status::more);
  EXPECT_EQ(used, wire.size());
  EXPECT_EQ(out.find("103"), std::string::npos);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(out.ends_with("\r\n\r\npart one;"));
  EXPECT_TRUE(relay.forwarded());
  out.clear();
  EXPECT_EQ(relay.feed_eof(out), ResponseRelay::Status::done);
  EXPECT_EQ(out, "");
  EXPECT_FALSE(relay.client_keep_alive());
  EXPECT_FALSE(relay.upstream_keep_alive());
}

TEST(ResponseRelay, FailuresSayWhetherAnythingWentOut) {
  ResponseRelay empty(false, false, true);
  std::string out;
  EXPECT_EQ(empty.feed_eof(out), ResponseRelay::Status::failed);
  EXPECT_FALSE(empty.got_some());
  ResponseRelay cut(false, false, true);
  std::size_t used = 0;
  EXPECT_EQ(cut.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", used, out), ResponseRelay::Status::more);
  EXPECT_EQ(cut.feed_eof(out), ResponseRelay::Status::failed);
  EXPECT_TRUE(cut.forwarded());  // the proxy can only close the client connection now
  ResponseRelay unasked(false, false, true);
  EXPECT_EQ(unasked.feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", used, out),
            ResponseRelay::Status::failed);
  ResponseRelay asked(false, false, true, true);
  out.clear();
  EXPECT_EQ(asked.feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: chat\r\n\r\n\x81\x02hi",
                       used, out),
            ResponseRelay::Status::done);
  EXPECT_TRUE(asked.switched());
  EXPECT_EQ(asked.header("Sec-WebSocket-Protocol"), "chat");
  EXPECT_FALSE(out.ends_with("hi"));  // the frames after the 101 are left to the caller
}

TEST(ResponseRelay, HttpsTrickRewritesTextWithItsNewLength) {
  ResponseRelay relay(false, true, true);
  Fed r = feed_bytewise(relay, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
                               "Location: https://a.example/x\r\n\r\n11\r\n<a href=\"https://\r\n3\r\nb\">\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, ResponseRelay::Status::done);
  EXPECT_NE(r.out.find("Location: http://-a.example/x\r\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("chunked"), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.ends_with("Content-Length: 20\r\n\r\n<a href=\"http://-b\">")) << r.out;
}

TEST(WsFrameScanner, MaskedFragmentsReassembledByteByByte) {
  WsFrameScanner scanner(true);
  std::string wire = masked_frame(0x01, "frag") + masked_frame(0x89, "ping") + masked_frame(0x80, "mented") +
                     masked_frame(0x82, std::string(300, 'b')) + masked_frame(0x88, "\x03\xe8");
  std::vector<WsFrameScanner::Message> got;
  for (char c : wire) ASSERT_TRUE(scanner.feed(std::string_view(&c, 1), got));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].opcode, 1);
  EXPECT_EQ(got[0].payload, "fragmented");
  EXPECT_EQ(got[1].opcode, 2);
  EXPECT_EQ(got[1].payload, std::string(300, 'b'));
  EXPECT_EQ(got[2].opcode, 8);
}

TEST(WsFrameScanner, LargeMessageCountedNotKeptAndBadFramingStops) {
  WsFrameScanner scanner(true);
  std::vector<WsFrameScanner::Message> got;
  std::string piece(60000, 'x');
  std::size_t frames = kMaxRecordedMessage / piece.size() + 2;
  for (std::size_t i = 0; i < frames; ++i)
    ASSERT_TRUE(scanner.feed(masked_frame(i == 0 ? 0x01 : i + 1 == frames ? 0x80 : 0x00, piece), got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].too_large);
  EXPECT_EQ(got[0].size, frames * piece.size());
  EXPECT_TRUE(got[0].payload.empty());
  // A continuation with no message started, and unmasked frames from a client: not RFC 6455.
  EXPECT_FALSE(WsFrameScanner(true).feed(masked_frame(0x80, "x"), got));
  EXPECT_FALSE(WsFrameScanner(true).feed(std::string("\x81\x01x", 3), got));
}

TEST(ResponseRelay, HttpsTrickStreamsEventStreams) {
  ResponseRelay relay(false, true, true);
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  Fed r = feed_bytewise(relay, head + "14\r\ndata: https://a.b/\n\n\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, ResponseRelay::Status::done);
  EXPECT_LT(r.out.find("data: https://a.b/"), r.out_before_last_byte);  // out before the end, not rewritten
}
