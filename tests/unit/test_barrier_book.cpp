#include <gtest/gtest.h>

#include "controller/barrier_book.hpp"

using loadctl::controller::BarrierBook;
using Releases = std::vector<std::pair<std::size_t, std::uint64_t>>;

// Agent 0 reports a whole group every tick; agent 1's user, which arrived first, still goes in
// the next group (released "from the agents in order", agent 0 would take every group).
TEST(BarrierBook, TheAgentThatReportsMostDoesNotStarveTheOther) {
  BarrierBook book(2);
  ASSERT_TRUE(book.arrive(1, 1));
  EXPECT_EQ(book.release(), Releases{});
  ASSERT_TRUE(book.arrive(0, 2));
  EXPECT_EQ(book.release(), (Releases{{1, 1}, {0, 1}}));
  EXPECT_EQ(book.waiting_of(0), 1u);
  EXPECT_EQ(book.waiting_of(1), 0u);
  ASSERT_TRUE(book.arrive(0, 2));
  EXPECT_EQ(book.release(), (Releases{{0, 2}}));
  EXPECT_EQ(book.waiting(), 1u);
}

TEST(BarrierBook, OlderReportsGoFirstAcrossManyTicks) {
  BarrierBook book(3);
  for (int tick = 0; tick < 100; ++tick) {
    ASSERT_TRUE(book.arrive(0, 3));
    if (tick == 0) {
      ASSERT_TRUE(book.arrive(1, 2));
    }
    Releases r = book.release();
    if (tick == 0) {
      EXPECT_EQ(r, (Releases{{0, 3}}));
    } else if (tick == 1) {
      EXPECT_EQ(r, (Releases{{1, 2}, {0, 1}}));  // agent 1's two users waited longest
    }
  }
  EXPECT_EQ(book.waiting_of(1), 0u);
  EXPECT_EQ(book.waiting(), 2u);
}

// global_number 1 and 10 000 users in one report: one release message of 10 000, not 10 000.
TEST(BarrierBook, ReleasesWholeGroupsAtOnceWithOneEntryPerAgent) {
  BarrierBook book(1);
  ASSERT_TRUE(book.arrive(0, 10000));
  EXPECT_EQ(book.release(), (Releases{{0, 10000}}));
  BarrierBook groups(4);
  ASSERT_TRUE(groups.arrive(0, 5));
  ASSERT_TRUE(groups.arrive(1, 5));
  ASSERT_TRUE(groups.arrive(0, 5));
  EXPECT_EQ(groups.release(), (Releases{{0, 7}, {1, 5}}));  // 12 of 15: three groups, oldest first
  EXPECT_EQ(groups.waiting(), 3u);
  EXPECT_EQ(groups.waiting_of(1), 0u);
  EXPECT_EQ(groups.waiting_of(0), 3u);
}

TEST(BarrierBook, CountsAreParsedStrictly) {
  EXPECT_EQ(BarrierBook::parse_count("12"), 12u);
  for (const char* bad : {"", "0", "-1", "+1", " 1", "1 ", "1x", "0x10", "18446744073709551616"})
    EXPECT_FALSE(BarrierBook::parse_count(bad)) << bad;
}

TEST(BarrierBook, RefusesMoreWaitingUsersThanAnAgentCanHave) {
  BarrierBook book(7);
  EXPECT_FALSE(book.arrive(0, 0));
  EXPECT_FALSE(book.arrive(0, BarrierBook::kMaxWaiting + 1));
  EXPECT_FALSE(book.arrive(0, ~std::uint64_t{0}));
  ASSERT_TRUE(book.arrive(0, BarrierBook::kMaxWaiting - 1));
  EXPECT_FALSE(book.arrive(0, 2));
  EXPECT_TRUE(book.arrive(1, 2));  // another agent's own bound
  EXPECT_EQ(book.waiting(), BarrierBook::kMaxWaiting + 1);
}

TEST(BarrierBook, ALostAgentsUsersNoLongerCount) {
  BarrierBook book(3);
  ASSERT_TRUE(book.arrive(0, 2));
  ASSERT_TRUE(book.arrive(1, 1));
  ASSERT_TRUE(book.arrive(0, 1));
  book.drop(0);
  EXPECT_EQ(book.waiting(), 1u);
  EXPECT_EQ(book.release(), Releases{});
  ASSERT_TRUE(book.arrive(2, 2));
  EXPECT_EQ(book.release(), (Releases{{1, 1}, {2, 2}}));
}

TEST(BarrierBook, NoGroupSizeReleasesNothing) {
  BarrierBook book(0);
  ASSERT_TRUE(book.arrive(0, 5));
  EXPECT_EQ(book.release(), Releases{});
}

// global_ack_timeout without an arrival: the incomplete group goes, oldest reports first, and the
// next group starts from nothing.
TEST(BarrierBook, ReleaseAllTakesTheIncompleteGroup) {
  BarrierBook book(5);
  ASSERT_TRUE(book.arrive(1, 2));
  ASSERT_TRUE(book.arrive(0, 1));
  ASSERT_TRUE(book.arrive(1, 1));
  EXPECT_EQ(book.release(), Releases{});
  EXPECT_EQ(book.release_all(), (Releases{{1, 3}, {0, 1}}));
  EXPECT_EQ(book.waiting(), 0u);
  EXPECT_EQ(book.waiting_of(1), 0u);
  EXPECT_EQ(book.release_all(), Releases{});
  ASSERT_TRUE(book.arrive(0, 4));
  EXPECT_EQ(book.release(), Releases{});  // 4 of 5: the released users do not count any more
  ASSERT_TRUE(book.arrive(1, 1));
  EXPECT_EQ(book.release(), (Releases{{0, 4}, {1, 1}}));
}
