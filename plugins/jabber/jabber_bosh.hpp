#pragma once
// XMPP over BOSH (XEP-0124/0206) for <server type="bosh|bosh_ssl">, as Tsung's ts_bosh carries
// ts_jabber: the XMPP connection's stream header becomes a session creation (random rid, wait 60,
// hold 1) or, once the session exists, a restart; </stream:stream> a terminate; every other
// stanza goes in a <body> POSTed to bosh_path, on the connection or on its second lane (the
// engine's ConnectionServices::send_on), so that one request can be held by the server while
// another is sent. Answers' <body> children go to the XMPP connection as its stream.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "loadctl/connection.hpp"

namespace loadctl::jabber {

/// One BOSH session carrying the XMPP connection `xmpp`.
std::unique_ptr<Connection> make_bosh_connection(std::unique_ptr<Connection> xmpp, const ConnectionContext& ctx);

/// One HTTP response, as a BOSH client reads it.
struct BoshResponse {
  std::size_t length = 0;       ///< bytes of the whole response
  unsigned status = 0;
  std::string_view body;        ///< the content (Content-Length bytes, or the chunks decoded)
};
/// need_more: the response is not whole yet; too_large: its content is above the limit (known
/// from a Content-Length or a chunk size, before any sum); error: no HTTP/1.x response with one
/// Content-Length or "Transfer-Encoding: chunked", or a malformed chunk.
enum class BoshParse : std::uint8_t { need_more, complete, too_large, error };
/// Splits the first HTTP response off `data`: a status line "HTTP/1.x NNN", then a body of at
/// most `max_body` bytes: Content-Length bytes, or chunks (RFC 9112; see the README for Tsung's differences),
/// decoded into `decoded` (`out.body` then points into it).
/// A chunked body's walk so far, kept across the reads of one response (so that each read walks
/// only the new chunks): the offset from the response's start of the next chunk-size line, and
/// the content before it; at 0: from the head. Reset it for each new response.
struct BoshScan {
  std::size_t at = 0;
  std::size_t content = 0;
};
BoshParse parse_bosh_response(std::string_view data, std::size_t max_body, BoshResponse& out, std::string& decoded,
                              BoshScan* scan = nullptr);

/// Splits a <body/> element into its start tag (for attribute()) and its children; false when
/// it is no <body> element.
bool split_body(std::string_view body, std::string_view& start_tag, std::string_view& children);

}  // namespace loadctl::jabber
