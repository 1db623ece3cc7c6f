// Top level of the scenario loader: parse the XML, walk <tsung>, load <load>, check references.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "loadctl/input_file.hpp"
#include "scenario/entities.hpp"
#include "scenario/loader_internal.hpp"

namespace loadctl {
namespace detail {

LoadContext::LoadContext(const SourceMap& map, const ProtocolRegistry& registry, std::string scenario_dir)
    : registry(registry), scenario_dir(std::move(scenario_dir)), map_(map) {}

int LoadContext::line(pugi::xml_node node) const {
  std::ptrdiff_t offset = source_offset(node);
  if (offset < 0) return 0;
  return map_.locate(offset).position.line;  // in the file the node is in (entities)
}

double unit_seconds(std::string_view unit) {
  if (unit == "hour") return 3600;
  if (unit == "minute") return 60;
  if (unit == "millisecond") return 0.001;
  return 1;
}

namespace {

void load_information(pugi::xml_node node, Scenario& scenario) {
  XmlElement info(node);
  info.finish();
  for (pugi::xml_node child : info.children({"name", "description", "username", "organisation"})) {
    XmlElement(child).finish();
    std::string text = element_text(child);
    std::string_view name = child.name();
    if (name == "name") scenario.information.name = text;
    else if (name == "description") scenario.information.description = text;
    else if (name == "username") scenario.information.username = text;
    else scenario.information.organisation = text;
  }
}

ArrivalPhase load_phase(pugi::xml_node node, const LoadContext& ctx) {
  XmlElement el(node);
  ArrivalPhase phase;
  phase.line = ctx.line(node);
  phase.phase = static_cast<int>(el.integer("phase", std::nullopt, 0, 1'000'000));
  std::string unit = el.choice("unit", {"hour", "minute", "second", "millisecond"}, "");
  if (unit.empty()) fail_at(node, "missing attribute 'unit'");
  phase.duration = el.number("duration", std::nullopt, 0) * unit_seconds(unit);
  phase.wait_all_sessions_end = el.boolean("wait_all_sessions_end", false);
  el.finish();

  std::vector<pugi::xml_node> users;
  for (pugi::xml_node child : el.children({"users", "session_setup"})) {
    if (std::string_view(child.name()) != "session_setup") {
      users.push_back(child);
      continue;
    }
    XmlElement s(child);
    SessionSetup setup;
    setup.session = s.required("name");
    setup.probability = s.number("probability", std::nullopt, 0, 100);
    setup.line = ctx.line(child);
    s.finish();
    s.children({});
    phase.session_setup.push_back(std::move(setup));
  }
  if (users.size() != 1) fail_at(node, "expected exactly one <users> element");

  XmlElement u(users[0]);
  std::string users_unit = u.choice("unit", {"hour", "minute", "second"}, "");
  if (users_unit.empty()) fail_at(users[0], "missing attribute 'unit'");
  bool has_interarrival = u.has("interarrival"), has_rate = u.has("arrivalrate");
  if (has_interarrival == has_rate)
    fail_at(users[0], "expected exactly one of 'interarrival' and 'arrivalrate'");
  if (has_interarrival) {
    double interarrival = u.number("interarrival", std::nullopt, 1e-9);
    phase.rate = 1.0 / (interarrival * unit_seconds(users_unit));
  } else {
    phase.rate = u.number("arrivalrate", std::nullopt, 1e-9) / unit_seconds(users_unit);
  }
  if (u.has("maxnumber"))
    phase.maxnumber = static_cast<std::uint64_t>(u.integer("maxnumber", std::nullopt, 0));
  u.finish();
  return phase;
}

void load_load(pugi::xml_node node, Scenario& scenario, const LoadContext& ctx) {
  XmlElement el(node);
  std::string unit = el.choice("unit", {"hour", "minute", "second"}, "second");
  if (el.has("duration")) scenario.load.duration = el.number("duration", std::nullopt, 0) * unit_seconds(unit);
  scenario.load.loop = static_cast<unsigned>(el.integer("loop", 0, 0, 1'000'000));
  el.finish();

  std::map<int, pugi::xml_node> phase_numbers;
  for (pugi::xml_node child : el.children({"arrivalphase", "user"})) {
    if (std::string_view(child.name()) == "user") {
      XmlElement u(child);
      StaticUser user;
      user.line = ctx.line(child);
      user.session = u.required("session");
      std::string user_unit = u.choice("unit", {"hour", "minute", "second", "millisecond"}, "second");
      user.start_time = u.number("start_time", 0, 0) * unit_seconds(user_unit);
      u.finish();
      scenario.load.users.push_back(std::move(user));
      continue;
    }
    ArrivalPhase phase = load_phase(child, ctx);
    auto [it, inserted] = phase_numbers.emplace(phase.phase, child);
    if (!inserted)
      fail_at(child, fmt::format("duplicate arrival phase {} (first on line {})", phase.phase,
                                 ctx.line(it->second)));
    scenario.load.phases.push_back(phase);
  }
  std::stable_sort(scenario.load.phases.begin(), scenario.load.phases.end(),
                   [](const ArrivalPhase& a, const ArrivalPhase& b) { return a.phase < b.phase; });
  if (scenario.load.phases.empty() && scenario.load.users.empty())
    fail_at(node, "expected at least one <arrivalphase> or <user>");
}

/// Tsung's session wildcards (ts_utils:wildcard): '*' any characters, '?' one character.
bool glob_match(std::string_view pattern, std::string_view name) {
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

/// The sessions `pattern` names, in document order, a name once per session that has it (Tsung
/// starts a <user session="s*"> per match, so two sessions named s start two users, both of the
/// first s); an error at `node` when there are none.
std::vector<std::string> sessions_named(const Scenario& scenario, const std::string& pattern, pugi::xml_node node) {
  std::vector<std::string> names;
  if (pattern.find_first_of("*?") == std::string::npos) {
    if (scenario.session_index(pattern) >= 0) names.push_back(pattern);
  } else {
    for (const Session& s : scenario.sessions)
      if (glob_match(pattern, s.name)) names.push_back(s.name);
  }
  if (names.empty()) fail_at(node, fmt::format("undefined session '{}'", pattern));
  return names;
}

/// Tsung's rule (ts_config_server:compute_popularities, check_config): in each arrival phase a
/// session named by a <session_setup> (wildcards expanded) takes that probability, the others keep
/// their own, and the phase's probabilities sum to 100 (within 0.05). Without any phase nothing is
/// checked. With weights (check_probabilities normalised the sessions' to percent of their total)
/// a session_setup value is a weight too, put on the same scale, and no sum is checked
/// (check_popularity(true, _) in Tsung); only a phase whose weights are all 0 is an error.
void check_session_setups(pugi::xml_node load, Scenario& scenario) {
  pugi::xml_node sessions = load.parent().child("sessions");
  bool weights = sessions.child("session").attribute("weight") && !sessions.child("session").attribute("probability");
  double weight_total = 0;
  if (weights)
    for (pugi::xml_node s : sessions.children("session")) weight_total += s.attribute("weight").as_double();
  for (pugi::xml_node phase : load.children("arrivalphase")) {
    int number = phase.attribute("phase").as_int();
    auto it = std::find_if(scenario.load.phases.begin(), scenario.load.phases.end(),
                           [&](const ArrivalPhase& p) { return p.phase == number; });
    if (it == scenario.load.phases.end()) continue;
    std::vector<double> probability;
    for (const Session& s : scenario.sessions) probability.push_back(s.probability);
    std::vector<SessionSetup> expanded;
    std::size_t i = 0;
    for (pugi::xml_node setup : phase.children("session_setup")) {
      const SessionSetup& written = it->session_setup.at(i++);
      double value = weights ? written.probability * 100 / weight_total : written.probability;
      std::size_t first = expanded.size();
      for (std::string& name : sessions_named(scenario, written.session, setup)) {
        // One setup per name: sessions sharing a name share its probability.
        if (std::any_of(expanded.begin() + static_cast<std::ptrdiff_t>(first), expanded.end(),
                        [&](const SessionSetup& e) { return e.session == name; }))
          continue;
        for (std::size_t k = 0; k < scenario.sessions.size(); ++k)
          if (scenario.sessions[k].name == name) probability[k] = value;  // every session of that name
        expanded.push_back(written);
        expanded.back().session = std::move(name);
        expanded.back().probability = value;
      }
    }
    it->session_setup = std::move(expanded);
    double total = 0;
    for (double p : probability) total += p;
    if (weights) {
      if (total <= 0) fail_at(phase.child("session_setup"), fmt::format("phase {}: session weights sum to 0", number));
      continue;
    }
    if (std::abs(total - 100) < 0.05) continue;
    if (it->session_setup.empty())
      fail_at(load.parent().child("sessions"), fmt::format("session probabilities sum to {}, expected 100", total));
    fail_at(phase.child("session_setup"),
            fmt::format("phase {}: session probabilities sum to {} with this session_setup (sessions it does not "
                        "name keep their own probability, as in Tsung), expected 100", number, total));
  }
}

/// <user session="..."> names sessions that exist; a wildcard starts one user per matching session.
void check_static_users(pugi::xml_node load, Scenario& scenario) {
  std::vector<StaticUser> expanded;
  std::size_t i = 0;
  for (pugi::xml_node user : load.children("user")) {
    const StaticUser& written = scenario.load.users.at(i++);
    for (std::string& name : sessions_named(scenario, written.session, user)) {
      expanded.push_back(written);
      expanded.back().session = std::move(name);
    }
  }
  scenario.load.users = std::move(expanded);
}

/// Returns the single child named `name` (null when absent and optional).
pugi::xml_node single(const std::vector<pugi::xml_node>& children, pugi::xml_node parent,
                      std::string_view name, bool required) {
  pugi::xml_node found;
  for (pugi::xml_node c : children) {
    if (std::string_view(c.name()) != name) continue;
    if (found) fail_at(c, fmt::format("duplicate <{}>", name));
    found = c;
  }
  if (!found && required) fail_at(parent, fmt::format("missing <{}>", name));
  return found;
}

/// Deepest element nesting a scenario may have (<tsung> is level 1).
constexpr int kMaxElementDepth = 100;

// The loader, the compiler and the model's destructors recurse once per nested element: a bound
// here keeps a hostile or generated file from overflowing the stack. Iterative on purpose.
void check_nesting(pugi::xml_node document) {
  auto level = [](pugi::xml_node n) { return n.type() == pugi::node_element ? 1 : 0; };
  pugi::xml_node node = document.first_child();
  int depth = node ? level(node) : 0;
  while (node) {
    if (depth > kMaxElementDepth)
      throw ScenarioError(source_offset(node), "",
                          fmt::format("elements nested more than {} levels deep (loadctl's limit)", kMaxElementDepth));
    if (pugi::xml_node child = node.first_child()) {
      node = child;
      depth += level(node);
      continue;
    }
    while (node != document && !node.next_sibling()) {
      depth -= level(node);
      node = node.parent();
    }
    if (node == document) return;
    depth -= level(node);
    node = node.next_sibling();
    depth += level(node);
  }
}

Scenario load_document(const std::string& file_text, const std::string& name, const ProtocolRegistry& registry,
                       const std::vector<DataFile>* files) {
  if (file_text.size() > kMaxScenarioFileBytes)
    throw ScenarioError(name, 1, 1, "", fmt::format("the scenario is larger than the limit of {} MiB",
                                                    kMaxScenarioFileBytes >> 20));
  std::filesystem::path parent = std::filesystem::path(name).parent_path();
  std::string dir = parent.empty() ? std::string(".") : parent.string();
  ExpandedScenario expanded = expand_entities(file_text, name, dir, kMaxScenarioFileBytes, files == nullptr);
  const std::string& text = expanded.text;
  pugi::xml_document doc;
  pugi::xml_parse_result parsed =
      doc.load_buffer(text.data(), text.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed)
    throw expanded.map.locate(ScenarioError(parsed.offset, "", fmt::format("malformed XML: {}", parsed.description())));
  detail::LoadContext ctx(expanded.map, registry, dir);
  ctx.shipped_files = files;

  Scenario scenario;
  scenario.path = name;
  scenario.text = text;
  try {
    check_nesting(doc);
    pugi::xml_node root = doc.document_element();
    if (std::string_view(root.name()) != "tsung")
      fail_at(root, fmt::format("root element is <{}>, expected <tsung>", root.name()));
    XmlElement tsung(root);
    scenario.loglevel = tsung.choice(
        "loglevel", {"emergency", "critical", "error", "warning", "notice", "info", "debug"}, "notice");
    scenario.dumptraffic =
        tsung.choice("dumptraffic", {"true", "false", "light", "protocol", "protocol_local"}, "false");
    scenario.version = tsung.optional("version");
    scenario.backend = tsung.choice("backend", {"text", "json", "rrdtool", "fullstats"}, "text");
    if (scenario.backend != "text") tsung.fail("backend", "not supported yet: backend " + scenario.backend);
    tsung.finish();

    auto children = tsung.children(
        {"information", "clients", "servers", "monitoring", "load", "options", "sessions"});
    if (pugi::xml_node n = single(children, root, "information", false)) load_information(n, scenario);
    detail::load_clients(single(children, root, "clients", true), scenario, ctx);
    detail::load_servers(single(children, root, "servers", true), scenario, ctx);
    if (pugi::xml_node n = single(children, root, "monitoring", false)) detail::load_monitoring(n, scenario, ctx);
    pugi::xml_node load = single(children, root, "load", true);
    load_load(load, scenario, ctx);
    if (pugi::xml_node n = single(children, root, "options", false)) detail::load_options(n, scenario, ctx);
    detail::load_sessions(single(children, root, "sessions", true), scenario, ctx);
    check_static_users(load, scenario);
    check_session_setups(load, scenario);
  } catch (const ScenarioError& e) {
    throw expanded.map.locate(e);
  }
  return scenario;
}

}  // namespace
}  // namespace detail

int Scenario::session_index(std::string_view name) const {
  for (std::size_t i = 0; i < sessions.size(); ++i)
    if (sessions[i].name == name) return static_cast<int>(i);
  return -1;
}

namespace {

std::size_t exclude_tagged(std::vector<Action>& actions, const std::vector<std::string>& tags) {
  std::size_t removed = 0;
  for (Action& a : actions) removed += exclude_tagged(a.body, tags);
  auto excluded = [&](const Action& a) {
    return a.kind == Action::Kind::request && !a.tag.empty() &&
           std::find(tags.begin(), tags.end(), a.tag) != tags.end();
  };
  auto end = std::remove_if(actions.begin(), actions.end(), excluded);
  removed += static_cast<std::size_t>(actions.end() - end);
  actions.erase(end, actions.end());
  return removed;
}

}  // namespace

std::size_t exclude_tagged_requests(Scenario& scenario, const std::vector<std::string>& tags) {
  std::size_t removed = 0;
  if (tags.empty()) return 0;
  for (Session& session : scenario.sessions) removed += exclude_tagged(session.actions, tags);
  return removed;
}

Scenario load_scenario(const std::string& path, const ProtocolRegistry& registry) {
  std::string text;
  try {
    text = read_regular_file(path, kMaxScenarioFileBytes);
  } catch (const std::runtime_error& e) {
    throw ScenarioError(path, 1, 1, "", fmt::format("cannot read the scenario file: {}", e.what()));
  }
  return detail::load_document(text, path, registry, nullptr);
}

Scenario load_scenario_text(const std::string& text, const std::string& name, const ProtocolRegistry& registry,
                            const std::vector<DataFile>* files) {
  return detail::load_document(text, name, registry, files);
}

}  // namespace loadctl
