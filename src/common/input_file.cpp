// O_NONBLOCK keeps open() from waiting for a FIFO's writer; fstat on the opened descriptor then
// refuses anything but a regular file, so there is no window between the check and the read.

#include "loadctl/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace loadctl {

namespace {

std::string human_bytes(std::uint64_t n) {
  if (n >= (1ull << 30) && n % (1ull << 30) == 0) return fmt::format("{} GiB", n >> 30);
  if (n >= (1ull << 20) && n % (1ull << 20) == 0) return fmt::format("{} MiB", n >> 20);
  return fmt::format("{} bytes", n);
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string read_regular_file(const std::string& path, std::uint64_t max_bytes) {
  Fd file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (file.fd < 0) throw std::runtime_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw std::runtime_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(fmt::format("{} is not a regular file", path));
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    throw std::runtime_error(fmt::format("{} is larger than the limit of {}", path, human_bytes(max_bytes)));
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (true) {
    if (got == text.size()) {
      // The file may have grown since fstat: read on, but never past the limit.
      if (text.size() >= max_bytes + 1) break;
      text.resize(std::min<std::uint64_t>(max_bytes + 1, text.size() + 65536));
    }
    ssize_t n = ::read(file.fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max_bytes)
    throw std::runtime_error(fmt::format("{} is larger than the limit of {}", path, human_bytes(max_bytes)));
  text.resize(got);
  return text;
}

}  // namespace loadctl
