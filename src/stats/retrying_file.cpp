#include <loadctl/retrying_file.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace loadctl {

RetryingFile::RetryingFile(std::string path) : path_(std::move(path)) {
  fd_ = path_ == "-" ? ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0)  // standard output, as it is
                     : ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot create " + path_);
}

RetryingFile::~RetryingFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool RetryingFile::write(std::string_view text) {
  pending_.append(text);
  if (fd_ < 0) {
    error_ = EBADF;
    return pending_.empty();
  }
  std::size_t done = 0;
  while (done < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      error_ = n < 0 ? errno : ENOSPC;  // a 0-byte write of a non-empty buffer: no room
      break;
    }
  }
  pending_.erase(0, done);  // a partial write keeps exactly the bytes that did not go out
  if (pending_.empty()) error_ = 0;
  return pending_.empty();
}

bool RetryingFile::close() {
  if (fd_ < 0) return pending_.empty() && error_ == 0;
  bool ok = write({});
  if (::fsync(fd_) != 0 && errno != EINVAL) {  // EINVAL: a pipe or device that cannot sync
    error_ = errno;
    ok = false;
  }
  if (::close(fd_) != 0 && errno != EINTR) {
    error_ = errno;
    ok = false;
  }
  fd_ = -1;
  return ok;
}

}  // namespace loadctl
