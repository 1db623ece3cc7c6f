#include "http_request_parser.hpp"

#include <algorithm>
#include <charconv>
#include "loadctl/text.hpp"

namespace loadtarget {
namespace {

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Calls f(token) for each comma-separated, trimmed, non-empty token of a header value.
template <typename F>
void for_each_token(std::string_view value, F f) {
  while (!value.empty()) {
    auto comma = value.find(',');
    auto token = loadctl::text::trim(value.substr(0, comma));
    if (!token.empty()) f(token);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace

void HttpRequestParser::reset() {
  state_ = State::head;
  req_.method.clear();
  req_.target.clear();
  req_.version_minor = 1;
  req_.head.clear();
  req_.body.clear();
  req_.content_type.clear();
  req_.keep_alive = true;
  req_.expect_continue = false;
  head_scanned_ = 0;
  remaining_ = 0;
  content_length_ = -1;
  chunked_ = false;
  error_status_ = 400;
}

HttpRequestParser::Result HttpRequestParser::fail(int status) {
  error_status_ = status;
  return Result::bad;
}

HttpRequestParser::Result HttpRequestParser::parse(std::string_view data, std::size_t& consumed) {
  consumed = 0;
  auto use = [&](std::size_t n) {
    consumed += n;
    data.remove_prefix(n);
  };
  for (;;) {
    switch (state_) {
      case State::head: {
        // Empty lines before a request line are tolerated (RFC 9112 section 2.2).
        while (head_scanned_ == 0 && !data.empty() && (data.front() == '\r' || data.front() == '\n'))
          use(1);
        auto from = head_scanned_ > 3 ? head_scanned_ - 3 : 0;
        auto end = data.find("\r\n\r\n", from);
        if (end == std::string_view::npos) {
          head_scanned_ = data.size();
          if (data.size() > max_head_size) return fail(431);
          return Result::indeterminate;
        }
        if (end + 4 > max_head_size) return fail(431);
        auto r = parse_head(data.substr(0, end + 4));
        if (r == Result::bad) return r;
        use(end + 4);
        if (chunked_) {
          state_ = State::chunk_size;
        } else if (content_length_ > 0) {
          remaining_ = static_cast<std::uint64_t>(content_length_);
          req_.body.reserve(std::min<std::uint64_t>(remaining_, 1 << 20));
          state_ = State::body_length;
        } else {
          state_ = State::done;
        }
        break;
      }
      case State::body_length:
      case State::chunk_data: {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
        req_.body.append(data.data(), n);
        use(n);
        remaining_ -= n;
        if (remaining_ > 0) return Result::indeterminate;
        state_ = state_ == State::body_length ? State::done : State::chunk_data_end;
        break;
      }
      case State::chunk_size: {
        auto eol = data.find("\r\n");
        if (eol == std::string_view::npos) return data.size() > 1024 ? fail(400) : Result::indeterminate;
        auto line = data.substr(0, eol);
        auto digits = line.substr(0, line.find(';'));
        digits = loadctl::text::trim(digits);
        std::uint64_t size = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
        if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) return fail(400);
        if (req_.body.size() + size > max_body_size) return fail(413);
        use(eol + 2);
        remaining_ = size;
        state_ = size == 0 ? State::trailers : State::chunk_data;
        break;
      }
      case State::chunk_data_end:
        if (data.size() < 2) return Result::indeterminate;
        if (data[0] != '\r' || data[1] != '\n') return fail(400);
        use(2);
        state_ = State::chunk_size;
        break;
      case State::trailers: {
        auto eol = data.find("\r\n");
        if (eol == std::string_view::npos) return data.size() > max_head_size ? fail(431) : Result::indeterminate;
        use(eol + 2);
        if (eol == 0) state_ = State::done;
        break;
      }
      case State::done:
        return Result::good;
    }
  }
}

HttpRequestParser::Result HttpRequestParser::parse_head(std::string_view head) {
  req_.head.assign(head);
  auto eol = head.find("\r\n");
  if (!parse_request_line(head.substr(0, eol))) return fail(400);
  head.remove_prefix(eol + 2);
  while (head.size() > 2) {
    eol = head.find("\r\n");
    auto line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400);
    auto name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return fail(400);
    auto r = parse_header(name, loadctl::text::trim(line.substr(colon + 1)));
    if (r == Result::bad) return r;
  }
  if (chunked_) content_length_ = -1;  // Transfer-Encoding overrides Content-Length
  return Result::good;
}

bool HttpRequestParser::parse_request_line(std::string_view line) {
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  auto method = line.substr(0, sp1);
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), is_token_char)) return false;
  if (std::any_of(target.begin(), target.end(), [](char c) { return c <= ' ' || c == 0x7f; })) return false;
  if (version == "HTTP/1.1") {
    req_.version_minor = 1;
    req_.keep_alive = true;
  } else if (version == "HTTP/1.0") {
    req_.version_minor = 0;
    req_.keep_alive = false;
  } else {
    return false;
  }
  req_.method.assign(method);
  req_.target.assign(target);
  return true;
}

HttpRequestParser::Result HttpRequestParser::parse_header(std::string_view name, std::string_view value) {
  if (loadctl::text::iequals(name, "content-length")) {
    std::int64_t n = -1;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || p != value.data() + value.size() || n < 0) return fail(400);
    if (content_length_ >= 0 && content_length_ != n) return fail(400);
    if (static_cast<std::uint64_t>(n) > max_body_size) return fail(413);
    content_length_ = n;
  } else if (loadctl::text::iequals(name, "transfer-encoding")) {
    std::string_view last;
    for_each_token(value, [&](std::string_view t) { last = t; });
    if (!loadctl::text::iequals(last, "chunked")) return fail(501);
    chunked_ = true;
  } else if (loadctl::text::iequals(name, "connection")) {
    for_each_token(value, [&](std::string_view t) {
      if (loadctl::text::iequals(t, "close")) req_.keep_alive = false;
      else if (loadctl::text::iequals(t, "keep-alive")) req_.keep_alive = true;
    });
  } else if (loadctl::text::iequals(name, "expect")) {
    if (!loadctl::text::iequals(value, "100-continue")) return fail(417);
    req_.expect_continue = req_.version_minor >= 1;
  } else if (loadctl::text::iequals(name, "content-type")) {
    req_.content_type.assign(value);
  }
  return Result::good;
}

}  // namespace loadtarget
