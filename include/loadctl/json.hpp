#pragma once
// Tiny helpers for writing JSON by hand (run.json, stats.jsonl, summary.json).

#include <string>
#include <string_view>

namespace loadctl {

/// `s` as a quoted JSON string, with control characters, quotes and backslashes escaped.
std::string json_string(std::string_view s);

/// A finite number as JSON; NaN and infinities become null.
std::string json_number(double v);

}  // namespace loadctl
