#pragma once
// Per-user variables, allocated only for users of a dynamic program (setdynvars, dyn_variable,
// match, if, repeat, a for counter that is read). Static sessions never create one.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/program.hpp"

namespace loadctl::engine {

/// The dynamic part of a user: variable values by id, the response being captured, counters.
struct UserDyn {
  std::uint64_t response_size = 0;  ///< dumptraffic="protocol": bytes received for the current request
  bool dumps = false;               ///< dumptraffic="protocol": the current request writes a line
  DumpFields dump;                  ///< ... with these fields, as sent
  std::vector<std::optional<std::string>> vars;  ///< by VarTable id; nullopt = never set
  std::vector<std::vector<std::string>> lists;   ///< by id: every value an xpath/jsonpath found
  double connect_timeout = -1;    ///< <set_option>: seconds, -1 = the global option
  double retry_timeout = -1;
  std::uint32_t tls_context = 0;  ///< <set_option name="certificate">: the worker's TLS context slot
  double rate = 0, burst = 0;     ///< rate_limit token bucket: bytes/s (0 = none), bytes
  double tokens = 0;              ///< bytes that may be read now; negative = in debt
  std::chrono::steady_clock::time_point refilled;
  std::string capture;            ///< raw bytes of the current response, when it is inspected
  std::string scratch;            ///< de-chunked body, rendered match patterns
  std::uint32_t match_loops = 0;  ///< do="loop" repetitions of the current request
  std::uint32_t restarts = 0;     ///< do="restart" restarts of the session
};

/// Resolves %%_name%% for one user: built-ins first, then the user's variables.
class UserVars final : public VariableSource {
 public:
  UserVars(const UserProgram& program, const UserDyn* dyn, std::uint64_t user_id)
      : program_(program), dyn_(dyn), user_id_(user_id) {}

  bool append(std::string_view name, std::string& out) const override {
    if (name == "tsung_userid") {
      out.append(std::to_string(user_id_));
      return true;
    }
    if (!dyn_) return false;
    std::int32_t id = program_.vars.id(name);
    if (id < 0 || !dyn_->vars[static_cast<std::size_t>(id)]) return false;
    out.append(*dyn_->vars[static_cast<std::size_t>(id)]);
    return true;
  }

  std::uint64_t user_id() const override { return user_id_; }

  /// The value of a variable by id, or null when unset.
  static const std::string* get(const UserDyn* dyn, std::int32_t id) {
    if (!dyn || id < 0 || !dyn->vars[static_cast<std::size_t>(id)]) return nullptr;
    return &*dyn->vars[static_cast<std::size_t>(id)];
  }

 private:
  const UserProgram& program_;
  const UserDyn* dyn_;
  std::uint64_t user_id_;
};

}  // namespace loadctl::engine
