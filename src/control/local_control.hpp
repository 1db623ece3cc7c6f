#pragma once
// The controller's local control socket (`loadctl status`, `loadctl stop`): a Unix domain stream
// socket `control.sock` in the run's log directory, mode 0600, plus a symlink
// ~/.loadctl/run/<hostname>-<controller pid> -> that socket (directory mode 0700) so that runs can be found.
// Never TCP. Only the owner can connect (file modes, and SO_PEERCRED checked on both sides).
// Protocol: the client sends one request line of at most kMaxControlRequest bytes; the
// controller answers with text and closes (`stop`: "stopping", then the final status at the end
// of the run; the connection closes when the controller exits; `stop agent N`: one line).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadctl::control {

inline constexpr std::size_t kMaxControlRequest = 64;        ///< bytes, newline included
inline constexpr std::size_t kMaxControlReply = 1u << 20;    ///< what a client reads at most
inline constexpr const char* kControlSocketName = "control.sock";

struct ControlRequest {
  enum class Kind { status, status_json, stop, stop_agent, rate, pause, resume };
  Kind kind = Kind::status;
  unsigned agent = 0;  ///< stop_agent, and rate with one_agent: the agent's id (as `status` lists them)
  bool one_agent = false;  ///< rate: of `agent` only
  double rate = 0;         ///< rate: the factor ("2x"), or arrivals/s ("500/s") when per_second
  bool per_second = false;
  bool operator==(const ControlRequest&) const = default;
};

/// Largest rate factor and arrival rate (per second) that `rate` accepts.
inline constexpr double kMaxRateFactor = 1000;
/// Smallest rate factor: below it an arrival gap would overflow the clock (use pause).
inline constexpr double kMinRateFactor = 1e-6;
inline constexpr double kMaxArrivalRate = 1e6;
/// "2x", "0.5x" (a factor of the planned rate) or "500/s" (arrivals per second of the whole run,
/// or of the agent); nullopt when malformed, not positive or above the limits.
std::optional<ControlRequest> parse_rate(std::string_view value);

/// One request line without its newline: "status", "status json", "stop", "stop agent N" (N a
/// decimal agent id below 10^6, no sign or leading zero), "rate R" or "rate R agent N" (R as
/// parse_rate reads it), "pause", "resume". Anything else: nullopt.
std::optional<ControlRequest> parse_control_request(std::string_view line);
std::string encode_control_request(const ControlRequest& request);

/// What the bytes received so far on a control connection hold.
struct RequestScan {
  enum class Result { incomplete, complete, bad };
  Result result = Result::incomplete;
  ControlRequest request;
};
/// `received` is everything read so far (at most kMaxControlRequest bytes are ever read): a
/// complete line is parsed; no newline within kMaxControlRequest bytes, a NUL, or an unknown
/// request is bad.
RequestScan scan_control_request(std::string_view received);

/// ~/.loadctl/run ($HOME, else the password database).
std::string registry_dir();
/// Creates `dir` (mode 0700; its parent too, as 0700, if missing) or checks an existing one: it must
/// be a directory (not a symlink) owned by this user with no group or other access. Throws
/// std::runtime_error saying what is wrong.
void ensure_private_dir(const std::string& dir);

/// Checks an existing `dir` as ensure_private_dir does, without creating anything.
void check_private_dir(const std::string& dir);
/// "<hostname>-": registry entries are named <hostname>-<pid> (a home may be shared by hosts).
std::string registry_entry_prefix();
/// connect()s to the Unix socket `path` without blocking and closes at once: 0 when a listener
/// accepted or queued it, else the errno (ECONNREFUSED/ENOENT: nothing listens; EAGAIN: a
/// listener whose backlog is full).
int probe_socket(const std::string& path);
/// Before binding a Unix socket at `path`: a socket there that refuses connections (left by a
/// process that was killed) is removed. Throws std::runtime_error with `busy` when something
/// listens there, and when `path` is not a socket of this user (not ours to remove).
void remove_stale_socket(const std::string& path, const std::string& busy);
/// `path` ends in /control.sock and is a socket (not a symlink) owned by this user.
bool is_own_control_socket(const std::string& path);

/// A sockaddr_un for `path`; a path longer than sun_path is reached through /proc/self/fd/N/NAME
/// with N an O_PATH descriptor of its directory, kept open as long as this object lives.
class UnixAddress {
 public:
  explicit UnixAddress(const std::string& path);
  ~UnixAddress();
  UnixAddress(const UnixAddress&) = delete;
  UnixAddress& operator=(const UnixAddress&) = delete;
  const std::string& usable_path() const { return usable_; }

 private:
  int dir_fd_ = -1;
  std::string usable_;
};

/// The uid of the peer of a connected Unix socket, or nullopt.
std::optional<uid_t> peer_uid(int fd);

/// A controller found through the registry, -l or --run-dir.
struct RunningController {
  long pid = 0;        ///< 0 when found through a log directory
  std::string socket;  ///< path of control.sock
};

/// Entries <hostname>-<pid> of this host in the registry whose target is a control socket of
/// this user; an entry whose socket refuses connections (or is gone) is removed.
std::vector<RunningController> registered_controllers();
/// control.sock of `run_dir`, or of every ROOT/*/ when `log_root` is given, where it exists.
std::vector<RunningController> controllers_in(const std::string& run_dir, const std::string& log_root);

/// Sends `request` to the socket and returns what the controller answered until it closed the
/// connection (at most kMaxControlReply bytes), or nullopt when nothing listens there (error set
/// to why). `timeout` bounds the whole exchange; each chunk received is passed to `on_chunk`.
std::optional<std::string> control_exchange(const std::string& socket_path, const ControlRequest& request,
                                            std::chrono::milliseconds timeout, std::string& error,
                                            void (*on_chunk)(std::string_view) = nullptr);

}  // namespace loadctl::control
