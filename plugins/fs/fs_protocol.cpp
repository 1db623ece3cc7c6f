// The fs plugin (Tsung's ts_fs): file operations on the agent host, for <server type="erlang">
// (no network). FsConnection keeps what Tsung's fs_session keeps (the open file and its
// position). When a request is sent (encode) its command goes to a small process-wide pool of
// I/O threads, as Tsung's raw file calls go to the Erlang VM's I/O threads, so that a slow file
// system does not stall the other users of the worker; the pool thread writes one byte into
// the engine's local socket (ConnectionContext::local_fd), which completes the request in
// on_data, where the results are counted: the request time is the command's. Counters are
// Tsung's: size_sent (the bytes a write asks for), size_rcv (read: the file's size; read_chunk:
// the size asked, also at end of file), error_fs_<op> on failures, as ts_fs:parse counts them.
// The trust rule (docs/security.md): an agent started without --allow-local refuses every fs
// request (error_fs_not_allowed, the user goes on) and touches no file.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "fs_request.hpp"
#include "loadctl/local_protocol.hpp"

namespace loadctl::fs {
namespace {

// Writes `size` bytes of the pattern at `offset` (pwrite) or at the file's position (-1); stops
// (false) within 64 KiB once `cancelled` (its user ended: a write of any size ends with it).
bool write_pattern(int fd, std::uint64_t size, off_t offset, const std::atomic<bool>& cancelled) {
  std::string_view pattern = fs_pattern();  // 64 KiB
  while (size > 0) {
    if (cancelled.load(std::memory_order_relaxed)) return false;
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, pattern.size()));
    ssize_t w = offset < 0 ? ::write(fd, pattern.data(), n) : ::pwrite(fd, pattern.data(), n, offset);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    size -= static_cast<std::uint64_t>(w);
    if (offset >= 0) offset += w;
  }
  return true;
}

// Reads up to `size` bytes at `offset` into scratch space: the bytes read, or -1 (also once
// `cancelled`, checked every 64 KiB).
std::int64_t read_at(int fd, std::uint64_t size, off_t offset, const std::atomic<bool>& cancelled) {
  static thread_local std::string scratch(64 * 1024, '\0');
  std::int64_t total = 0;
  while (static_cast<std::uint64_t>(total) < size) {
    if (cancelled.load(std::memory_order_relaxed)) return -1;
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size - static_cast<std::uint64_t>(total), scratch.size()));
    ssize_t r = ::pread(fd, scratch.data(), n, offset + total);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    total += r;
  }
  return total;
}

// open(2) that never waits for a FIFO's other end (8 such opens would hold every pool thread):
// O_NONBLOCK for the open only (a FIFO for writing without a reader fails: ENXIO).
int open_file(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC, 0666);
  if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

/// One user's file state and the command in flight: shared by its connection and, while the
/// command runs, the pool thread (the connection may close meanwhile: the last owner closes).
struct FsState {
  ~FsState() {
    if (file >= 0) ::close(file);
    ::close(reply_fd);
  }
  void run();

  int reply_fd = -1;
  int file = -1;               ///< the open file (Tsung's iodev), -1 when none
  std::uint64_t position = 0;  ///< where the next chunk goes (Tsung's fs_session position)
  // The command in flight, set on the worker thread before it is queued.
  Command command = Command::write;
  bool open_for_read = false;
  std::uint64_t size = 0;
  std::string path, dest;
  // Its outcome, read by on_data on the worker thread once the byte arrived.
  const char* error = nullptr;  ///< "fs_open", ... (counted as error_<it>)
  std::uint64_t size_rcv = 0;
  std::atomic<bool> done{false};  ///< release/acquire for the fields above, besides the socket
  std::atomic<bool> cancelled{false};  ///< the connection is gone: stop (checked every 64 KiB)
};

/// The I/O threads: FIFO, a fixed number started at the first command.
class FsPool {
 public:
  static FsPool& instance() {
    static FsPool* pool = new FsPool;  // never destroyed: its threads may wait at exit
    return *pool;
  }
  void submit(std::shared_ptr<FsState> state) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(state));
    }
    ready_.notify_one();
  }

 private:
  static constexpr unsigned kThreads = 8;
  FsPool() {
    for (unsigned i = 0; i < kThreads; ++i) std::thread([this] { work(); }).detach();
  }
  void work() {
    for (;;) {
      std::shared_ptr<FsState> state;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty(); });
        state = std::move(queue_.front());
        queue_.pop_front();
      }
      state->run();
      state->done.store(true, std::memory_order_release);
      char done = 'd';
      (void)::send(state->reply_fd, &done, 1, MSG_NOSIGNAL);  // fails only when the user is gone
    }
  }
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<FsState>> queue_;
};

