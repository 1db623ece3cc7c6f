#include "agent/agent.hpp"

#include <unistd.h>

#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "agent/session.hpp"

namespace loadctl::agent {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using control::MsgType;

ProcessIdentity this_process() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return {name, static_cast<std::uint32_t>(getpid())};
}

namespace {

// Connects to HOST:PORT, retrying for ~5 s (the controller may still be starting its accept loop).
bool dial(asio::io_context& ctx, const std::string& address, asio::ip::tcp::socket& socket) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    spdlog::error("bad controller address '{}': expected HOST:PORT", address);
    return false;
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port = address.substr(colon + 1);
  asio::ip::tcp::resolver resolver(ctx);
  boost::system::error_code ec;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto endpoints = resolver.resolve(host, port, ec);
    if (!ec) asio::connect(socket, endpoints, ec);
    if (!ec) return true;
    std::this_thread::sleep_for(250ms);
  }
  spdlog::error("cannot reach the controller at {}: {}", address, ec.message());
  return false;
}

}  // namespace

int run_dial_back(const AgentOptions& options) {
  asio::io_context ctx;
  asio::ip::tcp::socket socket(ctx);
  if (!dial(ctx, options.controller, socket)) return 2;
  auto channel = std::make_shared<control::Channel>(std::move(socket));
  channel->trust();  // the controller we were told to dial: its Setup may be large
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  int status = 0;
  Session session(ctx, channel, options.threads, [&](int s) {
    status = s;
    signals.cancel();
  });
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::warn("signal {}: stopping users", sig);
    session.finish(3);
  });
  auto me = this_process();
  control::Hello hello;
  hello.token = options.token;
  hello.agent_id = options.id;
  hello.hostname = me.hostname;
  hello.pid = me.pid;
  hello.software_version = LOADCTL_VERSION;
  hello.facts = read_host_facts();
  hello.facts.threads = options.threads;
  channel->send(MsgType::hello, hello.encode());  // first frame: before the session's heartbeats
  session.start();
  ctx.run();
  return status;
}

}  // namespace loadctl::agent
