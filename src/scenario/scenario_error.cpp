#include "loadctl/scenario_error.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace loadctl {
namespace {

std::string located_text(const std::string& file, int line, int column, const std::string& path,
                         const std::string& message) {
  if (path.empty()) return fmt::format("{}:{}:{}: {}", file, line, column, message);
  return fmt::format("{}:{}:{}: {}: {}", file, line, column, path, message);
}

std::string unlocated_text(const std::string& path, const std::string& message) {
  return path.empty() ? message : fmt::format("{}: {}", path, message);
}

}  // namespace

ScenarioError::ScenarioError(std::string file, int line, int column, std::string element_path,
                             std::string message)
    : std::runtime_error(located_text(file, line, column, element_path, message)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      element_path_(std::move(element_path)),
      message_(std::move(message)) {}

ScenarioError::ScenarioError(std::ptrdiff_t offset, std::string element_path, std::string message)
    : std::runtime_error(unlocated_text(element_path, message)),
      offset_(offset),
      element_path_(std::move(element_path)),
      message_(std::move(message)) {}

std::string element_path(pugi::xml_node node) {
  std::vector<std::string> steps;
  for (; node && node.type() != pugi::node_document; node = node.parent()) {
    if (node.type() != pugi::node_element) continue;
    int index = 0, same = 0;
    for (pugi::xml_node s = node.parent().child(node.name()); s; s = s.next_sibling(node.name())) {
      ++same;
      if (s == node) index = same;
    }
    steps.push_back(same > 1 ? fmt::format("{}[{}]", node.name(), index) : std::string(node.name()));
  }
  std::string path;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) path += "/" + *it;
  return path;
}

std::ptrdiff_t source_offset(pugi::xml_node node) {
  std::ptrdiff_t offset = node.offset_debug();
  // Elements report the offset of their name; point at the '<' instead.
  if (offset > 0 && node.type() == pugi::node_element) --offset;
  return offset;
}

std::ptrdiff_t source_offset(pugi::xml_node node, pugi::xml_attribute attr) {
  std::ptrdiff_t name_offset = node.offset_debug();
  if (name_offset < 0 || !attr) return source_offset(node);
  const char* buffer_start = node.name() - name_offset;
  return attr.name() - buffer_start;
}

void fail_at(pugi::xml_node node, const std::string& message) {
  throw ScenarioError(source_offset(node), element_path(node), message);
}

void fail_at(pugi::xml_node node, pugi::xml_attribute attr, const std::string& message) {
  throw ScenarioError(source_offset(node, attr), element_path(node), message);
}

void unsupported_at(pugi::xml_node node, const std::string& feature) {
  fail_at(node, "not supported yet: " + feature);
}

TextPosition text_position(std::string_view text, std::ptrdiff_t offset) {
  TextPosition pos;
  if (offset < 0) return pos;
  std::size_t end = std::min<std::size_t>(static_cast<std::size_t>(offset), text.size());
  for (std::size_t i = 0; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if ((c & 0xC0) != 0x80) {  // count UTF-8 characters, not bytes
      ++pos.column;
    }
  }
  return pos;
}

ScenarioError locate(const ScenarioError& error, const std::string& file, std::string_view text) {
  if (error.located()) return error;
  TextPosition pos = text_position(text, error.offset() < 0 ? 0 : error.offset());
  return ScenarioError(file, pos.line, pos.column, error.element_path(), error.message());
}

}  // namespace loadctl
