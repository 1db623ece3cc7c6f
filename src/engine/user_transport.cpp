// Transports other than plain TCP, chosen once per connection (in connect / on_connected): a
// user whose target is TLS gets a TLS stream over its socket, a UDP target a datagram socket.
// Plain TCP users never enter this file.

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/write.hpp>

#include "engine/errno_name.hpp"
#include "engine/worker.hpp"

namespace loadctl::engine {

// A connected UDP socket reads and writes whole datagrams with recv/send, which is all the
// stream socket does: the user keeps one socket type and one I/O path for tcp and udp.
void Worker::open_udp(User& user, boost::system::error_code& ec) {
  const auto& address = config_.servers[static_cast<std::size_t>(user.server)].address;
  int fd = ::socket(address.protocol().family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec.assign(errno, boost::system::system_category());
    return;
  }
  user.socket.assign(address.protocol(), fd, ec);
  if (ec) ::close(fd);
}

void Worker::start_tls(User& user) {
  const Target& target = config_.servers[static_cast<std::size_t>(user.server)];
  std::uint32_t context = user.dyn ? user.dyn->tls_context : 0;
  bool reuse = config_.scenario->options.ssl_reuse_sessions;
  user.tls = make_tls_stream(user.socket, *config_.tls_contexts[context], target.endpoint.host, user.program->alpn,
                             config_.scenario->options.ssl_verify,
                             reuse && context == 0 ? &tls_sessions_[static_cast<std::size_t>(user.server)] : nullptr);
  user.tls->async_handshake(asio::ssl::stream_base::client,
                            [this, &user, gen = user.generation](const boost::system::error_code& ec) {
                              if (gen != user.generation) return;
                              if (ec) {
                                on_connected(user, ec);  // counted and retried like a failed connect
                                return;
                              }
                              on_transport_ready(user);
                            });
}

// The request bytes are copied into the user's buffer: an asynchronous TLS write outlives
// write_buf_, which the next user's request reuses.
void Worker::send_tls(User& user) {
  user.pending.assign(write_buf_);
  asio::async_write(*user.tls, asio::buffer(user.pending),
                    [this, &user, gen = user.generation](const boost::system::error_code& ec, std::size_t) {
                      if (gen != user.generation) return;
                      if (ec) {
                        on_request_failed(user, "error_send_" + errno_name(ec), true);
                        return;
                      }
                      user.pending.clear();
                      after_send(user);
                    });
}

void Worker::read_tls(User& user) {
  user.tls->async_read_some(asio::buffer(user.buffer, kReceiveBuffer),
                            [this, &user, gen = user.generation](const boost::system::error_code& ec, std::size_t n) {
                              if (gen == user.generation) on_read(user, ec, n);
                            });
}

void Worker::retire_tls(User& user) { retired_tls_.push_back(std::move(user.tls)); }

// Called by each sweep: streams retired before the previous sweep have no operation left.
void Worker::free_retired_tls() {
  retiring_tls_.clear();
  retiring_tls_.swap(retired_tls_);
}

Worker::~Worker() {
  for (SSL_SESSION*& session : tls_sessions_) free_tls_session(session);
}

}  // namespace loadctl::engine
