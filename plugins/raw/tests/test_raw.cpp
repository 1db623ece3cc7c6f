#include "support/map_vars.hpp"
#include "support/parse_request.hpp"
#include <gtest/gtest.h>

#include <map>
#include <pugixml.hpp>

#include "loadctl/scenario_error.hpp"
#include "raw_request.hpp"

void loadctl_register_raw(loadctl::ProtocolRegistry& registry);

namespace loadctl::raw {
namespace {

using loadctl::test::MapVars;

std::shared_ptr<const RawRequest> parse(const char* xml, bool subst = false) {
  return test::parse_request_xml(parse_raw_request, xml, subst);
}

std::string encode(const RawRequest& req, const VariableSource* vars = nullptr) {
  EncodeContext ctx;
  ctx.vars = vars;
  std::string out;
  req.encode(ctx, out);
  return out;
}

ParseResult offer(const RawRequest& req, std::string_view bytes) {
  ParserState state;
  state.reset();
  ResponseInfo info;
  return req.parse_response(state, {bytes.data(), bytes.size()}, info);
}

TEST(Raw, DataIsSentAsIs) {
  auto req = parse(R"(<raw data="HELLO" ack="local"/>)");
  EXPECT_EQ(encode(*req), "HELLO");
  EXPECT_TRUE(req->awaits_response());
  EXPECT_EQ(req->endpoint(), nullptr);
}

TEST(Raw, DatasizeSendsZeroBytes) {
  auto req = parse(R"(<raw datasize="2048" ack="local"/>)");
  EXPECT_EQ(encode(*req), std::string(2048, '\0'));
  EXPECT_EQ(encode(*parse(R"(<raw datasize="0" ack="no_ack"/>)")), "");
}

TEST(Raw, DatasizeWinsOverData) {
  EXPECT_EQ(encode(*parse(R"(<raw data="ab" datasize="3" ack="local"/>)")), std::string(3, '\0'));
}

TEST(Raw, DynamicDataAndDatasize) {
  MapVars vars;
  vars.values = {{"n", "3"}, {"who", "bob"}};
  EXPECT_EQ(encode(*parse(R"(<raw data="hi %%_who%%" ack="local"/>)", true), &vars), "hi bob");
  EXPECT_EQ(encode(*parse(R"(<raw datasize="%%_n%%" ack="local"/>)", true), &vars),
            std::string(3, '\0'));
  vars.values["n"] = "lots";
  EXPECT_EQ(encode(*parse(R"(<raw datasize="%%_n%%" ack="local"/>)", true), &vars), "");
  // without subst the markers are literal
  EXPECT_EQ(encode(*parse(R"(<raw data="%%_who%%" ack="local"/>)"), &vars), "%%_who%%");
}

TEST(Raw, LocalAckCompletesOnAnyBytes) {
  auto req = parse(R"(<raw data="x" ack="local"/>)");
  ParseResult none = offer(*req, "");
  EXPECT_EQ(none.status, ParseStatus::need_more);
  EXPECT_EQ(none.consumed, 0u);
  ParseResult some = offer(*req, "pong\n");
  EXPECT_EQ(some.status, ParseStatus::complete);
  EXPECT_EQ(some.consumed, 5u);
  ParserState state;
  state.reset();
  ResponseInfo info;
  EXPECT_FALSE(req->complete_on_eof(state, info));
}

TEST(Raw, NoAckDoesNotWait) {
  auto req = parse(R"(<raw data="x" ack="no_ack"/>)");
  EXPECT_FALSE(req->awaits_response());
  EXPECT_EQ(offer(*req, "").status, ParseStatus::complete);
}

TEST(Raw, Errors) {
  EXPECT_THROW(parse(R"(<raw data="x"/>)"), ScenarioError);  // ack required
  EXPECT_THROW(parse(R"(<raw data="x" ack="sometimes"/>)"), ScenarioError);
  EXPECT_THROW(parse(R"(<raw data="x" ack="global"/>)"), ScenarioError);  // not yet
  EXPECT_THROW(parse(R"(<raw ack="local"/>)"), ScenarioError);            // nothing to send
  EXPECT_THROW(parse(R"(<raw datasize="-1" ack="local"/>)"), ScenarioError);
  EXPECT_THROW(parse(R"(<raw datasize="12k" ack="local"/>)"), ScenarioError);
  EXPECT_THROW(parse(R"(<raw datasize="999999999999" ack="local"/>)"), ScenarioError);
  EXPECT_THROW(parse(R"(<raw data="x" ack="local" size="3"/>)"), ScenarioError);  // unknown
}

TEST(Raw, Registered) {
  ProtocolRegistry registry;
  loadctl_register_raw(registry);
  ASSERT_NE(registry.by_element("raw"), nullptr);
  EXPECT_EQ(registry.by_session_type("ts_raw"), registry.by_element("raw"));
}

}  // namespace
}  // namespace loadctl::raw

namespace loadctl::raw {
namespace {

TEST(RawExamples, EveryRequestParses) {
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(LOADCTL_SOURCE_DIR "/plugins/raw/examples/raw_echo.xml"));
  int count = 0;
  for (auto x : doc.select_nodes("//request/raw")) {
    EXPECT_NO_THROW(parse_raw_request(x.node(), RequestParseContext{}));
    ++count;
  }
  EXPECT_EQ(count, 4);
}

}  // namespace
}  // namespace loadctl::raw
