// The controller's results: tsung.log and stats.jsonl dumps, run.json, match.log, the final
// summary. A write the disk refuses (full disk, I/O error) is reported on the console and in
// controller.log; the statistics stay in memory and are written again at the next dump. If some
// never reach the disk, the final summary goes to stdout and the exit status is 2.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "controller/controller.hpp"
#include "controller/run_json.hpp"

namespace loadctl::controller {

namespace {

std::string describe_write_error(const std::string& path, int error) {
  bool full = error == ENOSPC || error == EDQUOT;
  return fmt::format("{}: {}: {}", full ? "disk full" : "write error", path, std::strerror(error));
}

// The reverse of the agents' escape_dump: \n, \r and \\ back to the bytes.
void unescape_dump(std::string_view escaped, std::string& out) {
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '\\' || i + 1 == escaped.size()) {
      out += escaped[i];
      continue;
    }
    char c = escaped[++i];
    out += c == 'n' ? '\n' : c == 'r' ? '\r' : c;
  }
}

// A response the users received: only the owner reads it (as tsung.dump); never through a link.
int write_private_file(const std::string& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int error = 0;
  for (std::size_t done = 0; done < bytes.size() && !error;) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno != EINTR) error = errno;
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 && !error) error = errno;
  return error;
}

}  // namespace

void Controller::open_results() {
  try {
    const std::string& mon = options_.mon_file;  // -m, as Tsung's filename:join(LogDir, Name)
    tsung_log_ = std::make_unique<TsungLogWriter>(
        mon == "-" || mon.starts_with('/') ? mon : options_.run_dir + "/" + mon, start_wall_);
    jsonl_ = std::make_unique<StatsJsonlWriter>(options_.run_dir + "/stats.jsonl", start_wall_);
  } catch (const std::system_error& e) {
    // The run goes on: the totals are in memory and the summary will be printed on stdout.
    results_lost_ = true;
    console_.notice(fmt::format("error: {}: the run goes on; the final summary will be printed on stdout", e.what()));
    spdlog::error("{}", e.what());
  }
}

void Controller::dump(bool final) {
  std::time_t now = final ? std::time(nullptr)
                          : start_wall_ + static_cast<std::time_t>(seconds_between(zero_, next_dump_) + 0.5);
  // Tsung's renderer ignores a dump stamped with the same second as the one before it.
  if (now <= last_dump_) now = last_dump_ + 1;
  last_dump_ = now;
  if (tsung_log_) {  // a failed write keeps the block queued: written before the next one
    tsung_log_->dump(now, interval_);
    check_written(tsung_log_->path(), tsung_log_->file().error(), tsung_log_->file().pending());
  }
  if (jsonl_) {
    jsonl_->write_interval(now, interval_);
    check_written(jsonl_->path(), jsonl_->file().error(), jsonl_->file().pending());
  }
  interval_ = MetricSet();
}

// Reports a results file that starts or stops failing, once per change (not at every dump).
void Controller::check_written(const std::string& path, int error, std::size_t pending) {
  auto it = write_errors_.find(path);
  int before = it == write_errors_.end() ? 0 : it->second;
  if (error != 0 && error != before) {
    std::string text = describe_write_error(path, error);
    console_.notice(fmt::format("error: {}{}", text,
                                pending ? fmt::format(" ({} bytes kept in memory, retried at the next dump)", pending)
                                        : std::string()));
    spdlog::error("{}", text);
  } else if (error == 0 && before != 0) {
    console_.notice(fmt::format("{}: written again, nothing lost", path));
    spdlog::info("{}: written again after a write error, nothing lost", path);
  }
  write_errors_[path] = error;
}

void Controller::finish_results() {
  dump(true);
  // Tsung ends its log with a nearly empty dump, so tsung_stats.pl's Count column (the largest
  // "count before this dump") holds every sample: an empty interval gives the same.
  if (tsung_log_) {
    last_dump_ += 1;
    tsung_log_->dump(last_dump_, MetricSet());
    check_written(tsung_log_->path(), tsung_log_->file().error(), tsung_log_->file().pending());
  }
  if (jsonl_) jsonl_->write_final(end_wall_);
  auto close = [this](RetryingFile& file) {
    if (!file.close()) results_lost_ = true;
    check_written(file.path(), file.error(), file.pending());
  };
  if (tsung_log_) close(tsung_log_->file());
  if (jsonl_) close(jsonl_->file());
  if (results_lost_ && exit_status_ == 0) exit_status_ = 2;
}

void Controller::print_summary(double elapsed) {
  if (!results_lost_) {
    console_.summary(elapsed, total_, stderr);
    return;
  }
  console_.notice(fmt::format("error: some results could not be written to {}: the final summary follows on stdout "
                              "(exit status 2)", options_.run_dir));
  spdlog::error("results incomplete in {}: final summary printed on stdout", options_.run_dir);
  console_.summary(elapsed, total_, stdout, /*even_if_quiet=*/true);
}

void Controller::write_run_json() {
  RunSummary summary;
  summary.scenario = scenario_.path;
  summary.run_dir = options_.run_dir;
  summary.start = start_wall_;
  summary.end = end_wall_;
  summary.exit_status = exit_status_;
  summary.stop_reason = stop_reason_;
  for (const AgentRecord& agent : agents_)
    summary.agents.push_back({agent.plan.slot.id, agent.plan.slot.host, agent.hostname, state_name(agent.state),
                              agent.failure, agent.plan.slot.monitor_only});
  std::string path = options_.run_dir + "/run.json";
  int error = write_run_json_file(path, summary);
  check_written(path, error, 0);
  if (error == 0) return;
  results_lost_ = true;
  if (exit_status_ == 0) exit_status_ = 2;
}

