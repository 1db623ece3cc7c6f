// XMPP over BOSH (jabber_bosh.cpp), as Tsung's ts_bosh: the HTTP responses split off the lanes,
// session creation with a random rid, rids that increase by one per request, the second lane for
// a stanza while a request is held, the restart after SASL, the empty request a normal session
// keeps held, the terminate, Tsung's counters and the errors that end the user.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include <pugixml.hpp>

#include "jabber_bosh.hpp"
#include "jabber_stream.hpp"
#include "jabber_test_support.hpp"
#include "loadctl/connection.hpp"

namespace loadctl::jabber {
namespace {

std::shared_ptr<const RequestSpec> bosh_request(const char* xml) {
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_string(xml));
  return test::protocol().parse_request(doc.first_child(), RequestParseContext{});
}

std::string http_ok(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// The bodies POSTed in `bytes` (the HTTP requests one lane sent), taken off it.
std::vector<std::string> take_bodies(std::string& bytes) {
  std::vector<std::string> bodies;
  std::string_view b = bytes;
  while (!b.empty()) {
    EXPECT_TRUE(b.starts_with("POST /http-bind HTTP/1.1\r\nkeep-alive:true\r\nContent-Type:text/xml; charset=utf-8\r\n"))
        << b;
    auto len_at = b.find("Content-Length:");
    auto head_end = b.find("\r\n\r\n");
    EXPECT_NE(b.find("\r\nHost:xmpp.test\r\n"), std::string_view::npos);
    std::size_t len = std::stoul(std::string(b.substr(len_at + 15)));
    bodies.emplace_back(b.substr(head_end + 4, len));
    b.remove_prefix(head_end + 4 + len);
  }
  bytes.clear();
  return bodies;
}

std::uint64_t rid_of(std::string_view body) {
  std::string_view rid = attribute(body.substr(0, body.find('>') + 1), "rid");
  return std::stoull(std::string(rid));
}

struct BoshClient {
  CarrierOptions carrier;
  std::unique_ptr<Connection> conn;
  test::FakeServices s;
  std::string unconsumed[2];
  std::vector<ConnEvent> events;
  std::string error;

  explicit BoshClient(std::size_t max_frame_size = 1 << 20) {
    carrier.bosh_path = "/http-bind";
    ConnectionContext ctx;
    ctx.server_type = "bosh";
    ctx.host = "xmpp.test";
    ctx.carrier = &carrier;
    ctx.max_frame_size = max_frame_size;
    conn = test::protocol().open_connection(ctx);
  }
  void encode(const RequestSpec& r) {
    std::string out;
    conn->encode(s, r, EncodeContext{}, out);
    EXPECT_EQ(out, "");  // every body goes through send_on
  }
  // Feeds `bytes` to lane `lane` in pieces of `step` bytes, as the engine does (`again`: at once
  // once more). `next`: the request pending after a complete one (the engine sent it at once).
  void feed(unsigned lane, std::string_view bytes, const RequestSpec* pending, std::size_t step = 1 << 20,
            const RequestSpec* next = nullptr) {
    for (std::size_t at = 0; at < bytes.size(); at += step) {
      std::string& in = unconsumed[lane];
      in += bytes.substr(at, step);
      std::size_t offset = 0;
      bool again = false;
      while (offset < in.size() || again) {
        ResponseInfo info;
        std::span<const char> data(in.data() + offset, in.size() - offset);
        ConnResult r = lane == 0 ? conn->on_data(s, pending, data, info) : conn->on_lane_data(s, lane, pending, data, info);
        offset += r.consumed;
        if (r.event != ConnEvent::none) {
          events.push_back(r.event);
          if (info.error) error = info.error;
          if (r.event == ConnEvent::complete) pending = next;
        }
        again = r.again;
        if (r.consumed == 0 && !again) break;
      }
      in.erase(0, offset);
    }
  }
};

const char* kFeatures =
    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms "
    "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";

// Creation, SASL, restart, then the normal session's held request and a stanza on the other lane.
TEST(JabberBosh, SessionAsTsungRunsIt) {
  BoshClient c;
  EXPECT_FALSE(c.conn->on_open(c.s));
  EXPECT_EQ(c.s.counts["bosh_http_conn"], 1u);
  auto connect = bosh_request(R"(<jabber type="connect" ack="local"/>)");
  c.encode(*connect);
  auto bodies = take_bodies(c.s.sent);
  ASSERT_EQ(bodies.size(), 1u);
  std::uint64_t rid = rid_of(bodies[0]);
  EXPECT_GT(rid, 1000u);
  EXPECT_LE(rid, 101000u);
  EXPECT_EQ(bodies[0], "<body xmlns='http://jabber.org/protocol/httpbind' content='text/xml; charset=utf-8' ver='1.8' "
                       "to='erlang-projects.org' rid='" + std::to_string(rid) +
                       "' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0' wait='60' hold='1'/>");
  // The answer, split at every 7 bytes: the stream starts, its features complete the connect.
  c.feed(0, http_ok(std::string("<body xmlns='http://jabber.org/protocol/httpbind' sid='S1' wait='60'>") + kFeatures + "</body>"),
         connect.get(), 7);
  ASSERT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::complete});
  EXPECT_TRUE(c.unconsumed[0].empty());

