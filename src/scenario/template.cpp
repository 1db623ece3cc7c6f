#include "loadctl/template.hpp"

#include <algorithm>
#include <ctime>
#include <utility>

namespace loadctl {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool is_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_name_char(c)) return false;
  return true;
}

/// "module:function", both Erlang atoms.
bool is_function_call(std::string_view s) {
  std::size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  return is_name(s.substr(0, colon)) && is_name(s.substr(colon + 1));
}

std::vector<std::pair<std::string, SubstitutionFunction>>& functions() {
  static std::vector<std::pair<std::string, SubstitutionFunction>> table = [] {
    std::vector<std::pair<std::string, SubstitutionFunction>> t;
    // Tsung's ts_user_server: the user's id; the id prefixed by the Unix time, unique across runs.
    t.emplace_back("ts_user_server:get_unique_id",
                   [](const VariableSource& vars, std::string& out) { out += std::to_string(vars.user_id()); });
    t.emplace_back("ts_user_server:get_really_unique_id", [](const VariableSource& vars, std::string& out) {
      out += std::to_string(static_cast<long long>(std::time(nullptr)));
      out += '-';
      out += std::to_string(vars.user_id());
    });
    return t;
  }();
  return table;
}

}  // namespace

void register_substitution_function(std::string name, SubstitutionFunction fn) {
  for (auto& [n, f] : functions())
    if (n == name) {
      f = fn;
      return;
    }
  functions().emplace_back(std::move(name), fn);
}

SubstitutionFunction find_substitution_function(std::string_view name) {
  for (const auto& [n, f] : functions())
    if (n == name) return f;
  return nullptr;
}

std::vector<std::string> substitution_function_names() {
  std::vector<std::string> names;
  for (const auto& [n, f] : functions()) names.push_back(n);
  std::sort(names.begin(), names.end());
  return names;
}

void Template::append_literal(std::string_view text) {
  if (text.empty()) return;
  if (!parts_.empty() && !parts_.back().is_var)
    parts_.back().text.append(text);
  else
    parts_.push_back(Part{std::string(text), false});
}

Template::Template(std::string_view text, bool substitute) {
  if (!substitute) {
    append_literal(text);
    return;
  }
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = text.find("%%", pos);
    if (open == std::string_view::npos) break;
    std::size_t close = text.find("%%", open + 2);
    if (close == std::string_view::npos) break;
    std::string_view inner = text.substr(open + 2, close - open - 2);
    if (inner.size() > 1 && inner[0] == '_' && is_name(inner.substr(1))) {
      append_literal(text.substr(pos, open - pos));
      parts_.push_back(Part{std::string(inner.substr(1)), true});
      pos = close + 2;
    } else if (is_function_call(inner)) {
      calls_.emplace_back(inner);
      append_literal(text.substr(pos, open - pos));
      parts_.push_back(Part{std::string(inner), true, true, find_substitution_function(inner)});
      pos = close + 2;
    } else {
      // Not a placeholder: keep the first "%%" and look again from the second.
      append_literal(text.substr(pos, close - pos));
      pos = close;
    }
  }
  append_literal(text.substr(pos));
}

std::vector<std::string_view> Template::variables() const {
  std::vector<std::string_view> names;
  for (const Part& p : parts_)
    if (p.is_var && !p.is_call) names.emplace_back(p.text);
  return names;
}

void Template::render(const VariableSource* vars, std::string& out, unsigned* missing) const {
  for (const Part& p : parts_) {
    if (!p.is_var) {
      out.append(p.text);
    } else if (p.is_call && vars && p.function) {
      p.function(*vars, out);
    } else if (p.is_call || !vars || !vars->append(p.text, out)) {
      if (missing) ++*missing;
    }
  }
}

std::string Template::render(const VariableSource* vars) const {
  std::string out;
  render(vars, out);
  return out;
}

}  // namespace loadctl
