#include "shell_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "shell_request.hpp"

extern char** environ;

namespace loadctl::shell {

struct ShellJob {
  /// One registration with epoll: the job and which of its descriptors.
  struct Watch {
    ShellJob* job;
    bool process;
  };
  std::mutex mutex;          ///< pid, reaped, cancelled: cancel_shell_job runs on the engine's threads
  std::string line;          ///< the command line, until spawned
  pid_t pid = -1;            ///< -1 until spawned (by the runner thread)
  bool reaped = false, cancelled = false;
  int out = -1, pidfd = -1, reply = -1;
  std::size_t max_output = 0;
  ReplyHeader header;
  std::string output;
  Watch out_watch{this, false}, process_watch{this, true};
};

namespace {

class Runner {
 public:
  static Runner& instance() {
    static Runner* runner = new Runner;  // never destroyed: its thread may be in epoll_wait at exit
    return *runner;
  }

  /// Queues a job: the runner thread starts it (the caller, a worker thread, never waits for it).
  void submit(std::shared_ptr<ShellJob> job) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(job));
    }
    std::uint64_t one = 1;
    (void)::write(wake_, &one, sizeof one);
  }

 private:
  Runner() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wake-up
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev);
    std::thread([this] { run(); }).detach();
  }

  void run() {
    epoll_event events[64];
    for (;;) {
      int n = ::epoll_wait(epoll_, events, 64, -1);
      for (int i = 0; i < n; ++i) {
        if (!events[i].data.ptr) {
          start_queued();
          continue;
        }
        auto* watch = static_cast<ShellJob::Watch*>(events[i].data.ptr);
        ShellJob& job = *watch->job;
        // on_exit closes the pipe too: an event of this batch for it is stale
        if ((watch->process ? job.pidfd : job.out) < 0) continue;
        if (watch->process) on_exit(job);
        else on_output(job);
        if (job.out < 0 && job.pidfd < 0) finish(job);
      }
      finished_.clear();  // after the batch: an event of it may point at a finished job
    }
  }

  void start_queued() {
    std::uint64_t n;
    (void)::read(wake_, &n, sizeof n);
    std::deque<std::shared_ptr<ShellJob>> queued;
    {
      std::lock_guard lock(mutex_);
      queued.swap(queue_);
    }
    for (auto& job : queued) start(std::move(job));
  }

  void start(std::shared_ptr<ShellJob> job) {
    int err = 0;
    {
      std::lock_guard lock(job->mutex);
      if (job->cancelled) {
        ::close(job->reply);
        return;
      }
      err = spawn(*job);
    }
    if (err) {
      job->header.outcome = Outcome::spawn_failed;
      job->header.code = err;
      jobs_.insert(job);
      finish(*job);
      return;
    }
    jobs_.insert(job);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &job->out_watch;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, job->out, &ev);
    ev.data.ptr = &job->process_watch;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, job->pidfd, &ev);
  }

  // At most 64 reads a call (level-triggered: epoll reports the rest), so a command that writes
  // without end does not hold this thread.
  void on_output(ShellJob& job) {
    if (read_output(job, 64)) close_output(job);
  }

  // Appends what the pipe holds (up to max_reads reads); true at its end (EOF or an error).
  static bool read_output(ShellJob& job, int max_reads) {
    char buf[16384];
    for (int i = 0; i < max_reads; ++i) {
      ssize_t r = ::read(job.out, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && errno == EAGAIN) return false;
      if (r <= 0) return true;
      job.header.total += static_cast<std::uint64_t>(r);
      std::size_t room = job.max_output - std::min(job.max_output, job.output.size());
      job.output.append(buf, std::min<std::size_t>(room, static_cast<std::size_t>(r)));
    }
    return false;
  }

  void close_output(ShellJob& job) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, job.out, nullptr);
    ::close(job.out);
    job.out = -1;
  }

  // The command line has finished when its shell exits: Tsung's os:cmd returns then (its marker
  // is echoed after the line), not when every process holding the output closes it. So: the
  // shell is checked with WNOWAIT (its zombie keeps the group id this job's), what it left
  // running in its group (`cmd &`) is killed, the output already in the pipe is taken (bounded:
  // a writer outside the group cannot hold this thread), the pipe closed, the shell reaped.
  void on_exit(ShellJob& job) {
    siginfo_t info{};
    {
      std::lock_guard lock(job.mutex);  // cancel_shell_job signals the group only before reaped
      if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(job.pidfd), &info,
                   WEXITED | WNOHANG | WNOWAIT) != 0 ||
          info.si_pid == 0)
        return;  // not yet
      ::kill(-job.pid, SIGKILL);
    }
    if (job.out >= 0) {
      (void)read_output(job, 64);  // 1 MiB: more than a pipe holds
      close_output(job);
    }
    {
      std::lock_guard lock(job.mutex);
      siginfo_t reaped{};
      (void)::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(job.pidfd), &reaped, WEXITED | WNOHANG);
      job.reaped = true;
    }
    job.header.outcome = info.si_code == CLD_EXITED ? Outcome::exited : Outcome::signaled;
    job.header.code = info.si_status;
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, job.pidfd, nullptr);
    ::close(job.pidfd);
    job.pidfd = -1;
  }

  // Reports the job on its connection's socket, unless the connection is gone (cancelled, or
  // the peer closed: EPIPE). The engine reads that socket for the connection's whole life.
  void finish(ShellJob& job) {
    bool cancelled;
    {
      std::lock_guard lock(job.mutex);
      cancelled = job.cancelled;
    }
    if (!cancelled) {
      job.header.kept = job.output.size();
      send_all(job.reply, {reinterpret_cast<const char*>(&job.header), sizeof job.header}, job.output);
    }
    ::close(job.reply);
    std::string().swap(job.output);  // the job may live on (finished_, the connection's pointer)
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it)
      if (it->get() == &job) {
        finished_.push_back(*it);
        jobs_.erase(it);
        break;
      }
  }

  // Sends `head` then `tail` (sendmsg: no copy of the output into one record).
  static void send_all(int fd, std::string_view head, std::string_view tail) {
    int idle_polls = 0;
    while ((!head.empty() || !tail.empty()) && idle_polls < 30) {
      iovec iov[2] = {{const_cast<char*>(head.data()), head.size()}, {const_cast<char*>(tail.data()), tail.size()}};
      msghdr msg{};
      msg.msg_iov = head.empty() ? iov + 1 : iov;
      msg.msg_iovlen = head.empty() ? 1 : 2;
      ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        auto n = static_cast<std::size_t>(w);
        std::size_t from_head = std::min(n, head.size());
        head.remove_prefix(from_head);
        tail.remove_prefix(n - from_head);
        idle_polls = 0;
      } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 1000) == 0) ++idle_polls;  // the engine stopped reading it: give up after 30 s
      } else {
        return;  // EPIPE: the connection closed
      }
    }
  }

  static int spawn(ShellJob& job);

  int epoll_, wake_;
  std::mutex mutex_;                                    ///< queue_
  std::deque<std::shared_ptr<ShellJob>> queue_;         ///< submitted, not started yet
  std::unordered_set<std::shared_ptr<ShellJob>> jobs_;  ///< running (runner thread only), until reported
  std::vector<std::shared_ptr<ShellJob>> finished_;     ///< reported in this epoll batch
};

