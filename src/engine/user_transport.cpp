// Transports other than plain TCP, chosen once per connection (in connect / on_connected): a
// user whose target is TLS gets a TLS stream over its socket, a UDP target a datagram socket.
// Plain TCP users never enter this file.

#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

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
  std::uint32_t slot = user.dyn ? user.dyn->tls_context : 0;
  bool reuse = config_.scenario->options.ssl_reuse_sessions;
  user.tls = make_tls_stream(user.socket, tls_context(slot), target.endpoint.host, user.program->alpn,
                             config_.scenario->options.ssl_verify, reuse ? tls_session_slot(slot, user.server) : nullptr);
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
                        on_send_failed(user, "error_send_" + errno_name(ec));
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

// Freed without a shutdown, OpenSSL (SSL_free: ssl_clear_bad_session) marks the connection's
// session not resumable, which is also the session the worker keeps for the next connection:
// resumption would then only work for a handshake started before the sweep frees the stream. A
// connection whose handshake completed and that closed without error is marked shut down (no
// close_notify is sent: the socket is already closed).
void Worker::retire_tls(User& user, bool clean) {
  SSL* ssl = user.tls->native_handle();
  if (clean && SSL_is_init_finished(ssl)) SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  retired_tls_.push_back(std::move(user.tls));
}

// Called by each sweep: streams retired before the previous sweep have no operation left.
void Worker::free_retired_tls() {
  retiring_tls_.clear();
  retiring_tls_.swap(retired_tls_);
  retiring_lanes_.clear();
  retiring_lanes_.swap(retired_lanes_);
}

asio::ssl::context& Worker::tls_context(std::uint32_t slot) {
  std::size_t shared = config_.tls_contexts.size();
  return slot < shared ? *config_.tls_contexts[slot] : *dyn_tls_contexts_[slot - shared];
}

SSL_SESSION** Worker::tls_session_slot(std::uint32_t slot, std::int32_t server) {
  if (slot >= tls_sessions_.size()) tls_sessions_.resize(slot + 1);
  std::vector<SSL_SESSION*>& sessions = tls_sessions_[slot];
  if (sessions.empty()) sessions.assign(config_.servers.size(), nullptr);
  return &sessions[static_cast<std::size_t>(server)];
}

// Tsung substitutes the certificate's attributes with the user's variables when its set_option
// runs (ts_client); loadctl loads each distinct result once per worker, on the worker's thread.
std::optional<std::uint32_t> Worker::dynamic_tls_context(User& user, const SessionOption& option) {
  UserVars vars(*user.program, user.dyn.get(), user.id);
  unsigned missing = 0;
  TlsCertificate cert;
  std::string* fields[] = {&cert.cacertfile, &cert.certfile, &cert.keyfile, &cert.keypass};
  std::string key;
  for (std::size_t i = 0; i < 4; ++i) {
    option.certificate_fields[i].render(&vars, *fields[i], &missing);
    if (i < 3 && !fields[i]->empty() && fields[i]->front() != '/') *fields[i] = option.certificate->dir + "/" + *fields[i];
    key.append(*fields[i]).push_back('\0');
  }
  if (missing) stats_.add(error_metric("error_unknown_var"), missing);
  if (missing && cert.cacertfile.empty() && cert.certfile.empty() && cert.keyfile.empty()) {
    // Nothing but unset variables: no certificate at all is not what the scenario asked for.
    std::string unset, value;
    for (const Template& field : option.certificate_fields)
      for (std::string_view name : field.variables())
        if (unset.empty() && !vars.append(name, value)) unset = name;
    warn_certificate(user, unset.empty() ? std::string("its substitutions are empty: the certificate is empty")
                                         : fmt::format("%%_{}%% is not set: the certificate is empty", unset));
    return std::nullopt;
  }
  auto shared = static_cast<std::uint32_t>(config_.tls_contexts.size());
  std::optional<std::uint32_t> known = dyn_tls_slots_.find(key);
  if (!known) {
    std::vector<bool> used;  // slots a live user's next connection uses (its current one too)
    if (dyn_tls_slots_.full()) {
      used.resize(dyn_tls_slots_.slots());
      for (std::size_t i = 0; i < users_.size(); ++i)
        if (const User& u = users_[i]; u.program && u.dyn && u.dyn->tls_context >= shared)
          used[u.dyn->tls_context - shared] = true;
    }
    dyn_tls_slots_.make_room(
        [&](std::uint32_t slot) { return static_cast<bool>(used[slot]); },
        [&](std::uint32_t slot) {  // its streams are all closed: no OpenSSL callback writes here
          dyn_tls_contexts_[slot].reset();
          if (slot + shared < tls_sessions_.size())
            for (SSL_SESSION*& session : tls_sessions_[slot + shared]) free_tls_session(session);
        });
    try {
      if (cert.certfile.empty() != cert.keyfile.empty())
        throw std::runtime_error(fmt::format("certfile '{}' and keyfile '{}': expected both, or neither", cert.certfile, cert.keyfile));
      std::unique_ptr<asio::ssl::context> context = make_tls_context(config_.scenario->options, &cert);
      known = dyn_tls_slots_.add(std::move(key));
      if (*known == dyn_tls_contexts_.size()) dyn_tls_contexts_.push_back(std::move(context));
      else dyn_tls_contexts_[*known] = std::move(context);
    } catch (const std::exception& e) {
      dyn_tls_slots_.refuse(std::move(key));
      known = SlotCache::kRefused;
      warn_certificate(user, e.what());
    }
  }
  if (*known == SlotCache::kRefused) return std::nullopt;
  return *known + shared;
}

// Every refused certificate counts error_certificate; the log gets at most one line a second.
void Worker::warn_certificate(const User& user, std::string_view error) {
  auto now = Clock::now();
  if (now - certificate_warned_ < std::chrono::seconds(1)) {
    ++certificate_unwarned_;
    return;
  }
  certificate_warned_ = now;
  if (certificate_unwarned_)
    spdlog::warn("user {}: set_option certificate: {} ({} more refused since the last warning)", user.id, error, certificate_unwarned_);
  else
    spdlog::warn("user {}: set_option certificate: {}", user.id, error);
  certificate_unwarned_ = 0;
}

Worker::~Worker() {
  for (std::vector<SSL_SESSION*>& sessions : tls_sessions_)
    for (SSL_SESSION*& session : sessions) free_tls_session(session);
}

}  // namespace loadctl::engine
