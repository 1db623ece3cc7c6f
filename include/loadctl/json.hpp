#pragma once
// Tiny helpers for writing JSON by hand (run.json, stats.jsonl, summary.json).

#include <string>
#include <string_view>

namespace loadctl {

/// Appends `s` as a quoted JSON string; invalid UTF-8 becomes U+FFFD.
void append_json_string(std::string& out, std::string_view s);
/// Appends a finite number in shortest round-trip form; NaN and infinities become null.
void append_json_number(std::string& out, double v);

/// `s` as a quoted JSON string, with control characters, quotes and backslashes escaped.
std::string json_string(std::string_view s);

/// A finite number as JSON; NaN and infinities become null.
std::string json_number(double v);

}  // namespace loadctl
