// Tsung's own report script must render what TsungLogWriter writes.
#include <loadctl/tsung_log.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include "test_files.hpp"

using loadctl::MetricKind;
using loadctl::MetricSet;
using loadctl::TsungLogWriter;

namespace fs = std::filesystem;

namespace {
constexpr const char* kRenderer = "/usr/lib/x86_64-linux-gnu/tsung/bin/tsung_stats.pl";

using loadctl::test::read_all;
}  // namespace

TEST(TsungLogRender, TsungStatsPlRendersOurLog) {
  if (!fs::exists(kRenderer)) GTEST_SKIP() << kRenderer << " not installed";
  fs::path dir = fs::path(LOADCTL_BINARY_DIR) / "test_tsung_render";
  fs::remove_all(dir);
  fs::create_directories(dir);

  const std::time_t start = 1795460000;
  const int dumps = 4;
  std::uint64_t requests_before_last = 0;  // the report's count column: GCOUNT of the last dump
  {
    TsungLogWriter writer((dir / "tsung.log").string(), start);
    for (int d = 1; d <= dumps; ++d) {
      MetricSet s;
      auto request = s.intern("request", MetricKind::sample);
      auto page = s.intern("page", MetricKind::sample);
      auto connect = s.intern("connect", MetricKind::sample);
      auto session = s.intern("session", MetricKind::sample);
      auto tr = s.intern("tr_login", MetricKind::sample);
      auto cpu = s.intern("{cpu,\"vm\"}", MetricKind::sample);
      int n = 100 * d + 37;
      for (int i = 0; i < n; ++i) {
        s.sample(request, 0.5 + (i % 17) * 0.125);
        if (i % 2 == 0) s.sample(page, 1.0 + (i % 5) * 0.3);
        if (i % 4 == 0) s.sample(connect, 0.2 + (i % 3) * 0.05);
        if (i % 10 == 0) s.sample(tr, 2.5 + i % 7);
      }
      s.sample(session, 1000.0 + d);
      s.sample(cpu, 10.0 * d);
      s.add(s.intern("200", MetricKind::counter), static_cast<std::uint64_t>(n - d));
      s.add(s.intern("404", MetricKind::counter), static_cast<std::uint64_t>(d));
      s.add(s.intern("size_rcv", MetricKind::counter), 230ull * n);
      s.add(s.intern("size_sent", MetricKind::counter), 95ull * n);
      s.add(s.intern("error_connect_econnrefused", MetricKind::counter), 2);
      s.add(s.intern("users_count", MetricKind::counter), 10);
      s.add(s.intern("finish_users_count", MetricKind::counter), d == dumps ? 40 : 8);
      s.gauge_add(s.intern("users", MetricKind::gauge), d == dumps ? -8 : 2);
      s.gauge_add(s.intern("connected", MetricKind::gauge), d == dumps ? -6 : 2);
      ASSERT_TRUE(writer.dump(start + 10 * d, s));
      if (d < dumps) requests_before_last += static_cast<std::uint64_t>(n);
    }
  }

  std::string cmd = "cd '" + dir.string() + "' && perl " + kRenderer +
                    " --stats tsung.log > render.out 2>&1";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << cmd;
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_all(dir / "render.out");
  ASSERT_TRUE(fs::exists(dir / "report.html")) << read_all(dir / "render.out");
  std::string html = read_all(dir / "report.html");
  EXPECT_NE(html.find(">" + std::to_string(requests_before_last) + " <"), std::string::npos)
      << "request count " << requests_before_last << " not in report.html";
  EXPECT_NE(html.find("tr_login"), std::string::npos);
  EXPECT_NE(html.find("error_connect_econnrefused"), std::string::npos);
  EXPECT_NE(html.find("404"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "images")) << "gnuplot graphs missing";
}
