#include "pgsql_wire.hpp"

namespace loadctl::pgsql {

Message next_message(std::span<const char> data, std::size_t max_body) {
  Message m;
  if (data.size() < 5) return m;
  m.type = data[0];
  std::uint32_t length = get_u32(std::string_view(data.data() + 1, 4));
  if (length < 4) {
    m.status = Message::Status::bad;
    return m;
  }
  if (length - 4 > max_body) {
    m.status = Message::Status::too_large;
    return m;
  }
  m.size = std::size_t{length} + 1;
  if (data.size() < m.size) return m;
  m.body = std::string_view(data.data() + 5, length - 4);
  m.status = Message::Status::whole;
  return m;
}

void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v));
}

void put_cstring(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

std::uint32_t get_u32(std::string_view b) {
  auto u = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(b[i])); };
  return u(0) << 24 | u(1) << 16 | u(2) << 8 | u(3);
}

std::size_t begin_message(std::string& out, char type) {
  std::size_t start = out.size();
  out.push_back(type);
  out.append(4, '\0');
  return start;
}

void end_message(std::string& out, std::size_t start) {
  auto length = static_cast<std::uint32_t>(out.size() - start - 1);
  for (int i = 0; i < 4; ++i) out[start + 1 + i] = static_cast<char>(length >> (24 - 8 * i));
}

void startup_message(std::string& out, std::string_view user, std::string_view database) {
  // No type byte: the length comes first, then the version (3.0) and name/value pairs.
  std::size_t start = out.size();
  out.append(4, '\0');
  put_u32(out, 3u << 16);
  put_cstring(out, "user");
  put_cstring(out, user);
  put_cstring(out, "database");
  put_cstring(out, database);
  out.push_back('\0');
  auto length = static_cast<std::uint32_t>(out.size() - start);
  for (int i = 0; i < 4; ++i) out[start + i] = static_cast<char>(length >> (24 - 8 * i));
}

void ssl_request(std::string& out) {
  put_u32(out, 8);
  put_u32(out, 1234u << 16 | 5679);  // 80877103, a "protocol version" no server speaks
}

void empty_message(std::string& out, char type) {
  out.push_back(type);
  put_u32(out, 4);
}

void string_message(std::string& out, char type, std::string_view text) {
  std::size_t start = begin_message(out, type);
  put_cstring(out, text);
  end_message(out, start);
}

std::string_view error_field(std::string_view body, char code) {
  std::size_t at = 0;
  while (at < body.size() && body[at] != '\0') {
    char field = body[at++];
    std::size_t end = body.find('\0', at);
    if (end == std::string_view::npos) end = body.size();
    if (field == code) return body.substr(at, end - at);
    at = end + 1;
  }
  return {};
}

}  // namespace loadctl::pgsql
