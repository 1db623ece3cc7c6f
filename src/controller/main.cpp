// loadctl: the controller command line, compatible in spirit with `tsung -f FILE start`.
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "plugin_host/plugin_loader.hpp"
#include "control/handshake.hpp"
#include "controller/command_line.hpp"
#include "controller/control_client.hpp"
#include "controller/controller.hpp"
#include "controller/launcher.hpp"
#include "loadctl/capacity.hpp"
#include "loadctl/input_file.hpp"
#include "loadctl/scenario_error.hpp"
#include "recorder/record_command.hpp"
#include "report/report.hpp"

namespace fs = std::filesystem;
using namespace loadctl;

namespace {

using controller::kDone, controller::kScenarioError, controller::kRunFailed, controller::kThresholdCrossed,
    controller::kUsageError;

/// The name errors give a scenario read from standard input (`-f -`).
constexpr const char* kStdinName = "<stdin>";

std::string read_stdin(std::uint64_t max_bytes) {
  std::string text;
  char buffer[65536];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, stdin)) {
    text.append(buffer, n);
    if (text.size() > max_bytes)
      throw std::runtime_error(fmt::format("the scenario is larger than the limit of {} MiB", max_bytes >> 20));
  }
  if (std::ferror(stdin)) throw std::runtime_error("cannot read the scenario from standard input");
  return text;
}

std::string backup_name(const std::string& scenario_path) {
  return scenario_path == "-" ? "tsung_stdin.xml" : fs::path(scenario_path).filename().string();
}

void write_text_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
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
    if (path == "-") return load_scenario_text(read_stdin(kMaxScenarioFileBytes), kStdinName);
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

// check --hosts: the preflight `start` runs once its agents reported their hosts. Here only local
// hosts are known (read as an agent would see them: soft open-files limit raised to the hard one);
// a remote host's needs are printed with its limits unknown.
int check_hosts(const Scenario& scenario, const controller::ControllerOptions& options) {
  std::vector<AgentPlan> plans = plan_run(scenario, plan_slots(scenario), scenario.options.seed.value_or(0));
  std::map<std::string, HostFacts> facts;
  // Threads of a local agent as `start` gives them: --threads, else this host's cores / its agents.
  unsigned local_agents = 0;
  for (const AgentPlan& plan : plans) local_agents += plan.slot.local;
  unsigned threads = options.threads != 0 ? options.threads
                                          : std::max(1u, std::thread::hardware_concurrency() / std::max(1u, local_agents));
  for (AgentPlan& plan : plans) {
    if (controller::dials_listening_agent(plan.slot, options.remote_shell, options.direct_hosts)) plan.slot.maxusers = 0;
    if (!plan.slot.local || facts.contains(plan.slot.host)) continue;
    HostFacts f = read_host_facts();
    f.nofile_soft = f.nofile_hard;
    f.threads = threads;
    facts.emplace(plan.slot.host, std::move(f));
  }
  CapacityReport report = preflight(scenario, plans, facts, options.threads);
  std::printf("capacity preflight (docs/capacity.md):\n%s", report.format(false).c_str());
  if (report.refused() && !options.force) {
    std::printf("refused: a host will run out (see the fixes above); `start` refuses this plan unless --force\n");
    return kRunFailed;
  }
  return kDone;
}

}  // namespace

