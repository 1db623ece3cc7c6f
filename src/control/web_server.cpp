// Beast's string_view is std::string_view here and in src/recorder/http_proxy.cpp (the only files
// that include Beast): both link into the controller, so they must agree (ODR).
#define BOOST_BEAST_USE_STD_STRING_VIEW
#include "control/web_server.hpp"

#include <optional>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "control/handshake.hpp"

namespace loadctl::control {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {


// The Host header of a loopback bind names a loopback address (a DNS-rebinding page names its own).
bool loopback_host(std::string_view host) {
  if (host.starts_with("[::1]")) host.remove_prefix(5);
  else if (host.starts_with("localhost")) host.remove_prefix(9);
  else if (host.starts_with("127.")) {
    host.remove_prefix(4);
    while (!host.empty() && (std::isdigit(static_cast<unsigned char>(host.front())) || host.front() == '.'))
      host.remove_prefix(1);
  } else return false;
  if (host.empty()) return true;
  if (host.front() != ':' || host.size() == 1) return false;
  for (char c : host.substr(1))
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string_view cookie_value(std::string_view cookies, std::string_view name) {
  while (!cookies.empty()) {
    auto semi = cookies.find(';');
    std::string_view item = cookies.substr(0, semi);
    while (item.starts_with(' ')) item.remove_prefix(1);
    if (item.size() > name.size() && item.starts_with(name) && item[name.size()] == '=')
      return item.substr(name.size() + 1);
    if (semi == std::string_view::npos) break;
    cookies.remove_prefix(semi + 1);
  }
  return {};
}

// Leading slashes and backslashes as one '/': a redirect to "//evil.example/" would leave the site.
std::string local_path(std::string_view path) {
  std::size_t i = 0;
  while (i < path.size() && (path[i] == '/' || path[i] == '\\')) ++i;
  return "/" + std::string(path.substr(i));
}

bool bearer_is(std::string_view auth, std::string_view token) {
  constexpr std::string_view scheme = "bearer ";
  if (auth.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(auth[i])) != scheme[i]) return false;
  return constant_time_equal(auth.substr(scheme.size()), token);
}

// `query` without its token=... item (the redirect after ?token= drops it from the address bar).
std::string without_token(std::string_view query) {
  std::string out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    if (!item.starts_with("token=")) {
      if (!out.empty()) out += '&';
      out += item;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::optional<std::string> query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    if (item.size() > key.size() && item.starts_with(key) && item[key.size()] == '=')
      return percent_decode(item.substr(key.size() + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::string();
}

class WebServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, WebServer& server, std::shared_ptr<void> ticket)
      : stream_(std::move(socket)), server_(server), ticket_(std::move(ticket)) {}

  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeader);
    parser_->body_limit(kMaxBody);
    stream_.expires_after(server_.limits_.read_timeout);
    // The header first: its body is read only once the request is known to be allowed.
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

 private:
  void on_header(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) return refuse(431, "header too large");
    if (ec == http::error::body_limit) return refuse(413, "body too large");  // its Content-Length, before any byte of it
    if (ec == http::error::bad_target || ec == http::error::bad_method || ec == http::error::bad_version ||
        ec == http::error::bad_field || ec == http::error::bad_value || ec == http::error::bad_line_ending)
      return refuse(400, "bad request");
    if (ec) return shutdown();
    auto& req = parser_->get();
    std::string_view target = req.target();
    auto q = target.find('?');
    std::string_view path = target.substr(0, q), query = q == std::string_view::npos ? "" : target.substr(q + 1);
    const std::string& token = server_.token_;
    bool post = req.method() == http::verb::post;
    bool ok = !token.empty() && (bearer_is(req[http::field::authorization], token) ||
                                 constant_time_equal(cookie_value(req[http::field::cookie], server_.cookie_), token));
    if (!ok && !token.empty() && constant_time_equal(query_value(query, "token").value_or(""), token)) {
      if (post) {
        ok = true;  // a POST is not redirected (its body would be lost)
      } else {
        std::string rest = without_token(query);
        return redirect(local_path(path) + (rest.empty() ? "" : "?" + rest));
      }
    }
    if (!ok) {
      // Reads on a loopback bind may go without the token (Host checked: no DNS rebinding); changes never.
      if (post || !server_.open_reads_) return refuse(401, "token required: Authorization: Bearer T, or ?token=T once");
      if (!loopback_host(req[http::field::host])) return refuse(403, "this dashboard answers to a loopback Host only");
    }
    if (!post && req.method() != http::verb::get && req.method() != http::verb::head)
      return refuse(405, "GET or POST");
    if (post && req["X-Loadctl"] != "1") return refuse(403, "POST needs the header X-Loadctl: 1");
    if (parser_->is_done()) return on_request();
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code e, std::size_t) {
      if (e == http::error::body_limit) return self->refuse(413, "body too large");
      if (e) return self->shutdown();
      self->on_request();
    });
  }

  void on_request() {
    auto& req = parser_->get();
    std::string_view target = req.target();
    auto q = target.find('?');
    WebRequest request;
    request.post = req.method() == http::verb::post;
    request.path = target.substr(0, q);
    request.query = q == std::string_view::npos ? "" : target.substr(q + 1);
    request.body = req.body();
    WebResponse answer;
    try {
      answer = server_.handler_(request);
    } catch (const std::exception& e) {
      spdlog::warn("dashboard: {}: {}", std::string(request.path), e.what());
      answer = {500, "text/plain", "internal error\n"};
    }
    respond(answer.status, answer.content_type, std::move(answer.body), req.keep_alive(), req.method() == http::verb::head);
  }

  void redirect(std::string location) {
    res_ = {};
    res_.result(http::status::see_other);
    res_.set(http::field::location, location);
    res_.set(http::field::set_cookie,
             server_.cookie_ + "=" + server_.token_ + "; Path=/; HttpOnly; SameSite=Strict");
    send(false);
  }

  void refuse(unsigned status, std::string_view why) { respond(status, "text/plain", std::string(why) + "\n", false, false); }

  void respond(unsigned status, std::string_view type, std::string body, bool keep_alive, bool head) {
    res_ = {};
    res_.result(static_cast<http::status>(status));
    res_.set(http::field::content_type, type);
    res_.set(http::field::cache_control, "no-store");
    res_.set("X-Content-Type-Options", "nosniff");
    res_.set("X-Frame-Options", "DENY");
    res_.body() = head ? std::string() : std::move(body);
    res_.prepare_payload();
    send(keep_alive);
  }

  void send(bool keep_alive) {
    res_.keep_alive(keep_alive);
    stream_.expires_after(server_.limits_.write_timeout);
    http::async_write(stream_, res_, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
      if (ec || !keep_alive) return self->shutdown();
      self->read();
    });
  }

  void shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_static_buffer<kMaxHeader + kMaxBody> buffer_;  ///< the connection's only read buffer
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  WebServer& server_;
  std::shared_ptr<void> ticket_;  ///< a slot of WebServer::connections_
};

WebServer::WebServer(asio::io_context& ctx, Handler handler, Limits limits)
    : acceptor_(ctx),
      accept_loop_(acceptor_, "dashboard port", [this](tcp::socket socket) { on_socket(std::move(socket)); }),
      handler_(std::move(handler)),
      limits_(limits),
      connections_(limits.connections) {}

WebServer::~WebServer() { close(); }

boost::system::error_code WebServer::open(const tcp::endpoint& endpoint, std::string token, bool open_reads) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return ec;
  }
  token_ = std::move(token);
  open_reads_ = open_reads;
  cookie_ = "loadctl_token_" + std::to_string(acceptor_.local_endpoint(ec).port());  // cookies are not port-scoped
  ec.clear();
  accept_loop_.start();
  return ec;
}

tcp::endpoint WebServer::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void WebServer::close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void WebServer::on_socket(tcp::socket socket) {
  std::shared_ptr<void> ticket = connections_.enter();
  if (!ticket) return;  // full: closed at once (the socket goes out of scope)
  auto session = std::make_shared<Session>(std::move(socket), *this, std::move(ticket));
  session->read();
}

}  // namespace loadctl::control
