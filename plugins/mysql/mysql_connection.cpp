// The client side of a MySQL connection, as Tsung's ts_mysql (get_message, parse, parse_greeting,
// parse_result), reading whole responses: a result set to its last EOF, multiple results.
#include "mysql_connection.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace loadctl::mysql {

namespace {

const MysqlRequest& as_mysql(const RequestSpec& r) { return static_cast<const MysqlRequest&>(r); }

std::uint8_t first_byte(std::span<const char> payload) {
  return payload.empty() ? 0 : static_cast<std::uint8_t>(payload[0]);
}

constexpr const char* kBadPacket = "mysql_badpacket";  // Tsung's error_mysql_badpacket

}  // namespace

bool ErrorCodeNames::named(std::uint16_t code) {
  std::uint32_t want = static_cast<std::uint32_t>(code) + 1;
  for (std::atomic<std::uint32_t>& slot : slots_) {
    std::uint32_t have = slot.load(std::memory_order_acquire);
    if (have == 0 && slot.compare_exchange_strong(have, want, std::memory_order_acq_rel)) return true;
    if (have == want) return true;  // (a failed exchange left the slot's code in `have`)
  }
  return false;
}

void MysqlConnection::forget_password() {
  OPENSSL_cleanse(stage1_.data(), stage1_.size());  // not elided as a dead store may be
  OPENSSL_cleanse(tls_login_.data(), tls_login_.size());
  tls_login_.clear();
  has_password_ = false;
}

void MysqlConnection::refuse(ConnectionServices& s, std::string_view error) {
  s.error(error);
  timer_event_ = ConnEvent::fatal_counted;
  s.set_timer(0);
}

void MysqlConnection::encode(ConnectionServices& s, const RequestSpec& request, const EncodeContext& ctx,
                             std::string& out) {
  const MysqlRequest& r = as_mysql(request);
  switch (r.kind) {
    case Kind::connect:  // nothing to send: the server greets (ts_mysql sends an empty packet)
      if (phase_ != Phase::greeting) refuse(s, "mysql_unexpected_connect");
      return;
    case Kind::authenticate: {
      if (phase_ != Phase::greeted) {
        refuse(s, "mysql_unexpected_authenticate");
        return;
      }
      thread_local std::string user_buf, password_buf, database_buf;
      std::string_view password = render_template(r.password, ctx, password_buf);
      has_password_ = !password.empty();
      stage1_ = password_stage1(password);
      OPENSSL_cleanse(password_buf.data(), password_buf.size());  // a substituted password's copy
      Scramble scramble = native_scramble(stage1_, salt_);
      HandshakeResponse hr;
      hr.username = render_template(r.username, ctx, user_buf);
      hr.database = render_template(r.database, ctx, database_buf);
      hr.scramble = has_password_ ? &scramble : nullptr;
      hr.max_packet = static_cast<std::uint32_t>(std::min<std::size_t>(max_frame_size_, 0xFFFFFFFFu));
      hr.server_capabilities = server_capabilities_;
      hr.ssl = negotiate_tls_;
      phase_ = Phase::authenticating;
      if (!negotiate_tls_) {
        append_handshake_response(out, hr);
        seq_ = 2;
        return;
      }
      // The SSL Request goes in the clear, the response (sequence id 2) once TLS is up.
      std::string ssl_request;
      append_ssl_request(ssl_request, hr);
      s.send(ssl_request);
      append_handshake_response(tls_login_, hr);
      s.start_tls();
      seq_ = 3;
      return;
    }
    case Kind::sql:
      if (phase_ != Phase::ready) {
        refuse(s, "mysql_unexpected_sql");
        return;
      }
      seq_ = r.encode_query(ctx, out);
      phase_ = Phase::result;
      part_ = Part::first;
      return;
    case Kind::close:
      if (phase_ == Phase::ready) {
        append_quit(out);  // the server closes the connection: on_eof completes the request
      } else {
        // Not authenticated: there is nobody to say goodbye to; the connection just closes.
        timer_event_ = ConnEvent::close;
        s.set_timer(0);
      }
      phase_ = Phase::closing;
      return;
  }
}

ConnEvent MysqlConnection::on_timer(ConnectionServices&) {
  ConnEvent e = timer_event_;
  timer_event_ = ConnEvent::none;
  return e;
}

