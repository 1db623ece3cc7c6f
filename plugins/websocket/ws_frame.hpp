#pragma once
// RFC 6455 framing and opening handshake, as Tsung's src/lib/websocket.erl: client frames are
// masked, server frames are not; one frame per message on the way out (FIN set).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace loadctl::websocket {

enum Opcode : std::uint8_t { op_cont = 0, op_text = 1, op_binary = 2, op_close = 8, op_ping = 9, op_pong = 10 };

/// Sec-WebSocket-Key (base64 of 16 random bytes) is 24 characters, its accept value 28.
inline constexpr std::size_t kKeySize = 24;
inline constexpr std::size_t kAcceptSize = 28;

/// A fresh Sec-WebSocket-Key: base64 of 16 bytes from OpenSSL's RAND_bytes.
void make_key(char (&key)[kKeySize]);
/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) (RFC 6455 section 4.2.2).
void accept_for(std::string_view key, char (&accept)[kAcceptSize]);

/// Appends one masked frame with FIN set (RFC 6455 section 5.2), masking key from a per-thread
/// pool of RAND_bytes output (refilled 4 KB at a time).
void append_frame(std::string& out, Opcode opcode, std::string_view payload);
/// As append_frame, with a given masking key (tests).
void append_frame(std::string& out, Opcode opcode, std::string_view payload, const unsigned char (&mask)[4]);

/// A frame header received from the server.
struct FrameHeader {
  bool fin = false;
  std::uint8_t opcode = 0;
  bool masked = false;
  std::uint8_t rsv = 0;           ///< the three RSV bits (no extension is negotiated: must be 0)
  std::size_t header_size = 0;    ///< bytes before the payload (masking key included)
  std::uint64_t payload_size = 0;
  unsigned char mask[4] = {};
};

enum class HeaderStatus : std::uint8_t { need_more, ok };
/// Reads a frame header from the start of `data`; need_more until all of it is there.
HeaderStatus parse_header(std::span<const char> data, FrameHeader& header);

/// Unmasks (or masks) `data` in place, starting at byte `offset` of the payload.
void apply_mask(char* data, std::size_t size, const unsigned char (&mask)[4], std::size_t offset = 0);

/// The server's answer to the opening handshake: the end of its header block, or npos.
std::size_t handshake_end(std::string_view data);
/// Checks a handshake response header block (status line to the blank line) as Tsung's
/// websocket:check_handshake: HTTP/1.1, 101, Upgrade: websocket, Connection: Upgrade and the
/// expected Sec-WebSocket-Accept. Returns null when it is valid, else a short reason.
const char* check_handshake(std::string_view response, std::string_view expected_accept);

}  // namespace loadctl::websocket
