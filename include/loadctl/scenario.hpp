#pragma once
// The typed model of a Tsung-style scenario (tsung-1.0 DTD), as produced by load_scenario().
// Times are in seconds (double) once loaded, whatever unit the file used.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loadctl/dynamics.hpp"
#include "loadctl/protocol.hpp"

namespace loadctl {

/// A <client>: a host that runs agents.
struct ClientSpec {
  std::string host;                     ///< name or IP as written
  std::string hostip;                   ///< address used to reach it (hostip attr or IP host)
  double weight = 1;
  unsigned maxusers = 800;
  unsigned cpu = 1;                     ///< agent processes on this host
  bool use_controller_vm = false;
  std::vector<std::string> source_ips;  ///< <ip> values and expanded <iprange>s, round-robin
  /// Interfaces of <ip scan="true"> (and a batch client's scan_intf): their IPv4 addresses, found
  /// on the agent's host when it starts, join source_ips.
  std::vector<std::string> scan_interfaces;
  int line = 0;
};

/// A <server>.
struct ServerSpec {
  Endpoint endpoint;
  /// "bosh" or "websocket" (types bosh, bosh_ssl, websocket, websocket_ssl, ws, wss) carried
  /// by the session's plugin over endpoint.transport; empty for tcp, ssl, udp.
  std::string carrier;
  double weight = 1;
  int line = 0;
};

/// A custom <oid> of an SNMP monitor, read as {name,"host"}.
struct SnmpOid {
  std::vector<std::uint32_t> oid;
  std::string name;
  std::string type = "sample";  ///< "sample", "counter" (deltas between readings) or "sum" (added up)
  double factor = 1;            ///< eval="fun(X) -> X / N end." (1/N) or X * N (N)
  bool float_result = false;    ///< eval's result is an Erlang float for any X (X / N, X * 2.5)
};

/// A <monitor> (os_mon-like host monitoring).
struct MonitorSpec {
  std::string host;
  std::string type;  ///< "erlang" (loadctl: built-in /proc sampling), "munin" or "snmp"
  std::uint16_t port = 0;          ///< munin: <munin port> (4949); snmp: <snmp port> (161)
  std::string snmp_version = "v1";  ///< <snmp version>: "v1" or "v2" (v2c)
  std::string community = "public";
  std::vector<SnmpOid> oids;
  /// erlang: <mysqladmin port username password>, polled from the controller (mysqladmin status).
  bool mysqladmin = false;
  std::uint16_t mysql_port = 3306;
  std::string mysql_user = "root";
  std::optional<std::string> mysql_password;
};

/// A <session_setup>: a phase's own session probabilities.
struct SessionSetup {
  std::string session;
  double probability = 0;  ///< percent
  int line = 0;
};

/// An <arrivalphase> with its <users>.
struct ArrivalPhase {
  int phase = 0;
  double duration = 0;                   ///< seconds
  double rate = 0;                       ///< users per second (interarrival -> 1/interarrival)
  std::optional<std::uint64_t> maxnumber;
  bool wait_all_sessions_end = false;
  std::vector<SessionSetup> session_setup;  ///< empty: the sessions' own probabilities
  int line = 0;
};

/// A static <user> started at a fixed time.
struct StaticUser {
  double start_time = 0;  ///< seconds from the start of the run
  std::string session;
  int line = 0;
};

struct LoadSpec {
  std::vector<ArrivalPhase> phases;
  std::vector<StaticUser> users;
  std::optional<double> duration;  ///< hard stop, seconds from start
  unsigned loop = 0;               ///< phases are played 1 + loop times
};

/// A <thinktime>, or the global thinktime option.
struct ThinkTime {
  double value = 0;        ///< seconds (mean when random)
  bool random = false;     ///< exponential with mean `value`
  std::optional<double> min, max;  ///< uniform in [min, max] when both set
  std::string value_template;      ///< non-empty when the value is a %%_var%% (issue: dynamics)
  bool wait_global = false;        ///< value="wait_global": a rendezvous of global_number users
};

struct Options {
  std::optional<ThinkTime> thinktime;  ///< global thinktime option (value/random)
  bool thinktime_override = false;     ///< global value replaces every session thinktime
  std::uint64_t global_number = 0;     ///< users a wait_global thinktime releases together
  double global_ack_timeout = -1;      ///< seconds an ack="global" request waits; < 0: no bound (Tsung's infinity)
  double connect_timeout = 0;          ///< seconds, 0 = none
  double idle_timeout = 600;           ///< seconds without any byte received on a pending request
  unsigned max_retries = 3;            ///< connection retries before the user gives up
  double retry_timeout = 0.01;         ///< seconds, base of the retry back-off
  unsigned tcp_rcv_buffer = 0;         ///< bytes, 0 = system default
  unsigned tcp_snd_buffer = 0;
  bool tcp_reuseaddr = false;          ///< SO_REUSEADDR on the users' sockets (Tsung's tcp_reuseaddr)
  std::optional<std::pair<std::uint16_t, std::uint16_t>> ports_range;
  std::optional<std::uint64_t> seed;
  double rate_limit = 0;               ///< bytes/s received per user, 0 = none (file: KB/s)
  double rate_burst = 0;               ///< bytes, 0 = one second of rate_limit
  std::size_t max_frame_size = 16 << 20;   ///< loadctl: largest protocol frame a connection accepts
  std::size_t max_capture_size = 1 << 20;  ///< loadctl: bytes of a response kept for match/dyn_variable
  unsigned udp_rcv_buffer = 0;         ///< bytes, 0 = system default
  unsigned udp_snd_buffer = 0;
  std::string ssl_ciphers;             ///< OpenSSL cipher list ("a:b"); empty = library default
  std::string ssl_version;             ///< "tlsv1.2", "tlsv1.3", ...; empty = negotiate
  bool ssl_reuse_sessions = true;      ///< resume TLS sessions per worker and server
  unsigned ssl_session_lifetime = 600; ///< seconds a TLS session is resumed (command line -L, as Tsung's)
  bool ssl_verify = false;             ///< verify server certificates (loadctl option; Tsung never does)
  CarrierOptions carrier;              ///< bosh_path, websocket_path, websocket_frame, websocket_subprotocols
};

/// <set_option name="certificate"><certificate .../></set_option>: a client certificate (PEM files).
struct TlsCertificate {
  std::string cacertfile, certfile, keyfile, keypass;
  /// Some attribute holds %%_var%%: the fields are templates, substituted for each user when the
  /// set_option runs (as Tsung's ts_client does); paths still relative after that are taken
  /// from `dir`, the scenario's directory. Static paths are resolved at load.
  bool dynamic = false;
  std::string dir;
  bool operator==(const TlsCertificate&) const = default;
};

/// One step of a session, as written. The engine compiles the tree into a flat UserProgram.
struct Action {
  enum class Kind : std::uint8_t { request, thinktime, transaction, for_loop, set_vars, if_block, repeat, abort,
                                   foreach, set_option };
  Kind kind = Kind::request;
  int line = 0;

