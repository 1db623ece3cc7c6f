#include "http_cookies.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include "loadctl/text.hpp"

namespace loadctl::http {
namespace {

// An IPv4 or IPv6 literal: only an identical domain matches it (RFC 6265 section 5.1.3).
bool is_ip_literal(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return true;
  auto dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  return !last.empty() && std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 6265 domain-match, case-insensitive; an empty domain matches every host.
bool domain_matches(std::string_view host, std::string_view domain) {
  if (domain.empty()) return true;
  if (host.size() < domain.size()) return false;
  std::string_view tail = host.substr(host.size() - domain.size());
  if (!std::equal(tail.begin(), tail.end(), domain.begin(), [](char h, char d) { return text::ascii_lower(h) == text::ascii_lower(d); }))
    return false;
  if (host.size() == domain.size()) return true;
  return host[host.size() - domain.size() - 1] == '.' && !is_ip_literal(host);
}

// RFC 6265 section 4.1.1: no control character (CTL) in a cookie's name or value, so none
// (a CR, say) can be echoed into a Cookie header.
// RFC 6265 path-match of a request target ("/a/b?q") against a cookie path.
bool path_matches(std::string_view target, std::string_view path) {
  if (!target.starts_with(path)) return false;
  if (target.size() == path.size() || path.ends_with('/')) return true;
  char next = target[path.size()];
  return next == '/' || next == '?' || next == '#';
}

bool parse_digits(std::string_view s, std::size_t min, std::size_t max, int& out) {
  if (s.size() < min || s.size() > max) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

std::string_view host_of(std::string_view host_header) {
  if (host_header.starts_with('[')) {
    auto close = host_header.find(']');
    return close == std::string_view::npos ? host_header.substr(1) : host_header.substr(1, close - 1);
  }
  return host_header.substr(0, host_header.find(':'));
}

bool parse_cookie_date(std::string_view text, std::int64_t& unix_time) {
  static constexpr std::array<std::string_view, 12> k_months = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  auto delimiter = [](char c) {
    return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ':');
  };
  int hour = -1, minute = 0, second = 0, day = -1, month = -1, year = -1;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && delimiter(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !delimiter(text[i])) ++i;
    std::string_view token = text.substr(start, i - start);
    if (token.empty()) continue;
    if (hour < 0 && token.find(':') != std::string_view::npos) {
      auto c1 = token.find(':'), c2 = token.find(':', c1 + 1);
      if (c2 != std::string_view::npos && parse_digits(token.substr(0, c1), 1, 2, hour) &&
          parse_digits(token.substr(c1 + 1, c2 - c1 - 1), 1, 2, minute) &&
          parse_digits(token.substr(c2 + 1), 1, 2, second))
        continue;
      hour = -1;
      continue;
    }
    int n = 0;
    if (day < 0 && parse_digits(token, 1, 2, n)) {
      day = n;
      continue;
    }
    if (month < 0 && token.size() >= 3) {
      auto it = std::find(k_months.begin(), k_months.end(), text::lowered(token.substr(0, 3)));
      if (it != k_months.end()) {
        month = int(it - k_months.begin());
        continue;
      }
    }
    if (year < 0 && parse_digits(token, 2, 4, n)) year = n;
  }
  if (year >= 70 && year <= 99) year += 1900;
  if (year >= 0 && year <= 69) year += 2000;
  if (hour < 0 || day < 1 || day > 31 || month < 0 || year < 1601 || hour > 23 || minute > 59 || second > 59)
    return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  unix_time = static_cast<std::int64_t>(timegm(&tm));
  return true;
}

bool parse_set_cookie(std::string_view header_value, std::string_view host, std::int64_t now, Cookie& cookie) {
  // RFC 6265 section 6.1 bounds the whole cookie (name, value and attributes): the jar stays
  // bounded whatever the Domain or Path.
  if (header_value.size() > kMaxCookieBytes) return false;
  std::string_view rest = header_value;
  auto next_field = [&rest] {
    auto semi = rest.find(';');
    std::string_view field = text::trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    return field;
  };
  std::string_view pair = next_field();
  auto eq = pair.find('=');
  if (eq == std::string_view::npos) return false;  // RFC 6265: no name=value, no cookie
  std::string_view name = text::trim(pair.substr(0, eq)), value = text::trim(pair.substr(eq + 1));
  if (name.empty() || text::has_ctl(name) || text::has_ctl(value)) return false;
  cookie = Cookie{};
  cookie.name = name;
  cookie.value = value;
  cookie.domain = text::lowered(host);
  bool has_max_age = false;
  while (!rest.empty()) {
    std::string_view field = next_field();
    auto feq = field.find('=');
    std::string_view key = text::trim(field.substr(0, feq));
    std::string_view value = feq == std::string_view::npos ? std::string_view{} : text::trim(field.substr(feq + 1));
    if (text::iequals_lower(key, "domain")) {
      while (value.starts_with('.')) value.remove_prefix(1);
      if (value.empty()) continue;
      // RFC 6265 section 5.3 step 6: a domain the host does not match voids the cookie.
      if (!domain_matches(host, value)) return false;
      cookie.domain = text::lowered(value);
    } else if (text::iequals_lower(key, "path")) {
      if (value.starts_with('/')) cookie.path = value;
    } else if (text::iequals_lower(key, "max-age")) {
      bool negative = value.starts_with('-');
      std::string_view digits = negative ? value.substr(1) : value;
      if (digits.empty() || digits.size() > 12 ||
          !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        continue;  // RFC 6265: an invalid Max-Age is ignored
      std::int64_t seconds = 0;
      for (char c : digits) seconds = seconds * 10 + (c - '0');
      cookie.expires = negative || seconds == 0 ? now - 1 : now + seconds;
      has_max_age = true;
    } else if (text::iequals_lower(key, "expires")) {
      std::int64_t when = 0;
      if (!has_max_age && parse_cookie_date(value, when)) cookie.expires = when <= 0 ? now - 1 : when;
    } else if (text::iequals_lower(key, "secure")) {
      cookie.secure = true;
    }
  }
  return true;
}

void HttpUserSession::store(Cookie cookie, std::int64_t now) {
  auto same = std::find_if(cookies.begin(), cookies.end(), [&](const Cookie& c) {
    return c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path;
  });
  if (same != cookies.end()) {
    if (cookie.expired(now)) {
      cookies.erase(same);
    } else {
      *same = std::move(cookie);  // keeps its place, as Tsung's keyreplace
    }
    return;
  }
  if (cookie.expired(now)) return;
  if (cookies.size() >= kMaxCookiesPerUser)  // expired cookies go first, then the oldest
    std::erase_if(cookies, [now](const Cookie& c) { return c.expired(now); });
  if (cookies.size() >= kMaxCookiesPerUser) cookies.erase(cookies.begin());
  cookies.push_back(std::move(cookie));
}

void HttpUserSession::set_cookie(std::string_view header_value, std::string_view host, std::int64_t now) {
  Cookie cookie;
  if (parse_set_cookie(header_value, host, now, cookie)) store(std::move(cookie), now);
}

void append_cookie_header(const HttpUserSession* jar, std::span<const RequestCookie> extra,
                          const EncodeContext& ctx, std::string_view host, std::string_view path,
                          std::string& out) {
  bool first = true;
  auto add = [&](std::string_view name, auto&& append_value) {
    out += first ? "Cookie: " : "; ";
    first = false;
    out += name;
    out += '=';
    append_value();
  };
  if (jar && !jar->cookies.empty()) {
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    const bool tls = ctx.transport == Transport::ssl;
    for (auto it = jar->cookies.rbegin(); it != jar->cookies.rend(); ++it) {
      const Cookie& c = *it;
      if (c.expired(now) || (c.secure && !tls) || !domain_matches(host, c.domain) ||
          !path_matches(path, c.path))
        continue;
      add(c.name, [&] { out += c.value; });
    }
  }
  for (auto it = extra.rbegin(); it != extra.rend(); ++it) {
    if (!domain_matches(host, it->domain) || !path_matches(path, it->path)) continue;
    add(it->name, [&] { it->value.render(ctx.vars, out, ctx.missing_vars); });
  }
  if (!first) out += "\r\n";
}

}  // namespace loadctl::http
