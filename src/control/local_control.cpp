#include "control/local_control.hpp"

#include <charconv>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace loadctl::control {

namespace {

std::optional<unsigned> parse_agent_id(std::string_view id) {
  if (id.empty() || id.size() > 6 || id.find_first_not_of("0123456789") != std::string_view::npos ||
      (id.size() > 1 && id[0] == '0'))
    return std::nullopt;
  unsigned n = 0;
  for (char c : id) n = n * 10 + static_cast<unsigned>(c - '0');
  return n;
}

}  // namespace

std::optional<ControlRequest> parse_rate(std::string_view value) {
  ControlRequest request{ControlRequest::Kind::rate};
  if (value.ends_with("/s")) {
    request.per_second = true;
    value.remove_suffix(2);
  } else if (value.ends_with('x')) {
    value.remove_suffix(1);
  } else {
    return std::nullopt;
  }
  if (value.empty() || value.size() > 12 || value.find_first_not_of("0123456789.") != std::string_view::npos)
    return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || !(v > 0)) return std::nullopt;
  if (v > (request.per_second ? kMaxArrivalRate : kMaxRateFactor)) return std::nullopt;
  if (!request.per_second && v < kMinRateFactor) return std::nullopt;
  request.rate = v;
  return request;
}

std::optional<ControlRequest> parse_control_request(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line == "status") return ControlRequest{ControlRequest::Kind::status};
  if (line == "status json") return ControlRequest{ControlRequest::Kind::status_json};
  if (line == "stop") return ControlRequest{ControlRequest::Kind::stop};
  if (line == "pause") return ControlRequest{ControlRequest::Kind::pause};
  if (line == "resume") return ControlRequest{ControlRequest::Kind::resume};
  constexpr std::string_view kStopAgent = "stop agent ", kRate = "rate ", kAgent = " agent ";
  if (line.starts_with(kStopAgent)) {
    auto id = parse_agent_id(line.substr(kStopAgent.size()));
    if (!id) return std::nullopt;
    ControlRequest request{ControlRequest::Kind::stop_agent};
    request.agent = *id;
    return request;
  }
  if (!line.starts_with(kRate)) return std::nullopt;
  line.remove_prefix(kRate.size());
  auto agent_at = line.find(kAgent);
  auto request = parse_rate(line.substr(0, agent_at));
  if (!request || agent_at == std::string_view::npos) return request;
  auto id = parse_agent_id(line.substr(agent_at + kAgent.size()));
  if (!id) return std::nullopt;
  request->one_agent = true;
  request->agent = *id;
  return request;
}

std::string encode_control_request(const ControlRequest& request) {
  switch (request.kind) {
    case ControlRequest::Kind::status: return "status\n";
    case ControlRequest::Kind::status_json: return "status json\n";
    case ControlRequest::Kind::stop: return "stop\n";
    case ControlRequest::Kind::stop_agent: return fmt::format("stop agent {}\n", request.agent);
    case ControlRequest::Kind::pause: return "pause\n";
    case ControlRequest::Kind::resume: return "resume\n";
    case ControlRequest::Kind::rate: {
      // Fixed notation, shortest round trip: what parse_rate reads back (never "1e-05").
      char number[64];
      auto end = std::to_chars(number, number + sizeof number, request.rate, std::chars_format::fixed).ptr;
      return fmt::format("rate {}{}{}\n", std::string_view(number, static_cast<std::size_t>(end - number)),
                         request.per_second ? "/s" : "x", request.one_agent ? fmt::format(" agent {}", request.agent) : "");
    }
  }
  return "status\n";
}

RequestScan scan_control_request(std::string_view received) {
  RequestScan scan;
  std::size_t newline = received.find('\n');
  std::string_view line = received.substr(0, newline);
  if (line.find('\0') != std::string_view::npos || line.size() >= kMaxControlRequest) {
    scan.result = RequestScan::Result::bad;
    return scan;
  }
  if (newline == std::string_view::npos) return scan;  // incomplete
  auto request = parse_control_request(line);
  scan.result = request ? RequestScan::Result::complete : RequestScan::Result::bad;
  if (request) scan.request = *request;
  return scan;
}

