// Tsung's JSONPath subset, evaluated directly on the JSON text: values are located as spans of
// the input and only the results are copied out. No document tree is built.

#include <charconv>
#include <stdexcept>

#include "loadctl/dynamics.hpp"

namespace loadctl {
namespace {

using Span = std::string_view;

void skip_ws(Span s, std::size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
}

/// Reads a JSON string at s[i] == '"' into `out` (escapes decoded); false when malformed.
bool read_string(Span s, std::size_t& i, std::string* out) {
  ++i;
  while (i < s.size()) {
    char c = s[i++];
    if (c == '"') return true;
    if (c != '\\') {
      if (out) out->push_back(c);
      continue;
    }
    if (i >= s.size()) return false;
    char e = s[i++];
    if (e == 'u') {
      if (i + 4 > s.size()) return false;
      unsigned cp = 0;
      if (std::from_chars(s.data() + i, s.data() + i + 4, cp, 16).ptr != s.data() + i + 4) return false;
      i += 4;
      if (out) {
        if (cp < 0x80) out->push_back(static_cast<char>(cp));
        else if (cp < 0x800) { out->push_back(static_cast<char>(0xC0 | (cp >> 6))); out->push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
        else { out->push_back(static_cast<char>(0xE0 | (cp >> 12))); out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F))); out->push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
      }
      continue;
    }
    if (!out) continue;
    switch (e) {
      case 'n': out->push_back('\n'); break;
      case 't': out->push_back('\t'); break;
      case 'r': out->push_back('\r'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      default: out->push_back(e);
    }
  }
  return false;
}

/// Skips the value at s[i]; false when malformed.
bool skip_value(Span s, std::size_t& i, int depth = 0) {
  skip_ws(s, i);
  if (i >= s.size() || depth > 200) return false;
  char c = s[i];
  if (c == '"') return read_string(s, i, nullptr);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    ++i;
    skip_ws(s, i);
    if (i < s.size() && s[i] == close) return ++i, true;
    while (i < s.size()) {
      if (c == '{') {
        skip_ws(s, i);
        if (i >= s.size() || s[i] != '"' || !read_string(s, i, nullptr)) return false;
        skip_ws(s, i);
        if (i >= s.size() || s[i++] != ':') return false;
      }
      if (!skip_value(s, i, depth + 1)) return false;
      skip_ws(s, i);
      if (i >= s.size()) return false;
      if (s[i] == close) return ++i, true;
      if (s[i++] != ',') return false;
    }
    return false;
  }
  std::size_t start = i;
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
         s[i] != '\r' && s[i] != '\t')
    ++i;
  return i > start;
}

/// Calls f(key, value span) for each member of an object, or f("", element) for each array element.
template <class F>
void for_each_child(Span v, F&& f) {
  std::size_t i = 0;
  if (v.empty() || (v[0] != '{' && v[0] != '[')) return;
  bool object = v[0] == '{';
  ++i;
  std::string key;
  while (true) {
    skip_ws(v, i);
    if (i >= v.size() || v[i] == '}' || v[i] == ']') return;
    key.clear();
    if (object) {
      if (v[i] != '"' || !read_string(v, i, &key)) return;
      skip_ws(v, i);
      if (i >= v.size() || v[i++] != ':') return;
    }
    skip_ws(v, i);
    std::size_t start = i;
    if (!skip_value(v, i)) return;
    if (!f(key, v.substr(start, i - start))) return;
    skip_ws(v, i);
    if (i < v.size() && v[i] == ',') ++i;
  }
}

/// The scalar text of a value: strings unquoted, others verbatim.
std::string scalar(Span v) {
  if (!v.empty() && v[0] == '"') {
    std::string out;
    std::size_t i = 0;
    read_string(v, i, &out);
    return out;
  }
  return std::string(v);
}

}  // namespace

JsonPath::JsonPath(std::string_view path) {
  std::size_t i = 0;
  auto fail = [&](const char* why) {
    throw std::invalid_argument("jsonpath '" + std::string(path) + "': " + why + " at offset " + std::to_string(i));
  };
  if (path.starts_with("$")) i = path.size() > 1 && path[1] == '.' ? 2 : 1;
  if (i >= path.size()) fail("empty path");
  while (i < path.size()) {
    if (path[i] == '[') {
      std::size_t close = path.find(']', i);
      if (close == std::string_view::npos) fail("missing ']'");
      std::string_view inner = path.substr(i + 1, close - i - 1);
      Step step{};
      if (inner == "*") {
        step.kind = Step::Kind::all;
      } else if (inner.starts_with("?")) {
        std::size_t eq = inner.find('=');
        if (eq == std::string_view::npos || eq < 2) fail("expected [?key=value]");
        step.kind = Step::Kind::filter;
        step.key = inner.substr(1, eq - 1);
        step.value = inner.substr(eq + 1);
      } else {
        auto [p, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), step.index);
        if (ec != std::errc{} || p != inner.data() + inner.size() || inner.empty()) fail("expected [N], [*] or [?key=value]");
        step.kind = Step::Kind::index;
      }
      steps_.push_back(std::move(step));
      i = close + 1;
      if (i < path.size() && path[i] == '.') {
        ++i;
        if (i >= path.size()) fail("path ends with '.'");
      }
      continue;
    }
    std::size_t end = path.find_first_of(".[", i);
    if (end == std::string_view::npos) end = path.size();
    if (end == i) fail("empty key");
    steps_.push_back(Step{Step::Kind::key, std::string(path.substr(i, end - i)), {}, 0});
    i = end;
    if (i < path.size() && path[i] == '.') {
      ++i;
      if (i >= path.size()) fail("path ends with '.'");
    }
  }
}

bool JsonPath::evaluate(std::string_view json, std::vector<std::string>& out) const {
  std::vector<Span> current, next;
  std::size_t i = 0;
  skip_ws(json, i);
  std::size_t start = i;
  if (!skip_value(json, i)) return false;
  current.push_back(json.substr(start, i - start));
  for (const Step& step : steps_) {
    next.clear();
    for (Span v : current) {
      std::size_t n = 0;
      for_each_child(v, [&](const std::string& key, Span child) {
        bool array = v[0] == '[';
        switch (step.kind) {
          case Step::Kind::key:
            if (!array && key == step.key) return next.push_back(child), false;
            break;
          case Step::Kind::index:
            if (array && n++ == step.index) return next.push_back(child), false;
            break;
          case Step::Kind::all:
            next.push_back(child);
            break;
          case Step::Kind::filter: {
            bool hit = false;
            for_each_child(child, [&](const std::string& k, Span kv) {
              if (k == step.key && scalar(kv) == step.value) hit = true;
              return !hit;
            });
            if (hit && array) next.push_back(child);
            break;
          }
        }
        return true;
      });
    }
    current.swap(next);
    if (current.empty()) return false;
  }
  for (Span v : current) out.push_back(scalar(v));
  return true;
}

}  // namespace loadctl
