#include "tcp_echo.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>

namespace loadtarget {

namespace asio = boost::asio;
using boost::system::error_code;

TcpEchoConnection::TcpEchoConnection(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void TcpEchoConnection::start() { do_read(); }

void TcpEchoConnection::do_read() {
  socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
    if (!ec) {
      self->do_write(n);
    } else if (ec == asio::error::eof) {
      error_code ignored;
      self->socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    }
  });
}

void TcpEchoConnection::do_write(std::size_t n) {
  asio::async_write(socket_, asio::buffer(buf_.data(), n), [self = shared_from_this()](const error_code& ec, std::size_t) {
    if (!ec) self->do_read();
  });
}

}  // namespace loadtarget
