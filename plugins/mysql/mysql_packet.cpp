// MySQL protocol 4.1 packets (MySQL's "Client/Server Protocol" documentation; Tsung's ts_mysql
// get_salt, make_auth, encrypt_password and add_header).
#include "mysql_packet.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace loadctl::mysql {

bool read_header(std::span<const char> data, PacketHeader& h) {
  if (data.size() < kHeaderSize) return false;
  auto b = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<std::uint8_t>(data[i])); };
  h.length = b(0) | (b(1) << 8) | (b(2) << 16);
  h.seq = static_cast<std::uint8_t>(data[3]);
  return true;
}

namespace {

void put_header(char* h, std::size_t length, std::uint8_t seq) {
  h[0] = static_cast<char>(length & 0xFF);
  h[1] = static_cast<char>((length >> 8) & 0xFF);
  h[2] = static_cast<char>((length >> 16) & 0xFF);
  h[3] = static_cast<char>(seq);
}

}  // namespace

void append_header(std::string& out, std::size_t length, std::uint8_t seq) {
  char h[kHeaderSize];
  put_header(h, length, seq);
  out.append(h, sizeof h);
}

std::size_t begin_packet(std::string& out) {
  std::size_t start = out.size();
  out.append(kHeaderSize, '\0');
  return start;
}

std::uint8_t end_packet(std::string& out, std::size_t start, std::uint8_t seq) {
  std::size_t length = out.size() - start - kHeaderSize;
  if (length < kMaxPacketLength) {  // the usual case: the header filled in place
    put_header(out.data() + start, length, seq);
    return static_cast<std::uint8_t>(seq + 1);
  }
  std::string payload = out.substr(start + kHeaderSize);
  out.resize(start);
  std::size_t pos = 0;
  // A payload of a multiple of kMaxPacketLength ends with an empty packet (the protocol's rule).
  for (;;) {
    std::size_t n = std::min(kMaxPacketLength, payload.size() - pos);
    append_header(out, n, seq++);
    out.append(payload, pos, n);
    pos += n;
    if (n < kMaxPacketLength) return seq;
  }
}

std::uint8_t Reader::u8() {
  std::string_view b = bytes(1);
  return ok_ ? static_cast<std::uint8_t>(b[0]) : 0;
}

std::uint16_t Reader::u16() {
  std::string_view b = bytes(2);
  if (!ok_) return 0;
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(b[0]) | (static_cast<std::uint8_t>(b[1]) << 8));
}

std::uint32_t Reader::u32() {
  std::string_view b = bytes(4);
  std::uint32_t v = 0;
  if (!ok_) return 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(b[static_cast<std::size_t>(i)]);
  return v;
}

std::uint64_t Reader::lenenc() {
  std::uint8_t first = u8();
  if (!ok_) return 0;
  std::size_t width = 0;
  switch (first) {
    case 0xFC: width = 2; break;
    case 0xFD: width = 3; break;
    case 0xFE: width = 8; break;
    case 0xFB:  // NULL: not an integer
    case 0xFF:  // an ERR packet's marker
      ok_ = false;
      return 0;
    default: return first;
  }
  std::string_view b = bytes(width);
  if (!ok_) return 0;
  std::uint64_t v = 0;
  for (std::size_t i = width; i-- > 0;) v = (v << 8) | static_cast<std::uint8_t>(b[i]);
  return v;
}

std::string_view Reader::bytes(std::size_t n) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return {};
  }
  std::string_view b(data_.data() + pos_, n);
  pos_ += n;
  return b;
}

std::string_view Reader::nul_string() {
  if (!ok_) return {};
  const char* begin = data_.data() + pos_;
  const char* end = data_.data() + data_.size();
  const char* nul = std::find(begin, end, '\0');
  std::string_view s(begin, static_cast<std::size_t>(nul - begin));
  pos_ += s.size() + (nul == end ? 0 : 1);
  return s;
}

std::string_view Reader::rest() { return bytes(left()); }

std::optional<Greeting> parse_greeting(std::span<const char> payload) {
  Reader r(payload);
  if (r.u8() != 10) return std::nullopt;
  Greeting g;
  g.server_version = r.nul_string();
  r.u32();  // connection id
  std::string_view salt1 = r.bytes(8);
  r.u8();  // filler
  g.capabilities = r.u16();
  if (!r.ok()) return std::nullopt;
  if (r.left() == 0) return g.capabilities & kSecureConnection ? std::nullopt : std::optional<Greeting>(g);
  r.u8();   // character set
  r.u16();  // status flags
  g.capabilities |= static_cast<std::uint32_t>(r.u16()) << 16;
  std::uint8_t auth_length = r.u8();
  r.skip(10);  // reserved (MariaDB: its extended capabilities in the last 4)
  if (!r.ok()) return std::nullopt;
  std::memcpy(g.salt.data(), salt1.data(), 8);
  if (g.capabilities & kSecureConnection) {
    // max(13, auth_length - 8) bytes, the last a NUL: 12 more bytes of scramble.
    std::size_t part2 = std::max<std::size_t>(13, auth_length > 8 ? auth_length - 8u : 0u);
    std::string_view salt2 = r.bytes(std::min(part2, r.left()));
    if (!r.ok() || salt2.size() < 12) return std::nullopt;
    std::memcpy(g.salt.data() + 8, salt2.data(), 12);
  }
  if (g.capabilities & kPluginAuth) g.auth_plugin = r.nul_string();
  return g;
}

