// ts_fs: parsing (Tsung's commands, defaults and refusals, errors naming the element), the
// loader's rule that ts_fs sessions need <server type="erlang">, and FsConnection run on a
// temporary directory with a fake ConnectionServices: files on disk and Tsung's counters.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <pugixml.hpp>

#include "fs_request.hpp"
#include "loadctl/connection.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"
#include "support/fake_conn_services.hpp"
#include "support/map_vars.hpp"
#include "support/parse_request.hpp"

namespace loadctl::fs {
namespace {

const Protocol& fs_protocol() { return *ProtocolRegistry::builtin().by_element("fs"); }

std::shared_ptr<const FsRequest> fs_request(const std::string& xml, bool subst = false) {
  return std::static_pointer_cast<const FsRequest>(
      fs_protocol().parse_request(test::kept_element(xml), test::subst_context(subst, false)));
}

std::string fs_parse_error(const std::string& xml) {
  return test::scenario_error_of([&] { fs_request(xml); }, "(accepted)");
}

std::string fs_scenario(const std::string& server_type) {
  return "<?xml version=\"1.0\"?>\n<tsung>\n<clients><client host=\"localhost\"/></clients>\n"
         "<servers><server host=\"127.0.0.1\" port=\"5432\" type=\"" + server_type + "\"/></servers>\n"
         "<load><arrivalphase phase=\"1\" duration=\"1\" unit=\"second\"><users arrivalrate=\"1\" unit=\"second\"/>"
         "</arrivalphase></load>\n<sessions><session name=\"s\" probability=\"100\" type=\"ts_fs\">\n"
         "<request><fs cmd=\"stat\" path=\"/tmp\"/></request>\n</session></sessions>\n</tsung>\n";
}

TEST(FsParse, TsungDefaultsAndCommands) {
  auto w = fs_request(R"(<fs path="/x"/>)");
  EXPECT_EQ(w->command, Command::write);  // Tsung's default cmd
  EXPECT_EQ(w->size, 1024u);              // and size
  auto o = fs_request(R"(<fs cmd="open" mode="read" path="/x/%%_f%%"/>)", true);
  EXPECT_EQ(o->command, Command::open);
  EXPECT_TRUE(o->open_for_read);
  EXPECT_EQ(o->path.variables().size(), 1u);
  EXPECT_FALSE(fs_request(R"(<fs cmd="open" path="/x"/>)")->open_for_read);  // mode defaults to write
  EXPECT_EQ(fs_request(R"(<fs cmd="read_chunk" size="65536"/>)")->size, 65536u);
  EXPECT_EQ(fs_request(R"(<fs cmd="close"/>)")->command, Command::close);
  EXPECT_EQ(fs_request(R"(<fs cmd="delete" path="/x"/>)")->command, Command::remove);
  EXPECT_EQ(fs_request(R"(<fs cmd="make_symlink" path="/x" dest="/y"/>)")->command, Command::make_symlink);
  // position: Tsung reads it and never uses it (chunks follow the open file's position)
  EXPECT_EQ(fs_request(R"(<fs cmd="write_chunk" position="5"/>)")->command, Command::write_chunk);
}

TEST(FsParse, Refusals) {
  EXPECT_NE(fs_parse_error(R"(<fs cmd="copy" path="/x"/>)").find("not supported yet: cmd=\"copy\""), std::string::npos);
  EXPECT_NE(fs_parse_error(R"(<fs cmd="open" mode="append" path="/x"/>)").find("not supported yet: mode=\"append\""),
            std::string::npos);
  EXPECT_NE(fs_parse_error(R"(<fs cmd="read"/>)").find("missing attribute 'path'"), std::string::npos);
  EXPECT_NE(fs_parse_error(R"(<fs cmd="make_symlink" path="/x"/>)").find("missing attribute 'dest'"), std::string::npos);
  EXPECT_NE(fs_parse_error(R"(<fs cmd="write" path="/x" size="%%_n%%"/>)").find("size"), std::string::npos);
  EXPECT_NE(fs_parse_error(R"(<fs cmd="rename" path="/x"/>)").find("cmd"), std::string::npos);
  EXPECT_NE(fs_parse_error(R"(<fs path="/x" owner="me"/>)").find("owner"), std::string::npos);
}

TEST(FsParse, SessionsNeedAnErlangServer) {
  EXPECT_NO_THROW(load_scenario_text(fs_scenario("erlang"), "t.xml", ProtocolRegistry::builtin()));
  try {
    load_scenario_text(fs_scenario("tcp"), "t.xml", ProtocolRegistry::builtin());
    ADD_FAILURE() << "ts_fs over tcp accepted";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("ts_fs sessions run on the agent host: they need <server type=\"erlang\">"),
              std::string::npos) << e.what();
  }
}

// An FsConnection on a socket pair, as the engine gives it: each request's end is one byte.
class FsRun : public ::testing::Test {
 protected:
  void SetUp() override {
    set_shell_allowed(true);  // as loadagent --allow-local
    dir_ = std::filesystem::temp_directory_path() / ("loadctl-fs-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    engine_end_ = fds[0];
    ConnectionContext ctx;
    ctx.local_fd = fds[1];
    conn_ = fs_protocol().open_connection(ctx);
    ASSERT_TRUE(conn_);
    conn_->on_open(services_);
  }
  void TearDown() override {
    conn_.reset();
    ::close(engine_end_);
    std::filesystem::remove_all(dir_);
    set_shell_allowed(false);
  }
  // Runs one request; its completion arrives on the engine's end.
  void run(const std::string& xml, ConnEvent expected = ConnEvent::complete, const char* error = nullptr) {
    auto req = fs_request(xml, true);
    EncodeContext ctx;
    ctx.vars = &vars_;
    std::string out;
    conn_->encode(services_, *req, ctx, out);
    EXPECT_TRUE(out.empty());
    char byte = 0;
    ASSERT_EQ(::recv(engine_end_, &byte, 1, 0), 1);
    ResponseInfo info;
    ConnResult r = conn_->on_data(services_, req.get(), {&byte, 1}, info);
    EXPECT_EQ(r.consumed, 1u);
    EXPECT_EQ(r.event, expected);
    if (error) {
      EXPECT_STREQ(info.error, error);
    }
  }
  std::filesystem::path dir_;
  int engine_end_ = -1;
  std::unique_ptr<Connection> conn_;
  test::FakeConnServices services_;
  test::MapVars vars_;
};

// The trust rule: an agent without --allow-local (rsh_daemon.sh's, a listening agent by default)
// refuses every fs request, counted, and touches nothing.
TEST_F(FsRun, RefusedWithoutAllowLocal) {
  set_shell_allowed(false);
  auto file = dir_ / "must-not-exist";
  run("<fs cmd=\"write\" path=\"" + file.string() + "\" size=\"10\"/>", ConnEvent::failed, "fs_not_allowed");
  run("<fs cmd=\"make_dir\" path=\"" + file.string() + "\"/>", ConnEvent::failed, "fs_not_allowed");
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_EQ(services_["size_sent"], 0u);
}

// A command stops within 64 KiB once its user ends (idle_timeout, end of run): it does not hold
// a pool thread (8 of them for every user of the process) for a 10 TB write.
TEST_F(FsRun, AHugeWriteStopsWhenItsUserEnds) {
  auto req = fs_request(R"(<fs cmd="write" path="/dev/null" size="10000000000000"/>)", true);
  EncodeContext ctx;
  ctx.vars = &vars_;
  std::string out;
  conn_->encode(services_, *req, ctx, out);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  conn_.reset();  // the user ended
  // The pool thread drops the user's state when the command returns: its socket end closes.
  bool closed = false;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!closed && std::chrono::steady_clock::now() < until) {
    pollfd p{engine_end_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[8];
    closed = ::recv(engine_end_, buf, sizeof buf, 0) == 0;
  }
  EXPECT_TRUE(closed) << "the 10 TB write still runs after its user ended";
}

// ts_fs:parse on a failed open counts error_fs_open and keeps the session: the previous file and
// its position stay in use.
TEST_F(FsRun, AFailedOpenKeepsThePreviousFile) {
  vars_.values["d"] = dir_.string();
  run(R"(<fs cmd="open" mode="write" path="%%_d%%/f"/>)");
  run(R"(<fs cmd="write_chunk" size="100"/>)");
  run(R"(<fs cmd="open" mode="read" path="%%_d%%/missing/x"/>)");
  run(R"(<fs cmd="write_chunk" size="100"/>)");
  run(R"(<fs cmd="close"/>)");
  EXPECT_EQ(std::filesystem::file_size(dir_ / "f"), 200u);
  EXPECT_EQ(services_["error_fs_open"], 1u);
  EXPECT_EQ(services_["error_fs_pwrite"], 0u);
  EXPECT_EQ(services_["error_fs_close"], 0u);
}

TEST_F(FsRun, WriteChunksReadThemBackAndCountAsTsung) {
  vars_.values["d"] = dir_.string();
  run(R"(<fs cmd="make_dir" path="%%_d%%/u1"/>)");
  run(R"(<fs cmd="make_dir" path="%%_d%%/u1"/>)");  // eexist: not an error in Tsung
  run(R"(<fs cmd="open" mode="write" path="%%_d%%/u1/f"/>)");
  for (int i = 0; i < 3; ++i) run(R"(<fs cmd="write_chunk" size="1000"/>)");
  run(R"(<fs cmd="close"/>)");
  EXPECT_EQ(std::filesystem::file_size(dir_ / "u1" / "f"), 3000u);
  EXPECT_EQ(services_["size_sent"], 3000u);
  std::ifstream in(dir_ / "u1" / "f");
  std::string head(4, '\0');
  in.read(head.data(), 4);
  EXPECT_EQ(head, "abcd");  // Tsung's fixed pattern, not random bytes

  run(R"(<fs cmd="open" mode="read" path="%%_d%%/u1/f"/>)");
  run(R"(<fs cmd="read_chunk" size="2000"/>)");
  run(R"(<fs cmd="read_chunk" size="2000"/>)");  // short (1000 left): Tsung counts the size asked
  run(R"(<fs cmd="read_chunk" size="2000"/>)");  // at eof: counted too, the position back to 0
  run(R"(<fs cmd="read_chunk" size="500"/>)");
  run(R"(<fs cmd="close"/>)");
  EXPECT_EQ(services_["size_rcv"], 6500u);
  run(R"(<fs cmd="read" path="%%_d%%/u1/f"/>)");  // the whole file: its size
  EXPECT_EQ(services_["size_rcv"], 9500u);
  run(R"(<fs cmd="write" path="%%_d%%/u1/g" size="123"/>)");
  EXPECT_EQ(std::filesystem::file_size(dir_ / "u1" / "g"), 123u);
  run(R"(<fs cmd="make_symlink" path="%%_d%%/u1/g" dest="%%_d%%/u1/h"/>)");
  EXPECT_TRUE(std::filesystem::is_symlink(dir_ / "u1" / "h"));
  run(R"(<fs cmd="stat" path="%%_d%%/u1/h"/>)");
  run(R"(<fs cmd="delete" path="%%_d%%/u1/h"/>)");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "u1" / "h"));
  for (const auto& [name, n] : services_.counts) EXPECT_FALSE(name.starts_with("error_")) << name;
}

