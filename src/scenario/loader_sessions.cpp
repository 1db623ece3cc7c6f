// <sessions>: each session's actions. Requests are parsed by the protocol plugin that owns the
// element under <request>; the loader itself knows no protocol.

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "scenario/loader_internal.hpp"

namespace loadctl::detail {
namespace {

/// Protocol elements of the tsung-1.0 DTD: known, but a plugin must exist to use them.
constexpr std::string_view dtd_protocol_elements[] = {"http", "jabber", "raw",       "pgsql", "ldap", "mysql",
                                                      "fs",   "shell",  "job",       "websocket", "amqp", "mqtt"};

struct SessionContext {
  const LoadContext& load;
  const Protocol* protocol;  // the plugin of the session's type
  std::string session_type;
  const ProtocolOptions* options;  // the plugin's parse_options() of this scenario, may be null
  const Scenario& scenario;
  std::vector<std::string>& defined;  // variables set so far, in document order
  std::vector<std::string>& used;     // variables read by substituted requests
};

std::vector<Action> load_actions(XmlElement& parent, const SessionContext& ctx);

/// Tsung evaluates %%module:function%% in substituted requests by calling Erlang; loadctl has the
/// functions registered with register_substitution_function, and refuses the others.
/// Checked here for every protocol, so that no plugin has to remember it.
void note_used(const Template& t, std::vector<std::string>& used) {
  for (std::string_view v : t.variables())
    if (std::find(used.begin(), used.end(), v) == used.end()) used.emplace_back(v);
}

void reject_function_calls(pugi::xml_node node, std::vector<std::string>& used) {
  for (pugi::xml_attribute attr : node.attributes()) {
    Template t(attr.value(), true);
    note_used(t, used);
    if (auto message = unknown_function(t)) fail_at(node, attr, *message);
  }
  for (pugi::xml_node child : node.children()) {
    if (child.type() == pugi::node_element) {
      reject_function_calls(child, used);
    } else if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      Template t(child.value(), true);
      note_used(t, used);
      if (auto message = unknown_function(t)) fail_at(child, *message);
    }
  }
}

std::shared_ptr<const RequestSpec> load_request_element(pugi::xml_node node, const SessionContext& ctx,
                                                        const RequestParseContext& parse,
                                                        std::vector<pugi::xml_node>& dynamics) {
  std::vector<pugi::xml_node> children;
  for (pugi::xml_node c : node.children()) {
    if ((c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) && !element_text(node).empty())
      fail_at(c, "unexpected text in <request>");
    if (c.type() != pugi::node_element) continue;
    std::string_view name = c.name();
    if (name == "match" || name == "dyn_variable") {
      dynamics.push_back(c);
      continue;
    }
    bool known = ctx.load.registry.by_element(name) ||
                 std::find(std::begin(dtd_protocol_elements), std::end(dtd_protocol_elements), name) !=
                     std::end(dtd_protocol_elements);
    if (!known) {
      std::string expected = "<match>, <dyn_variable>";
      for (auto e : dtd_protocol_elements) expected += fmt::format(", <{}>", e);
      fail_at(c, fmt::format("unknown element <{}> in <request>, expected {}", name, expected));
    }
    children.push_back(c);
  }
  if (children.size() != 1) fail_at(node, "expected exactly one protocol element in <request>");
  pugi::xml_node child = children[0];
  const Protocol* protocol = ctx.protocol->element() == child.name() ? ctx.protocol
                                                                     : ctx.load.registry.by_element(child.name());
  if (!protocol) unsupported_at(child, fmt::format("<{}> requests", child.name()));
  if (protocol != ctx.protocol)
    fail_at(child, fmt::format("<{}> request in a {} session, expected <{}>", child.name(), ctx.session_type,
                               ctx.protocol->element()));
  if (parse.subst) reject_function_calls(child, ctx.used);
  std::shared_ptr<const RequestSpec> spec;
  try {
    spec = protocol->parse_request(child, parse);
  } catch (const ScenarioError&) {
    throw;
  } catch (const std::exception& e) {  // a plugin that threw something else: still locate it
    fail_at(child, e.what());
  }
  if (!spec) fail_at(child, "the protocol plugin returned no request");
  if (spec->global_ack()) {
    if (!protocol->connection_level())
      unsupported_at(child, fmt::format("ack=\"global\" in a <{}> request (a request-level protocol)", child.name()));
    if (!dynamics.empty())
      unsupported_at(dynamics[0], fmt::format("<{}> on an ack=\"global\" request", dynamics[0].name()));
    if (ctx.scenario.options.global_number == 0)
      fail_at(child, "ack=\"global\" needs <option name=\"global_number\" value=\"N\"/>");
  }
  return spec;
}

Action load_request(pugi::xml_node node, const SessionContext& ctx) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::request;
  action.line = ctx.load.line(node);
  std::string subst = el.choice("subst", {"true", "false", "all_except_body"}, "false");
  action.tag = el.optional("tag");
  el.finish();
  RequestParseContext parse;
  parse.subst = subst != "false";
  parse.subst_body = subst == "true";
  parse.scenario_dir = ctx.load.scenario_dir;
  parse.options = ctx.options;
  std::vector<pugi::xml_node> dynamics;
  action.request = load_request_element(node, ctx, parse, dynamics);
  action.dynamics = load_request_dynamics(dynamics, ctx.defined, ctx.protocol);
  for (const std::string& v : action.request->sets_variables())
    if (std::find(ctx.defined.begin(), ctx.defined.end(), v) == ctx.defined.end()) ctx.defined.push_back(v);
  return action;
}

