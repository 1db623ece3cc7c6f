#include <gtest/gtest.h>

#include <optional>
#include <random>

#include "control/messages.hpp"

using namespace loadctl::control;

TEST(ControlMessages, HelloRoundTrip) {
  Hello h;
  h.token = "abc";
  h.agent_id = 7;
  h.hostname = "host";
  h.pid = 1234;
  h.software_version = "0.1.0";
  auto back = Hello::decode(h.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->token, "abc");
  EXPECT_EQ(back->agent_id, 7u);
  EXPECT_EQ(back->version, kProtocolVersion);
}

TEST(ControlMessages, HelloWithoutMagicIsRefused) {
  std::string bytes = Hello{}.encode();
  bytes[5] = 'X';  // inside the magic string
  EXPECT_FALSE(Hello::decode(bytes));
  EXPECT_FALSE(Hello::decode("GET / HTTP/1.1\r\n\r\n"));
}

TEST(ControlMessages, SetupAndGoRoundTrip) {
  loadctl::control::Setup s{"x.xml", "<tsung/>", std::string("\0\1\2", 3), 4};
  auto back = loadctl::control::Setup::decode(s.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->plan, s.plan);
  EXPECT_EQ(back->threads, 4u);
  s.agent_count = 3;
  s.files = {{"users", "/tmp/u.csv", {"a;1", "b;2"}}, {"empty", "e.csv", {}}};
  back = loadctl::control::Setup::decode(s.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->agent_count, 3u);
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[0].id, "users");
  EXPECT_EQ(back->files[0].path, "/tmp/u.csv");
  EXPECT_EQ(back->files[0].lines, (std::vector<std::string>{"a;1", "b;2"}));
  EXPECT_TRUE(back->exclude_tags.empty());
  s.exclude_tags = {"login", "search"};
  back = loadctl::control::Setup::decode(s.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->exclude_tags, (std::vector<std::string>{"login", "search"}));
  EXPECT_EQ(back->ssl_session_lifetime, 600u);
  s.ssl_session_lifetime = 5;
  EXPECT_EQ(loadctl::control::Setup::decode(s.encode())->ssl_session_lifetime, 5u);
  EXPECT_DOUBLE_EQ(back->arrival_lag_limit, 0.1);
  s.arrival_lag_limit = 0.25;
  EXPECT_DOUBLE_EQ(loadctl::control::Setup::decode(s.encode())->arrival_lag_limit, 0.25);
  s.arrival_lag_limit = 0;  // not a bound
  EXPECT_FALSE(loadctl::control::Setup::decode(s.encode()));
  auto go = Go::decode(Go{1.25}.encode());
  ASSERT_TRUE(go);
  EXPECT_DOUBLE_EQ(go->delay, 1.25);
  EXPECT_TRUE(Go::decode(Go{-1}.encode())) << "a late agent joins after time zero";
  EXPECT_FALSE(Go::decode(Go{-100000}.encode()));
  EXPECT_FALSE(Go::decode(Go{4000}.encode()));
}

TEST(ControlMessages, RandomBytesNeverDecode) {
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    EXPECT_FALSE(Hello::decode(junk));
    // Setup may decode by chance only if lengths line up exactly; it must never crash.
    (void)loadctl::control::Setup::decode(junk);
  }
}

// ---- Channel frame limits: small frames until trust(), large ones after ----

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "control/channel.hpp"

namespace {

struct ChannelPair {
  boost::asio::io_context ctx;
  boost::asio::ip::tcp::socket client{ctx};
  std::shared_ptr<Channel> server;

