// dumptraffic's lines (tsung.dump: Send/Recv, through the default logger) captured while it
// lives; has() finds a line of a kind ending with given data.
#pragma once

#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace loadctl::test {

class DumpCapture {
 public:
  DumpCapture() : previous_(spdlog::default_logger()) {
    auto capture = std::make_shared<spdlog::logger>("dump", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured_));
    capture->set_level(spdlog::level::info);
    spdlog::set_default_logger(capture);
  }
  ~DumpCapture() { restore(); }
  DumpCapture(const DumpCapture&) = delete;
  DumpCapture& operator=(const DumpCapture&) = delete;
  /// The previous logger back (before reading text(), once the run is over).
  void restore() {
    if (previous_) spdlog::set_default_logger(previous_);
    previous_.reset();
  }
  std::string text() const { return captured_.str(); }
  /// A line containing `what` ends with `data` (dump_traffic escapes a newline as "\\n").
  bool has(std::string_view what, std::string_view data) const { return count(what, data) != 0; }
  /// Lines containing `what` and ending with `data`.
  std::size_t count(std::string_view what, std::string_view data) const {
    std::string dump = text();
    std::size_t n = 0;
    for (std::size_t at = dump.find(what); at != std::string::npos; at = dump.find(what, at + 1)) {
      std::size_t eol = dump.find('\n', at);
      if (std::string_view(dump).substr(at, eol - at).ends_with(data)) ++n;
    }
    return n;
  }

 private:
  std::ostringstream captured_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace loadctl::test