// Tsung's ts_fs:get_message2 then parse, command by command.
void FsState::run() {
  error = nullptr;
  size_rcv = 0;
  if (cancelled.load(std::memory_order_relaxed)) return;  // queued, its user gone since
  switch (command) {
    case Command::read: {  // ts_utils:read_file_raw: the whole file
      int fd = open_file(path, O_RDONLY);
      struct stat st {};
      std::int64_t got =
          fd >= 0 && ::fstat(fd, &st) == 0 ? read_at(fd, static_cast<std::uint64_t>(st.st_size), 0, cancelled) : -1;
      if (fd >= 0) ::close(fd);
      if (got < 0) error = "fs_read";
      else size_rcv = static_cast<std::uint64_t>(st.st_size);
      break;
    }
    case Command::write: {  // file:write_file: created or truncated
      int fd = open_file(path, O_WRONLY | O_CREAT | O_TRUNC);
      bool ok = fd >= 0 && write_pattern(fd, size, -1, cancelled);
      if (fd >= 0 && ::close(fd) != 0) ok = false;
      if (!ok) error = "fs_write";
      break;
    }
    case Command::open: {
      int fd = open_file(path, open_for_read ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC);
      if (fd < 0) {  // Tsung keeps the previous iodev and position (ts_fs:parse on {error, _})
        error = "fs_open";
        break;
      }
      if (file >= 0) ::close(file);  // Tsung leaks the previous one
      file = fd;
      position = 0;
      break;
    }
    case Command::close:
      if (file < 0 || ::close(file) != 0) error = "fs_close";
      else position = 0;
      file = -1;
      break;
    case Command::read_chunk: {  // file:pread at the position; eof starts again at 0
      std::int64_t got = file >= 0 ? read_at(file, size, static_cast<off_t>(position), cancelled) : -1;
      if (got < 0) {
        error = "fs_pread";
        break;
      }
      size_rcv = size;  // Tsung counts the size asked, also for a short read or eof
      position = got == 0 && size > 0 ? 0 : position + size;
      break;
    }
    case Command::write_chunk:
      if (file >= 0 && write_pattern(file, size, static_cast<off_t>(position), cancelled)) position += size;
      else error = "fs_pwrite";
      break;
    case Command::remove:
      ::unlink(path.c_str());  // Tsung logs a failed delete and counts nothing
      break;
    case Command::stat: {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) error = "fs_stat";
      break;
    }
    case Command::make_dir:
      if (::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) error = "fs_mkdir";
      break;
    case Command::del_dir:
      if (::rmdir(path.c_str()) != 0) error = "fs_del_dir";
      break;
    case Command::make_symlink:
      if (::symlink(path.c_str(), dest.c_str()) != 0 && errno != EEXIST) error = "fs_mksymlink";
      break;
  }
}

class FsConnection final : public Connection {
 public:
  explicit FsConnection(int reply_fd) : state_(std::make_shared<FsState>()) { state_->reply_fd = reply_fd; }
  ~FsConnection() override { state_->cancelled.store(true, std::memory_order_relaxed); }

  bool on_open(ConnectionServices& s) override {
    size_rcv_ = s.metric("size_rcv", ConnMetricKind::counter);
    size_sent_ = s.metric("size_sent", ConnMetricKind::counter);
    return false;
  }

  void encode(ConnectionServices& s, const RequestSpec& spec, const EncodeContext& ctx, std::string&) override {
    const auto& r = static_cast<const FsRequest&>(spec);
    FsState& st = *state_;  // the pool has no command of this user now: one request at a time
    if (!shell_allowed()) {  // the trust rule (docs/security.md): nothing touches this host's files
      refused_ = true;
      char byte = 'r';
      if (::send(st.reply_fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) s.error("fs_local_reply");
      return;
    }
    st.command = r.command;
    st.open_for_read = r.open_for_read;
    st.size = r.size;
    st.path.clear();
    r.path.render(ctx.vars, st.path, ctx.missing_vars);
    st.dest.clear();
    r.dest.render(ctx.vars, st.dest, ctx.missing_vars);
    if (r.command == Command::write || r.command == Command::write_chunk) s.count(size_sent_, r.size);  // Tsung's size_msg
    FsPool::instance().submit(state_);
  }

  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char>, ResponseInfo& info) override {
    if (refused_) {
      refused_ = false;
      if (!pending) return {1, ConnEvent::none};
      info.error = "fs_not_allowed";
      return {1, ConnEvent::failed};
    }
    if (!pending || !state_->done.exchange(false, std::memory_order_acquire)) return {1, ConnEvent::none};
    if (state_->error) s.error(state_->error);  // counted, the user goes on (Tsung: ack_done)
    if (state_->size_rcv) s.count(size_rcv_, state_->size_rcv);
    info.content = std::string_view{};
    return {1, ConnEvent::complete};
  }

 private:
  std::shared_ptr<FsState> state_;
  bool refused_ = false;  ///< the request in flight was refused (its byte is the engine's to read)
  ConnMetric size_rcv_ = 0, size_sent_ = 0;
};

class FsProtocol final : public LocalProtocol {
 public:
  std::string_view element() const override { return "fs"; }
  std::string_view session_type() const override { return "ts_fs"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext& ctx) const override {
    return parse_fs(element, ctx);
  }
  std::unique_ptr<Connection> open_local(int fd, const ConnectionContext&) const override {
    return std::make_unique<FsConnection>(fd);
  }
};

}  // namespace
}  // namespace loadctl::fs

void loadctl_register_fs(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::fs::FsProtocol>());
}
