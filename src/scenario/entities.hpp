#pragma once
// XML entities declared in a scenario's DOCTYPE (Tsung's manual includes recorded sessions with
// <!ENTITY s1 SYSTEM "session1.xml"> ... &s1;). pugixml does not expand them, so the loader
// does, before parsing, and keeps a map from the expanded text back to each file's own text
// so that errors still name file:line:column of the file they are in.

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "loadctl/scenario_error.hpp"

namespace loadctl::detail {

/// Nesting limit of entity references (an entity whose text references another, ...).
inline constexpr int kMaxEntityDepth = 8;
/// Limit of entity references expanded in all (a scenario's whole expansion). Output size alone
/// does not bound the work: entities that expand to nothing can be referenced 100^8 times.
inline constexpr std::size_t kMaxEntityReferences = 1'000'000;

class SourceMap {
 public:
  /// Where a byte of the expanded text came from.
  struct Location {
    const std::string* file = nullptr;
    TextPosition position;
  };
  Location locate(std::ptrdiff_t offset) const;
  /// `error` located in the file its offset falls in (unchanged if already located).
  ScenarioError locate(const ScenarioError& error) const;

  /// Registers a file's text; returns its index.
  std::size_t add_file(std::string name, std::string text);
  /// The expanded bytes [begin, begin + length) are the file's bytes from `file_offset` on
  /// (merged into the last piece when they continue it in the expanded text and in the file).
  void add_piece(std::size_t begin, std::size_t length, std::size_t file, std::size_t file_offset);
  const std::string& file_text(std::size_t file) const { return files_[file].text; }
  const std::string& file_name(std::size_t file) const { return files_[file].name; }
  std::size_t file_count() const { return files_.size(); }
  std::size_t piece_count() const { return pieces_.size(); }

 private:
  struct File {
    std::string name, text;
  };
  struct Piece {
    std::size_t begin, length, file, file_offset;
  };
  std::deque<File> files_;  // a deque: expansion holds views of texts while adding files
  std::vector<Piece> pieces_;
};

struct ExpandedScenario {
  std::string text;  ///< entities expanded, their declarations blanked out (same offsets)
  SourceMap map;
};

/// Expands the entities the DOCTYPE of `text` declares; SYSTEM files are read relative to `dir`
/// (regular files only, each read once; the files read and the expanded text at most `max_bytes`
/// each; at most kMaxEntityReferences references). When `read_files` is false (agents, which get
/// the controller's expanded text) any entity declaration is refused. Throws located ScenarioErrors.
ExpandedScenario expand_entities(const std::string& text, const std::string& name, const std::string& dir,
                                 std::size_t max_bytes, bool read_files);

}  // namespace loadctl::detail
