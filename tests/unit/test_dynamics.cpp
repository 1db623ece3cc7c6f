// Extractors (regex, JSONPath, header, form field, xpath), HTML entity decoding, conditions.

#include <stdexcept>

#include <gtest/gtest.h>

#include "loadctl/dynamics.hpp"

namespace {

using namespace loadctl;

const std::string json_response =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 120\r\n"
    "WWW-Authenticate: Digest realm=\"test realm\", nonce=\"abc123\", qop=auth\r\n\r\n"
    "{\"token\":\"tok42\",\"count\":3,\"ok\":true,\"items\":[{\"id\":1,\"name\":\"alpha\"},"
    "{\"id\":2,\"name\":\"beta\",\"tags\":[\"x\",\"y\"]}],\"esc\":\"a\\\"b\\u00e9\"}";

std::vector<std::string> eval(std::string_view path, std::string_view json) {
  std::vector<std::string> out;
  JsonPath(path).evaluate(json, out);
  return out;
}

TEST(Regex, FirstGroupOrWholeMatch) {
  std::string out;
  Regex re("<title>(.*)</title>");
  ASSERT_TRUE(re.first_group("<html><title>Hello</title></html>", out));
  EXPECT_EQ(out, "Hello");
  EXPECT_FALSE(re.first_group("<html></html>", out));
  Regex whole("tok[0-9]+");
  ASSERT_TRUE(whole.first_group("a tok42 b", out));
  EXPECT_EQ(out, "tok42");
  EXPECT_TRUE(Regex("^HTTP/1.1 200").search(json_response));
  EXPECT_FALSE(Regex("^HTTP/1.1 503").search(json_response));
}

TEST(Regex, BadPatternSaysWhere) {
  try {
    Regex("a(b");
    FAIL() << "compiled";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("invalid regular expression 'a(b' at offset 3"), std::string::npos) << e.what();
  }
}

