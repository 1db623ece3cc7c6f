#pragma once
// The connection-level plugin interface: a per-connection object for stateful protocols, in the
// spirit of h2load's Session and Tsung's ts_plugin new_session/parse_bidi. A plugin that needs
// it returns one from Protocol::open_connection(); the engine then keeps the socket read for the
// whole life of the connection (also while the user thinks) and hands every received byte to
// the object, which decides what it means. Plugins that return null (HTTP keep-alive, raw) keep
// the request/response path of protocol.hpp, with no per-connection object and no extra cost.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "loadctl/protocol.hpp"

namespace loadctl {

/// A metric a connection records into: interned once by ConnectionServices::metric().
using ConnMetric = std::uint32_t;
enum class ConnMetricKind : std::uint8_t { counter, sample };

/// What the engine offers a connection object. Valid only during the call it is passed to.
class ConnectionServices {
 public:
  /// Queues bytes for the peer (after any bytes already queued); e.g. a pong or an ack.
  virtual void send(std::string_view bytes) = 0;
  /// Queues bytes on lane `lane` of the connection: 0 is the connection itself (as send); 1 is a
  /// second socket to the same server with the same transport (TLS included), connected at its
  /// first send_on (again after Connection::on_lane_closed), read for the connection's life
  /// (Connection::on_lane_data) and closed with it. For protocols that hold a request open on one
  /// socket and send on another (XMPP over BOSH). Users that never call it pay nothing. The
  /// default (wrappers that do not forward it) counts error_no_lane.
  virtual void send_on(unsigned lane, std::string_view bytes) {
    if (lane == 0) send(bytes);
    else error("no_lane");
  }
  /// Upgrades the connection to TLS (STARTTLS): reading stops, the handshake runs, then
  /// Connection::on_tls_ready() is called and reading goes on over TLS. Call it when no bytes
  /// are queued for sending (after the server agreed, typically from on_data).
  virtual void start_tls() = 0;
  /// Arms (or re-arms) the connection's timer: Connection::on_timer() in `seconds`.
  virtual void set_timer(double seconds) = 0;
  virtual void cancel_timer() = 0;
  /// A metric of the plugin's own, under `name` in tsung.log; intern once, at on_open.
  virtual ConnMetric metric(std::string_view name, ConnMetricKind kind) = 0;
  virtual void count(ConnMetric metric, std::uint64_t n = 1) = 0;
  virtual void sample(ConnMetric metric, double ms) = 0;
  /// Sets the user's dynamic variable %%_name%% (when the session reads it; else a no-op).
  virtual void set_var(std::string_view name, std::string_view value) = 0;
  /// Counts an error (metric "error_<name>") without ending the user.
  virtual void error(std::string_view name) = 0;
  /// Substitution source for the user's variables, for encoding messages of its own.
  virtual const VariableSource* vars() const = 0;
};

/// What a connection made of the bytes it was offered.
enum class ConnEvent : std::uint8_t {
  none,      ///< nothing the user waits for (a pushed message, a partial frame, ...)
  ready,     ///< the handshake begun in on_open() is over: the first request may go
  complete,  ///< the pending request's response is complete
  failed,    ///< the pending request failed (info.error); the user goes on (counted error)
  fatal,     ///< protocol error: the connection is closed and the user ends (info.error)
  /// As fatal, the error already counted by the plugin (ConnectionServices::error): e.g. from
  /// on_timer, which has no ResponseInfo, for an error decided earlier (while encoding).
  fatal_counted,
  close,     ///< the connection must be closed; the pending request (if any) is complete
  /// The pending request was a wait (Tsung's MQTT waitForMessages, a thinktime in Tsung): it is
  /// over, untimed (no request or page sample; it neither ends nor begins a page, as Tsung's).
  waited,
};

struct ConnResult {
  std::size_t consumed = 0;  ///< bytes used; the rest is offered again with more appended
  ConnEvent event = ConnEvent::none;
  /// More events are ready from bytes already consumed (several elements in one frame): the
  /// engine calls on_data again at once, with the rest (possibly none). Set it only then.
  bool again = false;
};

/// Per-connection state of a stateful protocol. Hooks other than on_data have defaults.
class Connection {
 public:
  virtual ~Connection() = default;

