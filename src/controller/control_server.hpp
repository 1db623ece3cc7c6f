#pragma once
// The controller's end of the local control socket (control/local_control.hpp): accepts
// owner-only connections in the controller's io_context, answers `status` from the run status
// model (built on demand, nothing per request of the load) and passes `stop` to the controller.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "control/accept_loop.hpp"
#include "control/local_control.hpp"
#include "control/run_status.hpp"

namespace loadctl::controller {

class ControlServer {
 public:
  using StatusSource = std::function<control::RunStatus()>;
  /// Asked to stop the run; returns the line the client gets ("stopping: ...").
  using StopHandler = std::function<std::string()>;
  /// Asked to stop one agent; returns the answer line.
  using StopAgentHandler = std::function<std::string(unsigned agent)>;

  /// Asked to change the arrivals (rate, pause, resume, add or remove an agent); returns the answer line.
  using SteerHandler = std::function<std::string(const control::ControlRequest&)>;

  ControlServer(boost::asio::io_context& ctx, StatusSource status, StopHandler stop, StopAgentHandler stop_agent,
                SteerHandler steer);
  /// Removes the socket and the registry entry.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Listens on RUN_DIR/control.sock (mode 0600); throws std::runtime_error when it cannot.
  void open(const std::string& run_dir);
  /// Adds ~/.loadctl/run/<pid> -> the socket; throws std::runtime_error when it cannot.
  void register_run();
  const std::string& socket_path() const { return socket_path_; }
  /// The run has ended: the socket closes (no new connection) and the files are removed; `stop`
  /// clients go on waiting (for the report) until release_stop_waiters.
  void finish();
  /// Each waiting `stop` client gets `final_text` (a blocking write bounded by 1 s), then is
  /// closed; with `close`, the socket too (finish).
  void release_stop_waiters(const std::string& final_text, bool close = true);

 private:
  struct Session;
  void on_socket(boost::asio::local::stream_protocol::socket socket);
  void read(const std::shared_ptr<Session>& session);
  void on_request(const std::shared_ptr<Session>& session, const control::ControlRequest& request);
  void watch_stop_client(const std::shared_ptr<Session>& session);
  void reply(const std::shared_ptr<Session>& session, std::string text, bool then_close);
  void remove_files();

  boost::asio::local::stream_protocol::acceptor acceptor_;
  control::BasicAcceptLoop<boost::asio::local::stream_protocol> accept_loop_;
  StatusSource status_;
  StopHandler stop_;
  StopAgentHandler stop_agent_;
  SteerHandler steer_;
  std::string socket_path_;
  std::string registry_entry_;
  control::PendingLimit sessions_;  ///< open connections
  std::vector<std::shared_ptr<Session>> stop_waiters_;  ///< `stop` clients waiting for the end
  bool finished_ = false;
};

}  // namespace loadctl::controller
