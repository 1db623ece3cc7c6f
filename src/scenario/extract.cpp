// Extracting variables from responses (<dyn_variable>) and comparing them (<if>, <while>).

#include <charconv>
#include <cstdlib>
#include <strings.h>

#include <pugixml.hpp>

#include "loadctl/dynamics.hpp"
#include "loadctl/text.hpp"

namespace loadctl {
namespace {

/// The value of header `name` (first occurrence), or nullopt.
bool find_header(std::string_view headers, std::string_view name, std::string_view& value) {
  std::size_t pos = headers.find("\r\n");  // skip the status line
  while (pos != std::string_view::npos && pos + 2 < headers.size()) {
    std::size_t start = pos + 2;
    std::size_t end = headers.find("\r\n", start);
    std::string_view line = headers.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && text::iequals(loadctl::text::trim(line.substr(0, colon)), name)) {
      value = loadctl::text::trim(line.substr(colon + 1), " \t\r");
      return true;
    }
    pos = end;
  }
  return false;
}

/// `param=value` or `param="value"` inside a header value (Digest challenges, cookies...).
bool find_param(std::string_view value, std::string_view param, std::string& out) {
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (value[i] == ' ' || value[i] == ',' || value[i] == ';')) ++i;
    std::size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) return false;
    std::string_view key = loadctl::text::trim(value.substr(i, eq - i));
    if (std::size_t sp = key.rfind(' '); sp != std::string_view::npos) key = key.substr(sp + 1);  // "Digest realm"
    std::size_t v = eq + 1, end;
    if (v < value.size() && value[v] == '"') {
      end = value.find('"', v + 1);
      if (end == std::string_view::npos) end = value.size();
      if (text::iequals(key, param)) return out.assign(value.substr(v + 1, end - v - 1)), true;
      i = end + 1;
    } else {
      end = value.find_first_of(",;", v);
      if (end == std::string_view::npos) end = value.size();
      if (text::iequals(key, param)) return out.assign(loadctl::text::trim(value.substr(v, end - v))), true;
      i = end;
    }
  }
  return false;
}

bool xpath_values(std::string_view body, std::string_view expr, std::string& out, std::vector<std::string>* all) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size(), pugi::parse_default | pugi::parse_fragment)) return false;
  try {
    pugi::xpath_node_set nodes = doc.select_nodes(std::string(expr).c_str());
    if (nodes.empty()) return false;
    auto value = [](const pugi::xpath_node& n) -> std::string {
      if (n.attribute()) return n.attribute().value();
      if (n.node().type() == pugi::node_pcdata) return n.node().value();
      return n.node().text().get();
    };
    out = value(nodes.first());
    if (all)
      for (const pugi::xpath_node& n : nodes) all->push_back(value(n));
    return true;
  } catch (const pugi::xpath_exception&) {
    return false;
  }
}

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) out.push_back(static_cast<char>(cp));
  else if (cp < 0x800) { out.push_back(static_cast<char>(0xC0 | (cp >> 6))); out.push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
  else if (cp < 0x10000) { out.push_back(static_cast<char>(0xE0 | (cp >> 12))); out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F))); out.push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
  else { out.push_back(static_cast<char>(0xF0 | (cp >> 18))); out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F))); out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F))); out.push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
}

}  // namespace

HttpParts split_http(std::string_view response, std::string& scratch) {
  if (!response.starts_with("HTTP/")) return {{}, response};
  std::size_t end = response.find("\r\n\r\n");
  if (end == std::string_view::npos) return {response, {}};
  HttpParts parts{response.substr(0, end + 2), response.substr(end + 4)};
  std::string_view te;
  if (!find_header(parts.headers, "transfer-encoding", te) || te.find("chunked") == std::string_view::npos)
    return parts;
  scratch.clear();
  std::string_view rest = parts.body;
  while (!rest.empty()) {
    std::size_t size = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), size, 16);
    if (ec != std::errc{} || size == 0) break;
    std::size_t line_end = rest.find("\r\n");
    if (line_end == std::string_view::npos || line_end + 2 + size > rest.size()) break;
    scratch.append(rest.substr(line_end + 2, size));
    rest.remove_prefix(std::min(rest.size(), line_end + 2 + size + 2));
  }
  parts.body = scratch;
  return parts;
}

void decode_html_entities(std::string& text) {
  if (text.find('&') == std::string::npos) return;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t semi = text[i] == '&' ? text.find(';', i) : std::string::npos;
    if (semi == std::string::npos || semi - i > 10) {
      out.push_back(text[i++]);
      continue;
    }
    std::string_view name(text.data() + i + 1, semi - i - 1);
    if (name == "amp") out.push_back('&');
    else if (name == "lt") out.push_back('<');
    else if (name == "gt") out.push_back('>');
    else if (name == "quot") out.push_back('"');
    else if (name == "apos") out.push_back('\'');
    else if (name == "nbsp") append_utf8(out, 0xA0);
    else if (name.size() > 1 && name[0] == '#') {
      bool hex = name[1] == 'x' || name[1] == 'X';
      std::string_view digits = name.substr(hex ? 2 : 1);
      unsigned long cp = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc{} || p != digits.data() + digits.size() || digits.empty()) {
        out.push_back(text[i++]);
        continue;
      }
      append_utf8(out, cp);
    } else {
      out.push_back(text[i++]);
      continue;
    }
    i = semi + 1;
  }
  text.swap(out);
}

bool DynVariable::extract(std::string_view response, std::string& out, std::vector<std::string>* all) const {
  bool found = false;
  switch (kind) {
    case Kind::re:
    case Kind::form:
      found = regex->first_group(response, out);
      break;
    case Kind::header: {
      std::string scratch;
      HttpParts parts = split_http(response, scratch);
      std::size_t slash = expr.find('/');
      std::string_view value;
      if (!find_header(parts.headers, std::string_view(expr).substr(0, slash), value)) return false;
      if (slash == std::string::npos) found = (out.assign(value), true);
      else found = find_param(value, std::string_view(expr).substr(slash + 1), out);
      break;
    }
    case Kind::jsonpath: {
      std::string scratch;
      std::vector<std::string> values;
      if (!jsonpath->evaluate(split_http(response, scratch).body, values)) return false;
      out = values.front();
      if (all) *all = std::move(values);
      found = true;
      break;
    }
    case Kind::xpath: {
      std::string scratch;
      found = xpath_values(split_http(response, scratch).body, expr, out, all);
      break;
    }
    case Kind::protocol:
      found = extractor->extract(response, out);
      break;
  }
  if (found && decode_html) decode_html_entities(out);
  return found;
}

bool Condition::holds(const std::string* current) const {
  std::string_view v = current ? std::string_view(*current) : std::string_view();
  if (op == Op::eq) return current && v == value;
  if (op == Op::neq) return !current || v != value;
  if (!current) return false;
  char* end1 = nullptr;
  char* end2 = nullptr;
  double a = std::strtod(current->c_str(), &end1);
  double b = std::strtod(value.c_str(), &end2);
  bool numeric = !current->empty() && !value.empty() && *end1 == '\0' && *end2 == '\0';
  int cmp = numeric ? (a < b ? -1 : a > b ? 1 : 0) : v.compare(value);
  switch (op) {
    case Op::gt: return cmp > 0;
    case Op::gte: return cmp >= 0;
    case Op::lt: return cmp < 0;
    case Op::lte: return cmp <= 0;
    default: return false;
  }
}

}  // namespace loadctl
