// Beast's string_view is std::string_view, as in src/control/web_server.cpp: both link into the
// controller, so Beast's inline code must be compiled with the same configuration (ODR).
#define BOOST_BEAST_USE_STD_STRING_VIEW
// The HTTP and WebDAV recording proxy (Tsung's ts_proxy_http / ts_proxy_webdav), one
// HttpProxyConnection per client connection, in event order:
//   read_request -> on_request (CONNECT: open_tunnel, or with --mitm-ca open_mitm -> TLS with the
//   client -> read_request; else record, then connect_upstream)
//   -> send_upstream -> read_response -> (relay_response -> write_to_client -> read_upstream)...
//   -> response_done -> read_request
// Requests are read whole (Content-Length or chunked, up to kMaxRequestBody) and forwarded with a
// Content-Length; request bodies grow as bytes arrive (GrowingBody): nothing is reserved on the
// peer's Content-Length. The response is passed on as it arrives, one read at a time
// (ResponseRelay, response_relay.hpp: 1xx interim responses dropped, chunked stays chunked, the
// http://- rewrite). An upstream keep-alive connection is reused
// while the same scheme://host:port follows; a reused one that turns out closed is replaced once
// (send_upstream, retry_or_refuse). Upgrade: websocket is passed on; after the server's 101 the
// frames pass both ways (start_websocket) and the client's are recorded (websocket_record.hpp).
// Any other Upgrade is refused with 501 (h2c is dropped: the request goes on in HTTP/1.1).
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include "loadctl/text.hpp"
#include "recorder/http_record.hpp"
#include "recorder/mitm_ca.hpp"
#include "recorder/proxy_protocol.hpp"
#include "recorder/response_relay.hpp"
#include "recorder/websocket_record.hpp"