int main(int argc, char** argv) {
  // The recorder's commands have options of their own (Tsung's tsung-recorder -p -L -I -P -u).
  if (argc > 1 && std::string_view(argv[1]) == "record") return recorder::record_main(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "har2xml") return recorder::har2xml_main(argc - 1, argv + 1);
  controller::ParseOutcome parsed = controller::parse_command_line(argc, argv);
  if (!parsed.command_line) return parsed.exit_status;
  controller::CommandLine& cl = *parsed.command_line;
  controller::ControllerOptions& options = cl.options;
  if (!options.quiet)
    for (const std::string& note : cl.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  const std::vector<std::string>& fail_if = cl.fail_if;
  const std::string& run_dir = cl.run_dir;
  const std::string& token_file = cl.token_file;
  std::vector<std::string>& plugin_dirs = cl.plugin_dirs;
  bool want_report = cl.want_report;
  bool checking = cl.command == controller::CommandLine::Command::check;

  if (cl.command == controller::CommandLine::Command::status) return controller::status_command(cl);
  if (cl.command == controller::CommandLine::Command::view) return controller::view_command(cl);
  if (cl.command == controller::CommandLine::Command::stop) return controller::stop_command(cl);
  if (cl.command == controller::CommandLine::Command::rate || cl.command == controller::CommandLine::Command::pause ||
      cl.command == controller::CommandLine::Command::resume || cl.command == controller::CommandLine::Command::add_agent ||
      cl.command == controller::CommandLine::Command::remove_agent)
    return controller::steer_command(cl);

  std::vector<report::Threshold> thresholds;
  if (!parse_thresholds(fail_if, thresholds)) return kScenarioError;
  if (cl.command == controller::CommandLine::Command::report)
    return render_report(cl.report_dirs, thresholds, options.quiet);

  if (options.scenario_path.empty()) {
    std::fprintf(stderr, "error: no scenario: use -f FILE (or -f - for standard input)\n");
    return kUsageError;
  }
  if ((want_report || !thresholds.empty()) && options.mon_file != "tsung.log") {
    std::fprintf(stderr, "error: --report and --fail-if read tsung.log: not with -m %s\n", options.mon_file.c_str());
    return kUsageError;
  }
  // Bad option values (the token file, -X and LOADCTL_PLUGIN_PATH plugins) are usage errors.
  if (!token_file.empty()) {
    try {
      options.token = control::read_token_file(token_file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return kUsageError;
    }
  } else if (options.remote_shell == "direct" || !options.direct_hosts.empty()) {
    std::fprintf(stderr, "error: -r direct and --direct need --token-file (the token the listening agents were started with)\n");
    return kUsageError;
  }
  if (!cl.http_token_file.empty()) {
    try {
      options.http_token = control::read_token_file(cl.http_token_file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: --http-token-file: %s\n", e.what());
      return kUsageError;
    }
  }
  try {
    for (const std::string& dir : plugin_dirs_from_env()) plugin_dirs.push_back(dir);
    options.plugins = load_plugin_dirs(plugin_dirs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kUsageError;
  }
  auto scenario = load_or_report(options.scenario_path);
  if (!scenario) return kScenarioError;
  std::size_t excluded = exclude_tagged_requests(*scenario, options.exclude_tags);
  if (!options.exclude_tags.empty() && !options.quiet)
    std::fprintf(stderr, "-x: %zu request(s) excluded by tag\n", excluded);

  if (checking) {
    auto slots = plan_slots(*scenario);
    std::printf("%s: ok: %zu session(s), %zu phase(s), %zu static user(s), %zu agent(s), %.1f s planned\n",
                scenario->path.c_str(), scenario->sessions.size(), scenario->load.phases.size(),
                scenario->load.users.size(), slots.size(), planned_duration(*scenario));
    // <monitor type="erlang"> hosts without a client: `start` launches a monitor-only agent there.
    for (const AgentSlot& m : plan_monitor_slots(*scenario, static_cast<unsigned>(slots.size())))
      std::printf("  monitor agent %u on %s (%s): samples cpu, freemem, load, packets every 2 s\n", m.id,
                  m.host.c_str(),
                  controller::dials_listening_agent(m, options.remote_shell, options.direct_hosts)
                      ? "listening agent, dialed"
                  : m.local ? "local"
                            : fmt::format("via {}", options.remote_shell).c_str());
    if (cl.check_hosts) return check_hosts(*scenario, options);
    return kDone;
  }

  fs::path dir;
  try {
    if (!run_dir.empty()) {
      dir = run_dir;
      fs::create_directories(dir);
    } else {
      dir = make_run_dir(cl.log_root);
    }
    // As Tsung: the scenario with its entities expanded; tsung_stdin.xml when read from stdin.
    write_text_file(dir / backup_name(options.scenario_path), scenario->text);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: cannot create the log directory: %s\n", e.what());
    return kRunFailed;
  }
  options.run_dir = dir.string();
  auto logger = spdlog::basic_logger_mt("controller", (dir / "controller.log").string());
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %l: %v");
  if (cl.debug_level >= 0) {  // Tsung's -d: 0 emergency .. 7 debug
    constexpr spdlog::level::level_enum levels[] = {spdlog::level::critical, spdlog::level::critical,
                                                    spdlog::level::critical, spdlog::level::err,
                                                    spdlog::level::warn,     spdlog::level::info,
                                                    spdlog::level::info,     spdlog::level::debug};
    logger->set_level(levels[cl.debug_level]);
  }
  spdlog::flush_every(std::chrono::seconds(1));
  spdlog::info("loadctl {} running {}", LOADCTL_VERSION, options.scenario_path);
  if (!options.quiet) std::fprintf(stderr, "log directory: %s\n", dir.c_str());

  controller::Controller controller(options, std::move(*scenario));
  int status = controller.run();
  spdlog::info("exit status {}", status);
  spdlog::default_logger()->flush();
  std::printf("%s\n", dir.c_str());
  std::fflush(stdout);
  if (want_report || !thresholds.empty()) {
    int report_status = render_report({dir.string()}, thresholds, options.quiet);
    if (status == kDone) status = report_status;
    if (fs::exists(dir / "report.html")) controller.set_report((dir / "report.html").string());
  }
  // `loadctl stop` waited for the report too; -k serves the dashboard until Ctrl-C or `loadctl stop`.
  controller.keep_serving(status);
  spdlog::shutdown();
  return status;
}
