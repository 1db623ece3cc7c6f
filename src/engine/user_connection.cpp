// Connection-level plugins (loadctl/connection.hpp): the socket is read for the whole life of
// the connection, also while the user thinks, and every byte goes to the plugin's Connection,
// which says what it means (a response, a pushed message, the end of its handshake, ...).
// Users of request-by-request plugins never enter this file.

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "engine/errno_name.hpp"
#include "engine/socket_io.hpp"
#include "engine/worker.hpp"

namespace loadctl::engine {

/// The user's connection is still the one a completion was started for.
struct ConnRef {
  std::uint32_t generation;
  std::uint64_t serial;
  explicit ConnRef(const User& user) : generation(user.generation), serial(user.conn->serial) {}
  bool alive(const User& user) const {
    return user.generation == generation && user.conn && user.conn->serial == serial;
  }
};

/// The user's lane `i` is still the socket a completion was started for.
struct LaneRef {
  ConnRef conn;
  std::uint64_t serial;
  unsigned i;
  LaneRef(const User& user, unsigned i) : conn(user), serial(user.conn->lanes[i]->serial), i(i) {}
  bool alive(const User& user) const {
    return conn.alive(user) && user.conn->lanes[i] && user.conn->lanes[i]->serial == serial;
  }
};

namespace {

constexpr std::size_t kMaxUnconsumed = 4 * 1024 * 1024;
// A connection keeps at most this much capacity for unconsumed bytes between reads.
constexpr std::size_t kKeptInput = 4 * 1024;
// ConnResult::again without consuming a byte, this many times in a row: the plugin loops (a
// legitimate one has an event per element of what it consumed, far fewer than this).
constexpr std::uint32_t kMaxIdleAgains = 100000;

}  // namespace

/// The engine's services for one call into a Connection, bound to its user.
class ConnServices final : public ConnectionServices {
 public:
  ConnServices(Worker& worker, User& user)
      : worker_(worker), user_(user), vars_(*user.program, user.dyn.get(), user.id) {}

  // The plugin's own bytes (acks, pongs, bidi answers: Tsung's ts_client dumps those too) are
  // dumped here; a request's encoded bytes by send_request.
  void send(std::string_view bytes) override {
    dump_sent(bytes);
    queue(bytes);
  }
  void send_on(unsigned lane, std::string_view bytes) override {
    dump_sent(bytes);
    if (lane == 0) {
      queue(bytes);
    } else if (lane == 1) {
      worker_.stats_.add(worker_.ids_.size_sent, bytes.size());
      worker_.lane_send(user_, 1, bytes);
    } else {
      error("no_lane");
    }
  }

 private:
  void dump_sent(std::string_view bytes) {
    TrafficDump dump = worker_.config_.dumptraffic;
    if (dump == TrafficDump::full || dump == TrafficDump::light) [[unlikely]]
      dump_traffic(dump, "Send", user_.id, bytes);
  }
  void queue(std::string_view bytes) {
    if (user_.conn->main_closed) [[unlikely]] {  // lane 0 reopened as a lane (Connection::reopens_lane0)
      worker_.stats_.add(worker_.ids_.size_sent, bytes.size());
      worker_.lane_send(user_, 0, bytes);
      return;
    }
    user_.conn->out.append(bytes);
    worker_.stats_.add(worker_.ids_.size_sent, bytes.size());
    // Within on_data, replies (acks, pongs) gather and leave together after it (conn_on_read).
    if (!user_.conn->batching) worker_.conn_flush(user_);  // writes or starts a write; never calls back inline
  }
 public:
  void start_tls() override {
    // Replies queued earlier in the same on_data pass go in plain text, before the handshake.
    worker_.conn_flush(user_);
    user_.conn->tls_requested = true;
    boost::system::error_code ignored;
    if (user_.conn->reading) user_.socket.cancel(ignored);  // the aborted read starts the handshake
  }
  void set_timer(double s) override {
    ConnState& c = *user_.conn;
    c.timer.expires_after(seconds(s));
    c.timer.async_wait([w = &worker_, &user = user_, ref = ConnRef(user_)](const boost::system::error_code& ec) {
      if (!ec && ref.alive(user)) w->conn_on_timer(user);
    });
  }
  void cancel_timer() override { user_.conn->timer.cancel(); }
  ConnMetric metric(std::string_view name, ConnMetricKind kind) override {
    return worker_.stats_.intern(name, kind == ConnMetricKind::counter ? MetricKind::counter : MetricKind::sample);
  }
  void count(ConnMetric metric, std::uint64_t n) override { worker_.stats_.add(metric, n); }
  void sample(ConnMetric metric, double ms) override { worker_.stats_.sample(metric, ms); }
  void set_var(std::string_view name, std::string_view value) override {
    std::int32_t id = user_.program->vars.id(name);
    if (user_.dyn && id >= 0) user_.dyn->vars[static_cast<std::size_t>(id)] = std::string(value);
  }
  void error(std::string_view name) override {
    worker_.stats_.add(worker_.error_metric("error_" + std::string(name)));
  }
  const VariableSource* vars() const override { return &vars_; }