  // SASL: one body on the free connection; a fresh session sends no empty request after it.
  auto sasl = bosh_request(R"(<jabber type="auth_sasl" ack="local"/>)");
  c.encode(*sasl);
  bodies = take_bodies(c.s.sent);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(rid_of(bodies[0]), rid + 1);
  EXPECT_TRUE(bodies[0].starts_with("<body xmlns='http://jabber.org/protocol/httpbind'  rid='" + std::to_string(rid + 1) +
                                    "' sid='S1'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN' >"))
      << bodies[0];
  c.feed(0, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></body>"),
         sasl.get());
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[1], ConnEvent::complete);
  EXPECT_TRUE(c.s.sent.empty() && c.s.lane1.empty());

  // The second connect restarts the stream.
  c.encode(*connect);
  bodies = take_bodies(c.s.sent);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0], "<body xmlns='http://jabber.org/protocol/httpbind'  rid='" + std::to_string(rid + 2) +
                       "' sid='S1' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh' to='erlang-projects.org'/>");
  c.feed(0, http_ok(std::string("<body xmlns='http://jabber.org/protocol/httpbind'>") + kFeatures + "</body>"), connect.get());
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.events[2], ConnEvent::complete);
  // A normal session: the answered request is replaced at once by an empty one, held.
  bodies = take_bodies(c.s.sent);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0], "<body xmlns='http://jabber.org/protocol/httpbind'  rid='" + std::to_string(rid + 3) + "' sid='S1'></body>");

  // A stanza while that one is held: on the second lane.
  auto presence = bosh_request(R"(<jabber type="presence:initial" ack="no_ack"/>)");
  c.encode(*presence);
  EXPECT_TRUE(c.s.sent.empty());
  bodies = take_bodies(c.s.lane1);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(rid_of(bodies[0]), rid + 4);
  EXPECT_NE(bodies[0].find("<presence"), std::string::npos);
  // Another while both are open: queued (Tsung's rule), sent when the held one is answered.
  auto chat = bosh_request(R"(<jabber type="raw" ack="no_ack" data="&lt;message to='x@y'&gt;&lt;body&gt;hi&lt;/body&gt;&lt;/message&gt;"/>)");
  c.encode(*chat);
  EXPECT_TRUE(c.s.sent.empty() && c.s.lane1.empty());
  // The server answers the held request with a pushed message: counted, and the queued stanza
  // goes on the freed connection.
  c.feed(0, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'><message from='a@b' type='chat'><body>yo</body></message></body>"),
         nullptr);
  EXPECT_EQ(c.s.counts["xmpp_chat_received"], 1u);
  bodies = take_bodies(c.s.sent);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0], "<body xmlns='http://jabber.org/protocol/httpbind'  rid='" + std::to_string(rid + 5) +
                       "' sid='S1'><message to='x@y'><body>hi</body></message></body>");
  // The presence's empty answer on lane 1: one request still open, nothing more is sent.
  c.feed(1, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'/>"), nullptr);
  EXPECT_TRUE(c.s.sent.empty() && c.s.lane1.empty());

  // close: a terminate on the free lane; the server's terminate ends the stream, no error.
  auto close = bosh_request(R"(<jabber type="close" ack="local"/>)");
  c.encode(*close);
  bodies = take_bodies(c.s.lane1);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0], "<body xmlns='http://jabber.org/protocol/httpbind'  rid='" + std::to_string(rid + 6) +
                       "' sid='S1' type='terminate' xmlns:xmpp='urn:xmpp:xbosh'/>");
  c.feed(1, http_ok("<body xmlns='http://jabber.org/protocol/httpbind' type='terminate'/>"), close.get());
  EXPECT_EQ(c.events.back(), ConnEvent::close);
  EXPECT_EQ(c.s.counts["bosh_http_req"], 7u);
  EXPECT_EQ(c.s.counts["bosh_http_conn"], 2u);  // the connection and its second lane
  EXPECT_EQ(c.s.counts["error_bosh_terminated"], 0u);
}

