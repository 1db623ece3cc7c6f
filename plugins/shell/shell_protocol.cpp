// The shell plugin (Tsung's ts_shell): runs `<cmd> <args>` on the agent host, for <server
// type="erlang"> (no network). Tsung runs it with os:cmd, which is `/bin/sh -c`: so does this
// plugin (the command line is the scenario's, variables substituted, and shell syntax works as
// in Tsung). The command is started when the request is sent (shell_runner.hpp: no event loop
// waits for it); its standard output and error are the response (size_rcv, dyn_variables and
// matches see it, at most max_frame_size bytes of it kept) and the request completes when the
// shell exits (as os:cmd; what it left running in its group is killed then). Tsung counts no exit status; loadctl adds shell_exit_<status> (and
// shell_signal_<n> for a command killed by a signal). The trust rule (docs/security.md): an
// agent runs shell requests only when started with --allow-shell; otherwise each one fails with
// error_shell_not_allowed and the user goes on.

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "loadctl/local_protocol.hpp"
#include "shell_request.hpp"
#include "shell_runner.hpp"

namespace loadctl::shell {
namespace {

class ShellConnection final : public Connection {
 public:
  ShellConnection(int reply_fd, std::size_t max_output) : reply_fd_(reply_fd), max_output_(max_output) {}
  ~ShellConnection() override {
    if (job_) cancel_shell_job(*job_);
    ::close(reply_fd_);
  }

  bool on_open(ConnectionServices& s) override {
    size_rcv_ = s.metric("size_rcv", ConnMetricKind::counter);
    size_sent_ = s.metric("size_sent", ConnMetricKind::counter);
    return false;
  }

  void encode(ConnectionServices& s, const RequestSpec& spec, const EncodeContext& ctx, std::string&) override {
    if (job_) cancel_shell_job(*job_);  // cannot happen: one request at a time
    job_.reset();
    // The previous reply's content was read by now: a large one does not stay per user for life.
    if (output_.capacity() > kKeptOutput) std::string().swap(output_);
    if (!shell_allowed()) {
      reply_now(s, {Outcome::refused});
      return;
    }
    line_.clear();
    static_cast<const ShellRequest&>(spec).render(ctx, line_);
    s.count(size_sent_, line_.size());  // Tsung's size_msg: length(Cmd ++ " " ++ Args)
    job_ = start_shell_job(line_, reply_fd_, max_output_);
    if (!job_) reply_now(s, {Outcome::spawn_failed, errno});
  }

  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override;

 private:
  // A reply decided without running anything: the same record a finished command gets.
  void reply_now(ConnectionServices& s, ReplyHeader header) {
    if (::send(reply_fd_, &header, sizeof header, MSG_NOSIGNAL | MSG_DONTWAIT) != sizeof header)
      s.error("shell_local_reply");  // the request then ends at idle_timeout
  }
  ConnMetric outcome_metric(ConnectionServices& s, const ReplyHeader& h);

  static constexpr std::size_t kKeptOutput = 64 * 1024;
  int reply_fd_;
  std::size_t max_output_;
  std::shared_ptr<ShellJob> job_;
  std::string line_;                 ///< the command line, capacity reused
  ReplyHeader header_;
  std::size_t header_got_ = 0;       ///< bytes of header_ received
  std::string output_;               ///< the command's output received so far
  ConnMetric size_rcv_ = 0, size_sent_ = 0;
  std::vector<std::pair<std::int64_t, ConnMetric>> outcomes_;  ///< shell_exit_N / shell_signal_N, interned
};

ConnResult ShellConnection::on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                                    ResponseInfo& info) {
  std::size_t used = 0;
  if (header_got_ < sizeof header_) {
    used = std::min(data.size(), sizeof header_ - header_got_);
    std::memcpy(reinterpret_cast<char*>(&header_) + header_got_, data.data(), used);
    header_got_ += used;
    if (header_got_ < sizeof header_) return {used, ConnEvent::none};
    output_.clear();
  }
  std::size_t want = static_cast<std::size_t>(header_.kept) - output_.size();
  std::size_t take = std::min(want, data.size() - used);
  output_.append(data.data() + used, take);
  used += take;
  if (output_.size() < header_.kept) return {used, ConnEvent::none};
  header_got_ = 0;
  job_.reset();
  if (!pending) return {used, ConnEvent::none};
  switch (header_.outcome) {
    case Outcome::refused:
      info.error = "shell_not_allowed";
      return {used, ConnEvent::failed};
    case Outcome::spawn_failed:
      info.error = "shell_spawn";
      return {used, ConnEvent::failed};
    case Outcome::exited:
    case Outcome::signaled:
      break;
  }
  s.count(size_rcv_, header_.total);  // Tsung's datasize: length(Res), the whole output
  s.count(outcome_metric(s, header_));
  info.content = std::string_view(output_);
  return {used, ConnEvent::complete};
}

ConnMetric ShellConnection::outcome_metric(ConnectionServices& s, const ReplyHeader& h) {
  std::int64_t key = h.outcome == Outcome::exited ? h.code : -static_cast<std::int64_t>(h.code) - 1;
  for (const auto& [k, metric] : outcomes_)
    if (k == key) return metric;
  std::string name = h.outcome == Outcome::exited ? fmt::format("shell_exit_{}", h.code)
                                                  : fmt::format("shell_signal_{}", h.code);
  outcomes_.emplace_back(key, s.metric(name, ConnMetricKind::counter));
  return outcomes_.back().second;
}

class ShellProtocol final : public LocalProtocol {
 public:
  std::string_view element() const override { return "shell"; }
  std::string_view session_type() const override { return "ts_shell"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext& ctx) const override {
    return parse_shell(element, ctx);
  }
  std::unique_ptr<Connection> open_local(int fd, const ConnectionContext& ctx) const override {
    return std::make_unique<ShellConnection>(fd, ctx.max_frame_size);
  }
};

}  // namespace
}  // namespace loadctl::shell

void loadctl_register_shell(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::shell::ShellProtocol>());
}
