#pragma once
// Per-connection state of a MySQL client (Tsung's #mysql_session: the greeting's salt), and the
// phase of the conversation: which packet the server sends next, which sequence id it carries,
// and where a result set is (columns, rows). Rows and column definitions are skipped as they
// arrive, never buffered whole; every other packet is bounded by max_frame_size. On a
// <server type="ssl"> the login goes over TLS: the SSL Request in the clear, STARTTLS, then the
// handshake response (mysql --ssl).

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

#include "loadctl/connection.hpp"
#include "mysql_packet.hpp"
#include "mysql_request.hpp"

namespace loadctl::mysql {

/// The server error codes counted under their own name (error_mysql_<code>), shared by the
/// connections of one plugin instance (every worker thread): the first kMaxCodes distinct codes;
/// later ones count as error_mysql_other, so a server cannot create 65 536 metrics.
class ErrorCodeNames {
 public:
  static constexpr std::size_t kMaxCodes = 64;
  /// True when `code` has (or now gets) a name of its own. Lock-free; a slot once taken keeps its code.
  bool named(std::uint16_t code);

 private:
  std::array<std::atomic<std::uint32_t>, kMaxCodes> slots_{};  ///< code + 1, 0: free
};

class MysqlConnection final : public Connection {
 public:
  MysqlConnection(std::size_t max_frame_size, ErrorCodeNames& codes, bool negotiate_tls = false)
      : max_frame_size_(max_frame_size), codes_(codes), negotiate_tls_(negotiate_tls) {}
  ~MysqlConnection() override { forget_password(); }

  void encode(ConnectionServices& s, const RequestSpec& request, const EncodeContext& ctx, std::string& out) override;
  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override;
  ConnEvent on_timer(ConnectionServices& s) override;
  ConnEvent on_tls_ready(ConnectionServices& s) override;
  bool on_eof(const RequestSpec* pending, ResponseInfo& info) override;

  /// What the client waits for. greeted: the greeting came, the handshake response is the
  /// client's to send; ready: authenticated, between commands.
  enum class Phase : std::uint8_t { greeting, greeted, authenticating, ready, result, closing };
  Phase phase() const { return phase_; }
  /// Whether SHA1(password) is still held (only while the server has not answered the handshake).
  bool holds_password_hash() const {
    return std::any_of(stage1_.begin(), stage1_.end(), [](std::uint8_t b) { return b != 0; });
  }

 private:
  /// Where the response to a query is: its first packet (OK, ERR or the column count), the
  /// column definitions, the EOF after them, the rows up to their EOF (or an ERR).
  enum class Part : std::uint8_t { first, columns, columns_eof, rows };

  ConnEvent on_packet(ConnectionServices& s, const RequestSpec* pending, std::span<const char> payload,
                      ResponseInfo& info);
  ConnEvent on_greeting(ConnectionServices& s, const RequestSpec* pending, std::span<const char> payload,
                        ResponseInfo& info);
  ConnEvent on_auth_reply(ConnectionServices& s, std::span<const char> payload, ResponseInfo& info);
  ConnEvent on_result(ConnectionServices& s, std::span<const char> payload, ResponseInfo& info);
  /// Counts an ERR packet as Tsung does: error_mysql_<code> (error_mysql_other past kMaxCodes codes).
  void count_err(ConnectionServices& s, std::span<const char> payload);
  /// A request the connection cannot take now: counted, the user ends (from the timer).
  void refuse(ConnectionServices& s, std::string_view error);
  void forget_password();

  std::size_t max_frame_size_;
  ErrorCodeNames& codes_;
  Sha1 stage1_{};  ///< SHA1(password), kept only while authenticating (an auth switch re-scrambles)
  std::string tls_login_;  ///< the handshake response, held while the TLS handshake runs
  Scramble salt_{};
  std::uint32_t server_capabilities_ = 0;  ///< the greeting's
  std::uint64_t columns_left_ = 0;
  std::size_t skip_ = 0;     ///< payload bytes of the current row or column definition still to skip
  std::size_t logical_ = 0;  ///< the current logical packet's length so far (16 MiB packets continue)
  ConnEvent timer_event_ = ConnEvent::none;
  Phase phase_ = Phase::greeting;
  Part part_ = Part::first;
  std::uint8_t seq_ = 0;  ///< the sequence id of the next packet the server sends
  bool continued_ = false;
  bool has_password_ = false;
  bool negotiate_tls_ = false;  ///< ConnectionContext::negotiate_tls: log in over TLS or not at all
};

}  // namespace loadctl::mysql
