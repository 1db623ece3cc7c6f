// libFuzzer target for the scenario loader and the session compiler: any text either loads (and
// then compiles) or throws a ScenarioError; nothing else may escape, crash or overflow the stack.
// file_server data is taken as "shipped" (none), as on an agent, so inputs never read files.
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/program.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<loadctl::DataFile> no_files;
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    loadctl::Scenario scenario =
        loadctl::load_scenario_text(text, "fuzz.xml", loadctl::ProtocolRegistry::builtin(), &no_files);
    for (const loadctl::Session& session : scenario.sessions)
      (void)loadctl::engine::compile_session(session, scenario.options);
  } catch (const loadctl::ScenarioError& e) {
    if (!e.located()) std::abort();  // every scenario error names file:line:column
  }
  return 0;
}