Action load_thinktime(pugi::xml_node node, const SessionContext& ctx) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::thinktime;
  action.line = ctx.load.line(node);
  ThinkTime& think = action.think;
  think.random = el.boolean("random", false);
  if (el.has("min") || el.has("max")) {
    think.min = el.number("min", std::nullopt, 0);
    think.max = el.number("max", std::nullopt, 0);
    if (*think.max < *think.min) el.fail("max", "thinktime max is less than min");
    if (el.has("value")) el.fail("value", "a thinktime has either 'value' or 'min' and 'max'");
  } else if (!el.has("value")) {
    // Tsung: a bare <thinktime/> takes the thinktime option's value (or min/max range) and
    // random; its own random attribute wins (thinks2.xml). Without the option Tsung's default
    // is the string "5", on which its config parser fails (badarith): refused here.
    const std::optional<ThinkTime>& def = ctx.scenario.options.thinktime;
    if (!def) fail_at(node, "<thinktime/> without a value needs <option name=\"thinktime\" .../>");
    think = *def;
    think.random = el.boolean("random", def->random);
  } else {
    std::string value = el.optional("value");
    if (value == "wait_global") {
      if (ctx.scenario.options.global_number == 0)
        el.fail("value", "thinktime value=\"wait_global\" needs <option name=\"global_number\" value=\"N\"/>");
      think.wait_global = true;
    } else if (value.find("%%") != std::string::npos) {
      Template t = el.template_attr("value", true);
      auto vars = t.variables();
      if (vars.size() != 1 || !t.render(nullptr).empty())
        el.fail("value", fmt::format("thinktime value '{}' must be a number or a single %%_var%%", value));
      think.value_template = std::string(vars[0]);
    } else {
      think.value = el.number("value", std::nullopt, 0);
    }
  }
  el.finish();
  el.children({});
  return action;
}

/// A number, or a single %%_var%% set earlier in the session (then `var` names it).
std::int64_t loop_bound(XmlElement& el, const char* name, const SessionContext& ctx, std::string& var) {
  std::string text = el.optional(name);
  if (text.find("%%") == std::string::npos) return el.integer(name, std::nullopt);
  Template t = el.template_attr(name, true);
  auto vars = t.variables();
  if (vars.size() != 1 || !t.render(nullptr).empty())
    el.fail(name, fmt::format("'{}' of <for> must be an integer or a single %%_var%%", name));
  var = std::string(vars[0]);
  if (!is_builtin_var(var) && std::find(ctx.defined.begin(), ctx.defined.end(), var) == ctx.defined.end())
    el.fail(name, fmt::format("undefined variable '{}': nothing sets it before this <for>", var));
  return 0;
}

