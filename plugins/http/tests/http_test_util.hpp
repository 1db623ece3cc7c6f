#pragma once
// Helpers shared by the http plugin tests: parse an <http> snippet, feed a response like the
// engine.

#include "support/map_vars.hpp"
#include <gtest/gtest.h>

#include <map>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "http_request.hpp"

namespace loadctl::http::test {

using loadctl::test::MapVars;

/// Parses `xml` (one <http> element) with `ctx`; the document is kept alive by the caller.
/// A user_agent option of one agent, "loadctl/0.1".
inline const HttpOptions* test_http_options() {
  static const HttpOptions options({{"loadctl/0.1", 1.0}});
  return &options;
}

/// Without options of its own, the request gets test_http_options().
inline std::shared_ptr<const HttpRequest> parse_http(const std::string& xml,
                                                     RequestParseContext ctx = {}) {
  if (!ctx.options) ctx.options = test_http_options();
  pugi::xml_document doc;
  auto ok = doc.load_string(xml.c_str());
  EXPECT_TRUE(ok) << ok.description();
  return parse_http_request(doc.first_child(), ctx);
}

struct Outcome {
  ParseStatus status = ParseStatus::need_more;
  std::size_t consumed = 0;  ///< total bytes consumed when the response ended
  std::uint16_t code = 0;
  bool close = false;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{status=" << int(o.status) << " consumed=" << o.consumed << " code=" << o.code
            << " close=" << o.close << " error=" << o.error << "}";
}

/// Feeds `pieces` as the engine does: unconsumed bytes are kept and offered again with the next
/// piece. At the end, `eof` tells the parser the peer closed.
inline Outcome feed(const RequestSpec& spec, const std::vector<std::string>& pieces, bool eof) {
  ParserState state;
  state.reset();
  ResponseInfo info;
  std::string buffer;
  Outcome out;
  for (const auto& piece : pieces) {
    buffer += piece;
    ParseResult r = spec.parse_response(state, {buffer.data(), buffer.size()}, info);
    EXPECT_LE(r.consumed, buffer.size());
    out.consumed += r.consumed;
    buffer.erase(0, r.consumed);
    out.status = r.status;
    out.code = info.status_code;
    out.close = info.close;
    if (r.status != ParseStatus::need_more) {
      if (info.error) out.error = info.error;
      return out;
    }
  }
  if (eof && spec.complete_on_eof(state, info)) {
    out.status = ParseStatus::complete;
    out.code = info.status_code;
    out.close = info.close;
  }
  return out;
}

/// Feeds `response` whole, in every 2-way split and byte by byte; all must agree. Returns the
/// whole-feed outcome.
inline Outcome feed_all_ways(const RequestSpec& spec, const std::string& response, bool eof) {
  Outcome whole = feed(spec, {response}, eof);
  for (std::size_t cut = 0; cut <= response.size(); ++cut) {
    Outcome split = feed(spec, {response.substr(0, cut), response.substr(cut)}, eof);
    EXPECT_EQ(split, whole) << "split at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : response) bytes.emplace_back(1, c);
  EXPECT_EQ(feed(spec, bytes, eof), whole) << "byte by byte";
  return whole;
}

}  // namespace loadctl::http::test
