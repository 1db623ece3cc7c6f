// The dynamic part of a user's flow: setting variables, extracting them from responses, <match>
// actions, conditions and data files. Only programs that use them reach this code.

#include <charconv>
#include <cstdlib>
#include <limits>

#include <openssl/evp.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/worker.hpp"
#include "loadctl/data_files.hpp"

namespace loadctl::engine {

namespace {

// Tsung's ts_utils: random_string draws random:uniform(25) + $a, i.e. 'b' to 'z'; urandom_string
// ("not random, but much faster") repeats a fixed 20-letter string and cuts it to the length.
constexpr std::string_view kRandomLetters = "bcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kUrandomPattern = "qxvmvtglimieyhemzlxc";
constexpr std::size_t kMaxKeptCapture = 4 * 1024;  // idle users keep at most this much

const char* action_name(MatchSpec::Do d) {
  switch (d) {
    case MatchSpec::Do::continue_: return "continue";
    case MatchSpec::Do::log: return "log";
    case MatchSpec::Do::dump: return "dump";
    case MatchSpec::Do::abort: return "abort";
    case MatchSpec::Do::abort_test: return "abort_test";
    case MatchSpec::Do::restart: return "restart";
    case MatchSpec::Do::loop: return "loop";
  }
  return "?";
}

}  // namespace

void Worker::init_dynamics(User& user) {
  const UserProgram& p = *user.program;
  if (!p.dynamic) {
    user.dyn.reset();
    return;
  }
  if (!user.dyn) user.dyn = std::make_unique<UserDyn>();
  UserDyn& dyn = *user.dyn;
  dyn.vars.assign(p.vars.names.size(), std::nullopt);
  if (dyn.capture.capacity() > kMaxKeptCapture) std::string().swap(dyn.capture);
  dyn.capture.clear();
  dyn.match_loops = 0;
  dyn.restarts = 0;
  dyn.lists.clear();
  dyn.connect_timeout = dyn.retry_timeout = -1;
  dyn.tls_context = 0;  // a pooled UserDyn: the previous user's certificate is not this one's
  const Options& options = config_.scenario->options;
  set_rate(dyn, options.rate_limit, options.rate_burst);
}

void Worker::set_rate(UserDyn& dyn, double rate, double burst) {
  dyn.rate = rate;
  dyn.burst = burst > 0 ? burst : rate;
  dyn.tokens = dyn.burst;
  dyn.refilled = Clock::now();
}

// Only incoming bytes are limited (as in Tsung): a read waits until the bucket is out of debt.
Clock::duration Worker::rate_wait(UserDyn& dyn) {
  auto now = Clock::now();
  dyn.tokens = std::min(dyn.burst, dyn.tokens + dyn.rate * std::chrono::duration<double>(now - dyn.refilled).count());
  dyn.refilled = now;
  if (dyn.tokens >= 0) return {};
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(-dyn.tokens / dyn.rate));
}

// At a rate_limit wake-up the debt is repaid (a timer that fires a little early leaves no new
// wait); a <set_option name="rate_limit"> meanwhile gave a new bucket, which stays as it is.
void Worker::settle_rate(UserDyn& dyn) {
  if (dyn.rate > 0) rate_wait(dyn);
  dyn.tokens = std::max(dyn.tokens, 0.0);
  dyn.refilled = Clock::now();
}

bool Worker::throttle(User& user) {
  Clock::duration wait = rate_wait(*user.dyn);
  if (wait == Clock::duration::zero()) return false;
  release_buffer(user);
  user.deadline = Clock::time_point::max();  // a throttled wait is not idle: no error_timeout
  wake_after(user, wait, Wake::rate_limit);
  return true;
}

// The element list is what an xpath/jsonpath found, or the variable's single value.
bool Worker::foreach_advance(User& user, std::uint32_t index) {
  const ForeachSpec& f = user.program->foreachs[index];
  UserDyn& dyn = *user.dyn;
  auto list_id = static_cast<std::size_t>(f.list);
  const std::vector<std::string>* list = list_id < dyn.lists.size() && !dyn.lists[list_id].empty() ? &dyn.lists[list_id] : nullptr;
  std::size_t size = list ? list->size() : dyn.vars[list_id] ? 1 : 0;
  std::int64_t& position = user.loop_counters[f.loop];
  while (static_cast<std::size_t>(position) < size) {
    const std::string& element = list ? (*list)[static_cast<std::size_t>(position)] : *dyn.vars[list_id];
    ++position;
    if (f.include && !f.include->search(element)) continue;
    if (f.exclude && f.exclude->search(element)) continue;
    dyn.vars[f.var] = element;
    return true;
  }
  return false;
}

