#include "controller/command_line.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace loadctl::controller {
namespace {

std::string default_log_root() {
  const char* home = std::getenv("HOME");
  return fmt::format("{}/.loadctl/log", home && *home ? home : ".");
}

bool is_command(std::string_view arg) {
  return arg == "start" || arg == "check" || arg == "report" || arg == "status" || arg == "stop" || arg == "debug" ||
         arg == "view" || arg == "rate" || arg == "pause" || arg == "resume" ||
         arg == "add-agent" || arg == "remove-agent";
}

// Tsung's -F takes no value (Erlang long node names); loadctl's -F IP is the controller address.
// A bare -F (followed by an option, a command or nothing) is Tsung's and is dropped with a note.
// -6 becomes --ipv6: after the command, CLI11 would take "-6" for a number.
std::vector<std::string> normalise_args(int argc, char** argv, std::vector<std::string>& notes) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-6") args[i] = "--ipv6";
    if (args[i] != "-F") continue;
    bool bare = i + 1 == args.size() || args[i + 1].starts_with('-') || is_command(args[i + 1]);
    if (!bare) {
      ++i;
      continue;
    }
    notes.push_back("-F: Erlang long node names do not apply; agents dial the -I address, else this host's name");
    args.erase(args.begin() + static_cast<std::ptrdiff_t>(i--));
  }
  return args;
}

std::vector<std::string> split_tags(const std::vector<std::string>& values) {
  std::vector<std::string> tags;
  for (const std::string& value : values) {
    std::size_t start = 0;
    while (start <= value.size()) {
      std::size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      if (comma > start) tags.push_back(value.substr(start, comma - start));  // as Erlang's string:tokens
      start = comma + 1;
    }
  }
  return tags;
}

}  // namespace

