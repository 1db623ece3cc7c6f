#include "pgsql_expr.hpp"

#include <charconv>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "pgsql_wire.hpp"

namespace loadctl::pgsql {
namespace {

std::uint16_t get_u16(std::string_view b) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(b[0]) << 8) | static_cast<unsigned char>(b[1]));
}

// Tsung's find_pair: "[N]" is ".N", then the expression splits on dots.
std::vector<std::string> split_expr(std::string_view expr) {
  std::string dotted;
  for (char c : expr) {
    if (c == '[') dotted += '.';
    else if (c != ']') dotted += c;
  }
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    std::size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    if (dot > start) keys.push_back(dotted.substr(start, dot - start));
    start = dot + 1;
  }
  return keys;
}

bool to_index(const std::string& key, unsigned& out) {
  auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), out);
  return ec == std::errc() && end == key.data() + key.size() && out > 0;
}

// Column `i` (0-based) of a RowDescription body: its name and the 18 bytes after it.
bool column_description(std::string_view body, unsigned i, std::string_view& name, std::string_view& fixed) {
  if (body.size() < 2) return false;
  unsigned count = get_u16(body);
  std::size_t at = 2;
  for (unsigned c = 0; c < count; ++c) {
    std::size_t nul = body.find('\0', at);
    if (nul == std::string_view::npos || nul + 19 > body.size()) return false;
    if (c == i) {
      name = body.substr(at, nul - at);
      fixed = body.substr(nul + 1, 18);
      return true;
    }
    at = nul + 19;
  }
  return false;
}

}  // namespace

PgsqlExpr::PgsqlExpr(std::string_view expr) {
  std::vector<std::string> keys = split_expr(expr);
  if (keys.empty()) throw std::invalid_argument("empty pgsql_expr");
  data_row = keys[0] == "data_row";
  if (!data_row && keys[0] != "row_description")
    throw std::invalid_argument(fmt::format("not supported yet: pgsql_expr on '{}' (loadctl reads data_row and "
                                            "row_description)", keys[0]));
  if (keys.size() < 2 || !to_index(keys[1], row))
    throw std::invalid_argument(fmt::format("pgsql_expr '{}': expected {}[ROW]... with ROW from 1", expr, keys[0]));
  if (data_row) {
    if (keys.size() != 3)
      throw std::invalid_argument(fmt::format("pgsql_expr '{}': expected data_row[ROW][COLUMN] or data_row[ROW].name", expr));
    if (!to_index(keys[2], column)) column_name = keys[2];
    return;
  }
  if (keys.size() != 4 || !to_index(keys[2], column) || !to_index(keys[3], field) || field > 7)
    throw std::invalid_argument(fmt::format("pgsql_expr '{}': expected row_description[ROW][COLUMN][FIELD], FIELD 1-7",
                                            expr));
}

bool PgsqlExpr::extract(std::string_view reply, std::string& out) const {
  std::span<const char> rest(reply.data(), reply.size());
  std::string_view first_description;
  bool have_description = false;
  unsigned seen = 0;
  while (!rest.empty()) {
    Message m = next_message(rest, rest.size());
    if (m.status != Message::Status::whole) return false;
    rest = rest.subspan(m.size);
    if (m.type == 'T' && !have_description) {
      first_description = m.body;
      have_description = true;
    }
    if (m.type != (data_row ? 'D' : 'T') || ++seen < row) continue;
    if (!data_row) {  // row_description[R][C][F]
      std::string_view name, fixed;
      if (!column_description(m.body, column - 1, name, fixed)) return false;
      switch (field) {
        case 1: out.assign(name); return true;
        case 2: out = get_u16(fixed.substr(16)) == 0 ? "text" : "binary"; return true;
        case 3: out = std::to_string(get_u16(fixed.substr(4))); return true;
        case 4: out = std::to_string(get_u32(fixed.substr(6))); return true;
        case 5: out = std::to_string(static_cast<std::int16_t>(get_u16(fixed.substr(10)))); return true;
        case 6: out = std::to_string(static_cast<std::int32_t>(get_u32(fixed.substr(12)))); return true;
        default: out = std::to_string(get_u32(fixed.substr(0))); return true;
      }
    }
    unsigned index = column;  // 1-based
    if (index == 0) {  // by name: its place in the reply's first RowDescription
      for (unsigned c = 0;; ++c) {
        std::string_view name, fixed;
        if (!have_description || !column_description(first_description, c, name, fixed)) return false;
        if (name == column_name) {
          index = c + 1;
          break;
        }
      }
    }
    std::string_view body = m.body;
    if (body.size() < 2 || index > get_u16(body)) return false;
    std::size_t at = 2;
    for (unsigned c = 1;; ++c) {
      if (at + 4 > body.size()) return false;
      std::uint32_t len = get_u32(body.substr(at));
      at += 4;
      if (len == 0xFFFFFFFFu) {  // NULL: Tsung's decoder stops the row there
        return false;
      }
      if (at + len > body.size()) return false;
      if (c == index) {
        out.assign(body.substr(at, len));
        return true;
      }
      at += len;
    }
  }
  return false;
}

}  // namespace loadctl::pgsql
