#pragma once
// The PostgreSQL recorder's decoding half (Tsung's ts_proxy_pgsql.erl, parse and record_request),
// kept apart from the sockets (pgsql_proxy.cpp) so that it is unit-tested on bytes:
//
//   FrontendReader   the client's bytes -> whole frontend messages (the startup packet has no type
//                    byte; every later message has one), bounded: a length over the cap is
//                    refused from its header, nothing allocated for it
//   parse_startup    StartupMessage / SSLRequest / GSSENCRequest / CancelRequest
//   PgsqlRecordFormatter  a frontend message -> the <request><pgsql .../></request> Tsung writes
//                    (connect, authenticate, sql, parse, bind, describe, execute, sync, flush,
//                    copy, copydone, copyfail, close), or why it cannot be recorded

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recorder/session_writer.hpp"

namespace loadctl::recorder {

/// The largest frontend message the recorder keeps (its whole body is buffered to be decoded).
inline constexpr std::size_t kMaxPgsqlMessage = 16u << 20;

struct FrontendMessage {
  /// whole: a message; first_piece/piece: a message over the cap passed through unread (pass_oversize)
  enum class Part { whole, first_piece, piece };
  char type = 0;          ///< 0 for the untyped startup-phase packet
  std::string_view body;  ///< after the length field (valid until the next append/next)
  std::string_view raw;   ///< the whole message as received (or the piece), to forward unchanged
  Part part = Part::whole;
  std::size_t size = 0;   ///< a passed-through message's whole size
};

class FrontendReader {
 public:
  explicit FrontendReader(std::size_t max_body = kMaxPgsqlMessage) : max_body_(max_body) {}
  /// The next message is the untyped startup packet (at first, and again after an SSLRequest).
  void expect_startup(bool startup) { startup_ = startup; }
  bool expecting_startup() const { return startup_; }
  /// The largest body accepted from now on (PostgreSQL's limits are smaller before authentication).
  void set_max_body(std::size_t max_body) { max_body_ = max_body; }
  /// From now on a typed message over the cap is not an error: next() returns it in pieces as they
  /// come (first_piece with its header, then piece), never buffering more than was read.
  void pass_oversize(bool pass) { pass_oversize_ = pass; }
  void append(std::string_view bytes);
  /// The next whole message, nullopt when more bytes are needed or on an error (error() set).
  std::optional<FrontendMessage> next();
  /// Why the stream cannot be decoded (a length below 4 or over the cap), "" when fine.
  const std::string& error() const { return error_; }
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::size_t max_body_;
  bool startup_ = true, pass_oversize_ = false;
  std::size_t passing_ = 0;  ///< bytes of a passed-through message still to come
  char passing_type_ = 0;
  std::string buffer_;
  std::size_t consumed_ = 0;
  std::string error_;
};

struct StartupPacket {
  enum class Kind { startup, ssl_request, gssenc_request, cancel, unknown };
  Kind kind = Kind::unknown;
  std::uint32_t code = 0;      ///< the protocol version or request code
  std::string user, database;  ///< StartupMessage's (database defaults to the user, as the server's)
};
StartupPacket parse_startup(std::string_view body);

/// What one frontend message becomes in the recording.
struct PgsqlRecord {
  std::string xml;      ///< the <request> element(s) to record, "" for none
  std::string problem;  ///< why the message is not recorded (a comment and a console note), "" for none
};

class PgsqlRecordFormatter {
 public:
  /// A StartupMessage's <pgsql type="connect">; nothing is recorded before opened().
  PgsqlRecord connect(std::string_view user, std::string_view database);
  /// The cleartext password the client sent.
  PgsqlRecord authenticate(std::string_view password);
  /// The server accepted the login: `login` (the held connect and authenticate) to record, after
  /// a close when a connection was still open (as Tsung). A login that fails never gets here.
  std::string opened(std::string_view login);
  /// A frontend message after authentication; `writer` saves a copy's data over 1 KiB to a file
  /// (contents_from_file, as Tsung), inline when null. After a Bind that cannot be recorded, its
  /// portal's Describe and Execute are left out until the next Sync (replay would fail on them).
  PgsqlRecord message(char type, std::string_view body, SessionWriter* writer);
  /// The client closed its connection without a Terminate: Tsung's client_close records a close.
  PgsqlRecord client_closed();
  bool connected() const { return connected_; }

 private:
  bool dropped(std::string_view portal) const;
  bool connected_ = false;
  std::vector<std::string> dropped_portals_;  ///< portals of Binds not recorded, until Sync
};

}  // namespace loadctl::recorder
