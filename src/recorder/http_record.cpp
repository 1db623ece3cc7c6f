#include "recorder/http_record.hpp"

#include <charconv>
#include <span>
#include <stdexcept>

#include <fmt/format.h>

#include "loadctl/text.hpp"

namespace loadctl::recorder {

namespace {

// Tsung's ts_proxy_http (accept ... pragma) and ts_proxy_webdav (depth ... x-svn-options) sets,
// as <http_header>; Authorization other than Basic is kept too (a bearer token replays as is).
constexpr std::string_view kHttpHeaders[] = {"Accept",          "Accept-Encoding", "Accept-Charset",
                                             "Accept-Language", "X-Requested-With", "Cache-Control",
                                             "Pragma"};
constexpr std::string_view kWebdavHeaders[] = {"Depth",       "If",         "Timeout",      "Overwrite",
                                               "Destination", "URL",        "Lock-Token", "X-SVN-Options"};

const std::string* find_header(const HttpRecord& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (text::iequals(n, name)) return &v;
  return nullptr;
}

// An attribute value: escaped, or percent-encoded where XML cannot hold the bytes.
std::string attr(std::string_view s) {
  if (auto escaped = xml_escape(s)) return *escaped;
  std::string out;
  for (unsigned char c : s) out += c < 0x20 || c >= 0x7f ? fmt::format("%{:02X}", c) : std::string(1, char(c));
  return *xml_escape(out);
}

std::string base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string out;
  unsigned bits = 0, acc = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) break;  // '=' padding or junk: the end
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace

bool split_url(std::string_view url, UrlParts& out) {
  std::size_t colon = url.find("://");
  if (colon == std::string_view::npos) return false;
  out.scheme = text::lowered(url.substr(0, colon));
  if (out.scheme != "http" && out.scheme != "https") return false;
  std::string_view rest = url.substr(colon + 3);
  std::size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  out.path_query = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.path_query.starts_with('?')) out.path_query.insert(0, "/");
  if (std::size_t hash = out.path_query.find('#'); hash != std::string::npos) out.path_query.resize(hash);
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::size_t port_colon = authority.rfind(':');
  if (port_colon != std::string_view::npos && authority.find(']', port_colon) == std::string_view::npos) {
    std::string_view digits = authority.substr(port_colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.port);
    if (ec != std::errc() || end != digits.data() + digits.size() || out.port == 0 || out.port > 65535) return false;
    authority = authority.substr(0, port_colon);
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }
  out.host = text::lowered(authority);
  return !out.host.empty();
}

bool is_binary_content_type(std::string_view ct) {
  std::string lower = text::lowered(text::trim(ct.substr(0, ct.find(';'))));
  return lower == "multipart/form-data" || lower == "application/x-amf" || lower == "application/x-silverlight-app" ||
         lower == "application/xaml+xml" || lower == "application/x-ms-xbap" || lower == "application/soap+msbin1" ||
         lower == "application/msbin1" || lower == "application/octet-stream";
}

std::string HttpRecordFormatter::format(const HttpRecord& r, SessionWriter* writer) {
  UrlParts u;
  std::string url = r.url;
  if (split_url(r.url, u)) {
    if (u.scheme == prev_scheme_ && u.host == prev_host_ && u.port == prev_port_) url = u.path_query;
    prev_scheme_ = u.scheme;
    prev_host_ = u.host;
    prev_port_ = u.port;
  }
  std::string out = fmt::format("<request><http url=\"{}\" version=\"{}\"", attr(url), attr(r.version));
  const std::string* content_type = find_header(r, "Content-Type");
  if (!r.body.empty()) {
    auto escaped = xml_escape(r.body);
    bool binary = !escaped || (content_type && !webdav_ && is_binary_content_type(*content_type));
    if (binary && !writer) throw std::runtime_error(fmt::format("{} {}: a binary body needs an output file (-o)", r.method, r.url));
    if (binary)
      out += fmt::format(" contents_from_file=\"{}\"", attr(writer->save_external(r.body)));
    else
      out += fmt::format(" contents=\"{}\"", *escaped);
  }
  if (content_type) out += fmt::format(" content_type=\"{}\"", attr(*content_type));
  if (const std::string* ims = find_header(r, "If-Modified-Since")) out += fmt::format(" if_modified_since=\"{}\"", attr(*ims));
  out += fmt::format(" method=\"{}\">", attr(r.method));
  if (const std::string* auth = find_header(r, "Authorization")) {
    std::string_view value = text::trim(*auth);
    if (value.size() > 6 && text::iequals(value.substr(0, 6), "basic ")) {
      std::string pair = base64_decode(text::trim(value.substr(6)));
      std::size_t sep = pair.find(':');
      if (sep != std::string::npos)
        out += fmt::format("\n  <www_authenticate userid=\"{}\" passwd=\"{}\"/>", attr(pair.substr(0, sep)),
                           attr(pair.substr(sep + 1)));
    } else {
      out += fmt::format("\n  <http_header name=\"Authorization\" value=\"{}\"/>", attr(value));
    }
  }
  if (!webdav_)
    if (const std::string* soap = find_header(r, "SOAPAction"))
      out += fmt::format("\n  <soap action=\"{}\"></soap>", attr(text::trim(*soap, "\" \t")));
  auto headers = webdav_ ? std::span<const std::string_view>(kWebdavHeaders) : std::span<const std::string_view>(kHttpHeaders);
  for (std::string_view name : headers) {
    const std::string* value = find_header(r, name);
    if (!value) continue;
    std::string v = *value;
    if (text::iequals(name, "Destination") && v.starts_with("http://-")) v = "https://" + v.substr(8);
    out += fmt::format("\n  <http_header name=\"{}\" value=\"{}\"/>", name, attr(v));
  }
  out += "</http></request>\n";
  return out;
}

}  // namespace loadctl::recorder
