#pragma once
// Strict attribute access for scenario elements: every attribute must be read or declared,
// so unknown attributes are errors rather than silently ignored.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "loadctl/template.hpp"

namespace loadctl {

class XmlElement {
 public:
  explicit XmlElement(pugi::xml_node node);

  pugi::xml_node node() const { return node_; }

  /// The attribute's value; fails "missing attribute" when absent.
  std::string required(const char* name);
  /// The attribute's value, or `fallback` when absent.
  std::string optional(const char* name, std::string_view fallback = {});
  std::optional<std::string> maybe(const char* name);
  bool has(const char* name) const;

  /// One of `allowed` (exact match), or `fallback` when absent.
  std::string choice(const char* name, std::initializer_list<std::string_view> allowed,
                     std::string_view fallback);
  bool boolean(const char* name, bool fallback);
  /// A number; `min`/`max` bound it. Fails with the expected form on bad text.
  double number(const char* name, std::optional<double> fallback, double min = -1e300, double max = 1e300);
  std::int64_t integer(const char* name, std::optional<std::int64_t> fallback,
                       std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX);

  /// Marks attributes as known but having no effect in loadctl (e.g. Tsung-internal ones).
  void ignore(std::initializer_list<const char*> names);
  /// Marks attributes Tsung has and loadctl does not implement: present = "not supported yet".
  void unsupported(std::initializer_list<const char*> names);

  /// A %%_var%% template from an attribute (see checked_template), or `fallback` when absent.
  Template template_attr(const char* name, bool substitute, std::string_view fallback = {});

  /// Fails at the attribute `name` (or at the element when it is absent).
  [[noreturn]] void fail(const char* name, const std::string& message) const;

  /// Fails on the first attribute that was never read, ignored or declared.
  void finish() const;

  /// Child elements, each checked against `allowed` names (others fail, naming what is allowed).
  std::vector<pugi::xml_node> children(std::initializer_list<std::string_view> allowed) const;

 private:
  void mark(const char* name);
  pugi::xml_node node_;
  std::vector<std::string> seen_;
};

/// Splits `text` into a Template; a Tsung %%module:function%% call with no registered function
/// (register_substitution_function) fails as "not supported yet".
Template checked_template(pugi::xml_node node, std::string_view text, bool substitute);
/// The "not supported yet" message for the first call of `t` with no registered function.
std::optional<std::string> unknown_function(const Template& t);

/// The element's text content (PCDATA and CDATA), trimmed of surrounding whitespace.
std::string element_text(pugi::xml_node node);

}  // namespace loadctl
