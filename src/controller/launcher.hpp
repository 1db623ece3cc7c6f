#pragma once
// Starts agent processes: directly for local hosts, through a remote shell command
// (`-r ssh`, `-r scripts/rsh_client.sh`) for the others. Output goes to the agent's log file.

#include <sys/types.h>

#include <string>
#include <vector>

namespace loadctl::controller {

struct LaunchSpec {
  std::string agent_path;      ///< loadagent binary (on the target host for remote launches)
  std::string remote_shell;    ///< empty for local launches
  std::string host;            ///< remote host, for remote launches
  std::vector<std::string> agent_args;
  std::string log_path;        ///< stdout and stderr of the launched command
  std::string stdin_text;      ///< written to the command's stdin (a pipe), then EOF: secrets go here
};

/// Spawns the command; returns its pid. Throws std::runtime_error on failure.
pid_t launch(const LaunchSpec& spec);

/// The loadagent next to this loadctl binary (build tree or install), or $LOADCTL_AGENT.
std::string find_agent_binary();

}  // namespace loadctl::controller
