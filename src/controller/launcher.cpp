#include "controller/launcher.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

extern char** environ;

namespace loadctl::controller {

namespace fs = std::filesystem;

namespace {

// A few dozen bytes into a fresh pipe: never blocks (the pipe holds 64 KiB). A child that already
// exited gives EPIPE, not a SIGPIPE that would end the controller: the signal is blocked for
// the write and a pending one consumed.
void write_all(int fd, std::string_view text) {
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  timespec zero{};
  while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
}

}  // namespace

std::string find_agent_binary() {
  if (const char* env = std::getenv("LOADCTL_AGENT"); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& candidate : {self.parent_path() / "loadagent",
                                      self.parent_path().parent_path() / "agent" / "loadagent"}) {
      if (fs::exists(candidate, ec)) return candidate.string();
    }
  }
  return "loadagent";  // from PATH
}

bool dials_listening_agent(const AgentSlot& slot, const std::string& remote_shell,
                           const std::vector<std::string>& direct_hosts) {
  bool listed = std::any_of(direct_hosts.begin(), direct_hosts.end(),
                            [&](const std::string& h) { return h == slot.host || h == slot.address; });
  if (slot.local) return slot.monitor_only && listed;
  return remote_shell == "direct" || listed;
}

pid_t launch(const LaunchSpec& spec) {
  std::vector<std::string> argv;
  if (!spec.remote_shell.empty()) {
    argv.push_back(spec.remote_shell);
    argv.push_back(spec.host);
  }
  argv.push_back(spec.agent_path);
  argv.insert(argv.end(), spec.agent_args.begin(), spec.agent_args.end());

  // stdin: a pipe holding stdin_text (the token), so no secret is ever in argv. O_CLOEXEC keeps
  // both ends out of other children; dup2 onto fd 0 clears the flag for this one.
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
  // Owner-only: with dumptraffic an agent logs every message, credentials included.
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, spec.log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // Nothing else: asio sockets are not close-on-exec, and an agent (or ssh) must not hold the
  // control port's listening socket or other agents' connections.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group: a Ctrl-C on the terminal reaches the controller, which stops agents itself.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(pipe_fds[0]);
  // A command that died before reading its stdin is reported by its exit status (SIGCHLD).
  if (rc == 0) write_all(pipe_fds[1], spec.stdin_text);
  close(pipe_fds[1]);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot start '{}': {}", argv[0], std::strerror(rc)));
  return pid;
}

}  // namespace loadctl::controller
