#pragma once
// The Qmsg demo protocol of Tsung's plugin notes (examples/plugins/qmsg): every frame is
// PocketLen (u32, big-endian, bytes that follow) then the body. A request body is UserId (u32)
// + UserComment (text); the answer body is UserId (u32) + RandomCode (u32).

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "http_connection.hpp"

namespace loadtarget {

/// Answers each Qmsg request frame in order; closes on a malformed frame.
class QmsgConnection : public std::enable_shared_from_this<QmsgConnection> {
 public:
  QmsgConnection(boost::asio::ip::tcp::socket socket, WorkerContext& worker);
  void start();

 private:
  void do_read();
  void answer_frames();

  static constexpr std::size_t kMaxBody = 1 << 20;
  boost::asio::ip::tcp::socket socket_;
  WorkerContext& worker_;
  std::array<char, 16 * 1024> buf_;
  std::string pending_;  ///< bytes of frames not complete yet
  std::string out_;
  std::minstd_rand random_;
};

}  // namespace loadtarget
