#pragma once
// A Worker is one thread's event loop: it generates its share of arrivals, runs its users as
// small state machines over compiled programs, and records statistics without locks. Events
// happen in this order (file in brackets):
//   run [worker] -> schedule_phase -> on_arrival [worker_arrivals] -> start_user [worker_users]
//   -> step -> begin_request [user_flow] -> connect -> on_connected [user_connect] ->
//   send_request -> await_response -> on_read -> on_response_complete -> think [user_flow] ->
//   finish_user [worker_users];  sweep_timeouts and wake-ups [worker_timers] and drain_stats
//   [worker] on their own timers. The private members below are grouped by file.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "engine/abort_latch.hpp"
#include "engine/arrival_gaps.hpp"
#include "engine/program.hpp"
#include "engine/slot_cache.hpp"
#include "engine/tls.hpp"
#include "engine/wake_queue.hpp"
#include "loadctl/connection.hpp"
#include "engine/user_vars.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/stats.hpp"

namespace loadctl::engine {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

/// <tsung dumptraffic>: none; light and full ("true"): a Send/Recv line per message (light: its
/// first 44 characters); protocol: a line per completed request (RequestSpec::dump_fields).
enum class TrafficDump : std::uint8_t { none, light, full, protocol };
/// Writes a light or full dump's Send/Recv line for `data` (user_dump.cpp).
void dump_traffic(TrafficDump mode, const char* what, std::uint64_t user, std::string_view data);

inline Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}
inline double ms_since(Clock::time_point from, Clock::time_point now) {
  return std::chrono::duration<double, std::milli>(now - from).count();
}

using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<asio::ip::tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;

/// Where a connection goes: a <server>, or the endpoint of an absolute URL.
struct Target {
  Endpoint endpoint;                  ///< as written: host (SNI), port, transport
  asio::ip::tcp::endpoint address;    ///< resolved once at start (a UDP target uses its address too)
  std::string host_header;            ///< "host" or "host:port"
  std::string carrier;                ///< ServerSpec::carrier ("websocket", ...), empty = none
};

/// Immutable data shared by all workers of an agent.
struct RunConfig {
  const Scenario* scenario = nullptr;
  std::vector<UserProgram> programs;
  std::vector<Target> servers;                        ///< the <server>s, then absolute-URL targets
  std::vector<double> server_weights;                 ///< per <server>
  /// TLS client contexts: [0] from the options, then one per distinct client certificate; empty
  /// when no target is TLS.
  std::vector<std::unique_ptr<asio::ssl::context>> tls_contexts;
  std::vector<asio::ip::address> source_ips;          ///< bind addresses, round-robin
  std::uint64_t seed = 0;
  unsigned agent_index = 0;  ///< file_server order="iter": this agent's place among
  unsigned agent_count = 1;  ///< all agents, so each line goes to one agent
  /// Per data file, lines taken by this agent's threads: one relaxed fetch_add per setdynvars,
  /// so threads share the agent's lines however users are spread between them.
  std::atomic<std::uint64_t>* file_next = nullptr;
  /// Tripped by <abort type="all"> or <match do="abort_test">: every worker of the agent stops.
  AbortLatch* abort_test = nullptr;
  /// Set when this agent's <load duration> timer fired before a worker was done (Tsung's
  /// error_abort at its max duration); the agent tells the controller (control::Done).
  std::atomic<bool>* hard_stopped = nullptr;
  /// The agent's running users, and their peak since the last collect: one atomic add per user
  /// start and end (never per request), so the `users` peak is exact across the agent's threads.
  std::atomic<std::int64_t>* users_level = nullptr;
  std::atomic<std::int64_t>* users_peak = nullptr;
  /// thinktime wait_global: users of this agent that reached one since the controller was told.
  std::atomic<std::uint64_t>* barrier_arrivals = nullptr;
  /// wait_all_sessions_end, one gate per agent (Tsung's launcher per client node): per worker,
  /// the plan phases whose arrivals it has finished (UINT32_MAX: it starts no more users); per
  /// phase, when the next one was released (Clock ticks since the start, -1 = not yet). Set once,
  /// so every worker shifts its later phases by the same time. Touched only at phase ends.
  std::atomic<std::uint32_t>* phases_done = nullptr;
  std::atomic<std::int64_t>* phase_released = nullptr;
  unsigned workers = 1;
  TrafficDump dumptraffic = TrafficDump::none;  ///< <tsung dumptraffic> (user_dump.cpp)
  /// A user starting later than this after its scheduled arrival is counted as users_late.
  Clock::duration arrival_lag_limit = std::chrono::milliseconds(100);
};

