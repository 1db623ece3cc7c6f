#pragma once
// Commands run for <shell> requests without blocking the engine's event loops: one process-wide
// runner thread starts them (posix_spawn), watches them (epoll on each output pipe and pidfd),
// reaps every child and writes a ReplyHeader plus the captured output to the connection's local
// socket. A worker thread only queues a job.

#include <cstddef>
#include <memory>
#include <string_view>

namespace loadctl::shell {

struct ShellJob;

/// Queues `/bin/sh -c line`, run in a process group of its own (stdin /dev/null, stdout and
/// stderr captured together, as os:cmd's stderr_to_stdout). It ends when the shell exits (as
/// os:cmd, not when its output closes): what it left running in its group (`cmd &`) is killed
/// then. Its end is reported on `reply_fd` (the runner keeps a duplicate): at most
/// `max_output` bytes of output are kept, all are counted; a failed start is reported there too.
/// Null, with errno, when no duplicate could be made.
std::shared_ptr<ShellJob> start_shell_job(std::string_view line, int reply_fd, std::size_t max_output);

/// Kills the job's process group (SIGKILL) unless it was reaped already (or keeps it from
/// starting); the runner reaps it and reports nothing. For a connection that closes while its command runs (idle_timeout, end of run).
void cancel_shell_job(ShellJob& job);

}  // namespace loadctl::shell
