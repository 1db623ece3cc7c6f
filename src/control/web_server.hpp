#pragma once
// The controller's HTTP server (the live dashboard, its JSON API, /metrics and steering), on the
// controller's own io_context with Boost.Beast. Bounded on every side, since a peer that has not
// shown the token must cost nothing it chooses: at most Limits::connections at once (more are
// closed at once), a request header of kMaxHeader bytes and a body of kMaxBody (read only once the
// request is authorised), Limits::read_timeout to send a request (idle keep-alive included) and
// write_timeout to take the answer; each connection owns one fixed read buffer.
// Auth: a request carries the token as `Authorization: Bearer T` (any case of "Bearer"), `?token=T`
// (a GET is then answered with a redirect that sets it as an HttpOnly cookie named after the port,
// since cookies are not port-scoped) or that cookie. Every POST (a change) needs it; with
// open_reads (loopback binds), a GET may go without it when its Host header names a loopback
// address (no DNS rebinding). POSTs need the header `X-Loadctl: 1`, which a cross-site form
// cannot send (no CSRF).

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "control/accept_loop.hpp"

namespace loadctl::control {

struct WebRequest {
  bool post = false;
  std::string_view path;   ///< without the query
  std::string_view query;  ///< after '?', token removed from nothing (handlers ignore it)
  std::string_view body;
};

struct WebResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

/// `text` with its %XX escapes decoded; nullopt when one is malformed ('+' stays '+').
std::optional<std::string> percent_decode(std::string_view text);
/// The value of `key` in a query string ("a=1&b=2"), percent-decoded; empty when absent, nullopt
/// when its escapes are malformed.
std::optional<std::string> query_value(std::string_view query, std::string_view key);

/// Connections at once, and the time a peer has to send a request (idle keep-alive included)
/// and to take the answer.
struct WebLimits {
  std::size_t connections = 32;
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};
};

class WebServer {
 public:
  using Handler = std::function<WebResponse(const WebRequest&)>;
  static constexpr std::size_t kMaxHeader = 8 * 1024;
  static constexpr std::size_t kMaxBody = 4 * 1024;
  using Limits = WebLimits;

  WebServer(boost::asio::io_context& ctx, Handler handler, Limits limits = {});
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  /// Binds and listens. `open_reads`: GETs with a loopback Host need no token (loopback binds only).
  boost::system::error_code open(const boost::asio::ip::tcp::endpoint& endpoint, std::string token, bool open_reads);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  /// Stops accepting; open connections finish their current answer.
  void close();
  std::size_t connections() const { return connections_.pending(); }

 private:
  class Session;
  void on_socket(boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  AcceptLoop accept_loop_;
  Handler handler_;
  std::string token_;
  std::string cookie_;      ///< loadctl_token_PORT
  bool open_reads_ = false;
  Limits limits_;
  PendingLimit connections_;
};

}  // namespace loadctl::control
