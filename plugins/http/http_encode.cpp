#include <cctype>
#include <charconv>

#include "http_request.hpp"

namespace loadctl::http {

HttpRequest::HttpRequest(std::vector<Chunk> chunks, std::string description, bool head,
                         std::optional<Endpoint> endpoint, RequestExtras extras)
    : chunks_(std::move(chunks)),
      description_(std::move(description)),
      head_(head),
      endpoint_(std::move(endpoint)),
      extras_(std::move(extras)) {}

namespace {

// The request target on the request line already encoded at out[start...]: "GET /a?b HTTP/1.1".
std::string_view request_target(const std::string& out, std::size_t start) {
  std::string_view line(out.data() + start, out.size() - start);
  auto from = line.find(' ');
  if (from == std::string_view::npos) return {};
  auto to = line.find(' ', from + 1);
  return line.substr(from + 1, to == std::string_view::npos ? std::string_view::npos : to - from - 1);
}

}  // namespace

void append_base64(std::string_view in, std::string& out) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    auto n = std::uint32_t(std::uint8_t(in[i])) << 16 |
             std::uint32_t(std::uint8_t(in[i + 1])) << 8 | std::uint8_t(in[i + 2]);
    out += k_alphabet[n >> 18];
    out += k_alphabet[(n >> 12) & 63];
    out += k_alphabet[(n >> 6) & 63];
    out += k_alphabet[n & 63];
  }
  std::size_t rest = in.size() - i;
  if (rest == 0) return;
  std::uint32_t n = std::uint32_t(std::uint8_t(in[i])) << 16;
  if (rest == 2) n |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
  out += k_alphabet[n >> 18];
  out += k_alphabet[(n >> 12) & 63];
  out += rest == 2 ? k_alphabet[(n >> 6) & 63] : '=';
  out += '=';
}

void HttpRequest::encode(const EncodeContext& ctx, std::string& out) const {
  // Parts rendered before they can be placed; per thread, so capacity is reused across requests.
  thread_local std::string auth_scratch;
  thread_local std::string body_scratch;
  const std::size_t start = out.size();
  for (const Chunk& c : chunks_) {
    switch (c.kind) {
      case Chunk::Kind::literal:
        out += c.text;
        break;
      case Chunk::Kind::text:
        c.value.render(ctx.vars, out, ctx.missing_vars);
        break;
      case Chunk::Kind::host:
        if (!ctx.host_header.empty()) {
          out += "Host: ";
          out += ctx.host_header;
          out += "\r\n";
        }
        break;
      case Chunk::Kind::user_agent:
        out += "User-Agent: ";
        out += extras_.options ? extras_.options->user_agent(ctx.user_id) : kDefaultUserAgent;
        out += "\r\n";
        break;
      case Chunk::Kind::basic_auth:
        auth_scratch.clear();
        c.value.render(ctx.vars, auth_scratch, ctx.missing_vars);
        auth_scratch += ':';
        c.value2.render(ctx.vars, auth_scratch, ctx.missing_vars);
        out += "Authorization: Basic ";
        append_base64(auth_scratch, out);
        out += "\r\n";
        break;
      case Chunk::Kind::content_length: {
        body_scratch.clear();
        c.value.render(ctx.vars, body_scratch, ctx.missing_vars);
        char digits[24];
        auto end = std::to_chars(digits, digits + sizeof digits, body_scratch.size()).ptr;
        out += "Content-Length: ";
        out.append(digits, end);
        out += "\r\n";
        break;
      }
      case Chunk::Kind::body:
        out += body_scratch;
        break;
      case Chunk::Kind::cookies:
        if (ctx.session || !extras_.cookies.empty()) {
          auto* jar = dynamic_cast<const HttpUserSession*>(ctx.session);
          std::string_view host = endpoint_ ? std::string_view(endpoint_->host) : host_of(ctx.host_header);
          thread_local std::string target;  // copied: appending to `out` may move it
          target.assign(request_target(out, start));
          append_cookie_header(jar, extras_.cookies, ctx, host, target, out);
        }
        out += c.text;
        break;
      case Chunk::Kind::digest_auth:
        append_digest_header(*extras_.digest, ctx, extras_.method, std::string(request_target(out, start)), out);
        break;
      case Chunk::Kind::oauth:
        append_oauth_header(*extras_.oauth, ctx, extras_.method, std::string(request_target(out, start)), out);
        break;
    }
  }
}

bool HttpRequest::dump_fields(const EncodeContext& ctx, DumpFields& out) const {
  out.method = extras_.method;  // Tsung keeps methods as lower-case atoms: "get"
  for (char& c : out.method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out.target.clear();
  extras_.target.render(ctx.vars, out.target);
  return true;
}

}  // namespace loadctl::http
