#include "control/handshake.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace loadctl::control {

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

std::optional<std::string> check_agent_hello(const Hello& hello, std::optional<unsigned> dialed_id, const SlotClaim& slot) {
  if (hello.version != kProtocolVersion)
    return fmt::format("protocol version {} is not {} (agent {} vs controller {}): install the same loadctl version",
                       hello.version, kProtocolVersion, hello.software_version, LOADCTL_VERSION);
  if (dialed_id && hello.agent_id != *dialed_id)
    return fmt::format("the agent dialed as {} answered as agent {}", *dialed_id, hello.agent_id);
  // A listening agent's slot is reached only by dialing: nobody may claim it on the control port.
  if (!slot.exists || (!dialed_id && slot.dial_only)) return fmt::format("unknown agent id {}", hello.agent_id);
  if (slot.token.empty() || !constant_time_equal(hello.token, slot.token)) return std::string("wrong token");
  if (slot.claimed)
    return fmt::format("agent {} has already been claimed (one hello per agent; this claimant is refused)", hello.agent_id);
  return std::nullopt;
}

std::string random_token() {
  unsigned char bytes[kMinTokenHexDigits / 2];
  std::size_t have = 0;
  while (have < sizeof bytes) {
    ssize_t n = getrandom(bytes + have, sizeof bytes - have, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(fmt::format("getrandom failed: {}", std::strerror(errno)));
    have += static_cast<std::size_t>(n);
  }
  std::string token;
  for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  return token;
}

std::optional<std::string> check_token(std::string_view token) {
  bool hex = token.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
  if (!hex || token.size() < kMinTokenHexDigits || token.size() > kMaxTokenHexDigits)
    return fmt::format("a token must be {}-{} hex digits (at least 128 bits), got {} character(s){}; make one with: "
                       "od -An -N16 -tx1 /dev/urandom | tr -d ' \\n'",
                       kMinTokenHexDigits, kMaxTokenHexDigits, token.size(), hex ? "" : " that are not all hex digits");
  return std::nullopt;
}

namespace {

std::string trimmed_first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  auto first = line.find_first_not_of(" \t\r");
  auto last = line.find_last_not_of(" \t\r");
  return first == std::string::npos ? "" : line.substr(first, last - first + 1);
}

}  // namespace

std::string read_token_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot read the token file {}: {}", path, std::strerror(errno)));
  struct stat st {};
  std::string text;
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok && (st.st_mode & 077) == 0) {
    char buffer[512];  // the first line is all we need
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) text.assign(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!ok) throw std::runtime_error(fmt::format("the token file {} is not a regular file", path));
  if ((st.st_mode & 077) != 0)
    throw std::runtime_error(fmt::format("the token file {} is accessible to group or others (mode {:04o}): "
                                         "run chmod 600 {}",
                                         path, st.st_mode & 07777, path));
  std::string token = trimmed_first_line(text);
  if (auto reason = check_token(token))
    throw std::runtime_error(fmt::format("the token file {}: {}", path, *reason));
  return token;
}

std::string read_token_stdin() {
  std::string text;
  char c;
  // Byte by byte up to the newline: whatever follows on stdin is not ours to consume.
  while (text.size() <= kMaxTokenHexDigits + 2) {
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    text += c;
  }
  std::string token = trimmed_first_line(text);
  if (token.empty()) throw std::runtime_error("--token-stdin: no token on standard input");
  if (auto reason = check_token(token)) throw std::runtime_error(fmt::format("--token-stdin: {}", *reason));
  return token;
}

}  // namespace loadctl::control
