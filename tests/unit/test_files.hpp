#pragma once
// File helpers shared by the unit tests.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace loadctl::test {

/// The whole content of `p` ("" when it cannot be read: the test's assertions then fail).
inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace loadctl::test
