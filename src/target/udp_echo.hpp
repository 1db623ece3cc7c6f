#pragma once

#include <array>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

namespace loadtarget {

/// Sends every datagram back to its sender (on the main context: UDP tests are small).
class UdpEcho {
 public:
  /// Binds; throws boost::system::system_error on failure.
  UdpEcho(boost::asio::io_context& ctx, const boost::asio::ip::udp::endpoint& endpoint);
  boost::asio::ip::udp::endpoint local_endpoint() const { return socket_.local_endpoint(); }
  void start() { do_receive(); }

 private:
  void do_receive();

  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::endpoint peer_;
  std::array<char, 65536> buf_;
};

}  // namespace loadtarget