bool Worker::set_option(User& user, std::uint32_t index) {
  const SessionOption& o = user.program->options[index];
  switch (o.kind) {
    case SessionOption::Kind::connect_timeout: user.dyn->connect_timeout = o.value; break;
    case SessionOption::Kind::retry_timeout: user.dyn->retry_timeout = o.value; break;
    case SessionOption::Kind::rate_limit: set_rate(*user.dyn, o.value, o.burst); break;
    case SessionOption::Kind::certificate: {
      // As Tsung's ts_client: the connection closes, so that the next one presents the certificate.
      close_connection(user);
      if (config_.tls_contexts.empty()) break;  // no TLS server nor STARTTLS: nothing presents it
      if (!o.certificate->dynamic) {
        user.dyn->tls_context = o.tls_context;
        break;
      }
      std::optional<std::uint32_t> slot = dynamic_tls_context(user, o);
      if (!slot) {
        stats_.add(error_metric("error_certificate"));
        finish_user(user);
        return false;
      }
      user.dyn->tls_context = *slot;
      break;
    }
  }
  return true;
}

const std::string& Worker::next_line(const SetDynVars& s) {
  const std::vector<std::string>& lines = config_.scenario->files[s.file].lines;
  std::size_t count = lines.size();
  if (!s.iter) {
    std::uniform_int_distribution<std::size_t> u(0, count - 1);
    return lines[u(rng_)];
  }
  // Agent c of n reads lines c, c+n, c+2n, ... then wraps: each pass over the file uses every
  // line exactly once across the run, without asking the controller.
  std::size_t n = config_.agent_count, c = config_.agent_index;
  if (c >= count) return lines[c % count];
  std::size_t mine = (count - c + n - 1) / n;
  std::size_t k = config_.file_next[s.file].fetch_add(1, std::memory_order_relaxed) % mine;
  return lines[c + k * n];
}

void Worker::set_vars(User& user, std::uint32_t index) {
  const UserProgram& p = *user.program;
  const SetDynVars& s = *p.set_vars[index];
  const std::vector<std::uint32_t>& ids = p.set_var_ids[index];
  auto& vars = user.dyn->vars;
  using Src = SetDynVars::Source;
  switch (s.source) {
    case Src::random_number: {
      std::uniform_int_distribution<std::int64_t> u(s.start, s.end);
      vars[ids[0]] = std::to_string(u(rng_));
      break;
    }
    case Src::random_string: {  // one string per variable, as Tsung
      std::uniform_int_distribution<std::size_t> u(0, kRandomLetters.size() - 1);
      for (std::uint32_t id : ids) {
        std::string value(s.length, 'b');
        for (char& c : value) c = kRandomLetters[u(rng_)];
        vars[id] = std::move(value);
      }
      break;
    }
    case Src::urandom_string: {
      std::string value(s.length, ' ');
      for (std::size_t i = 0; i < value.size(); ++i) value[i] = kUrandomPattern[i % kUrandomPattern.size()];
      for (std::uint32_t id : ids) vars[id] = value;
      break;
    }
    case Src::value:
      for (std::uint32_t id : ids) vars[id] = s.value;
      break;
    case Src::file: {
      std::string_view line = next_line(s);
      for (std::uint32_t id : ids) vars[id] = std::string(take_field(line, s.delimiter));
      break;
    }
    case Src::jsonpath: {
      const std::string* json = UserVars::get(user.dyn.get(), p.vars.id(s.from));
      std::vector<std::string> values;
      if (json && s.jsonpath->evaluate(*json, values)) {
        vars[ids[0]] = std::move(values.front());
      } else {
        stats_.add(error_metric("error_jsonpath_nomatch"));
        return;
      }
      break;
    }
    case Src::server: {
      auto server = static_cast<std::size_t>(std::max(user.server, 0));
      const auto& endpoint = config_.servers[server].address;
      vars[ids[0]] = server < config_.scenario->servers.size() ? config_.scenario->servers[server].endpoint.host
                                                              : endpoint.address().to_string();
      if (ids.size() > 1) vars[ids[1]] = std::to_string(endpoint.port());
      break;
    }
    case Src::function: {
      std::string out;
      s.function(UserVars(p, user.dyn.get(), user.id), out);
      vars[ids[0]] = std::move(out);
      break;
    }
  }
  if (index < p.set_var_repeats.size() && !p.set_var_repeats[index].empty()) [[unlikely]] set_repeat_counters(user, index);
}