 private:
  Worker& worker_;
  User& user_;
  UserVars vars_;
};

// The transport is up: the plugin's object for this connection, and reading starts.
void Worker::open_conn(User& user, int local_fd) {
  auto conn = std::make_unique<ConnState>(ctx_.get_executor());
  // The program's context, with this connection's server (carrier and host for a handshake).
  ConnectionContext context = user.program->connection;
  const Target& target = config_.servers[static_cast<std::size_t>(user.connected_to)];
  context.server_type = target.carrier;
  context.host = target.endpoint.host;
  context.negotiate_tls = user.program->negotiates_tls && target.endpoint.transport == Transport::ssl;
  context.local_fd = local_fd;
  conn->local = local_fd >= 0;
  conn->plugin = user.program->protocol->open_connection(context);
  conn->serial = ++conn_serial_;
  if (!conn->plugin) {
    if (local_fd >= 0) ::close(local_fd);  // not taken
    on_request_failed(user, "error_plugin_no_connection", false);
    return;
  }
  user.conn = std::move(conn);
  boost::system::error_code ignored;
  if (!user.socket.non_blocking()) user.socket.non_blocking(true, ignored);  // conn_read's read_some must not block
  ConnRef ref(user);
  ConnServices services(*this, user);
  bool holds = user.conn->plugin->on_open(services);
  if (!ref.alive(user)) return;
  user.conn->opening = holds;
  // A handshake of the plugin's own that times out or is cut is a failed connect: max_retries
  // of them in a row end the user (a server that accepts and never answers is not retried forever).
  if (!holds) user.connect_attempts = 0;
  conn_read(user);
  if (!holds) send_request(user);  // else the first request waits for ConnEvent::ready
}

void Worker::conn_encode(User& user, const RequestSpec& spec, const EncodeContext& ctx) {
  ConnServices services(*this, user);
  user.conn->plugin->encode(services, spec, ctx, write_buf_);
}

// Tsung's global_ack_timeout: time without a byte received while an ack="global" request waits.
static Clock::time_point global_ack_deadline(const Scenario& scenario) {
  double limit = scenario.options.global_ack_timeout;
  return limit < 0 ? Clock::time_point::max() : Clock::now() + seconds(limit);
}

// send_request for a connection-level user: the bytes join the connection's write queue, and
// the response is already being read.
void Worker::conn_queue_request(User& user) {
  ConnState& c = *user.conn;
  c.out.append(write_buf_);
  conn_flush(user);
  user.state = UserState::awaiting;
  if (current_request(user).global_ack()) [[unlikely]] {
    // Tsung's ack="global": complete when the controller releases the rendezvous; bounded by
    // global_ack_timeout (conn_timeout), not idle_timeout.
    c.global_pc = user.pc;
    // The sweep moves no deadline for bytes of the previous request: only this wait's receipts do.
    if (user.received == User::Received::since_sweep) user.received = User::Received::before_sweep;
    user.deadline = global_ack_deadline(*config_.scenario);
    enter_barrier(user, user.pc);
    return;
  }
  if (!current_request(user).awaits_response()) {
    // Done once its bytes are written, as Tsung's send returns: a user neither queues without
    // bound nor ends (closing the socket) before they left. Awaiting meanwhile, so that a peer
    // closing or a write error ends it as for any request.
    if (c.write_busy || !c.out.empty()) {
      c.noack_waiting = true;
      c.noack_pc = user.pc;
      return;
    }
    asio::post(ctx_, [this, &user, gen = user.generation] {
      if (gen == user.generation) on_sent_without_ack(user);
    });
  }
}

// Plain TCP: writes what the kernel takes now (the socket is non-blocking); returns how much.
// So a write is in flight (write_busy) only while the kernel refuses bytes, and a close (a fatal
// event after a close frame was queued, a session's end) can send what is queued ahead of its
// FIN (close_connection). An error is left to the asynchronous write that follows to report.
std::size_t Worker::conn_write_now(User& user) {
  ConnState& c = *user.conn;
  if (user.tls || c.write_busy || c.out.empty() || c.tls_requested) return 0;
  boost::system::error_code ec;
  std::size_t written = user.socket.write_some(asio::buffer(c.out), ec);
  if (ec) return 0;
  if (written == c.out.size()) c.out.clear();
  return written;
}

void Worker::conn_flush(User& user) {
  ConnState& c = *user.conn;
  if (c.main_closed) [[unlikely]] {  // what a request encoded goes on lane 0's new socket
    if (!c.out.empty()) lane_send(user, 0, c.out);
    c.out.clear();
    return;
  }
  if (c.write_busy || c.out.empty() || c.tls_requested) return;
  std::size_t written = conn_write_now(user);
  if (c.out.empty()) return;
  c.writing.swap(c.out);
  c.out.clear();
  c.write_busy = true;
  auto done = [this, &user, ref = ConnRef(user)](const boost::system::error_code& ec, std::size_t) {
    if (!ref.alive(user) || user.conn->main_closed) return;
    ConnState& c = *user.conn;
    c.write_busy = false;
    c.writing.clear();
    if (ec) {
      if (user.state == UserState::awaiting) on_request_failed(user, "error_send_" + errno_name(ec), false);
      else close_connection(user);
      return;
    }
    if (c.tls_requested) {
      conn_start_tls(user);  // the queue is written once TLS is up
      return;
    }
    conn_flush(user);
    if (c.noack_waiting && !c.write_busy && c.out.empty()) {
      c.noack_waiting = false;
      if (user.state == UserState::awaiting && user.pc == c.noack_pc) on_sent_without_ack(user);
    }
  };
  if (user.tls) asio::async_write(*user.tls, asio::buffer(c.writing), std::move(done));
  else asio::async_write(user.socket, asio::buffer(c.writing) + written, std::move(done));
}

// As Tsung's ts_client, which debits its token bucket only in wait_ack: bytes that come while the
// user thinks, or while a request without response (ack="no_ack") is being written, go through
// parse_bidi unlimited; those of a handshake or of a pending response are limited.
bool Worker::conn_rate_limited(User& user) {
  if (user.state == UserState::connecting) return true;
  if (user.state != UserState::awaiting) return false;
  const RequestSpec& spec = current_request(user);
  return spec.awaits_response() || spec.global_ack();
}

// rate_limit: the connection's sockets (its own and its lanes: one bucket) are not read until
// the bucket is out of debt (Tsung's ts_client sleeps instead), so the server's sends back up
// into the kernel buffers and its window; Wake::conn_read reads them all again.
bool Worker::conn_throttled(User& user) {
  ConnState& c = *user.conn;
  if (c.throttled) return true;
  if (!user.dyn || user.dyn->rate <= 0 || !conn_rate_limited(user)) return false;
  Clock::duration wait = rate_wait(*user.dyn);
  if (wait == Clock::duration::zero()) return false;
  c.throttled = true;
  wake_conn_read_after(user, wait);
  return true;
}

void Worker::conn_read(User& user) {
  ConnState& c = *user.conn;
  if (c.reading || c.main_closed) return;
  if (c.tls_requested) {
    conn_start_tls(user);
    return;
  }
  if (conn_throttled(user)) [[unlikely]] return;
  c.reading = true;
  if (user.tls) {
    // OpenSSL may hold decrypted bytes the socket no longer shows: a TLS read needs its buffer.
    if (!c.buffer) c.buffer = std::make_unique<char[]>(kReceiveBuffer);
    user.tls->async_read_some(asio::buffer(c.buffer.get(), kReceiveBuffer),
                              [this, &user, ref = ConnRef(user)](const boost::system::error_code& ec, std::size_t n) {
                                if (ref.alive(user)) conn_on_read(user, ec, user.conn->buffer.get(), n);
                              });
    return;
  }
  // Plain TCP: wait until the socket is readable, then read into the worker's buffer, so that
  // thousands of idle connections hold no receive buffer each.
  user.socket.async_wait(Socket::wait_read, [this, &user, ref = ConnRef(user)](const boost::system::error_code& ec) {
    if (!ref.alive(user)) return;
    if (ec) {
      conn_on_read(user, ec, nullptr, 0);
      return;
    }
    if (!conn_read_buf_) conn_read_buf_ = std::make_unique<char[]>(kReceiveBuffer);
    boost::system::error_code read_ec;
    std::size_t n = user.socket.read_some(asio::buffer(conn_read_buf_.get(), kReceiveBuffer), read_ec);
    if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) {  // a spurious wake-up
      user.conn->reading = false;
      conn_read(user);
      return;
    }
    conn_on_read(user, read_ec, conn_read_buf_.get(), n);
  });
}

