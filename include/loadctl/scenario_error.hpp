#pragma once
// Errors in a scenario file. Parsing code that holds a pugixml node throws with the node's byte
// offset; the loader, which knows the file text, turns the offset into line:column.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <pugixml.hpp>

namespace loadctl {

class ScenarioError : public std::runtime_error {
 public:
  /// A located error: "file:line:column: <path>: message".
  ScenarioError(std::string file, int line, int column, std::string element_path, std::string message);
  /// An error still to be located: the loader adds file, line and column from `offset`.
  ScenarioError(std::ptrdiff_t offset, std::string element_path, std::string message);

  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  std::ptrdiff_t offset() const { return offset_; }
  const std::string& element_path() const { return element_path_; }
  const std::string& message() const { return message_; }
  bool located() const { return line_ > 0; }

 private:
  std::string file_;
  int line_ = 0;
  int column_ = 0;
  std::ptrdiff_t offset_ = -1;
  std::string element_path_;
  std::string message_;
};

/// "/tsung/sessions/session[2]/request[3]/http": where a node sits, for error messages.
std::string element_path(pugi::xml_node node);

/// Throws a ScenarioError for `node` saying what was expected.
[[noreturn]] void fail_at(pugi::xml_node node, const std::string& message);

/// Same, located at one of the node's attributes (for attribute-level errors).
[[noreturn]] void fail_at(pugi::xml_node node, pugi::xml_attribute attr, const std::string& message);

/// Throws "not supported yet: <feature>" for a Tsung feature loadctl does not implement.
[[noreturn]] void unsupported_at(pugi::xml_node node, const std::string& feature);

/// Byte offset of a node (its '<' for elements) or of one of its attributes in the parsed text.
std::ptrdiff_t source_offset(pugi::xml_node node);
std::ptrdiff_t source_offset(pugi::xml_node node, pugi::xml_attribute attr);

/// 1-based line and column (in characters) of a byte offset in `text`.
struct TextPosition {
  int line = 1;
  int column = 1;
};
TextPosition text_position(std::string_view text, std::ptrdiff_t offset);

/// `error` with file, line and column filled in from its offset into `text` (unchanged if located).
ScenarioError locate(const ScenarioError& error, const std::string& file, std::string_view text);

}  // namespace loadctl
