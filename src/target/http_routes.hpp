#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "http_request_parser.hpp"

namespace loadtarget {

/// What a route decided; HttpConnection turns it into bytes on the wire.
struct HttpResponse {
  int status = 200;                       ///< status code
  std::string content_type = "text/plain";  ///< Content-Type header, empty for none
  std::string body;                       ///< body (not sent for HEAD, 204, 304)
  bool chunked = false;                   ///< send the body in chunked encoding (HTTP/1.1 only)
  bool close = false;                     ///< close the connection after this response
  std::chrono::milliseconds delay{0};     ///< wait this long before responding
  std::string headers;                    ///< extra header lines, each ending in CRLF
};

/// Routes a request: GET / /hello /status/N /bytes/N /delay/MS /echo /chunked/N /close /json
/// /digest (digest_route.hpp).
/// `sequence` is a per-thread request counter used to make /json tokens distinct.
void route_request(const HttpRequest& req, std::uint64_t sequence, HttpResponse& res);

/// Reason phrase for a status code ("Unknown" for unregistered codes).
const char* reason_phrase(int status);

/// Appends the status line, headers and (unless HEAD) body of `res` to `out`.
void serialize_response(const HttpRequest& req, const HttpResponse& res, bool keep_alive,
                        std::string& out);

}  // namespace loadtarget