// After a rate_limit wait: the connection's socket and its lanes are read again.
void Worker::conn_read_all(User& user) {
  ConnRef ref(user);
  conn_read(user);  // may end the user (a STARTTLS that cannot start)
  for (unsigned i = 0; ref.alive(user) && i < user.conn->lanes.size(); ++i)  // alive first: user.conn may be gone
    if (user.conn->lanes[i]) lane_read(user, i);
}

void Worker::conn_on_read(User& user, const boost::system::error_code& ec, const char* bytes, std::size_t n) {
  ConnState& c = *user.conn;
  c.reading = false;
  if (ec == asio::error::operation_aborted && c.tls_requested) {
    conn_start_tls(user);
    return;
  }
  if (ec) {
    bool eof = ec == asio::error::eof || (user.tls && ec == asio::ssl::error::stream_truncated);
    if (user.state == UserState::connecting) {  // cut during the plugin's handshake
      close_connection(user);
      on_connected(user, ec);
      return;
    }
    if (c.plugin->reopens_lane0()) [[unlikely]] {
      close_lane0(user, eof);
      return;
    }
    if (eof && !user.program->persistent) {  // Tsung: error_closed, whatever the user was doing
      end_closed(user);
      return;
    }
    const RequestSpec* pending = user.state == UserState::awaiting ? &current_request(user) : nullptr;
    ResponseInfo info;
    bool completes = eof && c.plugin->on_eof(pending, info);
    if (!pending) {
      close_connection(user);  // closed while the user thinks: its next request reconnects
    } else if (completes) {
      info.close = true;
      on_response_complete(user, info);
    } else if (eof && c.global_pc != user.pc) {
      on_request_cut(user, "error_connection_closed");  // persistent: the user goes on
    } else {
      on_request_failed(user, eof ? "error_connection_closed" : "error_recv_" + errno_name(ec), false);
    }
    return;
  }
  if (!c.local) stats_.add(ids_.size_rcv, n);  // a local plugin counts its own (Tsung's datasize)
  conn_received(user, bytes, n);
  if (conn_deliver(user, 0, c.in, bytes, n)) conn_read(user);
}

