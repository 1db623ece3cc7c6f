// When the sweep trims the receive-buffer pool (engine/buffer_trim.hpp).

#include <gtest/gtest.h>

#include "engine/buffer_trim.hpp"

namespace loadctl::engine {
namespace {

TEST(BufferTrim, EveryTenSecondsWhateverTheLowMark) {
  EXPECT_FALSE(buffer_trim_due(49, 0));
  EXPECT_TRUE(buffer_trim_due(50, 0));
  EXPECT_TRUE(buffer_trim_due(50, 1000));
}

TEST(BufferTrim, BurstLeftoversOnlyAfterThreeQuietSeconds) {
  // 32 or more unused for 1 s or 2 s: a load bursting every second or two keeps its buffers.
  EXPECT_FALSE(buffer_trim_due(5, 1000));
  EXPECT_FALSE(buffer_trim_due(10, 1000));
  // For 3 s in a row, at the end of a 1 s window: back early.
  EXPECT_TRUE(buffer_trim_due(15, 32));
  EXPECT_TRUE(buffer_trim_due(20, 1000));
  EXPECT_FALSE(buffer_trim_due(16, 1000));  // between windows
  EXPECT_FALSE(buffer_trim_due(15, 31));    // fewer than 32 unused: the 10 s trim takes them
  EXPECT_FALSE(buffer_trim_due(45, 31));
}

}  // namespace
}  // namespace loadctl::engine
