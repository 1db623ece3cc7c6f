// loadagent: runs simulated users for a loadctl controller.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "agent/agent.hpp"

int main(int argc, char** argv) {
  CLI::App app{"loadagent: runs simulated users for a loadctl controller"};
  loadctl::agent::AgentOptions options;
  app.add_option("--controller", options.controller, "controller address to dial, HOST:PORT")->required();
  app.add_option("--token", options.token, "the run's authentication token")->required();
  app.add_option("--id", options.id, "agent id given by the controller")->required();
  app.add_option("--threads", options.threads, "event-loop threads (default: as planned)");
  app.set_version_flag("--version", LOADCTL_VERSION);
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("agent");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern(fmt::format("%Y-%m-%d %H:%M:%S.%e [agent {}] %l: %v", options.id));
  return loadctl::agent::Agent(options).run();
}