namespace loadctl::recorder {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::uint64_t kMaxRequestBody = 32ull << 20;
constexpr std::size_t kRelayChunk = 16 * 1024;  // one upstream read, passed on before the next
constexpr std::uint32_t kMaxRequestHeader = 64 * 1024;
constexpr auto kIdleTimeout = std::chrono::seconds(120);  // as Tsung's ?lifetime
constexpr auto kWebSocketIdle = kIdleTimeout * 5;  // as a CONNECT tunnel
constexpr auto kConnectTimeout = std::chrono::seconds(30);  // TCP connect, and a TLS handshake

// The CONNECT target host:port.
bool split_authority(std::string_view target, std::string& host, std::string& port) {
  std::size_t colon = target.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == target.size()) return false;
  host = std::string(target.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  port = std::string(target.substr(colon + 1));
  return port.find_first_not_of("0123456789") == std::string::npos;
}

// A std::string body whose reader appends what arrives instead of reserving the peer's
// Content-Length up front (Beast's string_body does): memory follows the bytes received.
struct GrowingBody {
  using value_type = std::string;
  static std::uint64_t size(const value_type& body) { return body.size(); }
  using writer = http::string_body::writer;
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      std::size_t n = 0;
      for (auto b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      ec = {};
      return n;
    }
    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};
using Request = http::request<GrowingBody>;

// Methods a proxy may send again when a reused connection fails before any answer (RFC 9110 9.2.2).
bool idempotent(http::verb method) {
  switch (method) {
    case http::verb::get: case http::verb::head: case http::verb::options: case http::verb::trace:
    case http::verb::put: case http::verb::delete_: case http::verb::propfind: case http::verb::proppatch:
    case http::verb::mkcol: case http::verb::copy: case http::verb::move: case http::verb::unlock:
      return true;
    default:
      return false;
  }
}

// The kept-alive upstream socket is unusable: the server closed it (EOF), reset it, or sent
// bytes nobody asked for (a TLS close_notify). A peek that does not block.
bool stale_socket(tcp::socket& socket) {
  char byte;
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

class HttpProxyConnection : public std::enable_shared_from_this<HttpProxyConnection> {
 public:
  HttpProxyConnection(tcp::socket client, RecorderContext& ctx, bool webdav, HttpRecordFormatter& formatter, MitmCa* mitm)
      : ctx_(ctx), slot_(std::move(ctx.connection_slot)), client_(std::move(client)), resolver_(ctx.io), webdav_(webdav),
        formatter_(formatter), mitm_(mitm) {}

  void start() { read_request(); }

 private:
  void read_request() {
    request_.emplace();
    request_->header_limit(kMaxRequestHeader);
    request_->body_limit(kMaxRequestBody);
    client_.expires_after(kIdleTimeout);
    with_client([&](auto& stream) {
      http::async_read_header(stream, client_buffer_, *request_,
                              [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
    });
  }

  // A request the client sent wrong gets an answer, not a silent close.
  void refuse_request(error_code ec) {
    if (ec == http::error::header_limit)
      return refuse(http::status::request_header_fields_too_large,
                    fmt::format("request header larger than {} KiB", kMaxRequestHeader / 1024));
    if (ec == http::error::body_limit)
      return refuse(http::status::payload_too_large, fmt::format("request body larger than {} MiB", kMaxRequestBody >> 20));
    if (ec.category() == make_error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message)
      return refuse(http::status::bad_request, "malformed request: " + ec.message());
    close();
  }

  void on_header(error_code ec) {
    if (ec) return refuse_request(ec);
    if (ctx_.writer.closed()) return close();
    Request& req = request_->get();
    if (req.method() == http::verb::connect && tunnel_origin_.empty()) return open_tunnel(std::string(req.target()));
    websocket_ = false;
    if (auto upgrade = req.find(http::field::upgrade); upgrade != req.end()) {
      std::string protocol(text::trim(upgrade->value()));
      if (text::iequals(protocol, "websocket") && req.method() == http::verb::get) {
        websocket_ = true;
      } else if (!text::iequals(protocol, "h2c")) {
        return refuse(http::status::not_implemented,
                      fmt::format("not supported yet: Upgrade: {} ({} {}): the recorder records HTTP/1.1 and WebSocket only",
                                  std::string(upgrade->value()), std::string(req.method_string()), std::string(req.target())));
      } else {
        req.erase(http::field::upgrade);  // h2c is optional: the request goes on in HTTP/1.1
        req.erase("HTTP2-Settings");
      }
    }
    bool expects_continue = text::iequals(text::trim(std::string(req[http::field::expect])), "100-continue");
    if (!expects_continue || request_->is_done()) return read_body();
    // The client waits for this before it sends the body (the server's 100 is not awaited).
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    client_write(asio::buffer(kContinue), [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->close();
      self->read_body();
    });
  }

  void read_body() {
    with_client([&](auto& stream) {
      http::async_read(stream, client_buffer_, *request_,
                       [self = shared_from_this()](error_code ec, std::size_t) { self->on_request(ec); });
    });
  }

  void on_request(error_code ec) {
    if (ec) return refuse_request(ec);
    if (ctx_.writer.closed()) return close();
    Request& req = request_->get();
    std::string target(req.target());
    bool ssl = false, trick = false;
    if (!tunnel_origin_.empty()) {  // inside a CONNECT decrypted with --mitm-ca: origin-form requests
      if (!target.starts_with('/')) return refuse(http::status::bad_request, "in a CONNECT tunnel: expected a path (origin-form), got " + target);
      target = tunnel_origin_ + target;
      ssl = true;
    } else if (target.starts_with("http://-")) {  // Tsung's trick: the browser asks http://-host for https://host
      target = "https://" + target.substr(8);
      ssl = trick = true;
    }
    UrlParts url;
    if (!split_url(target, url)) return refuse(http::status::bad_request, "loadctl record is a proxy: configure the browser to use it (absolute URLs)");
    HttpRecord record{std::string(req.method_string()), target, req.version() == 10 ? "1.0" : "1.1", {}, req.body()};
    for (const auto& field : req) record.headers.emplace_back(field.name_string(), field.value());
    // A WebSocket goes to a ts_websocket session of its own once the server accepts it (start_websocket).
    ws_records_ = websocket_ && ctx_.upstream.records_host(url.host);
    if (websocket_) {
      ws_origin_ = fmt::format("{}://{}", ssl ? "wss" : "ws", url.host) + (url.port == (ssl ? 443u : 80u) ? "" : fmt::format(":{}", url.port));
      ws_path_ = url.path_query;
    } else if (ctx_.upstream.records_host(url.host)) {
      ctx_.writer.record(formatter_.format(record, &ctx_.writer));
    }

    // What goes upstream: origin-form (absolute-form to a parent proxy), no proxy or hop-by-hop
    // headers, the whole body with its length.
    const UpstreamOptions& up = ctx_.upstream;
    req.target(up.parent_proxy ? target : url.path_query);
    for (auto name : {http::field::proxy_connection, http::field::keep_alive, http::field::expect, http::field::te,
                      http::field::trailer, http::field::transfer_encoding, http::field::connection})
      req.erase(name);
    req.erase("Proxy-Connection");
    if (!up.parent_proxy) req.erase(http::field::proxy_authorization);  // the proxy's, not the server's
    if (trick) {
      req.erase(http::field::accept_encoding);  // a readable response, to rewrite its https:// links
      std::string host(req[http::field::host]);
      if (host.starts_with('-')) req.set(http::field::host, host.substr(1));
    }
    req.keep_alive(true);
    if (websocket_) {
      req.set(http::field::connection, "Upgrade");
      req.erase(http::field::sec_websocket_extensions);  // no permessage-deflate: frames the recorder can read
    }
    if (!req.body().empty() || req.method() == http::verb::post || req.method() == http::verb::put) req.prepare_payload();
    head_request_ = req.method() == http::verb::head;
    idempotent_ = idempotent(req.method());
    retried_ = false;
    client_keep_alive_ = request_->keep_alive();
    rewrite_https_ = trick;
    std::string host = up.parent_proxy ? up.server_host : url.host;
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    unsigned port = up.parent_proxy ? up.server_port : url.port;
    connect_upstream(host, port, ssl && !up.parent_proxy);
  }

  void connect_upstream(const std::string& host, unsigned port, bool ssl) {
    std::string key = fmt::format("{}{}:{}", ssl ? "https://" : "http://", host, port);
    up_host_ = host;
    up_port_ = port;
    up_ssl_ = ssl;
    reused_ = key == upstream_key_ && upstream_open() && upstream_buffer_.size() == 0 && !stale_socket(plain_->socket());
    if (reused_) return send_upstream();
    close_upstream();
    upstream_key_ = key;
    resolver_.async_resolve(host, std::to_string(port), [self = shared_from_this(), host, ssl](error_code ec, tcp::resolver::results_type results) {
      if (ec) return self->refuse(http::status::bad_gateway, fmt::format("cannot resolve {}: {}", host, ec.message()));
      self->open_stream(ssl, host);
      self->plain_->expires_after(kConnectTimeout);
      self->plain_->async_connect(results, [self, host, ssl](error_code ec, const tcp::endpoint&) {
        if (ec) return self->refuse(http::status::bad_gateway, fmt::format("cannot connect to {}: {}", host, ec.message()));
        if (!ssl) return self->send_upstream();
        self->tls_->async_handshake(asio::ssl::stream_base::client, [self, host](error_code ec) {
          if (ec) return self->refuse(http::status::bad_gateway, fmt::format("TLS with {}: {}", host, ec.message()));
          self->send_upstream();
        });
      });
    });
  }

  void open_stream(bool ssl, const std::string& host) {
    if (!ssl) {
      plain_owned_.emplace(ctx_.io);
      plain_ = &*plain_owned_;
      return;
    }
    if (!tls_context_) {
      tls_context_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      tls_context_->set_default_verify_paths();
      tls_context_->set_verify_mode(asio::ssl::verify_peer);
    }
    tls_.emplace(ctx_.io, *tls_context_);
    tls_->set_verify_callback(asio::ssl::host_name_verification(host));
    SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str());
    plain_ = &beast::get_lowest_layer(*tls_);
  }

  bool upstream_open() const { return plain_ && plain_->socket().is_open(); }

  template <class F>
  void with_client(F&& f) {
    if (client_tls_) f(*client_tls_);
    else f(client_);
  }

  template <class F>
  void with_upstream(F&& f) {
    if (tls_) f(*tls_);
    else f(*plain_owned_);
  }

  void send_upstream() {
    relay_.reset();  // nothing back yet for this request (retry_or_refuse)
    plain_->expires_after(kIdleTimeout);
    with_upstream([&](auto& stream) {
      http::async_write(stream, request_->get(), [self = shared_from_this()](error_code ec, std::size_t) {
        if (ec) return self->retry_or_refuse(true, "upstream write: " + ec.message());
        self->read_response();
      });
    });
  }

  // A reused keep-alive connection the server had closed (end of stream, reset) before answering
  // anything: open a new one and send the request again, once. An idempotent request always; any
  // other only when the request could not be written (the server did not take it).
  void retry_or_refuse(bool write_failed, const std::string& why) {
    bool nothing_back = !relay_ || !relay_->got_some();
    if (reused_ && !retried_ && nothing_back && (idempotent_ || write_failed)) {
      retried_ = true;
      close_upstream();
      return connect_upstream(up_host_, up_port_, up_ssl_);
    }
    refuse(http::status::bad_gateway, why);
  }

  void read_response() {
    relay_.emplace(head_request_, rewrite_https_, client_keep_alive_, websocket_);
    relay_response();
  }

  // What the upstream sent goes to the client before more is read (one read buffer in flight: the
  // client's pace holds the upstream back), so a stream (Server-Sent Events, a long-poll) arrives live.
  void relay_response() {
    auto in = upstream_buffer_.data();
    std::size_t used = 0;
    to_client_.clear();
    auto status = relay_->feed(std::string_view(static_cast<const char*>(in.data()), in.size()), used, to_client_);
    upstream_buffer_.consume(used);
    if (status == ResponseRelay::Status::failed) return relay_failed();
    bool done = status == ResponseRelay::Status::done;
    if (!to_client_.empty()) return write_to_client(done);
    if (done) return response_done();
    read_upstream();
  }

  void read_upstream() {
    plain_->expires_after(kIdleTimeout);
    upstream_read_some([self = shared_from_this()](error_code ec, std::size_t n) {
      self->upstream_buffer_.commit(n);
      self->on_upstream_read(ec);
    });
  }

  // The raw reads and writes of the relay and the WebSocket, with one handler type: one
  // instantiation of Asio's (TLS) operations per stream, not one per call site (compile time).
  using IoHandler = std::function<void(error_code, std::size_t)>;
  void upstream_read_some(IoHandler h) {
    with_upstream([&](auto& stream) { stream.async_read_some(upstream_buffer_.prepare(kRelayChunk), std::move(h)); });
  }
  void client_read_some(IoHandler h) {
    with_client([&](auto& stream) { stream.async_read_some(client_buffer_.prepare(kRelayChunk), std::move(h)); });
  }
  void upstream_write(asio::const_buffer data, IoHandler h) {
    with_upstream([&](auto& stream) { asio::async_write(stream, data, std::move(h)); });
  }
  void client_write(asio::const_buffer data, IoHandler h) {
    with_client([&](auto& stream) { asio::async_write(stream, data, std::move(h)); });
  }

  void on_upstream_read(error_code ec) {
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      to_client_.clear();  // written already
      if (relay_->feed_eof(to_client_) == ResponseRelay::Status::failed) return relay_failed();
      return to_client_.empty() ? response_done() : write_to_client(true);
    }
    if (ec && !relay_->got_some()) return retry_or_refuse(false, "upstream closed the connection without an answer: " + ec.message());
    if (ec) {
      relay_failed();
      return;
    }
    relay_response();
  }

  // Nothing half-read or made up goes to the client as an answer: before the header went, a 502
  // (or the retry on a new connection); after, the client connection is closed mid-body.
  void relay_failed() {
    if (!relay_->forwarded()) return retry_or_refuse(false, relay_->error().empty() ? "upstream read failed" : relay_->error());
    ctx_.note(relay_->error().empty() ? "upstream read failed in the middle of a response" : relay_->error());
    close_upstream();
    close();
  }

  void write_to_client(bool done) {
    client_.expires_after(kIdleTimeout);
    client_write(asio::buffer(to_client_), [self = shared_from_this(), done](error_code ec, std::size_t) {
      if (ec) return self->close();
      if (done) return self->response_done();
      self->read_upstream();
    });
  }

  void response_done() {
    if (relay_->switched()) return start_websocket();
    if (!relay_->upstream_keep_alive()) close_upstream();
    if (!relay_->client_keep_alive()) return close();
    read_request();
  }

  // The server accepted the WebSocket: frames pass both ways unchanged, the client's recorded
  // (WebSocketRecorder) when its host is; either side closing ends both.
  void start_websocket() {
    if (ws_records_ && !ctx_.writer.closed()) {
      try {
        ws_ = std::make_unique<WebSocketRecorder>(ctx_.writer, ws_origin_, ws_path_, relay_->header("Sec-WebSocket-Protocol"));
        ctx_.note(fmt::format("WebSocket {}{}: recorded in {}", ws_origin_, ws_path_, ws_->file()));
      } catch (const std::exception& e) {
        ctx_.note(fmt::format("WebSocket {}{}: relayed, not recorded: {}", ws_origin_, ws_path_, e.what()));
      }
    }
    ws_client_to_upstream();
    ws_upstream_to_client();
  }

  // What client_buffer_ holds goes upstream (seen by the recorder), then the next read.
  void ws_client_to_upstream() {
    if (client_buffer_.size() > 0) {
      auto data = client_buffer_.data();
      if (ws_) ws_->from_client(std::string_view(static_cast<const char*>(data.data()), data.size()));
      plain_->expires_after(kWebSocketIdle);
      return upstream_write(data, [self = shared_from_this()](error_code ec, std::size_t n) {
        if (ec) return self->end_websocket();
        self->client_buffer_.consume(n);
        self->ws_client_to_upstream();
      });
    }
    client_.expires_after(kWebSocketIdle);
    client_read_some([self = shared_from_this()](error_code ec, std::size_t n) {
      self->client_buffer_.commit(n);
      if (ec) return self->end_websocket();
      self->ws_client_to_upstream();
    });
  }

  void ws_upstream_to_client() {
    if (upstream_buffer_.size() > 0) {
      auto data = upstream_buffer_.data();
      if (ws_) ws_->from_server(std::string_view(static_cast<const char*>(data.data()), data.size()));
      client_.expires_after(kWebSocketIdle);
      return client_write(data, [self = shared_from_this()](error_code ec, std::size_t n) {
        if (ec) return self->end_websocket();
        self->upstream_buffer_.consume(n);
        self->ws_upstream_to_client();
      });
    }
    plain_->expires_after(kWebSocketIdle);
    upstream_read_some([self = shared_from_this()](error_code ec, std::size_t n) {
      self->upstream_buffer_.commit(n);
      if (ec) return self->end_websocket();
      self->ws_upstream_to_client();
    });
  }

  void end_websocket() {
    if (ws_) ws_->finish();  // the session file is complete (closed and renamed) now
    close();
  }

  void refuse(http::status status, const std::string& why) {
    ctx_.note(why);
    close_upstream();
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::content_type, "text/plain");
    res->body() = why + "\n";
    res->keep_alive(false);
    res->prepare_payload();
    with_client([&](auto& stream) {
      http::async_write(stream, *res, [self = shared_from_this(), res](error_code, std::size_t) { self->close(); });
    });
  }

  // CONNECT without --mitm-ca: the bytes pass through unseen; the file says so. With -u the CONNECT
  // goes to the parent proxy as it came, and the parent's answer to the client (as Tsung).
  void open_tunnel(std::string target) {
    std::string host, port;
    if (!split_authority(target, host, port)) return refuse(http::status::bad_request, "CONNECT " + target + ": expected host:port");
    if (ctx_.upstream.connect_443_only && port != "443")
      return refuse(http::status::forbidden, "CONNECT " + target + ": refused (port 443 only when listening beyond loopback)");
    if (mitm_ && ctx_.upstream.records_host(host)) return open_mitm(target, host, port);
    if (ctx_.upstream.records_host(host))
      ctx_.writer.comment(fmt::format("CONNECT {} tunnelled without recording (encrypted); record HTTPS with "
                                    "http://-{}/ URLs, see docs/recorder.md", target, host));
    ctx_.note(fmt::format("CONNECT {} tunnelled blindly (not recorded)", target));
    close_upstream();
    upstream_key_.clear();
    plain_owned_.emplace(ctx_.io);
    plain_ = &*plain_owned_;
    const UpstreamOptions& up = ctx_.upstream;
    // The first bytes to the other end: the CONNECT itself for a parent proxy, then whatever the
    // client sent after its CONNECT head.
    auto first = std::make_shared<std::string>();
    if (up.parent_proxy) {
      *first = fmt::format("CONNECT {} HTTP/1.1\r\n", target);
      for (const auto& field : request_->get()) *first += fmt::format("{}: {}\r\n", std::string(field.name_string()), std::string(field.value()));
      *first += "\r\n";
      host = up.server_host;
      port = std::to_string(up.server_port);
    }
    first->append(beast::buffers_to_string(client_buffer_.data()));
    client_buffer_.consume(client_buffer_.size());
    resolver_.async_resolve(host, port, [self = shared_from_this(), target, first](error_code ec, tcp::resolver::results_type results) {
      if (ec) return self->refuse(http::status::bad_gateway, "CONNECT " + target + ": " + ec.message());
      self->plain_->expires_after(kConnectTimeout);
      self->plain_->async_connect(results, [self, target, first](error_code ec, const tcp::endpoint&) {
        if (ec) return self->refuse(http::status::bad_gateway, "CONNECT " + target + ": " + ec.message());
        auto ok = std::make_shared<std::string>(self->ctx_.upstream.parent_proxy ? "" : "HTTP/1.1 200 Connection established\r\nProxy-agent: loadctl\r\n\r\n");
        asio::async_write(self->client_, asio::buffer(*ok), [self, ok, first](error_code ec, std::size_t) {
          if (ec) return self->close();
          asio::async_write(*self->plain_, asio::buffer(*first), [self, first](error_code ec, std::size_t) {
            if (ec) return self->close();
            self->pump(self->client_, *self->plain_, std::make_shared<std::array<char, 16384>>());
            self->pump(*self->plain_, self->client_, std::make_shared<std::array<char, 16384>>());
          });
        });
      });
    });
  }

  // CONNECT with --mitm-ca: 200, then a TLS server handshake with the client presenting a leaf
  // certificate for `host` signed by the CA; the requests that follow are proxied to https://host:port
  // (verified as the http://- trick's) and recorded as https:// URLs.
  void open_mitm(const std::string& target, const std::string& host, const std::string& port) {
    std::shared_ptr<asio::ssl::context> context;
    try {
      context = mitm_->server_context(host);
    } catch (const std::exception& e) {
      return refuse(http::status::bad_request, fmt::format("CONNECT {}: {}", target, e.what()));
    }
    close_upstream();
    bool ipv6 = host.find(':') != std::string::npos;
    tunnel_origin_ = fmt::format("https://{}{}{}{}", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port == "443" ? "" : ":" + port);
    auto ok = std::make_shared<std::string>("HTTP/1.1 200 Connection established\r\nProxy-agent: loadctl\r\n\r\n");
    client_.expires_after(kConnectTimeout);
    asio::async_write(client_, asio::buffer(*ok), [self = shared_from_this(), ok, context, target](error_code ec, std::size_t) {
      if (ec) return self->close();
      self->client_tls_context_ = context;
      self->client_tls_.emplace(self->client_, *context);
      // Bytes the client sent after its CONNECT head are the handshake's first.
      self->client_tls_->async_handshake(asio::ssl::stream_base::server, self->client_buffer_.data(),
                                         [self, target](error_code ec, std::size_t) {
        self->client_buffer_.consume(self->client_buffer_.size());  // all handed to the TLS engine
        if (ec) {
          self->ctx_.note(fmt::format("CONNECT {}: TLS with the client: {} (does it trust the --mitm-ca CA?)", target, ec.message()));
          return self->close();
        }
        self->read_request();
      });
    });
  }

  void pump(beast::tcp_stream& from, beast::tcp_stream& to, std::shared_ptr<std::array<char, 16384>> buf) {
    from.expires_after(kIdleTimeout * 5);
    from.async_read_some(asio::buffer(*buf), [self = shared_from_this(), &from, &to, buf](error_code ec, std::size_t n) {
      if (ec) return self->close();
      asio::async_write(to, asio::buffer(buf->data(), n), [self, &from, &to, buf](error_code ec, std::size_t) {
        if (ec) return self->close();
        self->pump(from, to, buf);
      });
    });
  }

  void close_upstream() {
    error_code ignored;
    if (plain_) plain_->socket().close(ignored);
    plain_ = nullptr;
    tls_.reset();
    plain_owned_.reset();
    upstream_key_.clear();
    upstream_buffer_.clear();
  }

  void close() {
    error_code ignored;
    client_.socket().close(ignored);
    if (plain_) plain_->socket().close(ignored);
  }

  RecorderContext& ctx_;
  std::shared_ptr<void> slot_;  ///< one of the recorder's kMaxConnections
  beast::tcp_stream client_;
  tcp::resolver resolver_;
  bool webdav_;
  HttpRecordFormatter& formatter_;
  MitmCa* mitm_;  ///< --mitm-ca (nullptr: CONNECT is tunnelled blindly)
  std::shared_ptr<asio::ssl::context> client_tls_context_;  ///< the leaf for the CONNECT host (before client_tls_)
  std::optional<asio::ssl::stream<beast::tcp_stream&>> client_tls_;  ///< TLS with the client in a decrypted CONNECT
  std::string tunnel_origin_;  ///< "https://host[:port]" of the decrypted CONNECT ("" = none)
  beast::flat_buffer client_buffer_, upstream_buffer_;
  std::optional<http::request_parser<GrowingBody>> request_;
  std::unique_ptr<WebSocketRecorder> ws_;  ///< the WebSocket being recorded (after a 101), or none
  std::string ws_origin_, ws_path_;  ///< ws[s]://host[:port] and the path of the WebSocket asked for
  bool websocket_ = false, ws_records_ = false;  ///< the request asks for a WebSocket; its host is recorded
  std::optional<ResponseRelay> relay_;  ///< the response being passed on
  std::string to_client_;  ///< what relay_ gave to write to the client (one read's worth, or a rewritten body)
  std::unique_ptr<asio::ssl::context> tls_context_;
  std::optional<beast::tcp_stream> plain_owned_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::tcp_stream* plain_ = nullptr;  ///< the upstream TCP stream (under tls_ when TLS)
  std::string upstream_key_;
  std::string up_host_;  ///< where the current request goes (for a retry)
  unsigned up_port_ = 0;
  bool up_ssl_ = false, reused_ = false, retried_ = false, idempotent_ = true;
  bool head_request_ = false, client_keep_alive_ = true, rewrite_https_ = false;
};

class HttpProxyProtocol : public ProxyProtocol {
 public:
  explicit HttpProxyProtocol(bool webdav) : webdav_(webdav), formatter_(webdav) {}
  std::string_view session_type() const override { return webdav_ ? "ts_webdav" : "ts_http"; }
  std::string check(const UpstreamOptions& up) const override {
    if (up.parent_proxy && (up.server_host.empty() || up.server_port == 0))
      return "-u (parent proxy) needs -I ADDRESS and -P PORT";
    if (!up.parent_proxy && (!up.server_host.empty() || up.server_port != 0))
      return "-I and -P name the parent proxy of -u (http) or the server (pgsql): add -u";
    if (!up.mitm_ca_dir.empty()) {
      // The start-up hook: the CA is loaded (or made) here, once, and the way to trust it printed.
      try {
        mitm_ = MitmCa::open(up.mitm_ca_dir);
      } catch (const std::exception& e) {
        return e.what();
      }
      std::fprintf(stderr, "record: %s", mitm_->trust_instructions().c_str());
    }
    return {};
  }
  void serve(tcp::socket client, RecorderContext& context) override {
    // One formatter for the whole session: "relative URL while the host stays" is across connections.
    std::make_shared<HttpProxyConnection>(std::move(client), context, webdav_, formatter_, mitm_.get())->start();
  }

 private:
  bool webdav_;
  HttpRecordFormatter formatter_;
  mutable std::unique_ptr<MitmCa> mitm_;  ///< made by check() (the start-up hook) for --mitm-ca
};

}  // namespace

std::unique_ptr<ProxyProtocol> make_http_proxy(bool webdav) { return std::make_unique<HttpProxyProtocol>(webdav); }

}  // namespace loadctl::recorder