// Received bytes of any of the connection's sockets: debited from the rate_limit bucket (see
// conn_rate_limited) and dumped (dumptraffic) alike.
void Worker::conn_received(User& user, const char* bytes, std::size_t n) {
  if (user.dyn && conn_rate_limited(user)) user.dyn->tokens -= static_cast<double>(n);
  if (config_.dumptraffic != TrafficDump::none) [[unlikely]] {
    if (config_.dumptraffic == TrafficDump::protocol) {
      if (user.state == UserState::awaiting) user.dyn->response_size += n;
    } else {
      dump_traffic(config_.dumptraffic, "Recv", user.id, {bytes, n});
    }
  }
}

// Nothing left over from the last read (the usual case): the plugin reads the read buffer itself
// (the worker's, or the connection's for TLS), and only a rest it leaves is copied into `in`.
// Nothing below reads into that buffer before this function returns.
bool Worker::conn_deliver(User& user, unsigned lane, std::string& in, const char* bytes, std::size_t n) {
  ConnState& c = *user.conn;
  bool direct = in.empty();
  if (!direct) {
    in.append(bytes, n);
    bytes = in.data();
    n = in.size();
  }
  ConnRef ref(user);
  std::size_t offset = 0;
  c.batching = true;
  bool again = false;
  std::uint32_t idle_agains = 0;  // calls in a row that consumed nothing yet asked for another
  while (offset < n || again) {
    bool awaiting = user.state == UserState::awaiting;
    const RequestSpec* pending = awaiting ? &current_request(user) : nullptr;
    std::span<const char> data(bytes + offset, n - offset);
    ResponseInfo info;
    info.session = &user.session;
    info.host = config_.servers[static_cast<std::size_t>(user.connected_to)].endpoint.host;
    ConnServices services(*this, user);
    ConnResult result = lane == 0 ? c.plugin->on_data(services, pending, data, info)
                                  : c.plugin->on_lane_data(services, lane, pending, data, info);
    if (!ref.alive(user)) return false;
    result.consumed = std::min(result.consumed, data.size());
    // Bytes received while an ack="global" request waits for the release are not its response:
    // they do not go to its captures; they restart global_ack_timeout (not idle_timeout).
    if (awaiting && c.global_pc == user.pc) [[unlikely]] {
      user.deadline = global_ack_deadline(*config_.scenario);
    } else if (awaiting) {
      user.received = User::Received::since_sweep;
      if (user.dyn && user.program->requests[user.program->ops[user.pc - 1].arg].dyn) {
        // The plugin's content (a frame's payload) replaces the raw bytes captured so far.
        std::string_view captured = info.content ? *info.content : std::string_view(data.data(), result.consumed);
        if (info.content) user.dyn->capture.clear();
        if (user.dyn->capture.size() + captured.size() > config_.scenario->options.max_capture_size) {
          on_request_failed(user, "error_response_too_large", false);
          return false;
        }
        user.dyn->capture.append(captured);
      }
    }
    offset += result.consumed;
    conn_event(user, result.event, info);
    if (!ref.alive(user)) return false;  // the connection or the user ended
    again = result.again;
    if (result.consumed == 0 && !again) break;
    idle_agains = result.consumed == 0 ? idle_agains + 1 : 0;
    if (idle_agains >= kMaxIdleAgains) [[unlikely]] {  // a plugin that never stops asking
      stats_.add(error_metric("error_plugin_again_loop"));
      close_connection(user);
      finish_user(user);
      return false;
    }
  }
  c.batching = false;
  conn_flush(user);
  for (unsigned i = 0; i < c.lanes.size(); ++i)
    if (c.lanes[i]) lane_flush(user, i);
  if (direct) in.assign(bytes + offset, n - offset);
  else in.erase(0, offset);
  // An idle connection keeps no receive buffer (the read buffers are the worker's).
  if (in.empty() && in.capacity() > kKeptInput) std::string().swap(in);
  if (in.size() > kMaxUnconsumed) {
    stats_.add(error_metric("error_response_too_large"));
    close_connection(user);
    finish_user(user);
    return false;
  }
  return true;
}

