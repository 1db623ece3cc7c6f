#include "controller/launcher.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

extern char** environ;

namespace loadctl::controller {

namespace fs = std::filesystem;

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

pid_t launch(const LaunchSpec& spec) {
  std::vector<std::string> argv;
  if (!spec.remote_shell.empty()) {
    argv.push_back(spec.remote_shell);
    argv.push_back(spec.host);
  }
  argv.push_back(spec.agent_path);
  argv.insert(argv.end(), spec.agent_args.begin(), spec.agent_args.end());

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, spec.log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
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
  if (rc != 0) throw std::runtime_error(fmt::format("cannot start '{}': {}", argv[0], std::strerror(rc)));
  return pid;
}

}  // namespace loadctl::controller
