// The session recorder's writer, HTTP request formatting and HAR conversion (src/recorder/).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "recorder/har.hpp"
#include "recorder/http_record.hpp"
#include "recorder/session_writer.hpp"

namespace fs = std::filesystem;
using namespace loadctl::recorder;
using namespace std::chrono_literals;

// A fresh directory per test (named, not in an anonymous namespace: gtest derives from it).
struct RecorderFiles : ::testing::Test {
  void SetUp() override {
    dir = fs::temp_directory_path() / ("recorder-test-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static pugi::xml_node parsed_session(pugi::xml_document& doc, const std::string& p) {
    auto result = doc.load_file(p.c_str());
    EXPECT_TRUE(result) << result.description() << "\n" << slurp(p);
    return doc.child("session");
  }
  fs::path dir;
};

TEST(RecorderXml, EscapesMarkupAndKeepsWhitespaceOfAttributes) {
  EXPECT_EQ(xml_escape("a<b>&'\"c"), "a&lt;b&gt;&amp;&apos;&quot;c");
  EXPECT_EQ(xml_escape("l1\nl2\r\tx"), "l1&#10;l2&#13;&#9;x");
  EXPECT_EQ(xml_escape("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");  // UTF-8 kept
}

TEST(RecorderXml, RefusesWhatXmlCannotHold) {
  EXPECT_FALSE(xml_escape(std::string("a\0b", 3)));
  EXPECT_FALSE(xml_escape("\x01\x02"));
  EXPECT_FALSE(xml_escape("\x7f"));
  EXPECT_FALSE(xml_escape("\xC3"));          // truncated sequence
  EXPECT_FALSE(xml_escape("\xC0\xAF"));      // overlong
  EXPECT_FALSE(xml_escape("\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(xml_escape("\x89PNG"));
}

TEST(RecorderThinktime, AsTsungsRecorder) {
  EXPECT_FALSE(recorded_thinktime(999'999us, 1000ms));
  EXPECT_EQ(recorded_thinktime(1'000'000us, 1000ms), 1);
  EXPECT_EQ(recorded_thinktime(1'499'999us, 1000ms), 1);
  EXPECT_EQ(recorded_thinktime(1'500'000us, 1000ms), 2);  // Erlang's round: half away from zero
  EXPECT_EQ(recorded_thinktime(2'500'000us, 1000ms), 3);
  EXPECT_EQ(recorded_thinktime(200'000us, 0ms), 0);
}

TEST_F(RecorderFiles, SessionWithThinktimesTagsAndAComment) {
  std::string out = path("rec.xml");
  {
    SessionWriter w({out, "ts_http", "rec1", 1000ms});
    auto t0 = Clock::time_point{} + 100s;
    w.record("<request><http url=\"/a\" method=\"GET\"></http></request>", t0);
    w.record("<request><http url=\"/b\" method=\"GET\"></http></request>", t0 + 300ms);  // embedded object
    EXPECT_FALSE(w.tag("<transaction name=\"login\">"));
    w.record("<request><http url=\"/c\" method=\"GET\"></http></request>", t0 + 2800ms);
    EXPECT_FALSE(w.tag("</transaction>"));
    w.comment("a -- b -");
    EXPECT_EQ(w.requests(), 3u);
    w.close();
    w.close();  // idempotent
  }
  EXPECT_EQ((fs::status(out).permissions() & fs::perms::all), fs::perms::owner_read | fs::perms::owner_write);
  pugi::xml_document doc;
  auto session = parsed_session(doc, out);
  EXPECT_STREQ(session.attribute("name").value(), "rec1");
  EXPECT_STREQ(session.attribute("type").value(), "ts_http");
  EXPECT_STREQ(session.attribute("probability").value(), "100");
  std::vector<std::string> names;
  for (auto n : session.children()) names.push_back(n.name());
  EXPECT_EQ(names, (std::vector<std::string>{"request", "request", "transaction"}));
  auto tr = session.child("transaction");
  EXPECT_STREQ(tr.attribute("name").value(), "login");
  EXPECT_EQ(tr.child("thinktime").attribute("value").as_int(), 3);  // 2.5 s since /b
  EXPECT_STREQ(tr.child("thinktime").attribute("random").value(), "true");
  EXPECT_NE(slurp(out).find("<!-- a - - b -  -->"), std::string::npos) << slurp(out);
}

TEST_F(RecorderFiles, TagsThatWouldBreakTheFileAreRefused) {
  std::string out = path("rec.xml");
  SessionWriter w({out});
  EXPECT_TRUE(w.tag("</transaction>"));                  // nothing open
  EXPECT_TRUE(w.tag("transaction"));                     // not a tag
  EXPECT_TRUE(w.tag("<transaction name=\"a>"));          // unterminated attribute
  EXPECT_TRUE(w.tag("<a><b></a>"));                      // ill-formed fragment
  EXPECT_FALSE(w.tag("<transaction name=\"outer\">"));
  EXPECT_FALSE(w.tag("<thinktime value=\"2\"/>"));
  EXPECT_FALSE(w.tag("<!-- step 2 -->"));
  EXPECT_TRUE(w.tag("</other>"));                        // not the open one
  EXPECT_FALSE(w.tag("<transaction name=\"inner\">"));
  w.close();                                             // closes inner and outer
  EXPECT_TRUE(w.tag("<x/>"));                            // the recording is over
  pugi::xml_document doc;
  auto session = parsed_session(doc, out);
  auto outer = session.child("transaction");
  EXPECT_STREQ(outer.attribute("name").value(), "outer");
  EXPECT_STREQ(outer.child("transaction").attribute("name").value(), "inner");
  EXPECT_EQ(outer.child("thinktime").attribute("value").as_int(), 2);
}

TEST_F(RecorderFiles, HttpRequestsAsTsungRecordsThem) {
  std::string out = path("rec.xml");
  SessionWriter w({out});
  HttpRecordFormatter f;
  HttpRecord get{"GET", "http://Example.com/p?q=1&r=2", "1.1",
                 {{"Host", "example.com"}, {"Cookie", "sid=1"}, {"Accept", "text/html"}, {"User-Agent", "x"},
                  {"Authorization", "Basic dXNlcjpwYTpzcw=="}, {"If-Modified-Since", "Sat, 05 Dec 2026 10:00:00 GMT"}},
                 ""};
  w.record(f.format(get, &w));
  HttpRecord post{"POST", "http://example.com:80/form", "1.1",
                  {{"content-type", "application/x-www-form-urlencoded"}, {"Authorization", "Bearer t0k"}},
                  "a=1&b=<2>\nc"};
  w.record(f.format(post, &w));
  std::string png("\x89PNG\r\n\x1a\n\0\x01", 10);
  HttpRecord upload{"PUT", "https://other.org/up", "1.1", {{"Content-Type", "image/png"}}, png};
  w.record(f.format(upload, &w));
  HttpRecord multipart{"POST", "https://other.org/mp", "1.1", {{"Content-Type", "multipart/form-data; boundary=x"}}, "--x\r\n"};
  w.record(f.format(multipart, &w));
  w.close();

  pugi::xml_document doc;
  auto session = parsed_session(doc, out);
  auto requests = session.children("request");
  auto it = requests.begin();
  auto h = it->child("http");
  EXPECT_STREQ(h.attribute("url").value(), "http://Example.com/p?q=1&r=2");  // the first: absolute
  EXPECT_STREQ(h.attribute("method").value(), "GET");
  EXPECT_STREQ(h.attribute("version").value(), "1.1");
  EXPECT_STREQ(h.attribute("if_modified_since").value(), "Sat, 05 Dec 2026 10:00:00 GMT");
  EXPECT_STREQ(h.child("www_authenticate").attribute("userid").value(), "user");
  EXPECT_STREQ(h.child("www_authenticate").attribute("passwd").value(), "pa:ss");
  std::vector<std::string> headers;
  for (auto x : h.children("http_header")) headers.push_back(x.attribute("name").value());
  EXPECT_EQ(headers, std::vector<std::string>{"Accept"});  // no Cookie, Host or User-Agent
  h = (++it)->child("http");
  EXPECT_STREQ(h.attribute("url").value(), "/form");  // same scheme, host and port: relative
  EXPECT_STREQ(h.attribute("contents").value(), "a=1&b=<2>\nc");  // the newline survives attribute normalisation
  EXPECT_STREQ(h.attribute("content_type").value(), "application/x-www-form-urlencoded");
  EXPECT_STREQ(h.child("http_header").attribute("value").value(), "Bearer t0k");
  h = (++it)->child("http");
  EXPECT_STREQ(h.attribute("url").value(), "https://other.org/up");  // the host changed: absolute
  std::string file = h.attribute("contents_from_file").value();
  EXPECT_EQ(file, path("rec-1.bin"));
  EXPECT_EQ(slurp(file), png);
  EXPECT_FALSE(h.attribute("contents"));
  h = (++it)->child("http");
  EXPECT_STREQ(h.attribute("url").value(), "/mp");
  EXPECT_EQ(slurp(h.attribute("contents_from_file").value()), "--x\r\n");  // Tsung's binary content types
}

TEST(RecorderHttp, WebdavHeadersAndHttpsDestination) {
  HttpRecordFormatter f(true);
  HttpRecord r{"MOVE", "https://dav.example/a", "1.1",
               {{"Destination", "http://-dav.example/b"}, {"Overwrite", "F"}, {"Depth", "0"}, {"Accept", "*/*"}}, ""};
  std::string xml = f.format(r, nullptr);
  EXPECT_NE(xml.find("<http_header name=\"Destination\" value=\"https://dav.example/b\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"Overwrite\" value=\"F\""), std::string::npos);
  EXPECT_NE(xml.find("name=\"Depth\" value=\"0\""), std::string::npos);
  EXPECT_EQ(xml.find("Accept"), std::string::npos);  // ts_proxy_webdav records its own set
  HttpRecord binary{"PUT", "https://dav.example/c", "1.1", {}, std::string("\0", 1)};
  EXPECT_THROW(f.format(binary, nullptr), std::runtime_error);  // no writer for an external file
}

TEST(RecorderHttp, SplitUrl) {
  UrlParts u;
  ASSERT_TRUE(split_url("HTTP://Host.Example:8080?x=1#frag", u));
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "host.example");
  EXPECT_EQ(u.port, 8080u);
  EXPECT_EQ(u.path_query, "/?x=1");
  ASSERT_TRUE(split_url("https://[::1]/p", u));
  EXPECT_EQ(u.host, "[::1]");
  EXPECT_EQ(u.port, 443u);
  EXPECT_FALSE(split_url("ftp://h/p", u));
  EXPECT_FALSE(split_url("http://h:99999/", u));
  EXPECT_FALSE(split_url("/relative", u));
}

TEST(RecorderHar, Iso8601Times) {
  EXPECT_DOUBLE_EQ(parse_har_time("1970-01-01T00:00:01.250Z"), 1250);
  EXPECT_DOUBLE_EQ(parse_har_time("1970-01-01T01:00:00.000+01:00"), 0);
  EXPECT_DOUBLE_EQ(parse_har_time("1970-01-01T00:00:00-0130"), 5400000);
  EXPECT_DOUBLE_EQ(parse_har_time("2026-12-05T19:00:30Z"), 1796497230000.0);
  EXPECT_LT(parse_har_time("2026-12-05 junk"), 0);
  EXPECT_LT(parse_har_time("2026-12-05T19:00:30.1Zextra"), 0);
}

TEST_F(RecorderFiles, HarToSession) {
  std::string har = R"({"log": {"version": "1.2", "entries": [
    {"startedDateTime": "2026-12-05T10:00:00.000Z", "_resourceType": "document",
     "request": {"method": "GET", "url": "http://h.test/", "httpVersion": "http/1.1",
                 "headers": [{"name": "Accept", "value": "text/html"}, {"name": ":authority", "value": "h.test"},
                             {"name": "Cookie", "value": "a=b"}]}},
    {"startedDateTime": "2026-12-05T10:00:00.400Z", "_resourceType": "image",
     "request": {"method": "GET", "url": "http://h.test/logo.png"}},
    {"startedDateTime": "2026-12-05T10:00:00.500Z", "request": {"method": "GET", "url": "data:image/png;base64,AAAA"}},
    {"startedDateTime": "2026-12-05T10:00:02.000Z", "_resourceType": "xhr",
     "request": {"method": "POST", "url": "http://h.test/api", "httpVersion": "HTTP/1.0",
                 "postData": {"mimeType": "application/json", "text": "{\"k\": \"<v>\"}"}}}]}})";
  std::string out = path("har.xml");
  HarResult r = har_to_session(har, out, {false, 1000, "h"});
  EXPECT_EQ(r.requests, 3u);  // the data: URL is no HTTP request
  pugi::xml_document doc;
  auto session = parsed_session(doc, out);
  EXPECT_STREQ(session.attribute("name").value(), "h");
  std::vector<std::string> seen;
  for (auto n : session.children()) seen.push_back(std::string(n.name()) + ":" + n.child("http").attribute("url").value() +
                                                   n.attribute("value").value());
  EXPECT_EQ(seen, (std::vector<std::string>{"request:http://h.test/", "request:/logo.png", "thinktime:2", "request:/api"}));
  auto api = session.last_child().child("http");
  EXPECT_STREQ(api.attribute("contents").value(), "{\"k\": \"<v>\"}");
  EXPECT_STREQ(api.attribute("content_type").value(), "application/json");
  EXPECT_STREQ(api.attribute("version").value(), "1.0");
  EXPECT_EQ(slurp(out).find("authority"), std::string::npos);
  EXPECT_EQ(slurp(out).find("Cookie"), std::string::npos);

  HarResult no_static = har_to_session(har, out, {true, 1000, "h"});
  EXPECT_EQ(no_static.requests, 2u);
  EXPECT_EQ(no_static.skipped_static, 1u);
  EXPECT_EQ(slurp(out).find("logo.png"), std::string::npos);
}

TEST_F(RecorderFiles, HarErrorsSayWhere) {
  std::string out = path("bad.xml");
  EXPECT_THROW(har_to_session("not json", out, {}), std::runtime_error);
  EXPECT_THROW(har_to_session(R"({"log": {}})", out, {}), std::runtime_error);
  try {
    har_to_session(R"({"log": {"entries": [{"startedDateTime": "2026-12-05T10:00:00Z", "request": {"url": "http://h/"}}]}})",
                   out, {});
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("log.entries[0].request: no method"), std::string::npos) << e.what();
  }
}
