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
    set_vars,     ///< arg: index into set_vars
    jump_unless,  ///< arg: index into conditions; jump to target when it does not hold
    repeat_next,  ///< arg: index into repeats; jump to target while the loop goes on
    abort,        ///< arg: 1 = the whole test, 0 = this session
    foreach_init, ///< arg: index into foreachs; first element, or jump to target when none
    foreach_next, ///< arg: index into foreachs; next element and jump to target, if any
    set_option,   ///< arg: index into options; per-user connect/retry timeout
  };
  Code code;
  std::uint32_t arg = 0;
  std::uint32_t target = 0;
};

struct LoopSpec {
  std::string var;
  std::int64_t from = 0, to = 0, incr = 1;
  std::int32_t var_id = -1;  ///< the counter is also the variable %%_var%% (for, repeat)
  std::int32_t from_id = -1, to_id = -1;  ///< bounds read from variables at run time
};

/// A <repeat>: its counter lives in a loop slot, set to 0 when the user starts and never reset
/// (Tsung's dynamic variable named after the loop; var_id >= 0 when something reads it).
struct RepeatSpec {
  std::uint32_t loop = 0;
  std::uint32_t condition = 0;
  bool while_ = true;
  unsigned max_repeat = 20;
};

/// A <foreach>: its position lives in a loop slot.
struct ForeachSpec {
  std::uint32_t loop = 0;
  std::int32_t list = -1;     ///< variable id of the list
  std::uint32_t var = 0;      ///< variable id of the element
  const Regex* include = nullptr;
  const Regex* exclude = nullptr;
};

/// A <set_option> in a session.
struct SessionOption {
  enum class Kind : std::uint8_t { connect_timeout, retry_timeout, rate_limit, certificate } kind;
  double value = 0;  ///< seconds; rate_limit: bytes per second
  double burst = 0;  ///< rate_limit: bytes, 0 = the rate
  const TlsCertificate* certificate = nullptr;  ///< certificate: owned by the Scenario
  std::uint32_t tls_context = 0;                ///< certificate: index in RunConfig::tls_contexts
  /// A dynamic certificate's cacertfile, certfile, keyfile, keypass; rendered per user.
  std::vector<Template> certificate_fields;
};

/// Variable ids: names are resolved once here; users store values by id.
struct VarTable {
  std::vector<std::string> names;
  std::int32_t id(std::string_view name) const;
  std::uint32_t intern(const std::string& name);
};

/// One request of a program: everything the engine needs about it, in one record.
struct CompiledRequest {
  const RequestSpec* spec = nullptr;     ///< owned by the Scenario
  const RequestDynamics* dyn = nullptr;  ///< dyn_variables and matches; null when none
  std::string_view tag;                  ///< <request tag>, for dumptraffic="protocol" (owned by the Scenario)
  std::vector<std::int32_t> dyn_ids;     ///< the variable id of each dyn_variable
  std::int32_t target = -1;              ///< RunConfig::servers index of spec->endpoint(); -1 = the user's server
  /// Tsung's page mark: the page ends when this request's response arrives (no request follows
  /// it directly in the session, transactions aside).
  bool endpage = true;
};

/// A thinktime: its value, or the variable that holds it.
struct CompiledThink {
  ThinkTime think;
  std::int32_t var_id = -1;  ///< id of its %%_var%%, or -1
};

/// An <if>/<repeat> condition and the id of the variable it reads (-1: tsung_userid).
struct CompiledCondition {
  Condition condition;
  std::int32_t var_id = -1;
};

struct UserProgram {
  std::string session;
  double probability = 0;  ///< percent
  std::vector<Op> ops;
  std::vector<CompiledRequest> requests;
  std::vector<CompiledThink> thinks;
  std::vector<std::string> transactions;     ///< metric names, "tr_<name>", one per slot
  std::vector<LoopSpec> loops;
  std::string_view alpn;  ///< offered on TLS connections (the session's plugin), empty = none
  const Protocol* protocol = nullptr;  ///< the session's plugin
  bool connections = false;            ///< protocol->connection_level(): one Connection per socket
  bool persistent = true;              ///< <session persistent>: a server close does not end the user
  /// protocol->negotiates_tls(): on ssl servers the connection starts plain and upgrades itself
  bool negotiates_tls = false;
  ConnectionContext connection;        ///< what each Connection is opened with (connections only)
  std::shared_ptr<const ProtocolOptions> protocol_options;  ///< kept alive for `connection`

  // dynamics; all empty for a static session, which then runs without any variable store
  bool dynamic = false;                             ///< users need a variable store
  VarTable vars;
  std::vector<const SetDynVars*> set_vars;
  std::vector<std::vector<std::uint32_t>> set_var_ids;
  /// Per set_vars: per variable, the loop slot of the <repeat> named so (its counter), else -1;
  /// empty when it sets no <repeat>'s variable.
  std::vector<std::vector<std::int32_t>> set_var_repeats;
  std::vector<CompiledCondition> conditions;
  std::vector<RepeatSpec> repeats;
  std::vector<ForeachSpec> foreachs;
  std::vector<SessionOption> options;
};

/// Compiles a session; the global thinktime option is applied here (override or default).
UserProgram compile_session(const Session& session, const Options& options);

}  // namespace loadctl::engine
