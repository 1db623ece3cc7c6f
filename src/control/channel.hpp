#pragma once
// A framed, asynchronous message channel over one TCP connection (see messages.hpp for the
// frame format). Single-threaded: use it from the io_context thread that owns it.
// A new channel accepts only frames up to kMaxUnauthenticatedFrame until trust() (the peer's
// hello was verified); payload memory grows with the bytes received, never from the announced
// length, so a peer pays for every byte it makes us hold.

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "control/messages.hpp"

namespace loadctl::control {

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  using MessageHandler = std::function<void(MsgType, std::string_view payload)>;
  /// Called once when the channel closes: a reason ("peer closed", "frame too large", ...).
  using CloseHandler = std::function<void(const std::string& reason)>;

  explicit Channel(boost::asio::ip::tcp::socket socket);

  /// Starts the read loop.
  void start(MessageHandler on_message, CloseHandler on_close);
  /// Replaces the handlers (e.g. once a connection is identified); the read loop goes on.
  void rebind(MessageHandler on_message, CloseHandler on_close);
  void send(MsgType type, std::string_view payload = {});
  /// Closes after queued frames are written.
  void close_after_flush();
  void close(const std::string& reason);
  bool open() const { return open_; }
  /// The peer is authenticated: frames up to kMaxFrame are accepted from now on.
  void trust() { max_frame_ = kMaxFrame; }
  bool trusted() const { return max_frame_ == kMaxFrame; }
  const std::string& peer() const { return peer_; }

 private:
  void read_header();
  void read_payload(std::uint32_t length);
  void read_payload_chunk(std::uint32_t length);
  void deliver();
  void write_next();

  boost::asio::ip::tcp::socket socket_;
  std::string peer_;
  MessageHandler on_message_;
  CloseHandler on_close_;
  char header_[5];
  std::uint32_t max_frame_ = kMaxUnauthenticatedFrame;
  std::string payload_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool open_ = true;
  bool close_when_flushed_ = false;
};

}  // namespace loadctl::control