ParseOutcome parse_command_line(int argc, char** argv) {
  CommandLine cl;
  cl.log_root = default_log_root();
  ControllerOptions& o = cl.options;
  CLI::App app{"loadctl: a distributed load generator speaking Tsung's scenario language.\n"
               "Options may come before or after the command (loadctl -f FILE start, loadctl start -f FILE).\n"
               "Recording sessions: loadctl record --help, loadctl har2xml --help (docs/recorder.md)."};
  app.name("loadctl");
  app.require_subcommand(1, 1);
  app.fallthrough();
  app.add_option("-f,--file", o.scenario_path, "scenario file (Tsung 1.0 XML); - reads it from standard input");
  app.add_option("-l,--log-dir", cl.log_root, "log root; each run writes <root>/YYYYMMDD-HHMM/");
  app.add_option("--run-dir", cl.run_dir, "exact directory for this run's logs (instead of -l)");
  app.add_option("-m", o.mon_file,
                 "statistics file in Tsung's format (default tsung.log), relative to the run's log directory; "
                 "- writes it on standard output");
  app.add_flag("-q,--quiet", o.quiet, "no progress lines or summary");
  app.add_option("-r,--remote-shell", o.remote_shell,
                 "how to reach non-local client hosts: a command run as `CMD HOST loadagent ...` (default ssh; "
                 "scripts/rsh_client.sh for rsh_daemon.sh hosts), or `direct` to dial agents started with "
                 "`loadagent --listen`");
  app.add_option("-I,-F,--controller-ip", o.controller_ip,
                 "address agents dial back to (the controller listens on it); a bare -F (Tsung: long node names) "
                 "is accepted and has no effect");
  app.add_flag("-6,--ipv6", o.ipv6, "IPv6 between the controller and its agents (listen on ::1 or ::)");
  std::optional<std::uint16_t> port_min, port_max;
  app.add_option("-t", port_min, "lowest control port agents dial back to (with -T; default range 64000-65500)");
  app.add_option("-T", port_max, "highest control port agents dial back to (with -t)");
  std::vector<std::string> exclude;
  app.add_option("-x", exclude, "requests whose tag is in this comma-separated list are left out of the run")
      ->allow_extra_args(false);
  app.add_option("-d", cl.debug_level, "controller.log level, Tsung's 0 (emergency) .. 7 (debug); default 5 (notice)")
      ->check(CLI::Range(0, 7));
  app.add_option("--token-file", cl.token_file, "file holding the token of listening agents (-r direct)");
  app.add_option("--agent-port", o.agent_port, "port of listening agents (-r direct, default 19998)");
  auto* control_port = app.add_option("--control-port", o.control_port,
                                      "port agents dial back to (default: any free port; not with -t/-T)");
  app.add_option("--direct", o.direct_hosts,
                 "a client host (name or hostip) whose agent listens (loadagent --listen): dialed IP-direct, "
                 "whatever -r says for the others; repeatable");
  app.add_option("--add-agent-allow", o.add_agent_allow,
                 "HOST[,HOST]: hosts the dashboard's add-agent may dial or start an agent on, besides the client "
                 "hosts and --direct ones (the control socket's add-agent may add any host)")
      ->delimiter(',');
  app.add_option("-w,--warmup", o.warmup, "seconds between all agents ready and time zero")->check(CLI::Range(0.0, 600.0));
  app.add_option("--dump-interval", o.dump_interval, "seconds between tsung.log dumps (default 10)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--threads", o.threads, "event-loop threads per agent (default: cores / local agents)");
  app.add_option("--setup-timeout", o.setup_timeout, "seconds for agents to connect and get ready")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--arrival-lag-limit", o.arrival_lag_limit,
                 "seconds after its scheduled arrival a user may start before it counts as users_late "
                 "(the agents did not keep up with the arrival rate; default 0.1)")
      ->check(CLI::Range(0.001, 3600.0));
  app.add_option("-X", cl.plugin_dirs,
                 "directory of run-time protocol plugins (*.so), as Tsung's -X code path; repeatable; "
                 "LOADCTL_PLUGIN_PATH adds more (colon-separated)");
  // The live dashboard (docs/dashboard.md); Tsung's -n and -k, and the Erlang VM options.
  bool no_web = false, smp = false;
  std::string id;
  std::optional<long> max_processes;
  auto* http = app.add_option("--http", o.http_address,
                              "dashboard address ADDR:PORT (default 127.0.0.1:8091; port 0: any free port); any "
                              "non-loopback address requires a token")
                   ->check([](const std::string& v) {
                     return valid_http_address(v) ? std::string() : "--http " + v + ": expected ADDR:PORT";
                   });
  app.add_option("--http-token-file", cl.http_token_file,
                 "file holding the dashboard's token (default on a non-loopback address: a random one, printed)");
  app.add_flag("-n", no_web, "no web dashboard (as Tsung)");
  app.add_flag("-k", o.http_keep, "keep the dashboard up after the run until Ctrl-C or `loadctl stop` (as Tsung)");
  app.add_option("-i", id, "Tsung: controller id, to run several controllers at once (loadctl needs none: no effect)");
  app.add_flag("-s", smp, "Tsung: Erlang SMP on client nodes (agents always use --threads: no effect)");
  app.add_option("-p", max_processes, "Tsung: Erlang processes per VM (no Erlang VM: no effect; see maxusers)");
  app.add_option("-L", o.ssl_session_lifetime, "seconds a TLS session is resumed (default 600, as Tsung)")
      ->check(CLI::Range(0u, 86400u * 365));
  app.set_version_flag("-v,--version", "loadctl " LOADCTL_VERSION);

  auto* start = app.add_subcommand("start", "run the scenario");
  auto* debug = app.add_subcommand("debug", "run the scenario with controller.log at debug level (-d 7)");
  auto* check = app.add_subcommand("check", "validate the scenario and print the plan");
  // check accepts what start accepts, so that a start command line can be checked as it is (the
  // --fail-if expressions are validated; --report's -m constraint too).
  for (CLI::App* run : {start, debug, check}) {
    run->add_flag("--tolerate-agent-loss", o.tolerate_agent_loss,
                  "exit 0 even if agents were lost mid-run (default: exit 2, part of the planned load did not run)");
    run->add_flag("--report", cl.want_report, "render report.html and summary.json when the run ends");
    run->add_option("--fail-if", cl.fail_if, "threshold, e.g. 'p99(request) > 200ms'; exit 3 when crossed (repeatable)");
    run->add_flag("--force", o.force,
                  "run even if the capacity preflight says a host will run out of open files, ports or memory "
                  "(docs/capacity.md)");
  }
  check->add_flag("--hosts", cl.check_hosts,
                  "the capacity preflight: per client host, peak users, connections per source IP, open files per "
                  "agent process and memory against this host's limits (local hosts; docs/capacity.md)");
  auto* status = app.add_subcommand("status", "show the runs in progress (found in ~/.loadctl/run, or with --run-dir / -l)");
  status->add_flag("--json", cl.status_json, "one JSON object per run");
  auto* stop = app.add_subcommand("stop", "stop the run in progress gracefully, then show how it ended");
  stop->add_option("--agent", cl.stop_agent, "stop only this agent (its id as `status` lists it); the others go on");
  auto* rate = app.add_subcommand("rate", "change the arrival rate of the run in progress (docs/dashboard.md)");
  rate->add_option("value", cl.rate, "Nx: N times the planned rate of the current phase; N/s: N arrivals a second")
      ->required();
  auto* pause = app.add_subcommand("pause", "pause the arrivals of the run in progress (users already running go on)");
  auto* resume = app.add_subcommand("resume", "resume the arrivals paused by `loadctl pause`");
  for (CLI::App* steer : {rate, pause, resume})
    steer->add_option("--agent", cl.rate_agent, "only this agent (its id as `status` lists it)");
  auto* add_agent = app.add_subcommand("add-agent", "add a listening agent (`loadagent --listen`) to the run in progress: "
                                                    "it takes a share of the remaining arrivals (docs/dashboard.md)");
  add_agent->add_option("host", cl.add_host, "HOST or HOST:PORT where the agent listens (default port: --agent-port)")
      ->required();
  add_agent->add_option("--ip", cl.add_ip, "source address of its users' connections (as <ip value>)");
  add_agent->add_flag("--launch", cl.add_launch,
                      "start loadagent on HOST as `start` does (over -r, ssh by default; on this host for localhost) "
                      "instead of dialing a listening one");
  auto* remove_agent = app.add_subcommand("remove-agent", "remove an agent from the run in progress: its arrivals move "
                                                          "to the others, its users finish (docs/dashboard.md)");
  remove_agent->add_option("id", cl.rate_agent, "the agent's id (as `status` lists it)")->required();
  auto* view = app.add_subcommand("view", "serve the runs under the log root (-l) read-only on --http, with their "
                                          "files and reports, until Ctrl-C (Tsung's web dashboard without a run)");
  auto* report = app.add_subcommand("report", "render report.html and summary.json of finished runs");
  report->add_option("logdir", cl.report_dirs, "log directory, and optionally a second one to compare with")
      ->required()
      ->expected(1, 2);
  report->add_option("--fail-if", cl.fail_if, "threshold, e.g. 'errors > 1%'; exit 3 when crossed (repeatable)");

  std::vector<std::string> args = normalise_args(argc, argv, cl.notes);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  ParseOutcome out;
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    out.exit_status = app.exit(e);
    return out;
  } catch (const CLI::CallForAllHelp& e) {
    out.exit_status = app.exit(e);
    return out;
  } catch (const CLI::CallForVersion& e) {
    out.exit_status = app.exit(e);
    return out;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s\nUsage: loadctl [options] start|check|report|status|stop|debug|rate|pause|resume|add-agent|remove-agent|view (loadctl --help "
                         "lists the options)\n",
                 e.what());
    out.exit_status = kUsageError;
    return out;
  }
  cl.command = view->parsed()     ? CommandLine::Command::view
               : report->parsed() ? CommandLine::Command::report
               : check->parsed()  ? CommandLine::Command::check
               : status->parsed() ? CommandLine::Command::status
               : stop->parsed()   ? CommandLine::Command::stop
               : debug->parsed()  ? CommandLine::Command::debug
               : rate->parsed()   ? CommandLine::Command::rate
               : pause->parsed()  ? CommandLine::Command::pause
               : resume->parsed() ? CommandLine::Command::resume
               : add_agent->parsed() ? CommandLine::Command::add_agent
               : remove_agent->parsed() ? CommandLine::Command::remove_agent
                                  : CommandLine::Command::start;
  cl.log_root_given = app.get_option("-l")->count() > 0;
  if (cl.command == CommandLine::Command::debug && cl.debug_level < 0) cl.debug_level = 7;
  if (!start->parsed() && !debug->parsed() && !check->parsed() && (cl.want_report || o.tolerate_agent_loss)) {
    std::fprintf(stderr, "error: --report and --tolerate-agent-loss belong to start, debug and check\n");
    out.exit_status = kUsageError;
    return out;
  }
  o.exclude_tags = split_tags(exclude);
  if ((port_min || port_max) && control_port->count() > 0) {
    std::fprintf(stderr, "error: --control-port and -t/-T both set the control port: use one\n");
    out.exit_status = kUsageError;
    return out;
  }
  if (port_min || port_max) {
    o.control_port = port_min.value_or(64000);
    o.control_port_max = port_max.value_or(65500);
    if (o.control_port == 0 || o.control_port > o.control_port_max) {
      std::fprintf(stderr, "error: -t %u -T %u: expected 0 < min <= max\n", o.control_port, o.control_port_max);
      out.exit_status = kUsageError;
      return out;
    }
  }
  o.http_explicit = http->count() > 0;
  if (no_web && (o.http_explicit || o.http_keep || !cl.http_token_file.empty())) {
    std::fprintf(stderr, "error: -n (no dashboard) with --http, --http-token-file or -k: use one\n");
    out.exit_status = kUsageError;
    return out;
  }
  if (no_web && view->parsed()) {
    std::fprintf(stderr, "error: view serves the runs over HTTP: not with -n\n");
    out.exit_status = kUsageError;
    return out;
  }
  if (no_web) o.http_address.clear();
  if (!id.empty()) cl.notes.push_back("-i: several loadctl controllers run at once without ids; ignored");
  if (smp) cl.notes.push_back("-s: agents always run --threads event loops (default: the cores); nothing to enable");
  if (max_processes) cl.notes.push_back("-p: no Erlang VM; a host's users are bounded by <client maxusers>");
  out.command_line = std::move(cl);
  return out;
}

}  // namespace loadctl::controller