// A listening agent's log lines, shipped to the controller (its stderr is on its own host).
void Controller::append_agent_log(const AgentRecord& agent, const std::string& text) {
  std::string path = fmt::format("{}/agent-{}.log", options_.run_dir, agent.plan.slot.id);
  std::ofstream out(path, std::ios::app);
  out << text;
  out.flush();
  check_written(path, out ? 0 : (errno ? errno : EIO), 0);
}

// dumptraffic="true|light|protocol": the agents' "tsung.dump: ..." lines, unescaped, as Tsung's tsung.dump;
// "protocol_local": the same protocol lines in a tsung-<agent>.dump per agent, as Tsung's
// ts_local_mon writes one per client node (without the header; here in the run directory, where
// the controller gathers every agent's log).
void Controller::collect_traffic_dump() {
  const std::string& mode = scenario_.dumptraffic;
  if (mode == "protocol_local") {
    for (const AgentRecord& agent : agents_)
      write_traffic_dump(fmt::format("{}/tsung-{}.dump", options_.run_dir, agent.plan.slot.id), &agent, "");
    return;
  }
  if (mode != "true" && mode != "light" && mode != "protocol") return;
  // Tsung's header of a protocol dump (ts_mon:start_dump).
  write_traffic_dump(options_.run_dir + "/tsung.dump", nullptr,
                     mode == "protocol" ? "#date;pid;id;http method;host;URL;HTTP status;size;duration;transaction;match;error;tag\n" : "");
}

// Streamed (a dump can be larger than memory) into a file only the owner can read: it holds
// whatever the users sent and received, credentials and decrypted TLS payloads included. A
// listening agent's forwarder drops lines when more than 1 MiB waits for the controller; each
// such gap is marked in the dump. `only`: that agent's lines, else every agent's.
void Controller::write_traffic_dump(const std::string& path, const AgentRecord* only, std::string_view header) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    check_written(path, errno, 0);
    return;
  }
  int error = 0;
  std::string text(header);
  auto flush = [&] {
    for (std::size_t done = 0; done < text.size() && !error;) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno != EINTR) error = errno;
      if (n > 0) done += static_cast<std::size_t>(n);
    }
    text.clear();
  };
  for (const AgentRecord& agent : agents_) {
    if (only && &agent != only) continue;
    std::ifstream in(fmt::format("{}/agent-{}.log", options_.run_dir, agent.plan.slot.id));
    for (std::string line; std::getline(in, line) && !error;) {
      if (line.find("(log lines dropped:") != std::string::npos) {
        text += fmt::format("# agent {}: {}\n", agent.plan.slot.id, line);
        continue;
      }
      std::size_t at = line.find(" tsung.dump: ");
      if (at == std::string::npos) continue;
      unescape_dump(std::string_view(line).substr(at + 13), text);
      text += '\n';
      if (text.size() >= (1u << 20)) flush();
    }
  }
  flush();
  if (::close(fd) != 0 && !error) error = errno;
  check_written(path, error, 0);
}

// match do="log"/"dump" lines reach agent-<id>.log (launched agents' stderr, or shipped by
// listening agents); gather them into match.log, as Tsung writes it, and each do="dump" response
// into match-USER-SESSION-REQUEST-N.dump (Tsung's ts_match_logger: N counts the dumps of the run,
// from 1), at most kMaxMatchDumps of them.
void Controller::collect_match_log() {
  std::string lines;
  std::uint32_t dumps = 0, dropped = 0;
  for (const AgentRecord& agent : agents_) {
    std::ifstream in(fmt::format("{}/agent-{}.log", options_.run_dir, agent.plan.slot.id));
    for (std::string line; std::getline(in, line);) {
      std::size_t at = line.find(" match.dump: ");  // before match.log: a response may hold that text
      if (at == std::string::npos) {
        if (line.find(" match.log: ") != std::string::npos) lines += line + '\n';
        continue;
      }
      if (dumps == kMaxMatchDumps) {
        ++dropped;
        continue;
      }
      // "USER SESSION REQUEST BYTES": three numbers, then the escaped response.
      std::string_view rest = std::string_view(line).substr(at + 13);
      std::string name = "match";
      bool numbers = true;
      for (int field = 0; field < 3 && numbers; ++field) {
        std::size_t space = rest.find(' ');
        std::string_view number = rest.substr(0, space);
        numbers = space != std::string_view::npos && !number.empty() &&
                  number.find_first_not_of("0123456789") == std::string_view::npos;
        name += fmt::format("-{}", number);
        rest.remove_prefix(numbers ? space + 1 : rest.size());
      }
      if (!numbers) continue;
      std::string bytes;
      unescape_dump(rest, bytes);
      std::string path = fmt::format("{}/{}-{}.dump", options_.run_dir, name, ++dumps);
      check_written(path, write_private_file(path, bytes), 0);
    }
  }
  if (dropped > 0)
    console_.notice(fmt::format("match do=\"dump\": {} responses beyond the first {} not written", dropped, kMaxMatchDumps));
  if (lines.empty()) return;
  std::string path = options_.run_dir + "/match.log";
  check_written(path, write_whole_file(path, lines), 0);
}

}  // namespace loadctl::controller
