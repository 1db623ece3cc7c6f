#pragma once
// A <shell cmd="..." args="..."/> request (Tsung's ts_config_shell) and the record a finished
// command is reported with on the connection's local socket (shell_runner.hpp writes it,
// ShellConnection reads it).

#include <cstdint>
#include <memory>
#include <string>

#include "loadctl/protocol.hpp"

namespace loadctl::shell {

class ShellRequest final : public RequestSpec {
 public:
  Template command, args;  ///< subst as in Tsung; run as `/bin/sh -c "<cmd> <args>"` (os:cmd)

  /// The command line Tsung's get_message builds: Cmd ++ " " ++ Args.
  void render(const EncodeContext& ctx, std::string& out) const;
  void encode(const EncodeContext&, std::string&) const override {}  // the connection runs it
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo& info) const override {
    info.error = "shell_not_connection_level";
    return {ParseStatus::error, 0};
  }
  std::string describe() const override;
};

/// Parses a <shell> element; throws ScenarioError naming file:line:column.
std::shared_ptr<const RequestSpec> parse_shell(pugi::xml_node node, const RequestParseContext& ctx);

/// How a command ended.
enum class Outcome : std::uint32_t { exited, signaled, refused, spawn_failed };

/// The header before a command's output on the local socket (host byte order: same process).
struct ReplyHeader {
  Outcome outcome = Outcome::exited;
  std::int32_t code = 0;    ///< exit status, signal number or errno
  std::uint64_t total = 0;  ///< bytes the command wrote on its standard output
  std::uint64_t kept = 0;   ///< of those, the bytes that follow (at most max_frame_size)
};

}  // namespace loadctl::shell
