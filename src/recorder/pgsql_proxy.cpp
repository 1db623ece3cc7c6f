// The PostgreSQL recording proxy (Tsung's ts_proxy_pgsql), one PgsqlProxyConnection per client
// connection, in event order:
//   read_client -> on_client_bytes: the startup packet (SSLRequest/GSSENCRequest answered 'N': the
//     client goes on in plain text; CancelRequest passed to the server on a connection of its
//     own; StartupMessage held as connect, then connect_server) -> every later message
//     forwarded unchanged and recorded (PgsqlRecordFormatter)
//   read_server -> on_server_bytes: while authenticating, the backend messages are read and given
//     to ProxyAuth (pgsql_proxy_auth.hpp), which says what to send each way; at AuthenticationOk
//     the held connect/authenticate are recorded and the server's bytes pass through unread.
// Why the authentication is taken over: the md5 answer is salted per connection and SCRAM's proof
// per exchange, so what the client sends could not be replayed; the proxy asks the client for the
// cleartext password instead (AuthenticationCleartextPassword), records it (Tsung's
// <pgsql type="authenticate" password="...">) and answers the server's md5 or SCRAM request with
// it (the plugin's loadctl_pgsql_wire: md5_password, ScramClient, verifying the server's signature).
// Cleartext ("password") and trust pass through unchanged.
//
// Each socket has an outbox; a reader stops reading while the outbox it feeds holds more than
// kHighWater bytes, so a slow peer bounds what is buffered (plus one message of at most
// kMaxPgsqlMessage).
#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "pgsql_wire.hpp"
#include "recorder/pgsql_proxy_auth.hpp"
#include "recorder/pgsql_record.hpp"
#include "recorder/proxy_protocol.hpp"

namespace loadctl::recorder::pgsql_proxy {

namespace net = boost::asio;
using tcp_socket = boost::asio::ip::tcp::socket;
using tcp_resolver = boost::asio::ip::tcp::resolver;
using boost::system::error_code;

constexpr std::size_t kHighWater = 1u << 20;
// PostgreSQL's own limits before authentication: MAX_STARTUP_PACKET_LENGTH (the length field
// included) and PG_MAX_AUTH_TOKEN_LENGTH (a message body).
constexpr std::size_t kMaxStartupBody = 10000 - 4, kMaxAuthMessage = 65535;
// How long a closing connection waits for the client to take what is queued for it, and a
// CancelRequest for the server to take it.
constexpr auto kGiveUpAfter = std::chrono::seconds(10);

struct ProtocolState {
  PgsqlRecordFormatter formatter;
  bool password_warned = false, ssl_noted = false;
};

class PgsqlProxyConnection : public std::enable_shared_from_this<PgsqlProxyConnection> {
 public:
  PgsqlProxyConnection(tcp_socket client, RecorderContext& ctx, ProtocolState& state)
      : ctx_(ctx), slot_(std::move(ctx.connection_slot)), state_(state), client_(std::move(client)), server_(ctx.io),
        resolver_(ctx.io), deadline_(ctx.io) {
    to_client_.socket = &client_;
    to_server_.socket = &server_;
    in_.set_max_body(kMaxStartupBody);
  }

  void start() { read_client(); }

 private:
  struct Outbox {
    tcp_socket* socket = nullptr;
    std::deque<std::string> queue;
    std::size_t bytes = 0;
    bool writing = false;
    std::function<void()> resume;  ///< a reader waiting for this outbox to drain
  };
  enum class Phase { startup, connecting, authenticating, ready };

  // --- the client's side -------------------------------------------------------------------
  void read_client() {
    if (closed_ || closing_) return;
    client_.async_read_some(net::buffer(client_buf_), [self = shared_from_this()](error_code ec, std::size_t n) {
      if (ec) return self->client_gone();
      self->on_client_bytes(std::string_view(self->client_buf_.data(), n));
    });
  }

  void on_client_bytes(std::string_view bytes) {
    if (ctx_.writer.closed()) return close();
    in_.append(bytes);
    while (!closed_ && phase_ != Phase::connecting) {
      std::optional<FrontendMessage> m = in_.next();
      if (!m) break;
      if (phase_ == Phase::startup) on_startup(*m);
      else on_frontend(*m);
    }
    if (!in_.error().empty()) {
      ctx_.writer.comment("the client sent " + in_.error() + ": connection closed");
      ctx_.note("client sent " + in_.error() + ": connection closed");
      return close();
    }
    if (closed_ || phase_ == Phase::connecting) return;  // connect_server reads on
    then_read(to_server_, &PgsqlProxyConnection::read_client);
  }

