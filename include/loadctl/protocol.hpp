#pragma once
// The protocol plugin interface. A plugin parses its XML request element once at load time into
// an immutable RequestSpec shared by every user; at run time the engine asks the spec to encode
// the request bytes and to parse the response incrementally. The engine owns sockets, timers,
// buffers and statistics; a plugin never does I/O. Transport (tcp, ssl, udp) is chosen by the
// engine from the server (or the request's endpoint()), once per connection.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <pugixml.hpp>

#include "loadctl/template.hpp"

namespace loadctl {

enum class Transport : std::uint8_t { tcp, ssl, udp };

class Connection;  // connection.hpp: per-connection state of a stateful protocol
struct DataFile;  // dynamics.hpp: an <option name="file_server"> and its lines
class DynExtractor;  // dynamics.hpp: a protocol's own dyn_variable expression

/// Where requests go: a server element, or an absolute URL in a request.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  Transport transport = Transport::tcp;
  bool ipv6 = false;  ///< tcp6/ssl6/udp6: resolve the host to an IPv6 address

  bool operator==(const Endpoint&) const = default;
};

/// Per-user protocol state that outlives connections (Tsung's per-session plugin record, e.g.
/// HTTP cookies). A plugin creates it the first time it has something to keep (from a
/// response, through ResponseInfo::session), so users that never need one pay nothing; the
/// engine owns it, offers it to every encode and parse of that user and frees it when the user
/// ends. A plugin recognises its own with dynamic_cast.
class UserSession {
 public:
  virtual ~UserSession() = default;
};

/// Scenario-wide settings of one protocol: the `<option type="ts_amqp" name=".." value=".."/>`
/// elements naming its session type, parsed once by the plugin (Protocol::parse_options).
/// Immutable after load, shared by every request, connection and thread; a plugin recognises
/// its own with dynamic_cast (or static_cast: it only ever gets the ones it made).
class ProtocolOptions {
 public:
  virtual ~ProtocolOptions() = default;
};

/// Tsung's options for the server types a plugin carries itself (proto_opts: `<option
/// name="websocket_path" value="/chat"/>`, ...), with Tsung's defaults.
struct CarrierOptions {
  std::string bosh_path = "/http-bind/";
  std::string websocket_path = "/chat";
  bool websocket_text = false;          ///< websocket_frame="text" (default binary)
  std::string websocket_subprotocols;   ///< Sec-WebSocket-Protocol, empty = none
};

/// What a connection-level plugin gets with each new connection (Protocol::open_connection).
struct ConnectionContext {
  const ProtocolOptions* options = nullptr;  ///< Protocol::parse_options() of the scenario, may be null
  /// loadctl's `<option name="max_frame_size" value="bytes"/>`: a protocol frame announcing more
  /// is an error (counted, the connection closed), never an allocation.
  std::size_t max_frame_size = 16 << 20;
  /// <session bidi="true">: the server may send on its own and the plugin answers it (Tsung's
  /// bidi sessions, e.g. XMPP subscription requests answered automatically).
  bool bidi = false;
  /// This agent's place among the run's agents, 0-based, and their number: for state a plugin
  /// keeps per process that must not overlap between agents (e.g. slices of a pool of user ids).
  unsigned agent_index = 0;
  unsigned agent_count = 1;
  /// The connection's `<server type>` when the plugin carries it itself over tcp or ssl (one of
  /// Protocol::server_types(), e.g. "websocket" for websocket, websocket_ssl, ws and wss);
  /// empty for tcp, ssl and udp servers.
  std::string_view server_type;
  std::string_view host;                       ///< the server's host, as written (Host headers)
  /// `<server type="ssl">` for a plugin that negotiates_tls(): the transport is still plain, the
  /// connection must negotiate TLS and upgrade (ConnectionServices::start_tls) before its login.
  bool negotiate_tls = false;
  const CarrierOptions* carrier = nullptr;     ///< the scenario's carrier options, may be null
  /// server_type "erlang" (Tsung's ts_erlang: no server, the requests run on the agent host): a
  /// stream socket the connection owns (and closes) whose bytes are the engine's response bytes:
  /// the plugin does a request's work (encode writes nothing) and writes its own record of the
  /// result here, which on_data then reads. -1 otherwise. The engine counts no size_rcv for them.
  int local_fd = -1;
};

/// Per-user context for encoding one request.
struct EncodeContext {
  const VariableSource* vars = nullptr;  ///< substitution source, null when none
  std::string_view host_header;          ///< "host" or "host:port" of the current server
  std::uint64_t user_id = 0;             ///< the user's id (tsung_userid): for choices fixed per user
  unsigned* missing_vars = nullptr;      ///< incremented per unset %%_var%%
  UserSession* session = nullptr;        ///< the user's protocol state, null until a plugin made one
  Transport transport = Transport::tcp;  ///< of the connection the request goes on
};

enum class ParseStatus : std::uint8_t { need_more, complete, error };