Action load_for(pugi::xml_node node, const SessionContext& ctx) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::for_loop;
  action.line = ctx.load.line(node);
  action.name = el.required("var");
  if (action.name.empty()) el.fail("var", "attribute 'var' is empty");
  action.from = loop_bound(el, "from", ctx, action.from_var);
  action.to = loop_bound(el, "to", ctx, action.to_var);
  action.incr = el.integer("incr", 1, 1);
  if (action.from_var.empty() && action.to_var.empty() && action.to < action.from)
    el.fail("to", fmt::format("'to' ({}) is less than 'from' ({})", action.to, action.from));
  el.finish();
  if (std::find(ctx.defined.begin(), ctx.defined.end(), action.name) == ctx.defined.end())
    ctx.defined.push_back(action.name);
  action.body = load_actions(el, ctx);
  return action;
}

Action load_if(pugi::xml_node node, const SessionContext& ctx) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::if_block;
  action.line = ctx.load.line(node);
  action.condition = load_condition(el, ctx.defined, true);
  XmlElement body(node);
  action.body = load_actions(body, ctx);
  return action;
}

// <repeat name max_repeat> actions... <while|until var op value/> </repeat>
Action load_repeat(pugi::xml_node node, const SessionContext& ctx) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::repeat;
  action.line = ctx.load.line(node);
  action.name = el.required("name");
  action.max_repeat = static_cast<unsigned>(el.integer("max_repeat", 20, 1, 1'000'000'000));
  el.finish();
  pugi::xml_node last;
  for (pugi::xml_node c : node.children())
    if (c.type() == pugi::node_element) last = c;
  std::string_view last_name = last ? last.name() : "";
  if (last_name != "while" && last_name != "until") fail_at(node, "the last element of <repeat> must be <while> or <until>");
  // Its counter is the variable %%_name%% from the second pass on (Tsung's dynamic variable).
  if (std::find(ctx.defined.begin(), ctx.defined.end(), action.name) == ctx.defined.end())
    ctx.defined.push_back(action.name);
  action.body = load_actions(el, ctx);
  XmlElement cond(last);
  action.condition = load_condition(cond, ctx.defined);
  cond.children({});
  action.repeat_while = last_name == "while";
  return action;
}

// <foreach name="e" in="list" include="re" exclude="re">: body once per element of the list.
Action load_foreach(pugi::xml_node node, const SessionContext& ctx) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::foreach;
  action.line = ctx.load.line(node);
  action.name = el.required("name");
  action.in = el.required("in");
  if (action.name.empty()) el.fail("name", "attribute 'name' is empty");
  if (std::find(ctx.defined.begin(), ctx.defined.end(), action.in) == ctx.defined.end())
    el.fail("in", fmt::format("undefined variable '{}': no setdynvars or dyn_variable sets it before", action.in));
  for (const char* attr : {"include", "exclude"}) {
    if (!el.has(attr)) continue;
    std::shared_ptr<const Regex> re;
    try {
      re = std::make_shared<const Regex>(el.required(attr));
    } catch (const std::invalid_argument& e) {
      el.fail(attr, e.what());
    }
    (std::string_view(attr) == "include" ? action.include : action.exclude) = std::move(re);
  }
  el.finish();
  ctx.defined.push_back(action.name);
  action.body = load_actions(el, ctx);
  return action;
}

