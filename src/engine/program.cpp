#include "engine/program.hpp"

#include <algorithm>

namespace loadctl::engine {

namespace {

class Compiler {
 public:
  Compiler(UserProgram& program, const Session& session, const Options& options)
      : p_(program), session_(session), options_(options) {}

  void emit(const std::vector<Action>& actions) {
    for (const Action& action : actions) emit(action);
  }

 private:
  void emit(const Action& action) {
    switch (action.kind) {
      case Action::Kind::request: {
        p_.ops.push_back({Op::Code::request, static_cast<std::uint32_t>(p_.requests.size())});
        CompiledRequest& request = p_.requests.emplace_back();
        request.spec = action.request.get();
        request.dyn = action.dynamics.get();
        request.tag = action.tag;
        if (action.dynamics) {
          p_.dynamic = true;
          for (const DynVariable& v : action.dynamics->variables)
            request.dyn_ids.push_back(static_cast<std::int32_t>(p_.vars.intern(v.name)));
        }
        break;
      }
      case Action::Kind::thinktime: {
        ThinkTime think = action.think;
        if (options_.thinktime && options_.thinktime_override && !think.wait_global) think = *options_.thinktime;
        p_.ops.push_back({Op::Code::think, static_cast<std::uint32_t>(p_.thinks.size())});
        std::int32_t var = -1;
        if (!think.value_template.empty()) {
          p_.dynamic = true;
          var = static_cast<std::int32_t>(p_.vars.intern(think.value_template));
        }
        p_.thinks.push_back({think, var});
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
        // The counter is stored as a variable only when something reads it.
        std::int32_t var = -1;
        if (reads(action.name)) {
          p_.dynamic = true;
          var = static_cast<std::int32_t>(p_.vars.intern(action.name));
        }
        LoopSpec loop{action.name, action.from, action.to, action.incr, var};
        for (auto [name, id] : {std::pair{&action.from_var, &loop.from_id}, std::pair{&action.to_var, &loop.to_id}}) {
          if (name->empty()) continue;
          p_.dynamic = true;
          *id = *name == "tsung_userid" ? -2 : static_cast<std::int32_t>(p_.vars.intern(*name));
        }
        p_.loops.push_back(loop);
        p_.ops.push_back({Op::Code::loop_init, slot});
        auto body = static_cast<std::uint32_t>(p_.ops.size());
        emit(action.body);
        p_.ops.push_back({Op::Code::loop_next, slot, body});
        break;
      }
      case Action::Kind::set_vars: {
        p_.dynamic = true;
        p_.ops.push_back({Op::Code::set_vars, static_cast<std::uint32_t>(p_.set_vars.size())});
        p_.set_vars.push_back(&action.set_vars);
        std::vector<std::uint32_t> ids;
        for (const std::string& v : action.set_vars.vars) ids.push_back(p_.vars.intern(v));
        if (!action.set_vars.from.empty()) p_.vars.intern(action.set_vars.from);
        p_.set_var_ids.push_back(std::move(ids));
        break;
      }
      case Action::Kind::if_block: {
        std::size_t jump = p_.ops.size();
        p_.ops.push_back({Op::Code::jump_unless, condition(action.condition)});
        emit(action.body);
        p_.ops[jump].target = static_cast<std::uint32_t>(p_.ops.size());
        break;
      }
      case Action::Kind::repeat: {
        // No reset on entry: Tsung keeps the counter in the dynamic variable named after the
        // loop, so a <repeat> entered again continues from its count (ts_client, ctrl_struct).
        auto slot = static_cast<std::uint32_t>(p_.loops.size());
        std::int32_t var = -1;
        if (reads(action.name)) {
          p_.dynamic = true;
          var = static_cast<std::int32_t>(p_.vars.intern(action.name));
        }
        p_.loops.push_back({action.name, 0, 0, 1, var});
        auto body = static_cast<std::uint32_t>(p_.ops.size());
        emit(action.body);
        auto index = static_cast<std::uint32_t>(p_.repeats.size());
        p_.repeats.push_back({slot, condition(action.condition), action.repeat_while, action.max_repeat});
        p_.ops.push_back({Op::Code::repeat_next, index, body});
        break;
      }
      case Action::Kind::abort:
        p_.ops.push_back({Op::Code::abort, action.abort_all ? 1u : 0u});
        break;
      case Action::Kind::foreach: {
        p_.dynamic = true;
        auto index = static_cast<std::uint32_t>(p_.foreachs.size());
        auto slot = static_cast<std::uint32_t>(p_.loops.size());
        p_.loops.push_back({action.name, 0, 0, 1, -1});
        p_.foreachs.push_back({slot, static_cast<std::int32_t>(p_.vars.intern(action.in)), p_.vars.intern(action.name),
                               action.include.get(), action.exclude.get()});
        std::size_t init = p_.ops.size();
        p_.ops.push_back({Op::Code::foreach_init, index});
        auto body = static_cast<std::uint32_t>(p_.ops.size());
        emit(action.body);
        p_.ops.push_back({Op::Code::foreach_next, index, body});
        p_.ops[init].target = static_cast<std::uint32_t>(p_.ops.size());
        break;
      }
      case Action::Kind::set_option:
        p_.dynamic = true;
        p_.ops.push_back({Op::Code::set_option, static_cast<std::uint32_t>(p_.options.size())});
        p_.options.push_back({action.name == "connect_timeout" ? SessionOption::Kind::connect_timeout
                              : action.name == "retry_timeout" ? SessionOption::Kind::retry_timeout
                              : action.name == "certificate"   ? SessionOption::Kind::certificate
                                                               : SessionOption::Kind::rate_limit,
                              action.option_value, action.option_burst,
                              action.name == "certificate" ? &action.certificate : nullptr});
        if (action.name == "certificate" && action.certificate.dynamic) {
          const TlsCertificate& c = action.certificate;
          for (const std::string* field : {&c.cacertfile, &c.certfile, &c.keyfile, &c.keypass})
            p_.options.back().certificate_fields.emplace_back(*field, true);
        }
        break;
    }
  }

