#pragma once
// `loadctl view` (Tsung's `tsung view`: its web dashboard without a run): the runs under a log
// root, read over HTTP. The pages:
//   /                     the runs, newest first: scenario, start, duration, exit status, why it
//                         stopped, and a link to each run's report
//   /run/NAME/            the files of run NAME
//   /run/NAME/report      its report.html, rendered first when missing or older than the run's
//                         statistics (Tsung's view runs tsung_stats.pl the same way)
//   /run/NAME/FILE        one file of the run, as it is
// Only what lies directly under the root is served: NAME and FILE are single path components
// (no "/", no leading "."), opened without following symbolic links, regular files of at most
// kMaxServedBytes.

#include <cstdint>
#include <string>

#include "control/web_server.hpp"

namespace loadctl::report {

class LogView {
 public:
  static constexpr std::uint64_t kMaxServedBytes = 64ull << 20;
  static constexpr std::size_t kMaxRunsListed = 1000;

  explicit LogView(std::string root) : root_(std::move(root)) {}

  /// The answer to one request (GET only: the view changes nothing but a run's rendered report).
  control::WebResponse handle(const control::WebRequest& request) const;

 private:
  control::WebResponse index() const;
  control::WebResponse run_files(const std::string& name) const;
  control::WebResponse run_file(const std::string& name, const std::string& file) const;
  control::WebResponse run_report(const std::string& name) const;

  std::string root_;
};

}  // namespace loadctl::report