// Tsung's <repeat> reads its counter from the variable named after it: a number (random_number,
// the port of sourcetype="server") counts on from there; any other value is a string, which
// Erlang's term order puts above every number, so the loop counts max_repeat and leaves.
void Worker::set_repeat_counters(User& user, std::uint32_t index) {
  const UserProgram& p = *user.program;
  using Src = SetDynVars::Source;
  Src source = p.set_vars[index]->source;
  const std::vector<std::int32_t>& slots = p.set_var_repeats[index];
  for (std::size_t k = 0; k < slots.size(); ++k) {
    const std::optional<std::string>& value = user.dyn->vars[p.set_var_ids[index][k]];
    if (slots[k] < 0 || !value) continue;
    std::int64_t& passes = user.loop_counters[static_cast<std::size_t>(slots[k])];  // Tsung's counter - 1
    bool number = source == Src::random_number || (source == Src::server && k == 1);
    std::int64_t n = 0;
    if (number && std::from_chars(value->data(), value->data() + value->size(), n).ec == std::errc{} &&
        n > std::numeric_limits<std::int64_t>::min())
      passes = n - 1;
    else
      passes = std::numeric_limits<std::int64_t>::max();
  }
}

bool Worker::condition_holds(const User& user, std::uint32_t index) const {
  const CompiledCondition& c = user.program->conditions[index];
  if (c.var_id < 0) {
    std::string userid = std::to_string(user.id);
    return c.condition.holds(&userid);
  }
  return c.condition.holds(condition_value(user, c));
}

const std::string* Worker::condition_value(const User& user, const CompiledCondition& c) {
  const std::string* value = UserVars::get(user.dyn.get(), c.var_id);
  if (unsigned n = c.condition.index; n > 0 && user.dyn) {  // var="list[N]": what an xpath/jsonpath found, else the value
    const auto& lists = user.dyn->lists;
    auto id = static_cast<std::size_t>(c.var_id);
    if (id < lists.size() && !lists[id].empty()) value = n <= lists[id].size() ? &lists[id][n - 1] : nullptr;
    else if (n > 1) value = nullptr;
  }
  return value;
}

bool Worker::repeat_goes_on(User& user, const Op& op) {
  const UserProgram& p = *user.program;
  const RepeatSpec& r = p.repeats[op.arg];
  // Tsung (ts_client, ctrl_struct repeat): pass k jumps back while k <= max_repeat and the
  // condition says so; pass max_repeat + 1 counts max_repeat and leaves, whatever the condition.
  // k counts every pass of the session's user, also those of earlier entries into the loop; the
  // variable named after the loop holds k + 1 once a pass is counted (Tsung's dynamic variable).
  std::int64_t& passes = user.loop_counters[r.loop];
  if (passes >= static_cast<std::int64_t>(r.max_repeat)) {
    stats_.add(error_metric("max_repeat"));
    return false;
  }
  const CompiledCondition& c = p.conditions[r.condition];
  bool holds;
  if (c.var_id < 0) {
    holds = condition_holds(user, r.condition);
  } else if (const std::string* value = condition_value(user, c)) {
    holds = c.condition.holds(value);  // read before the loop's own variable moves on, as Tsung
  } else {  // Tsung leaves the loop uncounted: error_repeat_<name>undef
    stats_.add(error_metric("error_repeat_" + p.loops[r.loop].var + "undef"));
    return false;
  }
  ++passes;
  if (std::int32_t id = p.loops[r.loop].var_id; id >= 0)
    user.dyn->vars[static_cast<std::size_t>(id)] = std::to_string(passes + 1);
  return r.while_ ? holds : !holds;
}

void Worker::set_loop_var(User& user, std::uint32_t slot) {
  std::int32_t id = user.program->loops[slot].var_id;
  if (id >= 0) user.dyn->vars[static_cast<std::size_t>(id)] = std::to_string(user.loop_counters[slot]);
}

