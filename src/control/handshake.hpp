#pragma once
// Checks shared by both ends of the control handshake: token comparison that does not leak how
// many leading bytes matched, the hello validation a listening agent applies to a controller,
// and the token file a listening agent reads at start-up.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "control/messages.hpp"

namespace loadctl::control {

/// True when a == b; the time taken depends only on the lengths, not on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

/// The reason to reject a hello frame sent by a controller to an agent holding `token`, or
/// nullopt when it is acceptable (then `*accepted` holds the decoded hello).
std::optional<std::string> check_controller_hello(std::string_view payload, std::string_view token, Hello* accepted);

/// What the controller knows of the agent slot a hello names.
struct SlotClaim {
  bool exists = false;      ///< the hello's agent id names a slot of this run
  bool dial_only = false;   ///< a listening agent's slot: reached only by dialing it
  std::string_view token;   ///< the slot's token; empty while no agent was started for it
  bool claimed = false;     ///< a hello was already accepted for this slot
};

/// The reason to reject an agent's hello, or nullopt to accept it (the caller then marks the
/// slot claimed). dialed_id: the slot of the listening agent the controller dialed, nullopt for
/// a connection accepted on the control port. Each slot accepts exactly one hello.
std::optional<std::string> check_agent_hello(const Hello& hello, std::optional<unsigned> dialed_id, const SlotClaim& slot);

/// Tokens are at least 128 bits: 32 hex digits (at most 128).
inline constexpr std::size_t kMinTokenHexDigits = 32;
inline constexpr std::size_t kMaxTokenHexDigits = 128;

/// 128 random bits from the kernel (getrandom), as 32 lowercase hex digits.
std::string random_token();

/// The reason `token` is not acceptable (not 32-128 hex digits), or nullopt.
std::optional<std::string> check_token(std::string_view token);

/// Reads the token from the first line of `path` (surrounding blanks ignored). Throws
/// std::runtime_error naming the file when it is unreadable, not a regular file, readable or
/// writable by group or others (mode & 077), or its token fails check_token.
std::string read_token_file(const std::string& path);

/// Reads the token from the first line of standard input (how a launched agent gets it, so
/// that it is never on a command line). Throws std::runtime_error when missing or bad.
std::string read_token_stdin();

}  // namespace loadctl::control
