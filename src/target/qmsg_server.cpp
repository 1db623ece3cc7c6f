#include "qmsg_server.hpp"

#include <boost/asio/write.hpp>

namespace loadtarget {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::uint32_t read_u32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | b[3];
}

void append_u32(std::string& out, std::uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}

}  // namespace

QmsgConnection::QmsgConnection(asio::ip::tcp::socket socket, WorkerContext& worker)
    : socket_(std::move(socket)), worker_(worker), random_(std::random_device{}()) {
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void QmsgConnection::start() { do_read(); }

void QmsgConnection::do_read() {
  socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
    if (ec) return;
    self->pending_.append(self->buf_.data(), n);
    self->answer_frames();
  });
}

// Answers every complete frame of pending_, then writes them at once and reads on.
void QmsgConnection::answer_frames() {
  out_.clear();
  std::size_t at = 0;
  while (pending_.size() - at >= 4) {
    std::uint32_t len = read_u32(pending_.data() + at);
    if (len < 4 || len > kMaxBody) return;  // malformed: dropping the socket closes the connection
    if (pending_.size() - at - 4 < len) break;
    append_u32(out_, 8);
    append_u32(out_, read_u32(pending_.data() + at + 4));  // UserId, echoed
    append_u32(out_, static_cast<std::uint32_t>(random_()));  // RandomCode
    ++worker_.qmsg_requests;
    at += 4 + len;
  }
  pending_.erase(0, at);
  if (out_.empty()) {
    do_read();
    return;
  }
  asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](const error_code& ec, std::size_t) {
    if (!ec) self->do_read();
  });
}

}  // namespace loadtarget