TEST_F(FsRun, ErrorsAreTsungsCounters) {
  vars_.values["d"] = dir_.string();
  run(R"(<fs cmd="open" mode="read" path="%%_d%%/missing"/>)");
  run(R"(<fs cmd="read_chunk" size="10"/>)");
  run(R"(<fs cmd="write_chunk" size="10"/>)");
  run(R"(<fs cmd="close"/>)");
  run(R"(<fs cmd="read" path="%%_d%%/missing"/>)");
  run(R"(<fs cmd="stat" path="%%_d%%/missing"/>)");
  run(R"(<fs cmd="del_dir" path="%%_d%%/missing"/>)");
  run(R"(<fs cmd="make_dir" path="%%_d%%/missing/sub"/>)");
  run(R"(<fs cmd="write" path="%%_d%%/missing/f" size="5"/>)");
  run(R"(<fs cmd="delete" path="%%_d%%/missing"/>)");  // Tsung logs it and counts nothing
  EXPECT_EQ(services_["error_fs_open"], 1u);
  EXPECT_EQ(services_["error_fs_pread"], 1u);
  EXPECT_EQ(services_["error_fs_pwrite"], 1u);
  EXPECT_EQ(services_["error_fs_close"], 1u);
  EXPECT_EQ(services_["error_fs_read"], 1u);
  EXPECT_EQ(services_["error_fs_stat"], 1u);
  EXPECT_EQ(services_["error_fs_del_dir"], 1u);
  EXPECT_EQ(services_["error_fs_mkdir"], 1u);
  EXPECT_EQ(services_["error_fs_write"], 1u);
  EXPECT_EQ(services_["size_rcv"], 0u);
  EXPECT_EQ(services_["size_sent"], 15u);  // sent as asked (Tsung's size_msg), written or not
}

}  // namespace
}  // namespace loadctl::fs
