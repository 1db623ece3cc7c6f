#include "controller/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace loadctl::controller {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

constexpr std::size_t kMaxSessions = 16;           // connections at once; more are closed at once
constexpr auto kSessionTimeout = std::chrono::seconds(2);  // to send the request and read the answer

}  // namespace

struct ControlServer::Session {
  Session(local::socket s, std::shared_ptr<void> ticket)
      : socket(std::move(s)), deadline(socket.get_executor()), ticket_(std::move(ticket)) {}
  void close() {
    boost::system::error_code ignored;
    deadline.cancel();
    socket.close(ignored);
  }

  local::socket socket;
  asio::steady_timer deadline;
  char received[control::kMaxControlRequest];
  std::size_t size = 0;
  std::string answer;

 private:
  std::shared_ptr<void> ticket_;  ///< a slot of ControlServer::sessions_ while the session lives
};

ControlServer::ControlServer(asio::io_context& ctx, StatusSource status, StopHandler stop, StopAgentHandler stop_agent,
                             SteerHandler steer)
    : acceptor_(ctx),
      accept_loop_(acceptor_, "control socket", [this](local::socket socket) { on_socket(std::move(socket)); }),
      status_(std::move(status)),
      stop_(std::move(stop)),
      stop_agent_(std::move(stop_agent)),
      steer_(std::move(steer)),
      sessions_(kMaxSessions) {}

ControlServer::~ControlServer() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  remove_files();
}

void ControlServer::open(const std::string& run_dir) {
  std::string path = run_dir + "/" + control::kControlSocketName;
  if (!path.starts_with('/')) {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) path = std::string(cwd) + "/" + path;
  }
  // A socket left by a controller that was killed (same --run-dir) is replaced; anything else
  // at that path (a file, a symlink) is not ours to remove.
  control::remove_stale_socket(path, fmt::format("{}: another controller is running in this log directory", path));
  control::UnixAddress address(path);
  boost::system::error_code ec;
  acceptor_.open(local(), ec);
  if (!ec) {
    // bind() creates the socket 0777 & ~umask: 0600 from the start, no chmod by path afterwards
    // (which would follow a symlink put there meanwhile).
    mode_t old = umask(0177);
    acceptor_.bind(local::endpoint(address.usable_path()), ec);
    umask(old);
  }
  if (!ec) socket_path_ = path;
  if (!ec) acceptor_.listen(8, ec);
  if (ec) throw std::runtime_error(fmt::format("control socket {}: {}", path, ec.message()));
  accept_loop_.start();
}

void ControlServer::register_run() {
  std::string dir = control::registry_dir();
  control::ensure_private_dir(dir);
  std::string entry = fmt::format("{}/{}{}", dir, control::registry_entry_prefix(), getpid());
  unlink(entry.c_str());  // left by a process that had our pid and was killed
  if (symlink(socket_path_.c_str(), entry.c_str()) != 0)
    throw std::runtime_error(fmt::format("cannot create {}: {}", entry, std::strerror(errno)));
  registry_entry_ = entry;
}

void ControlServer::remove_files() {
  if (!socket_path_.empty()) unlink(socket_path_.c_str());
  if (!registry_entry_.empty()) unlink(registry_entry_.c_str());
  socket_path_.clear();
  registry_entry_.clear();
}

void ControlServer::on_socket(local::socket socket) {
  auto uid = control::peer_uid(socket.native_handle());
  if (!uid || *uid != geteuid()) {
    spdlog::warn("control socket: connection from uid {} refused", uid ? static_cast<long>(*uid) : -1L);
    return;
  }
  std::shared_ptr<void> ticket = finished_ ? nullptr : sessions_.enter();
  if (!ticket) {
    // Said before closing, so that the client does not take the close for an answer. Best
    // effort: a non-blocking write of a short line to a new connection.
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    std::string_view text = finished_ ? "error: finished\n" : "error: busy\n";
    socket.write_some(asio::buffer(text.data(), text.size()), ignored);
    return;
  }
  auto session = std::make_shared<Session>(std::move(socket), std::move(ticket));
  session->deadline.expires_after(kSessionTimeout);
  session->deadline.async_wait([weak = std::weak_ptr<Session>(session)](const boost::system::error_code& ec) {
    if (auto s = weak.lock(); s && !ec) s->close();
  });
  read(session);
}

void ControlServer::read(const std::shared_ptr<Session>& session) {
  std::size_t room = sizeof session->received - session->size;
  session->socket.async_read_some(
      asio::buffer(session->received + session->size, room),
      [this, session](const boost::system::error_code& ec, std::size_t n) {
        if (ec) return session->close();
        session->size += n;
        auto scan = control::scan_control_request(std::string_view(session->received, session->size));
        switch (scan.result) {
          case control::RequestScan::Result::incomplete:
            if (session->size < sizeof session->received) return read(session);
            [[fallthrough]];
          case control::RequestScan::Result::bad:
            return reply(session, "error: unknown request (expected status, status json, stop, stop agent N, "
                                  "rate R [agent N], pause or resume)\n", true);
          case control::RequestScan::Result::complete: return on_request(session, scan.request);
        }
      });
}

void ControlServer::on_request(const std::shared_ptr<Session>& session, const control::ControlRequest& request) {
  using Kind = control::ControlRequest::Kind;
  std::string line = control::encode_control_request(request);
  spdlog::debug("control socket: {}", std::string_view(line).substr(0, line.size() - 1));
  switch (request.kind) {
    case Kind::status: return reply(session, control::render_status_text(status_()), true);
    case Kind::status_json: return reply(session, control::render_status_json(status_()), true);
    case Kind::stop:
      session->deadline.cancel();  // waits for the end of the run (finish)
      stop_waiters_.push_back(session);
      watch_stop_client(session);
      return reply(session, stop_() + "\n", false);
    case Kind::stop_agent: return reply(session, stop_agent_(request.agent) + "\n", true);
    case Kind::rate:
    case Kind::pause:
    case Kind::resume: return reply(session, steer_(request) + "\n", true);
  }
}

// A `stop` client that goes away (or sends more) no longer waits for the end of the run.
void ControlServer::watch_stop_client(const std::shared_ptr<Session>& session) {
  session->socket.async_read_some(asio::buffer(session->received), [this, session](const boost::system::error_code& ec,
                                                                                   std::size_t) {
    if (ec == asio::error::operation_aborted && finished_) return;
    session->close();
    std::erase(stop_waiters_, session);
  });
}

void ControlServer::reply(const std::shared_ptr<Session>& session, std::string text, bool then_close) {
  session->answer = std::move(text);
  asio::async_write(session->socket, asio::buffer(session->answer),
                    [session, then_close](const boost::system::error_code& ec, std::size_t) {
                      if (ec || then_close) session->close();
                    });
}

void ControlServer::finish() {
  if (finished_) return;
  finished_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  remove_files();
}

void ControlServer::release_stop_waiters(const std::string& final_text, bool close) {
  if (close) finish();
  boost::system::error_code ec;
  for (const auto& session : stop_waiters_) {
    if (!session->socket.is_open()) continue;
    // The io_context no longer runs: a blocking write, bounded in case the client stopped reading.
    session->socket.non_blocking(false, ec);
    timeval limit{1, 0};
    setsockopt(session->socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    asio::write(session->socket, asio::buffer(final_text), ec);
    session->close();
  }
  stop_waiters_.clear();
}

}  // namespace loadctl::controller
