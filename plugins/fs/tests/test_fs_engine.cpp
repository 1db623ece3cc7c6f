// The engine's <server type="erlang"> (a socket pair instead of a connection, for plugins that
// run on the agent host) through a real Engine with the fs plugin: one connect per user, the
// plugin's completions read from the pair, and size_rcv only as the plugin counts it (the
// engine counts none of the pair's bytes).

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "support/local_engine.hpp"

namespace loadctl::fs {
namespace {

TEST(FsEngine, LocalServerRunsUsersWithoutNetwork) {
  set_shell_allowed(true);  // as loadagent --allow-local
  auto dir = std::filesystem::temp_directory_path() / ("loadctl-fs-engine-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string xml = R"(<?xml version="1.0"?><tsung>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="no.such.host.invalid" port="1" type="erlang"/></servers>
    <load><user session="s" start_time="0" unit="second"/><user session="s" start_time="0" unit="second"/>
      <user session="s" start_time="0" unit="second"/></load>
    <sessions><session name="s" probability="100" type="ts_fs">
      <request subst="true"><fs cmd="make_dir" path=")" + dir.string() + R"(/%%_tsung_userid%%"/></request>
      <request subst="true"><fs cmd="write" size="1000" path=")" + dir.string() + R"(/%%_tsung_userid%%/f"/></request>
      <thinktime value="0.05" random="false"/>
      <request subst="true"><fs cmd="read" path=")" + dir.string() + R"(/%%_tsung_userid%%/f"/></request>
    </session></sessions></tsung>)";
  MetricSet m = test::run_local_engine(xml, "fs.xml");
  EXPECT_EQ(test::metric_total(m, "finish_users_count"), 3u);
  EXPECT_EQ(test::metric_total(m, "connect"), 3u);  // one socket pair per user
  EXPECT_EQ(test::metric_total(m, "request"), 9u);
  EXPECT_EQ(test::metric_total(m, "page"), 6u);  // make_dir+write, then read (after the thinktime)
  EXPECT_EQ(test::metric_total(m, "size_sent"), 3000u);
  EXPECT_EQ(test::metric_total(m, "size_rcv"), 3000u);  // the file sizes read; not the pair's 9 bytes
  for (const auto& [name, metric] : m.sorted()) EXPECT_FALSE(name.starts_with("error_")) << name;
  std::size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.file_size() == 1000) ++files;
  EXPECT_EQ(files, 3u);
  std::filesystem::remove_all(dir);
  set_shell_allowed(false);
}

}  // namespace
}  // namespace loadctl::fs
