#include <charconv>

#include "http_request.hpp"

namespace loadctl::http {

HttpRequest::HttpRequest(std::vector<Chunk> chunks, std::string description, bool head,
                         std::optional<Endpoint> endpoint)
    : chunks_(std::move(chunks)),
      description_(std::move(description)),
      head_(head),
      endpoint_(std::move(endpoint)) {}

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
        if (!ctx.user_agent.empty()) {
          out += "User-Agent: ";
          out += ctx.user_agent;
          out += "\r\n";
        }
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
    }
  }
}

}  // namespace loadctl::http
