#pragma once
// A log sink that keeps a listening agent's log lines during a run, so the session can send them
// to the controller (which writes agent-<id>.log): such an agent's own stderr stays on its host.

#include <mutex>
#include <string>

#include <spdlog/sinks/base_sink.h>

namespace loadctl::agent {

class LogForwardSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  /// Starts or stops keeping lines; stopping drops what was not taken.
  void set_capturing(bool on);
  /// The lines kept since the last call.
  std::string take();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  static constexpr std::size_t kMaxBuffered = 1 << 20;  // a stuck controller cannot grow it further
  std::string buffer_;
  bool capturing_ = false;
  bool truncated_ = false;
};

}  // namespace loadctl::agent
