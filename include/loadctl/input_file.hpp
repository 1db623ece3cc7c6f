#pragma once
// Reading the files a scenario names (the scenario itself, file_server data, request bodies)
// with a type check and a size limit, so /dev/zero, a FIFO or a huge file fails at once.

#include <cstdint>
#include <string>

namespace loadctl {

/// Largest scenario file (`-f`) loadctl reads.
inline constexpr std::uint64_t kMaxScenarioFileBytes = 16ull << 20;
/// Largest data file (file_server, contents_from_file) loadctl reads.
inline constexpr std::uint64_t kMaxDataFileBytes = 1ull << 30;

/// The whole contents of the regular file `path`, at most `max_bytes` long. Throws
/// std::runtime_error with the reason ("is not a regular file", "is larger than ...", errno text)
/// without blocking on FIFOs or devices.
std::string read_regular_file(const std::string& path, std::uint64_t max_bytes);

}  // namespace loadctl
