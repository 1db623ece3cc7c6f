#pragma once
// MQTT 3.1.1 framing (OASIS MQTT 3.1.1, section 2): the fixed header (packet type and flags, then
// the "remaining length" in 1 to 4 bytes of 7 bits each) and the big-endian fields the requests
// use. Pure functions, no state: the connection (mqtt_connection.hpp) holds packet ids.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace loadctl::mqtt {

enum PacketType : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

/// The largest remaining length the 4-byte encoding can carry (268 435 455).
inline constexpr std::size_t kMaxRemainingLength = 268'435'455;
/// The longest UTF-8 string field (2-byte length prefix).
inline constexpr std::size_t kMaxString = 65'535;

/// Appends the remaining-length encoding of `n` (n <= kMaxRemainingLength).
void append_length(std::string& out, std::size_t n);
void append_u16(std::string& out, std::uint16_t v);
/// A length-prefixed string; text longer than kMaxString is cut to it (the protocol cannot say more).
void append_string(std::string& out, std::string_view text);
/// Bytes append_string writes for `text`.
inline std::size_t string_size(std::string_view text) { return 2 + std::min(text.size(), kMaxString); }

struct FrameHeader {
  std::uint8_t first = 0;         ///< packet type (high nibble) and flags (low nibble)
  std::size_t remaining = 0;      ///< bytes after the fixed header
  std::size_t header_size = 0;    ///< bytes of the fixed header (2 to 5)
  std::uint8_t type() const { return first >> 4; }
  std::uint8_t flags() const { return first & 0x0F; }
  std::size_t frame_size() const { return header_size + remaining; }
};

enum class HeaderStatus : std::uint8_t { need_more, ok, malformed };

/// Reads a fixed header from the start of `data`; malformed when the length takes more than 4 bytes.
HeaderStatus parse_header(std::span<const char> data, FrameHeader& header);

/// Big-endian 16-bit field at `at` (the caller checked the bounds).
inline std::uint16_t read_u16(std::span<const char> data, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(data[at]) << 8) | static_cast<std::uint8_t>(data[at + 1]));
}

/// A two-byte frame: PINGREQ, DISCONNECT.
inline std::string_view pingreq_frame() { return {"\xC0\x00", 2}; }
inline std::string_view disconnect_frame() { return {"\xE0\x00", 2}; }
/// PUBACK for a received QoS 1 PUBLISH.
void append_puback(std::string& out, std::uint16_t packet_id);

}  // namespace loadctl::mqtt
