#include "agent/log_forward.hpp"

namespace loadctl::agent {

void LogForwardSink::set_capturing(bool on) {
  std::lock_guard lock(mutex_);
  capturing_ = on;
  if (!on) buffer_.clear();
}

std::string LogForwardSink::take() {
  std::lock_guard lock(mutex_);
  std::string out;
  out.swap(buffer_);
  if (truncated_) {
    out += "(log lines dropped: more than 1 MiB waited for the controller)\n";
    truncated_ = false;
  }
  return out;
}

void LogForwardSink::sink_it_(const spdlog::details::log_msg& msg) {
  if (!capturing_) return;
  if (buffer_.size() > kMaxBuffered) {
    truncated_ = true;
    return;
  }
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  buffer_.append(formatted.data(), formatted.size());
}

}  // namespace loadctl::agent
