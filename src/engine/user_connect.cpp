// Opening and closing a user's connection: socket options and source address, the connect and
// its retries, then the transport (user_transport.cpp) and, for connection-level plugins, the
// plugin's connection (user_connection.cpp). Once per connection, not per request.

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include "engine/errno_name.hpp"
#include "engine/socket_io.hpp"
#include "engine/worker.hpp"

namespace loadctl::engine {

void Worker::connect(User& user) {
  user.state = UserState::connecting;
  user.connect_start = Clock::now();
  user.deadline = connect_deadline(user, user.connect_start);
  const Target& target = config_.servers[static_cast<std::size_t>(user.server)];
  if (target.carrier == "erlang") [[unlikely]] {
    connect_local(user);
    return;
  }
  bool udp = target.endpoint.transport == Transport::udp;
  user.stream = !udp;
  boost::system::error_code ec;
  if (udp) open_udp(user, ec);
  setup_socket(user.socket, user.server, !udp, ec);
  auto done = [this, &user, gen = user.generation](const boost::system::error_code& ec) {
    if (gen == user.generation) on_connected(user, ec);
  };
  if (ec) {
    asio::post(ctx_, [done, ec] { done(ec); });
    return;
  }
  if (udp) {
    user.socket.async_connect(target.address, done);
    return;
  }
  if (!socket_io::start_connect(user.socket, target.address, ec)) {
    asio::post(ctx_, [done, ec] { done(ec); });
    return;
  }
  if (connect_ended_now(user, target, ec)) {
    on_connected(user, ec);
    return;
  }
  user.socket.async_wait(Socket::wait_write, [this, &user, done](const boost::system::error_code& e) {
    done(e ? e : socket_io::connect_result(user.socket));
  });
}

// A TCP connect in progress to loopback has usually ended by the time connect(2) returns: asked
// at once (socket_io::connect_ended), it goes on in this call, without an epoll_ctl and a turn of
// the loop for its wait. A target whose connects take a round trip is asked less and less often
// (after each miss, twice as many connects up to 1024 wait without asking), so that the extra
// connect(2) costs nothing there.
bool Worker::connect_ended_now(User& user, const Target& target, boost::system::error_code& ec) {
  ConnectCheck& check = connect_checks_[static_cast<std::size_t>(user.server)];
  if (check.skip) {
    --check.skip;
    return false;
  }
  if (socket_io::connect_ended(user.socket, target.address, ec)) {
    check.backoff = 0;
    return true;
  }
  check.backoff = static_cast<std::uint16_t>(std::min(2 * check.backoff + 1, 1023));
  check.skip = check.backoff;
  return false;
}

// <server type="erlang"> (Tsung's ts_erlang: no server; the plugin runs requests on this host):
// a socket pair instead of a connect. The user reads one end as its socket; the plugin's
// connection gets the other (ConnectionContext::local_fd) and writes its results there.
void Worker::connect_local(User& user) {
  int fds[2] = {-1, -1};
  boost::system::error_code ec;
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    ec.assign(errno, boost::system::system_category());
  } else if (user.socket.assign(asio::ip::tcp::v4(), fds[0], ec); ec) {  // recv/send only: any stream socket does
    ::close(fds[0]);
    ::close(fds[1]);
    fds[1] = -1;
  }
  int peer = fds[1];
  asio::post(ctx_, [this, &user, gen = user.generation, ec, peer] {
    if (gen != user.generation) {
      if (peer >= 0) ::close(peer);
      return;
    }
    if (ec) {
      on_connected(user, ec);
      return;
    }
    // The sweep's connect-timeout branch may have closed the socket meanwhile (and dealt with the
    // user): never throw (bad_descriptor) in a posted handler.
    boost::system::error_code nb;
    if (!user.socket.is_open()) {
      ::close(peer);
      return;
    }
    if (user.socket.non_blocking(true, nb); nb) {
      ::close(peer);
      on_connected(user, nb);
      return;
    }
    on_transport_ready(user, peer);
  });
}

