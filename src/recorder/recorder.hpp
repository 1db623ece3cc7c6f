#pragma once
// Recorder: the `loadctl record` process (Tsung's tsung-recorder). One io_context thread runs
//
//   open_control_socket (~/.loadctl/recorder/control.sock, 0600, directory 0700)
//   listen (the proxy port, 127.0.0.1:8090 by default) -> on_client -> ProxyProtocol::serve
//   on_control: "stop" -> finish ; "tag MARKUP" -> SessionWriter::tag
//   SIGINT/SIGTERM -> finish (the file is closed complete, as by `loadctl record stop`)
//
// The control requests come from `loadctl record stop|tag` (record_command.cpp, control_request).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>

#include "control/accept_loop.hpp"
#include "recorder/proxy_protocol.hpp"
#include "recorder/session_writer.hpp"

namespace loadctl::recorder {

inline constexpr std::uint16_t kDefaultListenPort = 8090;  ///< Tsung's
inline constexpr std::size_t kMaxControlRequest = 16 * 1024;
/// Proxied connections served at once; more wait in the listen backlog.
inline constexpr std::size_t kMaxConnections = 256;

/// ~/.loadctl/recorder (the control socket's directory).
std::string recorder_dir();
/// ~/.loadctl/recorder/control.sock.
std::string recorder_socket_path();
/// ~/.loadctl/recorder-YYYYMMDD-HHMM.xml, with -N before .xml when that file exists.
std::string default_output_path();

struct RecorderOptions {
  std::string protocol = "http";
  std::string listen_address = "127.0.0.1";
  std::uint16_t listen_port = kDefaultListenPort;
  std::string output;  ///< "" = default_output_path()
  std::chrono::milliseconds thinktime_low{1000};
  bool force = false;  ///< replace an existing output file
  std::vector<std::string> allow_from;  ///< ADDRESS[/BITS]: the clients a non-loopback listener serves
  UpstreamOptions upstream;
};

class Recorder {
 public:
  /// Opens the output, the control socket and the listener; throws std::runtime_error saying why not.
  explicit Recorder(RecorderOptions options);
  ~Recorder();
  /// Runs until `loadctl record stop` or a signal; returns the exit status.
  int run();
  std::uint16_t port() const { return port_; }
  const std::string& output() const { return writer_->path(); }

 private:
  struct ControlSession;
  struct Network {
    boost::asio::ip::address address;
    unsigned bits = 0;
    bool contains(const boost::asio::ip::address& a) const;
  };
  void serve(boost::asio::ip::tcp::socket socket);
  void open_control_socket();
  void on_control(boost::asio::local::stream_protocol::socket socket);
  std::string handle_control(std::string_view request);
  void finish();

  RecorderOptions options_;
  boost::asio::io_context io_;
  std::unique_ptr<ProxyProtocol> protocol_;
  std::unique_ptr<SessionWriter> writer_;
  std::optional<RecorderContext> context_;
  boost::asio::ip::tcp::acceptor listener_;
  control::BasicAcceptLoop<boost::asio::ip::tcp> listen_loop_;
  boost::asio::local::stream_protocol::acceptor control_;
  control::BasicAcceptLoop<boost::asio::local::stream_protocol> control_loop_;
  boost::asio::signal_set signals_;
  std::string socket_path_;
  std::uint16_t port_ = 0;
  int exit_status_ = 0;
  bool loopback_ = true;            ///< the listener is on a loopback address: peers' uid checked
  std::vector<Network> allowed_;    ///< --allow-from
  std::shared_ptr<std::size_t> connections_ = std::make_shared<std::size_t>(0);  ///< served now (destroyed before listen_loop_)
};

/// The uid owning the other end of a TCP connection between two sockets of this machine (from
/// /proc/net/tcp or tcp6), or nullopt when it is not found there.
std::optional<unsigned> local_peer_uid(const boost::asio::ip::tcp::socket& socket);

/// Sends one control request ("stop", "tag MARKUP") to the running recorder and returns its
/// answer, or nullopt with `error` set (no recorder running, no answer in time).
std::optional<std::string> control_request(const std::string& request, std::string& error);

}  // namespace loadctl::recorder
