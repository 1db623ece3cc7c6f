#pragma once
// `loadctl status` and `loadctl stop`: the client end of the controller's control socket.

#include "controller/command_line.hpp"

namespace loadctl::controller {

/// Prints the status of every run found (Tsung's lines); 0 when one answered, 1 when none runs.
int status_command(const CommandLine& cl);
/// Stops the one run found and prints its final status; 1 when none runs, kUsageError when several
/// do (choose one with --run-dir), kRunFailed when it did not confirm the end.
int stop_command(const CommandLine& cl);
/// `rate R`, `pause`, `resume` [--agent N] for the one run found; prints the controller's answer.
int steer_command(const CommandLine& cl);

}  // namespace loadctl::controller