// connect_timeout (the session's <set_option>, else the scenario's) from `start`.
Clock::time_point Worker::connect_deadline(const User& user, Clock::time_point start) const {
  double timeout = user.dyn && user.dyn->connect_timeout >= 0 ? user.dyn->connect_timeout
                                                               : config_.scenario->options.connect_timeout;
  return timeout > 0 ? start + seconds(timeout) : Clock::time_point::max();
}

// A connection's socket options, as Tsung's: opened (TCP: `tcp`, else already open as UDP),
// tcp_reuseaddr, the source address and port, no delay, buffer sizes. Also for a connection's
// second lane (user_connection.cpp), which Tsung's ts_bosh opens the same way.
void Worker::setup_socket(Socket& socket, std::int32_t server, bool tcp, boost::system::error_code& ec) {
  const Options& options = config_.scenario->options;
  if (!ec && tcp) socket_io::open_stream(socket, config_.servers[static_cast<std::size_t>(server)].address.protocol(), ec);
  if (!ec && options.tcp_reuseaddr && tcp) socket.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && (!config_.source_ips.empty() || options.ports_range)) bind_source(socket, server, ec);
  if (!ec && tcp) socket.set_option(asio::ip::tcp::no_delay(true), ec);
  unsigned rcv_buffer = tcp ? options.tcp_rcv_buffer : options.udp_rcv_buffer;
  unsigned snd_buffer = tcp ? options.tcp_snd_buffer : options.udp_snd_buffer;
  if (!ec && rcv_buffer) socket.set_option(asio::socket_base::receive_buffer_size(static_cast<int>(rcv_buffer)), ec);
  if (!ec && snd_buffer) socket.set_option(asio::socket_base::send_buffer_size(static_cast<int>(snd_buffer)), ec);
}

// Source address (<ip>/<iprange>, round-robin per connection) and source port. Without
// ports_range the port is left to connect(2) (IP_BIND_ADDRESS_NO_PORT): a bind to {ip, 0} would
// make the kernel search a port free for every destination, which stalls the ramp once a source
// IP holds ~14k sockets; at connect the port need only be unique for the 4-tuple, and when none
// is left the connect fails with EADDRNOTAVAIL (error_connect_eaddrnotavail). With ports_range
// (Tsung's): this worker's interleaved slice, skipping ports in use; a slice with no free port
// is EADDRNOTAVAIL too, and the first one is logged.
void Worker::bind_source(Socket& socket, std::int32_t server, boost::system::error_code& ec) {
  asio::ip::address ip;
  if (!config_.source_ips.empty()) {
    ip = config_.source_ips[source_ip_next_++ % config_.source_ips.size()];
  } else if (config_.servers[static_cast<std::size_t>(server)].address.protocol() == asio::ip::tcp::v6()) {
    ip = asio::ip::address_v6::any();
  } else {
    ip = asio::ip::address_v4::any();
  }
  const auto& range = config_.scenario->options.ports_range;
  if (!range) {
    socket_io::bind_address_only(socket, ip, ec);
    return;
  }
  std::uint32_t first = range->first + plan_.slice;
  std::uint32_t count = first > range->second ? 0 : (range->second - first) / plan_.slices + 1;
  socket.set_option(asio::socket_base::reuse_address(true), ec);
  for (std::uint32_t attempt = 0; attempt < count; ++attempt) {
    auto port = static_cast<std::uint16_t>(first + (port_next_++ % count) * plan_.slices);
    socket.bind({ip, port}, ec);
    if (ec != asio::error::address_in_use) return;
  }
  if (count == 0) {  // more threads than ports: this one has none
    socket.bind({ip, 0}, ec);
    return;
  }
  ec.assign(EADDRNOTAVAIL, boost::system::system_category());
  if (!ports_exhausted_logged_) {
    ports_exhausted_logged_ = true;
    spdlog::warn("ports_range {}-{}: no free source port on {} for this thread's {} ports: connects fail with "
                 "error_connect_eaddrnotavail",
                 range->first, range->second, ip.to_string(), count);
  }
}

