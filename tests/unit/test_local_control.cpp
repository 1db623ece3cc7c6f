#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "control/local_control.hpp"
#include "control/run_status.hpp"

using namespace loadctl::control;
using Kind = ControlRequest::Kind;
namespace fs = std::filesystem;

TEST(ControlRequest, ParsesTheThreeRequests) {
  EXPECT_EQ(parse_control_request("status"), ControlRequest{Kind::status});
  EXPECT_EQ(parse_control_request("status json"), ControlRequest{Kind::status_json});
  EXPECT_EQ(parse_control_request("stop"), ControlRequest{Kind::stop});
  EXPECT_EQ(parse_control_request("stop\r"), ControlRequest{Kind::stop});
  EXPECT_EQ(parse_control_request("stop agent 0"), (ControlRequest{Kind::stop_agent, 0}));
  EXPECT_EQ(parse_control_request("stop agent 999999"), (ControlRequest{Kind::stop_agent, 999999}));
  for (const char* bad : {"", "STOP", "stop ", " status", "status  json", "stopp", "status json x", "stop agent",
                          "stop agent ", "stop agent -1", "stop agent +1", "stop agent 01", "stop agent 1000000",
                          "stop agent 1 ", "stop agent 4294967297", "stop agent 1x", "stop agent  1"})
    EXPECT_FALSE(parse_control_request(bad)) << bad;
  for (ControlRequest request : {ControlRequest{Kind::status}, ControlRequest{Kind::status_json},
                                 ControlRequest{Kind::stop}, ControlRequest{Kind::stop_agent, 42}}) {
    std::string line = encode_control_request(request);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(parse_control_request(std::string_view(line).substr(0, line.size() - 1)), request) << line;
  }
}

TEST(ControlRequest, ScanWaitsForTheNewlineAndBoundsTheLine) {
  EXPECT_EQ(scan_control_request("").result, RequestScan::Result::incomplete);
  EXPECT_EQ(scan_control_request("sta").result, RequestScan::Result::incomplete);
  auto done = scan_control_request("stop\n");
  EXPECT_EQ(done.result, RequestScan::Result::complete);
  EXPECT_EQ(done.request, ControlRequest{Kind::stop});
  EXPECT_EQ(scan_control_request("status json\n").request, ControlRequest{Kind::status_json});
  EXPECT_EQ(scan_control_request("reboot\n").result, RequestScan::Result::bad);
  EXPECT_EQ(scan_control_request(std::string_view("st\0op\n", 6)).result, RequestScan::Result::bad);
  EXPECT_EQ(scan_control_request(std::string_view("st\0", 3)).result, RequestScan::Result::bad);
  // kMaxControlRequest bytes without a newline can never become a request.
  std::string long_line(kMaxControlRequest, 'a');
  EXPECT_EQ(scan_control_request(long_line).result, RequestScan::Result::bad);
  EXPECT_EQ(scan_control_request(long_line.substr(1)).result, RequestScan::Result::incomplete);
}

TEST(RunStatus, PhaseFollowsTheScheduleAndItsLoops) {
  std::vector<double> durations{10, 20};
  EXPECT_EQ(phase_at(durations, 0, 0).phase, 1u);
  EXPECT_EQ(phase_at(durations, 0, 9.9).phase, 1u);
  EXPECT_EQ(phase_at(durations, 0, 10).phase, 2u);
  EXPECT_EQ(phase_at(durations, 0, 30).phase, 0u);  // last, waiting for pending clients
  EXPECT_EQ(phase_at(durations, 0, 30).phases, 2u);
  EXPECT_EQ(phase_at(durations, 1, 35).phase, 3u);
  EXPECT_EQ(phase_at(durations, 1, 35).phases, 4u);
  EXPECT_EQ(phase_at({}, 0, 100).phase, 1u);  // static users only
}