  std::shared_ptr<const RequestSpec> request;  ///< request
  std::string tag;                             ///< request tag
  std::shared_ptr<const RequestDynamics> dynamics;  ///< request: dyn_variables, matches; may be null

  ThinkTime think;  ///< thinktime

  std::string name;  ///< transaction name, or for-loop variable
  std::int64_t from = 0, to = 0, incr = 1;  ///< for-loop bounds, inclusive
  std::string from_var, to_var;             ///< for-loop bounds given as %%_var%%
  std::vector<Action> body;                 ///< transaction / loop / if / repeat body

  SetDynVars set_vars;         ///< set_vars
  Condition condition;         ///< if_block; repeat (its while/until)
  bool repeat_while = true;    ///< repeat: <while> (else <until>)
  unsigned max_repeat = 20;    ///< repeat
  bool abort_all = false;      ///< abort type="all"
  std::string in;              ///< foreach: the list variable (name is the element variable)
  std::shared_ptr<const Regex> include, exclude;  ///< foreach filters, may be null
  double option_value = 0;     ///< set_option: name is the option; seconds, or bytes/s
  double option_burst = 0;     ///< set_option rate_limit: bytes
  TlsCertificate certificate;  ///< set_option certificate
};

struct Session {
  std::string name;
  std::string type;          ///< "ts_http", "ts_raw", ...
  const Protocol* protocol = nullptr;  ///< the plugin serving `type` (owned by the registry)
  /// The scenario's options of protocol->options_type() (Protocol::parse_options), may be null.
  std::shared_ptr<const ProtocolOptions> protocol_options;
  bool bidi = false;         ///< <session bidi="true"> (connection-level plugins only)
  /// <session persistent>: a server close goes on (true, Tsung's default for every protocol) or
  /// ends the user with error_closed (false)
  bool persistent = true;
  double probability = 0;    ///< percent; weights are normalised to percent at load
  std::vector<Action> actions;
  std::vector<std::string> used_vars;  ///< names read by %%_name%% in substituted requests
  int line = 0;
};

/// <information>: free text describing the test, kept for the report.
struct Information {
  std::string name, description, username, organisation;
};

struct Scenario {
  std::string path;        ///< as given on the command line
  std::string text;        ///< the file's text, shipped to agents verbatim
  std::string loglevel = "notice";
  std::string dumptraffic = "false";
  std::string version;            ///< <tsung version="..."> as written
  std::string backend = "text";   ///< statistics backend; only "text" is implemented
  Information information;
  std::vector<ClientSpec> clients;
  std::vector<ServerSpec> servers;
  std::vector<MonitorSpec> monitors;
  LoadSpec load;
  Options options;
  std::vector<Session> sessions;
  std::vector<DataFile> files;   ///< file_server options, contents read by the controller
  /// Protocol::parse_options() of each option type (a session type) given <option type=".."> elements.
  std::map<std::string, std::shared_ptr<const ProtocolOptions>, std::less<>> protocol_options;

  /// Index of the session named `name`, or -1.
  int session_index(std::string_view name) const;
};

/// Removes the requests whose tag is in `tags` (Tsung's `-x`), at any depth; returns how many.
std::size_t exclude_tagged_requests(Scenario& scenario, const std::vector<std::string>& tags);

/// Loads and validates a scenario file. Throws ScenarioError (file:line:column) on any problem.
Scenario load_scenario(const std::string& path, const ProtocolRegistry& registry = ProtocolRegistry::builtin());
/// Same, from text already read (agents receive the text over the control connection).
/// `files`: file_server contents shipped by the controller, used instead of reading the disk.
Scenario load_scenario_text(const std::string& text, const std::string& name,
                            const ProtocolRegistry& registry = ProtocolRegistry::builtin(),
                            const std::vector<DataFile>* files = nullptr);

}  // namespace loadctl
