// The worker's wake-up heap: entries come out earliest first, whatever the order they went in.

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "engine/wake_queue.hpp"

namespace loadctl::engine {
namespace {

TEST(WakeQueue, EarliestFirst) {
  using std::chrono::milliseconds;
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  WakeQueue q;
  std::mt19937 rng(7);
  std::vector<int> delays;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    int d = static_cast<int>(rng() % 5000);
    delays.push_back(d);
    q.push({t0 + milliseconds(d), i, i * 3, i % 2 ? Wake::step : Wake::retry});
  }
  ASSERT_EQ(q.size(), 1000u);
  auto last = t0;
  for (std::size_t n = 0; n < 1000; ++n) {
    WakeEntry e = q.pop();
    EXPECT_GE(e.at, last);
    last = e.at;
    EXPECT_EQ(e.at, t0 + milliseconds(delays[e.slot]));  // entries keep their payload
    EXPECT_EQ(e.token, e.slot * 3);
    EXPECT_EQ(e.what, e.slot % 2 ? Wake::step : Wake::retry);
  }
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace loadctl::engine