// What the plugin's answer means for the user.
void Worker::conn_event(User& user, ConnEvent event, const ResponseInfo& info) {
  bool awaiting = user.state == UserState::awaiting;
  if (awaiting && user.conn->global_pc == user.pc && event != ConnEvent::none && event != ConnEvent::ready) [[unlikely]] {
    // ack="global": only the controller's release completes the request; a close or a fatal
    // error ends the wait (the rendezvous entry left is skipped at the release).
    if (event == ConnEvent::complete || event == ConnEvent::waited) return;
    if (event == ConnEvent::failed) {
      stats_.add(error_metric(std::string("error_") + (info.error ? info.error : "request")));
      return;
    }
    user.conn->global_pc = 0;
  }
  switch (event) {
    case ConnEvent::none:
      return;
    case ConnEvent::ready:
      if (user.conn->opening) {
        user.conn->opening = false;
        user.connect_attempts = 0;
        send_request(user);
      }
      return;
    case ConnEvent::complete:
      if (awaiting) on_response_complete(user, info);
      return;
    case ConnEvent::failed:
      stats_.add(error_metric(std::string("error_") + (info.error ? info.error : "request")));
      if (!awaiting) return;
      // The failed request is not timed; a page it ended is not either, so the next page's
      // time starts at its own first request.
      if (current_compiled(user).endpage) user.page_start = {};
      user.deadline = Clock::time_point::max();
      user.state = UserState::idle;
      step(user);
      return;
    case ConnEvent::waited:
      if (!awaiting) return;
      // A wait is a thinktime in Tsung (MQTT's and AMQP's waitForMessages): untimed, it neither
      // ends a page (the request before it goes on to the next request's end, mark_prev_req)
      // nor begins one (a page then starts at the next request).
      if (user.page_start == user.request_start) user.page_start = {};
      user.deadline = Clock::time_point::max();
      user.state = UserState::idle;
      step(user);
      return;
    case ConnEvent::fatal:
    case ConnEvent::fatal_counted:
      if (stopping_) return;
      close_connection(user);
      if (event == ConnEvent::fatal)
        stats_.add(error_metric(std::string("error_") + (info.error ? info.error : "protocol")));
      finish_user(user);
      return;
    case ConnEvent::close: {
      ResponseInfo closing = info;
      closing.close = true;
      if (awaiting) {
        on_response_complete(user, closing);
      } else if (user.state == UserState::connecting) {  // during the plugin's handshake: a failed connect
        close_connection(user, false);
        on_connected(user, asio::error::connection_aborted);
      } else {
        close_connection(user);
      }
      return;
    }
  }
}

