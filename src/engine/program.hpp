#pragma once
// A session compiled once into a flat program that every user of that session runs.
// Loops and transactions become jumps and slot indices; nothing is looked up by name at run time.

#include <cstdint>
#include <string>
#include <vector>

#include "loadctl/scenario.hpp"

namespace loadctl::engine {

struct Op {
  enum class Code : std::uint8_t {
    request,    ///< arg: index into requests
    think,      ///< arg: index into thinks
    tr_start,   ///< arg: transaction slot
    tr_end,     ///< arg: transaction slot
    loop_init,  ///< arg: loop slot; counter = from
    loop_next,  ///< arg: loop slot; counter += incr; jump to target while counter <= to
  };
  Code code;
  std::uint32_t arg = 0;
  std::uint32_t target = 0;
};

struct LoopSpec {
  std::string var;
  std::int64_t from = 0, to = 0, incr = 1;
};

struct UserProgram {
  std::string session;
  double probability = 0;  ///< percent
  std::vector<Op> ops;
  std::vector<const RequestSpec*> requests;  ///< owned by the Scenario
  std::vector<ThinkTime> thinks;
  std::vector<std::string> transactions;     ///< metric names, "tr_<name>", one per slot
  std::vector<LoopSpec> loops;
};

/// Compiles a session; the global thinktime option is applied here (override or default).
UserProgram compile_session(const Session& session, const Options& options);

}  // namespace loadctl::engine
