// The recording path must not allocate once warmed up: counts operator new calls around it.
#include <loadctl/stats.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

// Sanitizers own operator new/delete; replacing them would also hide mismatches in other tests.
#if defined(__SANITIZE_ADDRESS__)
#define LOADCTL_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOADCTL_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef LOADCTL_COUNT_ALLOCATIONS
#define LOADCTL_COUNT_ALLOCATIONS 1
#endif

namespace {
thread_local bool g_counting = false;
thread_local std::size_t g_allocations = 0;
}  // namespace

#if LOADCTL_COUNT_ALLOCATIONS
// Every non-aligned form is replaced so that allocation and release always pair malloc/free.
void* operator new(std::size_t size) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (g_counting) ++g_allocations;
  return std::malloc(size ? size : 1);
}
void* operator new[](std::size_t size, const std::nothrow_t& t) noexcept {
  return ::operator new(size, t);
}
// GCC warns about free() on memory from a replaced operator new, which is exactly what this is.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#endif

using loadctl::MetricKind;
using loadctl::MetricSet;

TEST(StatsHotPath, RecordAddGaugeAndDrainDoNotAllocateAfterWarmUp) {
  if (!LOADCTL_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocation counting is off under sanitizers";
  MetricSet thread, agent;
  auto req = thread.intern("request", MetricKind::sample);
  auto ok = thread.intern("200", MetricKind::counter);
  auto users = thread.intern("users", MetricKind::gauge);
  auto warm = [&](double top_ms) {
    thread.sample(req, 0);
    thread.sample(req, top_ms);
    thread.add(ok);
    thread.gauge_add(users, 1);
    thread.drain_into(agent);
  };
  warm(60000);  // histograms grown up to one minute

  g_counting = true;
  ::operator delete(::operator new(16));  // the counter sees allocations
  ASSERT_EQ(g_allocations, 1u);
  g_allocations = 0;
  for (int i = 0; i < 200000; ++i) {
    thread.sample(req, (i % 60000) * 0.999);
    thread.add(ok, 2);
    thread.gauge_add(users, i % 2 ? 1 : -1);
    if (i % 1000 == 999) thread.drain_into(agent);
  }
  g_counting = false;
  EXPECT_EQ(g_allocations, 0u);
  EXPECT_EQ(agent.find("request")->count, 200002u);
}