  /// The transport is connected (and TLS is up for ssl servers). Return true to hold the first
  /// request until on_data() (or on_timer()) returns ConnEvent::ready: a handshake of its own.
  virtual bool on_open(ConnectionServices& services) { return false; }

  /// Encodes a request; the default asks the request itself.
  virtual void encode(ConnectionServices& services, const RequestSpec& request, const EncodeContext& ctx,
                      std::string& out) {
    request.encode(ctx, out);
  }

  /// Received bytes. `pending` is the request awaiting its response, or null when none is (the
  /// user thinks, or the request's response is already complete): server push. Called again
  /// with the unconsumed rest while it consumes something.
  virtual ConnResult on_data(ConnectionServices& services, const RequestSpec* pending, std::span<const char> data,
                             ResponseInfo& info) = 0;

  /// The timer set with ConnectionServices::set_timer() fired. May return any event; a user
  /// ended from here with an error of the plugin's own: count it with ConnectionServices::error
  /// when it is decided (the user may end otherwise before the timer fires), then fatal_counted.
  virtual ConnEvent on_timer(ConnectionServices& services) { return ConnEvent::none; }

  /// The STARTTLS handshake asked with ConnectionServices::start_tls() is over. May return
  /// complete (the request that asked for TLS) or ready.
  virtual ConnEvent on_tls_ready(ConnectionServices& services) { return ConnEvent::none; }

  /// True for a wait (Tsung's MQTT/AMQP waitForMessages, a thinktime in Tsung): idle_timeout
  /// does not apply to it; the plugin's timer ends it with ConnEvent::waited. False (the
  /// default): a request that reaches idle_timeout is an error that ends the user.
  virtual bool is_wait(const RequestSpec& request) { return false; }

  /// The peer closed: true when that completes the pending request (null when none is pending).
  virtual bool on_eof(const RequestSpec* pending, ResponseInfo& info) { return false; }

  /// Bytes received on lane `lane` >= 1 (ConnectionServices::send_on), as on_data for the
  /// connection itself: called again with the unconsumed rest while it consumes something; each
  /// lane has its own stream of bytes. The default: a fatal error (the plugin uses no lane).
  virtual ConnResult on_lane_data(ConnectionServices& services, unsigned lane, const RequestSpec* pending,
                                  std::span<const char> data, ResponseInfo& info) {
    info.error = "lane_data";
    return {data.size(), ConnEvent::fatal};
  }
  /// Lane `lane` >= 1 (or 0, see reopens_lane0) was closed by the peer (`eof`) or failed (its
  /// connect, TLS handshake, a read or a write; a failed connect is also counted as the
  /// connection's, error_connect_<errno>, and max_retries failed connects in a row end the
  /// user): its unsent bytes are dropped, the next send_on connects it again. Returns
  /// what that means for the user (any event; info.error for failed and fatal).
  virtual ConnEvent on_lane_closed(ConnectionServices& services, unsigned lane, const RequestSpec* pending, bool eof,
                                   ResponseInfo& info) {
    info.error = eof ? "lane_closed" : "lane_error";
    return ConnEvent::fatal;
  }
  /// True (a plugin using lanes): once the handshake of on_open is over, the connection's own
  /// socket closed by the peer (or failed) is lane 0 closing: on_lane_closed(0, ...) is called
  /// instead of on_eof or an error, the connection and its other lanes stay, and the next send
  /// (send_on(0), or a request's encoded bytes) connects lane 0 again as a new socket, set up and
  /// bounded as lane 1's. False (the default): the connection closes with its socket.
  virtual bool reopens_lane0() const { return false; }
};

}  // namespace loadctl
