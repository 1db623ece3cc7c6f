#include "loadctl/xml_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "loadctl/scenario_error.hpp"
#include "loadctl/text.hpp"

namespace loadctl {
namespace {

std::string quoted_list(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += i + 1 == names.size() ? " or " : ", ";
    out += "'";
    out += names[i];
    out += "'";
  }
  return out;
}

std::string format_number(double v) { return fmt::format("{}", v); }

}  // namespace

XmlElement::XmlElement(pugi::xml_node node) : node_(node) {}

void XmlElement::mark(const char* name) {
  if (std::find(seen_.begin(), seen_.end(), name) == seen_.end()) seen_.emplace_back(name);
}

bool XmlElement::has(const char* name) const { return bool(node_.attribute(name)); }

void XmlElement::fail(const char* name, const std::string& message) const {
  pugi::xml_attribute attr = node_.attribute(name);
  if (attr) fail_at(node_, attr, message);
  fail_at(node_, message);
}

std::string XmlElement::required(const char* name) {
  mark(name);
  pugi::xml_attribute attr = node_.attribute(name);
  if (!attr) fail_at(node_, fmt::format("missing attribute '{}'", name));
  return attr.value();
}

std::string XmlElement::optional(const char* name, std::string_view fallback) {
  mark(name);
  pugi::xml_attribute attr = node_.attribute(name);
  return attr ? std::string(attr.value()) : std::string(fallback);
}

std::optional<std::string> XmlElement::maybe(const char* name) {
  mark(name);
  pugi::xml_attribute attr = node_.attribute(name);
  if (!attr) return std::nullopt;
  return std::string(attr.value());
}

std::string XmlElement::choice(const char* name, std::initializer_list<std::string_view> allowed,
                               std::string_view fallback) {
  mark(name);
  pugi::xml_attribute attr = node_.attribute(name);
  if (!attr) return std::string(fallback);
  std::string_view value = attr.value();
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
    fail(name, fmt::format("attribute '{}' is '{}', expected {}", name, value,
                           quoted_list(std::vector<std::string_view>(allowed))));
  return std::string(value);
}

bool XmlElement::boolean(const char* name, bool fallback) {
  return choice(name, {"true", "false"}, fallback ? "true" : "false") == "true";
}

double XmlElement::number(const char* name, std::optional<double> fallback, double min, double max) {
  mark(name);
  pugi::xml_attribute attr = node_.attribute(name);
  if (!attr) {
    if (!fallback) fail_at(node_, fmt::format("missing attribute '{}'", name));
    return *fallback;
  }
  std::string_view text = loadctl::text::trim(attr.value(), " \t\r\n");
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
    fail(name, fmt::format("attribute '{}' is '{}', expected a number", name, attr.value()));
  if (value < min || value > max)
    fail(name, fmt::format("attribute '{}' is {}, expected a number in [{}, {}]", name,
                           format_number(value), format_number(min), format_number(max)));
  return value;
}

std::int64_t XmlElement::integer(const char* name, std::optional<std::int64_t> fallback,
                                 std::int64_t min, std::int64_t max) {
  mark(name);
  pugi::xml_attribute attr = node_.attribute(name);
  if (!attr) {
    if (!fallback) fail_at(node_, fmt::format("missing attribute '{}'", name));
    return *fallback;
  }
  std::string_view text = loadctl::text::trim(attr.value(), " \t\r\n");
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    fail(name, fmt::format("attribute '{}' is '{}', expected an integer", name, attr.value()));
  if (value < min || value > max)
    fail(name, fmt::format("attribute '{}' is {}, expected an integer in [{}, {}]", name, value, min, max));
  return value;
}

Template XmlElement::template_attr(const char* name, bool substitute, std::string_view fallback) {
  mark(name);
  pugi::xml_attribute attr = node_.attribute(name);
  if (!attr) return Template(fallback, false);
  try {
    return checked_template(node_, attr.value(), substitute);
  } catch (const ScenarioError& e) {
    fail(name, e.message());
  }
}

void XmlElement::ignore(std::initializer_list<const char*> names) {
  for (const char* n : names) mark(n);
}

void XmlElement::unsupported(std::initializer_list<const char*> names) {
  for (const char* n : names) {
    mark(n);
    if (pugi::xml_attribute attr = node_.attribute(n))
      fail_at(node_, attr, fmt::format("not supported yet: attribute '{}' of <{}>", n, node_.name()));
  }
}

void XmlElement::finish() const {
  for (pugi::xml_attribute attr : node_.attributes()) {
    if (std::find(seen_.begin(), seen_.end(), attr.name()) != seen_.end()) continue;
    std::vector<std::string> sorted = seen_;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::string_view> names(sorted.begin(), sorted.end());
    if (names.empty())
      fail_at(node_, attr, fmt::format("unknown attribute '{}': <{}> takes no attributes", attr.name(),
                                       node_.name()));
    fail_at(node_, attr, fmt::format("unknown attribute '{}', expected {}", attr.name(), quoted_list(names)));
  }
}

std::vector<pugi::xml_node> XmlElement::children(std::initializer_list<std::string_view> allowed) const {
  std::vector<pugi::xml_node> out;
  for (pugi::xml_node child : node_.children()) {
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      if (!loadctl::text::trim(child.value(), " \t\r\n").empty()) fail_at(child, fmt::format("unexpected text in <{}>", node_.name()));
      continue;
    }
    if (child.type() != pugi::node_element) continue;  // comments, processing instructions
    if (std::find(allowed.begin(), allowed.end(), std::string_view(child.name())) == allowed.end()) {
      if (allowed.size() == 0)
        fail_at(child, fmt::format("unknown element <{}>: <{}> takes no child elements", child.name(),
                                   node_.name()));
      std::vector<std::string_view> names(allowed);
      std::sort(names.begin(), names.end());
      std::string list;
      for (std::size_t i = 0; i < names.size(); ++i) list += fmt::format("{}<{}>", i ? ", " : "", names[i]);
      fail_at(child, fmt::format("unknown element <{}> in <{}>, expected {}", child.name(), node_.name(), list));
    }
    out.push_back(child);
  }
  return out;
}

std::optional<std::string> unknown_function(const Template& t) {
  for (const std::string& call : t.function_calls()) {
    if (find_substitution_function(call)) continue;
    std::string known;
    for (const std::string& name : substitution_function_names()) known += (known.empty() ? "" : ", ") + name;
    return fmt::format("not supported yet: Erlang function call %%{}%% in a substitution (built in or from "
                       "plugins: {})", call, known);
  }
  return std::nullopt;
}

Template checked_template(pugi::xml_node node, std::string_view text, bool substitute) {
  Template t(text, substitute);
  if (auto message = unknown_function(t)) fail_at(node, *message);
  return t;
}

std::string element_text(pugi::xml_node node) {
  std::string text;
  for (pugi::xml_node c : node.children())
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) text += c.value();
  return std::string(loadctl::text::trim(text, " \t\r\n"));
}

}  // namespace loadctl
