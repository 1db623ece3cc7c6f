// System calls saved around asio's sockets. Boost.Asio 1.74's epoll reactor (Debian's) makes, per
// TCP connection, two FIONBIO ioctls (its own non-blocking mode at async_connect, ours after) and
// a poll() before the SO_ERROR read of a connect; and per request a read that fails with EAGAIN:
// async_read_some always tries the read first (asio stops trying only after a 0-byte read, an EOF,
// not after a short one), and right after a request is written its response cannot be there yet.
// read_drained skips that read when the engine knows nothing more is due (see socket_io.hpp).
// A connect in progress waits for writability: an EPOLL_CTL_MOD adding EPOLLOUT and a turn of the
// loop; connect_ended instead asks with one more connect(2), which on loopback finds it done.
//
// Asio internals: three adjustments need state asio does not expose, and are compiled only for the
// Boost version they were checked against (LOADCTL_ASIO_INTERNALS, 1.74 = BOOST_VERSION 107400):
// - basic_socket::impl_ (protected): the socket's state flags, to mark a socket created with
//   SOCK_NONBLOCK as non-blocking for asio (else asio's own FIONBIO ioctl at the first operation);
// - epoll_reactor::descriptor_state::try_speculative_ (private): cleared by read_drained;
// - scheduler_operation::task_result_ (protected): in a descriptor_state, the epoll events of its
//   latest report, read by connect_result instead of SO_ERROR when they say writable, no error.
// All touch only the worker's own sockets, on its thread (its io_context runs unlocked). With
// another Boost these parts fall back to asio's public calls (open + non_blocking(true): one ioctl
// per connection; reads stay speculative: one EAGAIN read per keep-alive request; SO_ERROR read
// after every connect); the engine behaves the same otherwise. To move to another Boost, check
// the members in its basic_socket.hpp, detail/epoll_reactor.hpp and scheduler_operation.hpp (and
// that perform_io still sets try_speculative_ on every event, and the reactor still stores each
// report's events with set_ready_events), then extend the condition below.

#include "engine/socket_io.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <boost/version.hpp>

#ifndef LOADCTL_ASIO_INTERNALS  // defined 0 on the command line: builds the fallback
#if BOOST_VERSION == 107400
#define LOADCTL_ASIO_INTERNALS 1
#else
#define LOADCTL_ASIO_INTERNALS 0  // not checked against this Boost: public asio calls only
#endif
#endif