struct ParseResult {
  ParseStatus status;
  std::size_t consumed;  ///< bytes of the input consumed; the rest is offered again with more data
};

/// What the engine learns from a response.
struct ResponseInfo {
  std::uint16_t status_code = 0;  ///< protocol status, counted as a metric ("200") when non-zero
  bool close = false;             ///< the connection must not be reused after this response
  const char* error = nullptr;    ///< short reason on ParseStatus::error, e.g. "bad_status_line"
  /// In: the user's protocol-state slot (see UserSession), which the parser may fill or change;
  /// null when the caller keeps none (tests, tools).
  std::unique_ptr<UserSession>* session = nullptr;
  std::string_view host;          ///< in: the host the response comes from (as in the server/URL)
  /// Out, connection-level plugins (Connection::on_data): the response's content as
  /// dyn_variables and matches see it, e.g. a message's payload without its frame header or
  /// reassembled from fragments. It replaces the bytes consumed so far for the pending request
  /// (set it to an empty view to drop them, e.g. for a ping received meanwhile). It may point
  /// into on_data's `data` or into the plugin's own storage, which must stay valid until the
  /// engine's next call into the plugin: the engine copies it as soon as on_data returns,
  /// before any other call (into this Connection or another). Unset: they see the bytes on_data
  /// consumed while the request was pending.
  std::optional<std::string_view> content;
};

/// Room for a plugin's response-parser state. The engine zero-fills it before each request, so a
/// plugin's state type must be trivially copyable and valid when all bytes are zero.
struct alignas(8) ParserState {
  std::byte bytes[48];

  void reset() { std::memset(bytes, 0, sizeof bytes); }
  template <class T>
  T& as() {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(bytes) &&
                  alignof(T) <= 8);
    return *std::launder(reinterpret_cast<T*>(bytes));
  }
};

/// A request's own fields in Tsung's dumptraffic="protocol" line of tsung.dump (Tsung's ts_http
/// dump/2: the method and the URL as sent).
struct DumpFields {
  std::string method;
  std::string target;
};

/// One request element of a session, immutable after load and shared by all users and threads.
class RequestSpec {
 public:
  virtual ~RequestSpec() = default;

  /// Appends this request's bytes to `out`.
  virtual void encode(const EncodeContext& ctx, std::string& out) const = 0;

  /// False for fire-and-forget requests: complete as soon as the bytes are written.
  virtual bool awaits_response() const { return true; }
  /// Tsung's ack="global" (connection-level plugins): once sent, the request waits until
  /// global_number users of the run reached such a request or a wait_global thinktime (the
  /// controller's rendezvous); it is then complete, timed from its send. Until then what the
  /// connection receives is not its answer; global_ack_timeout bounds the wait, not idle_timeout.
  virtual bool global_ack() const { return false; }

  /// Consumes response bytes. Bytes not consumed are offered again, with more appended.
  virtual ParseResult parse_response(ParserState& state, std::span<const char> data,
                                     ResponseInfo& info) const = 0;

  /// The peer closed while this response was pending: true when that completes the response
  /// (e.g. an HTTP body delimited by connection close), false when it is an error.
  virtual bool complete_on_eof(ParserState& state, ResponseInfo& info) const { return false; }

  /// dumptraffic="protocol": fills this request's fields of the per-request dump line, as sent
  /// (ctx.vars are the user's variables), and returns true; false (the default) when the protocol
  /// writes no such line (in Tsung 1.7.0, ts_http is the only one that does).
  virtual bool dump_fields(const EncodeContext& ctx, DumpFields& out) const { return false; }

  /// An endpoint that overrides the session's server (an absolute URL); null when none.
  virtual const Endpoint* endpoint() const { return nullptr; }

  /// The variables this request sets from its response (ConnectionServices::set_var, e.g.
  /// ts_ldap's result_var): the loader counts them as defined for the <if>, <for>, <foreach>
  /// that follow it. None by default.
  virtual std::span<const std::string> sets_variables() const { return {}; }

  /// A short text for logs and errors, e.g. "GET /index.html".
  virtual std::string describe() const = 0;
};

/// What a plugin gets when parsing a request element.
struct RequestParseContext {
  bool subst = false;          ///< <request subst="true|all_except_body">
  bool subst_body = false;     ///< false for subst="all_except_body"
  std::string scenario_dir;    ///< for relative paths (contents_from_file)
  /// This protocol's options (Protocol::parse_options, parsed before any session), may be null.
  const ProtocolOptions* options = nullptr;
};

