#include "server.hpp"

#include <charconv>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <boost/asio/post.hpp>

#include "qmsg_server.hpp"
#include "ws_echo.hpp"
#include "tcp_echo.hpp"

namespace loadtarget {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

IoContextPool::IoContextPool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*contexts_.back()));
  }
}

void IoContextPool::run() {
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts_.size(); ++i) threads.emplace_back([ctx = contexts_[i].get()] { ctx->run(); });
  contexts_[0]->run();
  for (auto& t : threads) t.join();
}

void IoContextPool::stop() {
  for (auto& ctx : contexts_) ctx->stop();
}

unsigned IoContextPool::next_index() {
  auto i = next_;
  next_ = (next_ + 1) % size();
  return i;
}

Listener::Listener(IoContextPool& pool, std::vector<WorkerContext>& workers, ListenerKind kind,
                   const tcp::endpoint& endpoint)
    : pool_(pool), workers_(workers), kind_(kind), acceptor_(pool.main_context()),
      retry_timer_(pool.main_context()) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void Listener::do_accept() {
  auto index = pool_.next_index();
  acceptor_.async_accept(pool_.context(index), [this, index](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
      retry_timer_.expires_after(std::chrono::milliseconds(50));
      retry_timer_.async_wait([this](const error_code& e) { if (!e) do_accept(); });
      return;
    }
    if (!ec) {
      auto& ctx = pool_.context(index);
      if (kind_ == ListenerKind::http) {
        asio::post(ctx, [s = std::move(socket), &w = workers_[index]]() mutable {
          std::make_shared<HttpConnection>(std::move(s), w)->start();
        });
      } else if (kind_ == ListenerKind::qmsg) {
        asio::post(ctx, [s = std::move(socket), &w = workers_[index]]() mutable {
          std::make_shared<QmsgConnection>(std::move(s), w)->start();
        });
      } else if (kind_ == ListenerKind::ws_echo) {
        asio::post(ctx, [s = std::move(socket), &w = workers_[index]]() mutable {
          std::make_shared<WsEchoConnection>(std::move(s), w)->start();
        });
      } else {
        asio::post(ctx, [s = std::move(socket)]() mutable { std::make_shared<TcpEchoConnection>(std::move(s))->start(); });
      }
    }
    do_accept();
  });
}

tcp::endpoint parse_endpoint(const std::string& text) {
  std::string host = "127.0.0.1";
  std::string port = text;
  auto colon = text.rfind(':');
  if (colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || host == "*") host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535)
    throw std::invalid_argument("bad port in '" + text + "'");
  error_code aec;
  auto address = asio::ip::make_address(host, aec);
  if (aec) throw std::invalid_argument("bad address in '" + text + "' (expected an IP address)");
  return {address, static_cast<unsigned short>(value)};
}

}  // namespace loadtarget
