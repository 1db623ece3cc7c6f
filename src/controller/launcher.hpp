#pragma once
// Starts agent processes: directly for local hosts, through a remote shell command
// (`-r ssh`, `-r scripts/rsh_client.sh`) for the others. Output goes to the agent's log file.

#include <sys/types.h>

#include <string>
#include <vector>

#include "loadctl/plan.hpp"

namespace loadctl::controller {

/// Whether the agent of `slot` is already listening (IP-direct, dialed by the controller) rather
/// than launched: -r direct for remote hosts, or the host named in --direct. A monitored host
/// named in --direct is dialed even when it is a loopback address (an agent listening on
/// 127.0.0.x, another container): monitoring it needs an agent there, not here.
bool dials_listening_agent(const AgentSlot& slot, const std::string& remote_shell,
                           const std::vector<std::string>& direct_hosts);

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
