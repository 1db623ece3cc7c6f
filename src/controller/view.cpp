// `loadctl view`: Tsung's `tsung view` (its web dashboard without a run): the runs under the log
// root, read-only (report/log_view.hpp), on --http (default 127.0.0.1:8091) until Ctrl-C or SIGTERM.

#include <sys/stat.h>

#include <csignal>
#include <cstdio>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "control/handshake.hpp"
#include "control/web_server.hpp"
#include "controller/command_line.hpp"
#include "report/log_view.hpp"

namespace loadctl::controller {

int view_command(const CommandLine& cl) {
  const ControllerOptions& o = cl.options;
  struct stat st {};
  if (::stat(cl.log_root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::fprintf(stderr, "error: view: no log root %s (each run writes a directory there; -l DIR names another)\n",
                 cl.log_root.c_str());
    return kUsageError;
  }
  auto endpoint = parse_http_endpoint(o.http_address);
  if (!endpoint) {
    std::fprintf(stderr, "error: --http %s: expected ADDR:PORT\n", o.http_address.c_str());
    return kUsageError;
  }
  std::string token;
  if (!cl.http_token_file.empty()) {
    try {
      token = control::read_token_file(cl.http_token_file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: --http-token-file: %s\n", e.what());
      return kUsageError;
    }
  }
  bool printed_token = token.empty();
  if (printed_token) token = control::random_token();
  // On loopback the pages are open to this host's users, as the live dashboard's are; on any
  // other address every request needs the token.
  bool loopback = endpoint->address().is_loopback();
  boost::asio::io_context ctx;
  report::LogView view(cl.log_root);
  control::WebServer web(ctx, [&view](const control::WebRequest& r) { return view.handle(r); });
  if (auto ec = web.open(*endpoint, token, loopback)) {
    std::fprintf(stderr, "error: view: cannot listen on %s: %s\n", o.http_address.c_str(), ec.message().c_str());
    return kRunFailed;
  }
  auto local = web.local_endpoint();
  std::string host = local.address().is_v6() ? "[" + local.address().to_string() + "]" : local.address().to_string();
  if (local.address().is_unspecified()) {
    boost::system::error_code ec;
    std::string name = boost::asio::ip::host_name(ec);
    if (!ec && !name.empty()) host = name;
  }
  std::string url = fmt::format("http://{}:{}/", host, local.port());
  std::fprintf(stderr, "view: %s (the runs in %s; Ctrl-C stops)\n", url.c_str(), cl.log_root.c_str());
  if (printed_token && !loopback) std::fprintf(stderr, "view token: %s (open %s?token=%s)\n", token.c_str(), url.c_str(), token.c_str());
  std::fflush(stderr);
  boost::asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    web.close();
    ctx.stop();
  });
  ctx.run();
  return kDone;
}

}  // namespace loadctl::controller
