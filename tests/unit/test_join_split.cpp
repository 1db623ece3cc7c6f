#include <gtest/gtest.h>

#include "controller/join_split.hpp"

using loadctl::controller::split_for_join;

// Two agents at half of 100/s each: a third takes a third, the total stays 100/s.
TEST(JoinSplit, KeepsTheRateInForce) {
  auto s = split_for_join(100, 100, 2);
  EXPECT_DOUBLE_EQ(s.others_keep, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.share, 1.0 / 3);
  EXPECT_DOUBLE_EQ(2 * 50 * s.others_keep + 100 * s.share, 100);
}

// Two agents planned at 50/s each, one lost: the survivor runs 50/s. The new agent takes half of
// that (25/s, share 0.25 of the run's 100/s), not half of the run's plan: the total stays 50/s.
TEST(JoinSplit, AfterALostAgentTheTotalDoesNotGrow) {
  auto s = split_for_join(50, 100, 1);
  EXPECT_DOUBLE_EQ(s.share, 0.25);
  EXPECT_DOUBLE_EQ(50 * s.others_keep + 100 * s.share, 50);
}

TEST(JoinSplit, NoPlannedRateFallsBackToThePart) {
  EXPECT_DOUBLE_EQ(split_for_join(30, 0, 2).share, 1.0 / 3);
}
