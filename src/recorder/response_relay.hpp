#pragma once
// ResponseRelay: one upstream HTTP/1.1 response passed on to the client as it arrives (no I/O
// here: the proxy connection reads and writes, http_proxy.cpp). In event order:
//
//   feed(bytes from the upstream) -> the header, edited (keep-alive, the http://- rewrite), is
//   appended to `out` -> the body bytes are appended as they came (chunked stays chunked; a
//   Content-Length or close-delimited body as is) -> done | failed ; feed_eof when the upstream
//   closes (the end of a close-delimited body).
//
// Interim responses (100, 103) are dropped: the client gets the final one. Memory is the caller's
// read buffer, whatever the body's length: nothing of a streamed body is kept. Only the http://-
// trick keeps a text body (up to kMaxRewrittenBody) to rewrite its https:// links, as Tsung's
// from_https; text/event-stream is streamed unrewritten. The recorder records requests only:
// nothing of a response reaches the session file.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace loadctl::recorder {

inline constexpr std::uint64_t kMaxRewrittenBody = 64ull << 20;  ///< a text body rewritten for the http://- trick
inline constexpr std::uint32_t kMaxResponseHeader = 256 * 1024;

class ResponseRelay {
 public:
  enum class Status { more, done, failed };

  /// `head_request`: the answer has no body. `rewrite_https`: Tsung's http://- trick (links,
  /// Location and Set-Cookie rewritten). `client_keep_alive`: the client's request allows keep-alive.
  /// `upgrade`: the request asked for a WebSocket: a 101 is passed on and ends the HTTP exchange.
  ResponseRelay(bool head_request, bool rewrite_https, bool client_keep_alive, bool upgrade = false);
  ~ResponseRelay();
  ResponseRelay(const ResponseRelay&) = delete;
  ResponseRelay& operator=(const ResponseRelay&) = delete;

  /// Parses `data` (what the upstream sent, not yet used); `used` says how much was (the caller
  /// keeps the rest and calls again with more appended). What goes to the client is appended to `out`.
  Status feed(std::string_view data, std::size_t& used, std::string& out);
  /// The upstream closed its end (or TLS ended): completes a close-delimited body, else fails.
  Status feed_eof(std::string& out);

  /// Some bytes of an answer came (a reused connection that failed before is not retried then).
  bool got_some() const { return got_some_; }
  /// The header went to the client: a failure now cannot be answered with a 502.
  bool forwarded() const { return forwarded_; }
  /// After done: the client connection stays open / the upstream one may be reused.
  bool client_keep_alive() const { return client_keep_alive_; }
  bool upstream_keep_alive() const { return upstream_keep_alive_; }
  /// Done with a 101 (an upgrade was asked): the bytes that follow are the new protocol's.
  bool switched() const { return switched_; }
  /// A header of the final response ("" when absent).
  std::string header(std::string_view name) const;
  /// Why it failed.
  const std::string& error() const { return error_; }

 private:
  struct Parser;
  Status fail(std::string why);
  Status on_header(std::string& out);
  void finish(std::string& out);

  std::unique_ptr<Parser> parser_;
  bool head_request_, rewrite_https_, client_keep_alive_, upgrade_;
  bool switched_ = false, upstream_keep_alive_ = false, got_some_ = false, forwarded_ = false, rewriting_ = false;
  std::string error_;
};

}  // namespace loadctl::recorder
