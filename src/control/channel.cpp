#include "control/channel.hpp"

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
    if (length == 0 || length > kMaxFrame) {
      self->close(fmt::format("bad frame length {} (max {})", length, kMaxFrame));
      return;
    }
    self->read_payload(length - 1);
  });
}

void Channel::read_payload(std::uint32_t length) {
  payload_.resize(length);
  asio::async_read(socket_, asio::buffer(payload_), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
    if (!self->open_) return;
    if (ec) {
      self->close(ec == asio::error::eof ? "peer closed the connection" : ec.message());
      return;
    }
    auto type = static_cast<MsgType>(static_cast<std::uint8_t>(self->header_[4]));
    if (type < MsgType::hello || type > MsgType::last) {
      self->close(fmt::format("unknown message type {}", static_cast<int>(self->header_[4])));
      return;
    }
    auto handler = self->on_message_;  // the handler may rebind the channel while it runs
    handler(type, self->payload_);
    if (self->open_) self->read_header();
  });
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
  if (on_close_) {
    auto handler = std::move(on_close_);
    handler(reason);
  }
}

}  // namespace loadctl::control