// Started by a connect, answered: a session in its normal state, one empty request held on lane 0.
void open_normal(BoshClient& c) {
  c.conn->on_open(c.s);
  auto connect = bosh_request(R"(<jabber type="connect" ack="local"/>)");
  c.encode(*connect);
  c.feed(0, http_ok(std::string("<body xmlns='http://jabber.org/protocol/httpbind' sid='S'>") + kFeatures + "</body>"),
         connect.get());
  c.encode(*connect);
  c.feed(0, http_ok(std::string("<body xmlns='http://jabber.org/protocol/httpbind'>") + kFeatures + "</body>"),
         connect.get());
  ASSERT_EQ(c.events, (std::vector<ConnEvent>{ConnEvent::complete, ConnEvent::complete}));
  c.s.sent.clear();
  c.events.clear();
}

TEST(JabberBosh, ServerTerminateAndHttpErrorsEndTheSession) {
  {
    BoshClient c;
    open_normal(c);
    c.feed(0, http_ok("<body type='terminate' condition='remote-connection-failed' xmlns='http://jabber.org/protocol/httpbind'/>"),
           nullptr);
    EXPECT_EQ(c.s.counts["error_bosh_terminated"], 1u);
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::close});
  }
  {
    BoshClient c;
    open_normal(c);
    c.feed(0, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", nullptr);
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
    EXPECT_EQ(c.error, "inet_404");  // Tsung's error_inet_<code>
  }
  {
    BoshClient c;
    open_normal(c);  // lane 0's socket, holding the server's request, closed by the server
    ResponseInfo info;
    EXPECT_TRUE(c.conn->reopens_lane0());
    EXPECT_EQ(c.conn->on_lane_closed(c.s, 0, nullptr, true, info), ConnEvent::close);
    EXPECT_EQ(c.s.counts["error_bosh_socket_closed"], 1u);
  }
  {
    BoshClient c;
    open_normal(c);
    auto presence = bosh_request(R"(<jabber type="presence:initial" ack="no_ack"/>)");
    c.encode(*presence);  // on lane 1
    EXPECT_EQ(take_bodies(c.s.lane1).size(), 1u);
    c.feed(0, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'/>"), nullptr);  // lane 0 free...
    EXPECT_EQ(take_bodies(c.s.sent).size(), 0u);  // (lane 1 is held: no new empty request)
    std::uint64_t conns = c.s.counts["bosh_http_conn"];
    ResponseInfo info;
    EXPECT_EQ(c.conn->on_lane_closed(c.s, 0, nullptr, true, info), ConnEvent::none);  // ... closed: no matter
    EXPECT_EQ(c.s.counts["error_bosh_socket_closed"], 0u);
    c.feed(1, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'/>"), nullptr);
    EXPECT_EQ(take_bodies(c.s.lane1).size(), 1u);  // the held empty request, on lane 1 again
    c.encode(*presence);
    EXPECT_EQ(take_bodies(c.s.sent).size(), 1u);  // the next stanza reopens lane 0
    EXPECT_EQ(c.s.counts["bosh_http_conn"], conns + 1);
    EXPECT_TRUE(c.events.empty());
  }
  {
    BoshClient c;
    open_normal(c);  // the held request's socket closed by the server
    ResponseInfo info;
    EXPECT_EQ(c.conn->on_lane_closed(c.s, 1, nullptr, true, info), ConnEvent::none);  // lane 1 idle: no matter
    auto presence = bosh_request(R"(<jabber type="presence:initial" ack="no_ack"/>)");
    c.encode(*presence);
    EXPECT_EQ(take_bodies(c.s.lane1).size(), 1u);
    EXPECT_EQ(c.conn->on_lane_closed(c.s, 1, nullptr, true, info), ConnEvent::close);
    EXPECT_EQ(c.s.counts["error_bosh_socket_closed"], 1u);
  }
  {
    BoshClient c;
    open_normal(c);
    c.feed(0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", nullptr);
    EXPECT_EQ(c.error, "bosh_bad_response");  // a coding other than chunked
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
  }
  {
    BoshClient c(4096);
    open_normal(c);
    c.feed(0, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", nullptr);  // refused before its body comes
    EXPECT_EQ(c.error, "bosh_response_too_large");
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
  }
}

// Several elements in one body, each completing a request: all delivered from the bytes at hand,
// none waits for the next response (which may be held for up to wait=60 s).
TEST(JabberBosh, EveryElementOfABodyIsDeliveredAtOnce) {
  BoshClient c;
  open_normal(c);
  auto raw = bosh_request(R"(<jabber type="raw" ack="local" data="&lt;presence/&gt;"/>)");
  c.encode(*raw);
  EXPECT_EQ(take_bodies(c.s.lane1).size(), 1u);
  c.feed(1,
         http_ok("<body xmlns='http://jabber.org/protocol/httpbind'><message from='a@b' type='chat'><body>1</body></message>"
                 "<message from='a@b' type='chat'><body>2</body></message>"
                 "<message from='a@b' type='chat'><body>3</body></message></body>"),
         raw.get(), 1 << 20, raw.get());
  EXPECT_EQ(c.events, (std::vector<ConnEvent>{ConnEvent::complete, ConnEvent::complete, ConnEvent::complete}));
  EXPECT_EQ(c.s.counts["xmpp_chat_received"], 3u);
  EXPECT_TRUE(c.unconsumed[1].empty());
}

// The server's sid goes back raw into the bodies and the stream header: one needing escaping is
// refused.
TEST(JabberBosh, SidNeedingEscapingIsRefused) {
  for (const char* sid : {"a&amp;b", "a&lt;b", "a&quot;b"}) {
    BoshClient c;
    c.conn->on_open(c.s);
    auto connect = bosh_request(R"(<jabber type="connect" ack="local"/>)");
    c.encode(*connect);
    c.feed(0, http_ok(std::string("<body xmlns='http://jabber.org/protocol/httpbind' sid='") + sid + "'>" + kFeatures + "</body>"),
           connect.get());
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal}) << sid;
    EXPECT_EQ(c.error, "bosh_bad_sid") << sid;
  }
  BoshClient c;  // in double quotes, a ' in it
  c.conn->on_open(c.s);
  auto connect = bosh_request(R"(<jabber type="connect" ack="local"/>)");
  c.encode(*connect);
  c.feed(0, http_ok(std::string("<body xmlns='http://jabber.org/protocol/httpbind' sid=\"a'b\">") + kFeatures + "</body>"),
         connect.get());
  EXPECT_EQ(c.error, "bosh_bad_sid");
}

TEST(JabberBosh, QueueBeyondTheFrameLimitEndsTheUser) {
  BoshClient c(4096);
  open_normal(c);
  auto presence = bosh_request(R"(<jabber type="presence:initial" ack="no_ack"/>)");
  c.encode(*presence);  // lane 1; lane 0 holds the empty request: the next ones queue
  auto chat = bosh_request(R"(<jabber type="chat" ack="no_ack" size="1000" destination="random"/>)");
  for (int i = 0; i < 5; ++i) c.encode(*chat);
  EXPECT_EQ(c.s.counts["error_bosh_maxqueued"], 1u);
  EXPECT_TRUE(c.s.timer);
  EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::fatal_counted);
}

// The elements handed to the XMPP connection are bounded by max_frame_size: an element that never
// ends (pushes piling up behind it) ends the user with a counted error, as does a response larger
// than a frame. Pushes while no request waits are no response's content.
TEST(JabberBosh, ElementsBeyondTheFrameLimitEndTheUser) {
  {
    BoshClient c(4096);
    open_normal(c);
    std::string text(3000, 'x');
    c.feed(0, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'><message from='a@b'><body>" + text + "</body>"),
           nullptr);
    EXPECT_TRUE(c.events.empty());  // the message is not whole yet: kept for the XMPP connection
    EXPECT_EQ(take_bodies(c.s.sent).size(), 1u);  // the held request, again
    c.feed(0, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'>" + text + "</body>"), nullptr);
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
    EXPECT_EQ(c.error, "bosh_frame_too_large");
  }
  {
    BoshClient c(4096);
    open_normal(c);
    std::string text(5000, 'x');
    c.feed(0, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'><message from='a@b'><body>" + text +
                      "</body></message></body>"),
           nullptr);
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
    EXPECT_EQ(c.error, "bosh_response_too_large");  // a body larger than a frame: refused by its length
  }
  {
    BoshClient c(4096);  // pushes of 3000 bytes each while the user thinks: all handled
    open_normal(c);
    std::string push = "<message from='a@b' type='chat'><body>" + std::string(3000, 'x') + "</body></message>";
    for (int i = 0; i < 4; ++i) {
      c.feed(0, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'>" + push + "</body>"), nullptr);
      EXPECT_EQ(take_bodies(c.s.sent).size(), 1u);
    }
    EXPECT_TRUE(c.events.empty());
    EXPECT_EQ(c.s.counts["xmpp_chat_received"], 4u);
  }
  {
    BoshClient c(4096);  // the same pushes while a request waits: its content beyond the frame
    open_normal(c);
    auto wait = bosh_request(R"(<jabber type="raw" ack="parse" regexp="never-there" data="&lt;presence/&gt;"/>)");
    c.encode(*wait);
    std::string push = "<message from='a@b' type='chat'><body>" + std::string(3000, 'x') + "</body></message>";
    c.feed(0, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'>" + push + "</body>"), wait.get());
    EXPECT_TRUE(c.events.empty());
    c.feed(0, http_ok("<body xmlns='http://jabber.org/protocol/httpbind'>" + push + "</body>"), wait.get());
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
    EXPECT_EQ(c.error, "bosh_frame_too_large");
  }
}

// A stanza on a connection without session (a new connection after the session was lost, its
// stream header not sent again): counted, the user ends, nothing queued for ever.
TEST(JabberBosh, StanzaWithoutSessionEndsTheUser) {
  BoshClient c;
  ResponseInfo info;
  c.conn->on_open(c.s);
  c.s.sent.clear();
  auto chat = bosh_request(R"(<jabber type="chat" ack="no_ack" size="10" destination="random"/>)");
  c.encode(*chat);
  EXPECT_EQ(c.s.counts["error_bosh_no_session"], 1u);
  EXPECT_EQ(c.s.sent, "");
  EXPECT_TRUE(c.s.timer);
  EXPECT_EQ(c.conn->on_timer(c.s), ConnEvent::fatal_counted);
}

TEST(JabberBosh, ResponseSplitting) {
  BoshResponse r;
  std::string d;
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", 1000, r, d), BoshParse::need_more);
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200 OK\r\ncontent-length:3\r\n\r\nabcHTTP", 1000, r, d), BoshParse::complete);
  EXPECT_EQ(r.length, 40u);
  EXPECT_EQ(r.body, "abc");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", 1000, r, d), BoshParse::error);
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 1000, r, d), BoshParse::error);
  // The status line's form.
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 1000, r, d), BoshParse::complete);
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", 1000, r, d), BoshParse::error);
  EXPECT_EQ(parse_bosh_response("HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n", 1000, r, d), BoshParse::error);
  EXPECT_EQ(parse_bosh_response("HTTP/1.x 200 OK\r\nContent-Length: 0\r\n\r\n", 1000, r, d), BoshParse::error);
  EXPECT_EQ(parse_bosh_response("HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", 1000, r, d), BoshParse::error);
  // Content-Length: one, at most the limit (a huge one must not wrap the total).
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", 1000, r, d),
            BoshParse::error);
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", 1000, r, d), BoshParse::too_large);
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551610\r\n\r\nab", 1000, r, d),
            BoshParse::too_large);
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", 1000, r, d),
            BoshParse::too_large);
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 1000, r, d), BoshParse::need_more);
  std::string_view tag, children;
  ASSERT_TRUE(split_body("<body sid='x'><a/><b/></body>", tag, children));
  EXPECT_EQ(tag, "<body sid='x'>");
  EXPECT_EQ(children, "<a/><b/>");
  ASSERT_TRUE(split_body("<body type='terminate'/>", tag, children));
  EXPECT_EQ(attribute(tag, "type"), "terminate");
  EXPECT_TRUE(children.empty());
  EXPECT_FALSE(split_body("<html/>", tag, children));
}