/// This worker's share of the agent plan.
struct WorkerPlan {
  std::vector<PhaseShare> phases;
  std::vector<StaticUser> static_users;
  std::optional<double> hard_stop;
  std::uint64_t first_user_id = 0;
  std::uint64_t user_id_stride = 1;
  std::uint64_t max_active = 0;  ///< maxusers share: reaching it hands the arrivals over; 0 = none
  unsigned slice = 0, slices = 1;  ///< this worker's interleaved share of ports_range
};

/// Arrivals a worker gave up when it reached its maxusers share: what another agent must run.
struct Handover {
  std::vector<PhaseShare> phases;  ///< the rest of the current phase, then the later ones
};

/// Size of the receive buffers users borrow while a response is pending.
inline constexpr std::size_t kReceiveBuffer = 16 * 1024;
/// Thinktimes from this long (seconds) take a plain TCP connection's descriptor out of asio
/// while they last (Worker::park_connection).
inline constexpr double kParkThink = 1.0;

enum class UserState : std::uint8_t { idle, connecting, sending, awaiting, thinking, done };

/// A connection's second socket (ConnectionServices::send_on lane 1): same server and transport,
/// connected at its first send, read for its whole life. Retired whole (its TLS stream refers to
/// its socket), so that completions still pending find it.
struct LaneState {
  explicit LaneState(Executor ex) : socket(ex), timer(ex) {}
  Socket socket;
  Timer timer;                      ///< the backoff before a connect after a failed one
  std::unique_ptr<TlsStream> tls;
  std::unique_ptr<char[]> buffer;   ///< receive buffer of a TLS lane (a plain one reads the worker's)
  std::string in, out, writing;     ///< unconsumed received bytes, queued bytes, bytes being written
  std::uint64_t serial = 0;         ///< completions of an older socket of the lane are ignored
  /// connect_timeout of its connect and TLS handshake (sweep_timeouts); max once connected
  Clock::time_point deadline = Clock::time_point::max();
  bool connected = false, reading = false, write_busy = false;
};

/// A connection of a connection-level plugin (connection.hpp): read for its whole life.
struct ConnState {
  explicit ConnState(Executor ex) : timer(ex) {}
  std::unique_ptr<Connection> plugin;
  Timer timer;                      ///< ConnectionServices::set_timer
  std::uint64_t serial = 0;         ///< completions of an older connection of the user are ignored
  std::string in;                   ///< received bytes the plugin has not consumed yet
  std::string out, writing;         ///< queued bytes, bytes being written
  std::unique_ptr<char[]> buffer;   ///< receive buffer of a TLS connection, held while connected
  bool reading = false, write_busy = false;
  bool tls_requested = false;       ///< STARTTLS asked: the handshake starts once no read is pending
  bool tls_handshaking = false;     ///< the STARTTLS handshake is in flight (tls_requested until it ends)
  bool opening = false;             ///< the plugin's handshake holds the first request
  bool batching = false;            ///< within on_data: ConnectionServices::send only queues
  bool noack_waiting = false;       ///< a request without response is done when the queue is written
  bool throttled = false;           ///< rate_limit: not read until its Wake::conn_read
  std::uint32_t global_pc = 0;      ///< awaiting the release of the ack="global" request before this pc
  std::uint32_t noack_pc = 0;       ///< ... that request's User::pc
  /// [1]: lane 1, from its first send_on (ConnectionServices); [0]: lane 0's new socket once the
  /// connection's own one closed (main_closed, Connection::reopens_lane0)
  std::array<std::unique_ptr<LaneState>, 2> lanes;
  std::uint8_t lane_failures = 0;   ///< the lanes' failed connects in a row (max_retries)
  bool main_closed = false;         ///< the socket closed, the connection kept (reopens_lane0)
  bool local = false;               ///< <server type="erlang">: the bytes are the plugin's records, no size_rcv
};

