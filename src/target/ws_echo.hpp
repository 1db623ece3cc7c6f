#pragma once
// A WebSocket echo server (RFC 6455) for ts_websocket scenarios and scripts/bench_websocket.sh:
// answers the opening handshake on any path, echoes every text or binary message (one frame,
// same opcode; fragmented messages reassembled), answers pings and closes.

#include <array>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "http_connection.hpp"

namespace loadtarget {

class WsEchoConnection : public std::enable_shared_from_this<WsEchoConnection> {
 public:
  WsEchoConnection(boost::asio::ip::tcp::socket socket, WorkerContext& worker);
  void start();

 private:
  void do_read();
  bool handshake();   // false: the request is not complete yet (or was refused)
  bool answer_frames();  // false: close the connection
  void flush();

  static constexpr std::size_t kMaxMessage = 1 << 20;
  boost::asio::ip::tcp::socket socket_;
  WorkerContext& worker_;
  std::array<char, 4 * 1024> buf_;
  std::string in_;       ///< bytes received and not handled yet
  std::string message_;  ///< a fragmented message being reassembled
  unsigned char message_opcode_ = 0;
  bool open_ = false;     ///< handshake done
  bool closing_ = false;  ///< close answered: shut down once written
  std::string out_;
};

}  // namespace loadtarget
