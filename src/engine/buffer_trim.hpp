#pragma once
// When the timeout sweep (every 200 ms) gives unused receive buffers back to the system
// (Worker::trim_buffers): see docs/architecture.md, "Idle users".

#include <cstddef>

namespace loadctl::engine {

/// Sweeps between the regular trims (10 s), and the consecutive 1 s windows (5 sweeps each) after
/// which a burst's leftovers go back early.
inline constexpr unsigned kTrimSweeps = 50;
inline constexpr unsigned kBurstTrimSweeps = 15;
/// Buffers that must have stayed unused throughout those windows for the early trim.
inline constexpr std::size_t kBurstTrimUnused = 32;

/// Whether to trim now, `sweeps` sweeps after the last trim, when at least `free_low` free buffers
/// were in the pool all that time (the low mark is the minimum since the last trim). Every 10 s;
/// or after a burst (kBurstTrimUnused or more unused for kBurstTrimSweeps sweeps in a row, checked
/// at each 1 s window's end): a load bursting more often than that keeps its buffers instead of
/// unmapping them between bursts and mapping them again at the next.
constexpr bool buffer_trim_due(unsigned sweeps, std::size_t free_low) {
  return sweeps >= kTrimSweeps || (sweeps >= kBurstTrimSweeps && sweeps % 5 == 0 && free_low >= kBurstTrimUnused);
}

}  // namespace loadctl::engine
