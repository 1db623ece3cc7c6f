#pragma once
// The gaps between a worker's Poisson arrivals, drawn ahead of their use so that the arrival
// timer's expiry after the next one is known a tick in advance (worker_arrivals.cpp). Taken in
// order, they are the gaps that would have been drawn one by one: independent exponentials at
// one rate. Gaps drawn at another rate than asked are dropped (Poisson arrivals are memoryless:
// nothing depends on them).

#include <array>
#include <cassert>
#include <cstddef>
#include <random>

namespace loadctl::engine {

class ArrivalGaps {
 public:
  /// How far ahead `peek` can look.
  static constexpr std::size_t kAhead = 8;

  /// The gap `ahead` places after the next one `take` gives, at `rate` (> 0), drawn from `rng`
  /// if not drawn yet; `ahead` < kAhead.
  double peek(std::size_t ahead, double rate, std::mt19937_64& rng) {
    assert(ahead < kAhead);
    if (rate != rate_) clear(rate);
    while (size_ <= ahead) {
      std::exponential_distribution<double> gap(rate);
      gaps_[(head_ + size_++) % kAhead] = gap(rng);
    }
    return gaps_[(head_ + ahead) % kAhead];
  }

  /// The next gap at `rate` (> 0): the first one drawn ahead, else a new one.
  double take(double rate, std::mt19937_64& rng) {
    double gap = peek(0, rate, rng);
    head_ = (head_ + 1) % kAhead;
    --size_;
    return gap;
  }

  /// Drops the gaps drawn ahead (a new phase).
  void clear(double rate = 0) {
    rate_ = rate;
    size_ = 0;
  }

  /// Gaps drawn and not taken yet.
  std::size_t drawn() const { return size_; }

 private:
  std::array<double, kAhead> gaps_{};
  std::size_t head_ = 0, size_ = 0;
  double rate_ = 0;
};

}  // namespace loadctl::engine