struct User {
  User(Executor ex) : socket(ex) {}
  Socket socket;
  const UserProgram* program = nullptr;
  std::uint64_t id = 0;
  std::uint32_t generation = 0;   ///< bumped at every (re)use: stale completions are ignored
  std::uint32_t pc = 0;
  std::int32_t server = -1;       ///< current server index
  std::int32_t connected_to = -1; ///< server the socket is connected to, -1 = none
  UserState state = UserState::idle;
  std::uint8_t connect_attempts = 0;
  std::uint8_t send_retries = 0;  ///< failed writes retried for the user's life (Tsung's retries)
  bool reused = false;            ///< the current request went on an already used connection
  bool stream = false;            ///< its socket is TCP (not UDP): socket_io applies
  /// Response bytes of the current request: none, some before the last sweep, some since it
  /// (the sweep then restarts idle_timeout). One store per read, as a plain flag would cost.
  enum class Received : std::uint8_t { none, before_sweep, since_sweep } received = Received::none;
  std::uint32_t slot = 0;         ///< index in the worker's pool
  std::uint32_t wake_token = 0;   ///< its wake-up in the worker's WakeQueue is live while equal
  /// The kept-alive connection's descriptor while the user thinks long (Worker::park_connection):
  /// out of asio, `socket` closed meanwhile; -1 = none.
  int parked_fd = -1;
  ParserState parser;
  Clock::time_point session_start, page_start, request_start, connect_start, deadline;
  /// Per <for>/<repeat>/<foreach> and per transaction of its program, made at the first user of
  /// the slot whose program has any (Worker::max_loops_ / max_transactions_ entries: any program
  /// fits), then kept for the slot's next users.
  std::unique_ptr<std::int64_t[]> loop_counters;
  std::unique_ptr<Clock::time_point[]> tr_starts;
  std::string pending;            ///< unconsumed response bytes, or unwritten request bytes
  char* buffer = nullptr;         ///< receive buffer, borrowed from the worker while awaiting
  std::unique_ptr<UserDyn> dyn;   ///< variables etc., only for dynamic programs
  std::unique_ptr<TlsStream> tls; ///< over `socket`, only while connected to a TLS target
  std::unique_ptr<ConnState> conn; ///< only while connected, for connection-level plugins
  std::unique_ptr<UserSession> session; ///< the plugin's per-user state (cookies), when it made one
};

/// A worker's users, in blocks of 256 that never move (completions keep references): one
/// allocation per block, where a deque of users this size makes one per user.
class UserPool {
 public:
  User& operator[](std::size_t i) { return blocks_[i / kBlock][i % kBlock]; }
  const User& operator[](std::size_t i) const { return blocks_[i / kBlock][i % kBlock]; }
  std::size_t size() const { return size_; }
  User& emplace_back(Executor ex) {
    if (size_ % kBlock == 0) blocks_.emplace_back().reserve(kBlock);
    ++size_;
    return blocks_.back().emplace_back(ex);
  }

 private:
  static constexpr std::size_t kBlock = 256;
  std::vector<std::vector<User>> blocks_;
  std::size_t size_ = 0;
};

/// The request the user is at (its op was the last one stepped over).
inline const CompiledRequest& current_compiled(const User& user) {
  const UserProgram& p = *user.program;
  return p.requests[p.ops[user.pc - 1].arg];
}
inline const RequestSpec& current_request(const User& user) { return *current_compiled(user).spec; }

