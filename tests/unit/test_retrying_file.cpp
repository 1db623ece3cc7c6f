#include <loadctl/retrying_file.hpp>
#include <loadctl/tsung_log.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include "test_files.hpp"

using loadctl::RetryingFile;

namespace fs = std::filesystem;

namespace {

using loadctl::test::read_all;

}  // namespace

TEST(RetryingFile, WritesInOrderAndCloses) {
  fs::path path = fs::path(LOADCTL_BINARY_DIR) / "test_retrying_file.txt";
  RetryingFile file(path.string());
  EXPECT_TRUE(file.write("one\n"));
  EXPECT_TRUE(file.write("two\n"));
  EXPECT_EQ(file.pending(), 0u);
  EXPECT_EQ(file.error(), 0);
  EXPECT_TRUE(file.close());
  EXPECT_EQ(read_all(path), "one\ntwo\n");
  EXPECT_FALSE(file.write("after close"));  // kept, never silently dropped
  EXPECT_EQ(file.error(), EBADF);
  EXPECT_EQ(file.pending(), 11u);
}

// /dev/full refuses every write with ENOSPC, like a full disk.
TEST(RetryingFile, FullDiskKeepsEverythingPending) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  RetryingFile file("/dev/full");
  EXPECT_FALSE(file.write("block 1\n"));
  EXPECT_EQ(file.error(), ENOSPC);
  EXPECT_FALSE(file.write("block 2\n"));
  EXPECT_EQ(file.pending(), 16u);
  EXPECT_FALSE(file.retry());
  EXPECT_FALSE(file.close());
  EXPECT_EQ(file.pending(), 16u);
  EXPECT_NE(file.error(), 0);
}

TEST(RetryingFile, UncreatableThrows) {
  EXPECT_THROW(RetryingFile("/nonexistent-dir/x/file"), std::system_error);
}

TEST(RetryingFile, TsungLogDumpReportsAFullDisk) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  loadctl::TsungLogWriter writer("/dev/full", 100);
  loadctl::MetricSet interval;
  interval.add(interval.intern("error_abort_inflight", loadctl::MetricKind::counter), 3);
  EXPECT_FALSE(writer.dump(110, interval));
  EXPECT_EQ(writer.file().error(), ENOSPC);
  EXPECT_GT(writer.file().pending(), 0u);
}
