// <monitor type="erlang"><mysqladmin port username password/>: Tsung runs `mysqladmin status` on
// the monitored host; loadctl runs it from the controller over TCP to host:port, the password in
// MYSQL_PWD (never on a command line), and reads "Threads: N  Questions: N" from its output:
// {mysql_threads,"host"} (sample) and {mysql_questions,"host"} (the increase since the last poll).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/pidfd.h>  // P_PIDFD; its functions lack extern "C" in glibc 2.36: called by syscall
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <fmt/format.h>

#include "monitor/remote_monitors.hpp"

extern char** environ;

namespace loadctl::monitor {
namespace {

namespace asio = boost::asio;

std::optional<double> status_field(std::string_view text, std::string_view key) {
  auto at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  text.remove_prefix(at + key.size());
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return v;
}

class MysqladminPoller final : public Exchange {
 public:
  MysqladminPoller(asio::io_context& ctx, const MonitorSpec& spec, std::chrono::milliseconds timeout, Sink sink)
      : Exchange(ctx, "mysqladmin", spec.host, timeout), out_(ctx), spec_(spec), sink_(std::move(sink)) {}

  void poll() override {
    if (!begin()) return;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return fail(fmt::format("pipe: {}", std::strerror(errno)));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    // asio sockets are not close-on-exec: the child must hold no controller socket.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    std::string port = std::to_string(spec_.mysql_port);
    std::string timeout = "--connect-timeout=" + std::to_string(kConnectTimeoutSeconds);
    std::vector<const char*> argv{"mysqladmin", "--no-defaults", "--protocol=TCP", "-h", spec_.host.c_str(), "-P",
                                  port.c_str(), "-u", spec_.mysql_user.c_str(), timeout.c_str(), "status", nullptr};
    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e)
      if (!std::string_view(*e).starts_with("MYSQL_PWD=")) env_text.emplace_back(*e);
    if (spec_.mysql_password) env_text.push_back("MYSQL_PWD=" + *spec_.mysql_password);
    std::vector<char*> env;
    for (std::string& e : env_text) env.push_back(e.data());
    env.push_back(nullptr);
    int rc = posix_spawnp(&pid_, "mysqladmin", &actions, nullptr, const_cast<char* const*>(argv.data()), env.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      pid_ = 0;
      return fail(fmt::format("cannot run mysqladmin: {}", std::strerror(rc)));
    }
    // Before the event loop runs the controller's waitpid(-1) reaper: a pidfd names this very
    // process even after the reaper took it and its pid was reused, so a kill never hits another.
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    out_.assign(fds[0]);
    text_.clear();
    read();
  }

 private:
  static constexpr int kConnectTimeoutSeconds = 2;  ///< its own bound; a shorter deadline kills it first

  void read() {
    out_.async_read_some(asio::buffer(buf_), [this, g = generation()](const boost::system::error_code& ec, std::size_t n) {
      if (!current(g)) return;
      if (text_.size() < 64 * 1024) text_.append(buf_.data(), n);
      if (!ec) return read();
      finished();  // EOF: mysqladmin exited
    });
  }

  void finished() {
    reap();
    boost::system::error_code ignored;
    out_.close(ignored);
    auto threads = status_field(text_, "Threads:");
    auto questions = status_field(text_, "Questions:");
    if (!threads || !questions) {
      std::string said = text_.substr(0, 300);  // e.g. "connect ... failed\nerror: 'Access denied ...'"
      std::replace(said.begin(), said.end(), '\n', ' ');
      while (!said.empty() && said.back() == ' ') said.pop_back();
      return fail(fmt::format("mysqladmin status said \"{}\"", said));
    }
    succeed();
    MetricSet set;
    set.sample(set.intern(fmt::format("{{mysql_threads,\"{}\"}}", host_), MetricKind::sample), *threads);
    if (auto step = questions_.next(*questions, std::chrono::steady_clock::now()))
      set.sample(set.intern(fmt::format("{{mysql_questions,\"{}\"}}", host_), MetricKind::sample), step->delta);
    sink_(set);
  }

  // The controller's SIGCHLD handler may have reaped it already: then waitid finds nothing.
  void reap(bool kill_first = false) {
    if (pidfd_ >= 0) {
      if (kill_first) syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
      siginfo_t info{};
      waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED | (kill_first ? 0 : WNOHANG));
      close(pidfd_);
    } else if (pid_ > 0) {  // no pidfd: by pid, as before
      if (kill_first) kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, kill_first ? 0 : WNOHANG);
    }
    pidfd_ = -1;
    pid_ = 0;
  }

  void close_transport() override {
    if (pid_ > 0) reap(/*kill_first=*/true);
    boost::system::error_code ignored;
    out_.close(ignored);
  }

  asio::posix::stream_descriptor out_;
  MonitorSpec spec_;
  Sink sink_;
  pid_t pid_ = 0;
  int pidfd_ = -1;  ///< pidfd_open(pid_): -1 when the kernel has none (before Linux 5.3)
  std::array<char, 4096> buf_{};
  std::string text_;
  CounterDelta questions_;
};

}  // namespace

std::unique_ptr<RemotePoller> make_mysqladmin_poller(asio::io_context& ctx, const MonitorSpec& spec,
                                                     std::chrono::milliseconds timeout, Sink sink) {
  return std::make_unique<MysqladminPoller>(ctx, spec, timeout, std::move(sink));
}

}  // namespace loadctl::monitor
