#include "control/channel.hpp"

#include <algorithm>
#include <cstring>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

namespace loadctl::control {

namespace asio = boost::asio;

Channel::Channel(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  peer_ = ec ? "?" : fmt::format("{}:{}", remote.address().to_string(), remote.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void Channel::start(MessageHandler on_message, CloseHandler on_close) {
  on_message_ = std::move(on_message);
  on_close_ = std::move(on_close);
  read_header();
}

void Channel::rebind(MessageHandler on_message, CloseHandler on_close) {
  on_message_ = std::move(on_message);
  on_close_ = std::move(on_close);
}

void Channel::read_header() {
  asio::async_read(socket_, asio::buffer(header_), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
    if (!self->open_) return;
    if (ec) {
      self->close(ec == asio::error::eof ? "peer closed the connection" : ec.message());
      return;
    }
    std::uint32_t length;
    std::memcpy(&length, self->header_, 4);
    if (length == 0 || length > self->max_frame_) {
      self->close(fmt::format("bad frame length {} (max {}{})", length, self->max_frame_,
                              self->max_frame_ < kMaxFrame ? " before authentication" : ""));
      return;
    }
    self->read_payload(length - 1);
  });
}

void Channel::read_payload(std::uint32_t length) {
  // A large buffer kept from an earlier frame (Setup) is not worth holding for heartbeats.
  if (payload_.capacity() > 4 * kReadChunk) payload_ = std::string();
  payload_.clear();
  if (length == 0) return deliver();
  read_payload_chunk(length);
}

// Grows payload_ by at most kReadChunk per read: memory follows the bytes received.
void Channel::read_payload_chunk(std::uint32_t length) {
  std::size_t have = payload_.size();
  std::size_t step = std::min<std::size_t>(kReadChunk, length - have);
  payload_.resize(have + step);
  asio::async_read(socket_, asio::buffer(payload_.data() + have, step),
                   [self = shared_from_this(), length](const boost::system::error_code& ec, std::size_t) {
                     if (!self->open_) return;
                     if (ec) {
                       self->close(ec == asio::error::eof ? "peer closed the connection" : ec.message());
                       return;
                     }
                     if (self->payload_.size() < length) return self->read_payload_chunk(length);
                     self->deliver();
                   });
}

void Channel::deliver() {
  auto type = static_cast<MsgType>(static_cast<std::uint8_t>(header_[4]));
  if (type < MsgType::hello || type > MsgType::last) {
    close(fmt::format("unknown message type {}", static_cast<int>(header_[4])));
    return;
  }
  auto self = shared_from_this();  // the handler may drop the last other reference
  auto handler = on_message_;      // the handler may rebind the channel while it runs
  if (handler) handler(type, payload_);
  if (open_) read_header();
}

void Channel::send(MsgType type, std::string_view payload) {
  if (!open_) return;
  std::string frame(5, '\0');
  auto length = static_cast<std::uint32_t>(payload.size() + 1);
  std::memcpy(frame.data(), &length, 4);
  frame[4] = static_cast<char>(type);
  frame.append(payload);
  queue_.push_back(std::move(frame));
  if (!writing_) write_next();
}

void Channel::write_next() {
  if (queue_.empty()) {
    writing_ = false;
    if (close_when_flushed_) close("closed");
    return;
  }
  writing_ = true;
  asio::async_write(socket_, asio::buffer(queue_.front()), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
    if (!self->open_) return;
    if (ec) {
      self->close(ec.message());
      return;
    }
    self->queue_.pop_front();
    self->write_next();
  });
}

void Channel::close_after_flush() {
  close_when_flushed_ = true;
  if (!writing_) close("closed");
}

void Channel::close(const std::string& reason) {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  on_message_ = nullptr;  // releases what the handlers hold (e.g. an unauthenticated-slot ticket)
  if (on_close_) {
    auto handler = std::move(on_close_);
    on_close_ = nullptr;
    handler(reason);
  }
}

}  // namespace loadctl::control