std::optional<ErrPacket> parse_err(std::span<const char> payload) {
  Reader r(payload);
  if (r.u8() != 0xFF) return std::nullopt;
  ErrPacket e;
  e.code = r.u16();
  if (!r.ok()) return std::nullopt;
  if (r.left() > 0 && payload[3] == '#') {  // protocol 4.1: '#' and a 5-character SQL state
    r.u8();
    e.sql_state = r.bytes(5);
    if (!r.ok()) return std::nullopt;
  }
  e.message = r.rest();
  return e;
}

std::optional<std::uint16_t> ok_status(std::span<const char> payload) {
  Reader r(payload);
  if (r.u8() != 0x00) return std::nullopt;
  r.lenenc();  // affected rows
  r.lenenc();  // last insert id
  std::uint16_t status = r.u16();
  if (!r.ok()) return std::nullopt;
  return status;
}

std::optional<std::uint16_t> eof_status(std::span<const char> payload) {
  if (!is_eof(payload)) return std::nullopt;
  Reader r(payload);
  r.u8();
  r.u16();  // warnings
  std::uint16_t status = r.u16();
  if (!r.ok()) return std::uint16_t{0};  // the pre-4.1 EOF: a lone 0xFE, no flags
  return status;
}

namespace {

/// SHA1 of `n` bytes at `data` (EVP_Digest: one call, nothing to allocate or free). An OpenSSL
/// failure (none is expected for SHA-1) gives zeros: a scramble the server refuses.
Sha1 sha1(const void* data, std::size_t n) {
  Sha1 h{};
  unsigned int length = 0;
  if (EVP_Digest(data, n, h.data(), &length, EVP_sha1(), nullptr) != 1 || length != h.size()) h.fill(0);
  return h;
}

}  // namespace

Sha1 password_stage1(std::string_view password) { return sha1(password.data(), password.size()); }

Scramble native_scramble(const Sha1& stage1, std::span<const std::uint8_t> salt) {
  // SHA1(salt + SHA1(stage1)): the salt is 20 bytes (the greeting's, or an auth switch's).
  std::array<std::uint8_t, 20 + 20> input{};
  std::size_t n = std::min<std::size_t>(salt.size(), 20);
  std::copy_n(salt.begin(), n, input.begin());
  Sha1 stage2 = sha1(stage1.data(), stage1.size());
  std::copy(stage2.begin(), stage2.end(), input.begin() + static_cast<std::ptrdiff_t>(n));
  Sha1 mix = sha1(input.data(), n + stage2.size());
  Scramble out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(stage1[i] ^ mix[i]);
  OPENSSL_cleanse(input.data(), input.size());  // SHA1(SHA1(password)): what the server stores
  OPENSSL_cleanse(stage2.data(), stage2.size());
  return out;
}

namespace {

void append_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

namespace {

std::uint32_t client_capabilities(const HandshakeResponse& r) {
  std::uint32_t caps = kLongPassword | kLongFlag | kProtocol41 | kTransactions | kSecureConnection |
                       ((kMultiResults | kPluginAuth) & r.server_capabilities);
  if (!r.database.empty()) caps |= kConnectWithDb;
  if (r.ssl) caps |= kSsl;
  return caps;
}

// Capabilities, max packet size, character set, 23 reserved bytes: all an SSL Request is.
void append_fixed_part(std::string& out, const HandshakeResponse& r) {
  append_u32(out, client_capabilities(r));
  append_u32(out, r.max_packet);
  out.push_back(static_cast<char>(kCharsetUtf8mb4));
  out.append(23, '\0');
}

}  // namespace

void append_ssl_request(std::string& out, const HandshakeResponse& r) {
  HandshakeResponse ssl = r;
  ssl.ssl = true;
  std::size_t start = begin_packet(out);
  append_fixed_part(out, ssl);
  end_packet(out, start, 1);
}

void append_handshake_response(std::string& out, const HandshakeResponse& r) {
  std::uint32_t caps = client_capabilities(r);
  std::size_t start = begin_packet(out);
  append_fixed_part(out, r);
  out.append(r.username);
  out.push_back('\0');
  if (r.scramble) {
    out.push_back(static_cast<char>(r.scramble->size()));
    out.append(reinterpret_cast<const char*>(r.scramble->data()), r.scramble->size());
  } else {
    out.push_back('\0');
  }
  if (!r.database.empty()) {
    out.append(r.database);
    out.push_back('\0');
  }
  if (caps & kPluginAuth) {
    out.append(kNativePassword);
    out.push_back('\0');
  }
  end_packet(out, start, r.ssl ? 2 : 1);
}

void append_quit(std::string& out) {
  append_header(out, 1, 0);
  out.push_back(static_cast<char>(kComQuit));
}

}  // namespace loadctl::mysql
