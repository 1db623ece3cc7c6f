#pragma once
// PostgreSQL's frontend/backend protocol 3.0, the parts Tsung's ts_pgsql speaks: message framing
// (a type byte, then a 32-bit big-endian length counting itself) and the frontend messages.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace loadctl::pgsql {

/// One backend message at the front of a buffer.
struct Message {
  enum class Status : std::uint8_t { whole, partial, too_large, bad };
  Status status = Status::partial;
  char type = 0;
  std::string_view body;  ///< after the length field
  std::size_t size = 0;   ///< bytes of the whole message, header included
};

/// The message at the front of `data`; too_large when its body exceeds `max_body` (nothing is
/// kept for it), bad when its length field is below 4.
Message next_message(std::span<const char> data, std::size_t max_body);

void put_u16(std::string& out, std::uint16_t v);
void put_u32(std::string& out, std::uint32_t v);
/// The text and its terminating NUL.
void put_cstring(std::string& out, std::string_view s);
std::uint32_t get_u32(std::string_view bytes);  ///< first 4 bytes, big-endian

/// Appends a message type byte and a length placeholder; returns where the message starts.
std::size_t begin_message(std::string& out, char type);
/// Patches the length of the message begun at `start` to the end of `out`.
void end_message(std::string& out, std::size_t start);

/// StartupMessage, protocol 3.0, with the user and database parameters (as Tsung sends them).
void startup_message(std::string& out, std::string_view user, std::string_view database);
/// SSLRequest: asks the server to switch to TLS; it answers one byte, 'S' (yes) or 'N' (no).
void ssl_request(std::string& out);
/// A message with nothing but its type (Sync 'S', Flush 'H', Terminate 'X', CopyDone 'c').
void empty_message(std::string& out, char type);
/// A message whose body is one NUL-terminated string (Query 'Q', PasswordMessage 'p', CopyFail 'f').
void string_message(std::string& out, char type, std::string_view text);

/// The field `code` ('S' severity, 'C' SQLSTATE, 'M' message, ...) of an ErrorResponse or
/// NoticeResponse body; empty when absent.
std::string_view error_field(std::string_view body, char code);

}  // namespace loadctl::pgsql
