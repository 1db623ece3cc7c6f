// loadagent: runs simulated users for a loadctl controller, either started by it (dial-back)
// or as a daemon the controller dials (--listen).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "agent/agent.hpp"
#include "agent/listener.hpp"
#include "agent/log_forward.hpp"
#include "control/handshake.hpp"
#include "loadctl/capacity.hpp"
#include "loadctl/protocol.hpp"

namespace {

// Exit status of an agent that dies of an exception (std::bad_alloc ...): not 0, and not the
// statuses of a normal end (0 done, 2 setup or protocol failure, 3 stopped).
constexpr int kFatalExit = 4;

// Any exception nobody catches, on any thread (workers included), ends here: logged, then a
// non-zero exit that the controller reports, never a silent exit 0 or a bare abort.
[[noreturn]] void on_uncaught_exception() {
  std::string what = "unknown exception";
  try {
    if (auto e = std::current_exception()) std::rethrow_exception(e);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::fprintf(stderr, "loadagent: fatal: %s: exiting with status %d\n", what.c_str(), kFatalExit);
  std::fflush(stderr);
  std::_Exit(kFatalExit);
}

// Each user holds a socket: the soft open-files limit goes up to the hard one, and the log says
// so (the hello reports both to the controller's capacity preflight).
void raise_open_files() {
  auto [before, after] = loadctl::raise_nofile_limit();
  if (after > before)
    spdlog::info("open files limit raised from {} to {} (the hard limit)", before, after);
  else
    spdlog::info("open files limit {} (already the hard limit)", after);
}

}  // namespace

int main(int argc, char** argv) {
  std::set_terminate(on_uncaught_exception);
  CLI::App app{"loadagent: runs simulated users for a loadctl controller"};
  loadctl::agent::AgentOptions options;
  loadctl::agent::ListenOptions listen;
  std::string token_file;
  std::string token_on_command_line;
  bool token_stdin = false;
  auto* controller = app.add_option("--controller", options.controller, "controller address to dial, HOST:PORT");
  // Refused: anything on a command line is readable by every local user (/proc/PID/cmdline).
  auto* token = app.add_option("--token", token_on_command_line, "refused: use --token-stdin or --token-file");
  app.add_flag("--token-stdin", token_stdin, "read the agent's token from the first line of standard input (dial-back)");
  auto* id = app.add_option("--id", options.id, "agent id given by the controller");
  auto* listen_opt = app.add_option("--listen", listen.address,
                                    "serve runs as a daemon the controller dials, on [IP:]PORT (IP-direct mode)");
  app.add_option("--token-file", token_file, "file whose first line is the token (mode 600; with --listen: the shared token)");
  app.add_option("--threads", options.threads, "event-loop threads (default: as planned)");
  bool allow_local = false;
  app.add_flag("--allow-local,--allow-shell", allow_local,
               "let the controller act on this host as this user: <shell> commands, <fs> file requests and "
               "plugins it ships; all refused without it (docs/security.md)");
  listen_opt->excludes(controller)->excludes(id);
  app.set_version_flag("--version", LOADCTL_VERSION);
  CLI11_PARSE(app, argc, argv);
  if (token->count() > 0) {
    std::fprintf(stderr, "loadagent: --token is refused: a secret on the command line is visible to every local user "
                         "(ps, /proc); give it with --token-stdin (dial-back) or --token-file FILE (mode 600)\n");
    return 2;
  }

  loadctl::set_shell_allowed(allow_local);
  auto logger = spdlog::stderr_color_mt("agent");
  spdlog::set_default_logger(logger);
  if (listen_opt->count() > 0) {
    listen.log_sink = std::make_shared<loadctl::agent::LogForwardSink>();
    logger->sinks().push_back(listen.log_sink);
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [agent listen] %l: %v");
    if (token_file.empty()) {
      spdlog::error("--listen needs --token-file FILE (the token the controller must present)");
      return 2;
    }
    try {
      listen.token = loadctl::control::read_token_file(token_file);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 2;
    }
    listen.threads = options.threads;
    raise_open_files();
    return loadctl::agent::Listener(listen).run();
  }
  if (controller->count() == 0 || id->count() == 0 || token_stdin == !token_file.empty()) {
    std::fprintf(stderr, "loadagent: give --controller, --id and one of --token-stdin or --token-file (dial-back), "
                         "or --listen and --token-file\n");
    return 2;
  }
  try {
    options.token = token_stdin ? loadctl::control::read_token_stdin() : loadctl::control::read_token_file(token_file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loadagent: %s\n", e.what());
    return 2;
  }
  spdlog::set_pattern(fmt::format("%Y-%m-%d %H:%M:%S.%e [agent {}] %l: %v", options.id));
  raise_open_files();
  return loadctl::agent::run_dial_back(options);
}
