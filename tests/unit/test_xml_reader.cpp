// XmlElement (strict attributes, checked children), element paths, offsets, iprange expansion.

#include <gtest/gtest.h>

#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"
#include "scenario/loader_internal.hpp"

namespace {

using namespace loadctl;

class XmlReader : public ::testing::Test {
 protected:
  pugi::xml_node parse(const char* text) {
    source = text;
    EXPECT_TRUE(doc.load_buffer(source.data(), source.size()));
    return doc.document_element();
  }
  /// The message of the ScenarioError thrown by `f`, with its offset mapped to "line:column".
  template <class F>
  std::string error_of(F&& f) {
    try {
      f();
    } catch (const ScenarioError& e) {
      TextPosition p = text_position(source, e.offset());
      return std::to_string(p.line) + ":" + std::to_string(p.column) + " " + e.element_path() + " " + e.message();
    }
    return "no error";
  }
  std::string source;
  pugi::xml_document doc;
};

TEST_F(XmlReader, ReadsTypedAttributes) {
  XmlElement el(parse(R"(<e s="text" n="2.5" i="-3" b="true" c="ssl"/>)"));
  EXPECT_EQ(el.required("s"), "text");
  EXPECT_DOUBLE_EQ(el.number("n", std::nullopt), 2.5);
  EXPECT_EQ(el.integer("i", std::nullopt), -3);
  EXPECT_TRUE(el.boolean("b", false));
  EXPECT_EQ(el.choice("c", {"tcp", "ssl"}, "tcp"), "ssl");
  EXPECT_EQ(el.optional("absent", "dflt"), "dflt");
  EXPECT_FALSE(el.maybe("absent2").has_value());
  EXPECT_DOUBLE_EQ(el.number("absent3", 7.0), 7.0);
  EXPECT_NO_THROW(el.finish());
}

TEST_F(XmlReader, UnknownAttributeIsLocatedAtTheAttribute) {
  XmlElement el(parse("<root>\n  <e known=\"1\" odd=\"2\"/>\n</root>").child("e"));
  el.optional("known");
  EXPECT_EQ(error_of([&] { el.finish(); }), "2:16 /root/e unknown attribute 'odd', expected 'known'");
}

TEST_F(XmlReader, IgnoredAndUnsupportedAttributes) {
  XmlElement el(parse(R"(<e quiet="1" fancy="2"/>)"));
  el.ignore({"quiet"});
  EXPECT_EQ(error_of([&] { el.unsupported({"fancy"}); }), "1:14 /e not supported yet: attribute 'fancy' of <e>");
}

TEST_F(XmlReader, BadValues) {
  XmlElement el(parse(R"(<e n="12x" i="1.5" c="udp" b="yes" big="300"/>)"));
  EXPECT_EQ(error_of([&] { el.number("n", std::nullopt); }), "1:4 /e attribute 'n' is '12x', expected a number");
  EXPECT_EQ(error_of([&] { el.integer("i", std::nullopt); }), "1:12 /e attribute 'i' is '1.5', expected an integer");
  EXPECT_EQ(error_of([&] { el.choice("c", {"tcp", "ssl"}, "tcp"); }),
            "1:20 /e attribute 'c' is 'udp', expected 'tcp' or 'ssl'");
  EXPECT_EQ(error_of([&] { el.boolean("b", false); }), "1:28 /e attribute 'b' is 'yes', expected 'true' or 'false'");
  EXPECT_EQ(error_of([&] { el.integer("big", 0, 0, 255); }),
            "1:36 /e attribute 'big' is 300, expected an integer in [0, 255]");
  EXPECT_EQ(error_of([&] { el.required("missing"); }), "1:1 /e missing attribute 'missing'");
}

TEST_F(XmlReader, ChildrenAreChecked) {
  pugi::xml_node root = parse("<r>\n <a/><!-- note -->\n <b/>\n <c/>\n</r>");
  XmlElement el(root);
  EXPECT_EQ(el.children({"a", "b", "c"}).size(), 3u);
  EXPECT_EQ(error_of([&] { el.children({"a", "b"}); }), "4:2 /r/c unknown element <c> in <r>, expected <a>, <b>");
  XmlElement text(parse("<r> words </r>"));
  EXPECT_EQ(error_of([&] { text.children({}); }), "1:4 /r unexpected text in <r>");
}

TEST_F(XmlReader, ElementPathsIndexRepeatedSiblings) {
  pugi::xml_node root = parse("<t><s/><s><q/><q><x/></q></s></t>");
  pugi::xml_node x = root.child("s").next_sibling("s").child("q").next_sibling("q").child("x");
  EXPECT_EQ(element_path(x), "/t/s[2]/q[2]/x");
  EXPECT_EQ(element_path(root), "/t");
}

TEST_F(XmlReader, TemplateAttributesRejectErlangCalls) {
  XmlElement el(parse(R"(<e url="/a/%%_id%%" bad="%%mod:fun%%"/>)"));
  Template t = el.template_attr("url", true);
  ASSERT_EQ(t.variables().size(), 1u);
  EXPECT_TRUE(error_of([&] { el.template_attr("bad", true); })
                  .starts_with("1:21 /e not supported yet: Erlang function call %%mod:fun%% in a substitution (built "
                               "in or from plugins: "))
      << error_of([&] { el.template_attr("bad", true); });
  EXPECT_TRUE(el.template_attr("bad", false).is_literal());
}

TEST(TextPosition, CountsLinesAndCharacters) {
  std::string text = "ab\ncd\n\xc3\xa9x";  // é is two bytes, one column
  EXPECT_EQ(text_position(text, 0).line, 1);
  EXPECT_EQ(text_position(text, 4).line, 2);
  EXPECT_EQ(text_position(text, 4).column, 2);
  EXPECT_EQ(text_position(text, 8).line, 3);
  EXPECT_EQ(text_position(text, 8).column, 2);
}

TEST(IpRange, ExpandsEachDottedPart) {
  EXPECT_EQ(detail::expand_iprange("10.0.0.1"), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_EQ(detail::expand_iprange("172.28.1-2.0-1"),
            (std::vector<std::string>{"172.28.1.0", "172.28.1.1", "172.28.2.0", "172.28.2.1"}));
  EXPECT_EQ(detail::expand_iprange("127.0.0.1-254").size(), 254u);
}

TEST(IpRange, ExpandsWholeAddressRanges) {
  auto ips = detail::expand_iprange("127.0.0.254-127.0.1.1");
  EXPECT_EQ(ips, (std::vector<std::string>{"127.0.0.254", "127.0.0.255", "127.0.1.0", "127.0.1.1"}));
  EXPECT_EQ(detail::expand_iprange("127.0.0.1-127.0.0.8").size(), 8u);
}

TEST(IpRange, RejectsBadRanges) {
  EXPECT_THROW(detail::expand_iprange("10.0.0"), std::invalid_argument);
  EXPECT_THROW(detail::expand_iprange("10.0.0.256"), std::invalid_argument);
  EXPECT_THROW(detail::expand_iprange("10.0.0.9-3"), std::invalid_argument);
  EXPECT_THROW(detail::expand_iprange("10.0.0.1-2-3"), std::invalid_argument);
  EXPECT_THROW(detail::expand_iprange("10.0-255.0-255.0-255"), std::invalid_argument);  // too many
  EXPECT_THROW(detail::expand_iprange("127.0.0.8-127.0.0.1"), std::invalid_argument);
}

TEST(IpLiteral, RecognisesV4AndV6) {
  EXPECT_TRUE(detail::is_ip_literal("198.18.0.2"));
  EXPECT_TRUE(detail::is_ip_literal("::1"));
  EXPECT_FALSE(detail::is_ip_literal("localhost"));
  EXPECT_FALSE(detail::is_ip_literal("10.0.0"));
}

}  // namespace

TEST(IpRange, ExpandsIpv6WholeAddressRanges) {
  EXPECT_EQ(detail::expand_iprange_v6("fd00::fe-fd00::101"),
            (std::vector<std::string>{"fd00::fe", "fd00::ff", "fd00::100", "fd00::101"}));
  EXPECT_THROW(detail::expand_iprange_v6("fd00::1-fd01::1"), std::invalid_argument);
  EXPECT_THROW(detail::expand_iprange_v6("fd00::2-fd00::1"), std::invalid_argument);
}