// STARTTLS: once neither a read nor a write is pending on the plain socket.
void Worker::conn_start_tls(User& user) {
  ConnState& c = *user.conn;
  // A handshake in flight (a lane's rate_limit wake-up reads meanwhile): its end reads again.
  if (c.reading || c.write_busy || c.tls_handshaking) return;
  if (user.tls || config_.tls_contexts.empty()) {
    conn_event(user, ConnEvent::fatal, ResponseInfo{0, false, "starttls"});
    return;
  }
  const Target& target = config_.servers[static_cast<std::size_t>(user.connected_to)];
  std::uint32_t slot = user.dyn ? user.dyn->tls_context : 0;
  bool reuse = config_.scenario->options.ssl_reuse_sessions;
  user.tls = make_tls_stream(user.socket, tls_context(slot), target.endpoint.host, {}, config_.scenario->options.ssl_verify,
                             reuse ? tls_session_slot(slot, user.connected_to) : nullptr);
  c.tls_handshaking = true;
  user.tls->async_handshake(asio::ssl::stream_base::client, [this, &user, ref = ConnRef(user)](const boost::system::error_code& ec) {
    if (!ref.alive(user)) return;
    user.conn->tls_handshaking = false;
    if (ec) {
      conn_event(user, ConnEvent::fatal, ResponseInfo{0, false, "starttls"});
      return;
    }
    user.conn->tls_requested = false;
    ConnServices services(*this, user);
    ConnEvent event = user.conn->plugin->on_tls_ready(services);
    if (!ref.alive(user)) return;
    conn_event(user, event, {});
    if (!ref.alive(user)) return;
    conn_flush(user);
    conn_read(user);
  });
}

void Worker::conn_on_timer(User& user) {
  ConnRef ref(user);
  ConnServices services(*this, user);
  ConnEvent event = user.conn->plugin->on_timer(services);
  if (ref.alive(user)) conn_event(user, event, {});
}

// idle_timeout of a pending request: true when it does not apply, the request being a wait (a
// thinktime in Tsung, ended by the plugin's timer).
bool Worker::conn_timeout(User& user) {
  if (!user.conn || user.state != UserState::awaiting) return false;
  // ack="global": its deadline is global_ack_timeout's, moved at each receipt: reached, it is
  // error_timeout and the user ends (Tsung's wait_ack timeout).
  if (user.conn->global_pc == user.pc) return false;
  if (!user.conn->plugin->is_wait(current_request(user))) return false;
  user.deadline = Clock::time_point::max();
  return true;
}

// Lane 1 (ConnectionServices::send_on): a second socket to the connection's server, connected at
// its first send, with the connection's transport. Only users of a plugin that sends on it get
// one; the connection's own path above does not change for the others.
void Worker::lane_send(User& user, unsigned i, std::string_view bytes) {
  ConnState& c = *user.conn;
  if (!c.lanes[i]) c.lanes[i] = std::make_unique<LaneState>(ctx_.get_executor());
  LaneState& lane = *c.lanes[i];
  lane.out.append(bytes);
  if (lane.connected) {
    lane_flush(user, i);
    return;
  }
  if (lane.serial != 0) return;  // connecting (or waiting to): the queue goes once connected
  lane.serial = ++conn_serial_;
  if (c.lane_failures == 0) {
    lane_connect(user, i);
    return;
  }
  // After a failed connect, as the connection's own retries: retry_timeout doubled each time.
  const Options& options = config_.scenario->options;
  double retry = user.dyn && user.dyn->retry_timeout >= 0 ? user.dyn->retry_timeout : options.retry_timeout;
  double backoff = retry * static_cast<double>(1u << std::min<unsigned>(c.lane_failures - 1u, 10u));
  lane.timer.expires_after(seconds(backoff));
  lane.timer.async_wait([this, &user, i, ref = LaneRef(user, i)](const boost::system::error_code& ec) {
    if (!ec && ref.alive(user)) lane_connect(user, i);
  });
}

