#include "recorder/recorder.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
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

// The two ends of a TCP connection as /proc/net/tcp{,6} prints them (addresses as the kernel's
// 32-bit words in this machine's byte order, here little-endian; ports in hexadecimal).
std::string proc_net_endpoint(const tcp::endpoint& e) {
  std::string out;
  auto words = [&out](const unsigned char* b, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 4) out += fmt::format("{:02X}{:02X}{:02X}{:02X}", b[i + 3], b[i + 2], b[i + 1], b[i]);
  };
  if (e.address().is_v4()) {
    auto b = e.address().to_v4().to_bytes();
    words(b.data(), b.size());
  } else {
    auto b = e.address().to_v6().to_bytes();
    words(b.data(), b.size());
  }
  return out + fmt::format(":{:04X}", e.port());
}

}  // namespace

std::optional<unsigned> local_peer_uid(const tcp::socket& socket) {
  boost::system::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec), local = socket.local_endpoint(ec);
  if (ec) return std::nullopt;
  // The peer's socket is the one whose local end is our remote end and whose remote end is ours.
  std::string want_local = proc_net_endpoint(peer), want_remote = proc_net_endpoint(local);
  std::ifstream table(peer.address().is_v4() ? "/proc/net/tcp" : "/proc/net/tcp6");
  std::string line;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, from, to, state, queues, timer, retransmits;
    unsigned uid = 0;
    if (fields >> slot >> from >> to >> state >> queues >> timer >> retransmits >> uid && from == want_local && to == want_remote)
      return uid;
  }
  return std::nullopt;
}

void RecorderContext::note(std::string_view line) const { std::fprintf(stderr, "record: %.*s\n", int(line.size()), line.data()); }

bool Recorder::Network::contains(const asio::ip::address& a) const {
  asio::ip::address x = a;
  if (x.is_v6() && x.to_v6().is_v4_mapped() && address.is_v4()) x = asio::ip::make_address_v4(asio::ip::v4_mapped, x.to_v6());
  if (x.is_v4() != address.is_v4()) return false;
  auto match = [this](const auto& p, const auto& q) {
    for (unsigned i = 0; i < bits; ++i) {
      unsigned byte = i / 8, mask = 0x80u >> (i % 8);
      if ((p[byte] & mask) != (q[byte] & mask)) return false;
    }
    return true;
  };
  return x.is_v4() ? match(x.to_v4().to_bytes(), address.to_v4().to_bytes()) : match(x.to_v6().to_bytes(), address.to_v6().to_bytes());
}

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
                   [this](tcp::socket s) { serve(std::move(s)); }),
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
  loopback_ = address.is_loopback() || (address.is_v6() && address.to_v6().is_v4_mapped() &&
                                       asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback());
  for (const std::string& cidr : options_.allow_from) {
    Network n;
    std::size_t slash = cidr.find('/');
    n.address = asio::ip::make_address(cidr.substr(0, slash), ec);
    unsigned max_bits = n.address.is_v4() ? 32 : 128;
    n.bits = max_bits;
    if (!ec && slash != std::string::npos) {
      std::string bits = cidr.substr(slash + 1);
      n.bits = bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos ? 999 : std::stoul(bits);
    }
    if (ec || n.bits > max_bits) throw std::runtime_error(fmt::format("--allow-from {}: expected ADDRESS[/BITS]", cidr));
    allowed_.push_back(n);
  }
  if (!loopback_ && allowed_.empty())
    throw std::runtime_error(fmt::format(
        "--listen-address {} is not a loopback address: name the clients that may use the proxy with --allow-from "
        "ADDRESS/BITS (what they send is recorded, credentials included)",
        options_.listen_address));
  if (loopback_ && !allowed_.empty()) throw std::runtime_error("--allow-from is for a --listen-address other than loopback");
  if (!loopback_) {
    std::fprintf(stderr, "record: warning: listening on %s: the clients of --allow-from can use this proxy; CONNECT is "
                         "allowed to port 443 only\n", options_.listen_address.c_str());
    options_.upstream.connect_443_only = true;
  }
  tcp::endpoint at(address, options_.listen_port);
  listener_.open(at.protocol(), ec);
  if (!ec) listener_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) listener_.bind(at, ec);
  if (!ec) listener_.listen(64, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", options_.listen_address, options_.listen_port, ec.message()));
  port_ = listener_.local_endpoint().port();
  listen_loop_.set_gate([this] { return *connections_ < kMaxConnections; });
  std::string path = options_.output.empty() ? default_output_path() : options_.output;
  writer_ = std::make_unique<SessionWriter>(
      SessionWriter::Options{path, std::string(protocol_->session_type()), {}, options_.thinktime_low, options_.force});
  context_.emplace(RecorderContext{io_, *writer_, options_.upstream});
}

Recorder::~Recorder() {
  if (!socket_path_.empty()) unlink(socket_path_.c_str());
}

void Recorder::serve(tcp::socket socket) {
  if (writer_->closed()) return;
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec).address();
  if (ec) return;
  if (loopback_) {
    // Other users of this machine reach a loopback port too: the recording is the owner's.
    auto uid = local_peer_uid(socket);
    if (!uid || *uid != geteuid()) {
      context_->note(uid ? fmt::format("connection from user {} refused (only the recorder's user may use it)", *uid)
                         : std::string("connection refused: its user is unknown"));
      return;
    }
  } else if (std::none_of(allowed_.begin(), allowed_.end(), [&](const Network& n) { return n.contains(peer); })) {
    context_->note(fmt::format("connection from {} refused (not in --allow-from)", peer.to_string()));
    return;
  }
  ++*connections_;
  std::weak_ptr<std::size_t> count = connections_;
  context_->connection_slot = std::shared_ptr<void>(connections_.get(), [this, count](void*) {
    if (auto c = count.lock()) {
      --*c;
      listen_loop_.resume();
    }
  });
  protocol_->serve(std::move(socket), *context_);
  context_->connection_slot.reset();
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
               "record: %s proxy on %s:%u, writing %s (as .tmp until the end)\n"
               "record: `loadctl record tag '<transaction name=\"x\">'` inserts a tag; `loadctl record stop` (or Ctrl-C) "
               "ends the recording\n",
               options_.protocol.c_str(), options_.listen_address.c_str(), port_, writer_->path().c_str());
  io_.run();
  return exit_status_;
}

void Recorder::finish() {
  if (writer_->closed()) return;
  try {
    writer_->close();
    std::fprintf(stderr, "record: %zu request(s) recorded in %s\n", writer_->requests(), writer_->path().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: record: %s\n", e.what());
    exit_status_ = 1;
  }
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
    if (exit_status_ != 0) return fmt::format("error: the recording could not be written completely (see the recorder's output)\n");
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
