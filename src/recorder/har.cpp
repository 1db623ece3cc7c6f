#include "recorder/har.hpp"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "loadctl/text.hpp"
#include "recorder/http_record.hpp"
#include "recorder/session_writer.hpp"
#include "report/json_value.hpp"

namespace loadctl::recorder {

namespace {

using report::JsonValue;

constexpr std::uintmax_t kMaxHarBytes = 512ull << 20;

int digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// Static assets by Chromium's _resourceType, else the response's MIME type, else the extension.
bool is_static(const JsonValue& entry, const std::string& url) {
  std::string type = entry.string_at("_resourceType");
  if (!type.empty())
    return type == "image" || type == "stylesheet" || type == "script" || type == "font" || type == "media" ||
           type == "manifest";
  if (const JsonValue* response = entry.find("response"))
    if (const JsonValue* content = response->find("content")) {
      std::string mime = text::lowered(content->string_at("mimeType"));
      if (mime.starts_with("image/") || mime.starts_with("font/") || mime.starts_with("audio/") ||
          mime.starts_with("video/") || mime == "text/css" || mime.find("javascript") != std::string::npos)
        return true;
    }
  std::string path = url.substr(0, url.find_first_of("?#"));
  std::string ext = text::lowered(path.substr(path.find_last_of('.') == std::string::npos ? path.size() : path.find_last_of('.')));
  for (std::string_view e : {".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".css", ".js", ".woff",
                             ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".map"})
    if (ext == e) return true;
  return false;
}

const JsonValue& require(const JsonValue& v, std::string_view key, JsonValue::Type type, const std::string& where) {
  const JsonValue* m = v.find(key);
  if (!m || m->type != type) throw std::runtime_error(fmt::format("{}: no {} of the expected type", where, key));
  return *m;
}

}  // namespace

double parse_har_time(std::string_view s) {
  int year = digits(s, 0, 4), month = digits(s, 5, 2), day = digits(s, 8, 2);
  int hour = digits(s, 11, 2), minute = digits(s, 14, 2), second = digits(s, 17, 2);
  if (year < 0 || month < 1 || day < 1 || hour < 0 || minute < 0 || second < 0 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
    return -1;
  std::size_t at = 19;
  double fraction = 0, scale = 0.1;
  if (at < s.size() && s[at] == '.') {
    for (++at; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at, scale /= 10) fraction += (s[at] - '0') * scale;
  }
  long offset = 0;
  if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    int oh = digits(s, at + 1, 2);
    std::size_t mm = at + 3 < s.size() && s[at + 3] == ':' ? at + 4 : at + 3;
    int om = digits(s, mm, 2);
    if (oh < 0 || om < 0 || mm + 2 != s.size()) return -1;
    offset = (s[at] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
  } else if (at < s.size() && s[at] == 'Z' && at + 1 == s.size()) {
  } else if (at != s.size()) {
    return -1;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t t = timegm(&tm);
  return (static_cast<double>(t - offset) + fraction) * 1000.0;
}

HarResult har_to_session(std::string_view har, const std::string& output, const HarOptions& options) {
  std::string error;
  auto doc = report::parse_json(har, &error);
  if (!doc) throw std::runtime_error("not JSON: " + error);
  const JsonValue& log = require(*doc, "log", JsonValue::Type::Object, "the HAR");
  const JsonValue& entries = require(log, "entries", JsonValue::Type::Array, "log");
  std::string path = output.empty() ? "-" : output;
  SessionWriter writer({path, "ts_http", options.session_name, std::chrono::milliseconds(options.thinktime_low_ms)});
  HttpRecordFormatter formatter;
  HarResult result;
  for (std::size_t i = 0; i < entries.array.size(); ++i) {
    const JsonValue& entry = entries.array[i];
    std::string where = fmt::format("log.entries[{}]", i);
    const JsonValue& request = require(entry, "request", JsonValue::Type::Object, where);
    HttpRecord r;
    r.method = require(request, "method", JsonValue::Type::String, where + ".request").string;
    r.url = require(request, "url", JsonValue::Type::String, where + ".request").string;
    UrlParts parts;
    if (!split_url(r.url, parts)) continue;  // data:, blob:, chrome-extension: ... are not HTTP requests
    if (options.no_static && is_static(entry, r.url)) {
      ++result.skipped_static;
      continue;
    }
    std::string version = request.string_at("httpVersion");  // "HTTP/1.1", "http/2.0", "h3"
    r.version = version.ends_with("1.0") ? "1.0" : "1.1";
    if (const JsonValue* headers = request.find("headers"); headers && headers->type == JsonValue::Type::Array)
      for (const JsonValue& h : headers->array) {
        std::string name = h.string_at("name");
        if (!name.empty() && name[0] != ':') r.headers.emplace_back(name, h.string_at("value"));  // not HTTP/2's :authority
      }
    if (const JsonValue* post = request.find("postData"); post && post->type == JsonValue::Type::Object) {
      r.body = post->string_at("text");
      std::string mime = post->string_at("mimeType");
      bool has_type = false;
      for (const auto& [n, v] : r.headers) has_type = has_type || text::iequals(n, "Content-Type");
      if (!has_type && !mime.empty()) r.headers.emplace_back("Content-Type", mime);
    }
    double started = parse_har_time(entry.string_at("startedDateTime"));
    if (started < 0) throw std::runtime_error(where + ": startedDateTime is not an ISO 8601 date-time");
    Clock::time_point at{std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(started))};
    writer.record(formatter.format(r, output.empty() ? nullptr : &writer), at);
    ++result.requests;
  }
  writer.close();
  return result;
}

HarResult har_file_to_session(const std::string& input, const std::string& output, HarOptions options) {
  std::error_code ec;
  auto size = std::filesystem::file_size(input, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: {}", input, ec.message()));
  if (size > kMaxHarBytes) throw std::runtime_error(fmt::format("{}: larger than {} MiB", input, kMaxHarBytes >> 20));
  std::ifstream in(input, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw std::runtime_error("cannot read " + input);
  if (options.session_name.empty()) options.session_name = "har" + std::filesystem::path(input).stem().string();
  return har_to_session(text.str(), output, options);
}

}  // namespace loadctl::recorder
