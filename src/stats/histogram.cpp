#include <loadctl/stats.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "stats/wire.hpp"

namespace loadctl {

namespace {
constexpr std::uint64_t kSub = std::uint64_t{1} << Histogram::kSubBits;  // buckets per octave
constexpr std::uint64_t kLinear = kSub << 1;  // values below this have one bucket each
}  // namespace

std::size_t Histogram::bucket_of(std::uint64_t value) {
  if (value < kLinear) return static_cast<std::size_t>(value);
  unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(value));
  unsigned shift = msb - kSubBits;  // >= 1
  std::uint64_t top = value >> shift;  // in [kSub, 2*kSub)
  return static_cast<std::size_t>(kLinear + (shift - 1) * kSub + (top - kSub));
}

std::uint64_t Histogram::bucket_low(std::size_t index) {
  if (index < kLinear) return index;
  std::uint64_t rel = index - kLinear;
  unsigned shift = static_cast<unsigned>(rel / kSub) + 1;
  std::uint64_t top = rel % kSub + kSub;
  return top << shift;
}

std::uint64_t Histogram::bucket_high(std::size_t index) {
  if (index < kLinear) return index;
  std::uint64_t rel = index - kLinear;
  unsigned shift = static_cast<unsigned>(rel / kSub) + 1;
  std::uint64_t top = rel % kSub + kSub;
  if (shift + kSubBits + 1 >= 64 && top == 2 * kSub - 1)
    return std::numeric_limits<std::uint64_t>::max();
  return ((top + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t value, std::uint64_t count) {
  std::size_t index = bucket_of(value);
  if (index >= buckets_.size()) [[unlikely]]
    buckets_.resize(std::max<std::size_t>(index + 1, std::min(kBucketCount, 2 * buckets_.size())));
  buckets_[index] += count;
  total_ += count;
}

void Histogram::merge(const Histogram& other) {
  if (other.buckets_.size() > buckets_.size()) buckets_.resize(other.buckets_.size());
  for (std::size_t i = 0; i < other.buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  total_ += other.total_;
}

void Histogram::clear() {
  std::fill(buckets_.begin(), buckets_.end(), 0);  // keep capacity: no allocation next interval
  total_ = 0;
}

std::uint64_t Histogram::percentile(double percentile) const {
  if (total_ == 0) return 0;
  double p = std::clamp(percentile, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
  rank = std::clamp<std::uint64_t>(rank, 1, total_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return bucket_high(i);
  }
  return max();
}

std::uint64_t Histogram::min() const {
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    if (buckets_[i]) return bucket_low(i);
  return 0;
}

std::uint64_t Histogram::max() const {
  for (std::size_t i = buckets_.size(); i-- > 0;)
    if (buckets_[i]) return bucket_high(i);
  return 0;
}

bool Histogram::operator==(const Histogram& other) const {
  if (total_ != other.total_) return false;
  std::size_t n = std::max(buckets_.size(), other.buckets_.size());
  for (std::size_t i = 0; i < n; ++i)
    if (bucket_count(i) != other.bucket_count(i)) return false;
  return true;
}

// Layout: varint(non-empty buckets), then per bucket varint(index gap), varint(count).
void Histogram::encode(std::string& out) const {
  std::uint64_t nonempty = 0;
  for (auto c : buckets_) nonempty += c != 0;
  wire::put_varint(out, nonempty);
  std::size_t prev = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    if (!buckets_[i]) continue;
    wire::put_varint(out, i - prev);
    wire::put_varint(out, buckets_[i]);
    prev = i;
  }
}

bool Histogram::decode(std::string_view in, std::size_t& pos) {
  clear();
  std::uint64_t nonempty = 0;
  if (!wire::get_varint(in, pos, nonempty) || nonempty > kBucketCount) return false;
  std::uint64_t index = 0;
  for (std::uint64_t n = 0; n < nonempty; ++n) {
    std::uint64_t gap = 0, count = 0;
    if (!wire::get_varint(in, pos, gap) || !wire::get_varint(in, pos, count)) return false;
    if ((n > 0 && gap == 0) || gap >= kBucketCount || count == 0) return false;
    index += gap;
    if (index >= kBucketCount) return false;
    if (total_ + count < total_) return false;  // overflow
    if (index >= buckets_.size()) buckets_.resize(index + 1);
    buckets_[index] = count;
    total_ += count;
  }
  return true;
}

}  // namespace loadctl