// The lane's socket set up as the connection's (Tsung's ts_bosh new_socket: the same source
// address, ports and options), bounded by connect_timeout until its TLS handshake is over.
void Worker::lane_connect(User& user, unsigned i) {
  LaneState& lane = *user.conn->lanes[i];
  lane.deadline = connect_deadline(user, Clock::now());
  const Target& target = config_.servers[static_cast<std::size_t>(user.connected_to)];
  boost::system::error_code ec;
  setup_socket(lane.socket, user.connected_to, true, ec);
  if (ec) {
    asio::post(ctx_, [this, &user, i, ref = LaneRef(user, i), ec] {
      if (ref.alive(user)) lane_connected(user, i, ec);
    });
    return;
  }
  socket_io::async_connect(lane.socket, target.address, [this, &user, i, ref = LaneRef(user, i)](const boost::system::error_code& ec) {
    if (ref.alive(user)) lane_connected(user, i, ec);
  });
}

void Worker::lane_connected(User& user, unsigned i, const boost::system::error_code& ec) {
  LaneState& lane = *user.conn->lanes[i];
  if (ec) {
    lane_connect_failed(user, i, ec);
    return;
  }
  boost::system::error_code ignored;
  if (!lane.socket.non_blocking()) lane.socket.non_blocking(true, ignored);
  const Target& target = config_.servers[static_cast<std::size_t>(user.connected_to)];
  if (target.endpoint.transport == Transport::ssl && !lane.tls) {
    std::uint32_t slot = user.dyn ? user.dyn->tls_context : 0;
    bool reuse = config_.scenario->options.ssl_reuse_sessions;
    lane.tls = make_tls_stream(lane.socket, tls_context(slot), target.endpoint.host, user.program->alpn,
                               config_.scenario->options.ssl_verify,
                               reuse ? tls_session_slot(slot, user.connected_to) : nullptr);
    lane.tls->async_handshake(asio::ssl::stream_base::client,
                              [this, &user, i, ref = LaneRef(user, i)](const boost::system::error_code& ec) {
                                if (ref.alive(user)) lane_connected(user, i, ec);
                              });
    return;
  }
  lane.connected = true;
  lane.deadline = Clock::time_point::max();
  user.conn->lane_failures = 0;
  LaneRef ref(user, i);
  lane_flush(user, i);
  if (ref.alive(user)) lane_read(user, i);
}

// The lane's connect or TLS handshake failed or reached connect_timeout: counted as the
// connection's (error_connect_<errno>, error_connect_timeout); past max_retries failures in a
// row the user ends (error_abort_max_conn_retries), else the plugin is told (lane_failed).
void Worker::lane_connect_failed(User& user, unsigned i, const boost::system::error_code& ec) {
  bool timed_out = Clock::now() >= user.conn->lanes[i]->deadline;
  stats_.add(error_metric(timed_out ? "error_connect_timeout" : "error_connect_" + errno_name(ec)));
  if (++user.conn->lane_failures > config_.scenario->options.max_retries) {
    stats_.add(error_metric("error_abort_max_conn_retries"));
    close_connection(user, false);
    finish_user(user);
    return;
  }
  lane_failed(user, i, false);
}

void Worker::lane_flush(User& user, unsigned i) {
  LaneState& lane = *user.conn->lanes[i];
  if (!lane.connected || lane.write_busy || lane.out.empty()) return;
  lane.writing.swap(lane.out);
  lane.out.clear();
  lane.write_busy = true;
  auto done = [this, &user, i, ref = LaneRef(user, i)](const boost::system::error_code& ec, std::size_t) {
    if (!ref.alive(user)) return;
    LaneState& lane = *user.conn->lanes[i];
    lane.write_busy = false;
    lane.writing.clear();
    if (ec) {
      lane_failed(user, i, false);
      return;
    }
    lane_flush(user, i);
  };
  if (lane.tls) asio::async_write(*lane.tls, asio::buffer(lane.writing), std::move(done));
  else asio::async_write(lane.socket, asio::buffer(lane.writing), std::move(done));
}

