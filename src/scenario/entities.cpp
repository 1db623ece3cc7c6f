#include "scenario/entities.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "loadctl/input_file.hpp"

namespace loadctl::detail {

SourceMap::Location SourceMap::locate(std::ptrdiff_t offset) const {
  std::size_t at = offset < 0 ? 0 : static_cast<std::size_t>(offset);
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), at,
                             [](std::size_t value, const Piece& p) { return value < p.begin; });
  if (it == pieces_.begin()) return {&files_.front().name, text_position(files_.front().text, offset)};
  const Piece& p = *(it - 1);
  std::size_t in_file = p.file_offset + std::min(at - p.begin, p.length);
  return {&files_[p.file].name, text_position(files_[p.file].text, static_cast<std::ptrdiff_t>(in_file))};
}

ScenarioError SourceMap::locate(const ScenarioError& error) const {
  if (error.located()) return error;
  Location where = locate(error.offset());
  return ScenarioError(*where.file, where.position.line, where.position.column, error.element_path(),
                       error.message());
}

std::size_t SourceMap::add_file(std::string name, std::string text) {
  files_.push_back({std::move(name), std::move(text)});
  return files_.size() - 1;
}

void SourceMap::add_piece(std::size_t begin, std::size_t length, std::size_t file, std::size_t file_offset) {
  if (length == 0) return;
  if (!pieces_.empty()) {  // the same file's bytes continuing where the last piece ends: extend it
    Piece& last = pieces_.back();
    if (last.file == file && last.begin + last.length == begin && last.file_offset + last.length == file_offset) {
      last.length += length;
      return;
    }
  }
  pieces_.push_back({begin, length, file, file_offset});
}

namespace {

struct Entity {
  std::string name;
  bool external = false;
  std::string value;        ///< replacement text, or the SYSTEM file
  std::size_t offset = 0;   ///< of `value` in the main file (internal entities)
};

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':' ||
         static_cast<unsigned char>(c) >= 0x80;
}

/// Reads the DOCTYPE internal subset: its entities, and where it lies (to blank it out).
class DoctypeReader {
 public:
  DoctypeReader(const std::string& text, const SourceMap& map) : text_(text), map_(map) {}

  std::vector<Entity> entities;
  std::size_t subset_begin = 0, subset_end = 0;  ///< between '[' and ']', exclusive
  std::optional<std::size_t> first_declaration;  ///< of any <!ENTITY, parameter entities too

  void read() {
    std::size_t doctype = doctype_offset();
    if (doctype == std::string::npos) return;
    std::size_t open = text_.find_first_of("[>", doctype);
    if (open == std::string::npos || text_[open] != '[') return;
    pos_ = open + 1;
    subset_begin = pos_;
    while (true) {
      skip_space();
      if (pos_ >= text_.size()) fail(subset_begin, "unterminated DOCTYPE internal subset");
      if (text_[pos_] == ']') break;
      if (text_.compare(pos_, 4, "<!--") == 0) {
        pos_ = find_or_fail("-->", pos_) + 3;
      } else if (text_.compare(pos_, 8, "<!ENTITY") == 0) {
        read_entity();
      } else if (text_[pos_] == '<' || text_[pos_] == '%') {
        skip_declaration();
      } else {
        fail(pos_, "malformed DOCTYPE internal subset");
      }
    }
    subset_end = pos_;
  }