class Worker {
 public:
  Worker(unsigned index, const RunConfig& config, WorkerPlan plan);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Runs the event loop on the calling thread until the worker is done or stopped.
  void run(Clock::time_point start);
  /// Thread-safe: stops all users within one sweep period (hard stop, Ctrl-C).
  void stop();
  /// Thread-safe: moves this worker's statistics since the last call into `into`.
  void collect(MetricSet& into);
  /// Thread-safe: arrivals are over and no user is active.
  bool done() const { return done_.load(); }
  /// Thread-safe: the arrivals this worker handed over on reaching max_active, once.
  /// Before run() only (no thread runs the worker yet): the factor its arrivals begin at.
  void set_initial_arrival_factor(double factor) { arrival_factor_ = factor; }
  std::optional<Handover> take_handover();
  /// Thread-safe: the most users this worker ran at once.
  std::uint64_t peak_users() const { return peak_.load(); }
  /// Thread-safe: users currently running.
  std::uint64_t active_users() const { return active_.load(); }
  /// Thread-safe: users waiting at a wait_global thinktime (not yet given a release).
  std::uint64_t barrier_waiting() const { return barrier_waiting_.load(); }
  /// Thread-safe: lets up to `n` users waiting at wait_global go on, first come first; returns
  /// how many it took.
  std::uint64_t release_barrier(std::uint64_t n);
  /// Thread-safe: arrivals from now on at `factor` times the planned rate (0: paused), until
  /// changed again (the controller's steering: `loadctl rate`, pause/resume).
  void set_arrival_factor(double factor);

 private:
  // arrivals (worker_arrivals.cpp), the user pool (worker_users.cpp), timers (worker_timers.cpp)
  void schedule_phase(std::size_t index);
  void end_phase();
  bool phase_gate_open() const;
  void no_more_arrivals();
  Clock::time_point phase_time(double seconds) const;
  bool schedule_next_arrival();
  void skip_missed_arrivals(double rate, Clock::time_point phase_end, const PhaseShare& phase);
  void apply_arrival_factor(double factor);
  void on_arrival();
  std::optional<Clock::time_point> following_expiry(double rate, Clock::time_point phase_end, const PhaseShare& phase);
  void hint_tick(Clock::time_point at);
  void cancel_tick_hints();
  void hand_over();
  void schedule_static_users();
  void start_user(const UserProgram& program);
  User& acquire_user();
  void release_user(User& user);
  void check_done();
  void sweep_timeouts();
  /// Wakes `user` after `delay` to do `what` (the user's previous wake-up, if any, is dropped).
  void wake_after(User& user, Clock::duration delay, Wake what);
  /// Reads the user's connection again after `delay` (Wake::conn_read; other wake-ups stay).
  void wake_conn_read_after(User& user, Clock::duration delay);
  void push_wake(const WakeEntry& entry);
  bool wake_alive(const WakeEntry& entry) const;
  void arm_wake_timer(Clock::time_point at);
  void on_wakes();
  void wake(User& user, Wake what);
  void drain_stats();
  void stop_now();
  void count_cut_off(const User& user);
  const UserProgram& pick_program();
  std::int32_t pick_server();

  // user flow (user_flow.cpp; connect, bind_source, on_connected, on_transport_ready and
  // close_connection: user_connect.cpp; dump_protocol: user_dump.cpp)
  void step(User& user);
  void begin_request(User& user, const RequestSpec& spec, std::int32_t server);
  void connect(User& user);
  void connect_local(User& user);
  bool connect_ended_now(User& user, const Target& target, boost::system::error_code& ec);
  Clock::time_point connect_deadline(const User& user, Clock::time_point start) const;
  void setup_socket(Socket& socket, std::int32_t server, bool tcp, boost::system::error_code& ec);
  void bind_source(Socket& socket, std::int32_t server, boost::system::error_code& ec);
  void on_connected(User& user, const boost::system::error_code& ec);
  void on_transport_ready(User& user, int local_fd = -1);
  void send_request(User& user);
  void on_writable(User& user, const boost::system::error_code& ec);
  void await_response(User& user);
  void on_read(User& user, const boost::system::error_code& ec, std::size_t n);
  char* acquire_buffer();  ///< nullptr when no pages can be mapped (await_response fails the request)
  void release_buffer(User& user);
  void trim_buffers();
  bool consume(User& user, std::string_view data);
  void on_response_complete(User& user, const ResponseInfo& info);
  void after_send(User& user);
  void on_sent_without_ack(User& user);
  void on_request_failed(User& user, std::string_view error, bool retry_on_fresh_connection);
  /// The server closed while the response was awaited (persistent sessions): the user goes on.
  void on_request_cut(User& user, std::string_view error);
  /// A write failed: resent after retry_timeout (persistent sessions), else the user ends.
  void on_send_failed(User& user, std::string_view error);
  /// Tsung's non-persistent session: a connection the server closed ends the user (error_closed).
  void end_closed(User& user);
  void think(User& user, const ThinkTime& think);
  void wait_global(User& user);
  void enter_barrier(User& user, std::uint32_t pc);
  void restart_request(User& user);
  void end_page(User& user, Clock::time_point now);
  /// `clean`: not cut by an error or a timeout, so that its TLS session stays resumable.
  void close_connection(User& user, bool clean = true);
  /// A thinktime of at least kParkThink on a plain TCP connection: its descriptor leaves asio
  /// while the user thinks (two epoll_ctl calls, 170 bytes less per idle user); unpark_connection
  /// brings it back before the next request.
  void park_connection(User& user, double think_seconds);
  void unpark_connection(User& user);
  void finish_user(User& user, bool cut_off = false);
  static Clock::time_point after_gap(Clock::time_point from, double gap, Clock::time_point limit);
  double think_seconds(const ThinkTime& think);

