#pragma once
// A <fs cmd="..."> request (Tsung's ts_config_fs): the command and the attributes it reads.
// Nothing is encoded: FsConnection (fs_protocol.cpp) runs the command on the agent host.

#include <cstdint>
#include <memory>
#include <string>

#include "loadctl/protocol.hpp"

namespace loadctl::fs {

/// Tsung's ts_fs commands (the DTD's `copy` has no implementation in Tsung 1.7.0: refused).
enum class Command : std::uint8_t {
  read, write, open, remove, stat, read_chunk, write_chunk, close, make_dir, del_dir, make_symlink,
};

class FsRequest final : public RequestSpec {
 public:
  Command command = Command::write;
  bool open_for_read = false;  ///< open: mode="read" (else "write": created, truncated)
  std::uint64_t size = 1024;   ///< write, write_chunk, read_chunk: bytes (Tsung's default 1024)
  Template path, dest;         ///< subst as in Tsung; dest: make_symlink's new name

  void encode(const EncodeContext&, std::string&) const override {}  // the connection runs it
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo& info) const override {
    info.error = "fs_not_connection_level";
    return {ParseStatus::error, 0};
  }
  std::string describe() const override;
};

/// Parses an <fs> element; throws ScenarioError naming file:line:column.
std::shared_ptr<const RequestSpec> parse_fs(pugi::xml_node node, const RequestParseContext& ctx);

/// What write and write_chunk write, 64 KB repeated: as Tsung's ts_utils:urandomstr, a fixed
/// pattern (not random), so that writing costs no generation.
std::string_view fs_pattern();

}  // namespace loadctl::fs
