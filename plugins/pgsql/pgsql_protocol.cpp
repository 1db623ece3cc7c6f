// The PostgreSQL plugin (Tsung's ts_pgsql): a connection-level protocol. PgsqlConnection holds
// what Tsung keeps in its pgsql_session record (the user name and the authentication method the
// server asked for, with its salt) plus the SCRAM-SHA-256 exchange in progress. On a
// <server type="ssl"> it first sends SSLRequest and upgrades to TLS when the server answers 'S',
// holding the first request (connect) until TLS is up, as psql's sslmode=require. Replies are read
// message by message until what completes the request: an authentication request (connect),
// ReadyForQuery (sql, authenticate, sync, copydone, copyfail), CopyInResponse, or the server
// closing (close). Tsung's no_ack types (parse, bind, describe, execute, copy) are done once sent.

#include <openssl/crypto.h>

#include "loadctl/connection.hpp"
#include "loadctl/protocol.hpp"
#include "pgsql_auth.hpp"
#include "pgsql_expr.hpp"
#include "pgsql_request.hpp"
#include "pgsql_wire.hpp"

namespace loadctl::pgsql {
namespace {

// AuthenticationRequest codes (PostgreSQL's protocol; Tsung's ?PG_AUTH_*).
constexpr std::uint32_t kAuthOk = 0, kAuthCleartext = 3, kAuthMd5 = 5, kAuthSasl = 10, kAuthSaslContinue = 11,
                        kAuthSaslFinal = 12;

/// A password rendered for one message, wiped when it goes out of scope.
struct Secret {
  std::string text;
  ~Secret() {
    if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  }
};

class PgsqlConnection final : public Connection {
 public:
  PgsqlConnection(std::size_t max_frame_size, bool negotiate_tls)
      : max_frame_size_(max_frame_size), tls_asked_(negotiate_tls) {}

  bool on_open(ConnectionServices& s) override {
    failed_transaction_ = s.metric("pgsql_failed_transaction", ConnMetricKind::counter);
    if (!tls_asked_) return false;
    std::string request;
    ssl_request(request);
    s.send(request);
    return true;  // the StartupMessage waits for TLS
  }
  ConnEvent on_tls_ready(ConnectionServices&) override { return ConnEvent::ready; }
  void encode(ConnectionServices& s, const RequestSpec& spec, const EncodeContext& ctx, std::string& out) override;
  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override;
  // An error decided while encoding (an authentication method loadctl cannot answer).
  ConnEvent on_timer(ConnectionServices&) override { return ConnEvent::fatal_counted; }
  bool on_eof(const RequestSpec* pending, ResponseInfo&) override {
    // Terminate is answered by the server closing the connection (Tsung's parse(closed)).
    return pending && static_cast<const PgsqlRequest*>(pending)->type == Type::close;
  }

 private:
  ConnResult on_ssl_answer(ConnectionServices& s, std::span<const char> data, ResponseInfo& info);
  ConnEvent on_message(ConnectionServices& s, bool awaiting, const Message& m, ResponseInfo& info);
  ConnEvent on_authentication(ConnectionServices& s, bool awaiting, std::string_view body, ResponseInfo& info);
  void encode_password(ConnectionServices& s, std::string_view password, std::string& out);

