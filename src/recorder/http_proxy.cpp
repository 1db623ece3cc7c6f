// The HTTP and WebDAV recording proxy (Tsung's ts_proxy_http / ts_proxy_webdav), one
// HttpProxyConnection per client connection, in event order:
//   read_request -> on_request (CONNECT: open_tunnel; else record, then connect_upstream)
//   -> send_upstream -> read_response -> (https: rewrite_for_client) -> send_to_client -> read_request
// Requests are read whole (Content-Length or chunked, up to kMaxBody) and forwarded with a
// Content-Length; the response is read whole too and passed on (chunked stays chunked).
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
#include "recorder/proxy_protocol.hpp"

namespace loadctl::recorder {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::uint64_t kMaxBody = 256ull << 20;
constexpr auto kIdleTimeout = std::chrono::seconds(120);  // as Tsung's ?lifetime

// The CONNECT target host:port.
bool split_authority(std::string_view target, std::string& host, std::string& port) {
  std::size_t colon = target.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == target.size()) return false;
  host = std::string(target.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  port = std::string(target.substr(colon + 1));
  return port.find_first_not_of("0123456789") == std::string::npos;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}

bool is_text_type(std::string_view ct) {
  std::string lower = text::lowered(ct);
  return lower.starts_with("text/") || lower.find("javascript") != std::string::npos ||
         lower.find("json") != std::string::npos || lower.find("xml") != std::string::npos;
}

class HttpProxyConnection : public std::enable_shared_from_this<HttpProxyConnection> {
 public:
  HttpProxyConnection(tcp::socket client, RecorderContext& ctx, bool webdav, HttpRecordFormatter& formatter)
      : ctx_(ctx), client_(std::move(client)), resolver_(ctx.io), webdav_(webdav), formatter_(formatter) {}

  void start() { read_request(); }

 private:
  void read_request() {
    request_.emplace();
    request_->body_limit(kMaxBody);
    client_.expires_after(kIdleTimeout);
    http::async_read(client_, client_buffer_, *request_,
                     [self = shared_from_this()](error_code ec, std::size_t) { self->on_request(ec); });
  }

  void on_request(error_code ec) {
    if (ec || ctx_.writer.closed()) return close();
    http::request<http::string_body>& req = request_->get();
    if (req.method() == http::verb::connect) return open_tunnel(std::string(req.target()));
    std::string target(req.target());
    bool ssl = false;
    if (target.starts_with("http://-")) {  // Tsung's trick: the browser asks http://-host for https://host
      target = "https://" + target.substr(8);
      ssl = true;
    }
    UrlParts url;
    if (!split_url(target, url)) return refuse(http::status::bad_request, "loadctl record is a proxy: configure the browser to use it (absolute URLs)");
    HttpRecord record{std::string(req.method_string()), target, req.version() == 10 ? "1.0" : "1.1", {}, req.body()};
    for (const auto& field : req) record.headers.emplace_back(field.name_string(), field.value());
    if (ctx_.upstream.records_host(url.host)) ctx_.writer.record(formatter_.format(record, &ctx_.writer));

    // What goes upstream: origin-form (absolute-form to a parent proxy), no proxy or hop-by-hop
    // headers, the whole body with its length.
    const UpstreamOptions& up = ctx_.upstream;
    req.target(up.parent_proxy ? target : url.path_query);
    for (auto name : {http::field::proxy_connection, http::field::keep_alive, http::field::expect, http::field::te,
                      http::field::trailer, http::field::transfer_encoding})
      req.erase(name);
    req.erase("Proxy-Connection");
    if (!up.parent_proxy) req.erase(http::field::proxy_authorization);  // the proxy's, not the server's
    if (ssl) {
      req.erase(http::field::accept_encoding);  // a readable response, to rewrite its https:// links
      std::string host(req[http::field::host]);
      if (host.starts_with('-')) req.set(http::field::host, host.substr(1));
    }
    req.keep_alive(true);
    if (!req.body().empty() || req.method() == http::verb::post || req.method() == http::verb::put) req.prepare_payload();
    head_request_ = req.method() == http::verb::head;
    client_keep_alive_ = request_->keep_alive();
    rewrite_https_ = ssl;
    std::string host = up.parent_proxy ? up.server_host : url.host;
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    unsigned port = up.parent_proxy ? up.server_port : url.port;
    connect_upstream(host, port, ssl && !up.parent_proxy);
  }

