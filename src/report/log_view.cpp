#include "report/log_view.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "report/html_escape.hpp"
#include "report/json_value.hpp"
#include "report/report.hpp"

namespace loadctl::report {

namespace {

using control::WebRequest;
using control::WebResponse;

constexpr std::uint64_t kMaxRunJsonBytes = 1 << 20;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_;
};

WebResponse text(unsigned status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body) + "\n"}; }

// A name directly under the root or a run: one path component, not hidden, not "." or "..".
bool valid_component(std::string_view s) {
  return !s.empty() && s.size() <= 255 && s.front() != '.' && s.find('/') == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

// `s` for a URL path segment: everything but the unreserved characters %-escaped.
std::string url_component(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

// A run directory under the root, not through a symbolic link.
Fd open_run(int root, const std::string& name) {
  return Fd(::openat(root, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// A regular file of `dir`, not through a symbolic link, of at most `max` bytes; `missing` says
// whether it failed for want of the file.
std::optional<std::string> read_at(int dir, const std::string& name, std::uint64_t max, std::string& error,
                                   bool* missing = nullptr) {
  Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    int err = errno;
    if (missing) *missing = err == ENOENT;
    error = err == ELOOP ? "a symbolic link (not served)" : std::strerror(err);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    error = "not a regular file";
    return std::nullopt;
  }
  if (static_cast<std::uint64_t>(st.st_size) > max) {
    error = fmt::format("{} bytes: larger than the {} MiB served (read it on the host)", st.st_size, max >> 20);
    return std::nullopt;
  }
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);  // a file that shrank meanwhile: what was there
  return data;
}

std::optional<struct stat> stat_at(int dir, const std::string& name) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  return st;
}

std::string content_type(std::string_view file) {
  auto ends = [&](std::string_view ext) { return file.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".json") || ends(".jsonl")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".csv")) return "text/csv; charset=utf-8";
  return "text/plain; charset=utf-8";  // tsung.log, *.log, the scenario, dumps: shown, never run
}

std::string page(const std::string& title, const std::string& body) {
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{0}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }}
th {{ background: #f4f4f4; }} td.num {{ text-align: right; }} .bad {{ color: #b00; }} a {{ color: #0457a8; }}
</style></head>
<body><h1>{0}</h1>
{1}
</body></html>
)",
                     html_escape(title), body);
}

std::string local_time(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

WebResponse LogView::handle(const WebRequest& r) const {
  if (r.post) return text(405, "loadctl view is read-only");
  if (r.path == "/" || r.path == "/index.html") return index();
  if (!r.path.starts_with("/run/")) return text(404, "not found");
  std::string_view rest = r.path.substr(5);
  std::size_t slash = rest.find('/');
  auto name = control::percent_decode(rest.substr(0, slash));
  std::optional<std::string> file = slash == std::string_view::npos ? std::string() : control::percent_decode(rest.substr(slash + 1));
  if (!name || !file || !valid_component(*name)) return text(404, "no such run");
  if (file->empty()) return run_files(*name);
  if (*file == "report") return run_report(*name);
  if (!valid_component(*file)) return text(404, "no such file");
  return run_file(*name, *file);
}

WebResponse LogView::index() const {
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return text(500, fmt::format("cannot read the log root {}: {}", root_, std::strerror(errno)));
  std::vector<std::string> runs;
  {
    DIR* d = ::fdopendir(::dup(root.get()));
    if (!d) return text(500, fmt::format("cannot list {}: {}", root_, std::strerror(errno)));
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (!valid_component(name)) continue;
      auto st = stat_at(root.get(), name);
      if (!st || !S_ISDIR(st->st_mode)) continue;
      Fd run = open_run(root.get(), name);
      if (run && (stat_at(run.get(), "tsung.log") || stat_at(run.get(), "run.json"))) runs.push_back(std::move(name));
    }
    ::closedir(d);
  }
  // Run directories are named YYYYMMDD-HHMM[-N]: by name, the newest first.
  std::sort(runs.begin(), runs.end(), std::greater<>());
  std::size_t total = runs.size();
  if (runs.size() > kMaxRunsListed) runs.resize(kMaxRunsListed);
  std::string rows;
  for (const std::string& name : runs) {
    std::string scenario, started, duration, status = "no run.json (running, or stopped hard)";
    bool bad = false;
    Fd run = open_run(root.get(), name);
    std::string error;
    if (auto json = run ? read_at(run.get(), "run.json", kMaxRunJsonBytes, error) : std::nullopt) {
      if (auto doc = parse_json(*json)) {
        scenario = doc->string_at("scenario");
        auto start = doc->number_at("start"), end = doc->number_at("end");
        if (start) started = local_time(static_cast<std::time_t>(*start));
        if (start && end) duration = fmt::format("{:.0f} s", *end - *start);
        auto exit_status = doc->number_at("exit_status");
        std::string reason = doc->string_at("stop_reason");
        bad = !exit_status || *exit_status != 0;
        status = !exit_status ? "unknown" : *exit_status == 0 ? "ok" : fmt::format("exit {:.0f}", *exit_status);
        if (!reason.empty()) status += ": " + reason;
      } else {
        status = "run.json unreadable";
        bad = true;
      }
    }
    std::string link = "/run/" + url_component(name);
    rows += fmt::format("<tr><td><a href=\"{0}/\">{1}</a></td><td>{2}</td><td>{3}</td><td class=\"num\">{4}</td>"
                        "<td class=\"{5}\">{6}</td><td><a href=\"{0}/report\">report</a></td></tr>\n",
                        link, html_escape(name), html_escape(scenario), html_escape(started), html_escape(duration),
                        bad ? "bad" : "", html_escape(status));
  }
  std::string body;
  if (runs.empty()) {
    body = fmt::format("<p>No runs in {} yet (each run writes a directory there: <code>loadctl -f FILE start</code>; "
                       "<code>-l DIR</code> picks another log root).</p>",
                       html_escape(root_));
  } else {
    body = fmt::format("<p>{} run(s) in <code>{}</code>{}.</p>\n<table><tr><th>run</th><th>scenario</th><th>started</th>"
                       "<th>duration</th><th>status</th><th></th></tr>\n{}</table>",
                       total, html_escape(root_), total > runs.size() ? fmt::format(", the {} newest shown", runs.size()) : "",
                       rows);
  }
  return {200, "text/html; charset=utf-8", page("loadctl runs", body)};
}

