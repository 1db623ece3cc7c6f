#include "udp_echo.hpp"

namespace loadtarget {

namespace asio = boost::asio;
using boost::system::error_code;

UdpEcho::UdpEcho(asio::io_context& ctx, const asio::ip::udp::endpoint& endpoint) : socket_(ctx, endpoint) {}

void UdpEcho::do_receive() {
  socket_.async_receive_from(asio::buffer(buf_), peer_, [this](const error_code& ec, std::size_t n) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      error_code ignored;  // a datagram that cannot go back is dropped, as UDP does
      socket_.send_to(asio::buffer(buf_.data(), n), peer_, 0, ignored);
    }
    do_receive();
  });
}

}  // namespace loadtarget