std::string registry_dir() {
  const char* home = std::getenv("HOME");
  std::string base;
  if (home && *home) {
    base = home;
  } else if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_dir) {
    base = pw->pw_dir;
  } else {
    throw std::runtime_error("no home directory (HOME unset) for ~/.loadctl/run");
  }
  return base + "/.loadctl/run";
}

namespace {

void make_private_dir(const std::string& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) == 0) return;
  if (errno != ENOENT) throw std::runtime_error(fmt::format("{}: {}", dir, std::strerror(errno)));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error(fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
}

}  // namespace

void ensure_private_dir(const std::string& dir) {
  std::size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_private_dir(dir.substr(0, slash));
  make_private_dir(dir);
  check_private_dir(dir);
}

void check_private_dir(const std::string& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) throw std::runtime_error(fmt::format("{}: {}", dir, std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) throw std::runtime_error(fmt::format("{} is not a directory (a symlink?)", dir));
  if (st.st_uid != geteuid()) throw std::runtime_error(fmt::format("{} belongs to uid {}, not to this user", dir, st.st_uid));
  if ((st.st_mode & 077) != 0)
    throw std::runtime_error(fmt::format("{} has mode {:o}: others can reach it (chmod 700)", dir, st.st_mode & 0777));
}

UnixAddress::UnixAddress(const std::string& path) : usable_(path) {
  if (path.size() < sizeof(sockaddr_un{}.sun_path)) return;
  std::size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  dir_fd_ = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) throw std::runtime_error(fmt::format("{}: {}", dir, std::strerror(errno)));
  usable_ = fmt::format("/proc/self/fd/{}/{}", dir_fd_, path.substr(slash + 1));
  if (usable_.size() >= sizeof(sockaddr_un{}.sun_path))
    throw std::runtime_error(fmt::format("socket name too long: {}", path));
}

UnixAddress::~UnixAddress() {
  if (dir_fd_ >= 0) close(dir_fd_);
}

std::optional<uid_t> peer_uid(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return std::nullopt;
  return cred.uid;
}

namespace {

// connect() of `fd` to the Unix socket `path`: 0, or the errno (ENAMETOOLONG when the path cannot
// be reached at all).
int connect_unix(int fd, const std::string& path) {
  try {
    UnixAddress address(path);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address.usable_path().c_str(), address.usable_path().size() + 1);
    return connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0 ? 0 : errno;
  } catch (const std::exception&) {
    return ENAMETOOLONG;
  }
}

}  // namespace

std::string registry_entry_prefix() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) std::strcpy(name, "localhost");
  return std::string(name) + "-";
}

int probe_socket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return errno;
  int result = connect_unix(fd, path);
  close(fd);
  return result == EINPROGRESS ? 0 : result;
}

void remove_stale_socket(const std::string& path, const std::string& busy) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
    throw std::runtime_error(fmt::format("{} exists and is not a socket of this user", path));
  int probe = probe_socket(path);
  if (probe == 0 || probe == EAGAIN) throw std::runtime_error(busy);
  if (probe != ECONNREFUSED) throw std::runtime_error(fmt::format("{}: {} (not removed)", path, std::strerror(probe)));
  unlink(path.c_str());  // refused: nothing listens there any more
}

bool is_own_control_socket(const std::string& path) {
  std::string_view name = path;
  std::string_view base = kControlSocketName;
  if (name.size() <= base.size() || !name.ends_with(base) || name[name.size() - base.size() - 1] != '/') return false;
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == geteuid();
}