  void on_startup(const FrontendMessage& m) {
    StartupPacket p = parse_startup(m.body);
    switch (p.kind) {
      case StartupPacket::Kind::ssl_request:
      case StartupPacket::Kind::gssenc_request:
        if (!state_.ssl_noted)
          ctx_.note("the client asked for TLS/GSS encryption: refused ('N'), it goes on in plain text (or gives up "
                    "with sslmode=require)");
        state_.ssl_noted = true;
        send(to_client_, "N");
        return;  // the startup packet comes next
      case StartupPacket::Kind::cancel:
        forward_cancel(std::string(m.raw));
        return close();
      case StartupPacket::Kind::unknown:
        ctx_.note(fmt::format("a startup packet of protocol {}.{} (expected 3.x): connection closed", p.code >> 16,
                              p.code & 0xFFFF));
        return close();
      case StartupPacket::Kind::startup: break;
    }
    user_ = p.user;
    auth_ = std::make_unique<ProxyAuth>(p.user);
    PgsqlRecord connect = state_.formatter.connect(p.user, p.database);
    record(PgsqlRecord{{}, connect.problem});
    login_ = connect.xml;  // held until AuthenticationOk
    in_.expect_startup(false);
    in_.set_max_body(kMaxAuthMessage);
    phase_ = Phase::connecting;
    connect_server(std::string(m.raw));
  }

  void on_frontend(const FrontendMessage& m) {
    if (m.part != FrontendMessage::Part::whole) {  // over kMaxPgsqlMessage: passed through unread
      if (m.part == FrontendMessage::Part::first_piece) {
        bool printable = m.type > ' ' && m.type < 0x7f;
        record(PgsqlRecord{{}, fmt::format("a {} message of {} bytes (over the recorder's {} MiB): forwarded unread, "
                                           "not recorded",
                                           printable ? fmt::format("'{}'", m.type)
                                                     : fmt::format("0x{:02x}", std::uint8_t(m.type)),
                                           m.size, kMaxPgsqlMessage >> 20)});
      }
      return send(to_server_, std::string(m.raw));
    }
    if (phase_ == Phase::authenticating && m.type == 'p' && auth_->wants_password()) return on_password(m);
    if (phase_ == Phase::ready) record(state_.formatter.message(m.type, m.body, &ctx_.writer));
    send(to_server_, std::string(m.raw));
  }

  void on_password(const FrontendMessage& m) {
    std::string_view password = m.body;
    if (!password.empty() && password.back() == '\0') password.remove_suffix(1);
    PgsqlRecord auth = state_.formatter.authenticate(password);
    record(PgsqlRecord{{}, auth.problem});
    if (!auth.xml.empty() && !login_.empty()) login_ += "\n" + auth.xml;
    if (!state_.password_warned)
      ctx_.note(fmt::format("the recording holds the password of user '{}' in clear (<pgsql type=\"authenticate\">, as "
                            "Tsung's): keep {} private (it is written 0600)", user_, ctx_.writer.path()));
    state_.password_warned = true;
    apply(auth_->on_password(password));
  }

  void client_gone() {
    if (written_) record(state_.formatter.client_closed());
    close();
  }

  // --- the server's side -------------------------------------------------------------------
  void connect_server(std::string startup) {
    const UpstreamOptions& up = ctx_.upstream;
    std::string host = up.server_host.empty() ? "127.0.0.1" : up.server_host;
    std::string port = std::to_string(up.server_port ? up.server_port : 5432);
    resolver_.async_resolve(host, port, [self = shared_from_this(), host, port, startup](error_code ec, tcp_resolver::results_type r) {
      if (ec) return self->fail_connect(fmt::format("cannot resolve {}: {}", host, ec.message()));
      net::async_connect(self->server_, r, [self, host, port, startup](error_code ec, const auto&) {
        if (ec) return self->fail_connect(fmt::format("cannot connect to {}:{}: {}", host, port, ec.message()));
        self->phase_ = Phase::authenticating;
        self->send(self->to_server_, startup);
        self->read_server();
        self->on_client_bytes({});  // messages that came with the startup packet, then read on
      });
    });
  }