TEST(RunStatus, TextHasTsungsLinesAndJsonTheSameValues) {
  RunStatus s;
  s.state = RunStatus::State::running;
  s.request_rate = 12.345;
  s.users = 7;
  s.connected = 3;
  s.phase = 2;
  s.phases = 3;
  s.errors = 4;
  s.errors_by_name = {{"error_connect_econnrefused", 4}};
  s.agents.push_back({0, "local\"host", "running", 0.25});
  std::string text = render_status_text(s);
  EXPECT_EQ(text.rfind("loadctl is running [OK]\n", 0), 0u) << text;
  EXPECT_NE(text.find(" Current request rate:    12.35 req/sec\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" Current users:           7\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" Current connected users: 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" Current phase:           2\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" Phases planned:          3\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" State:                   running\n"), std::string::npos) << text;
  EXPECT_NE(text.find("error_connect_econnrefused=4"), std::string::npos) << text;
  s.phase = 0;
  EXPECT_NE(render_status_text(s).find("last, waiting for pending clients"), std::string::npos);
  std::string json = render_status_json(s);
  EXPECT_NE(json.find("\"state\": \"running\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"users\": 7"), std::string::npos) << json;
  EXPECT_NE(json.find("\"errors_by_name\": {\"error_connect_econnrefused\": 4}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"host\": \"local\\\"host\""), std::string::npos) << json;
  EXPECT_EQ(json.back(), '\n');
  s.state = RunStatus::State::finishing;  // the exit status is not final yet: not shown
  EXPECT_EQ(render_status_text(s).rfind("loadctl is running [OK]\n", 0), 0u);  // Tsung's headline until the end
  EXPECT_NE(render_status_text(s).find(" State:                   finishing (writing the results)\n"), std::string::npos);
  EXPECT_NE(render_status_json(s).find("\"state\": \"finishing\""), std::string::npos);
  s.state = RunStatus::State::finished;
  s.exit_status = 143;
  s.stop_reason = "loadctl stop";
  EXPECT_EQ(render_status_text(s).rfind("loadctl has finished (loadctl stop): exit status 143\n", 0), 0u);
}

class PrivateDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/loadctl-unit-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  static unsigned mode_of(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0 ? st.st_mode & 0777 : 01000;
  }
  std::string root_;
};

// A listening Unix socket at `path` (bound through UnixAddress), closed by its destructor so that
// a failed ASSERT leaks no descriptor.
struct Listener {
  explicit Listener(const std::string& path, int backlog = 1) {
    UnixAddress address(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, address.usable_path().c_str());
    ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 && listen(fd, backlog) == 0;
  }
  ~Listener() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  int fd = -1;
  bool ok = false;
};

TEST_F(PrivateDir, CreatesOwnerOnlyDirectories) {
  std::string dir = root_ + "/.loadctl/run";
  ensure_private_dir(dir);
  EXPECT_EQ(mode_of(root_ + "/.loadctl"), 0700u);
  EXPECT_EQ(mode_of(dir), 0700u);
  ensure_private_dir(dir);  // an existing one of ours is fine
}

TEST_F(PrivateDir, RefusesASymlinkOrAnOpenDirectory) {
  fs::create_directory(root_ + "/elsewhere");
  fs::permissions(root_ + "/elsewhere", fs::perms::owner_all);
  fs::create_directory_symlink(root_ + "/elsewhere", root_ + "/link");
  EXPECT_THROW(ensure_private_dir(root_ + "/link"), std::runtime_error);
  fs::create_directory(root_ + "/open");
  fs::permissions(root_ + "/open", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  EXPECT_THROW(ensure_private_dir(root_ + "/open"), std::runtime_error);
}

TEST_F(PrivateDir, ReachesASocketWhosePathIsLongerThanSunPath) {
  std::string dir = root_;
  while (dir.size() < 150) dir += "/a-rather-long-directory-name";
  fs::create_directories(dir);
  std::string path = dir + "/" + kControlSocketName;
  UnixAddress address(path);
  ASSERT_LT(address.usable_path().size(), sizeof(sockaddr_un{}.sun_path));
  Listener listener(path);
  ASSERT_TRUE(listener.ok) << std::strerror(errno);
  EXPECT_TRUE(fs::is_socket(path));
  // A client reaches it by the long path; the listener never answers, so the exchange times out.
  std::string error;
  EXPECT_FALSE(control_exchange(path, {Kind::status}, std::chrono::milliseconds(200), error));
  EXPECT_EQ(error, "no answer in time");
  listener.reset();
  // Nothing listens any more: refused at once.
  EXPECT_FALSE(control_exchange(path, {Kind::status}, std::chrono::milliseconds(2000), error));
  EXPECT_EQ(error, std::strerror(ECONNREFUSED));
}

TEST_F(PrivateDir, FindsSocketsOfRunDirectoriesUnderALogRoot) {
  fs::create_directories(root_ + "/20260101-1200");
  fs::create_directories(root_ + "/20260101-1300");
  std::string path = root_ + "/20260101-1300/" + kControlSocketName;
  Listener listener(path);
  ASSERT_TRUE(listener.ok);
  auto found = controllers_in("", root_);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].socket, path);
  EXPECT_EQ(controllers_in(root_ + "/20260101-1200", "").size(), 0u);
}

