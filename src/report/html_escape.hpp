#pragma once
// HTML/XML text escaping for the report.

#include <string>
#include <string_view>

namespace loadctl::report {

/// `s` with & < > " ' escaped, safe in text and in quoted attributes.
inline std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace loadctl::report
