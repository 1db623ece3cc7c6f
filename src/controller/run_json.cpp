#include "controller/run_json.hpp"

#include <system_error>

#include <fmt/format.h>

#include "loadctl/json.hpp"
#include "loadctl/retrying_file.hpp"

namespace loadctl::controller {

int write_run_json_file(const std::string& path, const RunSummary& s) {
  std::string out = "{\n";
  out += fmt::format("  \"software\": {},\n", json_string("loadctl " LOADCTL_VERSION));
  out += fmt::format("  \"scenario\": {},\n", json_string(s.scenario));
  out += fmt::format("  \"run_dir\": {},\n", json_string(s.run_dir));
  out += fmt::format("  \"start\": {},\n  \"end\": {},\n", static_cast<long long>(s.start), static_cast<long long>(s.end));
  out += fmt::format("  \"exit_status\": {},\n", s.exit_status);
  out += fmt::format("  \"stop_reason\": {},\n", json_string(s.stop_reason));
  out += "  \"agents\": [";
  for (std::size_t i = 0; i < s.agents.size(); ++i) {
    const AgentSummary& a = s.agents[i];
    out += fmt::format("{}\n    {{\"id\": {}, \"host\": {}, \"hostname\": {}, \"state\": {}, \"failure\": {}{}}}",
                       i ? "," : "", a.id, json_string(a.host), json_string(a.hostname), json_string(a.state),
                       json_string(a.failure), a.monitor ? ", \"monitor\": true" : "");
  }
  out += "\n  ]\n}\n";
  return write_whole_file(path, out);
}

int write_whole_file(const std::string& path, std::string_view text) {
  try {
    RetryingFile file(path);
    file.write(text);
    return file.close() ? 0 : file.error();
  } catch (const std::system_error& e) {
    return e.code().value();
  }
}

}  // namespace loadctl::controller
