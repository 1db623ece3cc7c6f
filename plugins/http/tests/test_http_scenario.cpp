// The http and raw plugins behind the real scenario loader: examples load, errors are located.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"

void loadctl_register_http(loadctl::ProtocolRegistry& registry);
void loadctl_register_raw(loadctl::ProtocolRegistry& registry);

namespace loadctl {
namespace {

ProtocolRegistry plugin_registry() {
  ProtocolRegistry registry;
  loadctl_register_http(registry);
  loadctl_register_raw(registry);
  return registry;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::string k_http_example = LOADCTL_SOURCE_DIR "/plugins/http/examples/http_basic.xml";
const std::string k_raw_example = LOADCTL_SOURCE_DIR "/plugins/raw/examples/raw_echo.xml";

TEST(PluginScenarios, ExamplesLoad) {
  ProtocolRegistry registry = plugin_registry();
  EXPECT_EQ(load_scenario(k_http_example, registry).sessions.size(), 1u);
  EXPECT_EQ(load_scenario(k_raw_example, registry).sessions.size(), 1u);
}

// Replaces the first `from` in the http example and returns the error of loading the result.
ScenarioError load_error(const std::string& from, const std::string& to) {
  std::string text = read(k_http_example);
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  try {
    load_scenario_text(text, "bad.xml", plugin_registry());
  } catch (const ScenarioError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << to;
  return ScenarioError("", 0, 0, "", "");
}

TEST(PluginScenarios, ErrorsNameFileLineAndElement) {
  const std::string good = R"(<http url="/" method="GET" version="1.1"/>)";
  ScenarioError e = load_error(good, R"(<http url="/" method="FETCH" version="1.1"/>)");
  EXPECT_EQ(e.file(), "bad.xml");
  EXPECT_EQ(e.line(), 27);
  EXPECT_NE(e.element_path().find("http"), std::string::npos) << e.element_path();
  EXPECT_NE(std::string(e.what()).find("method"), std::string::npos) << e.what();

  ScenarioError port = load_error(good, R"(<http url="http://h:0/"/>)");
  EXPECT_EQ(port.line(), 27);
  EXPECT_NE(port.message().find("port"), std::string::npos) << port.message();

  ScenarioError unknown = load_error(good, R"(<http url="/" bogus="1"/>)");
  EXPECT_NE(std::string(unknown.what()).find("bogus"), std::string::npos) << unknown.what();

  ScenarioError webdav = load_error(good, R"(<http url="/" method="LOCK"/>)");  // in a ts_http session
  EXPECT_EQ(webdav.line(), 27);
  EXPECT_NE(webdav.message().find("ts_webdav"), std::string::npos) << webdav.message();
}

TEST(PluginScenarios, ApplyToContentOffersTsungsDigestFunctions) {
  const std::string good = R"(<http url="/" method="GET" version="1.1"/>)";
  ScenarioError e = load_error(good, R"(<match apply_to_content="my_mod:decode">x</match>)" + good);
  EXPECT_NE(e.message().find("not supported yet: apply_to_content 'my_mod:decode'"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("ts_digest:md5hex"), std::string::npos) << e.message();
  std::string text = read(k_http_example);
  text.replace(text.find(good), good.size(), R"(<match apply_to_content="ts_digest:shahex">ab</match>)" + good);
  EXPECT_NO_THROW(load_scenario_text(text, "ok.xml", plugin_registry()));
}

TEST(PluginScenarios, WebdavSessionsUseTheHttpElement) {
  std::string text = read(k_http_example);
  const std::string session = "probability=\"100\" type=\"ts_http\"";
  text.replace(text.find(session), session.size(), "probability=\"100\" type=\"ts_webdav\"");
  const std::string good = R"(<http url="/" method="GET" version="1.1"/>)";
  text.replace(text.find(good), good.size(), R"(<http url="/d/" method="PROPFIND" contents="&lt;x/&gt;"/>)");
  Scenario s = load_scenario_text(text, "dav.xml", plugin_registry());
  EXPECT_EQ(s.sessions.at(0).type, "ts_webdav");
}

TEST(PluginScenarios, RawRequestInHttpSessionIsAnError) {
  ScenarioError e = load_error(R"(<http url="/status" method="HEAD"/>)",
                               R"(<raw data="x" ack="local"/>)");
  EXPECT_NE(e.message().find("ts_http"), std::string::npos) << e.message();
}

}  // namespace
}  // namespace loadctl