// <set_option name value>: the per-session timeouts Tsung allows there (milliseconds).
Action load_set_option(pugi::xml_node node, const SessionContext& ctx) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::set_option;
  action.line = ctx.load.line(node);
  action.name = el.choice("name", {"connect_timeout", "retry_timeout", "rate_limit", "certificate", "user_agent"}, "");
  if (action.name == "rate_limit") {  // KB/s, burst `max` in KB
    action.option_value = el.number("value", std::nullopt, 0.001) * 1024;
    action.option_burst = el.has("max") ? el.number("max", std::nullopt, 0.001) * 1024 : 0;
  } else if (action.name == "connect_timeout" || action.name == "retry_timeout") {
    action.option_value = el.number("value", std::nullopt, 0) / 1000;
  } else if (action.name == "certificate") {
    el.finish();
    std::vector<pugi::xml_node> certs = el.children({"certificate"});
    if (certs.size() != 1) fail_at(node, "expected one <certificate> in <set_option name=\"certificate\">");
    XmlElement cert(certs[0]);
    TlsCertificate& c = action.certificate;
    for (auto [attr, field] : {std::pair{"cacertfile", &c.cacertfile}, {"certfile", &c.certfile},
                               {"keyfile", &c.keyfile}, {"keypass", &c.keypass}}) {
      *field = cert.optional(attr, "");
      if (field->find("%%") != std::string::npos) {  // Tsung substitutes every attribute, always
        note_used(cert.template_attr(attr, true), ctx.used);
        c.dynamic = true;
      }
    }
    if (c.dynamic) c.dir = ctx.load.scenario_dir;
    for (std::string* field : {&c.cacertfile, &c.certfile, &c.keyfile})
      if (!c.dynamic && !field->empty() && field->front() != '/') *field = ctx.load.scenario_dir + "/" + *field;
    cert.finish();
    cert.children({});
    if (c.certfile.empty() != c.keyfile.empty())
      fail_at(certs[0], "expected both certfile and keyfile, or neither");
    return action;
  } else {
    el.fail("name", fmt::format("not supported yet: set_option '{}'", action.name));
  }
  el.finish();
  el.children({});
  return action;
}

Action load_abort(pugi::xml_node node, const SessionContext& ctx) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::abort;
  action.line = ctx.load.line(node);
  action.abort_all = el.choice("type", {"session", "all"}, "session") == "all";
  el.finish();
  el.children({});
  return action;
}

Action load_transaction(pugi::xml_node node, const SessionContext& ctx) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::transaction;
  action.line = ctx.load.line(node);
  action.name = el.required("name");
  if (action.name.empty()) el.fail("name", "attribute 'name' is empty");
  el.finish();
  action.body = load_actions(el, ctx);
  return action;
}

std::vector<Action> load_actions(XmlElement& parent, const SessionContext& ctx) {
  std::vector<Action> actions;
  for (pugi::xml_node child : parent.children({"request", "thinktime", "transaction", "for", "setdynvars",
                                               "repeat", "if", "foreach", "set_option", "change_type",
                                               "interaction", "abort", "while", "until"})) {
    std::string_view name = child.name();
    if (name == "while" || name == "until") {
      if (std::string_view(parent.node().name()) != "repeat" || child.next_sibling())
        fail_at(child, fmt::format("<{}> must be the last element of a <repeat>", name));
      continue;
    }
    if (name == "request") actions.push_back(load_request(child, ctx));
    else if (name == "thinktime") actions.push_back(load_thinktime(child, ctx));
    else if (name == "transaction") actions.push_back(load_transaction(child, ctx));
    else if (name == "for") actions.push_back(load_for(child, ctx));
    else if (name == "setdynvars") actions.push_back(load_setdynvars(child, ctx.load, ctx.scenario, ctx.defined));
    else if (name == "if") actions.push_back(load_if(child, ctx));
    else if (name == "repeat") actions.push_back(load_repeat(child, ctx));
    else if (name == "abort") actions.push_back(load_abort(child, ctx));
    else if (name == "foreach") actions.push_back(load_foreach(child, ctx));
    else if (name == "set_option") actions.push_back(load_set_option(child, ctx));
    else unsupported_at(child, fmt::format("<{}>", name));
  }
  std::string_view name = parent.node().name();
  if (actions.empty() && name != "session") fail_at(parent.node(), fmt::format("empty <{}>", name));
  return actions;
}

