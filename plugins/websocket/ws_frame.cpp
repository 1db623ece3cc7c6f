// RFC 6455 framing and opening handshake (see ws_frame.hpp).
#include "ws_frame.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>
#include "loadctl/text.hpp"

namespace loadctl::websocket {

namespace {

void base64(const unsigned char* data, std::size_t size, char* out) {
  // EVP_EncodeBlock writes a terminating NUL after the 4*ceil(size/3) characters.
  unsigned char tmp[64];
  int n = EVP_EncodeBlock(tmp, data, static_cast<int>(size));
  std::memcpy(out, tmp, static_cast<std::size_t>(n));
}

// Masking keys: RFC 6455 section 5.3 wants them unpredictable (Tsung takes them from
// crypto:strong_rand_bytes). A per-thread pool refilled from OpenSSL's RAND_bytes 4 KB at a
// time keeps the cost of a RAND_bytes call off all but one frame in 1024.
constexpr std::size_t kMaskPool = 4096;

void next_mask(unsigned char (&mask)[4]) {
  thread_local unsigned char pool[kMaskPool];
  thread_local std::size_t used = kMaskPool;
  if (used == kMaskPool) {
    if (RAND_bytes(pool, static_cast<int>(kMaskPool)) != 1) throw std::runtime_error("RAND_bytes failed");
    used = 0;
  }
  std::memcpy(mask, pool + used, 4);
  used += 4;
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    if (text::iequals(text::trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

void make_key(char (&key)[kKeySize]) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed");
  base64(raw, sizeof raw, key);
}

void accept_for(std::string_view key, char (&accept)[kAcceptSize]) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string text(key);
  text += guid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr) != 1 || size != 20)
    throw std::runtime_error("SHA-1 failed");
  base64(digest, size, accept);
}

void apply_mask(char* data, std::size_t size, const unsigned char (&mask)[4], std::size_t offset) {
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>(data[i] ^ mask[(offset + i) & 3]);
}

void append_frame(std::string& out, Opcode opcode, std::string_view payload, const unsigned char (&mask)[4]) {
  unsigned char header[14];
  std::size_t n = 0;
  header[n++] = static_cast<unsigned char>(0x80 | opcode);
  std::uint64_t size = payload.size();
  if (size < 126) {
    header[n++] = static_cast<unsigned char>(0x80 | size);
  } else if (size < 65536) {
    header[n++] = 0x80 | 126;
    header[n++] = static_cast<unsigned char>(size >> 8);
    header[n++] = static_cast<unsigned char>(size);
  } else {
    header[n++] = 0x80 | 127;
    for (int shift = 56; shift >= 0; shift -= 8) header[n++] = static_cast<unsigned char>(size >> shift);
  }
  std::memcpy(header + n, mask, 4);
  n += 4;
  out.append(reinterpret_cast<const char*>(header), n);
  std::size_t start = out.size();
  out.append(payload);
  apply_mask(out.data() + start, payload.size(), mask);
}

void append_frame(std::string& out, Opcode opcode, std::string_view payload) {
  unsigned char mask[4];
  next_mask(mask);
  append_frame(out, opcode, payload, mask);
}

HeaderStatus parse_header(std::span<const char> data, FrameHeader& h) {
  if (data.size() < 2) return HeaderStatus::need_more;
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(data[i]); };
  h.fin = byte(0) & 0x80;
  h.rsv = static_cast<std::uint8_t>((byte(0) >> 4) & 7);
  h.opcode = byte(0) & 0x0f;
  h.masked = byte(1) & 0x80;
  std::uint64_t size = byte(1) & 0x7f;
  std::size_t n = 2;
  std::size_t extra = size == 126 ? 2 : size == 127 ? 8 : 0;
  if (data.size() < n + extra + (h.masked ? 4 : 0)) return HeaderStatus::need_more;
  if (extra) {
    size = 0;
    for (std::size_t i = 0; i < extra; ++i) size = (size << 8) | byte(n + i);
    n += extra;
  }
  if (h.masked) {
    std::memcpy(h.mask, data.data() + n, 4);
    n += 4;
  }
  h.header_size = n;
  h.payload_size = size;
  return HeaderStatus::ok;
}

std::size_t handshake_end(std::string_view data) {
  std::size_t end = data.find("\r\n\r\n");
  return end == std::string_view::npos ? end : end + 4;
}

const char* check_handshake(std::string_view response, std::string_view expected_accept) {
  std::size_t eol = response.find("\r\n");
  if (eol == std::string_view::npos) return "no status line";
  std::string_view status = response.substr(0, eol);
  // "HTTP/1.1 101 Switching Protocols": Tsung compares the version and the code.
  if (status.size() < 12 || !text::iequals(status.substr(0, 9), "HTTP/1.1 ") ||
      status.substr(9, 3) != "101" || (status.size() > 12 && status[12] != ' '))
    return "status is not HTTP/1.1 101";
  bool upgrade = false, connection = false, accept = false;
  std::string_view rest = response.substr(eol + 2);
  while (!rest.empty()) {
    eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    if (line.empty()) break;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return "malformed header line";
    std::string_view name = text::trim(line.substr(0, colon)), value = text::trim(line.substr(colon + 1));
    if (text::iequals(name, "upgrade")) upgrade = text::iequals(value, "websocket");
    else if (text::iequals(name, "connection")) connection = has_token(value, "upgrade");
    else if (text::iequals(name, "sec-websocket-accept")) accept = value == expected_accept;
  }
  if (!upgrade) return "missing Upgrade: websocket";
  if (!connection) return "missing Connection: Upgrade";
  if (!accept) return "wrong or missing Sec-WebSocket-Accept";
  return nullptr;
}

}  // namespace loadctl::websocket
