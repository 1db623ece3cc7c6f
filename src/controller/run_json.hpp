#pragma once
// run.json: what ran, where, when, and how it ended.

#include <ctime>
#include <string>
#include <vector>

namespace loadctl::controller {

struct AgentSummary {
  unsigned id;
  std::string host;      ///< as in the scenario
  std::string hostname;  ///< as the agent reported it
  std::string state;     ///< done, lost, failed, ...
  std::string failure;
};

struct RunSummary {
  std::string scenario;
  std::string run_dir;
  std::time_t start = 0, end = 0;
  int exit_status = 0;
  std::string stop_reason;
  std::vector<AgentSummary> agents;
};

void write_run_json_file(const std::string& path, const RunSummary& summary);

}  // namespace loadctl::controller
