// Session elements that read or write per-user variables: <setdynvars>, <dyn_variable>, <match>
// and the conditions of <if>, <while>, <until>. Regexes and JSONPaths are compiled here, so a bad
// one is a file:line error at load time rather than a failure during the run.

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

#include "loadctl/data_files.hpp"
#include "scenario/loader_internal.hpp"

namespace loadctl::detail {
namespace {

/// Tsung's Erlang callbacks that loadctl provides natively.

template <class T, class F>
std::shared_ptr<const T> compile_at(XmlElement& el, const char* attr, F&& make) {
  try {
    return make();
  } catch (const std::invalid_argument& e) {
    el.fail(attr, e.what());
  }
}

std::shared_ptr<const Regex> compile_regex(XmlElement& el, const char* attr, const std::string& pattern) {
  return compile_at<Regex>(el, attr, [&] { return std::make_shared<const Regex>(pattern); });
}

std::string regex_quote(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

void define(std::vector<std::string>& defined, const std::string& name) {
  if (std::find(defined.begin(), defined.end(), name) == defined.end()) defined.push_back(name);
}

DynVariable load_dyn_variable(pugi::xml_node node, const Protocol* protocol) {
  XmlElement el(node);
  DynVariable var;
  var.name = el.required("name");
  if (var.name.empty()) el.fail("name", "attribute 'name' is empty");
  el.unsupported({"regexp"});
  // Tsung's protocol-specific expression (pgsql_expr): the session's plugin compiles it.
  std::string own(protocol ? protocol->dyn_variable_attribute() : std::string_view{});
  if (el.has("pgsql_expr") && own != "pgsql_expr")
    el.fail("pgsql_expr", fmt::format("not supported yet: pgsql_expr in {} sessions",
                                      protocol ? protocol->session_type() : "these"));
  int kinds = el.has("re") + el.has("xpath") + el.has("jsonpath") + el.has("header") + el.has("pgsql_expr");
  if (kinds > 1) fail_at(node, "expected at most one of 're', 'xpath', 'jsonpath', 'header', 'pgsql_expr'");
  if (!own.empty() && el.has(own.c_str())) {
    var.kind = DynVariable::Kind::protocol;
    var.expr = el.required(own.c_str());
    var.extractor = compile_at<DynExtractor>(el, own.c_str(), [&] { return protocol->parse_dyn_variable(var.expr); });
    if (!var.extractor) el.fail(own.c_str(), fmt::format("not supported yet: {}", own));
  } else if (el.has("re")) {
    var.kind = DynVariable::Kind::re;
    var.expr = el.required("re");
    var.regex = compile_regex(el, "re", var.expr);
  } else if (el.has("jsonpath")) {
    var.kind = DynVariable::Kind::jsonpath;
    var.expr = el.required("jsonpath");
    var.jsonpath = compile_at<JsonPath>(el, "jsonpath", [&] { return std::make_shared<const JsonPath>(var.expr); });
  } else if (el.has("xpath")) {
    var.kind = DynVariable::Kind::xpath;
    var.expr = el.required("xpath");
    try {
      pugi::xpath_query query(var.expr.c_str());
    } catch (const pugi::xpath_exception& e) {
      el.fail("xpath", fmt::format("invalid xpath '{}': {}", var.expr, e.what()));
    }
  } else if (el.has("header")) {
    var.kind = DynVariable::Kind::header;
    var.expr = el.required("header");
    if (var.expr.empty() || var.expr.front() == '/') el.fail("header", "expected 'name' or 'name/param'");
  } else {
    // Tsung's default: the value of the HTML form field of that name.
    var.kind = DynVariable::Kind::form;
    var.expr = "name=[\"']?" + regex_quote(var.name) + "[\"']?[^>]*?value=[\"']?([^\"'>]*)";
    var.regex = compile_regex(el, "name", var.expr);
  }
  var.decode_html = el.choice("decode", {"html_entities"}, "") == "html_entities";
  el.finish();
  el.children({});
  return var;
}

MatchSpec load_match(pugi::xml_node node) {
  XmlElement el(node);
  MatchSpec m;
  std::string action = el.choice("do", {"continue", "log", "dump", "abort", "abort_test", "restart", "loop"}, "continue");
  using Do = MatchSpec::Do;
  m.action = action == "log" ? Do::log : action == "dump" ? Do::dump : action == "abort" ? Do::abort
           : action == "abort_test" ? Do::abort_test : action == "restart" ? Do::restart
           : action == "loop" ? Do::loop : Do::continue_;
  m.when_match = el.choice("when", {"match", "nomatch"}, "match") == "match";
  m.name = el.optional("name");
  m.max_loop = static_cast<unsigned>(el.integer("max_loop", 20, 0, 1'000'000));
  m.max_restart = static_cast<unsigned>(el.integer("max_restart", 3, 0, 1'000'000));
  m.sleep_loop = el.number("sleep_loop", 5, 0);
  m.skip_http_headers = el.choice("skip_headers", {"http", "no"}, "no") == "http";
  bool subst = el.boolean("subst", false);
  if (auto apply = el.maybe("apply_to_content")) {  // Module:Function, called on the content
    using Apply = MatchSpec::Apply;
    if (*apply == "ts_digest:md5hex") m.apply = Apply::md5hex;
    else if (*apply == "ts_digest:shahex") m.apply = Apply::shahex;
    else if (*apply == "ts_digest:tohex") m.apply = Apply::tohex;
    else
      el.fail("apply_to_content", fmt::format("not supported yet: apply_to_content '{}' (built in: "
                                              "ts_digest:md5hex, ts_digest:shahex, ts_digest:tohex)", *apply));
  }
  el.finish();
  for (pugi::xml_node c : node.children())
    if (c.type() == pugi::node_element) fail_at(c, "unexpected element in <match>: expected a pattern as text");
  std::string text = element_text(node);
  if (text.empty()) fail_at(node, "empty <match>");
  m.pattern = checked_template(node, text, subst);
  if (m.pattern.is_literal()) {
    try {
      m.regex = std::make_shared<const Regex>(text);
    } catch (const std::invalid_argument& e) {
      fail_at(node, e.what());
    }
  }
  return m;
}

}  // namespace

bool is_builtin_var(std::string_view name) { return name == "tsung_userid"; }

Action load_setdynvars(pugi::xml_node node, const LoadContext& ctx, const Scenario& scenario,
                       std::vector<std::string>& defined) {
  XmlElement el(node);
  Action action;
  action.kind = Action::Kind::set_vars;
  action.line = ctx.line(node);
  SetDynVars& s = action.set_vars;
  std::string type = el.choice("sourcetype", {"random_number", "random_string", "urandom_string", "value", "file",
                                              "jsonpath", "server", "erlang", "eval"}, "");
  using Src = SetDynVars::Source;
  if (type.empty()) el.fail("sourcetype", "missing attribute 'sourcetype'");
  if (type == "eval")
    el.fail("sourcetype", "not supported yet: sourcetype=\"eval\" runs Erlang code; use sourcetype "
                          "\"random_number\", \"random_string\", \"value\", \"file\" or \"jsonpath\", or "
                          "sourcetype=\"erlang\" with a function registered by a plugin (docs/plugins.md)");
  if (type == "erlang") {
    std::string callback = el.required("callback");
    s.function = find_substitution_function(callback);
    if (!s.function) {
      std::string known;
      for (const std::string& name : substitution_function_names()) known += (known.empty() ? "" : ", ") + name;
      el.fail("callback", fmt::format("not supported yet: Erlang callback {} (built in or from plugins: {})",
                                      callback, known));
    }
    s.source = Src::function;
    s.value = callback;
  } else if (type == "random_number") {
    s.source = Src::random_number;
    s.start = el.integer("start", std::nullopt);
    s.end = el.integer("end", std::nullopt);
    if (s.end < s.start) el.fail("end", fmt::format("'end' ({}) is less than 'start' ({})", s.end, s.start));
  } else if (type == "random_string" || type == "urandom_string") {
    s.source = type == "random_string" ? Src::random_string : Src::urandom_string;
    s.length = static_cast<unsigned>(el.integer("length", std::nullopt, 0, 1 << 20));
  } else if (type == "value") {
    s.source = Src::value;
    s.value = el.required("value");
  } else if (type == "file") {
    s.source = Src::file;
    std::string id = el.required("fileid");
    const DataFile* file = find_data_file(scenario.files, id);
    if (!file) el.fail("fileid", fmt::format("no <option name=\"file_server\" id=\"{}\"> for fileid '{}'", id, id));
    s.file = static_cast<std::size_t>(file - scenario.files.data());
    s.iter = el.choice("order", {"iter", "random"}, "random") == "iter";
    s.delimiter = el.optional("delimiter", ";");
    if (s.delimiter.empty()) el.fail("delimiter", "empty delimiter");
  } else if (type == "jsonpath") {
    s.source = Src::jsonpath;
    s.from = el.required("from");
    std::string path = el.required("jsonpath");
    s.jsonpath = compile_at<JsonPath>(el, "jsonpath", [&] { return std::make_shared<const JsonPath>(path); });
  } else {
    s.source = Src::server;
  }
  el.finish();
  for (pugi::xml_node var : el.children({"var"})) {
    XmlElement v(var);
    std::string name = v.required("name");
    if (name.empty()) v.fail("name", "attribute 'name' is empty");
    v.finish();
    s.vars.push_back(name);
  }
  if (s.vars.empty()) fail_at(node, "expected at least one <var>");
  if (s.source == Src::server && s.vars.size() > 2) fail_at(node, "sourcetype=\"server\" sets at most 2 variables (host, port)");
  if (s.source != Src::file && s.source != Src::server && s.vars.size() > 1 && s.source != Src::value)
    fail_at(node, fmt::format("sourcetype=\"{}\" sets one variable", type));
  for (const std::string& v : s.vars) define(defined, v);
  return action;
}

std::shared_ptr<const RequestDynamics> load_request_dynamics(const std::vector<pugi::xml_node>& nodes,
                                                             std::vector<std::string>& defined, const Protocol* protocol) {
  if (nodes.empty()) return nullptr;
  auto dyn = std::make_shared<RequestDynamics>();
  for (pugi::xml_node node : nodes) {
    if (std::string_view(node.name()) == "dyn_variable") {
      dyn->variables.push_back(load_dyn_variable(node, protocol));
      define(defined, dyn->variables.back().name);
    } else {
      dyn->matches.push_back(load_match(node));
    }
  }
  return dyn;
}

Condition load_condition(XmlElement& el, const std::vector<std::string>& defined, bool list_index) {
  Condition c;
  c.var = el.required("var");
  // Tsung's get_dynvar_name, for <if> only: "name[N]" is the Nth element (1-based) of a list.
  if (std::size_t open = c.var.find('['); open != std::string::npos) {
    std::string_view digits = std::string_view(c.var).substr(open + 1);
    bool well_formed = list_index && open > 0 && digits.size() >= 2 && digits.back() == ']' &&
                       std::all_of(digits.begin(), digits.end() - 1, [](char d) { return d >= '0' && d <= '9'; });
    if (!list_index) el.fail("var", "list element access var[N] is for <if> only (as in Tsung)");
    unsigned long n = well_formed ? std::strtoul(std::string(digits.substr(0, digits.size() - 1)).c_str(), nullptr, 10) : 0;
    if (n == 0 || n > 1'000'000) el.fail("var", fmt::format("'{}': expected name[N] with N in [1, 1000000]", c.var));
    c.index = static_cast<unsigned>(n);
    c.var.resize(open);
  }
  if (!is_builtin_var(c.var) && std::find(defined.begin(), defined.end(), c.var) == defined.end())
    el.fail("var", fmt::format("undefined variable '{}': no setdynvars, dyn_variable, for or foreach sets it before",
                               c.var));
  static constexpr std::pair<const char*, Condition::Op> ops[] = {
      {"eq", Condition::Op::eq}, {"neq", Condition::Op::neq}, {"gt", Condition::Op::gt},
      {"gte", Condition::Op::gte}, {"lt", Condition::Op::lt}, {"lte", Condition::Op::lte}};
  int found = 0;
  for (auto [name, op] : ops) {
    if (!el.has(name)) continue;
    ++found;
    c.op = op;
    c.value = el.optional(name);
  }
  if (found != 1) fail_at(el.node(), "expected exactly one of 'eq', 'neq', 'gt', 'gte', 'lt', 'lte'");
  el.finish();
  return c;
}

}  // namespace loadctl::detail