  void connect_upstream(const std::string& host, unsigned port, bool ssl) {
    std::string key = fmt::format("{}{}:{}", ssl ? "https://" : "http://", host, port);
    if (key == upstream_key_ && upstream_open()) return send_upstream();
    close_upstream();
    upstream_key_ = key;
    resolver_.async_resolve(host, std::to_string(port), [self = shared_from_this(), host, ssl](error_code ec, tcp::resolver::results_type results) {
      if (ec) return self->refuse(http::status::bad_gateway, fmt::format("cannot resolve {}: {}", host, ec.message()));
      self->open_stream(ssl, host);
      self->plain_->expires_after(std::chrono::seconds(30));
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
  void with_upstream(F&& f) {
    if (tls_) f(*tls_);
    else f(*plain_owned_);
  }

  void send_upstream() {
    plain_->expires_after(kIdleTimeout);
    with_upstream([&](auto& stream) {
      http::async_write(stream, request_->get(), [self = shared_from_this()](error_code ec, std::size_t) {
        if (ec) return self->refuse(http::status::bad_gateway, "upstream write: " + ec.message());
        self->read_response();
      });
    });
  }

  void read_response() {
    response_.emplace();
    response_->body_limit(kMaxBody);
    if (head_request_) response_->skip(true);
    with_upstream([&](auto& stream) {
      http::async_read(stream, upstream_buffer_, *response_, [self = shared_from_this()](error_code ec, std::size_t) {
        if (ec && ec != http::error::end_of_stream)
          return self->refuse(http::status::bad_gateway, "upstream read: " + ec.message());
        self->send_to_client();
      });
    });
  }

  // Tsung's from_https: links back through the proxy as http://-, and cookies not Secure.
  void rewrite_for_client(http::response<http::string_body>& res) {
    std::vector<std::string> cookies;
    for (const auto& f : res)
      if (f.name() == http::field::set_cookie) cookies.emplace_back(f.value());
    if (!cookies.empty()) {
      res.erase(http::field::set_cookie);
      for (std::string& c : cookies) {
        c = replace_all(replace_all(c, "; Secure", ""), "; secure", "");
        res.insert(http::field::set_cookie, c);
      }
    }
    if (auto location = res.find(http::field::location); location != res.end() && location->value().starts_with("https://"))
      res.set(http::field::location, "http://-" + std::string(location->value().substr(8)));
    if (res.body().empty() || !is_text_type(std::string(res[http::field::content_type])) || res.count(http::field::content_encoding)) return;
    res.body() = replace_all(std::move(res.body()), "https://", "http://-");
    if (!res.chunked()) res.content_length(res.body().size());
  }

  void send_to_client() {
    http::response<http::string_body>& res = response_->get();
    upstream_keep_alive_ = response_->keep_alive() && !response_->need_eof();
    if (rewrite_https_) rewrite_for_client(res);
    bool keep = client_keep_alive_ && !response_->need_eof();
    res.keep_alive(keep);
    client_.expires_after(kIdleTimeout);
    http::async_write(client_, res, [self = shared_from_this(), keep](error_code ec, std::size_t) {
      if (!self->upstream_keep_alive_) self->close_upstream();
      if (ec || !keep) return self->close();
      self->read_request();
    });
  }

  void refuse(http::status status, const std::string& why) {
    ctx_.note(why);
    close_upstream();
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::content_type, "text/plain");
    res->body() = why + "\n";
    res->keep_alive(false);
    res->prepare_payload();
    http::async_write(client_, *res, [self = shared_from_this(), res](error_code, std::size_t) { self->close(); });
  }

  // CONNECT without --mitm-ca: the bytes pass through unseen; the file says so.
  void open_tunnel(std::string target) {
    std::string host, port;
    if (!split_authority(target, host, port)) return refuse(http::status::bad_request, "CONNECT " + target + ": expected host:port");
    if (ctx_.upstream.records_host(host))
      ctx_.writer.comment(fmt::format("CONNECT {} tunnelled without recording (encrypted); record HTTPS with "
                                    "http://-{}/ URLs, see docs/recorder.md", target, host));
    ctx_.note(fmt::format("CONNECT {} tunnelled blindly (not recorded)", target));
    close_upstream();
    upstream_key_.clear();
    plain_owned_.emplace(ctx_.io);
    plain_ = &*plain_owned_;
    resolver_.async_resolve(host, port, [self = shared_from_this(), target](error_code ec, tcp::resolver::results_type results) {
      if (ec) return self->refuse(http::status::bad_gateway, "CONNECT " + target + ": " + ec.message());
      self->plain_->async_connect(results, [self, target](error_code ec, const tcp::endpoint&) {
        if (ec) return self->refuse(http::status::bad_gateway, "CONNECT " + target + ": " + ec.message());
        auto ok = std::make_shared<std::string>("HTTP/1.1 200 Connection established\r\nProxy-agent: loadctl\r\n\r\n");
        asio::async_write(self->client_, asio::buffer(*ok), [self, ok](error_code ec, std::size_t) {
          if (ec) return self->close();
          // Bytes the client sent after its CONNECT head are the tunnel's first.
          auto early = std::make_shared<std::string>(beast::buffers_to_string(self->client_buffer_.data()));
          self->client_buffer_.consume(self->client_buffer_.size());
          asio::async_write(*self->plain_, asio::buffer(*early), [self, early](error_code ec, std::size_t) {
            if (ec) return self->close();
            self->pump(self->client_, *self->plain_, std::make_shared<std::array<char, 16384>>());
            self->pump(*self->plain_, self->client_, std::make_shared<std::array<char, 16384>>());
          });
        });
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
  beast::tcp_stream client_;
  tcp::resolver resolver_;
  bool webdav_;
  HttpRecordFormatter& formatter_;
  beast::flat_buffer client_buffer_, upstream_buffer_;
  std::optional<http::request_parser<http::string_body>> request_;
  std::optional<http::response_parser<http::string_body>> response_;
  std::unique_ptr<asio::ssl::context> tls_context_;
  std::optional<beast::tcp_stream> plain_owned_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::tcp_stream* plain_ = nullptr;  ///< the upstream TCP stream (under tls_ when TLS)
  std::string upstream_key_;
  bool head_request_ = false, client_keep_alive_ = true, upstream_keep_alive_ = true, rewrite_https_ = false;
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
    if (!up.mitm_ca_dir.empty()) return "not supported yet: --mitm-ca (CONNECT is tunnelled blindly; use http://- URLs)";
    return {};
  }
  void serve(tcp::socket client, RecorderContext& context) override {
    // One formatter for the whole session: "relative URL while the host stays" is across connections.
    std::make_shared<HttpProxyConnection>(std::move(client), context, webdav_, formatter_)->start();
  }

 private:
  bool webdav_;
  HttpRecordFormatter formatter_;
};

}  // namespace

std::unique_ptr<ProxyProtocol> make_http_proxy(bool webdav) { return std::make_unique<HttpProxyProtocol>(webdav); }

}  // namespace loadctl::recorder
