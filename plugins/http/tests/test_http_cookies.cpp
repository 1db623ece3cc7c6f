// Cookies: Set-Cookie parsing into the user's jar, Cookie headers on later requests (domain,
// path, expiry, Secure), <add_cookie>, and the jar's life across responses.
#include <ctime>

#include "http_test_util.hpp"

namespace loadctl::http::test {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;

std::string encode_with(const HttpRequest& req, UserSession* session, std::string_view host_header = "example.com",
                        Transport transport = Transport::tcp, const VariableSource* vars = nullptr) {
  EncodeContext ctx;
  ctx.host_header = host_header;
  ctx.session = session;
  ctx.transport = transport;
  ctx.vars = vars;
  std::string out;
  req.encode(ctx, out);
  return out;
}

std::string cookie_line(const std::string& request) {
  auto at = request.find("Cookie: ");
  if (at == std::string::npos) return "";
  return request.substr(at + 8, request.find("\r\n", at) - at - 8);
}

// Parses a whole `response` to `req` from `host`, filling the user's session `slot`.
ParseStatus parse_into(const HttpRequest& req, const std::string& response, std::string_view host,
                       std::unique_ptr<UserSession>& slot) {
  ParserState state;
  state.reset();
  ResponseInfo info;
  info.session = &slot;
  info.host = host;
  return req.parse_response(state, {response.data(), response.size()}, info).status;
}

TEST(HttpCookies, SetCookieAttributes) {
  HttpUserSession jar;
  jar.set_cookie("sid=abc; Path=/app; Domain=.Example.COM; Secure; HttpOnly", "www.example.com", kNow);
  jar.set_cookie(" lang = fr ", "www.example.com", kNow);
  jar.set_cookie("noequals", "www.example.com", kNow);  // not a cookie
  jar.set_cookie("=x", "www.example.com", kNow);        // no name
  ASSERT_EQ(jar.cookies.size(), 2u);
  EXPECT_EQ(jar.cookies[0].name, "sid");
  EXPECT_EQ(jar.cookies[0].value, "abc");
  EXPECT_EQ(jar.cookies[0].path, "/app");
  EXPECT_EQ(jar.cookies[0].domain, "example.com");
  EXPECT_TRUE(jar.cookies[0].secure);
  EXPECT_EQ(jar.cookies[0].expires, 0);
  EXPECT_EQ(jar.cookies[1].name, "lang");
  EXPECT_EQ(jar.cookies[1].value, "fr");
  EXPECT_EQ(jar.cookies[1].domain, "www.example.com");  // the response's host by default
  EXPECT_EQ(jar.cookies[1].path, "/");                  // Tsung's default
}

TEST(HttpCookies, ReplaceAndDelete) {
  HttpUserSession jar;
  jar.set_cookie("a=1", "h", kNow);
  jar.set_cookie("b=2", "h", kNow);
  jar.set_cookie("a=3", "h", kNow);  // replaced in place
  ASSERT_EQ(jar.cookies.size(), 2u);
  EXPECT_EQ(jar.cookies[0].value, "3");
  jar.set_cookie("a=1; Path=/x", "h", kNow);  // another path: another cookie
  EXPECT_EQ(jar.cookies.size(), 3u);
  jar.set_cookie("a=; Max-Age=0", "h", kNow);
  ASSERT_EQ(jar.cookies.size(), 2u);
  EXPECT_EQ(jar.cookies[0].name, "b");
  jar.set_cookie("b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "h", kNow);
  ASSERT_EQ(jar.cookies.size(), 1u);
  EXPECT_EQ(jar.cookies[0].path, "/x");
  jar.set_cookie("c=1; Max-Age=-5", "h", kNow);  // already expired: never stored
  jar.set_cookie("d=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "h", kNow);  // Max-Age wins
  jar.set_cookie("e=1; Max-Age=soon", "h", kNow);  // ignored attribute: a session cookie
  ASSERT_EQ(jar.cookies.size(), 3u);
  EXPECT_EQ(jar.cookies[1].expires, kNow + 60);
  EXPECT_EQ(jar.cookies[2].expires, 0);
}

TEST(HttpCookies, BoundedJar) {
  HttpUserSession jar;
  for (std::size_t i = 0; i < kMaxCookiesPerUser + 10; ++i) jar.set_cookie("c" + std::to_string(i) + "=v", "h", kNow);
  EXPECT_EQ(jar.cookies.size(), kMaxCookiesPerUser);
  EXPECT_EQ(jar.cookies.front().name, "c10");
  jar.set_cookie("big=" + std::string(kMaxCookieBytes, 'x'), "h", kNow);  // too long: ignored
  EXPECT_EQ(jar.cookies.back().name, "c265");
  // RFC 6265 6.1 counts the attributes too: a long Path or Domain cannot grow the jar.
  jar.set_cookie("p=1; Path=/" + std::string(kMaxCookieBytes, 'p'), "h", kNow);
  jar.set_cookie("d=1; Domain=" + std::string(kMaxCookieBytes, 'd') + ".h", std::string(kMaxCookieBytes, 'd') + ".h",
                 kNow);
  EXPECT_EQ(jar.cookies.back().name, "c265");
  for (const Cookie& c : jar.cookies) EXPECT_LE(c.name.size() + c.value.size() + c.domain.size() + c.path.size(), kMaxCookieBytes);
}

TEST(HttpCookies, ExpiredCookiesLoseTheirSlotsFirst) {
  HttpUserSession jar;
  jar.set_cookie("keep=1", "h", kNow);
  for (std::size_t i = 1; i < kMaxCookiesPerUser; ++i) jar.set_cookie("t" + std::to_string(i) + "=v; Max-Age=10", "h", kNow);
  ASSERT_EQ(jar.cookies.size(), kMaxCookiesPerUser);
  jar.set_cookie("new=1", "h", kNow + 20);  // the 255 expired ones go, not the oldest live one
  ASSERT_EQ(jar.cookies.size(), 2u);
  EXPECT_EQ(jar.cookies[0].name, "keep");
  EXPECT_EQ(jar.cookies[1].name, "new");
}

TEST(HttpCookies, ControlCharactersAreRefused) {
  HttpUserSession jar;
  jar.set_cookie(std::string("a=b\rX-Evil: 1"), "h", kNow);
  jar.set_cookie(std::string("c=d\nX: 1"), "h", kNow);
  jar.set_cookie(std::string("e=f\0g", 5), "h", kNow);
  jar.set_cookie(std::string("h\x01=i"), "h", kNow);
  jar.set_cookie(std::string("j=k\x7f"), "h", kNow);
  jar.set_cookie(std::string("l=m\tn"), "h", kNow);
  EXPECT_TRUE(jar.cookies.empty());
  // Through the response parser, whose line splitter keeps a CR inside a line.
  auto req = parse_http(R"(<http url="/"/>)");
  std::string response = "HTTP/1.1 200 OK\r\nSet-Cookie: a=b\rX-Evil: 1\r\nContent-Length: 0\r\n\r\n";
  std::unique_ptr<UserSession> slot;
  EXPECT_EQ(parse_into(*req, response, "h", slot), ParseStatus::complete);
  EXPECT_EQ(slot, nullptr);
}

TEST(HttpCookies, DomainMustMatchTheSendingHost) {
  HttpUserSession jar;
  jar.set_cookie("foreign=1; Domain=example.org", "127.0.0.1", kNow);  // as the nginx test
  jar.set_cookie("other=1; Domain=other.com", "www.example.com", kNow);
  jar.set_cookie("sub=1; Domain=sub.example.com", "example.com", kNow);  // narrower than the host
  jar.set_cookie("ip=1; Domain=0.0.1", "10.0.0.1", kNow);  // no suffix match on IP literals
  jar.set_cookie("ip6=1; Domain=1", "::1", kNow);
  EXPECT_TRUE(jar.cookies.empty());
  jar.set_cookie("same=1; Domain=10.0.0.1", "10.0.0.1", kNow);
  jar.set_cookie("parent=1; Domain=.EXAMPLE.com", "www.example.com", kNow);
  ASSERT_EQ(jar.cookies.size(), 2u);
  EXPECT_EQ(jar.cookies[0].domain, "10.0.0.1");
  EXPECT_EQ(jar.cookies[1].domain, "example.com");
  // A host-only cookie of an IP literal is not sent to "suffix" addresses either.
  jar.set_cookie("host=1", "0.0.1", kNow);
  auto req = parse_http(R"(<http url="/"/>)");
  EXPECT_EQ(cookie_line(encode_with(*req, &jar, "127.0.0.1")), "");
  EXPECT_EQ(cookie_line(encode_with(*req, &jar, "10.0.0.1")), "same=1");
}

TEST(HttpCookies, Dates) {
  std::int64_t t = 0;
  ASSERT_TRUE(parse_cookie_date("Wed, 21 Oct 2015 07:28:00 GMT", t));
  EXPECT_EQ(t, 1445412480);
  ASSERT_TRUE(parse_cookie_date("Wednesday, 21-Oct-15 07:28:00 GMT", t));
  EXPECT_EQ(t, 1445412480);
  ASSERT_TRUE(parse_cookie_date("Wed Oct 21 07:28:00 2015", t));
  EXPECT_EQ(t, 1445412480);
  EXPECT_FALSE(parse_cookie_date("tomorrow", t));
  EXPECT_FALSE(parse_cookie_date("Wed, 21 Oct 2015 GMT", t));
  EXPECT_FALSE(parse_cookie_date("Wed, 32 Oct 2015 07:28:00 GMT", t));
}

TEST(HttpCookies, HostOf) {
  EXPECT_EQ(host_of("example.com:8080"), "example.com");
  EXPECT_EQ(host_of("example.com"), "example.com");
  EXPECT_EQ(host_of("[::1]:8080"), "::1");
}

TEST(HttpCookies, SentBackByDomainPathExpiryAndSecure) {
  HttpUserSession jar;
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  jar.set_cookie("all=1", "example.com", now);
  jar.set_cookie("app=2; Path=/app", "example.com", now);
  jar.set_cookie("sub=3; Domain=example.com", "www.example.com", now);
  jar.set_cookie("other=4", "other.org", now);
  jar.set_cookie("sec=5; Secure", "example.com", now);
  jar.set_cookie("short=6; Max-Age=1", "example.com", now - 10);  // expired since
  auto root = parse_http(R"(<http url="/"/>)");
  auto app = parse_http(R"(<http url="/app/x?y=1"/>)");
  auto apple = parse_http(R"(<http url="/apple"/>)");
  EXPECT_EQ(cookie_line(encode_with(*root, &jar, "example.com:8080")), "sub=3; all=1");
  EXPECT_EQ(cookie_line(encode_with(*app, &jar, "example.com")), "sub=3; app=2; all=1");
  EXPECT_EQ(cookie_line(encode_with(*apple, &jar, "example.com")), "sub=3; all=1");  // not under /app
  // As in Tsung, a cookie without Domain goes to the subdomains of its host too.
  EXPECT_EQ(cookie_line(encode_with(*root, &jar, "www.example.com")), "sub=3; all=1");
  EXPECT_EQ(cookie_line(encode_with(*root, &jar, "other.org")), "other=4");
  EXPECT_EQ(cookie_line(encode_with(*root, &jar, "badexample.com")), "");
  EXPECT_EQ(cookie_line(encode_with(*root, &jar, "example.com", Transport::ssl)), "sec=5; sub=3; all=1");
  EXPECT_EQ(cookie_line(encode_with(*root, nullptr)), "");
}

TEST(HttpCookies, HeaderPlaceAndAbsoluteUrl) {
  HttpUserSession jar;
  jar.set_cookie("s=1", "h2", static_cast<std::int64_t>(std::time(nullptr)));
  auto req = parse_http(R"(<http url="http://h2:81/p" method="POST" contents="x">
      <www_authenticate userid="a" passwd="b"/><http_header name="X-A" value="1"/></http>)");
  EXPECT_EQ(encode_with(*req, &jar, "h1:80"),  // the URL's host counts, not the server's
            "POST /p HTTP/1.1\r\nHost: h2:81\r\nUser-Agent: loadctl/0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 1\r\nAuthorization: Basic YTpi\r\nCookie: s=1\r\nX-A: 1\r\n\r\nx");
}

TEST(HttpCookies, AddCookie) {
  RequestParseContext subst;
  subst.subst = true;
  auto req = parse_http(R"(<http url="/a/b">
      <add_cookie key="k1" value="v%%_n%%"/>
      <add_cookie key="k2" value="w" path="/a"/>
      <add_cookie key="k3" value="x" path="/z"/>
      <add_cookie key="k4" value="y" domain=".example.com"/>
      <add_cookie key="k5" value="z" domain="other.org"/></http>)", subst);
  MapVars vars;
  vars.values = {{"n", "7"}};
  EXPECT_EQ(cookie_line(encode_with(*req, nullptr, "www.example.com", Transport::tcp, &vars)), "k4=y; k2=w; k1=v7");
  HttpUserSession jar;
  jar.set_cookie("j=0", "www.example.com", static_cast<std::int64_t>(std::time(nullptr)));
  EXPECT_EQ(cookie_line(encode_with(*req, &jar, "www.example.com", Transport::tcp, &vars)),
            "j=0; k4=y; k2=w; k1=v7");
  EXPECT_TRUE(jar.cookies.size() == 1u);  // add_cookie is not kept
}

TEST(HttpCookies, ParserFillsTheUsersJar) {
  auto req = parse_http(R"(<http url="/"/>)");
  std::string response =
      "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nset-cookie: b=2\r\nConnection: keep-alive\r\n"
      "Content-Length: 2\r\n\r\nok";
  std::unique_ptr<UserSession> slot;
  EXPECT_EQ(parse_into(*req, response, "example.com", slot), ParseStatus::complete);
  auto* jar = dynamic_cast<HttpUserSession*>(slot.get());
  ASSERT_NE(jar, nullptr);
  ASSERT_EQ(jar->cookies.size(), 2u);
  EXPECT_EQ(jar->cookies[1].domain, "example.com");
  EXPECT_EQ(cookie_line(encode_with(*req, jar)), "b=2; a=1");

  // No Set-Cookie: no session is made.
  std::unique_ptr<UserSession> empty;
  EXPECT_EQ(parse_into(*req, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "example.com", empty),
            ParseStatus::complete);
  EXPECT_EQ(empty, nullptr);

  // Only ignored or already expired Set-Cookies: still no session (the jar-less encode path).
  std::string ignored = "HTTP/1.1 200 OK\r\nSet-Cookie: noequals\r\nSet-Cookie: x=1; Domain=other.org\r\n"
                        "Set-Cookie: y=1; Max-Age=0\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(parse_into(*req, ignored, "example.com", empty), ParseStatus::complete);
  EXPECT_EQ(empty, nullptr);
}

}  // namespace
}  // namespace loadctl::http::test
