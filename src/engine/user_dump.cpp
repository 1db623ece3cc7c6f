// <tsung dumptraffic>: the Send/Recv lines of light and full dumps, and the per-request lines of
// dumptraffic="protocol". Off the request cycle: its callers test the mode first.

#include <atomic>
#include <chrono>
#include <iterator>
#include <string>

#include <spdlog/spdlog.h>

#include "engine/worker.hpp"

namespace loadctl::engine {

namespace {

// dumptraffic, as Tsung's ts_mon writes tsung.dump: "Send:TIME:USER:DATA" (light: the first 44
// characters, padded). Line breaks are escaped so that each message is one agent-log line; the
// controller gathers the lines into tsung.dump (collect_traffic_dump).
void escape_dump(std::string_view data, std::string& text) {
  for (char c : data) {
    if (c == '\\') text += "\\\\";
    else if (c == '\n') text += "\\n";
    else if (c == '\r') text += "\\r";
    else text += c;
  }
}

double epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

// match do="dump", as Tsung's ts_match_logger writes match-USER-SESSION-REQUEST-N.dump: the
// response as one escaped agent-log line, "match.dump: USER SESSION REQUEST BYTES" (SESSION: the
// session's number in the scenario, from 1; REQUEST: the request's step, pc in match.log). The
// controller writes the files (collect_match_log). Bounded: an agent ships at most
// kMaxMatchDumps, each cut at kMaxMatchDumpBytes, so a matching loop cannot fill a disk.
void Worker::dump_response(const User& user, std::string_view response) {
  static std::atomic<std::uint32_t> shipped{0};  // per agent process, over its worker threads
  if (shipped.fetch_add(1, std::memory_order_relaxed) >= kMaxMatchDumps) return;
  auto session = static_cast<std::size_t>(user.program - config_.programs.data()) + 1;
  std::string text;
  escape_dump(response.substr(0, kMaxMatchDumpBytes), text);
  spdlog::info("match.dump: {} {} {} {}", user.id, session, user.pc, text);
}

void dump_traffic(TrafficDump mode, const char* what, std::uint64_t user, std::string_view data) {
  std::string text;
  if (mode == TrafficDump::light) data = data.substr(0, 44);
  escape_dump(data, text);
  if (mode == TrafficDump::light && data.size() < 44) text.append(44 - data.size(), ' ');
  spdlog::info("tsung.dump: {}:{:.6f}:{}:{}", what, epoch_seconds(), user, text);
}

// dumptraffic="protocol", as Tsung's ts_http:dump/2 and ts_mon write tsung.dump: a line per
// completed request, after its matches, "date;pid;id;method;host;URL;status;size;duration;
// transaction;match;error;tag" (pid and id are both the user id: loadctl has no Erlang pids;
// transaction: the latest one open, or "-"; match: the last match recorded for the response,
// see dump_match_; error: empty, as a protocol error ends the request and its user in loadctl).
// Returns after_response's verdict.
bool Worker::dump_protocol(User& user, const ResponseInfo& info, std::int32_t server, double elapsed_ms) {
  const CompiledRequest& request = current_compiled(user);
  bool dumps = user.dyn->dumps;
  const DumpFields& fields = user.dyn->dump;
  std::string line;
  if (dumps) {
    const Target& target = config_.servers[static_cast<std::size_t>(server >= 0 ? server : user.server)];
    std::string_view transaction = "-";
    Clock::time_point latest{};
    for (std::size_t i = 0; i < user.program->transactions.size(); ++i)
      if (user.tr_starts[i] > latest) {
        latest = user.tr_starts[i];
        transaction = user.program->transactions[i];  // "tr_<name>", as Tsung names it
      }
    line = fmt::format("{};{};{};{};{};{};{};{:.3f};{};", user.id, user.id, fields.method, target.endpoint.host,
                       fields.target, info.status_code ? std::to_string(info.status_code) : "error_no_http_status",
                       user.dyn->response_size, elapsed_ms, transaction);
  }
  std::string_view tag = request.tag;
  dump_match_ = "";
  bool goes_on = after_response(user);
  if (dumps) {
    fmt::format_to(std::back_inserter(line), "{};;{}", dump_match_, tag);
    std::string text;
    escape_dump(line, text);
    spdlog::info("tsung.dump: {:.6f};{}", epoch_seconds(), text);
  }
  return goes_on;
}

}  // namespace loadctl::engine
