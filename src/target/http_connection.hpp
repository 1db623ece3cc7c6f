#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http_request_parser.hpp"
#include "http_routes.hpp"

namespace loadtarget {

class AccessLog;

/// Per-thread state shared by the connections of one io_context.
struct WorkerContext {
  unsigned index = 0;            ///< thread index, also the access-log shard
  AccessLog* access_log = nullptr;  ///< null when --access-log is not given
  std::uint64_t requests = 0;    ///< requests served by this thread
  std::uint64_t qmsg_requests = 0;  ///< Qmsg requests answered by this thread
  std::uint64_t ws_messages = 0;    ///< WebSocket messages echoed by this thread
};

/// One HTTP/1.1 connection: read → parse → route → (delay) → write → parse next, strictly in
/// order, so pipelined requests are answered one by one in the order they arrived.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(boost::asio::ip::tcp::socket socket, WorkerContext& worker);
  /// Starts reading; the connection keeps itself alive through its pending handlers.
  void start();

 private:
  void do_read();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void process_buffered();
  void handle_request();
  void respond_error(int status);
  void send_response(bool keep_alive);
  void on_write(const boost::system::error_code& ec, bool keep_alive);
  void drain();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer delay_timer_;  ///< re-armed for /delay, created once
  WorkerContext& worker_;
  std::string remote_ip_;
  std::vector<char> buf_;    ///< receive buffer; unparsed bytes are [begin_, end_)
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  HttpRequestParser parser_;
  HttpResponse response_;
  std::string out_;          ///< serialized response being written
  bool continue_sent_ = false;  ///< "100 Continue" already sent for the current request
};

}  // namespace loadtarget
