#include "recorder/recorder.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "control/local_control.hpp"

namespace loadctl::recorder {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kControlTimeout = std::chrono::seconds(5);

std::string loadctl_home() {
  std::string run = control::registry_dir();  // ~/.loadctl/run: $HOME, else the password database
  return run.substr(0, run.size() - std::string_view("/run").size());
}

}  // namespace

void RecorderContext::note(std::string_view line) const { std::fprintf(stderr, "record: %.*s\n", int(line.size()), line.data()); }

std::string recorder_dir() { return loadctl_home() + "/recorder"; }
std::string recorder_socket_path() { return recorder_dir() + "/" + control::kControlSocketName; }

std::string default_output_path() {
  std::string base = fmt::format("{}/recorder-{}", loadctl_home(), date_stamp(std::time(nullptr)));
  std::string path = base + ".xml";
  for (int n = 2; std::filesystem::exists(path); ++n) path = fmt::format("{}-{}.xml", base, n);
  return path;
}

struct Recorder::ControlSession {
  explicit ControlSession(local::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}
  local::socket socket;
  asio::steady_timer deadline;
  std::string request;
  std::string answer;
};

Recorder::Recorder(RecorderOptions options)
    : options_(std::move(options)),
      listener_(io_),
      listen_loop_(listener_, "recorder port",
                   [this](tcp::socket s) {
                     if (!writer_->closed()) protocol_->serve(std::move(s), *context_);
                   }),
      control_(io_),
      control_loop_(control_, "recorder control socket", [this](local::socket s) { on_control(std::move(s)); }),
      signals_(io_, SIGINT, SIGTERM) {
  protocol_ = make_proxy_protocol(options_.protocol);
  if (!protocol_)
    throw std::runtime_error(fmt::format("-p {}: not supported yet (known: {})", options_.protocol, proxy_protocol_names()));
  if (std::string problem = protocol_->check(options_.upstream); !problem.empty()) throw std::runtime_error(problem);
  control::ensure_private_dir(recorder_dir());
  open_control_socket();
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.listen_address, ec);
  if (ec) throw std::runtime_error(fmt::format("--listen-address {}: not an IP address", options_.listen_address));
  tcp::endpoint at(address, options_.listen_port);
  listener_.open(at.protocol(), ec);
  if (!ec) listener_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) listener_.bind(at, ec);
  if (!ec) listener_.listen(64, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", options_.listen_address, options_.listen_port, ec.message()));
  port_ = listener_.local_endpoint().port();
  std::string path = options_.output.empty() ? default_output_path() : options_.output;
  writer_ = std::make_unique<SessionWriter>(
      SessionWriter::Options{path, std::string(protocol_->session_type()), {}, options_.thinktime_low});
  context_.emplace(RecorderContext{io_, *writer_, options_.upstream});
}

Recorder::~Recorder() {
  if (!socket_path_.empty()) unlink(socket_path_.c_str());
}

void Recorder::open_control_socket() {
  std::string path = recorder_socket_path();
  control::remove_stale_socket(path, "a recorder is already running (loadctl record stop ends it)");
  control::UnixAddress address(path);
  boost::system::error_code ec;
  control_.open(local(), ec);
  if (!ec) {
    mode_t old = umask(0177);  // created 0600, no chmod by path afterwards
    control_.bind(local::endpoint(address.usable_path()), ec);
    umask(old);
  }
  if (!ec) socket_path_ = path;
  if (!ec) control_.listen(8, ec);
  if (ec) throw std::runtime_error(fmt::format("control socket {}: {}", path, ec.message()));
}

int Recorder::run() {
  listen_loop_.start();
  control_loop_.start();
  signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) finish();
  });
  std::fprintf(stderr,
               "record: %s proxy on %s:%u, writing %s\n"
               "record: `loadctl record tag '<transaction name=\"x\">'` inserts a tag; `loadctl record stop` (or Ctrl-C) "
               "ends the recording\n",
               options_.protocol.c_str(), options_.listen_address.c_str(), port_, writer_->path().c_str());
  io_.run();
  return 0;
}

void Recorder::finish() {
  if (writer_->closed()) return;
  writer_->close();
  std::fprintf(stderr, "record: %zu request(s) recorded in %s\n", writer_->requests(), writer_->path().c_str());
  boost::system::error_code ignored;
  listener_.close(ignored);
  signals_.cancel(ignored);
  // Let the control answer go out, then end the proxied connections with the loop.
  auto grace = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(200));
  grace->async_wait([this, grace](const boost::system::error_code&) {
    boost::system::error_code e;
    control_.close(e);
    io_.stop();
  });
}

void Recorder::on_control(local::socket socket) {
  auto uid = control::peer_uid(socket.native_handle());
  if (!uid || *uid != geteuid()) return;  // closed: only the owner may steer the recorder
  auto session = std::make_shared<ControlSession>(std::move(socket));
  session->deadline.expires_after(kControlTimeout);
  session->deadline.async_wait([session](const boost::system::error_code& ec) {
    boost::system::error_code ignored;
    if (!ec) session->socket.close(ignored);
  });
  // The client sends its request and shuts its sending side down: read to the end of the stream.
  asio::async_read(session->socket, asio::dynamic_buffer(session->request, kMaxControlRequest),
                   [this, session](const boost::system::error_code& ec, std::size_t) {
                     if (ec && ec != asio::error::eof) {
                       session->answer = ec == asio::error::not_found ? "error: request too long\n" : "";
                       if (session->answer.empty()) return;
                     } else {
                       session->answer = handle_control(session->request);
                     }
                     asio::async_write(session->socket, asio::buffer(session->answer),
                                       [session](const boost::system::error_code&, std::size_t) {
                                         boost::system::error_code ignored;
                                         session->deadline.cancel();
                                         session->socket.close(ignored);
                                       });
                   });
}

std::string Recorder::handle_control(std::string_view request) {
  while (!request.empty() && request.back() == '\n') request.remove_suffix(1);
  if (request == "stop") {
    std::size_t n = writer_->requests();
    std::string path = writer_->path();
    finish();
    return fmt::format("stopped: {} request(s) recorded in {}\n", n, path);
  }
  if (request.starts_with("tag ")) {
    if (auto error = writer_->tag(request.substr(4))) return "error: " + *error + "\n";
    return "tag recorded\n";
  }
  return "error: unknown request (expected stop or tag MARKUP)\n";
}

std::optional<std::string> control_request(const std::string& request, std::string& error) {
  std::string path = recorder_socket_path();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{static_cast<time_t>(kControlTimeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  try {
    control::UnixAddress address(path);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address.usable_path().c_str(), address.usable_path().size() + 1);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
      error = errno == ENOENT || errno == ECONNREFUSED ? "no recorder is running" : std::strerror(errno);
      return std::nullopt;
    }
  } catch (const std::exception& e) {
    error = e.what();
    return std::nullopt;
  }
  auto uid = control::peer_uid(fd);
  if (!uid || *uid != geteuid()) {
    error = "the recorder's socket belongs to another user";
    return std::nullopt;
  }
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()) ||
      shutdown(fd, SHUT_WR) != 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string answer;
  char buffer[4096];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno == EAGAIN ? "no answer in time" : std::strerror(errno);
      return std::nullopt;
    }
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  if (answer.empty()) {
    error = "closed without an answer";
    return std::nullopt;
  }
  return answer;
}

}  // namespace loadctl::recorder