// A listener that never accepts (a controller stopped with Ctrl-Z) with a full backlog: the
// client says "busy" at once instead of blocking in connect().
TEST_F(PrivateDir, AFullBacklogIsBusyNotAHang) {
  std::string path = root_ + "/" + kControlSocketName;
  Listener listener(path, 0);
  ASSERT_TRUE(listener.ok);
  std::vector<int> queued;
  for (int i = 0; i < 8; ++i) {  // fill the backlog
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, path.c_str());
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    queued.push_back(fd);
    if (rc != 0 && errno == EAGAIN) break;
  }
  auto start = std::chrono::steady_clock::now();
  std::string error;
  EXPECT_FALSE(control_exchange(path, {Kind::status}, std::chrono::milliseconds(3000), error));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  EXPECT_TRUE(error.starts_with("busy")) << error;
  for (int fd : queued) close(fd);
}

// A controller that closes the connection without writing anything has not answered.
TEST_F(PrivateDir, CloseWithoutAnswerIsAnError) {
  std::string path = root_ + "/" + kControlSocketName;
  Listener listener(path);
  ASSERT_TRUE(listener.ok);
  std::thread server([&] {
    int c = accept(listener.fd, nullptr, nullptr);
    char request[kMaxControlRequest];
    if (c >= 0 && recv(c, request, sizeof request, 0) >= 0) close(c);  // the request read, no answer
    else if (c >= 0) close(c);
  });
  std::string error;
  auto reply = control_exchange(path, {Kind::status}, std::chrono::milliseconds(3000), error);
  server.join();
  EXPECT_FALSE(reply);
  EXPECT_EQ(error, "closed without an answer");
}

// Registry entries are <hostname>-<pid>: one of this host whose socket refuses connections is
// removed, one of another host is left alone, one whose target is not a control.sock socket of
// this user is not listed, a live one is listed.
TEST_F(PrivateDir, RegistryKeepsOtherHostsAndRemovesOnlyRefusedSockets) {
  const char* old_home = std::getenv("HOME");
  std::string saved = old_home ? old_home : "";
  setenv("HOME", root_.c_str(), 1);
  std::string dir = root_ + "/.loadctl/run";
  ensure_private_dir(dir);
  fs::create_directories(root_ + "/live");
  fs::create_directories(root_ + "/dead");
  Listener live(root_ + "/live/" + kControlSocketName);
  ASSERT_TRUE(live.ok);
  {
    Listener dead(root_ + "/dead/" + kControlSocketName);
    ASSERT_TRUE(dead.ok);
  }  // closed: its path remains, connecting is refused
  Listener renamed(root_ + "/live/other.sock");
  ASSERT_TRUE(renamed.ok);
  std::string me = registry_entry_prefix();
  fs::create_symlink(root_ + "/live/" + kControlSocketName, dir + "/" + me + "10");
  fs::create_symlink(root_ + "/dead/" + kControlSocketName, dir + "/" + me + "11");
  fs::create_symlink(root_ + "/live/other.sock", dir + "/" + me + "12");
  fs::create_symlink(root_ + "/dead/" + kControlSocketName, dir + "/not-this-host-13");
  EXPECT_EQ(probe_socket(root_ + "/live/" + kControlSocketName), 0);
  EXPECT_EQ(probe_socket(root_ + "/dead/" + kControlSocketName), ECONNREFUSED);
  auto found = registered_controllers();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].pid, 10);
  EXPECT_FALSE(fs::is_symlink(dir + "/" + me + "11"));
  EXPECT_TRUE(fs::is_symlink(dir + "/" + me + "12"));
  EXPECT_TRUE(fs::is_symlink(dir + "/not-this-host-13"));
  // An open registry directory is not read at all.
  fs::permissions(dir, fs::perms::owner_all | fs::perms::others_exec);
  EXPECT_TRUE(registered_controllers().empty());
  if (old_home) setenv("HOME", saved.c_str(), 1);
  else unsetenv("HOME");
}
