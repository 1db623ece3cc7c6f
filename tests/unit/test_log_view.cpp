// `loadctl view`'s pages (report/log_view.hpp): the runs under a log root, their files, and what is
// never served (anything outside the root, symbolic links, hidden names, oversized files).

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "report/log_view.hpp"

namespace fs = std::filesystem;
using loadctl::control::WebRequest;
using loadctl::control::WebResponse;
using loadctl::report::LogView;

namespace {

class LogViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "loadctl-view-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    base = pattern;
    root = base / "log";
    fs::create_directories(root);
    run("20260101-1000", R"({"scenario": "a.xml", "start": 1767261600, "end": 1767261660, "exit_status": 0, "stop_reason": ""})");
    run("20260101-1100", R"({"scenario": "b<x>.xml", "start": 1767265200, "end": 1767265210, "exit_status": 5,
                             "stop_reason": "abort_test: match on /x"})");
    fs::create_directories(root / "a&b c");  // a name that needs escaping, with a tsung.log only
    write(root / "a&b c" / "tsung.log", "# stats: dump at 1\n");
    fs::create_directories(root / "not-a-run");  // neither tsung.log nor run.json
    write(root / "not-a-run" / "x.txt", "x");
    fs::create_directories(root / ".hidden");
    write(root / ".hidden" / "tsung.log", "h");
    write(base / "secret.txt", "outside the root");
    fs::create_directory_symlink(root / "20260101-1000", root / "20990101-0000");  // a link to a run: not listed
    fs::create_symlink(base / "secret.txt", root / "20260101-1000" / "link.txt");
  }
  void TearDown() override { fs::remove_all(base); }

  void run(const std::string& name, const std::string& json) {
    fs::create_directories(root / name);
    write(root / name / "run.json", json);
    write(root / name / "tsung.log", "# stats: dump at 1\nstats: request 1 1 1 1 1 1 1\n");
  }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }
  WebResponse get(std::string_view path) const {
    WebRequest r;
    r.path = path;
    return LogView(root.string()).handle(r);
  }

  fs::path base, root;
};

}  // namespace

TEST_F(LogViewTest, IndexListsTheRunsNewestFirstWithTheirStatus) {
  WebResponse r = get("/");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  std::size_t newer = r.body.find("/run/20260101-1100/"), older = r.body.find("/run/20260101-1000/");
  ASSERT_NE(newer, std::string::npos) << r.body;
  ASSERT_NE(older, std::string::npos) << r.body;
  EXPECT_LT(newer, older) << "newest first";
  EXPECT_NE(r.body.find("3 run(s)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("exit 5: abort_test: match on /x"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("b&lt;x&gt;.xml"), std::string::npos) << "scenario names are escaped";
  EXPECT_EQ(r.body.find("b<x>"), std::string::npos);
  EXPECT_NE(r.body.find("href=\"/run/a%26b%20c/\""), std::string::npos) << "links are %-escaped";
  EXPECT_NE(r.body.find(">a&amp;b c<"), std::string::npos);
  EXPECT_NE(r.body.find("no run.json"), std::string::npos) << "a run without run.json says so";
  EXPECT_EQ(r.body.find("not-a-run"), std::string::npos);
  EXPECT_EQ(r.body.find("hidden"), std::string::npos);
  EXPECT_EQ(r.body.find("20990101"), std::string::npos) << "a symbolic link to a run is not a run";
}

TEST_F(LogViewTest, RunFilesAreListedAndServedAsTheyAre) {
  WebResponse list = get("/run/20260101-1000/");
  ASSERT_EQ(list.status, 200u);
  EXPECT_NE(list.body.find("href=\"/run/20260101-1000/tsung.log\""), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("link.txt"), std::string::npos) << "symbolic links are not listed";
  WebResponse log = get("/run/20260101-1000/tsung.log");
  ASSERT_EQ(log.status, 200u);
  EXPECT_EQ(log.body, "# stats: dump at 1\nstats: request 1 1 1 1 1 1 1\n");
  EXPECT_EQ(log.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(get("/run/20260101-1000/run.json").content_type, "application/json");
  EXPECT_EQ(get("/run/a%26b%20c/tsung.log").status, 200u) << "names are %-decoded";
  EXPECT_EQ(get("/run/20260101-1000/nothing.txt").status, 404u);
}

TEST_F(LogViewTest, NothingOutsideTheRootNorThroughALinkIsServed) {
  WebResponse link = get("/run/20260101-1000/link.txt");
  EXPECT_EQ(link.status, 403u);
  EXPECT_EQ(link.body.find("outside the root"), std::string::npos);
  for (std::string_view path : {"/run/..%2Fsecret.txt", "/run/20260101-1000/..%2F..%2Fsecret.txt", "/run/../secret.txt",
                                "/run/20260101-1000/%2Fetc%2Fpasswd", "/run/.hidden/tsung.log", "/run/20990101-0000/",
                                "/run/20990101-0000/tsung.log", "/run/%zz/", "/secret.txt", "/run//tsung.log"}) {
    WebResponse r = get(path);
    EXPECT_GE(r.status, 400u) << path;
    EXPECT_EQ(r.body.find("outside the root"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("# stats"), std::string::npos) << path;
  }
  WebRequest post;
  post.post = true;
  post.path = "/run/20260101-1000/report";
  EXPECT_EQ(LogView(root.string()).handle(post).status, 405u);
}

TEST_F(LogViewTest, OversizedFilesAreRefusedNotRead) {
  fs::path big = root / "20260101-1000" / "big.dump";
  { std::ofstream(big) << ""; }
  fs::resize_file(big, LogView::kMaxServedBytes + 1);  // sparse: nothing written
  WebResponse r = get("/run/20260101-1000/big.dump");
  EXPECT_EQ(r.status, 403u);
  EXPECT_NE(r.body.find("larger than the 64 MiB served"), std::string::npos) << r.body;
}
