#include "agent/listener.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "agent/agent.hpp"
#include "control/handshake.hpp"

namespace loadctl::agent {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using control::MsgType;

namespace {

// "[IP:]PORT" or "[IPv6]:PORT"; IP defaults to 0.0.0.0.
std::optional<asio::ip::tcp::endpoint> parse_listen_address(const std::string& text) {
  std::string host = "0.0.0.0";
  std::string port = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  unsigned long number = std::stoul(port);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec || number > 65535) return std::nullopt;
  return asio::ip::tcp::endpoint(address, static_cast<unsigned short>(number));
}

void set_log_label(const std::string& label) {
  spdlog::set_pattern(fmt::format("%Y-%m-%d %H:%M:%S.%e [agent {}] %l: %v", label));
}

}  // namespace

Listener::Listener(ListenOptions options)
    : options_(std::move(options)),
      acceptor_(ctx_),
      signals_(ctx_, SIGINT, SIGTERM),
      accept_loop_(acceptor_, "listening port", [this](asio::ip::tcp::socket socket) { on_accept(std::move(socket)); }) {}

int Listener::run() {
  auto endpoint = parse_listen_address(options_.address);
  if (!endpoint) {
    spdlog::error("bad --listen address '{}': expected [IP:]PORT", options_.address);
    return 2;
  }
  boost::system::error_code ec;
  acceptor_.open(endpoint->protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    spdlog::error("cannot listen on {}: {}", options_.address, ec.message());
    return 2;
  }
  auto local = acceptor_.local_endpoint();
  spdlog::info("listening on {}:{} for controllers", local.address().to_string(), local.port());
  signals_.async_wait([this](const boost::system::error_code& e, int sig) {
    if (e) return;
    spdlog::warn("signal {}: {}", sig, session_ ? "stopping the current run and exiting" : "exiting");
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    if (session_) session_->finish(3);
    else ctx_.stop();
  });
  accept_loop_.start();
  ctx_.run();
  session_.reset();
  return 0;
}

void Listener::on_accept(asio::ip::tcp::socket socket) {
  using control::kHelloTimeout;
  auto ticket = pending_.enter();
  if (!ticket) {  // too many connections without a verified hello: close this one at once
    ++full_refusals_;
    if (std::chrono::steady_clock::now() - last_full_log_ >= control::kAcceptLogInterval) {
      spdlog::warn("{} connections without a verified hello; closed {} new connection(s)", control::kMaxUnauthenticated,
                   full_refusals_);
      last_full_log_ = std::chrono::steady_clock::now();
      full_refusals_ = 0;
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  auto channel = std::make_shared<control::Channel>(std::move(socket));
  if (session_) {
    spdlog::warn("{}: refused: busy with a run for {}", channel->peer(), session_peer_);
    channel->start([ticket](MsgType, std::string_view) {}, [ticket](const std::string&) {});
    channel->send(MsgType::reject, control::encode_text("busy: this agent is serving another run"));
    channel->close_after_flush();
    return;
  }
  // Until its hello authenticates, the connection gets small frames (Channel), kHelloTimeout
  // and one of the kMaxUnauthenticated tickets, released when its handlers are replaced or it closes.
  auto timer = std::make_shared<asio::steady_timer>(ctx_, kHelloTimeout);
  std::weak_ptr<control::Channel> weak = channel;
  timer->async_wait([weak](const boost::system::error_code& ec) {
    auto ch = weak.lock();
    if (ec || !ch || !ch->open() || ch->trusted()) return;
    spdlog::warn("{}: refused: no hello within {} s", ch->peer(), kHelloTimeout.count());
    ch->close("hello timeout");
  });
  channel->start(
      [this, weak, timer, ticket](MsgType type, std::string_view payload) {
        auto ch = weak.lock();
        if (!ch) return;
        timer->cancel();
        if (type != MsgType::hello) {
          spdlog::warn("{}: refused: expected hello, got {}", ch->peer(), control::to_string(type));
          ch->rebind([](MsgType, std::string_view) {}, [](const std::string&) {});
          ch->send(MsgType::reject, control::encode_text("protocol violation: expected hello"));
          ch->close_after_flush();
          return;
        }
        on_controller_hello(ch, payload);
      },
      [weak, timer, ticket](const std::string& reason) {
        timer->cancel();
        if (auto ch = weak.lock()) spdlog::warn("{}: closed before an accepted hello: {}", ch->peer(), reason);
      });
}

void Listener::on_controller_hello(const std::shared_ptr<control::Channel>& channel, std::string_view payload) {
  auto refuse = [&](const std::string& reason) {
    spdlog::warn("{}: refused: {}", channel->peer(), reason);
    channel->rebind([](MsgType, std::string_view) {}, [](const std::string&) {});
    channel->send(MsgType::reject, control::encode_text(reason));
    channel->close_after_flush();
  };
  control::Hello hello;
  if (auto reason = control::check_controller_hello(payload, options_.token, &hello)) return refuse(*reason);
  if (session_ || stopping_) return refuse("busy: this agent is serving another run");

  auto me = this_process();
  control::Hello answer;
  answer.token = options_.token;
  answer.agent_id = hello.agent_id;
  answer.hostname = me.hostname;
  answer.pid = me.pid;
  answer.software_version = LOADCTL_VERSION;
  answer.facts = read_host_facts();
  answer.facts.threads = options_.threads;  // 0: the controller's --threads, else the cores
  channel->send(MsgType::hello, answer.encode());
  channel->trust();

  session_peer_ = channel->peer();
  set_log_label(std::to_string(hello.agent_id));
  spdlog::info("run for controller {} ({}, pid {}) as agent {}", session_peer_, hello.hostname, hello.pid, hello.agent_id);
  if (options_.log_sink) options_.log_sink->set_capturing(true);
  session_ = std::make_unique<Session>(ctx_, channel, options_.threads, [this](int status) { on_session_end(status); });
  session_->forward_logs(options_.log_sink);
  session_->attach();
}

void Listener::on_session_end(int status) {
  spdlog::info("run for controller {} ended (status {})", session_peer_, status);
  session_.reset();
  session_peer_.clear();
  if (options_.log_sink) options_.log_sink->set_capturing(false);
  set_log_label("listen");
  // When stopping, the io_context ends by itself once the last frames are written.
  if (!stopping_) spdlog::info("waiting for the next controller");
}

}  // namespace loadctl::agent
