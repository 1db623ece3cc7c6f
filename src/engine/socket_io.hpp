#pragma once
// System calls the engine saves around asio's sockets (Boost.Asio 1.74, epoll reactor), once per
// connection or once per request; socket_io.cpp says which asio state each function adjusts. With
// another Boost version the same functions use asio's public calls only (no saving).

#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include "engine/worker.hpp"

namespace loadctl::engine::socket_io {

/// Opens a TCP socket created non-blocking (SOCK_NONBLOCK | SOCK_CLOEXEC) and registered with the
/// socket's reactor, flagged non-blocking in asio's state: no FIONBIO ioctl at the connect or after;
/// and drained (read_drained): its first read waits for epoll.
void open_stream(Socket& socket, const asio::ip::tcp& protocol, boost::system::error_code& ec);

/// Gives `socket` the open, non-blocking TCP descriptor `fd` (one of open_stream's, or one `park`
/// returned), set up as open_stream sets up a new one; on failure `fd` stays the caller's.
void adopt_stream(Socket& socket, const asio::ip::tcp& protocol, int fd, boost::system::error_code& ec);

/// Takes the descriptor of an idle connected socket out of asio (its epoll registration and its
/// reactor state, ~170 bytes, are released; `socket` is left closed); -1 when it cannot. The
/// connection stays open; adopt_stream brings it back.
int park(Socket& socket);

/// Starts a non-blocking connect; true when it is in progress (wait for writability, then
/// `connect_result`), false when it ended at once (`ec` says how).
bool start_connect(Socket& socket, const asio::ip::tcp::endpoint& to, boost::system::error_code& ec);

/// For a connect in progress: true when it has ended already, as a loopback connect usually has
/// when connect(2) returns (the handshake runs within that call), `ec` saying how; false while it
/// goes on. One more connect(2) to `to`: 0 once connected, the connect's error once failed.
bool connect_ended(Socket& socket, const asio::ip::tcp::endpoint& to, boost::system::error_code& ec);

/// How a connect in progress ended, once the socket is writable: from the epoll events that
/// said so when they carry no error or hang-up, else SO_ERROR.
boost::system::error_code connect_result(Socket& socket);

/// Connects `socket` (opened by open_stream) to `to` with connect(2) and a wait for writability
/// (asio's async_connect adds a poll(2) and reads SO_ERROR); `done(ec)` runs from the io_context, never
/// inline. Closing the socket ends the wait with operation_aborted.
template <class Done>
void async_connect(Socket& socket, const asio::ip::tcp::endpoint& to, Done done) {
  boost::system::error_code ec;
  if (start_connect(socket, to, ec)) {
    socket.async_wait(Socket::wait_write, [&socket, done = std::move(done)](const boost::system::error_code& e) mutable {
      done(e ? e : connect_result(socket));
    });
    return;
  }
  asio::post(socket.get_executor(), [done = std::move(done), ec]() mutable { done(ec); });
}

/// The next async read is queued for the next epoll edge instead of first trying a read that
/// would fail with EAGAIN; any epoll event for the socket in between re-enables that read. Only
/// when nothing is awaited from what was already received (a response complete on a kept-alive
/// connection, a socket not yet connected): the epoll edge of bytes already read may have
/// carried the FIN too, which only a read tried at once would see.
void read_drained(Socket& socket);

/// True when the peer of the connected TCP descriptor `fd` has closed it (a FIN or a reset
/// received, nothing unread before it): one non-blocking recv(MSG_PEEK).
bool peer_closed(int fd);

/// Binds `socket` to source address `ip` with the port left to connect(2): IP_BIND_ADDRESS_NO_PORT
/// before a bind to port 0, so the kernel picks the source port at connect time, unique for the
/// 4-tuple, instead of searching a port free for every destination at bind (getsockname says
/// port 0 until the connect). Best effort: a kernel without it (before Linux 4.2) searches as before.
void bind_address_only(Socket& socket, const asio::ip::address& ip, boost::system::error_code& ec);

}  // namespace loadctl::engine::socket_io
