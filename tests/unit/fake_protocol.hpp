#pragma once
// A minimal protocol plugin for loader tests: <request><fake data="..."/></request> in ts_fake
// sessions. Keeps the loader tests independent of the real plugins.

#include <memory>
#include <span>
#include <string>
#include <vector>
#include <algorithm>

#include "loadctl/protocol.hpp"
#include "loadctl/xml_reader.hpp"

namespace loadctl::fake {

class FakeRequest : public RequestSpec {
 public:
  FakeRequest(Template data, bool subst, bool subst_body, std::string dir)
      : data(std::move(data)), subst(subst), subst_body(subst_body), dir(std::move(dir)) {}
  void encode(const EncodeContext& ctx, std::string& out) const override { data.render(ctx.vars, out); }
  ParseResult parse_response(ParserState&, std::span<const char> d, ResponseInfo&) const override {
    return {ParseStatus::complete, d.size()};
  }
  std::string describe() const override { return "fake"; }
  std::span<const std::string> sets_variables() const override { return sets; }

  Template data;
  bool subst, subst_body;
  std::string dir;
  std::vector<std::string> sets;  ///< sets="a b": the variables it sets (RequestSpec::sets_variables)
};

/// <option type="ts_fake" name="greeting" value=".."/>: the fake protocol's only option.
struct FakeOptions final : ProtocolOptions {
  std::string greeting;
};

class FakeProtocol : public Protocol {
 public:
  std::shared_ptr<const ProtocolOptions> parse_options(std::span<const pugi::xml_node> nodes) const override {
    auto options = std::make_shared<FakeOptions>();
    for (pugi::xml_node node : nodes) {
      XmlElement el(node);
      el.ignore({"type"});
      if (el.required("name") != "greeting") el.fail("name", "not supported yet: ts_fake option");
      options->greeting = el.required("value");
      el.finish();
    }
    return options;
  }
  std::string_view element() const override { return "fake"; }
  std::string_view session_type() const override { return "ts_fake"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element,
                                                   const RequestParseContext& ctx) const override {
    XmlElement el(element);
    Template data = el.template_attr("data", ctx.subst, "");
    std::string sets = el.optional("sets", "");
    el.finish();
    el.children({});
    auto r = std::make_shared<FakeRequest>(std::move(data), ctx.subst, ctx.subst_body, ctx.scenario_dir);
    for (std::size_t at = 0; at < sets.size();) {
      std::size_t end = std::min(sets.find(' ', at), sets.size());
      if (end > at) r->sets.push_back(sets.substr(at, end - at));
      at = end + 1;
    }
    return r;
  }
};

inline const ProtocolRegistry& fake_registry() {
  static const ProtocolRegistry registry = [] {
    ProtocolRegistry r;
    r.add(std::make_unique<FakeProtocol>());
    return r;
  }();
  return registry;
}

}  // namespace loadctl::fake
