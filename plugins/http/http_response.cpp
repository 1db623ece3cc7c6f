// Incremental HTTP/1.x response parser. Line-oriented phases (status line, headers, chunk sizes,
// trailers) consume only whole lines, so the whole state is the small struct below.
#include <algorithm>
#include <cstring>
#include <ctime>

#include "http_request.hpp"
#include "loadctl/text.hpp"

namespace loadctl::http {
namespace {

enum Phase : std::uint8_t {
  status_line,  // zero: the start state
  headers,
  body_length,  // `remaining` bytes of a Content-Length body
  body_eof,     // body delimited by the peer closing
  chunk_size,
  chunk_data,  // `remaining` bytes of the current chunk
  chunk_end,   // the CRLF after a chunk's data
  trailers,
};

enum Flag : std::uint8_t {
  f_chunked = 1,
  f_length = 2,
  f_close = 4,
  f_keep_alive = 8,
  f_http10 = 16,
};

struct State {
  std::uint64_t remaining;
  std::uint16_t status;
  std::uint8_t phase;
  std::uint8_t flags;
};

constexpr std::size_t k_max_line = 64 * 1024;

bool is_space(char c) { return c == ' ' || c == '\t'; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "HTTP/1.1 200 OK": sets status and the HTTP/1.0 flag.
bool parse_status_line(std::string_view line, State& st) {
  if (line.size() < 12 || !line.starts_with("HTTP/") || !is_digit(line[5]) || line[6] != '.' ||
      !is_digit(line[7]) || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) ||
      !is_digit(line[11]) || (line.size() > 12 && line[12] != ' '))
    return false;
  st.status = std::uint16_t((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  if (st.status < 100) return false;
  if (line[5] == '1' && line[7] == '0') st.flags |= f_http10;
  return true;
}

// A Set-Cookie goes into the user's jar, made on the first cookie actually stored: a user that
// only receives ignored ones keeps the jar-less (cheaper) encode path.
void store_cookie(std::string_view value, const ResponseInfo& info) {
  if (info.session == nullptr) return;
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  Cookie cookie;
  if (!parse_set_cookie(value, info.host, now, cookie)) return;
  if (!*info.session) {
    if (cookie.expired(now)) return;
    *info.session = std::make_unique<HttpUserSession>();
  }
  if (auto* jar = dynamic_cast<HttpUserSession*>(info.session->get())) jar->store(std::move(cookie), now);
}

// Applies one "Name: value" line; false when malformed. Only four headers matter, so the name
// is matched by length first and other values are never looked at.
bool parse_header(std::string_view line, State& st, const ResponseInfo& info) {
  const char* colon = static_cast<const char*>(std::memchr(line.data(), ':', line.size()));
  if (colon == nullptr || colon == line.data() || is_space(colon[-1])) return false;
  std::string_view name(line.data(), std::size_t(colon - line.data()));
  if (std::memchr(name.data(), ' ', name.size()) || std::memchr(name.data(), '\t', name.size())) return false;
  auto value = [&] { return text::trim(line.substr(name.size() + 1)); };
  switch (name.size()) {
    case 14:  // Content-Length
      if (text::iequals_lower(name, "content-length")) {
        std::string_view v = value();
        if (v.empty() || v.size() > 18) return false;
        std::uint64_t n = 0;
        for (char c : v) {
          if (!is_digit(c)) return false;
          n = n * 10 + std::uint64_t(c - '0');
        }
        st.remaining = n;
        st.flags |= f_length;
      }
      break;
    case 10:  // Connection, Set-Cookie
      if (text::iequals_lower(name, "set-cookie")) {
        store_cookie(value(), info);
      } else if (text::iequals_lower(name, "connection")) {
        std::string_view v = value();
        while (!v.empty()) {  // a comma-separated token list
          auto comma = v.find(',');
          std::string_view token = text::trim(v.substr(0, comma));
          if (text::iequals_lower(token, "close")) st.flags |= f_close;
          if (text::iequals_lower(token, "keep-alive")) st.flags |= f_keep_alive;
          v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
        }
      }
      break;
    case 17:  // Transfer-Encoding
      if (text::iequals_lower(name, "transfer-encoding")) {
        // chunked must be the last coding; anything else leaves the body close-delimited
        std::string_view v = value();
        auto comma = v.rfind(',');
        std::string_view last = text::trim(comma == std::string_view::npos ? v : v.substr(comma + 1));
        if (text::iequals_lower(last, "chunked")) st.flags |= f_chunked;
      }
      break;
    default:
      break;
  }
  return true;
}

// "1a2b;ext=1": the chunk size; false when malformed.
bool parse_chunk_size(std::string_view line, std::uint64_t& size) {
  std::size_t i = 0;
  size = 0;
  for (; i < line.size(); ++i) {
    char c = text::ascii_lower(line[i]);
    int digit = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (digit < 0) break;
    if (i >= 15) return false;
    size = size * 16 + std::uint64_t(digit);
  }
  if (i == 0) return false;
  while (i < line.size() && is_space(line[i])) ++i;
  return i == line.size() || line[i] == ';';
}

bool closes(const State& st) {
  return (st.flags & f_close) || ((st.flags & f_http10) && !(st.flags & f_keep_alive));
}

}  // namespace

ParseResult HttpRequest::parse_response(ParserState& state, std::span<const char> data,
                                        ResponseInfo& info) const {
  State& st = state.as<State>();
  const char* p = data.data();
  const std::size_t n = data.size();
  std::size_t pos = 0;
  auto result = [&](ParseStatus status, const char* error = nullptr) {
    info.status_code = st.status;
    info.close = closes(st);
    if (error) info.error = error;
    return ParseResult{status, pos};
  };

  for (;;) {
    switch (st.phase) {
      case body_length:
      case chunk_data: {
        std::uint64_t take = std::min<std::uint64_t>(st.remaining, n - pos);
        pos += take;
        st.remaining -= take;
        if (st.remaining != 0) return result(ParseStatus::need_more);
        if (st.phase == body_length) return result(ParseStatus::complete);
        st.phase = chunk_end;
        continue;
      }
      case body_eof:
        pos = n;
        return result(ParseStatus::need_more);
      default:
        break;
    }

    // Line phases: consume one whole line or wait for more.
    if (pos == n) return result(ParseStatus::need_more);
    const char* nl = static_cast<const char*>(std::memchr(p + pos, '\n', n - pos));
    if (nl == nullptr) {
      if (n - pos > k_max_line) return result(ParseStatus::error, "line_too_long");
      return result(ParseStatus::need_more);
    }
    std::string_view line(p + pos, std::size_t(nl - (p + pos)));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = std::size_t(nl - p) + 1;

    switch (st.phase) {
      case status_line:
        if (line.empty()) continue;  // tolerate blank lines before the status line
        if (!parse_status_line(line, st)) return result(ParseStatus::error, "bad_status_line");
        st.phase = headers;
        continue;
      case headers:
        if (!line.empty()) {
          if (is_space(line[0])) continue;  // obsolete folding: a continuation we do not need
          if (!parse_header(line, st, info)) return result(ParseStatus::error, "bad_header");
          continue;
        }
        break;  // end of headers, below
      case chunk_size:
        if (!parse_chunk_size(line, st.remaining)) return result(ParseStatus::error, "bad_chunk");
        st.phase = st.remaining == 0 ? trailers : chunk_data;
        continue;
      case chunk_end:
        if (!line.empty()) return result(ParseStatus::error, "bad_chunk");
        st.phase = chunk_size;
        continue;
      case trailers:
        if (line.empty()) return result(ParseStatus::complete);
        if (std::memchr(line.data(), ':', line.size()) == nullptr)
          return result(ParseStatus::error, "bad_header");
        continue;
      default:
        return result(ParseStatus::error, "bad_state");
    }

    // End of headers: decide how the body is delimited.
    const std::uint16_t status = st.status;
    if (status < 200 && status != 101) {  // interim response (100 Continue): the real one follows
      st = State{};
      continue;
    }
    if (head_ || status == 204 || status == 304 || status == 101)
      return result(ParseStatus::complete);
    if (st.flags & f_chunked) {
      st.phase = chunk_size;
    } else if (st.flags & f_length) {
      if (st.remaining == 0) return result(ParseStatus::complete);
      st.phase = body_length;
    } else {
      st.flags |= f_close;
      st.phase = body_eof;
    }
  }
}

bool HttpRequest::complete_on_eof(ParserState& state, ResponseInfo& info) const {
  State& st = state.as<State>();
  if (st.phase != body_eof) return false;
  info.status_code = st.status;
  info.close = true;
  return true;
}

}  // namespace loadctl::http
