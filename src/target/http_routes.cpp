#include "http_routes.hpp"

#include "digest_route.hpp"

#include <charconv>
#include <string_view>

#include <fmt/format.h>

namespace loadtarget {
namespace {

constexpr std::uint64_t max_generated_body = 64ull * 1024 * 1024;
constexpr std::int64_t max_delay_ms = 10 * 60 * 1000;
constexpr std::size_t chunk_size = 1000;

constexpr std::string_view index_html =
    "<!DOCTYPE html>\n<html><head><title>loadtarget</title></head>\n"
    "<body><h1>loadtarget</h1><p>Built-in target server of loadctl.</p>\n"
    "<a href=\"/hello\">hello</a> <a href=\"/json\">json</a></body></html>\n";

// Parses the whole of `s` as a non-negative decimal number.
bool parse_number(std::string_view s, std::uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

// Fills `body` with `n` printable bytes (a repeating alphabet, easy to eyeball in captures).
void fill_bytes(std::string& body, std::uint64_t n) {
  body.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) body[i] = static_cast<char>('a' + i % 26);
}

void not_found(HttpResponse& res) {
  res.status = 404;
  res.body = "not found\n";
}

}  // namespace

void route_request(const HttpRequest& req, std::uint64_t sequence, HttpResponse& res) {
  res = HttpResponse{};
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));
  bool get_like = req.method == "GET" || req.method == "HEAD";

  if (path == "/echo") {
    if (req.method == "GET" || req.method == "HEAD") {
      res.body = req.head;
    } else {
      res.body = req.body;
      res.content_type = req.content_type.empty() ? "application/octet-stream" : req.content_type;
    }
    return;
  }
  if (!get_like) {
    if (path == "/" || path == "/hello" || path == "/json" || path == "/close") {
      res.status = 405;
      res.body = "method not allowed\n";
    } else {
      not_found(res);
    }
    return;
  }
  std::uint64_t n = 0;
  if (path == "/") {
    res.content_type = "text/html";
    res.body = index_html;
  } else if (path == "/hello") {
    res.body = "hello";
  } else if (path == "/json") {
    res.content_type = "application/json";
    res.body = fmt::format(
        "{{\"token\":\"tok{:x}\",\"status\":\"ok\",\"count\":3,"
        "\"items\":[{{\"id\":1,\"name\":\"alpha\"}},{{\"id\":2,\"name\":\"beta\"}},"
        "{{\"id\":3,\"name\":\"gamma\"}}]}}\n",
        0x10000 + sequence);
  } else if (path == "/digest") {
    route_digest(req, sequence, res);
  } else if (path == "/close") {
    res.body = "bye\n";
    res.close = true;
  } else if (path.starts_with("/status/") && parse_number(path.substr(8), n) && n >= 200 && n <= 599) {
    res.status = static_cast<int>(n);
    res.body = fmt::format("status {}\n", n);
  } else if (path.starts_with("/bytes/") && parse_number(path.substr(7), n) && n <= max_generated_body) {
    res.content_type = "application/octet-stream";
    fill_bytes(res.body, n);
  } else if (path.starts_with("/chunked/") && parse_number(path.substr(9), n) && n <= max_generated_body) {
    fill_bytes(res.body, n);
    res.chunked = true;
  } else if (path.starts_with("/delay/") && parse_number(path.substr(7), n) &&
             n <= static_cast<std::uint64_t>(max_delay_ms)) {
    res.delay = std::chrono::milliseconds(n);
    res.body = fmt::format("delayed {} ms\n", n);
  } else {
    not_found(res);
  }
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

void serialize_response(const HttpRequest& req, const HttpResponse& res, bool keep_alive,
                        std::string& out) {
  bool no_body = req.method == "HEAD" || res.status == 204 || res.status == 304;
  bool chunked = res.chunked && req.version_minor >= 1;
  auto hdr = std::back_inserter(out);
  fmt::format_to(hdr, "HTTP/1.{} {} {}\r\nServer: loadtarget\r\n", req.version_minor, res.status,
                 reason_phrase(res.status));
  if (!res.content_type.empty()) fmt::format_to(hdr, "Content-Type: {}\r\n", res.content_type);
  out += res.headers;
  if (chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (res.status != 204 && res.status != 304) {
    fmt::format_to(hdr, "Content-Length: {}\r\n", res.body.size());
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (req.version_minor == 0) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (no_body) return;
  if (!chunked) {
    out += res.body;
    return;
  }
  std::string_view body = res.body;
  while (!body.empty()) {
    auto piece = body.substr(0, chunk_size);
    fmt::format_to(hdr, "{:x}\r\n", piece.size());
    out += piece;
    out += "\r\n";
    body.remove_prefix(piece.size());
  }
  out += "0\r\n\r\n";
}

}  // namespace loadtarget
