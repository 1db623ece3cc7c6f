#include "ws_echo.hpp"

#include <openssl/evp.h>

#include <boost/asio/write.hpp>

namespace loadtarget {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if ((line[i] | 0x20) != (name[i] | 0x20)) return false;
  return true;
}

// Unmasked server frame with FIN set.
void append_frame(std::string& out, unsigned char opcode, std::string_view payload) {
  out += static_cast<char>(0x80 | opcode);
  std::size_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n < 65536) {
    out += static_cast<char>(126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>(static_cast<std::uint64_t>(n) >> shift);
  }
  out.append(payload);
}

}  // namespace

WsEchoConnection::WsEchoConnection(asio::ip::tcp::socket socket, WorkerContext& worker)
    : socket_(std::move(socket)), worker_(worker) {
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void WsEchoConnection::start() { do_read(); }

void WsEchoConnection::do_read() {
  socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
    if (ec) return;
    self->in_.append(self->buf_.data(), n);
    if (!self->open_ && !self->handshake()) {
      if (self->in_.size() > 16 * 1024) return;  // no header end in sight: drop the connection
      if (self->out_.empty()) {
        self->do_read();
        return;
      }
    }
    if (self->open_ && !self->answer_frames()) return;
    self->flush();
  });
}

// The client's GET with Upgrade: websocket; answers 101 with Sec-WebSocket-Accept.
bool WsEchoConnection::handshake() {
  std::size_t end = in_.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string_view head(in_.data(), end + 2);
  std::string key;
  std::size_t at = head.find("\r\n");
  while (at != std::string_view::npos && at + 2 < head.size()) {
    std::size_t eol = head.find("\r\n", at + 2);
    std::string_view line = head.substr(at + 2, eol - at - 2);
    if (iequals_prefix(line, "sec-websocket-key:")) {
      line.remove_prefix(18);
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
      key = line;
    }
    at = eol;
  }
  in_.erase(0, end + 4);
  if (key.empty()) {
    out_ = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    closing_ = true;
    return false;
  }
  key += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(key.data(), key.size(), digest, &size, EVP_sha1(), nullptr);
  unsigned char accept[64];
  int n = EVP_EncodeBlock(accept, digest, static_cast<int>(size));
  out_ += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  out_.append(reinterpret_cast<const char*>(accept), static_cast<std::size_t>(n));
  out_ += "\r\n\r\n";
  open_ = true;
  return true;
}

// Echoes every complete message of in_; false on a protocol error (the connection is dropped).
bool WsEchoConnection::answer_frames() {
  std::size_t at = 0;
  while (!closing_) {
    std::size_t left = in_.size() - at;
    if (left < 2) break;
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(in_[at + i]); };
    bool fin = byte(0) & 0x80;
    unsigned char opcode = byte(0) & 0x0f;
    if (!(byte(1) & 0x80)) return false;  // client frames are masked
    std::uint64_t len = byte(1) & 0x7f;
    std::size_t header = 2;
    if (len == 126) header += 2;
    if (len == 127) header += 8;
    if (left < header + 4) break;
    if (len >= 126) {
      len = 0;
      for (std::size_t i = 2; i < header; ++i) len = (len << 8) | byte(i);
    }
    if (len > kMaxMessage || message_.size() + len > kMaxMessage) return false;
    if (left < header + 4 + len) break;
    unsigned char mask[4] = {byte(header), byte(header + 1), byte(header + 2), byte(header + 3)};
    char* payload = in_.data() + at + header + 4;
    for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
    std::string_view data(payload, len);
    at += header + 4 + len;
    switch (opcode) {
      case 0x0:  // continuation
        message_.append(data);
        if (fin) {
          append_frame(out_, message_opcode_, message_);
          ++worker_.ws_messages;
          message_.clear();
        }
        break;
      case 0x1:
      case 0x2:
        if (fin) {
          append_frame(out_, opcode, data);
          ++worker_.ws_messages;
        } else {
          message_opcode_ = opcode;
          message_.assign(data);
        }
        break;
      case 0x8:
        append_frame(out_, 0x8, data.substr(0, 2));
        closing_ = true;
        break;
      case 0x9:
        append_frame(out_, 0xA, data);
        break;
      default:
        break;  // pong
    }
  }
  in_.erase(0, at);
  return true;
}

void WsEchoConnection::flush() {
  if (out_.empty()) {
    do_read();
    return;
  }
  asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](const error_code& ec, std::size_t) {
    self->out_.clear();
    if (ec) return;
    if (self->closing_) {
      error_code ignored;
      self->socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      return;
    }
    self->do_read();
  });
}

}  // namespace loadtarget
