#include <loadctl/stats.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using loadctl::Histogram;
using loadctl::Metric;
using loadctl::MetricKind;
using loadctl::MetricSet;

namespace {

std::uint64_t exact_percentile(std::vector<std::uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

}  // namespace

TEST(Histogram, BucketsCoverEveryValueWithSmallRelativeError) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t v = rng() >> (rng() % 64);
    auto b = Histogram::bucket_of(v);
    ASSERT_LT(b, Histogram::kBucketCount);
    ASSERT_LE(Histogram::bucket_low(b), v);
    ASSERT_GE(Histogram::bucket_high(b), v);
    double width = static_cast<double>(Histogram::bucket_high(b) - Histogram::bucket_low(b));
    ASSERT_LT(width, 0.01 * static_cast<double>(v) + 1.0) << v;
  }
  EXPECT_EQ(Histogram::bucket_of(0), 0u);
  EXPECT_EQ(Histogram::bucket_of(255), 255u);
  EXPECT_EQ(Histogram::bucket_of(~std::uint64_t{0}), Histogram::kBucketCount - 1);
  EXPECT_EQ(Histogram::bucket_high(Histogram::kBucketCount - 1), ~std::uint64_t{0});
  // Consecutive buckets tile the value range.
  for (std::size_t b = 1; b < Histogram::kBucketCount; ++b)
    ASSERT_EQ(Histogram::bucket_low(b), Histogram::bucket_high(b - 1) + 1) << b;
}

TEST(Histogram, PercentilesWithinOnePercentOfExact) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> latency(std::log(2000.0), 1.2);  // µs
  std::vector<std::uint64_t> values;
  Histogram h;
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<std::uint64_t>(latency(rng));
    values.push_back(v);
    h.record(v);
  }
  EXPECT_EQ(h.count(), values.size());
  for (double p : {0.0, 1.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
    double exact = static_cast<double>(exact_percentile(values, p));
    double got = static_cast<double>(h.percentile(p));
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(got, exact * 1.01 + 1) << p;
  }
}

TEST(Histogram, MergeEqualsHistogramOfUnion) {
  std::mt19937_64 rng(7);
  Histogram a, b, all;
  for (int i = 0; i < 5000; ++i) {
    std::uint64_t v = rng() % 1000000;
    (i % 3 ? a : b).record(v);
    all.record(v);
  }
  b.record(1ull << 40, 3);
  all.record(1ull << 40, 3);
  a.merge(b);
  EXPECT_TRUE(a == all);
  EXPECT_EQ(a.percentile(50), all.percentile(50));
  EXPECT_EQ(a.max(), all.max());
}

TEST(Histogram, EncodeDecodeRoundTrip) {
  Histogram h;
  for (std::uint64_t v : {0ull, 1ull, 999ull, 1000ull, 123456ull, 1ull << 50}) h.record(v, v % 7 + 1);
  std::string bytes;
  h.encode(bytes);
  Histogram back;
  std::size_t pos = 0;
  ASSERT_TRUE(back.decode(bytes, pos));
  EXPECT_EQ(pos, bytes.size());
  EXPECT_TRUE(back == h);
  Histogram empty, back2;
  bytes.clear();
  empty.encode(bytes);
  pos = 0;
  ASSERT_TRUE(back2.decode(bytes, pos));
  EXPECT_TRUE(back2.empty());
}

TEST(Histogram, ClearKeepsNoCountsAndPercentileOfEmptyIsZero) {
  Histogram h;
  h.record(5000);
  h.clear();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.percentile(99), 0u);
}

TEST(MetricSet, InternReturnsSameId) {
  MetricSet s;
  auto a = s.intern("request", MetricKind::sample);
  auto b = s.intern("200", MetricKind::counter);
  EXPECT_NE(a, b);
  EXPECT_EQ(s.intern("request", MetricKind::sample), a);
  EXPECT_EQ(s.intern("request", MetricKind::counter), a);  // first kind wins
  EXPECT_EQ(s.find("request")->kind, MetricKind::sample);
  EXPECT_EQ(s.find("nope"), nullptr);
  EXPECT_EQ(s.id_of("200"), b);
  EXPECT_EQ(s.id_of("nope"), MetricSet::npos);
}

TEST(MetricSet, SamplesCountersMomentsAndHistogram) {
  MetricSet s;
  auto r = s.intern("request", MetricKind::sample);
  auto c = s.intern("200", MetricKind::counter);
  for (double ms : {1.0, 2.0, 3.0, 4.0}) s.sample(r, ms);
  s.add(c);
  s.add(c, 4);
  const Metric& m = *s.find("request");
  EXPECT_EQ(m.count, 4u);
  EXPECT_DOUBLE_EQ(m.sum, 10.0);
  EXPECT_DOUBLE_EQ(m.sum_sq, 30.0);
  EXPECT_DOUBLE_EQ(m.min, 1.0);
  EXPECT_DOUBLE_EQ(m.max, 4.0);
  EXPECT_DOUBLE_EQ(m.mean(), 2.5);
  EXPECT_NEAR(m.stddev(), std::sqrt(1.25), 1e-12);
  EXPECT_EQ(m.hist.count(), 4u);
  EXPECT_EQ(m.hist.percentile(50), Histogram::bucket_high(Histogram::bucket_of(2000)));  // µs
  EXPECT_EQ(s.find("200")->count, 5u);
}

