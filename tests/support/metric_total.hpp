#pragma once
// A metric's count in a MetricSet, for tests that run scenarios through a real Engine.

#include <cstdint>
#include <string_view>

#include "loadctl/stats.hpp"

namespace loadctl::test {

/// `name`'s count in `m` (a counter's total, a sample's number of values); 0 when `m` has no `name`.
inline std::uint64_t metric_total(const MetricSet& m, std::string_view name) {
  const Metric* metric = m.find(name);
  return metric ? metric->count : 0;
}

}  // namespace loadctl::test