  // The client hears of it as PostgreSQL would say it: a FATAL ErrorResponse.
  void fail_connect(const std::string& why) {
    ctx_.note(why);
    std::string out;
    std::size_t start = pgsql::begin_message(out, 'E');
    for (auto [code, value] : {std::pair{'S', std::string("FATAL")}, {'V', std::string("FATAL")},
                               {'C', std::string("08001")}, {'M', "loadctl record: " + why}}) {
      out.push_back(code);
      pgsql::put_cstring(out, value);
    }
    out.push_back('\0');
    pgsql::end_message(out, start);
    close_after(to_client_, std::move(out));
  }

  void read_server() {
    if (closed_ || closing_) return;
    server_.async_read_some(net::buffer(server_buf_), [self = shared_from_this()](error_code ec, std::size_t n) {
      if (ec) return self->close_after_drain();
      self->on_server_bytes(std::string_view(self->server_buf_.data(), n));
    });
  }

  void on_server_bytes(std::string_view bytes) {
    if (phase_ == Phase::ready) {
      send(to_client_, std::string(bytes));
    } else {
      server_in_.append(bytes);
      std::size_t used = 0;
      while (!closed_ && phase_ != Phase::ready) {
        pgsql::Message m = pgsql::next_message(std::span<const char>(server_in_).subspan(used), kMaxPgsqlMessage);
        if (m.status == pgsql::Message::Status::partial) break;
        if (m.status != pgsql::Message::Status::whole) {
          ctx_.note("the server sent a message the recorder cannot read while authenticating: connection closed");
          return close();
        }
        on_backend(m, std::string_view(server_in_).substr(used, m.size));
        used += m.size;
      }
      if (closed_) return;
      if (phase_ == Phase::ready && used < server_in_.size()) send(to_client_, server_in_.substr(used));
      server_in_.erase(0, phase_ == Phase::ready ? server_in_.size() : used);
    }
    then_read(to_client_, &PgsqlProxyConnection::read_server);
  }

  void on_backend(const pgsql::Message& m, std::string_view raw) { apply(auth_->on_backend(m.type, m.body, raw)); }

  void apply(const AuthStep& step) {
    if (!step.note.empty()) ctx_.note(step.note);
    if (!step.error.empty()) {
      unfinished_ = "authentication not recorded: " + step.error;
      return fail_connect(step.error);
    }
    send(to_server_, step.to_server);
    if (step.ready) {  // the login is recorded now that the server accepted it
      phase_ = Phase::ready;
      in_.set_max_body(kMaxPgsqlMessage);
      in_.pass_oversize(true);
      if (!login_.empty() && !ctx_.writer.closed()) {
        ctx_.writer.record(state_.formatter.opened(login_));
        written_ = true;
      }
    }
    send(to_client_, step.to_client);
  }

  // --- plumbing ------------------------------------------------------------------------------
  void record(const PgsqlRecord& r) {
    if (ctx_.writer.closed()) return;
    if (!r.problem.empty()) {
      ctx_.writer.comment(r.problem);
      ctx_.note(r.problem);
    }
    if (!r.xml.empty()) ctx_.writer.record(r.xml);
  }

  void send(Outbox& box, std::string data) {
    if (closed_ || data.empty()) return;
    box.bytes += data.size();
    box.queue.push_back(std::move(data));
    if (!box.writing) write_next(box);
  }

  void write_next(Outbox& box) {
    if (box.queue.empty()) {
      box.writing = false;
      if (box.resume) std::exchange(box.resume, nullptr)();
      return;
    }
    box.writing = true;
    net::async_write(*box.socket, net::buffer(box.queue.front()), [self = shared_from_this(), &box](error_code ec, std::size_t) {
      if (ec || self->closed_) return self->close();
      box.bytes -= box.queue.front().size();
      box.queue.pop_front();
      self->write_next(box);
    });
  }

  // Reads on at once, or when `box` (which the reader feeds) has drained below kHighWater.
  void then_read(Outbox& box, void (PgsqlProxyConnection::*read)()) {
    if (closing_) return;  // box.resume may hold the close
    if (box.bytes < kHighWater) return (this->*read)();
    box.resume = [self = shared_from_this(), read] { ((*self).*read)(); };
  }

  void close_after(Outbox& box, std::string last) {
    send(box, std::move(last));
    close_after_drain();
  }