  // transports (user_transport.cpp): chosen once per connection; plain TCP never goes here
  void open_udp(User& user, boost::system::error_code& ec);
  void start_tls(User& user);
  void send_tls(User& user);
  void read_tls(User& user);
  void retire_tls(User& user, bool clean);
  void free_retired_tls();
  /// TLS context slots: [0, RunConfig::tls_contexts.size()) are the run's, the next ones this
  /// worker's, one per distinct dynamic certificate (dynamic_tls_context).
  asio::ssl::context& tls_context(std::uint32_t slot);
  /// Where the session to resume for (context slot, target) lives: sessions are resumed per
  /// client certificate and server, never across certificates.
  SSL_SESSION** tls_session_slot(std::uint32_t slot, std::int32_t server);
  /// A dynamic certificate rendered for `user`: its context slot, made on first use; nullopt
  /// when OpenSSL refused its files (logged once per distinct certificate).
  std::optional<std::uint32_t> dynamic_tls_context(User& user, const SessionOption& option);
  void warn_certificate(const User& user, std::string_view error);

  // connection-level plugins (user_connection.cpp)
  friend class ConnServices;
  void open_conn(User& user, int local_fd = -1);
  void conn_encode(User& user, const RequestSpec& spec, const EncodeContext& ctx);
  void conn_queue_request(User& user);
  void conn_flush(User& user);
  std::size_t conn_write_now(User& user);
  void conn_read(User& user);
  bool conn_rate_limited(User& user);
  /// rate_limit: true when the connection's sockets must wait for tokens (a wake-up reads them).
  bool conn_throttled(User& user);
  void conn_read_all(User& user);
  void conn_on_read(User& user, const boost::system::error_code& ec, const char* data, std::size_t n);
  void conn_event(User& user, ConnEvent event, const ResponseInfo& info);
  void conn_start_tls(User& user);
  void conn_on_timer(User& user);
  /// Hands received bytes of lane `lane` to the plugin (on_data or on_lane_data) and acts on
  /// its events; `in` is the lane's unconsumed rest. False when the connection or user ended.
  bool conn_deliver(User& user, unsigned lane, std::string& in, const char* bytes, std::size_t n);
  void close_lane0(User& user, bool eof);
  void lane_send(User& user, unsigned i, std::string_view bytes);
  void lane_connect(User& user, unsigned i);
  void lane_connected(User& user, unsigned i, const boost::system::error_code& ec);
  void lane_connect_failed(User& user, unsigned i, const boost::system::error_code& ec);
  void lane_flush(User& user, unsigned i);
  void lane_read(User& user, unsigned i);
  void lane_on_read(User& user, unsigned i, const boost::system::error_code& ec, const char* bytes, std::size_t n);
  /// Bytes received on any socket of the connection: rate_limit's bucket, dumptraffic.
  void conn_received(User& user, const char* bytes, std::size_t n);
  void lane_failed(User& user, unsigned i, bool eof);
  void retire_lane(User& user, unsigned i, bool clean);
  bool conn_timeout(User& user);