// Weights become percentages here; probabilities are checked per arrival phase, after
// <session_setup> overrides (check_session_setups, loader.cpp), as Tsung does.
void check_probabilities(pugi::xml_node node, std::vector<Session>& sessions, bool weights) {
  if (!weights) return;
  double total = 0;
  for (const Session& s : sessions) total += s.probability;
  if (total <= 0) fail_at(node, "session weights sum to 0");
  for (Session& s : sessions) s.probability = s.probability * 100 / total;
}

}  // namespace

void load_sessions(pugi::xml_node node, Scenario& scenario, const LoadContext& ctx) {
  XmlElement sessions(node);
  sessions.finish();
  std::optional<bool> weights;  // set by the first session; every session must agree
  for (pugi::xml_node child : sessions.children({"session"})) {
    XmlElement el(child);
    Session session;
    session.line = ctx.line(child);
    session.name = el.required("name");
    if (session.name.empty()) el.fail("name", "attribute 'name' is empty");
    // Two sessions may share a name, as in Tsung (its http_distributed.xml example): a
    // <session_setup> naming it sets each of them, a static <user session> takes the first.
    session.type = el.required("type");
    const Protocol* protocol = ctx.registry.by_session_type(session.type);
    if (!protocol) el.fail("type", fmt::format("not supported yet: {} sessions", session.type));
    el.ignore({"probability", "weight"});  // read below; listed as allowed in errors
    if (el.has("probability") == el.has("weight"))
      fail_at(child, "expected exactly one of 'probability' and 'weight'");
    bool by_weight = el.has("weight");
    if (weights && *weights != by_weight)
      el.fail(by_weight ? "weight" : "probability", "sessions mix 'probability' and 'weight'; use one of them");
    weights = by_weight;
    session.probability = by_weight ? el.number("weight", std::nullopt, 0) : el.number("probability", std::nullopt, 0, 100);
    session.persistent = el.boolean("persistent", true);  // every Tsung protocol's session_defaults()
    // bidi: the server may send while the user thinks; connection-level plugins read it.
    session.bidi = el.boolean("bidi", false);
    if (session.bidi && !protocol->supports_bidi())
      el.fail("bidi", fmt::format("not supported yet: bidirectional {} sessions", session.type));
    for (const ServerSpec& server : scenario.servers) {
      if (server.endpoint.transport == Transport::udp && !protocol->supports_udp())
        el.fail("type", fmt::format("not supported yet: {} sessions over udp (<server> on line {})", session.type,
                                    server.line));
      auto types = protocol->connection_level() ? protocol->server_types() : std::span<const std::string_view>{};
      bool local = std::find(types.begin(), types.end(), "erlang") != types.end();
      if (local && server.carrier != "erlang")
        el.fail("type", fmt::format("{} sessions run on the agent host: they need <server type=\"erlang\"> (<server> on "
                                    "line {})", session.type, server.line));
      if (server.carrier.empty()) continue;
      if (std::find(types.begin(), types.end(), server.carrier) == types.end())
        el.fail("type", fmt::format("not supported yet: {} sessions over {} (<server> on line {})", session.type,
                                    server.carrier, server.line));
    }
    el.finish();
    session.protocol = protocol;
    // The plugin's options; without any in the scenario, its defaults (parsed once per scenario).
    auto [options, fresh] = scenario.protocol_options.try_emplace(std::string(protocol->options_type()));
    if (fresh) options->second = protocol->parse_options({});
    session.protocol_options = options->second;
    std::vector<std::string> defined;
    SessionContext sctx{ctx, protocol, session.type, session.protocol_options.get(), scenario, defined,
                        session.used_vars};
    session.actions = load_actions(el, sctx);
    scenario.sessions.push_back(std::move(session));
  }
  if (scenario.sessions.empty()) fail_at(node, "expected at least one <session>");
  check_probabilities(node, scenario.sessions, weights.value_or(false));
}

}  // namespace loadctl::detail
