// Connection-level plugins (loadctl/connection.hpp): the socket is read for the whole life of
// the connection, also while the user thinks, and every byte goes to the plugin's Connection,
// which says what it means (a response, a pushed message, the end of its handshake, ...).
// Users of request-by-request plugins never enter this file.

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "engine/errno_name.hpp"
#include "engine/worker.hpp"

namespace loadctl::engine {

namespace {

constexpr std::size_t kMaxUnconsumed = 4 * 1024 * 1024;
// A connection keeps at most this much capacity for unconsumed bytes between reads.
constexpr std::size_t kKeptInput = 4 * 1024;

/// The user's connection is still the one a completion was started for.
struct ConnRef {
  std::uint32_t generation;
  std::uint64_t serial;
  explicit ConnRef(const User& user) : generation(user.generation), serial(user.conn->serial) {}
  bool alive(const User& user) const {
    return user.generation == generation && user.conn && user.conn->serial == serial;
  }
};

}  // namespace

/// The engine's services for one call into a Connection, bound to its user.
class ConnServices final : public ConnectionServices {
 public:
  ConnServices(Worker& worker, User& user)
      : worker_(worker), user_(user), vars_(*user.program, user.dyn.get(), user.id) {}

  void send(std::string_view bytes) override {
    user_.conn->out.append(bytes);
    worker_.stats_.add(worker_.ids_.size_sent, bytes.size());
    // Within on_data, replies (acks, pongs) gather and leave together after it (conn_on_read).
    if (!user_.conn->batching) worker_.conn_flush(user_);  // writes or starts a write; never calls back inline
  }
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
void Worker::open_conn(User& user) {
  auto conn = std::make_unique<ConnState>(ctx_.get_executor());
  // The program's context, with this connection's server (carrier and host for a handshake).
  ConnectionContext context = user.program->connection;
  const Target& target = config_.servers[static_cast<std::size_t>(user.connected_to)];
  context.server_type = target.carrier;
  context.host = target.endpoint.host;
  conn->plugin = user.program->protocol->open_connection(context);
  conn->serial = ++conn_serial_;
  if (!conn->plugin) {
    on_request_failed(user, "error_plugin_no_connection", false);
    return;
  }
  user.conn = std::move(conn);
  boost::system::error_code ignored;
  user.socket.non_blocking(true, ignored);  // conn_read's read_some after a wake-up must not block
  ConnRef ref(user);
  ConnServices services(*this, user);
  bool holds = user.conn->plugin->on_open(services);
  if (!ref.alive(user)) return;
  user.conn->opening = holds;
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
  if (c.write_busy || c.out.empty() || c.tls_requested) return;
  std::size_t written = conn_write_now(user);
  if (c.out.empty()) return;
  c.writing.swap(c.out);
  c.out.clear();
  c.write_busy = true;
  auto done = [this, &user, ref = ConnRef(user)](const boost::system::error_code& ec, std::size_t) {
    if (!ref.alive(user)) return;
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

void Worker::conn_read(User& user) {
  ConnState& c = *user.conn;
  if (c.reading) return;
  if (c.tls_requested) {
    conn_start_tls(user);
    return;
  }
  if (c.throttled) return;
  // rate_limit: the socket is not read until the bucket is out of debt (Tsung's ts_client
  // sleeps instead), so the server's sends back up into the kernel buffers and its window.
  if (user.dyn && user.dyn->rate > 0 && conn_rate_limited(user)) [[unlikely]] {
    Clock::duration wait = rate_wait(*user.dyn);
    if (wait != Clock::duration::zero()) {
      c.throttled = true;
      wake_conn_read_after(user, wait);
      return;
    }
  }
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
    const RequestSpec* pending = user.state == UserState::awaiting ? &current_request(user) : nullptr;
    ResponseInfo info;
    bool completes = eof && c.plugin->on_eof(pending, info);
    if (!pending) {
      close_connection(user);  // closed while the user thinks: its next request reconnects
    } else if (completes) {
      info.close = true;
      on_response_complete(user, info);
    } else {
      on_request_failed(user, eof ? "error_connection_closed" : "error_recv_" + errno_name(ec), false);
    }
    return;
  }
  stats_.add(ids_.size_rcv, n);
  if (user.dyn && conn_rate_limited(user)) user.dyn->tokens -= static_cast<double>(n);
  // Nothing left over from the last read (the usual case): the plugin reads the read buffer
  // itself (the worker's, or the connection's for TLS), and only a rest it leaves is copied.
  // Nothing below reads into that buffer before this function returns.
  bool direct = c.in.empty();
  if (!direct) {
    c.in.append(bytes, n);
    bytes = c.in.data();
    n = c.in.size();
  }
  ConnRef ref(user);
  std::size_t offset = 0;
  c.batching = true;
  while (offset < n) {
    bool awaiting = user.state == UserState::awaiting;
    const RequestSpec* pending = awaiting ? &current_request(user) : nullptr;
    std::span<const char> data(bytes + offset, n - offset);
    ResponseInfo info;
    info.session = &user.session;
    info.host = config_.servers[static_cast<std::size_t>(user.connected_to)].endpoint.host;
    ConnServices services(*this, user);
    ConnResult result = c.plugin->on_data(services, pending, data, info);
    if (!ref.alive(user)) return;
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
          return;
        }
        user.dyn->capture.append(captured);
      }
    }
    offset += result.consumed;
    conn_event(user, result.event, info);
    if (!ref.alive(user)) return;  // the connection or the user ended
    if (result.consumed == 0) break;
  }
  c.batching = false;
  conn_flush(user);
  if (direct) c.in.assign(bytes + offset, n - offset);
  else c.in.erase(0, offset);
  // An idle connection keeps no receive buffer (the read buffers are the worker's).
  if (c.in.empty() && c.in.capacity() > kKeptInput) std::string().swap(c.in);
  if (c.in.size() > kMaxUnconsumed) {
    stats_.add(error_metric("error_response_too_large"));
    close_connection(user);
    finish_user(user);
    return;
  }
  conn_read(user);
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
      // A wait is not timed (in Tsung it is a thinktime): the page it ends closes at its start.
      if (current_compiled(user).endpage) {
        if (user.page_start != user.request_start) end_page(user, user.request_start);
        else user.page_start = {};
      }
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
      if (awaiting) on_response_complete(user, closing);
      else close_connection(user);
      return;
    }
  }
}

// STARTTLS: once neither a read nor a write is pending on the plain socket.
void Worker::conn_start_tls(User& user) {
  ConnState& c = *user.conn;
  if (c.reading || c.write_busy) return;
  if (user.tls || config_.tls_contexts.empty()) {
    conn_event(user, ConnEvent::fatal, ResponseInfo{0, false, "starttls"});
    return;
  }
  const Target& target = config_.servers[static_cast<std::size_t>(user.connected_to)];
  std::uint32_t slot = user.dyn ? user.dyn->tls_context : 0;
  bool reuse = config_.scenario->options.ssl_reuse_sessions;
  user.tls = make_tls_stream(user.socket, tls_context(slot), target.endpoint.host, {}, config_.scenario->options.ssl_verify,
                             reuse ? tls_session_slot(slot, user.connected_to) : nullptr);
  user.tls->async_handshake(asio::ssl::stream_base::client, [this, &user, ref = ConnRef(user)](const boost::system::error_code& ec) {
    if (!ref.alive(user)) return;
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

}  // namespace loadctl::engine
