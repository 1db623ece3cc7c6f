#pragma once
// run.json: what ran, where, when, and how it ended.

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace loadctl::controller {

struct AgentSummary {
  unsigned id;
  std::string host;      ///< as in the scenario
  std::string hostname;  ///< as the agent reported it
  std::string state;     ///< done, lost, failed, ...
  std::string failure;
  bool monitor = false;  ///< a monitor-only agent (written "monitor": true; its host is under test)
};

struct RunSummary {
  std::string scenario;
  std::string run_dir;
  std::time_t start = 0, end = 0;
  int exit_status = 0;
  std::string stop_reason;
  std::vector<AgentSummary> agents;
};

/// Writes run.json; returns 0, or the errno of the failed create, write, fsync or close.
int write_run_json_file(const std::string& path, const RunSummary& summary);

/// Creates (truncates) `path` with `text`, synced to disk; returns 0 or the errno of the failure.
int write_whole_file(const std::string& path, std::string_view text);

}  // namespace loadctl::controller