std::int64_t Worker::var_integer(const User& user, std::int32_t id) {
  if (id == -2) return static_cast<std::int64_t>(user.id);
  const std::string* value = UserVars::get(user.dyn.get(), id);
  std::int64_t n = 0;
  if (!value || std::from_chars(value->data(), value->data() + value->size(), n).ec != std::errc{}) {
    stats_.add(error_metric("error_unknown_var"));
    return 0;
  }
  return n;
}

double Worker::think_var_seconds(const User& user, std::uint32_t think) const {
  const std::string* value = UserVars::get(user.dyn.get(), user.program->thinks[think].var_id);
  if (!value) return -1;
  char* end = nullptr;
  double s = std::strtod(value->c_str(), &end);
  return end != value->c_str() && s >= 0 ? s : -1;
}

bool Worker::after_response(User& user) {
  const UserProgram& p = *user.program;
  const CompiledRequest& request = p.requests[p.ops[user.pc - 1].arg];
  const RequestDynamics* d = request.dyn;
  if (!d) return true;
  UserDyn& dyn = *user.dyn;
  std::string value;
  std::vector<std::string> all;
  for (std::size_t i = 0; i < d->variables.size(); ++i) {
    const DynVariable& v = d->variables[i];
    auto id = static_cast<std::size_t>(request.dyn_ids[i]);
    bool many = v.kind == DynVariable::Kind::xpath || v.kind == DynVariable::Kind::jsonpath;
    all.clear();
    if (!v.extract(dyn.capture, value, many ? &all : nullptr)) {
      // Tsung's parse_dynvar sets an re (form is one) or pgsql_expr variable to empty when
      // nothing matches; the others keep their value here.
      using K = DynVariable::Kind;
      if (v.kind == K::re || v.kind == K::form || v.kind == K::protocol) dyn.vars[id].emplace();
      continue;
    }
    dyn.vars[id] = value;
    if (many) {
      if (dyn.lists.size() <= id) dyn.lists.resize(id + 1);
      dyn.lists[id] = all;
    }
  }
  for (const MatchSpec& m : d->matches)
    if (!run_match(user, m, dyn.capture)) return false;
  if (dyn.capture.capacity() > kMaxKeptCapture) std::string().swap(dyn.capture);
  if (dyn.scratch.capacity() > kMaxKeptCapture) std::string().swap(dyn.scratch);
  return true;
}

namespace {

// Tsung's ts_digest:md5hex/shahex/tohex: lower-case hex of the digest (or of the bytes).
std::string apply_to_content(MatchSpec::Apply apply, std::string_view content) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  std::string_view bytes = content;
  if (apply != MatchSpec::Apply::tohex) {
    EVP_Digest(content.data(), content.size(), digest, &size,
               apply == MatchSpec::Apply::md5hex ? EVP_md5() : EVP_sha1(), nullptr);
    bytes = {reinterpret_cast<const char*>(digest), size};
  }
  std::string out;
  for (char c : bytes) {
    out += "0123456789abcdef"[static_cast<unsigned char>(c) >> 4];
    out += "0123456789abcdef"[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

}  // namespace

bool Worker::run_match(User& user, const MatchSpec& m, std::string_view response) {
  UserDyn& dyn = *user.dyn;
  std::string_view subject = m.skip_http_headers ? split_http(response, dyn.scratch).body : response;
  std::string applied;
  if (m.apply != MatchSpec::Apply::none) subject = applied = apply_to_content(m.apply, subject);
  bool found;
  std::string pattern;  // rendered (subst="true") patterns only
  if (m.regex) {
    found = m.regex->search(subject);
  } else {
    UserVars vars(*user.program, user.dyn.get(), user.id);
    pattern = m.pattern.render(&vars);
    try {
      found = Regex(pattern).search(subject);
    } catch (const std::invalid_argument&) {
      found = subject.find(pattern) != std::string_view::npos;
    }
  }
  stats_.add(error_metric(found ? "match" : "nomatch"));
  if (found != m.when_match) {
    if (m.action == MatchSpec::Do::loop) dyn.match_loops = 0;
    if (m.action == MatchSpec::Do::restart) dyn.restarts = 0;  // as ts_search:match resets restart_count
    return true;
  }
  switch (m.action) {
    case MatchSpec::Do::continue_:
      return true;
    case MatchSpec::Do::log:
    case MatchSpec::Do::dump:
      dump_match_ = found ? "match" : "nomatch";
      // match.log lines go to the agent log, which the controller collects.
      spdlog::info("match.log: user={} session={} pc={} name={} when={} do={}", user.id, user.program->session,
                   user.pc, m.name, m.when_match ? "match" : "nomatch", action_name(m.action));
      if (m.action == MatchSpec::Do::dump) dump_response(user, response);
      return true;
    case MatchSpec::Do::abort:
      dump_match_ = "match_stop";
      abort_session(user, "match_stop");
      return false;
    case MatchSpec::Do::abort_test:
      spdlog::warn("match do=abort_test: user {} aborts the test", user.id);
      dump_match_ = "match_stop_test";
      stats_.add(error_metric("match_stop_test"));
      abort_test(fmt::format("<match do=\"abort_test\"{}{}>{}</match> (user {}, session \"{}\")",
                             m.name.empty() ? "" : fmt::format(" name=\"{}\"", m.name),
                             m.when_match ? "" : " when=\"nomatch\"", m.regex ? m.pattern.literal() : pattern,
                             user.id, user.program->session));
      return false;
    case MatchSpec::Do::restart:
      if (dyn.restarts >= m.max_restart) {
        dump_match_ = "match_restart_abort";
        abort_session(user, "match_restart_abort");
        return false;
      }
      ++dyn.restarts;
      dump_match_ = "match_restart";
      stats_.add(error_metric("match_restart"));
      restart_session(user);
      return false;
    case MatchSpec::Do::loop:
      stats_.add(error_metric("match_loop"));  // Tsung counts it on the last try too
      if (dyn.match_loops >= m.max_loop) {
        dyn.match_loops = 0;
        return true;
      }
      ++dyn.match_loops;
      --user.pc;  // the request again, after sleep_loop
      user.state = UserState::thinking;
      user.deadline = Clock::time_point::max();
      wake_after(user, std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m.sleep_loop)),
                 Wake::step);
      return false;
  }
  return true;
}