  // The server closed (or the proxy gives up): what is queued for the client goes out first.
  // Nothing is read from then on; a client that does not read is given kGiveUpAfter.
  void close_after_drain() {
    if (closing_ || closed_) return;
    if (!to_client_.writing) return close();
    closing_ = true;
    to_client_.resume = [self = shared_from_this()] { self->close(); };
    error_code ignored;
    server_.close(ignored);
    deadline_.expires_after(kGiveUpAfter);
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (auth_ && !auth_->ready() && !ctx_.writer.closed())  // a failed or abandoned login: a comment only
      ctx_.writer.comment(!unfinished_.empty() ? unfinished_
                                               : fmt::format("a login of user '{}' that did not complete (not recorded)", user_));
    error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    resolver_.cancel();
    deadline_.cancel();
  }

  // A CancelRequest goes to the server on a connection of its own (PostgreSQL's rule).
  void forward_cancel(std::string packet) {
    struct Cancel {
      tcp_socket socket;
      tcp_resolver resolver;
      net::steady_timer deadline;  ///< a server that neither accepts nor reads: given up
      std::string packet;
    };
    auto c = std::make_shared<Cancel>(
        Cancel{tcp_socket(ctx_.io), tcp_resolver(ctx_.io), net::steady_timer(ctx_.io), std::move(packet)});
    c->deadline.expires_after(kGiveUpAfter);
    c->deadline.async_wait([weak = std::weak_ptr<Cancel>(c)](error_code ec) {
      auto c = weak.lock();
      if (ec || !c) return;
      error_code ignored;
      c->resolver.cancel();
      c->socket.close(ignored);
    });
    const UpstreamOptions& up = ctx_.upstream;
    c->resolver.async_resolve(up.server_host.empty() ? "127.0.0.1" : up.server_host,
                              std::to_string(up.server_port ? up.server_port : 5432),
                              [c](error_code ec, tcp_resolver::results_type r) {
                                if (ec) return;
                                net::async_connect(c->socket, r, [c](error_code ec, const auto&) {
                                  if (ec) return;
                                  net::async_write(c->socket, net::buffer(c->packet),
                                                   [c](error_code, std::size_t) { c->deadline.cancel(); });
                                });
                              });
  }

  RecorderContext& ctx_;
  std::shared_ptr<void> slot_;  ///< one of the recorder's connection slots, held while the connection lives
  ProtocolState& state_;
  tcp_socket client_, server_;
  tcp_resolver resolver_;
  net::steady_timer deadline_;  ///< while closing
  Outbox to_client_, to_server_;
  std::array<char, 16384> client_buf_{}, server_buf_{};
  FrontendReader in_;
  std::string server_in_;  ///< backend bytes not yet read while authenticating
  Phase phase_ = Phase::startup;
  std::unique_ptr<ProxyAuth> auth_;  ///< from the startup packet on
  std::string user_;
  std::string login_;       ///< the connect and authenticate requests, held until AuthenticationOk
  std::string unfinished_;  ///< why the login failed, for the recording's comment
  bool written_ = false;    ///< the login was recorded (so its close is)
  bool closed_ = false;
  bool closing_ = false;  ///< close_after_drain: reading stopped, to_client_.resume holds the close
};

class PgsqlProxyProtocol : public ProxyProtocol {
 public:
  std::string_view session_type() const override { return "ts_pgsql"; }
  std::string check(const UpstreamOptions& up) const override {
    if (up.parent_proxy) return "-u (parent proxy) is for -p http and webdav";
    if (!up.mitm_ca_dir.empty()) return "--mitm-ca is for -p http (the pgsql proxy refuses TLS: the client goes on in plain text)";
    if (!up.only_hosts.empty()) return "--only-host is for -p http and webdav (the pgsql proxy has one server: -I)";
    return {};
  }
  void serve(tcp_socket client, RecorderContext& context) override {
    std::make_shared<PgsqlProxyConnection>(std::move(client), context, state_)->start();
  }

 private:
  ProtocolState state_;  ///< across connections, as Tsung's recorder state (connected or not)
};

}  // namespace loadctl::recorder::pgsql_proxy

namespace loadctl::recorder {
std::unique_ptr<ProxyProtocol> make_pgsql_proxy() { return std::make_unique<pgsql_proxy::PgsqlProxyProtocol>(); }
}  // namespace loadctl::recorder
