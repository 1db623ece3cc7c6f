#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace loadtarget {

/// Access log: one line per request, `<remote_ip> <method> <target> <status>`.
/// Each I/O thread appends to its own shard; a background thread writes every 100 ms and at exit.
class AccessLog {
 public:
  /// Opens `path` for appending (throws std::runtime_error on failure); `shards` = I/O threads.
  AccessLog(const std::string& path, unsigned shards);
  /// Stops the writer thread and writes what is left.
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  /// Records one request; `shard` is the calling thread's index.
  void record(unsigned shard, std::string_view remote_ip, std::string_view method,
              std::string_view target, int status);

 private:
  struct alignas(64) Shard {
    std::mutex mutex;
    std::string pending;
  };

  void run_writer();
  void write_pending();

  int fd_ = -1;
  unsigned shard_count_;
  std::unique_ptr<Shard[]> shards_;
  std::string out_;  ///< writer thread's staging buffer
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace loadtarget
