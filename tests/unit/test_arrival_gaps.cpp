// ArrivalGaps: the gaps between Poisson arrivals, drawn ahead (arrival_gaps.hpp).

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/arrival_gaps.hpp"

namespace loadctl::engine {
namespace {

TEST(ArrivalGaps, LookingAheadChangesNoGapTaken) {
  // Gaps taken with any peeks in between are the ones drawn one by one from the same generator.
  std::mt19937_64 direct_rng(7), ahead_rng(7);
  ArrivalGaps gaps;
  std::vector<double> direct, taken;
  for (int i = 0; i < 200; ++i) {
    std::exponential_distribution<double> gap(500);
    direct.push_back(gap(direct_rng));
    std::size_t ahead = static_cast<std::size_t>(i * 5) % ArrivalGaps::kAhead;
    double peeked = gaps.peek(ahead, 500, ahead_rng);
    EXPECT_EQ(gaps.peek(ahead, 500, ahead_rng), peeked);  // looking again draws nothing
    taken.push_back(gaps.take(500, ahead_rng));
  }
  EXPECT_EQ(taken, direct);
}

TEST(ArrivalGaps, PeekSaysWhatTakeGives) {
  std::mt19937_64 rng(11);
  ArrivalGaps gaps;
  std::vector<double> peeked;
  for (std::size_t i = 0; i < ArrivalGaps::kAhead; ++i) peeked.push_back(gaps.peek(i, 2.5, rng));
  EXPECT_EQ(gaps.drawn(), ArrivalGaps::kAhead);
  for (double p : peeked) EXPECT_EQ(gaps.take(2.5, rng), p);
  EXPECT_EQ(gaps.drawn(), 0u);
}

TEST(ArrivalGaps, AnotherRateDropsTheGapsDrawnAhead) {
  std::mt19937_64 rng(3), fresh(3);
  ArrivalGaps gaps;
  for (std::size_t i = 0; i < 4; ++i) gaps.peek(i, 10, rng);
  // The four at rate 10 are gone: the next gap at rate 1000 is the generator's fifth draw.
  std::exponential_distribution<double> slow(10), fast(1000);
  for (int i = 0; i < 4; ++i) slow(fresh);
  double next = gaps.take(1000, rng);
  EXPECT_EQ(next, fast(fresh));
  EXPECT_EQ(gaps.drawn(), 0u);
  gaps.peek(2, 1000, rng);
  gaps.clear();
  EXPECT_EQ(gaps.drawn(), 0u);
}

TEST(ArrivalGaps, GapsTakenAcrossRateChangesHaveEachRatesMean) {
  // 20 000 gaps at each of two rates, alternating in runs of 3 with lookahead: each rate's mean
  // gap is 1/rate (standard error 0.7 %), so no gap drawn at one rate is used at the other.
  std::mt19937_64 rng(5);
  ArrivalGaps gaps;
  double sum[2] = {0, 0};
  int n[2] = {0, 0};
  const double rates[2] = {100, 1};
  for (int i = 0; i < 40000; ++i) {
    int which = (i / 3) % 2;
    gaps.peek(ArrivalGaps::kAhead - 1, rates[which], rng);
    sum[which] += gaps.take(rates[which], rng);
    ++n[which];
  }
  for (int which = 0; which < 2; ++which)
    EXPECT_NEAR(sum[which] / n[which] * rates[which], 1.0, 0.03) << rates[which];
}

}  // namespace
}  // namespace loadctl::engine
