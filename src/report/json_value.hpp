#pragma once
// A minimal JSON reader for the report: enough for stats.jsonl and run.json (objects, arrays,
// strings with escapes, numbers, true/false/null). Not for untrusted megabyte documents.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadctl::report {

struct JsonValue {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue, std::less<>> object;

  /// The member `key` of an object, or nullptr (also when this is not an object).
  const JsonValue* find(std::string_view key) const;
  /// The member `key` as a number, or nullopt when absent, null or not a number.
  std::optional<double> number_at(std::string_view key) const;
  /// The member `key` as a string, or "" when absent or not a string.
  std::string string_at(std::string_view key) const;
};

/// Parses one JSON document; nullopt on any syntax error or trailing garbage (`error` says why).
std::optional<JsonValue> parse_json(std::string_view text, std::string* error = nullptr);

}  // namespace loadctl::report
