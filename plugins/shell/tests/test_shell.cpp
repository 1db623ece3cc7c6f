// ts_shell: parsing (cmd required, args default "", %%var%% substitution), the command line as
// Tsung builds it, and ShellConnection on a socket pair as the engine gives it: output captured
// (bounded by max_frame_size), exit statuses counted, the trust rule (refused without
// --allow-shell), and a command still running when its connection closes killed and reaped.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <pugixml.hpp>

#include "loadctl/connection.hpp"
#include "loadctl/scenario_error.hpp"
#include "shell_request.hpp"
#include "support/fake_conn_services.hpp"
#include "support/map_vars.hpp"
#include "support/parse_request.hpp"

namespace loadctl::shell {
namespace {

const Protocol& shell_protocol() { return *ProtocolRegistry::builtin().by_element("shell"); }

std::shared_ptr<const ShellRequest> shell_request(const std::string& xml, bool subst = false) {
  return std::static_pointer_cast<const ShellRequest>(
      shell_protocol().parse_request(test::kept_element(xml), test::subst_context(subst, false)));
}

TEST(ShellParse, CommandLineAsTsung) {
  test::MapVars vars;
  vars.values["n"] = "42";
  EncodeContext ctx;
  ctx.vars = &vars;
  std::string line;
  shell_request(R"(<shell cmd="echo" args="a %%_n%%"/>)", true)->render(ctx, line);
  EXPECT_EQ(line, "echo a 42");
  line.clear();
  shell_request(R"(<shell cmd="ls"/>)")->render(ctx, line);
  EXPECT_EQ(line, "ls ");  // Cmd ++ " " ++ Args, args defaulting to ""
  line.clear();
  shell_request(R"(<shell cmd="echo" args="%%_n%%"/>)")->render(ctx, line);  // no subst: literal
  EXPECT_EQ(line, "echo %%_n%%");
  EXPECT_THROW(shell_request(R"(<shell args="x"/>)"), ScenarioError);
  EXPECT_THROW(shell_request(R"(<shell cmd="x" timeout="1"/>)"), ScenarioError);
}

class ShellRun : public ::testing::Test {
 protected:
  void SetUp() override { open(16 << 20); }
  void TearDown() override {
    conn_.reset();
    if (engine_end_ >= 0) ::close(engine_end_);
    set_shell_allowed(false);
  }
  void open(std::size_t max_frame_size) {
    conn_.reset();
    if (engine_end_ >= 0) ::close(engine_end_);
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    engine_end_ = fds[0];
    ConnectionContext ctx;
    ctx.local_fd = fds[1];
    ctx.max_frame_size = max_frame_size;
    conn_ = shell_protocol().open_connection(ctx);
    ASSERT_TRUE(conn_);
    conn_->on_open(services_);
  }
  // Sends the request, then feeds what arrives on the engine's end (bounded: 10 s) to on_data
  // until an event other than none.
  ConnEvent run(const ShellRequest& req, ResponseInfo& info) {
    EncodeContext ctx;
    std::string out;
    conn_->encode(services_, req, ctx, out);
    EXPECT_TRUE(out.empty());
    std::string pending;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{engine_end_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[65536];
      ssize_t n = ::recv(engine_end_, buf, sizeof buf, 0);
      if (n <= 0) break;
      pending.append(buf, static_cast<std::size_t>(n));
      while (!pending.empty()) {
        ConnResult r = conn_->on_data(services_, &req, {pending.data(), pending.size()}, info);
        if (info.content) content_ = std::string(*info.content);
        pending.erase(0, r.consumed);
        if (r.event != ConnEvent::none) return r.event;
        if (r.consumed == 0) break;
      }
    }
    return ConnEvent::none;
  }
  int engine_end_ = -1;
  std::unique_ptr<Connection> conn_;
  test::FakeConnServices services_;
  std::string content_;
};

TEST_F(ShellRun, RefusedWithoutAllowShell) {
  set_shell_allowed(false);
  auto dir = std::filesystem::path(::testing::TempDir()) / ("loadctl-shell-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "must-not-exist";
  auto req = shell_request("<shell cmd=\"touch\" args=\"" + file.string() + "\"/>");
  ResponseInfo info;
  EXPECT_EQ(run(*req, info), ConnEvent::failed);
  EXPECT_STREQ(info.error, "shell_not_allowed");
  EXPECT_FALSE(std::filesystem::exists(file));
  std::filesystem::remove_all(dir);
  EXPECT_EQ(services_["size_sent"], 0u);
}

TEST_F(ShellRun, OutputAndExitStatusCounted) {
  set_shell_allowed(true);
  auto req = shell_request(R"(<shell cmd="echo hello;" args="exit 3"/>)");  // /bin/sh -c, as os:cmd
  ResponseInfo info;
  EXPECT_EQ(run(*req, info), ConnEvent::complete);
  EXPECT_EQ(content_, "hello\n");
  EXPECT_EQ(services_["shell_exit_3"], 1u);
  EXPECT_EQ(services_["size_rcv"], 6u);
  EXPECT_EQ(services_["size_sent"], std::string("echo hello; exit 3").size());
  ResponseInfo again;
  EXPECT_EQ(run(*shell_request(R"(<shell cmd="true"/>)"), again), ConnEvent::complete);  // same connection
  EXPECT_EQ(services_["shell_exit_0"], 1u);
  ResponseInfo killed;
  EXPECT_EQ(run(*shell_request(R"(<shell cmd="kill -9 $$"/>)"), killed), ConnEvent::complete);
  EXPECT_EQ(services_["shell_signal_9"], 1u);
}

TEST_F(ShellRun, OutputBoundedByMaxFrameSize) {
  set_shell_allowed(true);
  open(100);
  ResponseInfo info;
  EXPECT_EQ(run(*shell_request(R"(<shell cmd="head" args="-c 300000 /dev/zero"/>)"), info), ConnEvent::complete);
  EXPECT_EQ(content_.size(), 100u);                 // kept
  EXPECT_EQ(services_["size_rcv"], 300000u);        // counted, as Tsung's length(Res)
  EXPECT_EQ(services_["shell_exit_0"], 1u);
}

// Processes of group `pgid` still alive (zombies excluded: their reaper is the system's init).
int live_in_group(pid_t pgid) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    if (!std::getline(stat, text)) continue;
    auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    rest >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != 'Z' && state != 'X') ++n;
  }
  return n;
}

