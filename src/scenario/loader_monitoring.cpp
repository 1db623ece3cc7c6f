// The backend children of <monitor>: <munin port>, <snmp version community port> with its
// <oid value name type eval> elements, and <mysqladmin>.

#include <charconv>
#include <optional>
#include <regex>

#include <fmt/format.h>

#include "scenario/loader_internal.hpp"

namespace loadctl::detail {
namespace {

std::vector<std::uint32_t> parse_oid(const XmlElement& el, const std::string& text) {
  std::vector<std::uint32_t> oid;
  std::size_t start = text.starts_with('.') ? 1 : 0;  // ".1.3.6..." is the same OID
  while (start <= text.size()) {
    std::size_t end = text.find('.', start);
    if (end == std::string::npos) end = text.size();
    std::uint32_t arc = 0;
    auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + end, arc);
    if (end == start || ec != std::errc() || ptr != text.data() + end)
      el.fail("value", fmt::format("'{}' is not a numeric OID (expected e.g. 1.3.6.1.4.1.2021.10.1.5.1)", text));
    oid.push_back(arc);
    start = end + 1;
  }
  if (oid.size() < 2) el.fail("value", fmt::format("'{}': an OID has at least two arcs", text));
  // X.690 8.19.4: the first arc is 0, 1 or 2, and under 0 and 1 the second is below 40.
  if (oid[0] > 2) el.fail("value", fmt::format("'{}': an OID's first arc is 0, 1 or 2", text));
  if (oid[0] < 2 && oid[1] >= 40) el.fail("value", fmt::format("'{}': under {} the second arc is below 40", text, oid[0]));
  // ber_oid encodes 2.N as the single arc 80 + N.
  if (oid[0] == 2 && oid[1] > 0xffffffffU - 80) el.fail("value", fmt::format("'{}': second arc too large", text));
  return oid;
}

// <munin>, <mysqladmin> and <oid> are EMPTY in Tsung's DTD: a child would be accepted and ignored.
void refuse_children(pugi::xml_node node) {
  for (pugi::xml_node child : node.children())
    if (child.type() == pugi::node_element)
      fail_at(child, fmt::format("<{}> is empty in Tsung's DTD: <{}> is not allowed in it", node.name(), child.name()));
}

SnmpOid load_oid(pugi::xml_node node) {
  XmlElement el(node);
  refuse_children(node);
  SnmpOid oid;
  oid.oid = parse_oid(el, el.required("value"));
  oid.name = el.required("name");
  oid.type = el.choice("type", {"sample", "counter", "sum"}, "sample");
  std::string fun = el.optional("eval", "fun(X)-> X end.");
  std::optional<double> factor = eval_factor(fun, &oid.float_result);
  if (!factor)
    el.fail("eval", fmt::format("not supported yet: eval \"{}\" (loadctl evaluates fun(X) -> X end., "
                                "fun(X) -> X / N end., fun(X) -> X * N end. with a number N)", fun));
  oid.factor = *factor;
  el.finish();
  return oid;
}

}  // namespace

std::optional<double> eval_factor(std::string_view fun, bool* gives_float) {
  if (gives_float) *gives_float = false;
  std::string text;
  for (char c : fun)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') text += c;
  // fun(V) -> Body end[.]  with Body one of V, V/N, V*N, N*V; N a plain decimal number.
  static const std::regex form(R"(^fun\(([A-Z_][A-Za-z0-9_]*)\)->(.*)end\.?$)");
  static const std::string number = R"(([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?))";
  std::smatch m;
  if (!std::regex_match(text, m, form)) return std::nullopt;
  std::string var = m[1], body = m[2];
  if (body == var) return 1.0;
  std::smatch b;
  auto to_double = [](const std::string& s) { return std::stod(s); };
  auto is_float = [&](const std::string& n, bool division) {
    if (gives_float) *gives_float = division || n.find_first_of(".eE") != std::string::npos;
  };
  if (std::regex_match(body, b, std::regex("^" + var + R"(([/*]))" + number + "$"))) {
    double n = to_double(b[2]);
    is_float(b[2], b[1] == "/");
    if (b[1] == "*") return n;
    if (n == 0) return std::nullopt;
    return 1.0 / n;
  }
  if (std::regex_match(body, b, std::regex("^" + number + R"(\*)" + var + "$"))) {
    is_float(b[1], false);
    return to_double(b[1]);
  }
  return std::nullopt;
}

void load_monitor_backend(const XmlElement& monitor_element, MonitorSpec& monitor) {
  std::vector<pugi::xml_node> subs = monitor_element.children({"snmp", "munin", "mysqladmin"});
  if (subs.size() > 1) fail_at(subs[1], "a <monitor> has at most one of <snmp>, <munin>, <mysqladmin>");
  pugi::xml_node sub = subs.empty() ? pugi::xml_node() : subs.front();
  std::string wanted = monitor.type == "erlang" ? "mysqladmin" : monitor.type;
  if (sub && sub.name() != wanted)
    fail_at(sub, fmt::format("<{}> belongs to a monitor of type=\"{}\"; this one is type=\"{}\"", sub.name(),
                             std::string_view(sub.name()) == "mysqladmin" ? "erlang" : sub.name(), monitor.type));
  if (monitor.type == "erlang") {
    if (!sub) return;
    XmlElement el(sub);
    refuse_children(sub);
    monitor.mysqladmin = true;
    monitor.mysql_port = static_cast<std::uint16_t>(el.integer("port", 3306, 1, 65535));
    monitor.mysql_user = el.optional("username", "root");
    monitor.mysql_password = el.maybe("password");
    el.finish();
    return;
  }
  if (monitor.type == "munin") {
    monitor.port = 4949;
    if (!sub) return;
    XmlElement el(sub);
    refuse_children(sub);
    monitor.port = static_cast<std::uint16_t>(el.integer("port", 4949, 1, 65535));
    el.finish();
    return;
  }
  monitor.port = 161;  // snmp
  if (!sub) return;
  XmlElement el(sub);
  monitor.port = static_cast<std::uint16_t>(el.integer("port", 161, 1, 65535));
  // Tsung hands the atom to snmpm, which knows v3 too (its DTD does not): USM users and keys.
  if (el.maybe("version") == "v3") el.fail("version", "not supported yet: SNMP version v3 (v1 and v2 are)");
  monitor.snmp_version = el.choice("version", {"v1", "v2"}, "v1");
  monitor.community = el.optional("community", "public");
  el.finish();
  for (pugi::xml_node child : el.children({"oid"})) monitor.oids.push_back(load_oid(child));
}

}  // namespace loadctl::detail
