#include "access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace loadtarget {

AccessLog::AccessLog(const std::string& path, unsigned shards)
    : shard_count_(shards), shards_(std::make_unique<Shard[]>(shards)) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(fmt::format("cannot open access log {}: {}", path, std::strerror(errno)));
  writer_ = std::thread([this] { run_writer(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_one();
  writer_.join();
  write_pending();
  ::close(fd_);
}

void AccessLog::record(unsigned shard, std::string_view remote_ip, std::string_view method,
                       std::string_view target, int status) {
  auto& s = shards_[shard % shard_count_];
  std::lock_guard lock(s.mutex);
  fmt::format_to(std::back_inserter(s.pending), "{} {} {} {}\n", remote_ip, method, target, status);
}

void AccessLog::run_writer() {
  std::unique_lock lock(stop_mutex_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(100));
    lock.unlock();
    write_pending();
    lock.lock();
  }
}

void AccessLog::write_pending() {
  out_.clear();
  for (unsigned i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    out_ += shards_[i].pending;
    shards_[i].pending.clear();
  }
  const char* p = out_.data();
  std::size_t left = out_.size();
  while (left > 0) {
    auto n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // disk full or similar: drop rather than stall the server
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace loadtarget
