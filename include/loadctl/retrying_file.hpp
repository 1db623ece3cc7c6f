#pragma once
// An append-only results file that loses nothing the disk refused (full disk, I/O error): the
// bytes a write could not place stay queued in memory and go out, in order, at the next write
// or retry. Errors are values: the errno of the last failure, 0 once everything is on disk.

#include <cstddef>
#include <string>
#include <string_view>

namespace loadctl {

class RetryingFile {
 public:
  /// Creates (truncates) `path`, mode 0644; "-" writes on standard output. Throws
  /// std::system_error when it cannot.
  explicit RetryingFile(std::string path);
  ~RetryingFile();
  RetryingFile(const RetryingFile&) = delete;
  RetryingFile& operator=(const RetryingFile&) = delete;

  /// Queues `text` after what is still pending and writes as much as the disk takes.
  /// True when nothing is left pending.
  bool write(std::string_view text);
  /// Writes what is pending (after a failure); true when nothing is left.
  bool retry() { return write({}); }
  /// Writes what is pending, then fsync and close: errors that the kernel only reports at
  /// writeback show up here. True when everything reached the disk. Later writes fail (EBADF).
  bool close();

  /// errno of the last failed write, fsync or close; 0 after a write that left nothing pending.
  int error() const { return error_; }
  /// Bytes accepted but not yet on disk.
  std::size_t pending() const { return pending_.size(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  int error_ = 0;
  std::string pending_;
};

}  // namespace loadctl