ConnEvent MysqlConnection::on_tls_ready(ConnectionServices& s) {
  s.send(tls_login_);
  OPENSSL_cleanse(tls_login_.data(), tls_login_.size());
  tls_login_.clear();
  return ConnEvent::none;  // the server's OK completes authenticate
}

bool MysqlConnection::on_eof(const RequestSpec* pending, ResponseInfo&) {
  // Tsung's parse(closed, ...) ends a close; elsewhere the peer closing is an error.
  return pending && as_mysql(*pending).kind == Kind::close;
}

ConnResult MysqlConnection::on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                                    ResponseInfo& info) {
  std::size_t pos = 0;
  for (;;) {
    if (skip_ > 0) {  // the rest of a row or a column definition
      std::size_t n = std::min(skip_, data.size() - pos);
      pos += n;
      skip_ -= n;
      if (skip_ > 0) return {pos, ConnEvent::none};
    }
    if (phase_ == Phase::closing) return {data.size(), ConnEvent::none};
    std::span<const char> rest = data.subspan(pos);
    PacketHeader h;
    if (!read_header(rest, h)) return {pos, ConnEvent::none};
    // In greeted and ready the server has nothing to say: a packet then is its own (an ERR
    // before it closes), with a sequence id of its own.
    bool awaited = phase_ == Phase::greeting || phase_ == Phase::authenticating || phase_ == Phase::result;
    if (awaited && h.seq != seq_) {
      info.error = kBadPacket;  // packets out of order
      return {data.size(), ConnEvent::fatal};
    }
    // The peer's length is checked before waiting for (and buffering) that many bytes.
    std::size_t logical = continued_ ? logical_ + h.length : h.length;
    if (logical > max_frame_size_) {
      info.error = "mysql_frame_too_large";
      return {data.size(), ConnEvent::fatal};
    }
    bool skipped = continued_;
    if (!skipped && phase_ == Phase::result && (part_ == Part::columns || part_ == Part::rows)) {
      if (h.length > 0 && rest.size() < kHeaderSize + 1) return {pos, ConnEvent::none};
      std::uint8_t first = h.length > 0 ? static_cast<std::uint8_t>(rest[kHeaderSize]) : 0;
      // A row never starts with 0xFF, and starts with 0xFE only before an 8-byte length.
      bool control = part_ == Part::rows && (first == 0xFF || (first == 0xFE && h.length < 9));
      if (!control) {
        skipped = true;
        if (part_ == Part::columns && --columns_left_ == 0) part_ = Part::columns_eof;
      }
    }
    if (skipped) {
      pos += kHeaderSize;
      skip_ = h.length;
      seq_ = static_cast<std::uint8_t>(h.seq + 1);
      continued_ = h.length == kMaxPacketLength;
      logical_ = logical;
      continue;
    }
    if (h.length == kMaxPacketLength) {  // no greeting, OK, ERR or EOF is that long
      info.error = kBadPacket;
      return {data.size(), ConnEvent::fatal};
    }
    if (rest.size() < kHeaderSize + h.length) return {pos, ConnEvent::none};
    std::span<const char> payload = rest.subspan(kHeaderSize, h.length);
    pos += kHeaderSize + h.length;
    if (!awaited) {
      if (first_byte(payload) == 0xFF) count_err(s, payload);
      else s.error(kBadPacket);
      continue;
    }
    seq_ = static_cast<std::uint8_t>(h.seq + 1);
    ConnEvent event = on_packet(s, pending, payload, info);
    if (event != ConnEvent::none) return {pos, event};
  }
}

void MysqlConnection::count_err(ConnectionServices& s, std::span<const char> payload) {
  std::optional<ErrPacket> err = parse_err(payload);
  if (!err) {
    s.error(kBadPacket);
    return;
  }
  if (!codes_.named(err->code)) {
    s.error("mysql_other");
    return;
  }
  char name[32];
  auto end = fmt::format_to_n(name, sizeof name, "mysql_{}", err->code).out;
  s.error(std::string_view(name, static_cast<std::size_t>(end - name)));
}

ConnEvent MysqlConnection::on_packet(ConnectionServices& s, const RequestSpec* pending, std::span<const char> payload,
                                     ResponseInfo& info) {
  switch (phase_) {
    case Phase::greeting: return on_greeting(s, pending, payload, info);
    case Phase::authenticating: return on_auth_reply(s, payload, info);
    case Phase::result: return on_result(s, payload, info);
    default: return ConnEvent::none;  // not awaited: on_data counts it
  }
}

