#pragma once
// ASCII text helpers for the protocol parsers and the scenario loader: case folding, trimming and
// control-character checks, locale-independent (std::tolower depends on the C locale) and
// constexpr. One copy for every parser: header names, tokens and attribute values all use these.

#include <algorithm>
#include <string>
#include <string_view>

namespace loadctl::text {

constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

/// Case-insensitive (ASCII letters only) equality.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

/// iequals() against a `lower` that is already lower case: folds one side only (header names
/// matched against constants on the per-response path).
constexpr bool iequals_lower(std::string_view a, std::string_view lower) noexcept {
  return a.size() == lower.size() &&
         std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) { return ascii_lower(x) == y; });
}

/// `s` without the leading and trailing characters found in `chars` (by default HTTP's optional
/// whitespace, RFC 9110 section 5.6.3: space and tab).
constexpr std::string_view trim(std::string_view s, std::string_view chars = " \t") noexcept {
  while (!s.empty() && chars.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

/// True when `s` holds a C0 control character or DEL (RFC 5234 CTL): such a value must not be
/// echoed into a header line.
constexpr bool has_ctl(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

/// A lower-case copy of `s` (ASCII letters only).
inline std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace loadctl::text