TEST(MetricSet, GaugePeakBetweenDrainsSurvivesMerges) {
  // 8 users start and end between two drains: the level is back to 0, the peak 8 is not lost
  // through the thread -> agent -> controller merges (tsung.log's `users 0 8`).
  MetricSet thread, agent, controller;
  auto users = thread.intern("users", MetricKind::gauge);
  for (int i = 0; i < 8; ++i) thread.gauge_add(users, 1);
  for (int i = 0; i < 8; ++i) thread.gauge_add(users, -1);
  thread.drain_into(agent);
  MetricSet wire;
  ASSERT_TRUE(wire.decode(agent.encode()));
  controller.merge(wire);
  EXPECT_EQ(controller.find("users")->level, 0);
  EXPECT_EQ(controller.find("users")->level_max, 8);
}

TEST(MetricSet, DrainMovesDeltasAndGaugeLevelsAccumulateInTarget) {
  MetricSet thread, agent;
  auto users = thread.intern("users", MetricKind::gauge);
  auto req = thread.intern("request", MetricKind::sample);
  auto ok = thread.intern("200", MetricKind::counter);
  thread.gauge_add(users, 3);
  thread.gauge_add(users, -1);
  thread.sample(req, 5.0);
  thread.add(ok, 2);
  thread.drain_into(agent);
  EXPECT_EQ(agent.find("users")->level, 2);
  EXPECT_EQ(agent.find("users")->level_max, 3);  // 3 before the -1
  EXPECT_EQ(agent.find("request")->count, 1u);
  EXPECT_EQ(agent.find("200")->count, 2u);
  // Source is reset: no samples, no counts, gauge delta 0.
  EXPECT_TRUE(thread.empty());
  EXPECT_EQ(thread.find("users")->level, 0);
  EXPECT_EQ(thread.find("request")->hist.count(), 0u);

  thread.gauge_add(users, 4);
  thread.gauge_add(users, -5);
  thread.sample(req, 1.0);
  thread.drain_into(agent);
  EXPECT_EQ(agent.find("users")->level, 1);
  EXPECT_EQ(agent.find("users")->level_max, 6);  // 2, then +4 before the -5: the peak is kept
  EXPECT_EQ(agent.find("request")->count, 2u);
  EXPECT_DOUBLE_EQ(agent.find("request")->min, 1.0);
  EXPECT_DOUBLE_EQ(agent.find("request")->max, 5.0);

  agent.reset_interval();
  EXPECT_EQ(agent.find("users")->level, 1);      // gauge level kept
  EXPECT_EQ(agent.find("users")->level_max, 1);  // max restarts from the level
  EXPECT_EQ(agent.find("request")->count, 0u);
  EXPECT_EQ(agent.find("200")->count, 0u);

  agent.clear_values();
  EXPECT_EQ(agent.find("users")->level, 0);
  EXPECT_TRUE(agent.empty());
  EXPECT_EQ(agent.size(), 3u);
}

TEST(MetricSet, DrainIntoItselfKeepsValues) {
  MetricSet s;
  s.add(s.intern("200", MetricKind::counter), 3);
  s.drain_into(s);
  EXPECT_EQ(s.find("200")->count, 3u);
}

TEST(MetricSet, MergeAddsGaugeDeltasFromSeveralAgents) {
  MetricSet a, b, controller;
  a.gauge_add(a.intern("connected", MetricKind::gauge), 5);
  b.gauge_add(b.intern("connected", MetricKind::gauge), -2);
  b.add(b.intern("404", MetricKind::counter), 1);
  controller.merge(a);
  controller.merge(b);
  EXPECT_EQ(controller.find("connected")->level, 3);
  EXPECT_EQ(controller.find("404")->count, 1u);
  EXPECT_EQ(controller.sorted().front().first, "404");
}

TEST(MetricSet, MergeSkipsKindClash) {
  MetricSet a, b;
  a.add(a.intern("x", MetricKind::counter), 2);
  b.sample(b.intern("x", MetricKind::sample), 3.0);
  a.merge(b);
  EXPECT_EQ(a.find("x")->kind, MetricKind::counter);
  EXPECT_EQ(a.find("x")->count, 2u);
}