// thinktime value="wait_global" (Tsung's ts_timer): the user waits, with no timer, until the
// controller has seen global_number users reach one across all agents and releases them.
void Worker::wait_global(User& user) {
  user.state = UserState::thinking;
  user.deadline = Clock::time_point::max();
  enter_barrier(user, 0);
}

// The rendezvous of wait_global thinktimes and ack="global" requests (Tsung's ts_timer counts
// both alike): `pc` is the awaited request's, 0 for a thinktime.
void Worker::enter_barrier(User& user, std::uint32_t pc) {
  barrier_.push_back({user.slot, user.generation, pc});
  barrier_waiting_.fetch_add(1);
  if (config_.barrier_arrivals) config_.barrier_arrivals->fetch_add(1);
}

std::uint64_t Worker::release_barrier(std::uint64_t n) {
  std::uint64_t waiting = barrier_waiting_.load();
  std::uint64_t take = 0;
  do {
    take = std::min(n, waiting);
  } while (take > 0 && !barrier_waiting_.compare_exchange_weak(waiting, waiting - take));
  if (take == 0) return 0;
  asio::post(ctx_, [this, take] {
    for (std::uint64_t i = 0; i < take && !barrier_.empty(); ++i) {
      BarrierEntry entry = barrier_.front();
      barrier_.pop_front();
      User& user = users_[entry.slot];
      if (user.generation != entry.generation || !user.program) continue;  // ended meanwhile (still counted, as Tsung)
      if (entry.pc == 0) {
        step(user);
      } else if (user.state == UserState::awaiting && user.pc == entry.pc && user.conn && user.conn->global_pc == entry.pc) {
        user.conn->global_pc = 0;
        on_response_complete(user, {});  // the ack="global" request, timed from its send
      }
    }
  });
  return take;
}

// The whole agent stops: this worker now, the others at their next sweep (200 ms); the session
// tells the controller, which stops the other agents.
void Worker::abort_test(std::string cause) {
  if (config_.abort_test) config_.abort_test->trip(std::move(cause));
  stop_now();
}

void Worker::abort_session(User& user, std::string_view metric) {
  stats_.add(error_metric(metric));
  finish_user(user);
}

void Worker::restart_session(User& user) {
  // Variables and <repeat> counters stay, as in Tsung (a restart only moves its action count);
  // <for> and <foreach> set theirs again on entry.
  user.pc = 0;
  asio::post(ctx_, [this, &user, gen = user.generation] {
    if (gen == user.generation) step(user);
  });
}

}  // namespace loadctl::engine