// Called by the runner thread with the job's mutex held; 0 or an errno. posix_spawn is glibc's
// clone(CLONE_VM|CLONE_VFORK): this thread waits until the child's exec, which on a loaded
// machine can be milliseconds (measured: 10-18 ms at load 11 on 2 cores), hence not a worker.
int Runner::spawn(ShellJob& job) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return errno;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);  // os:cmd's stderr_to_stdout
  // Sockets (the engine's, the control connection) are not all close-on-exec.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: cancel kills what it started too
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char sh[] = "/bin/sh", dash_c[] = "-c";
  char* argv[] = {sh, dash_c, job.line.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, sh, &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return rc;
  }
  // glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++: the system call itself
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {  // out of descriptors: stop it, wait for it here
    int saved = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(pipe_fds[0]);
    return saved;
  }
  ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  job.pid = pid;
  job.out = pipe_fds[0];
  job.pidfd = pidfd;
  return 0;
}

}  // namespace

std::shared_ptr<ShellJob> start_shell_job(std::string_view line, int reply_fd, std::size_t max_output) {
  auto job = std::make_shared<ShellJob>();
  job->reply = ::fcntl(reply_fd, F_DUPFD_CLOEXEC, 0);
  if (job->reply < 0) return nullptr;
  job->line.assign(line);
  job->max_output = max_output;
  Runner::instance().submit(job);
  return job;
}

void cancel_shell_job(ShellJob& job) {
  std::lock_guard lock(job.mutex);
  job.cancelled = true;  // not started yet: never will be
  if (job.pid > 0 && !job.reaped) ::kill(-job.pid, SIGKILL);  // not reaped: the group id is still this job's
}

}  // namespace loadctl::shell