WebResponse LogView::run_files(const std::string& name) const {
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Fd run = root ? open_run(root.get(), name) : Fd();
  if (!run) return text(404, "no such run");
  std::vector<std::pair<std::string, std::uint64_t>> files;
  DIR* d = ::fdopendir(::dup(run.get()));
  if (!d) return text(500, fmt::format("cannot list the run: {}", std::strerror(errno)));
  while (dirent* e = ::readdir(d)) {
    std::string file = e->d_name;
    auto st = valid_component(file) ? stat_at(run.get(), file) : std::nullopt;
    if (st && S_ISREG(st->st_mode)) files.emplace_back(std::move(file), static_cast<std::uint64_t>(st->st_size));
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  std::string link = "/run/" + url_component(name) + "/";
  std::string rows;
  for (const auto& [file, size] : files)
    rows += fmt::format("<tr><td><a href=\"{}{}\">{}</a></td><td class=\"num\">{}</td></tr>\n", link, url_component(file),
                        html_escape(file), size);
  std::string body = fmt::format("<p><a href=\"/\">all runs</a> &middot; <a href=\"{}report\">report</a></p>\n"
                                 "<table><tr><th>file</th><th>bytes</th></tr>\n{}</table>",
                                 link, rows);
  return {200, "text/html; charset=utf-8", page("run " + name, body)};
}

WebResponse LogView::run_file(const std::string& name, const std::string& file) const {
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Fd run = root ? open_run(root.get(), name) : Fd();
  if (!run) return text(404, "no such run");
  std::string error;
  bool missing = false;
  auto data = read_at(run.get(), file, kMaxServedBytes, error, &missing);
  if (!data) return text(missing ? 404 : 403, fmt::format("{}: {}", file, error));
  return {200, content_type(file), std::move(*data)};
}

WebResponse LogView::run_report(const std::string& name) const {
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Fd run = root ? open_run(root.get(), name) : Fd();
  if (!run) return text(404, "no such run");
  // Rendered again when the statistics are newer (a run that went on, or a report of an older loadctl).
  auto report = stat_at(run.get(), "report.html");
  bool stale = !report || !S_ISREG(report->st_mode);
  for (const char* source : {"tsung.log", "stats.jsonl", "run.json"})
    if (auto st = stat_at(run.get(), source); st && report && st->st_mtim.tv_sec > report->st_mtim.tv_sec) stale = true;
  if (stale) {
    try {
      write_report({root_ + "/" + name}, {});
    } catch (const std::exception& e) {
      return text(500, fmt::format("cannot render the report of {}: {}", name, e.what()));
    }
  }
  return run_file(name, "report.html");
}

}  // namespace loadctl::report