 private:
  // The prolog: a byte order mark, white space, <?...?> and comments, then maybe the DOCTYPE.
  std::size_t doctype_offset() const {
    std::size_t i = text_.starts_with("\xEF\xBB\xBF") ? 3 : 0;
    while (i < text_.size()) {
      if (std::isspace(static_cast<unsigned char>(text_[i]))) {
        ++i;
      } else if (text_.compare(i, 2, "<?") == 0 || text_.compare(i, 4, "<!--") == 0) {
        std::size_t end = text_.find(text_[i + 1] == '?' ? "?>" : "-->", i + 2);
        if (end == std::string::npos) return std::string::npos;
        i = end + (text_[i + 1] == '?' ? 2 : 3);
      } else {
        return text_.compare(i, 9, "<!DOCTYPE") == 0 ? i : std::string::npos;
      }
    }
    return std::string::npos;
  }
  [[noreturn]] void fail(std::size_t at, const std::string& message) const {
    throw map_.locate(ScenarioError(static_cast<std::ptrdiff_t>(at), "", message));
  }
  std::size_t find_or_fail(std::string_view what, std::size_t from) const {
    std::size_t at = text_.find(what, from);
    if (at == std::string::npos) fail(from, fmt::format("unterminated declaration (no '{}')", what));
    return at;
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::string read_name() {
    std::size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    if (start == pos_) fail(start, "expected a name in the DOCTYPE");
    return text_.substr(start, pos_ - start);
  }
  // A quoted literal; returns its text and sets `at` to the offset of its first character.
  std::string read_literal(std::size_t& at) {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '\'')) fail(pos_, "expected a quoted value");
    char quote = text_[pos_];
    at = pos_ + 1;
    std::size_t end = text_.find(quote, at);
    if (end == std::string::npos) fail(pos_, "unterminated quoted value");
    pos_ = end + 1;
    return text_.substr(at, end - at);
  }
  void skip_declaration() {  // <!ELEMENT ...>, <!ATTLIST ...>, <?pi?>, %pe;: quotes may hold '>'
    std::size_t start = pos_;
    if (text_[pos_] == '%') {
      pos_ = find_or_fail(";", pos_) + 1;
      return;
    }
    char quote = 0;
    for (; pos_ < text_.size(); ++pos_) {
      char c = text_[pos_];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        ++pos_;
        return;
      }
    }
    fail(start, "unterminated declaration in the DOCTYPE");
  }
  void read_entity() {
    std::size_t start = pos_;
    if (!first_declaration) first_declaration = start;
    pos_ += 8;
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '%') {  // a parameter entity: DTD-level only
      pos_ = start;
      skip_declaration();
      return;
    }
    Entity e;
    e.name = read_name();
    skip_space();
    std::size_t at = 0;
    if (text_.compare(pos_, 6, "SYSTEM") == 0) {
      pos_ += 6;
      e.external = true;
      e.value = read_literal(at);
    } else if (text_.compare(pos_, 6, "PUBLIC") == 0) {
      pos_ += 6;
      read_literal(at);
      e.external = true;
      e.value = read_literal(at);
    } else {
      e.value = read_literal(at);
    }
    e.offset = at;
    skip_space();
    if (text_.compare(pos_, 5, "NDATA") == 0)
      fail(start, fmt::format("not supported yet: unparsed entity '{}' (NDATA)", e.name));
    if (pos_ >= text_.size() || text_[pos_] != '>') fail(pos_, "expected '>' closing <!ENTITY");
    ++pos_;
    // The first declaration of a name is binding (XML 1.0, 4.2).
    if (std::none_of(entities.begin(), entities.end(), [&](const Entity& x) { return x.name == e.name; }))
      entities.push_back(std::move(e));
  }

  const std::string& text_;
  const SourceMap& map_;
  std::size_t pos_ = 0;
};

class Expander {
 public:
  Expander(const std::vector<Entity>& entities, std::string dir, std::size_t max_bytes, ExpandedScenario& out)
      : dir_(std::move(dir)), max_bytes_(max_bytes), out_(out) {
    for (const Entity& e : entities) entities_.emplace(e.name, &e);
  }

  /// Appends `text` (bytes of file `file` from `file_offset` on) with references expanded.
  void expand(std::string_view text, std::size_t file, std::size_t file_offset, int depth) {
    std::size_t run = 0, i = 0;
    while (i < text.size()) {
      if (text.compare(i, 4, "<!--") == 0 || text.compare(i, 9, "<![CDATA[") == 0) {
        std::size_t end = text.find(text[i + 2] == '-' ? "-->" : "]]>", i);
        i = end == std::string_view::npos ? text.size() : end + 3;
        continue;
      }
      std::optional<std::size_t> name_end;
      if (text[i] == '&' && i + 1 < text.size() && text[i + 1] != '#') {
        std::size_t j = i + 1;
        while (j < text.size() && is_name_char(text[j])) ++j;
        if (j > i + 1 && j < text.size() && text[j] == ';') name_end = j;
      }
      if (!name_end) {
        ++i;
        continue;
      }
      std::string name(text.substr(i + 1, *name_end - i - 1));
      if (name == "amp" || name == "lt" || name == "gt" || name == "quot" || name == "apos") {
        i = *name_end + 1;
        continue;
      }
      append(text.substr(run, i - run), file, file_offset + run);
      reference(name, file, file_offset + i, depth);
      i = run = *name_end + 1;
    }
    append(text.substr(run), file, file_offset + run);
  }

 private:
  [[noreturn]] void fail(std::size_t file, std::size_t offset, const std::string& message) const {
    TextPosition p = text_position(out_.map.file_text(file), static_cast<std::ptrdiff_t>(offset));
    throw ScenarioError(out_.map.file_name(file), p.line, p.column, "", message);
  }

