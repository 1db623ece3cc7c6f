#pragma once
// HttpRecordFormatter: one HTTP request as Tsung's recorder writes it (ts_proxy_http.erl and
// ts_proxy_webdav.erl, record_request): the proxy and har2xml both use it.
//
//   <request><http url="/path?q" version="1.1" contents="..." content_type="..." method="POST">
//     <www_authenticate userid="u" passwd="p"/>        from Authorization: Basic
//     <http_header name="Accept" value="..."/>          the headers that matter (below)
//   </http></request>
//
// The URL is relative while scheme, host and port stay those of the previous request, absolute
// when they change (the first request too). Cookies are left to the cookie jar (not recorded), as
// are Host, Content-Length, User-Agent and connection headers. A body that is not XML text (or of
// one of Tsung's binary content types) goes to an external file: contents_from_file.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recorder/session_writer.hpp"

namespace loadctl::recorder {

struct HttpRecord {
  std::string method;   ///< GET, POST, PROPFIND ...
  std::string url;      ///< absolute: http://host[:port]/path?query (https:// for http://- and CONNECT)
  std::string version = "1.1";
  std::vector<std::pair<std::string, std::string>> headers;  ///< as sent, any case
  std::string body;
};

/// Splits an absolute http(s) URL; false when it is not one.
struct UrlParts {
  std::string scheme, host;  ///< host as written (IPv6 in brackets)
  unsigned port = 0;         ///< explicit or the scheme's default
  std::string path_query;    ///< "/..." (at least "/")
};
bool split_url(std::string_view url, UrlParts& out);

/// Tsung's binary POST content types (save_binary_post): always written to an external file.
bool is_binary_content_type(std::string_view content_type);

class HttpRecordFormatter {
 public:
  /// `webdav`: Tsung's ts_proxy_webdav header set (Depth, If, Timeout, Overwrite, Destination ...).
  explicit HttpRecordFormatter(bool webdav = false) : webdav_(webdav) {}
  /// The <request> element of `r`; `writer` saves external bodies (may be null: then a binary body
  /// is an error, std::runtime_error).
  std::string format(const HttpRecord& r, SessionWriter* writer);

 private:
  bool webdav_;
  std::string prev_scheme_, prev_host_;
  unsigned prev_port_ = 0;
};

}  // namespace loadctl::recorder