  std::size_t max_frame_size_;
  ConnMetric failed_transaction_ = 0;
  std::uint32_t auth_method_ = kAuthOk;  ///< the last authentication request, until answered
  std::string salt_;                     ///< md5's 4 bytes
  bool scram_offered_ = false;           ///< SCRAM-SHA-256 among the server's SASL mechanisms
  std::string username_;                 ///< of connect, for md5
  std::unique_ptr<ScramClient> scram_;   ///< the exchange in progress
  bool scram_verified_ = false;          ///< its SASLFinal carried the server signature we expect
  bool flushing_ = false;                ///< a flush is pending: done at the first reply
  bool tls_asked_ = false;               ///< SSLRequest sent, its one-byte answer not read yet
};

void PgsqlConnection::encode(ConnectionServices& s, const RequestSpec& spec, const EncodeContext& ctx,
                             std::string& out) {
  const auto& r = static_cast<const PgsqlRequest&>(spec);
  if (r.type == Type::connect) {
    username_.clear();
    r.username.render(ctx.vars, username_, ctx.missing_vars);
    std::string database;
    r.database.render(ctx.vars, database, ctx.missing_vars);
    startup_message(out, username_, database);
  } else if (r.type == Type::authenticate) {
    Secret password;
    r.password.render(ctx.vars, password.text, ctx.missing_vars);
    encode_password(s, password.text, out);
  } else {
    flushing_ = r.type == Type::flush;
    r.encode(ctx, out);
  }
}

void PgsqlConnection::encode_password(ConnectionServices& s, std::string_view password, std::string& out) {
  switch (auth_method_) {
    case kAuthCleartext:
      string_message(out, 'p', password);
      return;
    case kAuthMd5:
      string_message(out, 'p', md5_password(username_, password, salt_));
      return;
    case kAuthSasl:
      if (scram_offered_) {
        scram_ = std::make_unique<ScramClient>(password);
        scram_verified_ = false;
        std::size_t start = begin_message(out, 'p');  // SASLInitialResponse
        put_cstring(out, "SCRAM-SHA-256");
        put_u32(out, static_cast<std::uint32_t>(scram_->client_first().size()));
        out += scram_->client_first();
        end_message(out, start);
        return;
      }
      break;
    case kAuthOk:
      // Nothing asked (trust, or authenticated already): Tsung sends nothing and waits until its
      // timeout; a Sync is answered by ReadyForQuery, which completes the request at once.
      empty_message(out, 'S');
      return;
    default:
      break;
  }
  // Kerberos, GSSAPI, SSPI, or SASL without SCRAM-SHA-256: Tsung logs "not implemented".
  s.error("pgsql_auth_method");
  s.set_timer(0);
}

ConnResult PgsqlConnection::on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                                    ResponseInfo& info) {
  if (tls_asked_) [[unlikely]] return on_ssl_answer(s, data, info);
  std::size_t used = 0;
  while (used < data.size()) {
    Message m = next_message(data.subspan(used), max_frame_size_);
    if (m.status == Message::Status::partial) return {used, ConnEvent::none};
    if (m.status != Message::Status::whole) {
      info.error = m.status == Message::Status::too_large ? "pgsql_frame_too_large" : "pgsql_bad_message";
      return {used, ConnEvent::fatal};
    }
    used += m.size;
    ConnEvent event = on_message(s, pending != nullptr, m, info);
    if (event != ConnEvent::none) return {used, event};
  }
  if (flushing_ && pending && used > 0) {  // the replies the flush asked for are in
    flushing_ = false;
    return {used, ConnEvent::complete};
  }
  return {used, ConnEvent::none};
}

ConnResult PgsqlConnection::on_ssl_answer(ConnectionServices& s, std::span<const char> data, ResponseInfo& info) {
  if (data.empty()) return {0, ConnEvent::none};
  tls_asked_ = false;
  switch (data[0]) {
    case 'S':
      // The server says nothing more before the client's TLS hello: bytes after 'S' would be
      // someone else's, to be read as if they came over TLS (CVE-2021-23222).
      if (data.size() > 1) {
        info.error = "pgsql_ssl_unexpected_data";
        return {data.size(), ConnEvent::fatal};
      }
      s.start_tls();  // on_tls_ready lets the connect request go
      return {1, ConnEvent::none};
    case 'N':  // no TLS on this server: the user ends rather than log in in the clear
      s.error("pgsql_ssl_refused");
      return {1, ConnEvent::fatal_counted};
    default:  // an ErrorResponse from a server older than 7.0, or not PostgreSQL
      info.error = "pgsql_bad_message";
      return {data.size(), ConnEvent::fatal};
  }
}

ConnEvent PgsqlConnection::on_message(ConnectionServices& s, bool awaiting, const Message& m, ResponseInfo& info) {
  switch (m.type) {
    case 'R':
      return on_authentication(s, awaiting, m.body, info);
    case 'E': {  // ErrorResponse: Tsung's error_pgsql; the server closes after a FATAL one
      // Tsung parses only while a request awaits its reply (ts_client skips data in think).
      if (!awaiting) return ConnEvent::none;
      s.error("pgsql");
      std::string_view severity = error_field(m.body, 'V');
      if (severity.empty()) severity = error_field(m.body, 'S');
      return severity == "FATAL" || severity == "PANIC" ? ConnEvent::fatal_counted : ConnEvent::none;
    }
    case 'Z':  // ReadyForQuery: I idle, T in a transaction, E in a failed transaction
      if (m.body.size() != 1) {
        info.error = "pgsql_bad_message";
        return ConnEvent::fatal;
      }
      if (m.body[0] == 'E' && awaiting) s.count(failed_transaction_);
      flushing_ = false;
      return awaiting ? ConnEvent::complete : ConnEvent::none;
    case 'G':  // CopyInResponse: the server waits for copy, copydone or copyfail
      return awaiting ? ConnEvent::complete : ConnEvent::none;
    default:  // rows, descriptions, parameter status, notices, ...: part of the reply
      return ConnEvent::none;
  }
}

ConnEvent PgsqlConnection::on_authentication(ConnectionServices& s, bool awaiting, std::string_view body,
                                             ResponseInfo& info) {
  if (body.size() < 4) {
    info.error = "pgsql_bad_message";
    return ConnEvent::fatal;
  }
  std::uint32_t code = get_u32(body);
  body.remove_prefix(4);
  switch (code) {
    case kAuthOk:
      if (scram_ && !scram_verified_) {  // the server never proved it knows the password
        info.error = "pgsql_scram_no_server_final";
        return ConnEvent::fatal;
      }
      auth_method_ = kAuthOk;
      scram_.reset();
      return ConnEvent::none;  // the reply goes on until ReadyForQuery
    case kAuthSaslContinue: {
      thread_local std::string reply;
      std::string final_message;
      if (!scram_ || !scram_->client_final(body, final_message)) {
        info.error = "pgsql_scram";
        return ConnEvent::fatal;
      }
      reply.clear();
      std::size_t start = begin_message(reply, 'p');  // SASLResponse: the bytes, no NUL
      reply += final_message;
      end_message(reply, start);
      s.send(reply);
      return ConnEvent::none;
    }
    case kAuthSaslFinal:
      if (!scram_ || scram_verified_ || !scram_->verify_server_final(body)) {
        info.error = "pgsql_scram_server_signature";  // not the server that knows the password
        return ConnEvent::fatal;
      }
      scram_verified_ = true;
      return ConnEvent::none;
    case kAuthMd5:
      if (body.size() != 4) {
        info.error = "pgsql_bad_message";
        return ConnEvent::fatal;
      }
      salt_.assign(body);
      break;
    case kAuthSasl:
      scram_offered_ = false;
      for (std::size_t at = 0; at < body.size() && body[at] != '\0';) {
        std::size_t end = body.find('\0', at);
        if (end == std::string_view::npos) end = body.size();
        scram_offered_ = scram_offered_ || body.substr(at, end - at) == "SCRAM-SHA-256";
        at = end + 1;
      }
      break;
    default:
      break;
  }
  // The server asks for a password: the connect request is complete (Tsung's ack), the
  // authenticate request answers with the method kept here.
  auth_method_ = code;
  return awaiting ? ConnEvent::complete : ConnEvent::none;
}

class PgsqlProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "pgsql"; }
  std::string_view session_type() const override { return "ts_pgsql"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext& ctx) const override {
    return parse_pgsql(element, ctx);
  }
  bool connection_level() const override { return true; }
  bool negotiates_tls() const override { return true; }  // SSLRequest, then TLS (no direct TLS before PostgreSQL 17)
  std::string_view dyn_variable_attribute() const override { return "pgsql_expr"; }
  std::shared_ptr<const DynExtractor> parse_dyn_variable(std::string_view expr) const override {
    return std::make_shared<PgsqlExpr>(expr);
  }
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    return std::make_unique<PgsqlConnection>(ctx.max_frame_size, ctx.negotiate_tls);
  }
};

}  // namespace
}  // namespace loadctl::pgsql

void loadctl_register_pgsql(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::pgsql::PgsqlProtocol>());
}
