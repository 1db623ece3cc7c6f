#pragma once
// Parsing request and option elements in a protocol plugin's unit tests, and the error a bad one
// is refused with.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "loadctl/protocol.hpp"
#include "loadctl/scenario_error.hpp"

namespace loadctl::test {

/// What a plugin is given for <request subst="...">: %%_var%% substituted in the attributes when
/// `subst`, and in the body when `subst_body` too.
inline RequestParseContext subst_context(bool subst, bool subst_body = true) {
  RequestParseContext ctx;
  ctx.subst = subst;
  ctx.subst_body = subst && subst_body;
  return ctx;
}

/// `parse` (a plugin's parse_<element>_request) on the element `xml`, as subst_context says; the
/// document ends with the call.
template <class Parse>
auto parse_request_xml(Parse parse, const char* xml, bool subst = false, bool subst_body = true) {
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_string(xml));
  return parse(doc.first_child(), subst_context(subst, subst_body));
}

/// The first element of `xml`, its document kept to the end of the test program (for requests
/// and options that point into it).
inline pugi::xml_node kept_element(const std::string& xml) {
  static std::vector<std::unique_ptr<pugi::xml_document>> docs;
  docs.push_back(std::make_unique<pugi::xml_document>());
  EXPECT_TRUE(docs.back()->load_string(xml.c_str()));
  return docs.back()->first_child();
}

/// The <option> children of the element `xml` (kept, as kept_element), for parse_options.
inline std::vector<pugi::xml_node> kept_options(const std::string& xml) {
  std::vector<pugi::xml_node> nodes;
  for (pugi::xml_node n : kept_element(xml).children("option")) nodes.push_back(n);
  return nodes;
}

/// The message of the ScenarioError `call()` throws; `none` when it throws none.
template <class Call>
std::string scenario_error_of(Call call, const std::string& none = "") {
  try {
    call();
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return none;
}

}  // namespace loadctl::test