  bool reads(const std::string& name) const {
    const auto& used = session_.used_vars;
    if (std::find(used.begin(), used.end(), name) != used.end()) return true;
    return read_by_condition(session_.actions, name);
  }

  static bool read_by_condition(const std::vector<Action>& actions, const std::string& name) {
    for (const Action& a : actions) {
      if ((a.kind == Action::Kind::if_block || a.kind == Action::Kind::repeat) && a.condition.var == name) return true;
      if (a.kind == Action::Kind::thinktime && a.think.value_template == name) return true;
      if (a.kind == Action::Kind::set_vars && a.set_vars.from == name) return true;
      if (a.kind == Action::Kind::request && a.dynamics)
        for (const MatchSpec& m : a.dynamics->matches)
          for (std::string_view v : m.pattern.variables())
            if (v == name) return true;
      if (read_by_condition(a.body, name)) return true;
    }
    return false;
  }

  std::uint32_t condition(const Condition& c) {
    p_.dynamic = true;
    p_.conditions.push_back({c, c.var == "tsung_userid" ? -1 : static_cast<std::int32_t>(p_.vars.intern(c.var))});
    return static_cast<std::uint32_t>(p_.conditions.size() - 1);
  }

  UserProgram& p_;
  const Session& session_;
  const Options& options_;
};

// Tsung's page rule (ts_config:mark_prev_req): a request ends a page unless the next step of the
// session, as written, is a request; transaction marks are looked through (a <repeat> has no
// step at its start, in Tsung as here). Loop ends, <if> starts, thinktimes and every
// other step end the page. It is a property of the text, not of the path a user takes. A
// protocol whose requests are pages of their own (Protocol::request_is_page) ends one at each.
// A <setdynvars> of a <repeat>'s name sets its counter, which in Tsung is that variable.
void link_repeat_counters(UserProgram& p) {
  p.set_var_repeats.resize(p.set_vars.size());
  for (std::size_t i = 0; i < p.set_vars.size(); ++i) {
    for (std::size_t k = 0; k < p.set_var_ids[i].size(); ++k) {
      const std::string& name = p.vars.names[p.set_var_ids[i][k]];
      for (const RepeatSpec& r : p.repeats) {
        if (p.loops[r.loop].var != name) continue;
        auto& slots = p.set_var_repeats[i];
        slots.resize(p.set_var_ids[i].size(), -1);
        slots[k] = static_cast<std::int32_t>(r.loop);
      }
    }
  }
}

void mark_pages(UserProgram& p, bool request_is_page) {
  for (std::size_t i = 0; i < p.ops.size(); ++i) {
    if (p.ops[i].code != Op::Code::request) continue;
    std::size_t j = i + 1;
    while (j < p.ops.size() && (p.ops[j].code == Op::Code::tr_start || p.ops[j].code == Op::Code::tr_end))
      ++j;
    p.requests[p.ops[i].arg].endpage = request_is_page || j == p.ops.size() || p.ops[j].code != Op::Code::request;
  }
}

}  // namespace

std::int32_t VarTable::id(std::string_view name) const {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<std::int32_t>(i);
  return -1;
}

std::uint32_t VarTable::intern(const std::string& name) {
  if (std::int32_t i = id(name); i >= 0) return static_cast<std::uint32_t>(i);
  names.push_back(name);
  return static_cast<std::uint32_t>(names.size() - 1);
}

UserProgram compile_session(const Session& session, const Options& options) {
  UserProgram program;
  program.session = session.name;
  program.probability = session.probability;
  program.persistent = session.persistent;
  Compiler(program, session, options).emit(session.actions);
  mark_pages(program, session.protocol && session.protocol->request_is_page());
  link_repeat_counters(program);
  if (options.rate_limit > 0) program.dynamic = true;  // the token bucket lives in UserDyn
  if (session.protocol) {
    program.protocol = session.protocol;
    program.alpn = session.protocol->alpn();
    program.connections = session.protocol->connection_level();
    program.negotiates_tls = program.connections && session.protocol->negotiates_tls();
    program.protocol_options = session.protocol_options;
    program.connection.options = session.protocol_options.get();
    program.connection.max_frame_size = options.max_frame_size;
    program.connection.bidi = session.bidi;
    program.connection.carrier = &options.carrier;
  }
  return program;
}

}  // namespace loadctl::engine
