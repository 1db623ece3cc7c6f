#include <random>

#include "http_test_util.hpp"

namespace loadctl::http::test {
namespace {

class HttpResponse : public ::testing::Test {
 protected:
  std::shared_ptr<const HttpRequest> get = parse_http(R"(<http url="/"/>)");
  std::shared_ptr<const HttpRequest> head = parse_http(R"(<http url="/" method="HEAD"/>)");

  Outcome ok(ParseStatus status, std::size_t consumed, std::uint16_t code, bool close) {
    return Outcome{status, consumed, code, close, {}};
  }
};

TEST_F(HttpResponse, ContentLength) {
  std::string r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-LENGTH: 5\r\n\r\nhello";
  EXPECT_EQ(feed_all_ways(*get, r, false), ok(ParseStatus::complete, r.size(), 200, false));
}

TEST_F(HttpResponse, PipelinedBytesAreLeftUnconsumed) {
  std::string first = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc";
  std::string r = first + "HTTP/1.1 200 OK\r\n";
  EXPECT_EQ(feed_all_ways(*get, r, false), ok(ParseStatus::complete, first.size(), 404, false));
}

TEST_F(HttpResponse, ZeroLengthAndBareLf) {
  std::string r = "HTTP/1.1 200 OK\nContent-Length: 0\n\n";
  EXPECT_EQ(feed_all_ways(*get, r, false), ok(ParseStatus::complete, r.size(), 200, false));
}

TEST_F(HttpResponse, ChunkedWithExtensionsAndTrailers) {
  std::string r =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "1A \r\nabcdefghijklmnopqrstuvwxyz\r\n"
      "0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n";
  EXPECT_EQ(feed_all_ways(*get, r, false), ok(ParseStatus::complete, r.size(), 200, false));
}

TEST_F(HttpResponse, ChunkedWinsOverContentLength) {
  std::string r =
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n";
  EXPECT_EQ(feed_all_ways(*get, r, false), ok(ParseStatus::complete, r.size(), 200, false));
}

TEST_F(HttpResponse, CloseDelimitedBody) {
  std::string r = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>until close";
  EXPECT_EQ(feed_all_ways(*get, r, true), ok(ParseStatus::complete, r.size(), 200, true));
  // without the close it is still pending
  EXPECT_EQ(feed(*get, {r}, false).status, ParseStatus::need_more);
}

TEST_F(HttpResponse, EofBeforeEndIsNotComplete) {
  EXPECT_EQ(feed(*get, {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}, true).status,
            ParseStatus::need_more);
  EXPECT_EQ(feed(*get, {"HTTP/1.1 200 OK\r\nContent-Le"}, true).status, ParseStatus::need_more);
  EXPECT_EQ(
      feed(*get, {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"}, true).status,
      ParseStatus::need_more);
}

TEST_F(HttpResponse, HeadHasNoBody) {
  std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  EXPECT_EQ(feed_all_ways(*head, r, false), ok(ParseStatus::complete, r.size(), 200, false));
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(feed_all_ways(*head, chunked, false),
            ok(ParseStatus::complete, chunked.size(), 200, false));
}

TEST_F(HttpResponse, NoContentAndNotModified) {
  std::string r204 = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
  EXPECT_EQ(feed_all_ways(*get, r204, false), ok(ParseStatus::complete, r204.size(), 204, false));
  std::string r304 = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n";
  EXPECT_EQ(feed_all_ways(*get, r304, false), ok(ParseStatus::complete, r304.size(), 304, false));
}

TEST_F(HttpResponse, ContinueIsSkipped) {
  std::string r =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(feed_all_ways(*get, r, false), ok(ParseStatus::complete, r.size(), 201, false));
  // an interim response's Connection header does not leak into the final one
  std::string r2 =
      "HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n"
      "Content-Length: 0\r\n\r\n";
  EXPECT_EQ(feed_all_ways(*get, r2, false), ok(ParseStatus::complete, r2.size(), 200, false));
}

TEST_F(HttpResponse, Http10DefaultsToClose) {
  std::string r = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(feed_all_ways(*get, r, false), ok(ParseStatus::complete, r.size(), 200, true));
  std::string ka = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(feed_all_ways(*get, ka, false), ok(ParseStatus::complete, ka.size(), 200, false));
}

TEST_F(HttpResponse, ConnectionClose) {
  std::string r = "HTTP/1.1 503 Busy\r\nconnection: upgrade, CLOSE\r\nContent-Length: 1\r\n\r\nx";
  EXPECT_EQ(feed_all_ways(*get, r, false), ok(ParseStatus::complete, r.size(), 503, true));
}

TEST_F(HttpResponse, MalformedLines) {
  auto error_of = [&](const std::string& r) {
    Outcome o = feed_all_ways(*get, r, false);
    EXPECT_EQ(o.status, ParseStatus::error) << r;
    return o.error;
  };
  EXPECT_EQ(error_of("HTTP/1.1 2OO OK\r\n\r\n"), "bad_status_line");
  EXPECT_EQ(error_of("HTTP/1.1 200OK\r\n\r\n"), "bad_status_line");
  EXPECT_EQ(error_of("SSH-2.0-OpenSSH\r\n"), "bad_status_line");
  EXPECT_EQ(error_of("HTTP/1.1 099 Low\r\n\r\n"), "bad_status_line");
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n"), "bad_header");
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n"), "bad_header");
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"), "bad_header");
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n"), "bad_header");
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), "bad_chunk");
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"),
            "bad_chunk");
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"),
            "bad_chunk");
}