void Worker::on_connected(User& user, const boost::system::error_code& ec) {
  auto now = Clock::now();
  if (ec) {
    bool timed_out = now >= user.deadline;
    stats_.add(error_metric(timed_out ? "error_connect_timeout" : "error_connect_" + errno_name(ec)));
    boost::system::error_code ignored;
    user.socket.close(ignored);
    if (user.tls) retire_tls(user, false);
    const Options& options = config_.scenario->options;
    if (stopping_) return;
    if (++user.connect_attempts > options.max_retries) {
      stats_.add(error_metric("error_abort_max_conn_retries"));
      finish_user(user);
      return;
    }
    user.state = UserState::thinking;
    user.deadline = Clock::time_point::max();
    double retry = user.dyn && user.dyn->retry_timeout >= 0 ? user.dyn->retry_timeout : options.retry_timeout;
    double backoff = retry * static_cast<double>(1u << std::min<unsigned>(user.connect_attempts - 1, 10));
    wake_after(user, seconds(backoff), Wake::retry);
    return;
  }
  if (!user.socket.non_blocking()) user.socket.non_blocking(true);  // UDP (TCP: open_stream)
  if (config_.servers[static_cast<std::size_t>(user.server)].endpoint.transport == Transport::ssl &&
      !user.program->negotiates_tls) {  // else the plugin upgrades once the server agreed (SSLRequest)
    start_tls(user);  // the handshake is part of the connection, as in Tsung's connect time
    return;
  }
  on_transport_ready(user);
}

void Worker::on_transport_ready(User& user, int local_fd) {
  user.connected_to = user.server;
  stats_.sample(ids_.connect, ms_since(user.connect_start, Clock::now()));
  stats_.gauge_add(ids_.connected, 1);
  if (user.program->connections) {
    open_conn(user, local_fd);  // connected once the plugin's handshake, if any, is over
    return;
  }
  user.connect_attempts = 0;
  send_request(user);
}

void Worker::close_connection(User& user, bool clean) {
  if (user.parked_fd >= 0) [[unlikely]]
    ::close(std::exchange(user.parked_fd, -1));
  else if (!user.socket.is_open() && !user.conn)
    return;
  if (user.conn) conn_write_now(user);  // queued bytes (e.g. a close frame) go before the FIN
  boost::system::error_code ignored;
  user.socket.close(ignored);
  if (user.tls) retire_tls(user, clean);
  if (user.conn)
    for (unsigned i = 0; i < user.conn->lanes.size(); ++i) retire_lane(user, i, clean);
  user.conn.reset();
  if (user.connected_to >= 0) stats_.gauge_add(ids_.connected, -1);
  user.connected_to = -1;
}

// An idle user's connection costs asio's per-descriptor reactor state (~170 bytes with its
// allocation) for as long as it is registered, which is most of an idle user's memory after its
// own User. A plain TCP connection waits for nothing while its user thinks (no read is pending:
// a FIN that comes meanwhile is seen at the next request, as before), so during a long thinktime
// its descriptor leaves asio: one EPOLL_CTL_DEL now, one EPOLL_CTL_ADD at the next request, which
// also reports anything that arrived meanwhile. Short thinktimes keep it (two calls would cost
// more than they save).
void Worker::park_connection(User& user, double think_seconds) {
  if (think_seconds < kParkThink || user.tls || user.conn || !user.stream || !user.socket.is_open()) return;
  user.parked_fd = socket_io::park(user.socket);
}

void Worker::unpark_connection(User& user) {
  int fd = std::exchange(user.parked_fd, -1);
  boost::system::error_code ec;
  socket_io::adopt_stream(user.socket, config_.servers[static_cast<std::size_t>(user.connected_to)].address.protocol(), fd, ec);
  if (!ec) return;
  ::close(fd);  // the connection is gone: the request opens a new one
  stats_.gauge_add(ids_.connected, -1);
  user.connected_to = -1;
}

}  // namespace loadctl::engine