  // dynamics (user_dynamics.cpp)
  void init_dynamics(User& user);
  void set_vars(User& user, std::uint32_t index);
  void set_repeat_counters(User& user, std::uint32_t index);
  bool condition_holds(const User& user, std::uint32_t index) const;
  /// match do="dump": the response shipped to the controller, which writes it to a file.
  void dump_response(const User& user, std::string_view response);
  /// The value a condition compares (var="list[N]": the list's element); nullptr when unset.
  static const std::string* condition_value(const User& user, const CompiledCondition& c);
  bool repeat_goes_on(User& user, const Op& op);
  bool foreach_advance(User& user, std::uint32_t index);
  /// False when the option ended the user (a dynamic certificate that cannot be loaded).
  bool set_option(User& user, std::uint32_t index);
  void set_loop_var(User& user, std::uint32_t slot);
  /// A <for> bound: `fixed`, or the integer in variable `id` (-2: tsung_userid).
  std::int64_t loop_bound(const User& user, std::int32_t id, std::int64_t fixed) {
    return id == -1 ? fixed : var_integer(user, id);
  }
  std::int64_t var_integer(const User& user, std::int32_t id);
  /// Extracts dyn_variables and runs matches; false when a match took over the user's flow.
  bool after_response(User& user);
  bool run_match(User& user, const MatchSpec& match, std::string_view response);
  /// dumptraffic="protocol": runs after_response and writes the request's dump line.
  bool dump_protocol(User& user, const ResponseInfo& info, std::int32_t server, double elapsed_ms);
  void abort_session(User& user, std::string_view metric);
  /// The whole test: `cause` names what aborted it (for the controller's message).
  void abort_test(std::string cause);
  /// rate_limit: true when the next read must wait for tokens (a timer then reads).
  bool throttle(User& user);
  /// rate_limit: refills the bucket; how long the next read must wait (zero: read now).
  Clock::duration rate_wait(UserDyn& dyn);
  void settle_rate(UserDyn& dyn);
  void set_rate(UserDyn& dyn, double rate, double burst);
  void restart_session(User& user);
  const std::string& next_line(const SetDynVars& s);
  double think_var_seconds(const User& user, std::uint32_t think) const;

  // statistics (worker_metrics.cpp)
  void intern_metrics();
  MetricId status_metric(std::uint16_t code);
  MetricId error_metric(std::string_view name);

  unsigned index_;
  const RunConfig& config_;
  WorkerPlan plan_;
  asio::io_context ctx_;
  Timer arrival_timer_;
  /// Ticks arrival_timer_ is expected to wait for after its current wait (worker_arrivals.cpp:
  /// hint_tick). Their waits do nothing: a wrong guess costs a timer setting, never an arrival.
  std::array<Timer, 2> tick_hints_;
  Timer sweep_timer_;
  Timer stats_timer_;
  Timer hard_stop_timer_;
  Timer wake_timer_;                ///< due at the earliest of wakes_
  Clock::time_point wake_timer_at_ = Clock::time_point::max();
  WakeQueue wakes_;
  /// dumptraffic="protocol": Tsung's last_match, the counter of the last match recorded (log,
  /// dump, restart, abort) while running the matches of the response being dumped.
  const char* dump_match_ = "";
  std::vector<Timer> static_timers_;
  Clock::time_point start_;
  Clock::time_point running_since_;  ///< when run() began: a late agent catches up from here
  std::mt19937_64 rng_;