std::vector<RunningController> registered_controllers() {
  std::vector<RunningController> found;
  std::string dir;
  try {
    dir = registry_dir();
    check_private_dir(dir);  // never created here; one we cannot trust is not read
  } catch (const std::exception&) {
    return found;
  }
  std::string prefix = registry_entry_prefix();
  DIR* d = opendir(dir.c_str());
  if (!d) return found;
  while (const dirent* e = readdir(d)) {
    // Entries of other hosts (a home shared over NFS) are theirs: neither listed nor removed.
    std::string_view name = e->d_name;
    if (!name.starts_with(prefix)) continue;
    name.remove_prefix(prefix.size());
    if (name.empty() || name.find_first_not_of("0123456789") != std::string_view::npos || name.size() > 9) continue;
    long pid = std::strtol(name.data(), nullptr, 10);
    std::string entry = dir + "/" + e->d_name;
    char target[4096];
    ssize_t n = readlink(entry.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    int probe = probe_socket(target);
    if (probe == ECONNREFUSED || probe == ENOENT) {
      unlink(entry.c_str());  // nothing listens there: its controller was killed before removing it
      continue;
    }
    if (!is_own_control_socket(target)) continue;
    found.push_back({pid, target});
  }
  closedir(d);
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return found;
}

std::vector<RunningController> controllers_in(const std::string& run_dir, const std::string& log_root) {
  std::vector<RunningController> found;
  auto add = [&found](const std::string& dir) {
    std::string path = dir + "/" + kControlSocketName;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) found.push_back({0, path});
  };
  if (!run_dir.empty()) {
    add(run_dir);
    return found;
  }
  DIR* d = opendir(log_root.c_str());
  if (!d) return found;
  std::vector<std::string> names;
  while (const dirent* e = readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) add(log_root + "/" + name);
  return found;
}

namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Waits until `fd` is ready for `events` before `deadline`; false on timeout or error.
bool wait_ready(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

std::optional<std::string> control_exchange(const std::string& socket_path, const ControlRequest& request,
                                            std::chrono::milliseconds timeout, std::string& error,
                                            void (*on_chunk)(std::string_view)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Non-blocking: a connect to a listener whose backlog is full (a controller stopped with
  // Ctrl-Z) fails with EAGAIN instead of blocking for ever.
  Fd sock{socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (sock.fd < 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  if (int failed = connect_unix(sock.fd, socket_path)) {
    errno = failed;
    if (errno == EAGAIN) {
      error = "busy (the controller does not accept connections)";
      return std::nullopt;
    }
    if (errno != EINPROGRESS) {
      error = std::strerror(errno);
      return std::nullopt;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (!wait_ready(sock.fd, POLLOUT, deadline)) {
      error = "busy (the controller does not accept connections)";
      return std::nullopt;
    }
    if (getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
      error = std::strerror(so_error ? so_error : errno);
      return std::nullopt;
    }
  }
  auto uid = peer_uid(sock.fd);
  if (!uid || *uid != geteuid()) {
    error = "the socket belongs to another user";
    return std::nullopt;
  }
  std::string line = encode_control_request(request);
  // The line is shorter than any socket buffer: one send when the socket is writable.
  if (!wait_ready(sock.fd, POLLOUT, deadline)) {
    error = "no answer in time";
    return std::nullopt;
  }
  if (send(sock.fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string reply;
  char buffer[4096];
  for (;;) {
    if (!wait_ready(sock.fd, POLLIN, deadline)) {
      error = "no answer in time";
      return std::nullopt;
    }
    ssize_t n = recv(sock.fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      if (reply.empty()) {
        error = "closed without an answer";
        return std::nullopt;
      }
      break;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      error = std::strerror(errno);
      return std::nullopt;
    }
    std::size_t keep = std::min<std::size_t>(static_cast<std::size_t>(n), kMaxControlReply - reply.size());
    if (on_chunk) on_chunk(std::string_view(buffer, keep));
    reply.append(buffer, keep);
    if (reply.size() >= kMaxControlReply) break;
  }
  return reply;
}

}  // namespace loadctl::control
