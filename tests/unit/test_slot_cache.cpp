// SlotCache: a worker's bounded set of dynamic client certificates (slot_cache.hpp).

#include <gtest/gtest.h>

#include <set>
#include <vector>
#include <string>

#include "engine/slot_cache.hpp"

namespace loadctl::engine {
namespace {

TEST(SlotCache, GivesSlotsInOrderAndFindsThemAgain) {
  SlotCache cache(4);
  EXPECT_FALSE(cache.find("a"));
  EXPECT_EQ(cache.add("a"), 0u);
  EXPECT_EQ(cache.add("b"), 1u);
  cache.refuse("bad");
  EXPECT_EQ(cache.find("a"), 0u);
  EXPECT_EQ(cache.find("b"), 1u);
  EXPECT_EQ(cache.find("bad"), SlotCache::kRefused);
  EXPECT_EQ(cache.slots(), 2u);
  EXPECT_FALSE(cache.full());
}

TEST(SlotCache, FullFreesUnusedSlotsAndForgetsRefusedKeysThenReusesSlots) {
  SlotCache cache(4);
  cache.add("a");  // 0, in use
  cache.add("b");  // 1, free
  cache.add("c");  // 2, in use
  cache.refuse("bad");
  ASSERT_TRUE(cache.full());
  std::set<std::uint32_t> freed;
  cache.make_room([](std::uint32_t s) { return s != 1; }, [&](std::uint32_t s) { freed.insert(s); });
  EXPECT_EQ(freed, std::set<std::uint32_t>{1});
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.find("b"));
  EXPECT_FALSE(cache.find("bad"));  // loaded again on its next use
  EXPECT_EQ(cache.find("a"), 0u);
  EXPECT_EQ(cache.add("d"), 1u);  // the freed slot, not a new one
  EXPECT_EQ(cache.slots(), 3u);
}

TEST(SlotCache, StaysBoundedWithOneKeyPerUserWhenFewAreLive) {
  SlotCache cache(8);
  std::set<std::uint32_t> live;  // the last 3 keys' slots are held by live users
  std::vector<std::uint32_t> recent;
  for (int user = 0; user < 1000; ++user) {
    cache.make_room([&](std::uint32_t s) { return live.contains(s); }, [](std::uint32_t) {});
    recent.push_back(cache.add("user" + std::to_string(user)));
    if (recent.size() > 3) recent.erase(recent.begin());
    live = {recent.begin(), recent.end()};
    EXPECT_LE(cache.size(), 8u);
  }
  EXPECT_LE(cache.slots(), 8u);
}

TEST(SlotCache, GrowsPastTheLimitWhenAllAreLiveWithoutScanningAtEveryAdd) {
  SlotCache cache(4);
  int scans = 0;
  for (int user = 0; user < 64; ++user) {
    if (cache.full()) ++scans;
    cache.make_room([](std::uint32_t) { return true; }, [](std::uint32_t) { FAIL() << "a live slot was freed"; });
    cache.add("user" + std::to_string(user));
  }
  EXPECT_EQ(cache.size(), 64u);
  EXPECT_LE(scans, 5);  // at 4, 8, 16, 32, 64
}

}  // namespace
}  // namespace loadctl::engine