// A chunked response (Tsung's ts_bosh reads them too, differently: see the README): its chunks decoded into the body, the
// response split off the bytes after it, whatever the reads' sizes.
TEST(JabberBosh, ChunkedResponses) {
  BoshResponse r;
  std::string d;
  const std::string whole = "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;ext=1\r\n<body\r\nA \r\n sid='s'/>\r\n0\r\nX-T: 1\r\n\r\nNEXT";
  EXPECT_EQ(parse_bosh_response(whole, 1000, r, d), BoshParse::complete);
  EXPECT_EQ(r.body, "<body sid='s'/>");
  EXPECT_EQ(r.length, whole.size() - 4);
  EXPECT_EQ(r.status, 200u);
  for (std::size_t cut = 0; cut < whole.size() - 4; ++cut)  // every prefix is incomplete
    EXPECT_EQ(parse_bosh_response(std::string_view(whole).substr(0, cut), 1000, r, d), BoshParse::need_more) << cut;
  // The same reads with the walk kept across them (BoshScan): the same answers, and a resumed
  // walk does not read the chunks before its position again (a first chunk spoiled after it was
  // walked is not seen; without the scan it is an error).
  BoshScan scan;
  for (std::size_t cut = 0; cut < whole.size() - 4; ++cut)
    EXPECT_EQ(parse_bosh_response(std::string_view(whole).substr(0, cut), 1000, r, d, &scan), BoshParse::need_more) << cut;
  EXPECT_EQ(scan.content, 15u);  // both data chunks walked
  EXPECT_EQ(parse_bosh_response(whole, 1000, r, d, &scan), BoshParse::complete);
  EXPECT_EQ(r.body, "<body sid='s'/>");
  EXPECT_EQ(r.length, whole.size() - 4);
  std::string partial = whole.substr(0, whole.find(" sid"));
  scan = {};
  EXPECT_EQ(parse_bosh_response(partial, 1000, r, d, &scan), BoshParse::need_more);
  EXPECT_EQ(scan.at, partial.find("A \r\n"));
  EXPECT_EQ(scan.content, 5u);
  std::string spoiled = partial;
  spoiled.replace(spoiled.find("<body\r\n") + 5, 2, "!!");
  EXPECT_EQ(parse_bosh_response(spoiled, 1000, r, d), BoshParse::error);
  EXPECT_EQ(parse_bosh_response(spoiled, 1000, r, d, &scan), BoshParse::need_more);
  auto parse = [&](std::string_view chunks, std::size_t max = 1000) {
    return parse_bosh_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(chunks), max, r, d);
  };
  // The content is capped: by one chunk's size, by the sum, before the data came.
  EXPECT_EQ(parse("3e9\r\n"), BoshParse::too_large);
  EXPECT_EQ(parse("3e8\r\n"), BoshParse::need_more);
  EXPECT_EQ(parse("1f4\r\n" + std::string(500, 'a') + "\r\n1f5\r\n"), BoshParse::too_large);
  EXPECT_EQ(parse("1f4\r\n" + std::string(500, 'a') + "\r\n1f4\r\n" + std::string(500, 'b') + "\r\n0\r\n\r\n"),
            BoshParse::complete);
  EXPECT_EQ(d.size(), 1000u);
  // Hex that would overflow 64 bits is too large, not wrapped to a small size.
  EXPECT_EQ(parse("10000000000000005\r\nhello\r\n0\r\n\r\n", SIZE_MAX), BoshParse::too_large);
  EXPECT_EQ(parse("ffffffffffffffff\r\n", SIZE_MAX - 1), BoshParse::too_large);
  // Malformed: no digits, a bad character, data not followed by CRLF, a chunk line too long.
  EXPECT_EQ(parse("\r\n"), BoshParse::error);
  EXPECT_EQ(parse("5x\r\nhello\r\n0\r\n\r\n"), BoshParse::error);
  EXPECT_EQ(parse("5\r\nhelloX\r\n0\r\n\r\n"), BoshParse::error);
  EXPECT_EQ(parse("5;" + std::string(2000, 'e')), BoshParse::error);
  EXPECT_EQ(parse("5;" + std::string(2000, 'e') + "\r\n"), BoshParse::error);
  EXPECT_EQ(parse("0\r\n" + std::string(20000, 't')), BoshParse::error);  // an endless trailer
  EXPECT_EQ(parse_bosh_response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 1000,
                                r, d),
            BoshParse::error);
}

