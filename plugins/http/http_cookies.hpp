#pragma once
// Cookies of one simulated user (Tsung's session_cookies): Set-Cookie headers of responses fill
// a jar that lives as long as the user, across its connections; requests send back the
// cookies whose domain, path, expiry and Secure flag match, plus their own <add_cookie>s.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"

namespace loadctl::http {

/// A cookie received in a Set-Cookie header.
struct Cookie {
  std::string name, value;
  std::string domain;        ///< lower case, without a leading dot; the response's host by default
  std::string path = "/";    ///< Tsung's default (not the request's directory)
  std::int64_t expires = 0;  ///< Unix time; 0 = until the user ends
  bool secure = false;       ///< sent over TLS connections only

  bool expired(std::int64_t now) const { return expires != 0 && expires <= now; }
};

/// An <add_cookie key value domain path> of one request: sent with it, not kept (as Tsung).
struct RequestCookie {
  std::string name;
  Template value;
  std::string domain;  ///< "" (Tsung's default ".") matches every host
  std::string path = "/";
};

/// The HTTP plugin's per-user state: created by the first Set-Cookie a user receives.
class HttpUserSession final : public UserSession {
 public:
  /// Applies one Set-Cookie value received from `host` at Unix time `now`: stores, replaces
  /// (same name, domain and path) or, when already expired (Max-Age<=0, Expires in the
  /// past), deletes.
  void set_cookie(std::string_view header_value, std::string_view host, std::int64_t now);
  /// Stores a parsed cookie (see set_cookie); expired cookies lose their slots first when full.
  void store(Cookie cookie, std::int64_t now);

  std::vector<Cookie> cookies;  ///< oldest first
};

/// At most this many cookies per user: a server that keeps setting new names cannot grow a
/// user without bound (the oldest is dropped, as browsers do).
inline constexpr std::size_t kMaxCookiesPerUser = 256;
/// A Set-Cookie value (name, value and attributes) longer than this is ignored (RFC 6265 section
/// 6.1's minimum a client must support): with kMaxCookiesPerUser, a user's jar stays under
/// about 1 MiB.
inline constexpr std::size_t kMaxCookieBytes = 4096;

/// Parses one Set-Cookie value received from `host` at Unix time `now` into `cookie`; false
/// when it must be ignored: longer than kMaxCookieBytes, no name, a control character in the
/// name or value, or a Domain that `host` does not domain-match (exact for an IP literal).
bool parse_set_cookie(std::string_view header_value, std::string_view host, std::int64_t now, Cookie& cookie);

/// Appends "Cookie: a=1; b=2\r\n" (Tsung's order: the jar's newest first, then the request's
/// <add_cookie>s last to first) for the cookies that match `host`, `path` and `tls`; nothing
/// when none does.
void append_cookie_header(const HttpUserSession* jar, std::span<const RequestCookie> extra,
                          const EncodeContext& ctx, std::string_view host, std::string_view path,
                          std::string& out);

/// Parses a cookie date (RFC 6265 section 5.1.1: "Wed, 21 Oct 2015 07:28:00 GMT" and the older
/// forms) into Unix time; false when it is not one.
bool parse_cookie_date(std::string_view text, std::int64_t& unix_time);

/// The host of a Host header value ("h", "h:p", "[v6]:p" -> "h", "v6").
std::string_view host_of(std::string_view host_header);

}  // namespace loadctl::http
