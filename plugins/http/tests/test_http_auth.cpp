// Digest (RFC 2617 vectors) and OAuth 1.0 (OAuth Core 1.0 appendix A vectors) headers.
#include <regex>

#include "http_test_util.hpp"
#include "loadctl/scenario_error.hpp"

namespace loadctl::http::test {
namespace {

std::string encode_req(const HttpRequest& req, const VariableSource* vars = nullptr,
                       std::string_view host_header = "testrealm-host.com") {
  EncodeContext ctx;
  ctx.vars = vars;
  ctx.host_header = host_header;
  std::string out;
  req.encode(ctx, out);
  return out;
}

std::string header_value(const std::string& request, std::string_view name) {
  auto at = request.find(std::string("\r\n") + std::string(name) + ": ");
  if (at == std::string::npos) return "";
  at += name.size() + 4;
  return request.substr(at, request.find("\r\n", at) - at);
}

TEST(HttpDigest, Rfc2617Example) {
  // RFC 2617 section 3.5: Mufasa / "Circle Of Life".
  auto req = parse_http(R"(<http url="/dir/index.html">
      <www_authenticate type="digest" userid="Mufasa" passwd="Circle Of Life" realm="testrealm@host.com"
          nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093" qop="auth" nc="00000001" cnonce="0a4f113b"
          opaque="5ccc069c403ebaf9f0171e9517f40e41"/></http>)");
  EXPECT_EQ(header_value(encode_req(*req), "Authorization"),
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
            "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
            "response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", "
            "qop=\"auth\", nc=00000001, cnonce=\"0a4f113b\"");
}

TEST(HttpDigest, WithoutQopAndFromVariables) {
  RequestParseContext subst;
  subst.subst = true;
  auto req = parse_http(R"(<http url="/digest?x=1">
      <www_authenticate type="digest" userid="user" passwd="passwd" realm="%%_realm%%" nonce="%%_nonce%%"/>
    </http>)", subst);
  MapVars vars;
  vars.values = {{"realm", "r"}, {"nonce", "n1"}};
  std::string ha1 = md5_hex("user:r:passwd"), ha2 = md5_hex("GET:/digest?x=1");
  EXPECT_EQ(header_value(encode_req(*req, &vars), "Authorization"),
            "Digest username=\"user\", realm=\"r\", nonce=\"n1\", uri=\"/digest?x=1\", response=\"" +
                md5_hex(ha1 + ":n1:" + ha2) + "\"");
  // qop without cnonce: a fresh cnonce per request, default nc.
  auto qop = parse_http(R"(<http url="/d"><www_authenticate type="digest" userid="u" passwd="p" realm="r"
      nonce="n" qop="auth"/></http>)");
  std::string a = header_value(encode_req(*qop), "Authorization");
  std::string b = header_value(encode_req(*qop), "Authorization");
  EXPECT_NE(a, b);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(a, m, std::regex("nc=00000001, cnonce=\"([0-9a-f]{16})\"")));
  std::string expect = md5_hex(md5_hex("u:r:p") + ":n:00000001:" + m[1].str() + ":auth:" + md5_hex("GET:/d"));
  EXPECT_NE(a.find("response=\"" + expect + "\""), std::string::npos) << a;
}

TEST(HttpDigest, UnsafeValuesAreEscapedOrRefused) {
  RequestParseContext subst;
  subst.subst = true;
  auto req = parse_http(R"(<http url="/d">
      <www_authenticate type="digest" userid="u" passwd="p" realm="%%_realm%%" nonce="%%_nonce%%"
          opaque="%%_opaque%%" qop="auth" nc="%%_nc%%" cnonce="c"/></http>)", subst);
  MapVars vars;
  // A quote or backslash in a captured value is a quoted-pair; the hash uses the raw value.
  vars.values = {{"realm", "a\"b"}, {"nonce", "n\\1"}, {"opaque", "o"}, {"nc", "00000001"}};
  std::string expect = md5_hex(md5_hex("u:a\"b:p") + ":n\\1:00000001:c:auth:" + md5_hex("GET:/d"));
  EXPECT_EQ(header_value(encode_req(*req, &vars), "Authorization"),
            "Digest username=\"u\", realm=\"a\\\"b\", nonce=\"n\\\\1\", uri=\"/d\", response=\"" + expect +
                "\", opaque=\"o\", qop=\"auth\", nc=00000001, cnonce=\"c\"");
  // CR, LF or another control character anywhere, or a non-hex nc: no Authorization header.
  for (auto [name, bad] : {std::pair{"nonce", "n\r\nX-Evil: 1"}, {"opaque", "o\n"}, {"realm", "r\x01"},
                           {"nc", "1, x=\"y\""}}) {
    MapVars v = vars;
    v.values[name] = bad;
    std::string out = encode_req(*req, &v);
    EXPECT_EQ(out.find("Authorization"), std::string::npos) << name;
    EXPECT_EQ(out.find("X-Evil"), std::string::npos);
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
  }
}

TEST(HttpDigest, Md5) {
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("Mufasa:testrealm@host.com:Circle Of Life"), "939e7578ed9e3c518a452acee763bce9");
}