class Protocol {
 public:
  virtual ~Protocol() = default;
  /// The element under <request> this plugin parses, e.g. "http".
  virtual std::string_view element() const = 0;
  /// The session type attribute it serves, e.g. "ts_http".
  virtual std::string_view session_type() const = 0;
  /// Parses one request element; throws ScenarioError (fail_at/unsupported_at) on bad input.
  virtual std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element,
                                                           const RequestParseContext& ctx) const = 0;
  /// The ALPN protocol offered on TLS connections of this plugin's sessions ("http/1.1"), or
  /// empty for none.
  virtual std::string_view alpn() const { return {}; }
  /// True when open_connection() gives each connection a Connection object (connection.hpp);
  /// such sessions may be bidi="true". False (the default): request by request, as above.
  virtual bool connection_level() const { return false; }
  /// True when its sessions may be bidi="true" (the connection acts on what the server sends
  /// while the user thinks). Default: connection_level(); a connection-level plugin that never
  /// reads ConnectionContext::bidi says false, and bidi="true" is refused at load.
  virtual bool supports_bidi() const { return connection_level(); }
  /// True when its sessions may use <server type="udp|udp6"> (each request one datagram).
  /// Default true; a plugin whose protocol needs a stream (a handshake, packets across reads)
  /// says false, and such a session is refused at load.
  virtual bool supports_udp() const { return true; }
  /// True when every request of its sessions is a page of its own (Tsung's ts_config_mqtt and
  /// most non-HTTP protocols set endpage = true on each request); false: Tsung's HTTP rule, a
  /// page ends at a request not followed by another request.
  virtual bool request_is_page() const { return false; }
  /// Server types other than tcp, ssl and udp that this plugin's connections carry themselves
  /// over tcp (ssl for the `_ssl` and `wss` variants), as Tsung's transports do: "bosh",
  /// "websocket" (connection_level() only). The connection gets it in ConnectionContext;
  /// a session whose plugin does not list a scenario's server type is refused at load.
  /// "erlang" (Tsung's ts_erlang, ts_fs and ts_shell) is no network at all: the engine gives
  /// the connection ConnectionContext::local_fd; a plugin listing it runs only on such servers.
  virtual std::span<const std::string_view> server_types() const { return {}; }
  /// True when the protocol negotiates TLS itself in the clear before upgrading (PostgreSQL's
  /// SSLRequest, MySQL's CLIENT_SSL): for `<server type="ssl">` the engine connects without TLS
  /// and the connection (ConnectionContext::negotiate_tls) upgrades with start_tls().
  /// connection_level() plugins only; their lanes (send_on) would still start with TLS.
  virtual bool negotiates_tls() const { return false; }
  /// The <dyn_variable> attribute naming an expression of this protocol's own (Tsung's
  /// "pgsql_expr"), or empty; the loader refuses it in other protocols' sessions.
  virtual std::string_view dyn_variable_attribute() const { return {}; }
  /// Compiles such an expression; throws std::invalid_argument (shown at the attribute).
  virtual std::shared_ptr<const DynExtractor> parse_dyn_variable(std::string_view expr) const { return nullptr; }
  /// A new per-connection object, called once the transport is up (connection_level() only).
  virtual std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const;
  /// The `type` of the options this plugin's sessions read: session_type(), or the type of a
  /// protocol it extends (ts_webdav sessions read ts_http's options, as in Tsung).
  virtual std::string_view options_type() const { return session_type(); }
  /// Parses the scenario's `<option type="<session_type()>" .../>` elements (all of them at once,
  /// in document order) into the settings its requests and connections read. Called once per
  /// scenario for each option type its sessions use, with an empty list when the scenario gives
  /// none (the plugin's defaults, fresh for every scenario). Throws ScenarioError naming the
  /// element on an unknown name or a bad value. The default accepts no option ("not supported
  /// yet") and returns null.
  virtual std::shared_ptr<const ProtocolOptions> parse_options(std::span<const pugi::xml_node> options) const;
  /// The same, with the scenario's file_server files (all of them, wherever they appear among
  /// the options), for options naming one by id (ts_jabber's random_from_fileid). The loader
  /// calls this one; the default calls parse_options(options).
  virtual std::shared_ptr<const ProtocolOptions> parse_options_with_files(std::span<const pugi::xml_node> options,
                                                                          const std::vector<DataFile>& files) const {
    return parse_options(options);
  }
};

class ProtocolRegistry {
 public:
  void add(std::unique_ptr<Protocol> protocol);
  /// The first protocol parsing `element` (several session types may share one).
  const Protocol* by_element(std::string_view element) const;
  const Protocol* by_session_type(std::string_view type) const;
  const std::vector<std::unique_ptr<Protocol>>& all() const { return protocols_; }

  /// The registry of every built-in plugin (plugins/<name>/), created on first use.
  static const ProtocolRegistry& builtin();

 private:
  std::vector<std::unique_ptr<Protocol>> protocols_;
};

/// Defined in the generated builtin_plugins.cpp.
void register_builtin_protocols(ProtocolRegistry& registry);

/// The agent's trust rule for requests that run commands on its host (ts_shell; docs/security.md):
/// true only when loadagent was started with --allow-shell (the controller adds it to agents it
/// starts itself, locally or over ssh; a listening agent has it only from its operator).
/// Set once by loadagent's main, before any run.
bool shell_allowed();
void set_shell_allowed(bool allowed);

}  // namespace loadctl