TEST(MetricSet, EncodeDecodeRoundTrip) {
  MetricSet s;
  auto r = s.intern("request", MetricKind::sample);
  s.sample(r, 0.25);
  s.sample(r, 12.5);
  s.add(s.intern("size_rcv", MetricKind::counter), 123456789);
  s.gauge_add(s.intern("users", MetricKind::gauge), -7);
  s.intern("tr_login", MetricKind::sample);  // interned, no data
  std::string bytes = s.encode();
  MetricSet back;
  ASSERT_TRUE(back.decode(bytes));
  ASSERT_EQ(back.size(), s.size());
  EXPECT_EQ(back.encode(), bytes);
  const Metric& m = *back.find("request");
  EXPECT_EQ(m.count, 2u);
  EXPECT_DOUBLE_EQ(m.sum, 12.75);
  EXPECT_DOUBLE_EQ(m.min, 0.25);
  EXPECT_TRUE(m.hist == s.find("request")->hist);
  EXPECT_EQ(back.find("size_rcv")->count, 123456789u);
  EXPECT_EQ(back.find("users")->level, -7);
  EXPECT_EQ(back.find("tr_login")->kind, MetricKind::sample);
}

// add_value (Tsung's {sum, Name, V} with a float or negative V): merged, drained, encoded as a
// counter of its own kind byte, truncations refused; plain counters encode as before.
TEST(MetricSet, RealValuedCountersMergeAndRoundTrip) {
  MetricSet a, b;
  auto plain = a.intern("200", MetricKind::counter);
  a.add(plain, 4);
  std::string plain_bytes = a.encode();
  auto fa = a.intern("{kb,\"h\"}", MetricKind::counter);
  a.add_value(fa, 1.5, true);
  b.add_value(b.intern("{kb,\"h\"}", MetricKind::counter), -0.25, true);
  b.add_value(b.intern("{n,\"h\"}", MetricKind::counter), -2, false);
  a.merge(b);
  EXPECT_DOUBLE_EQ(a.find("{kb,\"h\"}")->counter_value(), 1.25);
  EXPECT_TRUE(a.find("{kb,\"h\"}")->real);
  EXPECT_DOUBLE_EQ(a.find("{n,\"h\"}")->counter_value(), -2);
  EXPECT_FALSE(a.find("{n,\"h\"}")->real);
  EXPECT_TRUE(a.find("{n,\"h\"}")->has_data());
  std::string bytes = a.encode();
  EXPECT_EQ(bytes[bytes.find("200") + 3], 1);        // a plain counter keeps kind byte 1
  EXPECT_EQ(bytes[bytes.find("{kb,\"h\"}") + 8], 3);  // a real-valued one has its own
  EXPECT_NE(plain_bytes.find("200"), std::string::npos);
  MetricSet back;
  ASSERT_TRUE(back.decode(bytes));
  EXPECT_EQ(back.encode(), bytes);
  EXPECT_EQ(back.find("{kb,\"h\"}")->kind, MetricKind::counter);
  EXPECT_DOUBLE_EQ(back.find("{kb,\"h\"}")->counter_value(), 1.25);
  EXPECT_TRUE(back.find("{kb,\"h\"}")->real);
  EXPECT_EQ(back.find("200")->count, 4u);
  for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(MetricSet().decode(std::string_view(bytes).substr(0, n))) << n;
  MetricSet drained;
  a.drain_into(drained);
  EXPECT_DOUBLE_EQ(drained.find("{kb,\"h\"}")->counter_value(), 1.25);
  EXPECT_FALSE(a.find("{kb,\"h\"}")->real);
  EXPECT_FALSE(a.find("{kb,\"h\"}")->has_data());
  a.add_value(fa, std::nan(""), true);  // no value
  EXPECT_FALSE(a.find("{kb,\"h\"}")->has_data());
}

TEST(MetricSet, DecodeRejectsGarbageAndTruncation) {
  MetricSet s;
  auto r = s.intern("request", MetricKind::sample);
  for (int i = 1; i < 50; ++i) s.sample(r, i * 0.7);
  s.add(s.intern("200", MetricKind::counter), 49);
  s.gauge_add(s.intern("users", MetricKind::gauge), 3);
  std::string good = s.encode();
  MetricSet out;
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(out.decode(std::string_view(good).substr(0, n))) << "truncated at " << n;
  EXPECT_FALSE(out.decode(good + "x"));
  std::string bad_version = good;
  bad_version[0] = 99;
  EXPECT_FALSE(out.decode(bad_version));
  MetricSet lying;  // histogram count disagrees with the sample count
  Metric& m = const_cast<Metric&>(lying.metric(lying.intern("request", MetricKind::sample)));
  m.count = 2;
  m.hist.record(1000);
  EXPECT_FALSE(out.decode(lying.encode()));

  std::mt19937_64 rng(3);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2) {
      bytes = good;  // flip a few bytes of a valid message
      for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    } else {
      bytes.resize(rng() % 64);
      for (auto& ch : bytes) ch = static_cast<char>(rng());
      if (!bytes.empty() && i % 4 == 0) bytes[0] = 1;
    }
    accepted += out.decode(bytes);  // must not crash or hang; may accept a valid-looking mutation
  }
  EXPECT_LT(accepted, 20000);
  EXPECT_TRUE(out.decode(good));  // still usable afterwards
}
