// loadctl: the controller command line, compatible in spirit with `tsung -f FILE start`.
#include <ctime>
#include <filesystem>
#include <fstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "plugin_host/plugin_loader.hpp"
#include "control/handshake.hpp"
#include "controller/controller.hpp"
#include "loadctl/scenario_error.hpp"
#include "report/report.hpp"

namespace fs = std::filesystem;
using namespace loadctl;

namespace {

enum Exit { kDone = 0, kScenarioError = 1, kRunFailed = 2, kThresholdCrossed = 3 };

std::string default_log_root() {
  const char* home = std::getenv("HOME");
  return fmt::format("{}/.loadctl/log", home && *home ? home : ".");
}

// <root>/YYYYMMDD-HHMM, with a -N suffix when that directory already exists.
fs::path make_run_dir(const std::string& root) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M", std::localtime(&now));
  fs::path dir = fs::path(root) / stamp;
  for (int n = 2; fs::exists(dir); ++n) dir = fs::path(root) / fmt::format("{}-{}", stamp, n);
  fs::create_directories(dir);
  return dir;
}

std::optional<Scenario> load_or_report(const std::string& path) {
  try {
    return load_scenario(path);
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s: %s\n", path.c_str(), e.what());
  }
  return std::nullopt;
}

// Parses every --fail-if expression; prints the first bad one and returns false.
bool parse_thresholds(const std::vector<std::string>& exprs, std::vector<report::Threshold>& out) {
  try {
    for (const auto& e : exprs) out.push_back(report::parse_threshold(e));
    return true;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return false;
  }
}

