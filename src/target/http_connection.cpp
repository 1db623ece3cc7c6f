#include "http_connection.hpp"

#include <chrono>
#include <cstring>
#include <string_view>

#include <boost/asio/write.hpp>

#include "access_log.hpp"

namespace loadtarget {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
constexpr std::size_t initial_buffer = 8 * 1024;
constexpr std::size_t min_read = 4 * 1024;
}  // namespace

HttpConnection::HttpConnection(asio::ip::tcp::socket socket, WorkerContext& worker)
    : socket_(std::move(socket)), delay_timer_(socket_.get_executor()), worker_(worker), buf_(initial_buffer) {
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  auto ep = socket_.remote_endpoint(ec);
  remote_ip_ = ec ? "-" : ep.address().to_string();
}

void HttpConnection::start() { do_read(); }

void HttpConnection::do_read() {
  if (begin_ == end_) begin_ = end_ = 0;
  if (buf_.size() - end_ < min_read) {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < min_read) buf_.resize(buf_.size() * 2);
  }
  socket_.async_read_some(asio::buffer(buf_.data() + end_, buf_.size() - end_),
                          [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
}

void HttpConnection::on_read(const error_code& ec, std::size_t n) {
  if (ec) return;  // EOF, reset or shutdown: the connection just ends
  end_ += n;
  process_buffered();
}

void HttpConnection::process_buffered() {
  std::size_t consumed = 0;
  auto result = parser_.parse({buf_.data() + begin_, end_ - begin_}, consumed);
  begin_ += consumed;
  switch (result) {
    case HttpRequestParser::Result::indeterminate:
      if (parser_.request().expect_continue && parser_.awaiting_body() && !continue_sent_) {
        continue_sent_ = true;
        static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
        asio::async_write(socket_, asio::buffer(interim.data(), interim.size()),
                          [self = shared_from_this()](const error_code& ec, std::size_t) {
                            if (!ec) self->do_read();
                          });
      } else {
        do_read();
      }
      break;
    case HttpRequestParser::Result::bad: respond_error(parser_.error_status()); break;
    case HttpRequestParser::Result::good: handle_request(); break;
  }
}

void HttpConnection::handle_request() {
  const auto& req = parser_.request();
  route_request(req, worker_.requests++, response_);
  bool keep_alive = req.keep_alive && !response_.close;
  if (worker_.access_log) worker_.access_log->record(worker_.index, remote_ip_, req.method, req.target, response_.status);
  if (response_.delay.count() > 0) {
    delay_timer_.expires_after(response_.delay);
    delay_timer_.async_wait([self = shared_from_this(), keep_alive](const error_code& ec) {
      if (!ec) self->send_response(keep_alive);
    });
  } else {
    send_response(keep_alive);
  }
}

void HttpConnection::respond_error(int status) {
  response_ = HttpResponse{};
  response_.status = status;
  response_.body = reason_phrase(status);
  response_.body += '\n';
  if (worker_.access_log) worker_.access_log->record(worker_.index, remote_ip_, "-", "-", status);
  HttpRequest bare;
  bare.method = "-";
  out_.clear();
  serialize_response(bare, response_, false, out_);
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_write(ec, false); });
}

void HttpConnection::send_response(bool keep_alive) {
  out_.clear();
  serialize_response(parser_.request(), response_, keep_alive, out_);
  asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this(), keep_alive](const error_code& ec, std::size_t) {
    self->on_write(ec, keep_alive);
  });
}

void HttpConnection::drain() {
  socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const error_code& ec, std::size_t) {
    if (!ec) self->drain();
    else self->delay_timer_.cancel();
  });
}

void HttpConnection::on_write(const error_code& ec, bool keep_alive) {
  if (ec) return;
  if (!keep_alive) {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    // Drain until the peer closes (bounded) so the response is not lost to a reset.
    delay_timer_.expires_after(std::chrono::seconds(5));
    delay_timer_.async_wait([self = shared_from_this()](const error_code& e) {
      error_code ignored;
      if (!e) self->socket_.close(ignored);
    });
    drain();
    return;
  }
  if (out_.capacity() > 1 << 20) std::string().swap(out_);
  response_.body.clear();
  if (response_.body.capacity() > 1 << 20) std::string().swap(response_.body);
  parser_.reset();
  continue_sent_ = false;
  process_buffered();
}

}  // namespace loadtarget
