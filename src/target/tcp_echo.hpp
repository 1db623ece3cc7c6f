#pragma once

#include <array>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

namespace loadtarget {

/// Echoes every byte back; on the peer's EOF, finishes writing and half-closes.
class TcpEchoConnection : public std::enable_shared_from_this<TcpEchoConnection> {
 public:
  explicit TcpEchoConnection(boost::asio::ip::tcp::socket socket);
  /// Starts the read → write loop.
  void start();

 private:
  void do_read();
  void do_write(std::size_t n);

  boost::asio::ip::tcp::socket socket_;
  std::array<char, 16 * 1024> buf_;
};

}  // namespace loadtarget