// A response whose head, chunk-size line or trailers are exactly at their limit is accepted
// whatever the read's split (a prefix ending in '\r' of the terminator is need_more, not error);
// a byte more is refused, split or not.
TEST(JabberBosh, LimitsAtEverySplit) {
  BoshResponse r;
  std::string d;
  auto every_prefix = [&](const std::string& whole, BoshParse at_end) {
    for (std::size_t cut = 0; cut < whole.size(); ++cut)
      ASSERT_EQ(parse_bosh_response(std::string_view(whole).substr(0, cut), 1000, r, d), BoshParse::need_more) << cut;
    EXPECT_EQ(parse_bosh_response(whole, 1000, r, d), at_end);
  };
  const std::string te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  // The chunk-size line (extensions included) at 1024 bytes, then 1025.
  std::string line = "5;" + std::string(1022, 'e');
  every_prefix(te + line + "\r\nhello\r\n0\r\n\r\n", BoshParse::complete);
  EXPECT_EQ(d, "hello");
  EXPECT_EQ(parse_bosh_response(te + line + "e\r", 1000, r, d), BoshParse::error);
  EXPECT_EQ(parse_bosh_response(te + line + "e\r\nhello\r\n0\r\n\r\n", 1000, r, d), BoshParse::error);
  // Trailers (their lines with their CRLFs) at 16 KiB, then one more.
  std::string trailers = "X: " + std::string(16 * 1024 - 5, 't') + "\r\n";
  ASSERT_EQ(trailers.size(), 16u * 1024);
  std::string tail = te + "0\r\n" + trailers + "\r\n";
  for (std::size_t cut = tail.size() - 8; cut < tail.size(); ++cut)
    ASSERT_EQ(parse_bosh_response(std::string_view(tail).substr(0, cut), 1000, r, d), BoshParse::need_more) << cut;
  EXPECT_EQ(parse_bosh_response(tail, 1000, r, d), BoshParse::complete);
  EXPECT_EQ(parse_bosh_response(te + "0\r\nX: t" + trailers + "\r", 1000, r, d), BoshParse::error);
  EXPECT_EQ(parse_bosh_response(te + "0\r\nX: t" + trailers + "\r\n", 1000, r, d), BoshParse::error);
  // The head (up to its blank line) at 16 KiB, then one more.
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: ";
  head += std::string(16 * 1024 - head.size(), 'h');
  std::string full = head + "\r\n\r\nab";
  for (std::size_t cut = head.size() - 4; cut < full.size(); ++cut)
    ASSERT_EQ(parse_bosh_response(std::string_view(full).substr(0, cut), 1000, r, d), BoshParse::need_more) << cut;
  EXPECT_EQ(parse_bosh_response(full, 1000, r, d), BoshParse::complete);
  EXPECT_EQ(parse_bosh_response(head + "h\r\n\r", 1000, r, d), BoshParse::error);
  EXPECT_EQ(parse_bosh_response(head + "h\r\n\r\nab", 1000, r, d), BoshParse::error);
}