  void append(std::string_view bytes, std::size_t file, std::size_t file_offset) {
    if (out_.text.size() + bytes.size() > max_bytes_)
      fail(file, file_offset, fmt::format("the scenario with its entities expanded is larger than the limit of {} MiB",
                                          max_bytes_ >> 20));
    out_.map.add_piece(out_.text.size(), bytes.size(), file, file_offset);
    out_.text.append(bytes);
  }

  void reference(const std::string& name, std::size_t file, std::size_t offset, int depth) {
    // Work is bounded by references, not only by output: empty entities expand to nothing.
    if (++references_ > kMaxEntityReferences)
      fail(file, offset, fmt::format("entity expansion exceeds {} references (loadctl's limit)", kMaxEntityReferences));
    auto it = entities_.find(name);
    if (it == entities_.end()) fail(file, offset, fmt::format("undefined entity '&{};'", name));
    const Entity& entity = *it->second;
    if (depth >= kMaxEntityDepth)
      fail(file, offset, fmt::format("entity '&{};' nested more than {} levels deep (recursive?)", name, kMaxEntityDepth));
    if (!entity.external) {
      expand(entity.value, 0, entity.offset, depth + 1);
      return;
    }
    const ExternalText& external = read_external(entity, file, offset);
    const std::string& stored = out_.map.file_text(external.file);
    expand(std::string_view(stored).substr(external.start), external.file, external.start, depth + 1);
  }

  struct ExternalText {
    std::size_t file;   ///< in the SourceMap
    std::size_t start;  ///< after the text declaration
  };

  /// The file of a SYSTEM entity, read once per path however often it is referenced.
  const ExternalText& read_external(const Entity& entity, std::size_t file, std::size_t offset) {
    std::string path = entity.value;
    if (path.starts_with("file://")) path.erase(0, 7);
    if (path.find("://") != std::string::npos)
      fail(file, offset, fmt::format("not supported yet: entity '{}' from a URL ({})", entity.name, entity.value));
    std::filesystem::path full = std::filesystem::path(path).is_absolute() ? std::filesystem::path(path)
                                                                              : std::filesystem::path(dir_) / path;
    std::string key = full.lexically_normal().string();
    if (auto cached = files_.find(key); cached != files_.end()) return cached->second;
    std::string content;
    try {
      content = read_regular_file(full.string(), max_bytes_);
    } catch (const std::runtime_error& e) {
      fail(file, offset, fmt::format("entity '{}': {}", entity.name, e.what()));
    }
    bytes_read_ += content.size();  // text declarations are read but not output: count them too
    if (bytes_read_ > max_bytes_)
      fail(file, offset,
           fmt::format("entity expansion exceeds {} bytes of entity files read (loadctl's limit)", max_bytes_));
    std::size_t start = 0;  // an external entity may begin with a text declaration <?xml ...?>
    if (content.starts_with("<?xml")) {
      std::size_t end = content.find("?>");
      start = end == std::string::npos ? 0 : end + 2;
    }
    std::size_t index = out_.map.add_file(key, std::move(content));
    return files_.emplace(std::move(key), ExternalText{index, start}).first->second;
  }

  std::unordered_map<std::string, const Entity*> entities_;
  std::unordered_map<std::string, ExternalText> files_;  ///< by normalized path
  std::string dir_;
  std::size_t max_bytes_;
  std::size_t references_ = 0, bytes_read_ = 0;
  ExpandedScenario& out_;
};

}  // namespace

ExpandedScenario expand_entities(const std::string& text, const std::string& name, const std::string& dir,
                                 std::size_t max_bytes, bool read_files) {
  ExpandedScenario out;
  out.map.add_file(name, text);
  DoctypeReader doctype(text, out.map);
  doctype.read();
  // Agents get the controller's expanded text, its declarations blanked: one still declaring
  // entities did not come from a controller, and expanding it would only cost the agent work.
  if (!read_files && doctype.first_declaration)
    throw out.map.locate(ScenarioError(static_cast<std::ptrdiff_t>(*doctype.first_declaration), "",
                                       "the scenario declares entities: entities are expanded by the controller"));
  if (doctype.entities.empty()) {
    out.map.add_piece(0, text.size(), 0, 0);
    out.text = text;
    return out;
  }
  std::string main = text;  // the declarations blanked: agents get the text with nothing to expand
  for (std::size_t i = doctype.subset_begin; i < doctype.subset_end; ++i)
    if (main[i] != '\n') main[i] = ' ';
  Expander(doctype.entities, dir, max_bytes, out).expand(main, 0, 0, 0);
  return out;
}

}  // namespace loadctl::detail