void Worker::lane_read(User& user, unsigned i) {
  ConnState& c = *user.conn;
  LaneState& lane = *c.lanes[i];
  if (lane.reading || !lane.connected || conn_throttled(user)) return;
  lane.reading = true;
  if (lane.tls) {
    if (!lane.buffer) lane.buffer = std::make_unique<char[]>(kReceiveBuffer);
    lane.tls->async_read_some(asio::buffer(lane.buffer.get(), kReceiveBuffer),
                              [this, &user, i, ref = LaneRef(user, i)](const boost::system::error_code& ec, std::size_t n) {
                                if (ref.alive(user)) lane_on_read(user, i, ec, user.conn->lanes[i]->buffer.get(), n);
                              });
    return;
  }
  // Plain TCP, as the connection's own socket (conn_read): read into the worker's buffer once
  // readable, so that an idle lane holds no receive buffer.
  lane.socket.async_wait(Socket::wait_read, [this, &user, i, ref = LaneRef(user, i)](const boost::system::error_code& ec) {
    if (!ref.alive(user)) return;
    if (ec) {
      lane_on_read(user, i, ec, nullptr, 0);
      return;
    }
    LaneState& lane = *user.conn->lanes[i];
    if (!conn_read_buf_) conn_read_buf_ = std::make_unique<char[]>(kReceiveBuffer);
    boost::system::error_code read_ec;
    std::size_t n = lane.socket.read_some(asio::buffer(conn_read_buf_.get(), kReceiveBuffer), read_ec);
    if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) {  // a spurious wake-up
      lane.reading = false;
      lane_read(user, i);
      return;
    }
    lane_on_read(user, i, read_ec, conn_read_buf_.get(), n);
  });
}

void Worker::lane_on_read(User& user, unsigned i, const boost::system::error_code& ec, const char* bytes, std::size_t n) {
  LaneState& lane = *user.conn->lanes[i];
  lane.reading = false;
  if (ec) {
    lane_failed(user, i, ec == asio::error::eof || (lane.tls && ec == asio::ssl::error::stream_truncated));
    return;
  }
  stats_.add(ids_.size_rcv, n);
  conn_received(user, bytes, n);
  LaneRef ref(user, i);
  // The bytes stay in their buffer until delivered: nothing reads into it meanwhile.
  if (conn_deliver(user, i, lane.in, bytes, n) && ref.alive(user)) lane_read(user, i);
}

// Connection::reopens_lane0: the connection's own socket closed by the peer (or failed) is
// retired alone, the plugin told as for a lane; its next send goes on a new socket (lane 0 as a
// LaneState), the connection and its other lanes staying.
void Worker::close_lane0(User& user, bool eof) {
  ConnState& c = *user.conn;
  boost::system::error_code ignored;
  user.socket.close(ignored);
  if (user.tls) retire_tls(user, eof);
  c.main_closed = true;
  c.write_busy = false;
  c.out.clear();
  c.writing.clear();
  c.in.clear();
  ConnRef ref(user);
  const RequestSpec* pending = user.state == UserState::awaiting ? &current_request(user) : nullptr;
  ResponseInfo info;
  ConnServices services(*this, user);
  ConnEvent event = c.plugin->on_lane_closed(services, 0, pending, eof, info);
  if (ref.alive(user)) conn_event(user, event, info);
}

// The lane's socket is gone (the peer closed it, or an error): retired, and the plugin told; its
// next send_on connects it again.
void Worker::lane_failed(User& user, unsigned i, bool eof) {
  retire_lane(user, i, eof);
  ConnRef ref(user);
  const RequestSpec* pending = user.state == UserState::awaiting ? &current_request(user) : nullptr;
  ResponseInfo info;
  ConnServices services(*this, user);
  ConnEvent event = user.conn->plugin->on_lane_closed(services, i, pending, eof, info);
  if (ref.alive(user)) conn_event(user, event, info);
}

// As retire_tls: a TLS lane that closed without error is marked shut down, so that OpenSSL keeps
// the session it shares with the connection resumable.
void Worker::retire_lane(User& user, unsigned i, bool clean) {
  std::unique_ptr<LaneState>& lane = user.conn->lanes[i];
  if (!lane) return;
  boost::system::error_code ignored;
  lane->socket.close(ignored);
  lane->timer.cancel();
  if (lane->tls) {
    SSL* ssl = lane->tls->native_handle();
    if (clean && SSL_is_init_finished(ssl)) SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
  retired_lanes_.push_back(std::move(lane));
}

}  // namespace loadctl::engine
