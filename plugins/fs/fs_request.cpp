#include <fmt/format.h>

#include "fs_request.hpp"
#include "loadctl/xml_reader.hpp"

namespace loadctl::fs {
namespace {

constexpr std::string_view kCommands[] = {"read",  "write",       "open",  "delete",   "stat",   "read_chunk",
                                          "write_chunk", "close", "make_dir", "del_dir", "make_symlink"};

bool needs_path(Command c) { return c != Command::read_chunk && c != Command::write_chunk && c != Command::close; }

}  // namespace

std::shared_ptr<const RequestSpec> parse_fs(pugi::xml_node node, const RequestParseContext& ctx) {
  XmlElement el(node);
  auto req = std::make_shared<FsRequest>();
  std::string cmd = el.choice("cmd", {"read", "write", "open", "delete", "stat", "copy", "read_chunk", "write_chunk",
                                      "close", "make_dir", "del_dir", "make_symlink"},
                              "write");
  if (cmd == "copy") el.fail("cmd", "not supported yet: cmd=\"copy\" (Tsung 1.7.0's ts_fs has no implementation of it)");
  for (std::size_t i = 0; i < std::size(kCommands); ++i)
    if (kCommands[i] == cmd) req->command = static_cast<Command>(i);
  // Tsung reads size as an integer (no %%var%%), default 1024.
  req->size = static_cast<std::uint64_t>(el.integer("size", 1024, 0));
  std::string mode = el.choice("mode", {"read", "write", "append"}, "write");
  if (mode == "append")
    el.fail("mode", "not supported yet: mode=\"append\" (Tsung 1.7.0's ts_fs opens only for read or write)");
  req->open_for_read = mode == "read";
  // Tsung parses position but never uses it: chunks go on from the open file's position.
  el.ignore({"position"});
  if (needs_path(req->command) && !el.has("path")) el.fail("path", fmt::format("missing attribute 'path' (cmd=\"{}\")", cmd));
  req->path = el.template_attr("path", ctx.subst);
  if (req->command == Command::make_symlink && !el.has("dest"))
    el.fail("dest", "missing attribute 'dest' (cmd=\"make_symlink\": the new name)");
  req->dest = el.template_attr("dest", ctx.subst);
  el.finish();
  el.children({});  // none
  return req;
}

std::string FsRequest::describe() const {
  std::string_view name = kCommands[static_cast<std::size_t>(command)];
  if (!needs_path(command)) return fmt::format("fs {} {}", name, size);
  return fmt::format("fs {} {}", name, path.render(nullptr));
}

std::string_view fs_pattern() {
  static const std::string pattern = [] {
    std::string p(64 * 1024, '\0');
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>('a' + i % 26);
    return p;
  }();
  return pattern;
}

}  // namespace loadctl::fs