TEST(JsonPath, KeysIndicesFiltersWildcards) {
  std::string scratch;
  std::string_view body = split_http(json_response, scratch).body;
  EXPECT_EQ(eval("token", body), std::vector<std::string>{"tok42"});
  EXPECT_EQ(eval("$.count", body), std::vector<std::string>{"3"});
  EXPECT_EQ(eval("ok", body), std::vector<std::string>{"true"});
  EXPECT_EQ(eval("items[1].name", body), std::vector<std::string>{"beta"});
  EXPECT_EQ(eval("items[?name=beta].id", body), std::vector<std::string>{"2"});
  EXPECT_EQ(eval("items[?id=1].name", body), std::vector<std::string>{"alpha"});
  EXPECT_EQ(eval("items[*].id", body), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(eval("items[1].tags[0]", body), std::vector<std::string>{"x"});
  EXPECT_EQ(eval("esc", body), std::vector<std::string>{"a\"b\xc3\xa9"});
  EXPECT_TRUE(eval("items[5].id", body).empty());
  EXPECT_TRUE(eval("missing", body).empty());
  EXPECT_TRUE(eval("token", "{\"token\":").empty());  // truncated document
}

TEST(JsonPath, RandomInputNeverCrashes) {
  std::string alphabet = "{}[]\",:0123456789abc \\tnu-.e";
  std::uint32_t state = 7;
  JsonPath paths[] = {JsonPath("a"), JsonPath("a[*].b"), JsonPath("[0][1]"), JsonPath("a[?b=1].c")};
  for (int i = 0; i < 20000; ++i) {
    std::string doc;
    for (int n = 0; n < 24; ++n) {
      state = state * 1664525u + 1013904223u;
      doc.push_back(alphabet[(state >> 16) % alphabet.size()]);
    }
    std::vector<std::string> out;
    for (const JsonPath& p : paths) p.evaluate(doc, out);
  }
}

TEST(JsonPath, SyntaxErrors) {
  for (const char* bad : {"", "a..b", "a[", "a[x]", "a[?x]", "a.", "$"})
    EXPECT_THROW(JsonPath{bad}, std::invalid_argument) << bad;
}

TEST(HtmlEntities, Decode) {
  std::string s = "a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#x27; &unknown; &";
  decode_html_entities(s);
  EXPECT_EQ(s, "a & b <c> \"d\" 'e' &unknown; &");
}

TEST(SplitHttp, ChunkedBodyIsDechunked) {
  std::string scratch;
  HttpParts p = split_http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", scratch);
  EXPECT_EQ(p.body, "hello world");
  EXPECT_NE(p.headers.find("Transfer-Encoding"), std::string_view::npos);
  EXPECT_EQ(split_http("raw bytes", scratch).body, "raw bytes");
}

DynVariable header_var(std::string expr) {
  DynVariable v;
  v.kind = DynVariable::Kind::header;
  v.expr = std::move(expr);
  return v;
}

TEST(DynVariable, HeaderAndParam) {
  std::string out;
  ASSERT_TRUE(header_var("content-type").extract(json_response, out));
  EXPECT_EQ(out, "application/json");
  ASSERT_TRUE(header_var("www-authenticate/nonce").extract(json_response, out));
  EXPECT_EQ(out, "abc123");
  ASSERT_TRUE(header_var("www-authenticate/realm").extract(json_response, out));
  EXPECT_EQ(out, "test realm");
  ASSERT_TRUE(header_var("WWW-Authenticate/qop").extract(json_response, out));
  EXPECT_EQ(out, "auth");
  EXPECT_FALSE(header_var("x-missing").extract(json_response, out));
}

TEST(DynVariable, JsonPathReAndDecode) {
  DynVariable j;
  j.kind = DynVariable::Kind::jsonpath;
  j.jsonpath = std::make_shared<JsonPath>("items[?name=beta].id");
  std::string out;
  ASSERT_TRUE(j.extract(json_response, out));
  EXPECT_EQ(out, "2");

  DynVariable r;
  r.kind = DynVariable::Kind::re;
  r.regex = std::make_shared<Regex>("<title>(.*)</title>");
  r.decode_html = true;
  ASSERT_TRUE(r.extract("HTTP/1.1 200 OK\r\n\r\n<title>Tom &amp; Jerry</title>", out));
  EXPECT_EQ(out, "Tom & Jerry");
}

TEST(DynVariable, XPath) {
  DynVariable x;
  x.kind = DynVariable::Kind::xpath;
  x.expr = "//input[@name='field1']/@value";
  std::string out;
  ASSERT_TRUE(x.extract("HTTP/1.1 200 OK\r\n\r\n<form><input name=\"field1\" value=\"v1\"/></form>", out));
  EXPECT_EQ(out, "v1");
  x.expr = "/html/head/title/text()";
  ASSERT_TRUE(x.extract("<html><head><title>T</title></head></html>", out));
  EXPECT_EQ(out, "T");
}

TEST(Condition, StringsAndNumbers) {
  std::string ten = "10", abc = "abc";
  EXPECT_TRUE((Condition{"v", Condition::Op::eq, "10"}.holds(&ten)));
  EXPECT_FALSE((Condition{"v", Condition::Op::eq, "10"}.holds(nullptr)));
  EXPECT_TRUE((Condition{"v", Condition::Op::neq, "10"}.holds(nullptr)));
  EXPECT_TRUE((Condition{"v", Condition::Op::gt, "9"}.holds(&ten)));  // numerically, not "10" < "9"
  EXPECT_TRUE((Condition{"v", Condition::Op::lte, "10.0"}.holds(&ten)));
  EXPECT_FALSE((Condition{"v", Condition::Op::lt, "10"}.holds(&ten)));
  EXPECT_TRUE((Condition{"v", Condition::Op::gte, "abb"}.holds(&abc)));
  EXPECT_FALSE((Condition{"v", Condition::Op::gt, "1"}.holds(nullptr)));
}

}  // namespace
