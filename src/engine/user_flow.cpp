// The life of one user: interpret the program, send, receive, think. The request cycle of a
// kept-alive connection (step -> begin_request -> send_request -> await_response -> on_read ->
// consume -> on_response_complete -> step) stays in this one file, so that the compiler can
// inline along it; connecting and closing are in user_connect.cpp, dumptraffic in user_dump.cpp.
// Everything here runs on the worker's thread; nothing allocates per request once warm.

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/errno_name.hpp"
#include "engine/socket_io.hpp"
#include "engine/worker.hpp"

namespace loadctl::engine {

namespace {

constexpr std::size_t kMaxPendingResponse = 4 * 1024 * 1024;

}  // namespace

void Worker::step(User& user) {
  const UserProgram& p = *user.program;
  auto program_index = static_cast<std::size_t>(&p - config_.programs.data());
  while (user.pc < p.ops.size()) {
    const Op& op = p.ops[user.pc++];
    switch (op.code) {
      case Op::Code::request: {
        const CompiledRequest& request = p.requests[op.arg];
        begin_request(user, *request.spec, request.target >= 0 ? request.target : user.server);
        return;
      }
      case Op::Code::think:
        if (p.thinks[op.arg].var_id >= 0) {
          ThinkTime t = p.thinks[op.arg].think;
          t.value = think_var_seconds(user, op.arg);
          if (t.value < 0) {
            stats_.add(error_metric("error_unknown_var"));
            t.value = 0;
          }
          think(user, t);
          return;
        }
        think(user, p.thinks[op.arg].think);
        return;
      case Op::Code::tr_start:
        user.tr_starts[op.arg] = Clock::now();
        break;
      case Op::Code::tr_end:
        stats_.sample(tr_ids_[program_index][op.arg], ms_since(user.tr_starts[op.arg], Clock::now()));
        user.tr_starts[op.arg] = {};  // closed (dumptraffic="protocol" names the latest open one)
        break;
      case Op::Code::loop_init:
        user.loop_counters[op.arg] = loop_bound(user, p.loops[op.arg].from_id, p.loops[op.arg].from);
        if (p.loops[op.arg].var_id >= 0) set_loop_var(user, op.arg);
        break;
      case Op::Code::loop_next: {
        const LoopSpec& loop = p.loops[op.arg];
        user.loop_counters[op.arg] += loop.incr;
        if (user.loop_counters[op.arg] <= loop_bound(user, loop.to_id, loop.to)) {
          user.pc = op.target;
          if (loop.var_id >= 0) set_loop_var(user, op.arg);
        }
        break;
      }
      case Op::Code::set_vars:
        set_vars(user, op.arg);
        break;
      case Op::Code::jump_unless:
        if (!condition_holds(user, op.arg)) user.pc = op.target;
        break;
      case Op::Code::repeat_next:
        if (repeat_goes_on(user, op)) user.pc = op.target;
        break;
      case Op::Code::foreach_init:
        user.loop_counters[p.foreachs[op.arg].loop] = 0;
        if (!foreach_advance(user, op.arg)) user.pc = op.target;
        break;
      case Op::Code::foreach_next:
        if (foreach_advance(user, op.arg)) user.pc = op.target;
        break;
      case Op::Code::set_option:
        if (!set_option(user, op.arg)) return;
        break;
      case Op::Code::abort:
        if (op.arg) {
          spdlog::warn("<abort type=\"all\">: user {} aborts the test", user.id);
          abort_test(fmt::format("<abort type=\"all\"/> (user {}, session \"{}\")", user.id, user.program->session));
        } else {
          stats_.add(error_metric("abort_session"));  // Tsung's counter; the user still finishes
          finish_user(user);
        }
        return;
    }
  }
  finish_user(user);
}

// Tsung's request time runs from here, a (re)connect included; its page time from the first
// request of the page (ts_client:handle_next_request takes both times before reconnecting).
void Worker::begin_request(User& user, const RequestSpec& spec, std::int32_t server) {
  // Tsung's non-persistent user stops when the server closes while it thinks; loadctl does not
  // read an idle connection, so it looks when the next request would use it.
  if (!user.program->persistent && user.connected_to >= 0 && user.stream && !user.conn) [[unlikely]] {
    if (socket_io::peer_closed(user.parked_fd >= 0 ? user.parked_fd : user.socket.native_handle())) {
      end_closed(user);
      return;
    }
  }
  user.request_start = Clock::now();
  if (user.page_start == Clock::time_point{}) user.page_start = user.request_start;
  if (user.parked_fd >= 0) [[unlikely]] unpark_connection(user);
  user.reused = user.connected_to == server && (user.socket.is_open() || (user.conn && user.conn->main_closed));
  if (user.reused) {
    send_request(user);
    return;
  }
  close_connection(user);
  user.server = server;
  connect(user);
}

void Worker::send_request(User& user) {
  const RequestSpec& spec = current_request(user);
  const Options& options = config_.scenario->options;
  EncodeContext ctx;
  const Target& target = config_.servers[static_cast<std::size_t>(user.connected_to)];
  ctx.host_header = target.host_header;
  ctx.transport = target.endpoint.transport;
  ctx.session = user.session.get();
  ctx.user_id = user.id;
  UserVars vars(*user.program, user.dyn.get(), user.id);
  unsigned missing = 0;
  ctx.vars = &vars;
  ctx.missing_vars = &missing;
  write_buf_.clear();
  if (user.conn) conn_encode(user, spec, ctx);
  else spec.encode(ctx, write_buf_);
  stats_.add(ids_.size_sent, write_buf_.size());
  if (config_.dumptraffic != TrafficDump::none) [[unlikely]] {
    if (config_.dumptraffic == TrafficDump::protocol) {  // the request as sent (Tsung's last_url)
      user.dyn->response_size = 0;
      user.dyn->dumps = spec.dump_fields(ctx, user.dyn->dump);
    } else if (!write_buf_.empty() || !user.conn) {  // a connection's plugin may send on lanes instead
      dump_traffic(config_.dumptraffic, "Send", user.id, write_buf_);
    }
  }
  if (missing) stats_.add(error_metric("error_unknown_var"), missing);
  if (user.dyn) user.dyn->capture.clear();

  user.state = UserState::sending;
  // idle_timeout counts from the write; on a reused connection that is request_start (no clock read).
  user.deadline = (user.reused ? user.request_start : Clock::now()) + seconds(options.idle_timeout);
  user.parser.reset();
  user.received = User::Received::none;
  user.pending.clear();
  if (user.conn) {
    conn_queue_request(user);
    return;
  }
  if (user.tls) {
    send_tls(user);
    return;
  }

  boost::system::error_code ec;
  std::size_t written = user.socket.write_some(asio::buffer(write_buf_), ec);
  if (ec == asio::error::would_block) {
    written = 0;
    ec = {};
  }
  if (ec) {
    on_send_failed(user, "error_send_" + errno_name(ec));
    return;
  }
  if (written < write_buf_.size()) {
    user.pending.assign(write_buf_, written);
    user.socket.async_wait(Socket::wait_write, [this, &user, gen = user.generation](const boost::system::error_code& e) {
      if (gen == user.generation) on_writable(user, e);
    });
    return;
  }
  if (!spec.awaits_response()) {
    asio::post(ctx_, [this, &user, gen = user.generation] {
      if (gen == user.generation) on_sent_without_ack(user);
    });
    return;
  }
  await_response(user);
}

// The request is written: wait for its response, or count it as sent without one.
void Worker::after_send(User& user) {
  if (!current_request(user).awaits_response()) {
    on_sent_without_ack(user);
    return;
  }
  await_response(user);
}

void Worker::on_writable(User& user, const boost::system::error_code& ec) {
  boost::system::error_code wec = ec;
  std::size_t written = 0;
  if (!wec) written = user.socket.write_some(asio::buffer(user.pending), wec);
  if (wec == asio::error::would_block) wec = {};
  if (wec) {
    on_send_failed(user, "error_send_" + errno_name(wec));
    return;
  }
  user.pending.erase(0, written);
  // A slow reader is not idle: each partial write restarts idle_timeout (off the hot path).
  user.deadline = Clock::now() + seconds(config_.scenario->options.idle_timeout);
  if (!user.pending.empty()) {
    user.socket.async_wait(Socket::wait_write, [this, &user, gen = user.generation](const boost::system::error_code& e) {
      if (gen == user.generation) on_writable(user, e);
    });
    return;
  }
  after_send(user);
}

// The receive buffer is borrowed only while a response is pending, and async_read_some lets
// asio read speculatively without re-arming epoll per request (async_wait would).
void Worker::await_response(User& user) {
  user.state = UserState::awaiting;
  if (user.dyn && user.dyn->rate > 0 && throttle(user)) return;
  if (!user.buffer && !(user.buffer = acquire_buffer())) [[unlikely]] {
    on_request_failed(user, "error_buffer_alloc", false);  // no memory for it: this request fails
    return;
  }
  if (user.tls) {
    read_tls(user);
    return;
  }
  user.socket.async_read_some(asio::buffer(user.buffer, kReceiveBuffer),
                              [this, &user, gen = user.generation](const boost::system::error_code& ec, std::size_t n) {
                                if (gen == user.generation) on_read(user, ec, n);
                              });
}

void Worker::on_read(User& user, const boost::system::error_code& ec, std::size_t n) {
  // A TLS peer that closes without close_notify ends the stream like a TCP FIN.
  if (ec && (ec == asio::error::eof || (user.tls && ec == asio::ssl::error::stream_truncated))) {
    ResponseInfo info;
    if (!user.program->persistent) {
      end_closed(user);
    } else if (user.received != User::Received::none && current_request(user).complete_on_eof(user.parser, info)) {
      info.close = true;
      on_response_complete(user, info);
    } else if (user.received == User::Received::none && user.reused) {
      on_request_failed(user, "error_connection_closed", true);  // closed while the user thought: sent again
    } else {
      on_request_cut(user, "error_connection_closed");
    }
    return;
  }
  if (ec) {
    on_request_failed(user, "error_recv_" + errno_name(ec), user.received == User::Received::none);
    return;
  }
  user.received = User::Received::since_sweep;
  stats_.add(ids_.size_rcv, n);
  if (config_.dumptraffic != TrafficDump::none) [[unlikely]] {
    if (config_.dumptraffic == TrafficDump::protocol) user.dyn->response_size += n;
    else dump_traffic(config_.dumptraffic, "Recv", user.id, {user.buffer, n});
  }
  if (user.dyn) user.dyn->tokens -= static_cast<double>(n);
  if (!consume(user, {user.buffer, n})) await_response(user);
}

// Feeds received bytes to the plugin's parser. True when the response ended (well or badly).
bool Worker::consume(User& user, std::string_view data) {
  const RequestSpec& spec = current_request(user);
  // Responses are kept only for requests that extract variables or match, up to a bound.
  if (user.dyn && user.program->requests[user.program->ops[user.pc - 1].arg].dyn) {
    if (user.dyn->capture.size() + data.size() > config_.scenario->options.max_capture_size) {
      on_request_failed(user, "error_response_too_large", false);
      return true;
    }
    user.dyn->capture.append(data);
  }
  std::string_view input = data;
  if (!user.pending.empty()) {
    user.pending.append(data);
    input = user.pending;
  }
  ResponseInfo info;
  info.session = &user.session;
  info.host = config_.servers[static_cast<std::size_t>(user.connected_to)].endpoint.host;
  std::size_t offset = 0;
  ParseResult result{ParseStatus::need_more, 0};
  do {
    result = spec.parse_response(user.parser, input.substr(offset), info);
    offset += result.consumed;
  } while (result.status == ParseStatus::need_more && result.consumed > 0 && offset < input.size());

  if (result.status == ParseStatus::complete) {
    if (offset < input.size()) info.close = true;  // unexpected extra bytes: do not reuse
    user.pending.clear();
    on_response_complete(user, info);
    return true;
  }
  if (result.status == ParseStatus::error) {
    user.pending.clear();
    on_request_failed(user, std::string("error_") + (info.error ? info.error : "bad_response"), false);
    return true;
  }
  if (offset < input.size() && input.size() - offset > kMaxPendingResponse) {
    on_request_failed(user, "error_response_too_large", false);
    return true;
  }
  if (input.data() == user.pending.data()) {
    user.pending.erase(0, offset);
  } else {
    user.pending.assign(input.substr(offset));
  }
  return false;
}

void Worker::on_response_complete(User& user, const ResponseInfo& info) {
  auto now = Clock::now();
  release_buffer(user);
  double elapsed = ms_since(user.request_start, now);
  stats_.sample(ids_.request, elapsed);
  if (current_compiled(user).endpage) end_page(user, now);
  if (info.status_code) stats_.add(status_metric(info.status_code));
  user.deadline = Clock::time_point::max();
  user.state = UserState::idle;
  std::int32_t server = user.connected_to;
  if (info.close) close_connection(user);
  // A response complete on a kept-alive connection: the next read, after the next request is
  // written, waits for epoll instead of first failing with EAGAIN. Never while a response still
  // needs bytes: asio's epoll is edge-triggered, so when the last bytes and the FIN (or RST)
  // came in one event, only a read tried at once sees the EOF. Before step(), which may start
  // the next read. Bytes or a close that came with this response still end that read: the next
  // request makes the server answer (an edge), or, closed, reset (an edge too).
  else if (user.stream && !user.tls) socket_io::read_drained(user.socket);
  if (config_.dumptraffic == TrafficDump::protocol) [[unlikely]] {
    if (!dump_protocol(user, info, server, elapsed)) return;
  } else if (user.dyn && !after_response(user)) {
    return;
  }
  step(user);
}

// Fire-and-forget requests (raw ack="no_ack") are counted, as Tsung does, not timed.
void Worker::on_sent_without_ack(User& user) {
  stats_.add(ids_.request_noack);
  if (current_compiled(user).endpage) end_page(user, Clock::now());
  user.deadline = Clock::time_point::max();
  user.state = UserState::idle;
  step(user);
}

void Worker::on_request_failed(User& user, std::string_view error, bool retry_on_fresh_connection) {
  close_connection(user, false);
  release_buffer(user);
  if (stopping_) return;
  if (retry_on_fresh_connection && user.reused) {
    if (!user.program->persistent) {  // closed while the user thought
      end_closed(user);
      return;
    }
    // A kept-alive connection the server had already closed: resend once on a new connection,
    // which restarts the request time (and the page's, when the request opened it) as a retried
    // connect does.
    user.reused = false;
    restart_request(user);
    connect(user);
    return;
  }
  stats_.add(error_metric(error));
  finish_user(user);
}

// Tsung's persistent session (ts_client, `closed` in wait_ack): the close ends the request and the
// user goes on; its next request opens a new connection. The cut response is counted as `error`,
// not timed (Tsung times it as a response).
void Worker::on_request_cut(User& user, std::string_view error) {
  close_connection(user, false);
  release_buffer(user);
  if (stopping_) return;
  stats_.add(error_metric(error));
  if (current_compiled(user).endpage) user.page_start = {};
  user.pending.clear();
  user.deadline = Clock::time_point::max();
  user.state = UserState::idle;
  step(user);
}

// Tsung's handle_close_while_sending / handle_timeout_while_sending: a persistent user sends the
// request again after retry_timeout, on a new connection, while its retries stay within
// max_retries; a non-persistent one stops. A kept-alive connection found closed is resent at once.
void Worker::on_send_failed(User& user, std::string_view error) {
  if (user.reused) {
    on_request_failed(user, error, true);
    return;
  }
  close_connection(user, false);
  release_buffer(user);
  if (stopping_) return;
  const Options& options = config_.scenario->options;
  if (!user.program->persistent || user.send_retries >= options.max_retries) {
    stats_.add(error_metric(user.program->persistent ? "error_abort_max_send_retries" : error));
    finish_user(user);
    return;
  }
  stats_.add(error_metric(error));
  ++user.send_retries;
  user.pending.clear();
  user.state = UserState::thinking;
  user.deadline = Clock::time_point::max();
  double retry = user.dyn && user.dyn->retry_timeout >= 0 ? user.dyn->retry_timeout : options.retry_timeout;
  wake_after(user, seconds(retry), Wake::retry);
}

void Worker::end_closed(User& user) {
  close_connection(user, false);
  release_buffer(user);
  if (stopping_) return;
  stats_.add(error_metric("error_closed"));
  finish_user(user);
}

void Worker::think(User& user, const ThinkTime& t) {
  if (t.wait_global) {
    wait_global(user);
    return;
  }
  double s = think_seconds(t);
  user.state = UserState::thinking;
  user.deadline = Clock::time_point::max();
  park_connection(user, s);
  wake_after(user, seconds(s), Wake::step);
}

void Worker::restart_request(User& user) {
  auto now = Clock::now();
  if (user.page_start == user.request_start) user.page_start = now;
  user.request_start = now;
}

void Worker::end_page(User& user, Clock::time_point now) {
  if (user.page_start == Clock::time_point{}) return;
  stats_.sample(ids_.page, ms_since(user.page_start, now));
  user.page_start = {};
}

double Worker::think_seconds(const ThinkTime& t) {
  if (t.min && t.max) {
    std::uniform_real_distribution<double> u(*t.min, *t.max);
    return u(rng_);
  }
  if (t.random && t.value > 0) {
    std::exponential_distribution<double> e(1.0 / t.value);
    return e(rng_);
  }
  return t.value;
}

}  // namespace loadctl::engine
