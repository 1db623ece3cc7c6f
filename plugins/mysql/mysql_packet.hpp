#pragma once
// The MySQL client/server protocol as far as Tsung's ts_mysql speaks it (protocol 4.1, text
// queries): packet framing (3-byte little-endian length, 1-byte sequence id), length-encoded
// integers, the server's initial handshake, the client's handshake response with the
// mysql_native_password scramble, OK/ERR/EOF packets and the command packets. Pure functions, no
// state: the connection (mysql_connection.hpp) holds the phase and the sequence ids.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace loadctl::mysql {

inline constexpr std::size_t kHeaderSize = 4;
/// A packet of this length is continued by the next one (a logical packet of 16 MiB or more).
inline constexpr std::size_t kMaxPacketLength = 0xFFFFFF;

// Capability flags (MySQL's CLIENT_*); ts_mysql sends the first six.
inline constexpr std::uint32_t kLongPassword = 1;
inline constexpr std::uint32_t kLongFlag = 4;
inline constexpr std::uint32_t kConnectWithDb = 8;
inline constexpr std::uint32_t kProtocol41 = 512;
inline constexpr std::uint32_t kSsl = 2048;
inline constexpr std::uint32_t kTransactions = 8192;
inline constexpr std::uint32_t kSecureConnection = 32768;
inline constexpr std::uint32_t kMultiResults = 1u << 17;
inline constexpr std::uint32_t kPluginAuth = 1u << 19;

/// SERVER_MORE_RESULTS_EXISTS in the status flags of OK and EOF packets.
inline constexpr std::uint16_t kMoreResults = 0x0008;

inline constexpr std::uint8_t kComQuit = 0x01;
inline constexpr std::uint8_t kComQuery = 0x03;

/// The connection character set the client asks for: utf8mb4_general_ci (scenarios are UTF-8).
inline constexpr std::uint8_t kCharsetUtf8mb4 = 45;

inline constexpr std::string_view kNativePassword = "mysql_native_password";

using Scramble = std::array<std::uint8_t, 20>;
using Sha1 = std::array<std::uint8_t, 20>;

struct PacketHeader {
  std::size_t length = 0;
  std::uint8_t seq = 0;
};

/// Reads the 4-byte header at the start of `data` (false when fewer than 4 bytes).
bool read_header(std::span<const char> data, PacketHeader& h);

/// Appends a packet header.
void append_header(std::string& out, std::size_t length, std::uint8_t seq);

/// Starts a packet: appends a header to be filled by end_packet; returns where it starts.
std::size_t begin_packet(std::string& out);
/// Ends the packet begun at `start` (its payload is everything after the header): fills the
/// header in place, or splits a payload of 16 MiB or more into packets of kMaxPacketLength as the
/// protocol requires. Returns the sequence id after the last packet.
std::uint8_t end_packet(std::string& out, std::size_t start, std::uint8_t seq);

/// A little-endian reader over a packet's payload that never reads past its end (ok() false).
class Reader {
 public:
  explicit Reader(std::span<const char> data) : data_(data) {}
  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::uint64_t lenenc();  ///< a length-encoded integer (0xFB, NULL, is an error here)
  std::string_view bytes(std::size_t n);
  std::string_view nul_string();  ///< up to a NUL (consumed), or to the end when there is none
  std::string_view rest();
  void skip(std::size_t n) { bytes(n); }
  bool ok() const { return ok_; }
  std::size_t left() const { return ok_ ? data_.size() - pos_ : 0; }

 private:
  std::span<const char> data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

/// The server's initial handshake (protocol version 10).
struct Greeting {
  std::string_view server_version;
  std::uint32_t capabilities = 0;
  Scramble salt{};
  std::string_view auth_plugin;  ///< empty when the server does not name one
};

/// Parses an initial handshake payload (the first byte must be 10); nullopt when malformed.
std::optional<Greeting> parse_greeting(std::span<const char> payload);

/// An ERR packet's payload (first byte 0xFF).
struct ErrPacket {
  std::uint16_t code = 0;
  std::string_view sql_state;
  std::string_view message;
};
std::optional<ErrPacket> parse_err(std::span<const char> payload);

/// The status flags of an OK packet (first byte 0x00) or of an EOF packet (0xFE, under 9 bytes).
std::optional<std::uint16_t> ok_status(std::span<const char> payload);
std::optional<std::uint16_t> eof_status(std::span<const char> payload);
inline bool is_eof(std::span<const char> payload) {
  return !payload.empty() && static_cast<std::uint8_t>(payload[0]) == 0xFE && payload.size() < 9;
}

/// SHA1(password): the first stage of mysql_native_password, all the client keeps of a password.
Sha1 password_stage1(std::string_view password);
/// mysql_native_password: SHA1(password) XOR SHA1(salt + SHA1(SHA1(password))), from stage 1
/// (the salt: its first 20 bytes, as the protocol has them).
Scramble native_scramble(const Sha1& stage1, std::span<const std::uint8_t> salt);

struct HandshakeResponse {
  std::string_view username;
  std::string_view database;  ///< empty: no CLIENT_CONNECT_WITH_DB
  const Scramble* scramble = nullptr;  ///< null: an empty password (no auth data)
  std::uint32_t max_packet = 16 << 20;
  /// The greeting's: CLIENT_MULTI_RESULTS and CLIENT_PLUGIN_AUTH are asked only when offered.
  std::uint32_t server_capabilities = 0xFFFFFFFF;
  /// CLIENT_SSL: the response follows an SSL Request (append_ssl_request) over TLS.
  bool ssl = false;
};

/// Appends the client's handshake response packet (sequence id 1, or 2 after an SSL Request),
/// protocol 4.1 with CLIENT_PLUGIN_AUTH naming mysql_native_password when the server offers it.
void append_handshake_response(std::string& out, const HandshakeResponse& r);
/// Appends the SSL Request (sequence id 1): the handshake response's first 32 bytes, with the
/// same capabilities and CLIENT_SSL; the server then expects a TLS handshake.
void append_ssl_request(std::string& out, const HandshakeResponse& r);

/// Appends COM_QUIT (sequence id 0).
void append_quit(std::string& out);

}  // namespace loadctl::mysql