// os:cmd returns when the command line finishes, not when every process holding its output
// closes it: a background child neither holds the user nor outlives its command.
TEST_F(ShellRun, EndsWhenTheShellExitsAndKillsWhatItLeftRunning) {
  set_shell_allowed(true);
  auto start = std::chrono::steady_clock::now();
  ResponseInfo info;
  ASSERT_EQ(run(*shell_request(R"(<shell cmd="echo started $$;" args="sleep 30 &amp; yes &amp;"/>)"), info),
            ConnEvent::complete);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(content_.rfind("started ", 0), 0u) << content_.substr(0, 40);
  pid_t pgid = std::stoi(content_.substr(8));
  int live = -1;
  for (int i = 0; i < 100 && live != 0; ++i) {
    live = live_in_group(pgid);
    if (live) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(live, 0) << "sleep/yes of group " << pgid << " still running";
  ResponseInfo again;  // the runner is free for the next command of the connection
  EXPECT_EQ(run(*shell_request(R"(<shell cmd="echo" args="next"/>)"), again), ConnEvent::complete);
  EXPECT_EQ(content_, "next\n");
}

// os:cmd runs with stderr_to_stdout: a match sees what the command wrote on stderr.
TEST_F(ShellRun, StderrIsPartOfTheResponse) {
  set_shell_allowed(true);
  ResponseInfo info;
  EXPECT_EQ(run(*shell_request(R"(<shell cmd="echo out;" args="echo err-text 1>&amp;2"/>)"), info),
            ConnEvent::complete);
  EXPECT_EQ(content_, "out\nerr-text\n");
}

TEST_F(ShellRun, RunningCommandKilledAndReapedWhenTheConnectionCloses) {
  set_shell_allowed(true);
  auto pidfile = std::filesystem::temp_directory_path() / ("loadctl-shell-pid-" + std::to_string(::getpid()));
  std::filesystem::remove(pidfile);
  auto req = shell_request("<shell cmd=\"echo $$ > " + pidfile.string() + "; exec sleep 30\"/>");
  EncodeContext ctx;
  std::string out;
  conn_->encode(services_, *req, ctx, out);
  std::string pid;
  for (int i = 0; i < 100 && pid.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream(pidfile) >> pid;
  }
  ASSERT_FALSE(pid.empty());
  auto proc = std::filesystem::path("/proc") / pid;
  ASSERT_TRUE(std::filesystem::exists(proc));
  conn_.reset();  // the user ended (idle_timeout, end of run): the command is killed
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {  // killed and reaped: no zombie left in /proc
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gone = !std::filesystem::exists(proc);
  }
  EXPECT_TRUE(gone) << "process " << pid << " still in /proc (running or a zombie)";
  std::filesystem::remove(pidfile);
}

}  // namespace
}  // namespace loadctl::shell
