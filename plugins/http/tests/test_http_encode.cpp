#include <filesystem>
#include <fstream>

#include "http_test_util.hpp"
#include "loadctl/scenario_error.hpp"

void loadctl_register_http(loadctl::ProtocolRegistry& registry);

namespace loadctl::http::test {
namespace {

std::string encode(const HttpRequest& req, const VariableSource* vars = nullptr,
                   unsigned* missing = nullptr) {
  EncodeContext ctx;
  ctx.vars = vars;
  ctx.host_header = "localhost:8080";
  ctx.missing_vars = missing;
  std::string out;
  req.encode(ctx, out);
  return out;
}

TEST(HttpEncode, StaticGet) {
  auto req = parse_http(R"(<http url="/index.html"/>)");
  EXPECT_EQ(encode(*req),
            "GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n\r\n");
  EXPECT_EQ(req->describe(), "GET /index.html");
  EXPECT_EQ(req->endpoint(), nullptr);
  // pre-encoded: request line, host, user agent, cookies (none without a jar) + final CRLF
  EXPECT_EQ(req->chunks().size(), 4u);
}

TEST(HttpEncode, TsungsUserAgentWithoutTheOption) {
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(R"(<http url="/" version="1.0"/>)"));
  auto req = parse_http_request(doc.first_child(), {});  // no ts_http options in the scenario
  EncodeContext ctx;
  ctx.host_header = "h";
  std::string out;
  req->encode(ctx, out);
  EXPECT_EQ(out, "GET / HTTP/1.0\r\nHost: h\r\nUser-Agent: Tsung\r\n\r\n");
}

TEST(HttpEncode, StaticPostWithHeadersAndAuth) {
  auto req = parse_http(R"(<http url="/bla" method="POST" contents="bla=blu&amp;name=glop">
      <www_authenticate userid="Aladdin" passwd="open sesame"/>
      <http_header name="Cache-Control" value="no-cache"/>
      <http_header name="Referer" value="http://www.w3.org/"/>
    </http>)");
  EXPECT_EQ(encode(*req),
            "POST /bla HTTP/1.1\r\n"
            "Host: localhost:8080\r\n"
            "User-Agent: loadctl/0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 17\r\n"
            "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"
            "Cache-Control: no-cache\r\n"
            "Referer: http://www.w3.org/\r\n"
            "\r\n"
            "bla=blu&name=glop");
  for (const auto& c : req->chunks()) EXPECT_NE(c.kind, Chunk::Kind::text);
}

TEST(HttpEncode, PutWithContentTypeSoapAndIfModifiedSince) {
  auto req = parse_http(R"(<http url="/s" method="PUT" contents="{}" content_type="application/json"
       if_modified_since="Fri, 14 Dec 2012 13:44:19 GMT"><soap action="urn:x"/></http>)");
  EXPECT_EQ(encode(*req),
            "PUT /s HTTP/1.1\r\nIf-Modified-Since: Fri, 14 Dec 2012 13:44:19 GMT\r\n"
            "Host: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\n"
            "SOAPAction: \"urn:x\"\r\n\r\n{}");
}

TEST(HttpEncode, TsungHeaderOrder) {
  auto req = parse_http(R"(<http url="/" if_modified_since="D">
      <www_authenticate userid="a" passwd="b" realm="ignored for basic"/>
      <soap action="act"/><http_header name="X-A" value="1"/></http>)");
  EXPECT_EQ(encode(*req),
            "GET / HTTP/1.1\r\nIf-Modified-Since: D\r\nHost: localhost:8080\r\n"
            "User-Agent: loadctl/0.1\r\nSOAPAction: \"act\"\r\nAuthorization: Basic YTpi\r\n"
            "X-A: 1\r\n\r\n");
  auto plain = parse_http(R"(<http url="/"><www_authenticate userid="a" passwd="b"/>
      <soap action="act"/></http>)");
  EXPECT_EQ(encode(*plain),
            "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n"
            "Authorization: Basic YTpi\r\nSOAPAction: \"act\"\r\n\r\n");
}

TEST(HttpEncode, BodyOnlyForBodyMethods) {
  // as in Tsung: GET/HEAD/OPTIONS never send a body; POST/PUT/PATCH/DELETE always have a length
  EXPECT_EQ(encode(*parse_http(R"(<http url="/" contents="ignored"/>)")),
            "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n\r\n");
  EXPECT_EQ(encode(*parse_http(R"(<http url="/x" method="DELETE"/>)")),
            "DELETE /x HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(encode(*parse_http(R"(<http url="/" method="OPTIONS" content_type="a/b"/>)")),
            "OPTIONS / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n\r\n");
}

TEST(HttpEncode, AbsoluteUrlSetsEndpointAndHost) {
  auto req = parse_http(R"(<http url="http://example.org:8081/a?b=c"/>)");
  ASSERT_NE(req->endpoint(), nullptr);
  EXPECT_EQ(*req->endpoint(), (Endpoint{"example.org", 8081, Transport::tcp}));
  EXPECT_EQ(encode(*req),
            "GET /a?b=c HTTP/1.1\r\nHost: example.org:8081\r\nUser-Agent: loadctl/0.1\r\n\r\n");

  auto tls = parse_http(R"(<http url="https://secure.test"/>)");
  EXPECT_EQ(*tls->endpoint(), (Endpoint{"secure.test", 443, Transport::ssl}));
  EXPECT_EQ(encode(*tls), "GET / HTTP/1.1\r\nHost: secure.test\r\nUser-Agent: loadctl/0.1\r\n\r\n");

  auto query = parse_http(R"(<http url="http://h?x=1"/>)");
  EXPECT_EQ(*query->endpoint(), (Endpoint{"h", 80, Transport::tcp}));
  EXPECT_TRUE(encode(*query).starts_with("GET /?x=1 HTTP/1.1\r\nHost: h\r\n"));

  auto v6 = parse_http(R"(<http url="http://[::1]:8080/x"/>)");
  EXPECT_EQ(*v6->endpoint(), (Endpoint{"::1", 8080, Transport::tcp}));
}

TEST(HttpEncode, CustomHostAndUserAgentReplaceDefaults) {
  auto req = parse_http(R"(<http url="/"><http_header name="host" value="vhost"/>
      <http_header name="User-Agent" value="me"/></http>)");
  EXPECT_EQ(encode(*req), "GET / HTTP/1.1\r\nHost: vhost\r\nUser-Agent: me\r\n\r\n");
  // custom Content-Type / Content-Length take the automatic place; the length is always computed
  auto post = parse_http(R"(<http url="/" method="POST" contents="abc">
      <http_header name="X-First" value="1"/><http_header name="content-type" value="text/plain"/>
      <http_header name="Content-Length" value="99"/></http>)");
  EXPECT_EQ(encode(*post),
            "POST / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n"
            "Content-Type: text/plain\r\nContent-Length: 3\r\nX-First: 1\r\n\r\nabc");
}

TEST(HttpEncode, TemplatesSubstituted) {
  RequestParseContext ctx;
  ctx.subst = true;
  ctx.subst_body = true;
  auto req = parse_http(R"(<http url="/u/%%_id%%?q=%%_q%%" method="POST" contents="n=%%_name%%">
      <www_authenticate userid="%%_user%%" passwd="pw"/>
      <http_header name="X-Id" value="id-%%_id%%"/></http>)",
                        ctx);
  MapVars vars;
  vars.values = {{"id", "42"}, {"q", "x y"}, {"name", "bob"}, {"user", "Aladdin"}};
  unsigned missing = 0;
  EXPECT_EQ(encode(*req, &vars, &missing),
            "POST /u/42?q=x y HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\n"
            "Authorization: Basic QWxhZGRpbjpwdw==\r\n"
            "X-Id: id-42\r\n\r\nn=bob");
  EXPECT_EQ(missing, 0u);

  vars.values.erase("name");
  std::string out = encode(*req, &vars, &missing);
  EXPECT_EQ(missing, 1u);
  EXPECT_NE(out.find("Content-Length: 2\r\n"), std::string::npos) << out;
  EXPECT_TRUE(out.ends_with("\r\n\r\nn=")) << out;
}

TEST(HttpEncode, NoSubstitutionKeepsMarkersLiteral) {
  auto req = parse_http(R"(<http url="/%%_id%%"/>)");
  EXPECT_TRUE(encode(*req).starts_with("GET /%%_id%% HTTP/1.1\r\n"));
}

TEST(HttpEncode, BodyNotSubstitutedWithAllExceptBody) {
  RequestParseContext ctx;
  ctx.subst = true;
  ctx.subst_body = false;
  auto req = parse_http(R"(<http url="/%%_id%%" method="POST" contents="%%_id%%"/>)", ctx);
  MapVars vars;
  vars.values = {{"id", "7"}};
  EXPECT_EQ(encode(*req, &vars),
            "POST /7 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\n%%_id%%");
}

TEST(HttpEncode, ContentsFromFileRelativeToScenario) {
  auto dir = std::filesystem::temp_directory_path() / "loadctl_http_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "body.json") << R"({"a":1})";
  RequestParseContext ctx;
  ctx.scenario_dir = dir.string();
  auto req = parse_http(R"(<http url="/p" method="POST" contents_from_file="body.json"
      content_type="application/json"/>)",
                        ctx);
  EXPECT_TRUE(encode(*req).ends_with("Content-Length: 7\r\n\r\n{\"a\":1}"));
  EXPECT_THROW(parse_http(R"(<http url="/p" method="POST" contents_from_file="nope.json"/>)", ctx),
               ScenarioError);
  std::filesystem::remove_all(dir);
}

TEST(HttpEncode, Base64) {
  for (auto [in, want] : std::vector<std::pair<std::string, std::string>>{{"", ""},
                                                                          {"f", "Zg=="},
                                                                          {"fo", "Zm8="},
                                                                          {"foo", "Zm9v"},
                                                                          {"foob", "Zm9vYg=="},
                                                                          {"\xff\xfe", "//4="}}) {
    std::string out;
    append_base64(in, out);
    EXPECT_EQ(out, want) << in;
  }
}

TEST(HttpParse, Errors) {
  EXPECT_THROW(parse_http(R"(<http/>)"), ScenarioError);                            // no url
  EXPECT_THROW(parse_http(R"(<http url="/" methd="GET"/>)"), ScenarioError);        // unknown
  EXPECT_THROW(parse_http(R"(<http url="/" method="get"/>)"), ScenarioError);       // bad method
  EXPECT_THROW(parse_http(R"(<http url="/" method="PROPFIND"/>)"), ScenarioError);  // webdav
  EXPECT_THROW(parse_http(R"(<http url="/" version="2.0"/>)"), ScenarioError);
  EXPECT_THROW(parse_http(R"(<http url="http://h:99999/"/>)"), ScenarioError);
  EXPECT_THROW(parse_http(R"(<http url="http://:80/"/>)"), ScenarioError);
  EXPECT_THROW(parse_http(R"(<http url="/"><cookie/></http>)"), ScenarioError);
  EXPECT_THROW(parse_http(R"(<http url="/"><oauth consumer_key="a"/></http>)"), ScenarioError);
  EXPECT_THROW(parse_http(R"(<http url="/"><add_cookie key="a=" value="b"/></http>)"),
               ScenarioError);
  EXPECT_THROW(parse_http(R"(<http url="/"><add_cookie value="b"/></http>)"), ScenarioError);
  EXPECT_THROW(parse_http(R"(<http url="/"><http_header name="a" encoding="x"/></http>)"),
               ScenarioError);
  EXPECT_THROW(parse_http(R"(<http url="/"><http_header name="a b" value="x"/></http>)"),
               ScenarioError);
  EXPECT_THROW(
      parse_http(R"(<http url="/"><www_authenticate userid="u" passwd="p" type="digest" x="1"/></http>)"),
      ScenarioError);
  EXPECT_THROW(parse_http(R"(<http url="/" contents="a" contents_from_file="b"/>)"), ScenarioError);
  RequestParseContext subst;
  subst.subst = true;
  EXPECT_THROW(parse_http(R"(<http url="/%%my_module:my_function%%"/>)", subst),
               ScenarioError);
  try {
    parse_http(R"(<http url="/" method="MERGE"/>)");
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("not supported yet"), std::string::npos) << e.what();
  }
}

TEST(HttpParse, RegisteredByElementAndSessionType) {
  ProtocolRegistry registry;
  loadctl_register_http(registry);
  ASSERT_NE(registry.by_element("http"), nullptr);
  EXPECT_EQ(registry.by_session_type("ts_http"), registry.by_element("http"));
  ASSERT_NE(registry.by_session_type("ts_webdav"), nullptr);
  EXPECT_EQ(registry.by_session_type("ts_webdav")->element(), "http");
}

std::shared_ptr<const HttpRequest> parse_webdav(const std::string& xml) {
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_string(xml.c_str()));
  RequestParseContext ctx;
  ctx.options = test_http_options();
  return parse_http_request(doc.first_child(), ctx, true);
}

TEST(HttpWebdav, MethodsAsTsungWebdavSendsThem) {
  // ts_webdav: a body (Content-Type, Content-Length) on every WebDAV method but MKCOL.
  auto propfind = parse_webdav(R"(<http url="/dav/" method="PROPFIND" contents="&lt;propfind/&gt;"
      content_type="text/xml"><http_header name="Depth" value="1"/></http>)");
  EXPECT_EQ(encode(*propfind),
            "PROPFIND /dav/ HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n"
            "Content-Type: text/xml\r\nContent-Length: 11\r\nDepth: 1\r\n\r\n<propfind/>");
  auto unlock = parse_webdav(R"(<http url="/f" method="UNLOCK"><http_header name="Lock-Token" value="&lt;t&gt;"/></http>)");
  EXPECT_EQ(encode(*unlock),
            "UNLOCK /f HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nLock-Token: <t>\r\n\r\n");
  auto mkcol = parse_webdav(R"(<http url="/dir/" method="MKCOL" contents="ignored"/>)");
  EXPECT_EQ(encode(*mkcol), "MKCOL /dir/ HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n\r\n");
  for (const char* m : {"PROPPATCH", "COPY", "MOVE", "LOCK", "MKACTIVITY", "REPORT", "VERSION-CONTROL"})
    EXPECT_EQ(encode(*parse_webdav(std::string("<http url=\"/x\" method=\"") + m + "\"/>")).rfind(m, 0), 0u) << m;
  auto get = parse_webdav(R"(<http url="/"/>)");  // ts_http's methods work as in ts_http
  EXPECT_EQ(encode(*get), "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: loadctl/0.1\r\n\r\n");
  EXPECT_THROW(parse_webdav(R"(<http url="/" method="CHECKOUT"/>)"), ScenarioError);
}

TEST(HttpHeader, Base64EncodingOfTheRawText) {
  RequestParseContext subst;
  subst.subst = true;
  auto req = parse_http(R"(<http url="/"><http_header name="X-B" value="user:%%_v%%" encoding="base64"/></http>)", subst);
  EXPECT_NE(encode(*req).find("\r\nX-B: dXNlcjolJV92JSU=\r\n"), std::string::npos);  // never substituted
}

}  // namespace
}  // namespace loadctl::http::test

namespace loadctl::http::test {
namespace {

TEST(HttpExamples, EveryRequestParses) {
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(LOADCTL_SOURCE_DIR "/plugins/http/examples/http_basic.xml"));
  RequestParseContext ctx;
  int count = 0;
  for (auto x : doc.select_nodes("//request/http")) {
    EXPECT_NO_THROW(parse_http_request(x.node(), ctx)) << x.node().attribute("url").value();
    ++count;
  }
  EXPECT_EQ(count, 5);
}

}  // namespace
}  // namespace loadctl::http::test