// Renders the report of `dirs` and prints where; kThresholdCrossed when a threshold failed.
int render_report(const std::vector<std::string>& dirs, const std::vector<report::Threshold>& thresholds, bool quiet) {
  try {
    auto outcome = report::write_report(dirs, thresholds);
    for (const auto& r : outcome.thresholds)
      std::fprintf(stderr, "threshold %s: %s\n", r.failed ? "FAILED" : "ok", r.detail.c_str());
    if (!quiet)
      for (const auto& path : outcome.written) std::fprintf(stderr, "wrote %s\n", path.c_str());
    return outcome.thresholds_failed ? kThresholdCrossed : kDone;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: report: %s\n", e.what());
    return kRunFailed;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loadctl: a distributed load generator speaking Tsung's scenario language"};
  app.require_subcommand(1);
  controller::ControllerOptions options;
  std::string log_root = default_log_root();
  std::string run_dir;
  app.add_option("-f,--file", options.scenario_path, "scenario file (Tsung 1.0 XML)");
  app.add_option("-l,--log-dir", log_root, "log root; each run writes <root>/YYYYMMDD-HHMM/");
  app.add_option("--run-dir", run_dir, "exact directory for this run's logs (instead of -l)");
  app.add_flag("-q,--quiet", options.quiet, "no progress lines or summary");
  app.add_option("-r,--remote-shell", options.remote_shell,
                 "how to reach non-local client hosts: a command run as `CMD HOST loadagent ...` (default ssh; "
                 "scripts/rsh_client.sh for rsh_daemon.sh hosts), or `direct` to dial agents started with "
                 "`loadagent --listen`");
  app.add_option("-F,--controller-ip", options.controller_ip, "address agents dial back to");
  std::string token_file;
  app.add_option("--token-file", token_file, "file holding the token of listening agents (-r direct)");
  app.add_option("--agent-port", options.agent_port, "port of listening agents (-r direct, default 19998)");
  app.add_option("--control-port", options.control_port, "port agents dial back to (default: any free port)");
  app.add_option("--direct", options.direct_hosts,
                 "a client host (name or hostip) whose agent listens (loadagent --listen): dialed IP-direct, "
                 "whatever -r says for the others; repeatable");
  app.add_option("-w,--warmup", options.warmup, "seconds between all agents ready and time zero")->check(CLI::Range(0.0, 600.0));
  app.add_option("--dump-interval", options.dump_interval, "seconds between tsung.log dumps (default 10)")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--threads", options.threads, "event-loop threads per agent (default: cores / local agents)");
  app.add_option("--setup-timeout", options.setup_timeout, "seconds for agents to connect and get ready")->check(CLI::Range(1.0, 3600.0));
  std::vector<std::string> plugin_dirs;
  app.add_option("-X", plugin_dirs,
                 "directory of run-time protocol plugins (*.so), as Tsung's -X code path; repeatable; "
                 "LOADCTL_PLUGIN_PATH adds more (colon-separated)");
  app.set_version_flag("-v,--version", "loadctl " LOADCTL_VERSION);
  auto* start = app.add_subcommand("start", "run the scenario");
  auto* check = app.add_subcommand("check", "validate the scenario and print the plan");
  bool want_report = false;
  std::vector<std::string> fail_if, report_dirs;
  start->add_flag("--tolerate-agent-loss", options.tolerate_agent_loss,
                  "exit 0 even if agents were lost mid-run (default: exit 2, part of the planned load did not run)");
  start->add_flag("--report", want_report, "render report.html and summary.json when the run ends");
  start->add_option("--fail-if", fail_if, "threshold, e.g. 'p99(request) > 200ms'; exit 3 when crossed (repeatable)");
  auto* report_cmd = app.add_subcommand("report", "render report.html and summary.json of finished runs");
  report_cmd->add_option("logdir", report_dirs, "log directory, and optionally a second one to compare with")
      ->required()->expected(1, 2);
  report_cmd->add_option("--fail-if", fail_if, "threshold, e.g. 'errors > 1%'; exit 3 when crossed (repeatable)");
  CLI11_PARSE(app, argc, argv);

  std::vector<report::Threshold> thresholds;
  if (!parse_thresholds(fail_if, thresholds)) return kScenarioError;
  if (report_cmd->parsed()) return render_report(report_dirs, thresholds, options.quiet);

  if (options.scenario_path.empty()) {
    std::fprintf(stderr, "error: no scenario: use -f FILE\n");
    return kScenarioError;
  }
  if (!token_file.empty()) {
    try {
      options.token = control::read_token_file(token_file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return kScenarioError;
    }
  } else if (options.remote_shell == "direct" || !options.direct_hosts.empty()) {
    std::fprintf(stderr, "error: -r direct and --direct need --token-file (the token the listening agents were started with)\n");
    return kScenarioError;
  }
  try {
    for (const std::string& dir : plugin_dirs_from_env()) plugin_dirs.push_back(dir);
    options.plugins = load_plugin_dirs(plugin_dirs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kScenarioError;
  }
  auto scenario = load_or_report(options.scenario_path);
  if (!scenario) return kScenarioError;

  if (check->parsed()) {
    auto slots = plan_slots(*scenario);
    std::printf("%s: ok: %zu session(s), %zu phase(s), %zu static user(s), %zu agent(s), %.1f s planned\n",
                options.scenario_path.c_str(), scenario->sessions.size(), scenario->load.phases.size(),
                scenario->load.users.size(), slots.size(), planned_duration(*scenario));
    return kDone;
  }
  if (!start->parsed()) return kScenarioError;

  fs::path dir;
  try {
    if (!run_dir.empty()) {
      dir = run_dir;
      fs::create_directories(dir);
    } else {
      dir = make_run_dir(log_root);
    }
    fs::copy_file(options.scenario_path, dir / fs::path(options.scenario_path).filename(),
                  fs::copy_options::overwrite_existing);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: cannot create the log directory: %s\n", e.what());
    return kRunFailed;
  }
  options.run_dir = dir.string();
  auto logger = spdlog::basic_logger_mt("controller", (dir / "controller.log").string());
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %l: %v");
  spdlog::flush_every(std::chrono::seconds(1));
  spdlog::info("loadctl {} running {}", LOADCTL_VERSION, options.scenario_path);
  if (!options.quiet) std::fprintf(stderr, "log directory: %s\n", dir.c_str());

  int status = controller::Controller(options, std::move(*scenario)).run();
  spdlog::info("exit status {}", status);
  spdlog::shutdown();
  std::printf("%s\n", dir.c_str());
  if (want_report || !thresholds.empty()) {
    int report_status = render_report({dir.string()}, thresholds, options.quiet);
    if (status == kDone) status = report_status;
  }
  return status;
}
