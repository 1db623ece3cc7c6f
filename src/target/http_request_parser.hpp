#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace loadtarget {

/// One parsed HTTP/1.x request; strings are owned so the receive buffer can be reused.
struct HttpRequest {
  std::string method;      ///< e.g. "GET"
  std::string target;      ///< request-target as sent, e.g. "/bytes/10?x=1"
  int version_minor = 1;   ///< 0 for HTTP/1.0, 1 for HTTP/1.1
  std::string head;        ///< raw request line and headers, terminated by the empty line
  std::string body;        ///< de-chunked body
  std::string content_type;  ///< Content-Type header value, if any
  bool keep_alive = true;  ///< what the client asked for (version default + Connection header)
  bool expect_continue = false;  ///< "Expect: 100-continue" was sent
};

/// Incremental HTTP/1.x request parser: feed it the unconsumed bytes; it says how many it used.
class HttpRequestParser {
 public:
  enum class Result { good, bad, indeterminate };

  static constexpr std::size_t max_head_size = 64 * 1024;
  static constexpr std::uint64_t max_body_size = 64ull * 1024 * 1024;

  /// Prepares for the next request (keeps string capacity).
  void reset();
  /// Parses from `data`; `consumed` receives the number of bytes used (possibly fewer than given).
  Result parse(std::string_view data, std::size_t& consumed);
  /// The request; complete once parse() returned good.
  const HttpRequest& request() const { return req_; }
  /// True once the head is parsed and the body is still incomplete.
  bool awaiting_body() const { return state_ != State::head && state_ != State::done; }
  /// HTTP status to answer with after parse() returned bad.
  int error_status() const { return error_status_; }

 private:
  enum class State { head, body_length, chunk_size, chunk_data, chunk_data_end, trailers, done };

  Result fail(int status);
  Result parse_head(std::string_view head);
  bool parse_request_line(std::string_view line);
  Result parse_header(std::string_view name, std::string_view value);

  State state_ = State::head;
  HttpRequest req_;
  std::size_t head_scanned_ = 0;  ///< bytes of the pending head already searched for CRLFCRLF
  std::uint64_t remaining_ = 0;   ///< body or chunk bytes still expected
  std::int64_t content_length_ = -1;
  bool chunked_ = false;
  int error_status_ = 400;
};

}  // namespace loadtarget