namespace loadctl::engine::socket_io {

namespace {

boost::system::error_code last_error() { return {errno, boost::system::system_category()}; }

}  // namespace

#if LOADCTL_ASIO_INTERNALS
namespace {
// basic_socket's implementation (protected): native descriptor, asio's state flags, reactor data.
struct SocketImplAccess : Socket {
  static auto& get(Socket& s) { return (s.*&SocketImplAccess::impl_).get_implementation(); }
};
}  // namespace

// epoll_reactor::descriptor_state::try_speculative_ is private: its address is taken by an
// explicit instantiation (where access is not checked), the standard-conforming way.
using DescriptorState = asio::detail::epoll_reactor::descriptor_state;
using SpeculativeFlags = bool[asio::detail::epoll_reactor::max_ops];
using SpeculativeMember = SpeculativeFlags DescriptorState::*;
SpeculativeMember try_speculative_member();
template <SpeculativeMember Member>
struct SpeculativeAccess {
  friend SpeculativeMember try_speculative_member() { return Member; }
};
template struct SpeculativeAccess<&DescriptorState::try_speculative_>;

// scheduler_operation::task_result_ (protected): in a socket's reactor state, the epoll events of
// its latest report (set_ready_events), kept after its operations ran.
using TaskResultMember = unsigned int asio::detail::scheduler_operation::*;
TaskResultMember task_result_member();
template <TaskResultMember Member>
struct TaskResultAccess {
  friend TaskResultMember task_result_member() { return Member; }
};
template struct TaskResultAccess<&asio::detail::scheduler_operation::task_result_>;
#endif

void open_stream(Socket& socket, const asio::ip::tcp& protocol, boost::system::error_code& ec) {
#if !LOADCTL_ASIO_INTERNALS
  socket.open(protocol, ec);
  if (!ec) socket.non_blocking(true, ec);  // FIONBIO; asio then skips its own
#else
  int fd = ::socket(protocol.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    ec = last_error();
    return;
  }
  adopt_stream(socket, protocol, fd, ec);
  if (ec) ::close(fd);
#endif
}

void adopt_stream(Socket& socket, const asio::ip::tcp& protocol, int fd, boost::system::error_code& ec) {
  socket.assign(protocol, fd, ec);
  if (ec) return;
#if !LOADCTL_ASIO_INTERNALS
  socket.non_blocking(true, ec);
  if (ec) {  // the descriptor stays the caller's (it closes it): the socket lets it go unclosed
    boost::system::error_code ignored;
    socket.release(ignored);
  }
#else
  // Non-blocking for asio too (no ioctl at async operations or non_blocking(true)), and not a
  // possible duplicate (asio would then remove it from epoll before closing it: one more call).
  auto& impl = SocketImplAccess::get(socket);
  impl.state_ = static_cast<asio::detail::socket_ops::state_type>(
      (impl.state_ & ~asio::detail::socket_ops::possible_dup) | asio::detail::socket_ops::non_blocking);
  // Nothing can be read before epoll reports the socket readable (a server's banner included:
  // that event re-enables the read), so the first read after the connect waits for it too. A
  // socket adopted back from a park: epoll reports at registration what arrived meanwhile (the
  // peer's FIN), which re-enables the read as well.
  read_drained(socket);
#endif
}

int park(Socket& socket) {
  boost::system::error_code ec;
  int fd = socket.release(ec);  // EPOLL_CTL_DEL; asio's reactor state goes back to its pool
  return ec ? -1 : fd;
}

bool start_connect(Socket& socket, const asio::ip::tcp::endpoint& to, boost::system::error_code& ec) {
  if (::connect(socket.native_handle(), to.data(), static_cast<socklen_t>(to.size())) == 0) {
    ec = {};
    return false;
  }
  if (errno == EINPROGRESS) return true;
  ec = last_error();
  return false;
}

bool connect_ended(Socket& socket, const asio::ip::tcp::endpoint& to, boost::system::error_code& ec) {
  if (::connect(socket.native_handle(), to.data(), static_cast<socklen_t>(to.size())) == 0 || errno == EISCONN) {
    ec = {};
    return true;
  }
  if (errno == EALREADY || errno == EINPROGRESS) return false;
  ec = last_error();
  return true;
}

boost::system::error_code connect_result(Socket& socket) {
#if LOADCTL_ASIO_INTERNALS
  // The wait for writability ended on epoll's report: writable without an error or a hang-up is
  // connected (a failed connect reports EPOLLERR and EPOLLHUP with it), no SO_ERROR read needed.
  if (auto* state = SocketImplAccess::get(socket).reactor_data_) {
    // descriptor_state derives privately from operation: only a C-style cast may name that base.
    auto* op = (asio::detail::scheduler_operation*)state;  // NOLINT(cppcoreguidelines-pro-type-cstyle-cast)
    unsigned events = op->*task_result_member();
    if ((events & EPOLLOUT) && !(events & (EPOLLERR | EPOLLHUP))) return {};
  }
#endif
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) return last_error();
  return {error, boost::system::system_category()};
}

void read_drained(Socket& socket) {
#if LOADCTL_ASIO_INTERNALS
  if (auto* state = SocketImplAccess::get(socket).reactor_data_)
    (state->*try_speculative_member())[asio::detail::epoll_reactor::read_op] = false;
#else
  (void)socket;  // another asio: its reads stay speculative (one EAGAIN read per request)
#endif
}

bool peer_closed(int fd) {
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void bind_address_only(Socket& socket, const asio::ip::address& ip, boost::system::error_code& ec) {
#ifdef IP_BIND_ADDRESS_NO_PORT
  int one = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  socket.bind({ip, 0}, ec);
}

}  // namespace loadctl::engine::socket_io