  UserPool users_;
  std::size_t max_loops_ = 0, max_transactions_ = 0;  ///< over config_.programs: User::loop_counters, tr_starts
  std::vector<std::uint32_t> free_users_;
  std::size_t phase_ = 0;
  Clock::time_point next_arrival_;
  ArrivalGaps arrival_gaps_;  ///< the current phase's next gaps between arrivals, drawn ahead
  Clock::time_point wake_time_ = Clock::time_point::min();  ///< in on_arrival: arrivals due by then start
  std::uint64_t phase_started_ = 0;
  /// How long later phases start than planned: wait_all_sessions_end waited that long.
  Clock::duration phase_shift_{};
  std::vector<bool> phase_waits_;  ///< per plan phase: its arrivalphase has wait_all_sessions_end
  std::uint64_t next_user_id_;
  bool arrivals_over_ = false;
  double arrival_factor_ = 1;  ///< steering: multiplies every phase's rate (0: paused)
  std::size_t static_pending_ = 0;
  bool stopping_ = false;
  std::size_t source_ip_next_ = 0;
  std::uint32_t port_next_ = 0;  ///< cursor in this worker's slice of ports_range
  bool ports_exhausted_logged_ = false;  ///< the slice of ports_range had no free port once
  std::atomic<bool> done_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::uint64_t> active_{0};
  std::atomic<std::uint64_t> barrier_waiting_{0};  ///< waiting users not yet claimed by a release
  /// A user at the rendezvous: at a wait_global thinktime (pc 0), or awaiting the ack="global"
  /// request before `pc`.
  struct BarrierEntry {
    std::uint32_t slot, generation, pc;
  };
  std::deque<BarrierEntry> barrier_;  ///< in arrival order
  std::atomic<std::uint64_t> peak_{0};

  std::vector<double> program_cdf_;
  std::vector<std::vector<double>> phase_program_cdf_;  ///< per plan phase; empty = program_cdf_
  std::vector<double> server_cdf_;

  std::uint64_t conn_serial_ = 0;
  /// Per target (config_.servers): connects left to wait for without asking first whether they
  /// have ended (connect_ended_now), and how many the next miss makes it.
  struct ConnectCheck {
    std::uint16_t skip = 0, backoff = 0;
  };
  std::vector<ConnectCheck> connect_checks_;
  /// Per TLS context slot (tls_context), per target: the session to resume, or null. An inner
  /// vector is sized once (OpenSSL keeps pointers to its elements), on the slot's first use.
  std::vector<std::vector<SSL_SESSION*>> tls_sessions_;
  std::vector<std::unique_ptr<asio::ssl::context>> dyn_tls_contexts_;  ///< slots after the run's
  /// Dynamic certificates seen: their four fields, '\0'-separated -> index in dyn_tls_contexts_
  /// (or refused); bounded (slot_cache.hpp): unused certificates are unloaded past that many.
  SlotCache dyn_tls_slots_{1024};
  Clock::time_point certificate_warned_{};  ///< refused dynamic certificates: one warning a second
  std::uint64_t certificate_unwarned_ = 0;  ///< ... and how many went unlogged since
  /// TLS streams of closed connections, freed two sweeps later: aborted operations still
  /// reference them until their completions have run.
  std::vector<std::unique_ptr<TlsStream>> retired_tls_, retiring_tls_;
  std::vector<std::unique_ptr<LaneState>> retired_lanes_, retiring_lanes_;  ///< as the TLS streams

  std::string write_buf_;
  /// A pooled receive buffer: kReceiveBuffer bytes of pages of its own (mmap), so that a trim
  /// gives them back to the system at once (a freed heap block between others stays resident).
  struct PagesDeleter {
    void operator()(char* pages) const;
  };
  std::vector<std::unique_ptr<char, PagesDeleter>> free_buffers_;  ///< receive buffers not lent to a user
  /// The fewest free_buffers_ since the last trim: that many were not needed meanwhile
  /// (trim_buffers from the sweep: every 10 s, or after a burst once 32 or more stayed unused
  /// for 3 s; buffer_trim_due).
  std::size_t free_buffers_low_ = 0;
  unsigned sweeps_since_trim_ = 0;
  /// Where plain-TCP connection-level sockets are read once readable (conn_read): an idle
  /// connection holds no receive buffer of its own.
  std::unique_ptr<char[]> conn_read_buf_;

  MetricSet stats_;
  std::mutex outbox_mutex_;
  std::optional<Handover> handover_;  ///< guarded by outbox_mutex_
  MetricSet outbox_;
  struct Ids {
    MetricId users_count, finish_users_count, connected, connect, request, page, session,
        size_rcv, size_sent, request_noack;
  } ids_;
  std::vector<MetricId> status_ids_;  ///< by status code, 0 = not interned yet
  std::vector<std::pair<std::string, MetricId>> error_ids_;
  std::vector<std::vector<MetricId>> tr_ids_;  ///< per program, per transaction slot
};

}  // namespace loadctl::engine