TEST(HttpOAuth, CoreAppendixSignature) {
  // OAuth Core 1.0 appendix A.5.2 (with oauth_version, as Tsung always sends it).
  std::vector<std::pair<std::string, std::string>> params = {
      {"file", "vacation.jpg"},       {"size", "original"},
      {"oauth_consumer_key", "dpf43f3p2l4k3l03"}, {"oauth_token", "nnch734d00sl2jdk"},
      {"oauth_signature_method", "HMAC-SHA1"},    {"oauth_timestamp", "1191242096"},
      {"oauth_nonce", "kllo9940pd9333jh"},        {"oauth_version", "1.0"}};
  EXPECT_EQ(oauth_signature(false, "GET", "http://photos.example.net/photos", params, "kd94hf93k423kf44",
                            "pfkkdhi9sl3r4s00"),
            "tR3+Ty81lMeYAr/Fid0kMTYa/WM=");
  EXPECT_EQ(oauth_signature(true, "GET", "http://x/", params, "kd94hf93k423kf44", "pfkk&x"),
            "kd94hf93k423kf44&pfkk%26x");
}

TEST(HttpOAuth, HeaderLikeTsung) {
  auto req = parse_http(R"(<http url="/photos?file=vacation.jpg&amp;size=original">
      <oauth consumer_key="dpf43f3p2l4k3l03" consumer_secret="kd94hf93k423kf44"
          access_token="nnch734d00sl2jdk" access_token_secret="pfkkdhi9sl3r4s00"/></http>)");
  EncodeContext ctx;
  ctx.host_header = "Photos.Example.NET";
  std::string out;
  append_oauth_header(*req->extras().oauth, ctx, "GET",
                      "/photos?file=vacation.jpg&size=original", out, "kllo9940pd9333jh", "1191242096");
  EXPECT_EQ(out,
            "Authorization: OAuth oauth_signature=\"tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D\", "
            "oauth_token=\"nnch734d00sl2jdk\", oauth_version=\"1.0\", oauth_nonce=\"kllo9940pd9333jh\", "
            "oauth_timestamp=\"1191242096\", oauth_signature_method=\"HMAC-SHA1\", "
            "oauth_consumer_key=\"dpf43f3p2l4k3l03\"\r\n");
  // Encoded in place: after Authorization-free headers, fresh nonce per request.
  std::string request = encode_req(*req, nullptr, "photos.example.net");
  EXPECT_NE(request.find("\r\nAuthorization: OAuth oauth_signature=\""), std::string::npos) << request;
  EXPECT_NE(header_value(request, "Authorization"), header_value(encode_req(*req, nullptr, "photos.example.net"), "Authorization"));
}

TEST(HttpOAuth, FormBodyIsSigned) {
  auto req = parse_http(R"(<http url="http://Example.com:80/token" method="POST" contents="a=1&amp;b=x%20y">
      <oauth consumer_key="k" consumer_secret="s" method="PLAINTEXT"/></http>)");
  ASSERT_TRUE(req->extras().oauth);
  EXPECT_TRUE(req->extras().oauth->form_body);
  EXPECT_EQ(req->extras().oauth->authority, "Example.com:80");
  std::string request = encode_req(*req);
  EXPECT_NE(request.find("oauth_signature=\"s%26\""), std::string::npos) << request;
  EXPECT_EQ(request.find("oauth_token"), std::string::npos);  // no access token: none sent
  EXPECT_THROW(parse_http(R"(<http url="/"><oauth consumer_key="k" consumer_secret="s" method="RSA-SHA1"/></http>)"),
               ScenarioError);
}

}  // namespace
}  // namespace loadctl::http::test
