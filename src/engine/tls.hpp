#pragma once
// TLS for the engine: contexts built once per run from the scenario's ssl_* options and client
// certificates, the per-connection stream (only TLS users have one), and session resumption.

#include <memory>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "loadctl/scenario.hpp"

namespace loadctl::engine {

namespace asio = boost::asio;
using TlsSocket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;
/// Layered over the user's socket (a reference): the socket object stays where plain users have it.
using TlsStream = asio::ssl::stream<TlsSocket&>;

/// A client context for Tsung's ssl_ciphers / ssl_versions / ssl_reuse_sessions options, plus
/// loadctl's ssl_verify, with a client certificate when `certificate` is not null. Throws
/// std::runtime_error naming the file or option that OpenSSL refused.
std::unique_ptr<asio::ssl::context> make_tls_context(const Options& options, const TlsCertificate* certificate);

/// A new TLS stream over `socket`: SNI (for host names, not IP literals), ALPN when `alpn` is not
/// empty, host name verification when the context verifies, and resumption from `session_slot`
/// (a worker's last session for that server, refreshed by OpenSSL when the server sends one).
std::unique_ptr<TlsStream> make_tls_stream(TlsSocket& socket, asio::ssl::context& context, std::string_view host,
                                           std::string_view alpn, bool verify, SSL_SESSION** session_slot);

/// Frees a session slot's session (a worker's cache entry).
void free_tls_session(SSL_SESSION*& slot);

}  // namespace loadctl::engine
