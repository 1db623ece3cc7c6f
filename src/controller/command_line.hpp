#pragma once
// loadctl's command line: Tsung 1.7.0's `tsung` options (tsung.sh.in) plus loadctl's own.

#include <optional>
#include <string>
#include <vector>

#include "controller/controller.hpp"

namespace loadctl::controller {

/// Exit statuses of `loadctl` (README.md, "Exit status").
enum Exit { kDone = 0, kScenarioError = 1, kRunFailed = 2, kThresholdCrossed = 3, kUsageError = 64 };

struct CommandLine {
  /// debug: start with controller.log at debug level (Tsung's debug starts an Erlang shell).
  enum class Command { start, check, report, status, stop, debug, rate, pause, resume, add_agent, remove_agent, view };
  Command command = Command::start;
  ControllerOptions options;
  std::string log_root;                    ///< -l
  bool log_root_given = false;             ///< -l on the command line (status/stop look there)
  bool status_json = false;                ///< status --json
  std::optional<unsigned> stop_agent;      ///< stop --agent N
  std::string rate;                        ///< rate R (2x, 500/s)
  std::optional<unsigned> rate_agent;      ///< rate/pause/resume --agent N; remove-agent N
  std::string add_host;                    ///< add-agent HOST[:PORT]
  std::string add_ip;                      ///< add-agent --ip IP
  bool add_launch = false;                 ///< add-agent --launch
  std::string run_dir;                     ///< --run-dir
  std::string token_file;                  ///< --token-file
  std::string http_token_file;             ///< --http-token-file
  std::vector<std::string> plugin_dirs;    ///< -X
  std::vector<std::string> fail_if;        ///< --fail-if
  std::vector<std::string> report_dirs;    ///< report LOGDIR [LOGDIR]
  bool want_report = false;                ///< start --report
  bool check_hosts = false;                ///< check --hosts: the capacity preflight (docs/capacity.md)
  int debug_level = -1;                    ///< -d 0..7 (Tsung's levels, emergency..debug); -1: default
  std::vector<std::string> notes;          ///< one line per Tsung option that has no effect here
};

/// Parses argv. Returns the command line, or the exit status when the program should stop now
/// (help or version printed: 0; usage error printed on stderr: kUsageError).
struct ParseOutcome {
  std::optional<CommandLine> command_line;
  int exit_status = kDone;
};
ParseOutcome parse_command_line(int argc, char** argv);

/// --http's value is ADDR:PORT ([v6]:PORT, localhost:PORT): checked on the command line, so that
/// `check` refuses what `start` would (dashboard.cpp).
bool valid_http_address(const std::string& text);
/// --http's ADDR:PORT as an endpoint ("localhost" is 127.0.0.1); nullopt when malformed.
std::optional<boost::asio::ip::tcp::endpoint> parse_http_endpoint(const std::string& text);

/// `loadctl view`: the runs under the log root, read-only, on --http until Ctrl-C (view.cpp).
int view_command(const CommandLine& cl);

}  // namespace loadctl::controller