  ChannelPair() {
    namespace ip = boost::asio::ip;
    ip::tcp::acceptor acceptor(ctx, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
    client.connect(acceptor.local_endpoint());
    server = std::make_shared<Channel>(acceptor.accept());
  }
  void send_header(std::uint32_t length, MsgType type) {
    char header[5];
    std::memcpy(header, &length, 4);
    header[4] = static_cast<char>(type);
    boost::asio::write(client, boost::asio::buffer(header));
  }
};

}  // namespace

TEST(ControlChannel, LargeFrameBeforeAuthenticationClosesAtOnce) {
  ChannelPair pair;
  std::string closed;
  pair.server->start([](MsgType, std::string_view) { ADD_FAILURE() << "no frame expected"; },
                     [&](const std::string& reason) { closed = reason; });
  pair.send_header(kMaxFrame, MsgType::hello);  // 5 bytes announcing 64 MiB
  pair.ctx.run_for(std::chrono::seconds(2));
  EXPECT_NE(closed.find("before authentication"), std::string::npos) << closed;
  EXPECT_FALSE(pair.server->open());
}

TEST(ControlChannel, TrustedChannelTakesLargeFramesInPieces) {
  ChannelPair pair;
  std::size_t received = 0;
  pair.server->trust();
  pair.server->start([&](MsgType type, std::string_view payload) {
                       EXPECT_EQ(type, MsgType::setup);
                       received = payload.size();
                       pair.ctx.stop();
                     },
                     [](const std::string& reason) { ADD_FAILURE() << "closed: " << reason; });
  const std::size_t size = 5 * kReadChunk + 123;
  pair.send_header(static_cast<std::uint32_t>(size + 1), MsgType::setup);
  boost::asio::write(pair.client, boost::asio::buffer(std::string(size, 'x')));
  pair.ctx.run_for(std::chrono::seconds(5));
  EXPECT_EQ(received, size);
}

TEST(ControlMessages, DoneCarriesHowTheLoadEnded) {
  for (bool hard : {false, true})
    for (bool aborted : {false, true}) {
      auto back = Done::decode(Done{hard, aborted}.encode());
      ASSERT_TRUE(back);
      EXPECT_EQ(back->hard_stopped, hard);
      EXPECT_EQ(back->test_aborted, aborted);
    }
  EXPECT_FALSE(Done::decode(""));
  EXPECT_FALSE(Done::decode(std::string(1, '\x04')));
  EXPECT_FALSE(Done::decode(std::string(2, '\x01')));
}

TEST(ControlMessages, TestAbortNamesWhatAbortedTheTest) {
  const std::string cause = "<match do=\"abort_test\">TRIPWIRE</match> (user 3, session \"s\")";
  auto back = TestAbort::decode(TestAbort{cause}.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cause, cause);
  // It goes to the console as is: one line, control characters replaced, bounded.
  back = TestAbort::decode(TestAbort{"a\nb\x1b[2Jc\x7f"}.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cause, "a b [2Jc ");
  back = TestAbort::decode(TestAbort{std::string(3 * kMaxReason, 'x')}.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cause.size(), kMaxReason);
  // A peer that does not clean its cause is refused, as is one without a cause.
  EXPECT_FALSE(TestAbort::decode(encode_text("a\nb")));
  EXPECT_FALSE(TestAbort::decode(encode_text(std::string(kMaxReason + 1, 'x'))));
  EXPECT_FALSE(TestAbort::decode(encode_text("")));
  EXPECT_FALSE(TestAbort::decode(""));
  EXPECT_FALSE(TestAbort::decode(encode_text("cause") + "x"));
}

TEST(ControlMessages, StopCarriesItsReason) {
  auto plain = Stop::decode(Stop{}.encode());
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->reason, "");
  EXPECT_TRUE(Stop{}.encode().empty()) << "a stop without reason is an empty frame, as before version 6";
  auto back = Stop::decode(Stop{"test aborted by agent 1 on localhost: <abort type=\"all\"/>"}.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->reason, "test aborted by agent 1 on localhost: <abort type=\"all\"/>");
  back = Stop::decode(Stop{"signal\r\n2"}.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->reason, "signal  2");
  EXPECT_FALSE(Stop::decode(encode_text("a\tb")));
  EXPECT_FALSE(Stop::decode("\x01"));
}

TEST(ControlChannel, AbortIsAKnownMessageTypeAndTheLastOne) {
  EXPECT_EQ(MsgType::last, MsgType::abort);
  EXPECT_STREQ(to_string(MsgType::abort), "abort");
  for (auto type : {MsgType::abort, static_cast<MsgType>(static_cast<int>(MsgType::last) + 1)}) {
    ChannelPair pair;
    std::optional<MsgType> got;
    std::string closed;
    pair.server->start([&](MsgType t, std::string_view) { got = t; pair.ctx.stop(); },
                       [&](const std::string& reason) { closed = reason; pair.ctx.stop(); });
    std::string payload = TestAbort{"x"}.encode();
    pair.send_header(static_cast<std::uint32_t>(payload.size() + 1), type);
    boost::asio::write(pair.client, boost::asio::buffer(payload));
    pair.ctx.run_for(std::chrono::seconds(5));
    if (type == MsgType::abort) {
      EXPECT_EQ(got, MsgType::abort);
    } else {
      EXPECT_FALSE(got);
      EXPECT_NE(closed.find("unknown message type"), std::string::npos) << closed;
    }
  }
}
