// loadtarget: the built-in target server of loadctl (HTTP/1.1 routes, TCP echo and the Qmsg demo
// protocol of examples/plugins/qmsg, on loopback).
//
// Start-up order: parse CLI → raise fd limit → open access log → bind listeners → print
// "listening <kind> <ip>:<port>" per listener → run one io_context per thread until SIGINT/SIGTERM.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "access_log.hpp"
#include "server.hpp"
#include "udp_echo.hpp"

namespace {

// Many-connection tests need more than the usual soft limit of 1024 descriptors.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep) {
  auto addr = ep.address().to_string();
  return ep.address().is_v6() ? fmt::format("[{}]:{}", addr, ep.port()) : fmt::format("{}:{}", addr, ep.port());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> http_endpoints;
  std::vector<std::string> echo_endpoints;
  std::vector<std::string> udp_echo_endpoints;
  std::vector<std::string> qmsg_endpoints;
  std::vector<std::string> ws_endpoints;
  unsigned threads = 1;
  std::string access_log_path;
  bool quiet = false;

  CLI::App app{"loadtarget: built-in HTTP/1.1 and TCP echo target server for loadctl demos and tests.\n"
               "HTTP routes: / /hello /status/NNN /bytes/N /delay/MS /echo /chunked/N /close /json /digest"};
  app.add_option("--http", http_endpoints, "HTTP listener, IP:PORT (repeatable; port 0 picks one)")->take_all();
  app.add_option("--tcp-echo", echo_endpoints, "TCP echo listener, IP:PORT (repeatable)")->take_all();
  app.add_option("--udp-echo", udp_echo_endpoints, "UDP echo socket, IP:PORT (repeatable)")->take_all();
  app.add_option("--qmsg", qmsg_endpoints,
                 "Qmsg demo listener (examples/plugins/qmsg; Tsung's notes use port 5678), IP:PORT (repeatable)")
      ->take_all();
  app.add_option("--ws-echo", ws_endpoints, "WebSocket echo listener (any path), IP:PORT (repeatable)")->take_all();
  app.add_option("--threads", threads, "I/O threads, one io_context each")->check(CLI::Range(1u, 256u));
  app.add_option("--access-log", access_log_path, "append '<ip> <method> <target> <status>' per request");
  app.add_flag("-q,--quiet", quiet, "no start/stop messages on stderr (listening lines still printed)");
  app.set_version_flag("--version", LOADCTL_VERSION);
  CLI11_PARSE(app, argc, argv);

  if (http_endpoints.empty() && echo_endpoints.empty() && udp_echo_endpoints.empty() && qmsg_endpoints.empty() &&
      ws_endpoints.empty()) {
    fmt::print(stderr, "loadtarget: nothing to serve: give --http, --tcp-echo, --udp-echo, --qmsg and/or --ws-echo\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  try {
    std::unique_ptr<loadtarget::AccessLog> access_log;
    if (!access_log_path.empty()) access_log = std::make_unique<loadtarget::AccessLog>(access_log_path, threads);

    std::vector<loadtarget::WorkerContext> workers(threads);
    for (unsigned i = 0; i < threads; ++i) {
      workers[i].index = i;
      workers[i].access_log = access_log.get();
    }
    {
      loadtarget::IoContextPool pool(threads);
      // Installed before the "listening" lines so a SIGTERM right after them is handled.
      boost::asio::signal_set signals(pool.main_context(), SIGINT, SIGTERM);
      signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        if (!quiet) fmt::print(stderr, "loadtarget: signal {}, stopping\n", signo);
        pool.stop();
      });
      std::vector<std::unique_ptr<loadtarget::Listener>> listeners;
      std::vector<const char*> names;
      auto add = [&](const std::string& text, loadtarget::ListenerKind kind, const char* name) {
        auto ep = loadtarget::parse_endpoint(text);
        try {
          listeners.push_back(std::make_unique<loadtarget::Listener>(pool, workers, kind, ep));
        } catch (const boost::system::system_error& e) {
          throw std::runtime_error(fmt::format("cannot listen on {} {}: {}", name, text, e.code().message()));
        }
        names.push_back(name);
      };
      for (const auto& e : http_endpoints) add(e, loadtarget::ListenerKind::http, "http");
      for (const auto& e : echo_endpoints) add(e, loadtarget::ListenerKind::tcp_echo, "tcp-echo");
      for (const auto& e : qmsg_endpoints) add(e, loadtarget::ListenerKind::qmsg, "qmsg");
      for (const auto& e : ws_endpoints) add(e, loadtarget::ListenerKind::ws_echo, "ws-echo");
      std::vector<std::unique_ptr<loadtarget::UdpEcho>> udp_echoes;
      for (const auto& e : udp_echo_endpoints) {
        auto ep = loadtarget::parse_endpoint(e);
        try {
          udp_echoes.push_back(std::make_unique<loadtarget::UdpEcho>(pool.main_context(),
                                                                     boost::asio::ip::udp::endpoint(ep.address(), ep.port())));
        } catch (const boost::system::system_error& err) {
          throw std::runtime_error(fmt::format("cannot bind udp-echo {}: {}", e, err.code().message()));
        }
      }
      // Printed only once every listener is bound: the lines mean "ready" to whoever waits on them.
      for (std::size_t i = 0; i < listeners.size(); ++i)
        std::printf("listening %s %s\n", names[i], endpoint_text(listeners[i]->local_endpoint()).c_str());
      for (auto& u : udp_echoes) {
        auto ep = u->local_endpoint();
        std::printf("listening udp-echo %s\n", endpoint_text({ep.address(), ep.port()}).c_str());
        u->start();
      }
      std::fflush(stdout);
      for (auto& l : listeners) l->start();

      pool.run();
      listeners.clear();
      udp_echoes.clear();
    }  // pool destroyed here: pending connections are released before the access log closes
    std::uint64_t total = 0, qmsg_total = 0, ws_total = 0;
    for (const auto& w : workers) {
      total += w.requests;
      qmsg_total += w.qmsg_requests;
      ws_total += w.ws_messages;
    }
    if (!quiet) fmt::print(stderr, "loadtarget: served {} HTTP requests\n", total);
    if (!quiet && !qmsg_endpoints.empty()) fmt::print(stderr, "loadtarget: served {} qmsg requests\n", qmsg_total);
    if (!quiet && !ws_endpoints.empty()) fmt::print(stderr, "loadtarget: echoed {} websocket messages\n", ws_total);
  } catch (const std::exception& e) {
    fmt::print(stderr, "loadtarget: {}\n", e.what());
    return 1;
  }
  return 0;
}
