#include "engine/program.hpp"

namespace loadctl::engine {

namespace {

class Compiler {
 public:
  Compiler(UserProgram& program, const Options& options) : p_(program), options_(options) {}

  void emit(const std::vector<Action>& actions) {
    for (const Action& action : actions) emit(action);
  }

 private:
  void emit(const Action& action) {
    switch (action.kind) {
      case Action::Kind::request:
        p_.ops.push_back({Op::Code::request, static_cast<std::uint32_t>(p_.requests.size())});
        p_.requests.push_back(action.request.get());
        break;
      case Action::Kind::thinktime: {
        ThinkTime think = action.think;
        if (options_.thinktime && options_.thinktime_override) think = *options_.thinktime;
        p_.ops.push_back({Op::Code::think, static_cast<std::uint32_t>(p_.thinks.size())});
        p_.thinks.push_back(think);
        break;
      }
      case Action::Kind::transaction: {
        auto slot = static_cast<std::uint32_t>(p_.transactions.size());
        p_.transactions.push_back("tr_" + action.name);
        p_.ops.push_back({Op::Code::tr_start, slot});
        emit(action.body);
        p_.ops.push_back({Op::Code::tr_end, slot});
        break;
      }
      case Action::Kind::for_loop: {
        auto slot = static_cast<std::uint32_t>(p_.loops.size());
        p_.loops.push_back({action.name, action.from, action.to, action.incr});
        p_.ops.push_back({Op::Code::loop_init, slot});
        auto body = static_cast<std::uint32_t>(p_.ops.size());
        emit(action.body);
        p_.ops.push_back({Op::Code::loop_next, slot, body});
        break;
      }
    }
  }

  UserProgram& p_;
  const Options& options_;
};

}  // namespace

UserProgram compile_session(const Session& session, const Options& options) {
  UserProgram program;
  program.session = session.name;
  program.probability = session.probability;
  Compiler(program, options).emit(session.actions);
  return program;
}

}  // namespace loadctl::engine
