#pragma once
// Checks shared by both ends of the control handshake: token comparison that does not leak how
// many leading bytes matched, the hello validation a listening agent applies to a controller,
// and the token file a listening agent reads at start-up.

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

/// Reads the token from the first line of `path` (surrounding blanks ignored). Throws
/// std::runtime_error naming the file when it is unreadable, empty or shorter than 16 bytes.
std::string read_token_file(const std::string& path);

}  // namespace loadctl::control