// A chunk size near SIZE_MAX (max_body SIZE_MAX): the bytes it needs do not wrap to a few.
TEST(JabberBosh, HugeChunkSizeDoesNotWrap) {
  BoshResponse r;
  std::string d;
  const std::string te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(parse_bosh_response(te + "fffffffffffffffe\r\n0\r\n\r\n", SIZE_MAX, r, d), BoshParse::need_more);
  EXPECT_EQ(parse_bosh_response(te + "ffffffffffffffff\r\n0\r\n\r\n", SIZE_MAX, r, d), BoshParse::need_more);
  EXPECT_EQ(parse_bosh_response(te + "fffffffffffffffd\r\n0\r\n\r\n", SIZE_MAX, r, d), BoshParse::need_more);
}

// Through the connection, read a byte at a time: the chunked answer's elements reach the XMPP
// connection, and a chunk above max_frame_size ends the user before its data.
TEST(JabberBosh, ChunkedResponseOverSplitReads) {
  {
    BoshClient c;
    open_normal(c);
    auto raw = bosh_request(R"(<jabber type="raw" ack="local" data="&lt;presence/&gt;"/>)");
    c.encode(*raw);
    EXPECT_EQ(take_bodies(c.s.lane1).size(), 1u);
    std::string body =
        "<body xmlns='http://jabber.org/protocol/httpbind'><message from='a@b' type='chat'><body>1</body></message></body>";
    std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::size_t at = 0; at < body.size(); at += 7) {
      std::string piece = body.substr(at, 7);
      char size[8];
      std::snprintf(size, sizeof size, "%zx", piece.size());
      chunked += std::string(size) + "\r\n" + piece + "\r\n";
    }
    chunked += "0\r\n\r\n";
    c.feed(1, chunked, raw.get(), 1);
    EXPECT_EQ(c.error, "");
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::complete});
    EXPECT_EQ(c.s.counts["xmpp_chat_received"], 1u);
    EXPECT_TRUE(c.unconsumed[1].empty());
  }
  {
    BoshClient c(4096);
    open_normal(c);
    c.feed(0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1001\r\n", nullptr, 3);
    EXPECT_EQ(c.error, "bosh_response_too_large");
    EXPECT_EQ(c.events, std::vector<ConnEvent>{ConnEvent::fatal});
  }
}

}  // namespace
}  // namespace loadctl::jabber
