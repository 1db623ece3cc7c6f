#include "control/handshake.hpp"

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

namespace loadctl::control {

namespace {
constexpr std::size_t kMinTokenLength = 16;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::optional<std::string> check_controller_hello(std::string_view payload, std::string_view token, Hello* accepted) {
  auto hello = Hello::decode(payload);
  if (!hello) return "malformed hello (not a loadctl controller?)";
  if (hello->version != kProtocolVersion)
    return fmt::format("protocol version {} is not {} (controller {} vs agent {}): install the same loadctl version",
                       hello->version, kProtocolVersion, hello->software_version, LOADCTL_VERSION);
  if (!constant_time_equal(hello->token, token)) return "wrong token (compare the controller's token file with the agent's)";
  if (accepted) *accepted = std::move(*hello);
  return std::nullopt;
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("cannot read the token file {}", path));
  std::string line;
  std::getline(in, line);
  auto first = line.find_first_not_of(" \t\r");
  auto last = line.find_last_not_of(" \t\r");
  std::string token = first == std::string::npos ? "" : line.substr(first, last - first + 1);
  if (token.size() < kMinTokenLength)
    throw std::runtime_error(fmt::format("the token file {} must hold a token of at least {} characters on its first line",
                                         path, kMinTokenLength));
  return token;
}

}  // namespace loadctl::control