ConnEvent MysqlConnection::on_greeting(ConnectionServices& s, const RequestSpec* pending, std::span<const char> payload,
                                       ResponseInfo& info) {
  if (first_byte(payload) == 0xFF) {  // refused before any greeting (too many connections, ...)
    count_err(s, payload);
    return ConnEvent::fatal_counted;
  }
  std::optional<Greeting> g = parse_greeting(payload);
  if (!g) {
    info.error = kBadPacket;
    return ConnEvent::fatal;
  }
  // Before 4.1 (no 20-byte scramble) the password hash is the old 8-byte one: not spoken.
  if (!(g->capabilities & kProtocol41) || !(g->capabilities & kSecureConnection)) {
    info.error = "mysql_unsupported_auth";
    return ConnEvent::fatal;
  }
  if (negotiate_tls_ && !(g->capabilities & kSsl)) {  // mysql --ssl refuses to log in in the clear too
    s.error("mysql_ssl_refused");
    return ConnEvent::fatal_counted;
  }
  salt_ = g->salt;
  server_capabilities_ = g->capabilities;
  phase_ = Phase::greeted;
  return pending && as_mysql(*pending).kind == Kind::connect ? ConnEvent::complete : ConnEvent::none;
}

ConnEvent MysqlConnection::on_auth_reply(ConnectionServices& s, std::span<const char> payload, ResponseInfo& info) {
  switch (first_byte(payload)) {
    case 0x00:
      forget_password();
      phase_ = Phase::ready;
      return ConnEvent::complete;
    case 0xFF:  // e.g. 1045, access denied: the server closes the connection, the user ends
      forget_password();
      count_err(s, payload);
      return ConnEvent::fatal_counted;
    case 0xFE: {  // an authentication switch: the user's account asks for another method
      Reader r(payload);
      r.u8();
      std::string_view plugin = r.nul_string();
      std::string_view salt = r.rest();
      if (payload.size() > 1 && plugin == kNativePassword && salt.size() >= 20) {
        std::string reply;
        std::size_t start = begin_packet(reply);
        if (has_password_) {
          Scramble scramble = native_scramble(stage1_, {reinterpret_cast<const std::uint8_t*>(salt.data()), 20});
          reply.append(reinterpret_cast<const char*>(scramble.data()), scramble.size());
        }
        seq_ = end_packet(reply, start, seq_);
        s.send(reply);
        return ConnEvent::none;
      }
      break;  // caching_sha2_password, client_ed25519, the pre-4.1 hash, ...: not spoken
    }
    case 0x01:  // more data of a method other than mysql_native_password
      break;
    default:
      forget_password();
      info.error = kBadPacket;
      return ConnEvent::fatal;
  }
  forget_password();
  info.error = "mysql_unsupported_auth";
  return ConnEvent::fatal;
}

ConnEvent MysqlConnection::on_result(ConnectionServices& s, std::span<const char> payload, ResponseInfo& info) {
  std::uint8_t first = first_byte(payload);
  if (first == 0xFF) {  // the query failed, at once or in the middle of its rows
    count_err(s, payload);  // Tsung counts it and the user goes on
    phase_ = Phase::ready;
    return ConnEvent::complete;
  }
  switch (part_) {
    case Part::first: {
      if (first == 0x00) {
        std::optional<std::uint16_t> status = ok_status(payload);
        if (!status) break;
        if (*status & kMoreResults) return ConnEvent::none;  // another result follows
        phase_ = Phase::ready;
        return ConnEvent::complete;
      }
      if (first == 0xFB) break;  // LOAD DATA LOCAL INFILE: CLIENT_LOCAL_FILES was not offered
      Reader r(payload);
      std::uint64_t columns = r.lenenc();
      if (!r.ok() || columns == 0 || r.left() != 0) break;
      columns_left_ = columns;
      part_ = Part::columns;
      return ConnEvent::none;
    }
    case Part::columns_eof:
      if (!is_eof(payload)) break;
      part_ = Part::rows;
      return ConnEvent::none;
    case Part::rows: {
      std::optional<std::uint16_t> status = eof_status(payload);
      if (!status) break;
      if (*status & kMoreResults) {
        part_ = Part::first;
        return ConnEvent::none;
      }
      phase_ = Phase::ready;
      return ConnEvent::complete;
    }
    case Part::columns:  // skipped by on_data
      break;
  }
  info.error = kBadPacket;
  return ConnEvent::fatal;
}

}  // namespace loadctl::mysql
