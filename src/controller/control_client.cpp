#include "controller/control_client.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <string_view>

#include "control/local_control.hpp"

namespace loadctl::controller {

namespace {

using namespace std::chrono_literals;
using control::ControlRequest;

constexpr auto kStatusTimeout = 5s;
/// A stop waits for the agents (5 s grace), the final statistics and the report of the run
/// (the controller answers once the report is written).
constexpr auto kStopTimeout = 60s;

struct Answer {
  control::RunningController controller;
  std::string text;
};

// Asks each controller found for its status; those that do not answer are not running.
std::vector<Answer> ask_all(const CommandLine& cl, const ControlRequest& request) {
  auto found = !cl.run_dir.empty() || cl.log_root_given ? control::controllers_in(cl.run_dir, cl.log_root)
                                                         : control::registered_controllers();
  std::vector<Answer> answers;
  for (const auto& c : found) {
    std::string error;
    if (auto text = control::control_exchange(c.socket, request, kStatusTimeout, error))
      answers.push_back({c, std::move(*text)});
  }
  return answers;
}

void print_chunk(std::string_view chunk) {
  std::fwrite(chunk.data(), 1, chunk.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int status_command(const CommandLine& cl) {
  auto answers = ask_all(cl, {cl.status_json ? ControlRequest::Kind::status_json : ControlRequest::Kind::status});
  if (answers.empty()) {
    std::printf("loadctl is not started\n");  // Tsung: "Tsung is not started"
    return 1;
  }
  for (std::size_t i = 0; i < answers.size(); ++i)
    std::printf("%s%s", i && !cl.status_json ? "\n" : "", answers[i].text.c_str());
  return kDone;
}

namespace {

// The one run in progress, or the exit status when there is none (1) or several (kUsageError).
std::optional<Answer> the_run(const CommandLine& cl, int& status) {
  auto answers = ask_all(cl, {ControlRequest::Kind::status});
  if (answers.empty()) {
    std::printf("loadctl is not running\n");  // Tsung: "Tsung is not running on HOST"
    status = 1;
    return std::nullopt;
  }
  if (answers.size() > 1) {
    std::fprintf(stderr, "error: %zu runs in progress; choose one with --run-dir DIR:\n", answers.size());
    for (const Answer& a : answers) {
      std::string_view dir = a.controller.socket;
      dir.remove_suffix(std::string_view(control::kControlSocketName).size() + 1);
      std::fprintf(stderr, "  --run-dir %.*s\n", static_cast<int>(dir.size()), dir.data());
    }
    status = kUsageError;
    return std::nullopt;
  }
  return std::move(answers[0]);
}

}  // namespace

int steer_command(const CommandLine& cl) {
  ControlRequest request;
  if (cl.command == CommandLine::Command::rate) {
    auto parsed = control::parse_rate(cl.rate);
    if (!parsed) {
      std::fprintf(stderr, "error: rate %s: expected Nx (0 < N <= %g, a factor of the planned rate) or N/s "
                           "(0 < N <= %g arrivals a second)\n", cl.rate.c_str(), control::kMaxRateFactor,
                   control::kMaxArrivalRate);
      return kUsageError;
    }
    request = *parsed;
  } else if (cl.command == CommandLine::Command::add_agent) {
    request.kind = ControlRequest::Kind::add_agent;
    request.host = cl.add_host;
    request.source_ip = cl.add_ip;
    request.launch = cl.add_launch;
    std::string line = control::encode_control_request(request);
    line.pop_back();  // its newline
    if (line.size() >= control::kMaxControlRequest || !control::parse_control_request(line)) {
      std::fprintf(stderr, "error: add-agent %s: expected HOST[:PORT] (letters, digits, .:-_[], not starting with '-', "
                           "%zu characters at most) and --ip IP (an address)\n",
                   cl.add_host.c_str(), control::kMaxAgentHost);
      return kUsageError;
    }
  } else if (cl.command == CommandLine::Command::remove_agent) {
    request.kind = ControlRequest::Kind::remove_agent;
  } else {
    request.kind = cl.command == CommandLine::Command::pause ? ControlRequest::Kind::pause : ControlRequest::Kind::resume;
  }
  request.one_agent = cl.rate_agent.has_value() && cl.command != CommandLine::Command::remove_agent;
  request.agent = cl.rate_agent.value_or(0);
  int status = kDone;
  auto run = the_run(cl, status);
  if (!run) return status;
  std::string error;
  auto text = control::control_exchange(run->controller.socket, request, kStatusTimeout, error, print_chunk);
  if (!text) {
    std::fprintf(stderr, "error: %s: %s\n", run->controller.socket.c_str(), error.c_str());
    return kRunFailed;
  }
  return text->starts_with("error") ? kUsageError : kDone;
}

int stop_command(const CommandLine& cl) {
  int status = kDone;
  auto run = the_run(cl, status);
  if (!run) return status;
  std::vector<Answer> answers{std::move(*run)};
  std::string error;
  if (cl.stop_agent) {
    ControlRequest request{ControlRequest::Kind::stop_agent, *cl.stop_agent};
    auto text = control::control_exchange(answers[0].controller.socket, request, kStatusTimeout, error, print_chunk);
    if (!text) std::fprintf(stderr, "error: %s: %s\n", answers[0].controller.socket.c_str(), error.c_str());
    return !text ? kRunFailed : text->starts_with("stopping agent") ? kDone : kUsageError;
  }
  auto text = control::control_exchange(answers[0].controller.socket, {ControlRequest::Kind::stop}, kStopTimeout,
                                        error, print_chunk);
  if (!text) {
    std::fprintf(stderr, "error: %s: %s\n", answers[0].controller.socket.c_str(), error.c_str());
    return kRunFailed;
  }
  if (text->find("loadctl has finished") == std::string::npos) {
    std::fprintf(stderr, "error: the controller closed the connection without its final status\n");
    return kRunFailed;
  }
  return kDone;
}

}  // namespace loadctl::controller