TEST_F(HttpResponse, ConsumesOnlyWholeLinesInHeaders) {
  ParserState state;
  state.reset();
  ResponseInfo info;
  std::string partial = "HTTP/1.1 200 OK\r\nContent-Len";
  ParseResult r = get->parse_response(state, {partial.data(), partial.size()}, info);
  EXPECT_EQ(r.status, ParseStatus::need_more);
  EXPECT_EQ(r.consumed, std::string("HTTP/1.1 200 OK\r\n").size());
  EXPECT_EQ(info.status_code, 200);
}

TEST_F(HttpResponse, HugeLineIsAnError) {
  std::string r = "HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'a');
  Outcome o = feed(*get, {r}, false);
  EXPECT_EQ(o.status, ParseStatus::error);
  EXPECT_EQ(o.error, "line_too_long");
}

TEST_F(HttpResponse, StatusLineWithoutReason) {
  std::string r = "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx";
  EXPECT_EQ(feed_all_ways(*get, r, false), ok(ParseStatus::complete, r.size(), 200, false));
}

TEST_F(HttpResponse, StateFitsAndStartsAtZero) {
  // a second response parsed with a fresh (zeroed) state gives the same answer
  std::string r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n";
  EXPECT_EQ(feed(*get, {r}, false), feed(*get, {r}, false));
}

// Mutated and random inputs: the parser never consumes more than offered, always makes progress
// or stops, and agrees with itself across splits.
TEST_F(HttpResponse, RandomInputsAreSafe) {
  std::mt19937 rng(12345);
  const std::string seeds[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
      "HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 304 Not Modified\r\n\r\n",
  };
  const char alphabet[] = "HTP/1.0 2345:\r\n;abcdefxyzCcLlTt-";
  for (int round = 0; round < 400; ++round) {
    std::string input = seeds[round % 3];
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = rng() % input.size();
      switch (rng() % 3) {
        case 0:
          input[at] = alphabet[rng() % (sizeof alphabet - 1)];
          break;
        case 1:
          input.erase(at, 1 + rng() % 3);
          break;
        default:
          input.insert(at, 1, alphabet[rng() % (sizeof alphabet - 1)]);
          break;
      }
      if (input.empty()) input = "x";
    }
    Outcome whole = feed(*get, {input}, true);
    EXPECT_LE(whole.consumed, input.size());
    std::size_t cut = rng() % (input.size() + 1);
    EXPECT_EQ(feed(*get, {input.substr(0, cut), input.substr(cut)}, true), whole) << input;
  }
}

}  // namespace
}  // namespace loadctl::http::test
