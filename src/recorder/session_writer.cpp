#include "recorder/session_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <fmt/format.h>
#include <pugixml.hpp>

namespace loadctl::recorder {

namespace {

// Length of the UTF-8 sequence starting at s[i] (1..4), or 0 when it is not a valid one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  if (n == 3 && c == 0xE0 && byte(i + 1) < 0xA0) return 0;  // overlong
  if (n == 3 && c == 0xED && byte(i + 1) >= 0xA0) return 0;  // surrogates
  if (n == 4 && c == 0xF0 && byte(i + 1) < 0x90) return 0;   // overlong
  if (n == 4 && c == 0xF4 && byte(i + 1) >= 0x90) return 0;  // above U+10FFFF
  return n;
}

// The recording may hold credentials (Authorization, bodies): owner-only, like ~/.loadctl.
// "-" is standard output (har2xml without -o), used as it is: not truncated, not closed.
std::FILE* open_private(const std::string& path, const char* mode) {
  int fd = path == "-" ? ::fcntl(1, F_DUPFD_CLOEXEC, 3) : ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return nullptr;
  std::FILE* f = ::fdopen(fd, mode);
  if (!f) ::close(fd);
  return f;
}

bool well_formed(std::string_view fragment) {
  std::string doc = "<x>";
  doc.append(fragment);
  doc += "</x>";
  pugi::xml_document parsed;
  return parsed.load_buffer(doc.data(), doc.size(), pugi::parse_default | pugi::parse_comments);
}

// The element name after "<" or "</".
std::string_view tag_name(std::string_view markup, std::size_t from) {
  std::size_t end = markup.find_first_of(" \t\r\n/>", from);
  return markup.substr(from, end == std::string_view::npos ? std::string_view::npos : end - from);
}

}  // namespace

std::optional<std::string> xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (std::size_t i = 0; i < s.size();) {
    char c = s[i];
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      std::size_t n = utf8_length(s, i);
      if (n == 0) return std::nullopt;
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\t': out += "&#9;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default:
        if (u < 0x20 || u == 0x7f) return std::nullopt;
        out += c;
    }
    ++i;
  }
  return out;
}

std::optional<long> recorded_thinktime(std::chrono::microseconds elapsed, std::chrono::milliseconds low) {
  if (elapsed < low) return std::nullopt;
  return std::lround(static_cast<double>(elapsed.count()) / 1e6);
}

std::string date_stamp(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M", &tm);
  return stamp;
}

SessionWriter::SessionWriter(Options options) : options_(std::move(options)) {
  if (options_.session_name.empty()) options_.session_name = "rec" + date_stamp(std::time(nullptr));
  file_ = open_private(options_.path, "w");
  if (!file_) throw std::runtime_error(fmt::format("cannot write {}: {}", options_.path, std::strerror(errno)));
  write(fmt::format("<session name=\"{}\" probability=\"100\" type=\"{}\">\n",
                    xml_escape(options_.session_name).value_or("rec"), options_.session_type));
}

SessionWriter::~SessionWriter() { close(); }

void SessionWriter::write(std::string_view text) {
  if (!file_) return;
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

void SessionWriter::record(std::string_view request_xml, Clock::time_point at) {
  if (last_request_) {
    auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(at - *last_request_);
    if (auto seconds = recorded_thinktime(elapsed, options_.thinktime_low))
      write(fmt::format("\n<thinktime random=\"true\" value=\"{}\"/>\n\n", *seconds));
  }
  last_request_ = at;
  ++requests_;
  write(request_xml);
  if (!request_xml.ends_with('\n')) write("\n");
}

std::string SessionWriter::save_external(std::string_view bytes) {
  std::string base = options_.path;
  if (base.ends_with(".xml")) base.resize(base.size() - 4);
  std::string name = fmt::format("{}-{}.bin", base, ++external_files_);
  std::FILE* f = open_private(name, "wb");
  if (!f) throw std::runtime_error(fmt::format("cannot write {}: {}", name, std::strerror(errno)));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) throw std::runtime_error("cannot write " + name);
  return name;
}

std::optional<std::string> SessionWriter::tag(std::string_view markup) {
  while (!markup.empty() && (markup.back() == '\n' || markup.back() == ' ')) markup.remove_suffix(1);
  while (!markup.empty() && (markup.front() == '\n' || markup.front() == ' ')) markup.remove_prefix(1);
  if (closed()) return "the recording is over";
  if (markup.size() < 3 || markup.front() != '<' || markup.back() != '>')
    return "expected one tag, e.g. <transaction name=\"login\"> or </transaction>";
  if (markup.starts_with("</")) {
    std::string_view name = tag_name(markup, 2);
    if (open_tags_.empty()) return fmt::format("{}: no <{}> is open", markup, name);
    if (open_tags_.back() != name) return fmt::format("{}: the open tag is <{}>", markup, open_tags_.back());
    if (markup.find_first_not_of(" \t", 2 + name.size()) != markup.size() - 1) return "malformed end tag";
    open_tags_.pop_back();
  } else if (!markup.starts_with("<!--") && !markup.ends_with("/>") && markup.find('>') == markup.size() - 1) {
    std::string_view name = tag_name(markup, 1);
    if (name.empty() || !well_formed(std::string(markup) + "</" + std::string(name) + ">"))
      return fmt::format("{}: not a well-formed start tag", markup);
    open_tags_.emplace_back(name);
  } else if (!well_formed(markup)) {
    return fmt::format("{}: not well-formed XML", markup);
  }
  write("\n");
  write(markup);
  write("\n");
  return std::nullopt;
}

void SessionWriter::comment(std::string_view text) {
  std::string safe(text);
  for (std::size_t at = 0; (at = safe.find("--", at)) != std::string::npos;) safe.replace(at, 2, "- -");
  if (safe.ends_with('-')) safe += ' ';
  write(fmt::format("<!-- {} -->\n", safe));
}

void SessionWriter::close() {
  if (!file_) return;
  while (!open_tags_.empty()) {
    write(fmt::format("</{}> <!-- closed by the recorder: no `record tag </{}>` -->\n", open_tags_.back(),
                      open_tags_.back()));
    open_tags_.pop_back();
  }
  write("</session>\n");
  std::fclose(file_);
  file_ = nullptr;
}

}  // namespace loadctl::recorder
