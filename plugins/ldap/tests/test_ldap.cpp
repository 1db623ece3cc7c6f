// The LDAP plugin: the BER codec (bounded lengths, malformed input), RFC 4515 filters (Tsung's
// syntax, malformed filters, depth bound), <ldap> parsing, the messages it sends, and the
// connection's behaviour against scripted server bytes through a fake ConnectionServices.
#include <gtest/gtest.h>

#include <pugixml.hpp>

#include "ber.hpp"
#include "ldap_filter.hpp"
#include "ldap_request.hpp"
#include "loadctl/connection.hpp"
#include "loadctl/scenario_error.hpp"
#include "support/fake_conn_services.hpp"
#include "support/map_vars.hpp"
#include "support/parse_request.hpp"

namespace loadctl::ldap {
namespace {

using loadctl::test::MapVars;

std::string hex_of(std::string_view s) {
  static const char digits[] = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) {
    if (!h.empty()) h.push_back(' ');
    h.push_back(digits[c >> 4]);
    h.push_back(digits[c & 15]);
  }
  return h;
}

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// --- BER -----------------------------------------------------------------------------------

TEST(LdapBer, IntegersAreMinimalTwosComplement) {
  auto enc = [](std::int64_t v) {
    std::string out;
    BerWriter(out).integer(tag::integer, v);
    return hex_of(out);
  };
  EXPECT_EQ(enc(0), "02 01 00");
  EXPECT_EQ(enc(3), "02 01 03");
  EXPECT_EQ(enc(127), "02 01 7f");
  EXPECT_EQ(enc(128), "02 02 00 80");
  EXPECT_EQ(enc(256), "02 02 01 00");
  EXPECT_EQ(enc(-1), "02 01 ff");
  EXPECT_EQ(enc(-129), "02 02 ff 7f");
  EXPECT_EQ(enc(0x7fffffff), "02 04 7f ff ff ff");
  for (std::int64_t v : {0LL, 1LL, 127LL, 128LL, 255LL, 65536LL, -1LL, -128LL, -129LL, 0x7fffffffLL}) {
    std::string out;
    BerWriter(out).integer(tag::integer, v);
    std::int64_t back = 0;
    ASSERT_TRUE(decode_integer(std::string_view(out).substr(2), back));
    EXPECT_EQ(back, v);
  }
}

TEST(LdapBer, LongLengthsAreBackPatched) {
  std::string out;
  BerWriter w(out);
  std::size_t outer = w.open(tag::sequence);
  w.octets(tag::octet_string, std::string(200, 'x'));
  std::size_t inner = w.open(tag::sequence);
  w.octets(tag::octet_string, std::string(70000, 'y'));
  w.close(inner);
  w.close(outer);
  // 200 -> 81 c8; 70000 (+ its header 04 83 01 11 70) -> 83 01 11 75; outer: 203 + 70010 = 70213.
  EXPECT_EQ(hex_of(out.substr(0, 5)), "30 83 01 12 45");
  EXPECT_EQ(hex_of(out.substr(5, 3)), "04 81 c8");
  EXPECT_EQ(hex_of(out.substr(208, 10)), "30 83 01 11 75 04 83 01 11 70");
  BerReader r(out);
  BerTlv seq;
  ASSERT_TRUE(r.next(seq));
  EXPECT_TRUE(r.done());
  BerReader in(seq.value);
  BerTlv a, b;
  ASSERT_TRUE(in.expect(tag::octet_string, a));
  ASSERT_TRUE(in.expect(tag::sequence, b));
  EXPECT_EQ(a.value.size(), 200u);
  EXPECT_EQ(b.value.size(), 70005u);
  EXPECT_TRUE(in.done());
}

TEST(LdapBer, HeadersAreBounded) {
  std::uint8_t t = 0;
  std::size_t header = 0, length = 0;
  auto read = [&](const std::string& s, std::size_t limit = 1 << 20) {
    return read_header(std::span<const char>(s.data(), s.size()), limit, t, header, length);
  };
  EXPECT_EQ(read(""), BerStatus::need_more);
  EXPECT_EQ(read(bytes({0x30})), BerStatus::need_more);
  EXPECT_EQ(read(bytes({0x30, 0x82, 0x01})), BerStatus::need_more);
  ASSERT_EQ(read(bytes({0x30, 0x82, 0x01, 0x00})), BerStatus::ok);
  EXPECT_EQ(header, 4u);
  EXPECT_EQ(length, 256u);
  // A length larger than the largest frame is refused before any byte of it is awaited.
  EXPECT_EQ(read(bytes({0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}), 16 << 20), BerStatus::too_large);
  EXPECT_EQ(read(bytes({0x30, 0x82, 0x01, 0x01}), 256), BerStatus::too_large);
  EXPECT_EQ(read(bytes({0x30, 0x80, 0x00, 0x00})), BerStatus::malformed);        // indefinite
  EXPECT_EQ(read(bytes({0x30, 0x85, 1, 0, 0, 0, 0})), BerStatus::malformed);     // 5 length octets
  EXPECT_EQ(read(bytes({0x1f, 0x81, 0x01, 0x00})), BerStatus::malformed);        // multi-byte tag
  EXPECT_EQ(read(bytes({0x30, 0xff})), BerStatus::malformed);
}

TEST(LdapBer, ReaderRefusesElementsLongerThanTheirContainer) {
  BerTlv tlv;
  for (const std::string& bad : {bytes({0x04, 0x05, 'a', 'b'}),  // says 5, holds 2
                                 bytes({0x04}), bytes({0x04, 0x84, 0xff, 0xff, 0xff, 0xff})}) {
    BerReader r(bad);
    EXPECT_FALSE(r.next(tlv));
    EXPECT_FALSE(r.done());
  }
  std::int64_t v = 0;
  EXPECT_FALSE(decode_integer("", v));
  EXPECT_FALSE(decode_integer(std::string(9, '\x01'), v));
}

// --- filters -------------------------------------------------------------------------------

std::string encoded_filter(std::string_view text, const VariableSource* vars = nullptr, bool subst = false) {
  FilterNode f;
  FilterError e;
  MakeTemplate make = [subst](std::string_view t) { return Template(t, subst); };
  if (!parse_filter(text, make, f, e)) return "error at " + std::to_string(e.offset) + ": " + e.message;
  std::string out;
  BerWriter w(out);
  EncodeContext ctx;
  ctx.vars = vars;
  encode_filter(w, f, ctx);
  return hex_of(out);
}

TEST(LdapFilter, ItemsEncodeAsRfc4511) {
  EXPECT_EQ(encoded_filter("(cn=user2)"), "a3 0b 04 02 63 6e 04 05 75 73 65 72 32");
  EXPECT_EQ(encoded_filter("(cn=*)"), "87 02 63 6e");
  EXPECT_EQ(encoded_filter("(cn>=b)"), "a5 07 04 02 63 6e 04 01 62");
  EXPECT_EQ(encoded_filter("(cn<=b)"), "a6 07 04 02 63 6e 04 01 62");
  EXPECT_EQ(encoded_filter("(cn~=b)"), "a8 07 04 02 63 6e 04 01 62");
  EXPECT_EQ(encoded_filter("(cn=)"), "a3 06 04 02 63 6e 04 00");
  // Substrings: initial [0], any [1], final [2]; leading/trailing '*' leave initial/final out.
  EXPECT_EQ(encoded_filter("(cn=a*b*c)"), "a4 0f 04 02 63 6e 30 09 80 01 61 81 01 62 82 01 63");
  EXPECT_EQ(encoded_filter("(cn=*b*)"), "a4 09 04 02 63 6e 30 03 81 01 62");
  EXPECT_EQ(encoded_filter("(cn=a*)"), "a4 09 04 02 63 6e 30 03 80 01 61");
}

TEST(LdapFilter, CompositesEscapesAndSpaces) {
  EXPECT_EQ(encoded_filter("(&(a=1)(!(b=2)))"), "a0 12 a3 06 04 01 61 04 01 31 a2 08 a3 06 04 01 62 04 01 32");
  EXPECT_EQ(encoded_filter("(|(a=1)(b=*))"), "a1 0b a3 06 04 01 61 04 01 31 87 01 62");
  EXPECT_EQ(encoded_filter("(&)"), "a0 00");
  // Tsung's example: \5c is a backslash; \2a a literal star (no substring).
  EXPECT_EQ(encoded_filter("(filename=C:\\5cMyFile)"), encoded_filter("(filename=C:\\5CMyFile)"));
  EXPECT_NE(encoded_filter("(filename=C:\\5cMyFile)").find("43 3a 5c 4d"), std::string::npos);
  EXPECT_EQ(encoded_filter("(cn=a\\2ab)"), "a3 09 04 02 63 6e 04 03 61 2a 62");
  // As Tsung's tokenizer, spaces around the parts are dropped.
  EXPECT_EQ(encoded_filter(" ( & ( cn = user2 ) ) "), encoded_filter("(&(cn=user2))"));
  EXPECT_EQ(encoded_filter("(cn=John Smith)").substr(0, 5), "a3 10");
}

TEST(LdapFilter, ValuesAreSubstituted) {
  MapVars vars;
  vars.values["u"] = "bob*";  // a substituted value is sent as is (not a filter any more)
  EXPECT_EQ(encoded_filter("(&(cn=a*%%_u%%*n)(uid=%%_u%%))", &vars, true),
            encoded_filter("(&(cn=a*bob\\2a*n)(uid=bob\\2a))"));
  // Without subst the text stays literal.
  EXPECT_NE(encoded_filter("(uid=%%_u%%)", &vars, false).find("25 25 5f 75 25 25"), std::string::npos);
}

TEST(LdapFilter, MalformedFiltersAreRefused) {
  for (const char* bad : {"", "cn=x", "(cn=x", "(cn=x))", "(=x)", "(cn~x)", "(cn>x)", "(cn=a\\zz)", "(cn=a\\5)",
                          "(cn=(x))", "(cn=a**b)", "(cn>=a*)", "(&(a=1)b)", "(!)", "(!(a=1)(b=2))", "()", "(cn)",
                          "(&(a=1)", "(a=1)(b=2)", "(cn=x\\"})
    EXPECT_EQ(encoded_filter(bad).rfind("error at ", 0), 0u) << bad;
  FilterNode f;
  FilterError e;
  MakeTemplate make = [](std::string_view t) { return Template(t, false); };
  EXPECT_FALSE(parse_filter("(cn:dn:=x)", make, f, e));
  EXPECT_TRUE(e.unsupported);
  EXPECT_FALSE(parse_filter("(cn=x", make, f, e));
  EXPECT_EQ(e.offset, 5u);
  EXPECT_FALSE(e.unsupported);
}

TEST(LdapFilter, NestingIsBounded) {
  auto nested = [](int depth) {
    std::string s;
    for (int i = 1; i < depth; ++i) s += "(!";
    s += "(a=1)";
    for (int i = 1; i < depth; ++i) s += ")";
    return s;
  };
  EXPECT_EQ(encoded_filter(nested(kMaxFilterDepth)).rfind("error", 0), std::string::npos);
  EXPECT_NE(encoded_filter(nested(kMaxFilterDepth + 1)).find("nested deeper"), std::string::npos);
  // Far deeper input fails at the bound, not by exhausting the stack.
  std::string deep;
  for (int i = 0; i < 500'000; ++i) deep += "(!";
  EXPECT_NE(encoded_filter(deep).find("nested deeper"), std::string::npos);
}

// --- requests ------------------------------------------------------------------------------

std::shared_ptr<const LdapRequest> parse(const char* xml, bool subst = false) {
  return test::parse_request_xml(parse_ldap_request, xml, subst);
}

std::string error_of(const char* xml) {
  return test::scenario_error_of([&] { parse(xml); });
}

std::string message(const char* xml, std::int32_t id = 1, const VariableSource* vars = nullptr, bool subst = false) {
  auto r = parse(xml, subst);
  std::string out;
  EncodeContext ctx;
  ctx.vars = vars;
  r->encode_with(ctx, out, id);
  return hex_of(out);
}

TEST(LdapRequest, BindUnbindStartTls) {
  EXPECT_EQ(message(R"x(<ldap type="bind" user="cn=x" password="y"/>)x"),
            "30 11 02 01 01 60 0c 02 01 03 04 04 63 6e 3d 78 80 01 79");
  EXPECT_EQ(message(R"x(<ldap type="unbind"/>)x", 7), "30 05 02 01 07 42 00");
  EXPECT_EQ(message(R"x(<ldap type="start_tls"/>)x", 2),
            "30 1d 02 01 02 77 18 80 16 31 2e 33 2e 36 2e 31 2e 34 2e 31 2e 31 34 36 36 2e 32 30 30 33 37");
  MapVars vars;
  vars.values["pw"] = "y";
  EXPECT_EQ(message(R"x(<ldap type="bind" user="cn=x" password="%%_pw%%"/>)x", 1, &vars, true),
            "30 11 02 01 01 60 0c 02 01 03 04 04 63 6e 3d 78 80 01 79");
}

TEST(LdapRequest, Search) {
  // base "dc=a", wholeSubtree, neverDerefAliases, no limits, typesOnly false, (cn=*), all attributes.
  EXPECT_EQ(message(R"x(<ldap type="search" base="dc=a" filter="(cn=*)" scope="wholeSubtree"/>)x"),
            "30 20 02 01 01 63 1b 04 04 64 63 3d 61 0a 01 02 0a 01 00 02 01 00 02 01 00 01 01 00 87 02 63 6e 30 00");
  EXPECT_NE(message(R"x(<ldap type="search" base="" filter="(cn=*)" scope="baseObject" attributes="cn, sn"/>)x")
                .find("0a 01 00 0a 01 00 02 01 00 02 01 00 01 01 00 87 02 63 6e 30 08 04 02 63 6e 04 02 73 6e"),
            std::string::npos);
  EXPECT_NE(message(R"x(<ldap type="search" base="" filter="(cn=*)" scope="singleLevel"/>)x").find("0a 01 01 0a 01 00"),
            std::string::npos);
  auto r = parse(R"x(<ldap type="search" base="dc=a" filter="(cn=*)" scope="wholeSubtree" result_var="found"/>)x");
  EXPECT_EQ(r->result_var, "found");
  EXPECT_EQ(r->describe(), "ldap search dc=a");
}

TEST(LdapRequest, AddModifyDelete) {
  const char* add = R"x(<ldap type="add" dn="cn=n,dc=a">
      <attr type="objectClass"><value>person</value><value>top</value></attr>
      <attr type="cn"><value>%%_cn%%</value></attr></ldap>)x";
  MapVars vars;
  vars.values["cn"] = "n";
  EXPECT_EQ(message(add, 3, &vars, true),
            "30 3b 02 01 03 68 36 04 09 63 6e 3d 6e 2c 64 63 3d 61 30 29 30 1c 04 0b 6f 62 6a 65 63 74 43 6c 61 73 73 "
            "31 0d 04 06 70 65 72 73 6f 6e 04 03 74 6f 70 30 09 04 02 63 6e 31 03 04 01 6e");
  // Tsung's example: empty <modification type="add"/> and "delete" add no change.
  const char* modify = R"x(<ldap type="modify" dn="cn=n" >
      <modification type="add"/>
      <modification type="replace"><attr type="sn"><value>S</value></attr></modification>
      <modification type="delete"><attr type="mail"/></modification></ldap>)x";
  EXPECT_EQ(message(modify),
            "30 2c 02 01 01 66 27 04 04 63 6e 3d 6e 30 1f 30 0e 0a 01 02 30 09 04 02 73 6e 31 03 04 01 53 "
            "30 0d 0a 01 01 30 08 04 04 6d 61 69 6c 31 00");
  EXPECT_EQ(message(R"x(<ldap type="delete" dn="cn=n"/>)x", 4), "30 09 02 01 04 4a 04 63 6e 3d 6e");
}

TEST(LdapRequest, ErrorsNameTheProblem) {
  EXPECT_NE(error_of(R"x(<ldap/>)x").find("missing attribute 'type'"), std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="modifyrdn"/>)x").find("type"), std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="search" base="" scope="wholeSubtree"/>)x").find("filter"), std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="search" base="" filter="(cn=*)"/>)x").find("needs a scope"), std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="search" base="" filter="(cn=*)" scope="sub"/>)x").find("scope"), std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="search" base="" filter="cn=*" scope="baseObject"/>)x").find("bad filter"), std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="search" base="" filter="(cn:dn:=x)" scope="baseObject"/>)x").find("not supported yet"),
            std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="start_tls" cacertfile="/x.pem"/>)x").find("not supported yet"), std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="add"/>)x").find("needs a dn"), std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="bind" user="x" filter="(a=b)"/>)x").find("filter"), std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="add" dn="x"><modification type="add"/></ldap>)x").find("modification"),
            std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="modify" dn="x"><modification type="increment"/></ldap>)x").find("type"),
            std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="unbind"><attr type="x"/></ldap>)x").find("takes no child elements"), std::string::npos);
}

/// The error of `xml` located as the loader does, in a file "l.xml".
std::string located_error_of(const char* xml) {
  try {
    parse(xml);
  } catch (const ScenarioError& e) {
    return locate(e, "l.xml", xml).what();
  }
  return "";
}

TEST(LdapRequest, ErrorsAreLocated) {
  // Text inside <ldap> (no child may hold it) is refused where it starts.
  EXPECT_EQ(located_error_of("<ldap type=\"bind\" user=\"x\">\n  oops</ldap>").substr(0, 12), "l.xml:1:28: ");
  EXPECT_NE(located_error_of("<ldap type=\"bind\" user=\"x\">\n  oops</ldap>").find("unexpected text in <ldap>"),
            std::string::npos);
  EXPECT_EQ(located_error_of("<ldap type=\"unbind\">\n  <!-- c --> </ldap>"), "");  // blank is fine
  // The attribute's position, for a bad filter and an empty attribute name.
  std::string e = located_error_of("<ldap type=\"search\" base=\"\" scope=\"baseObject\"\n      filter=\"(c n=x)\"/>");
  EXPECT_EQ(e.substr(0, 12), "l.xml:2:7: /") << e;
  EXPECT_NE(e.find("bad attribute description 'c n'"), std::string::npos) << e;
  e = located_error_of("<ldap type=\"search\" base=\"\" scope=\"baseObject\" filter=\"(cn=*)\"\n  attributes=\"cn,\"/>");
  EXPECT_EQ(e.substr(0, 12), "l.xml:2:3: /") << e;
  EXPECT_NE(e.find("empty name in attribute list 'cn,'"), std::string::npos) << e;
  e = located_error_of("<ldap type=\"add\" dn=\"cn=n\">\n <attr type=\"cn\"/></ldap>");
  EXPECT_EQ(e.substr(0, 12), "l.xml:2:2: /") << e;
  EXPECT_NE(e.find("<attr type=\"cn\"> to add needs a <value>"), std::string::npos) << e;
}

TEST(LdapRequest, AttributeNamesAreChecked) {
  const char* head = R"x(<ldap type="search" base="" scope="baseObject" filter="(cn=*)" attributes=")x";
  auto attrs = [&](const char* list) { return error_of((std::string(head) + list + "\"/>").c_str()); };
  EXPECT_NE(attrs("").find("empty name"), std::string::npos);
  EXPECT_NE(attrs("cn,").find("empty name"), std::string::npos);
  EXPECT_NE(attrs("cn,,sn").find("empty name"), std::string::npos);
  EXPECT_NE(attrs("c n").find("bad attribute name 'c n'"), std::string::npos);
  EXPECT_EQ(attrs("cn, sn;lang-en, 2.5.4.3, *, +, 1.1"), "");
  auto r = parse((std::string(head) + "cn, *\"/>").c_str());
  EXPECT_EQ(r->attributes, (std::vector<std::string>{"cn", "*"}));
  // Filters: RFC 4512 descriptors or OIDs, then options; anything else is refused.
  for (const char* good : {"(cn=x)", "(userPassword;binary=x)", "(2.5.4.3=x)", "(x-1=y)", "(0=y)"})
    EXPECT_TRUE(valid_attribute_description(std::string_view(good).substr(1, std::string_view(good).find('=') - 1)))
        << good;
  for (const char* bad : {"1cn", "c_n", "2.5..3", "2.5.", "01.2", "cn;", "cn;a;", "cn;l_x", "-cn", "c.n"})
    EXPECT_FALSE(valid_attribute_description(bad)) << bad;
  EXPECT_NE(error_of(R"x(<ldap type="search" base="" scope="baseObject" filter="(&(c$=x)(sn=y))"/>)x")
                .find("bad attribute description 'c$'"),
            std::string::npos);
  EXPECT_NE(error_of(R"x(<ldap type="add" dn="x"><attr type="c n"><value>v</value></attr></ldap>)x").find("bad attribute type"),
            std::string::npos);
  // A modification's <attr> may have no value (delete or replace the whole attribute).
  EXPECT_EQ(error_of(R"x(<ldap type="modify" dn="x"><modification type="delete"><attr type="cn"/></modification></ldap>)x"), "");
}

// --- messages and the connection -----------------------------------------------------------

/// An LDAPMessage: id, then the protocolOp of tag `op` holding `content`.
std::string server_message(int id, int op, const std::string& content) {
  std::string out;
  BerWriter w(out);
  std::size_t m = w.open(tag::sequence);
  w.integer(tag::integer, id);
  w.octets(static_cast<std::uint8_t>(op), content);
  w.close(m);
  return out;
}

std::string result(int code, std::string_view diagnostic = "") {
  std::string out;
  BerWriter w(out);
  w.integer(tag::enumerated, code);
  w.octets(tag::octet_string, "");
  w.octets(tag::octet_string, diagnostic);
  return out;
}

std::string entry(std::string_view dn) {
  std::string out;
  BerWriter w(out);
  w.octets(tag::octet_string, dn);
  std::size_t attrs = w.open(tag::sequence);
  w.close(attrs);
  return out;
}

TEST(LdapMessage, Decode) {
  LdapMessage m;
  ASSERT_TRUE(decode_message(bytes({0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x31, 0x04, 0x00, 0x04, 0x00}), m));
  EXPECT_EQ(m.id, 1);
  EXPECT_EQ(m.op, tag::bind_response);
  EXPECT_EQ(m.result_code, 49);  // invalidCredentials
  std::string e = server_message(5, tag::search_entry, entry("uid=a,dc=b"));  // m points into it
  ASSERT_TRUE(decode_message(e, m));
  EXPECT_EQ(m.dn, "uid=a,dc=b");
  EXPECT_FALSE(decode_message(bytes({0x30, 0x03, 0x02, 0x01, 0x01}), m));              // no protocolOp
  EXPECT_FALSE(decode_message(bytes({0x30, 0x05, 0x04, 0x01, 0x01, 0x42, 0x00}), m));  // id not an INTEGER
  EXPECT_FALSE(decode_message(server_message(1, tag::bind_response, bytes({0x0a, 0x01})), m));  // truncated result
  EXPECT_FALSE(decode_message(server_message(1, tag::add_response, bytes({0x04, 0x00})), m));   // no resultCode
  EXPECT_FALSE(decode_message(server_message(1, tag::search_entry, ""), m));                    // no objectName
}

using FakeServices = loadctl::test::FakeConnServices;

struct Client {
  FakeServices s;
  std::unique_ptr<Connection> conn;
  explicit Client(std::size_t max_frame = 1 << 20) {
    ConnectionContext ctx;
    ctx.max_frame_size = max_frame;
    conn = ProtocolRegistry::builtin().by_element("ldap")->open_connection(ctx);
    EXPECT_FALSE(conn->on_open(s));
  }
  std::string send(const RequestSpec& r) {
    std::string out;
    conn->encode(s, r, EncodeContext{}, out);
    return out;
  }
  /// Feeds `data` as the engine does (again with the rest while something is consumed);
  /// returns the events, one letter each: n(one) c(omplete) C(lose) f(atal).
  std::string feed(const RequestSpec* pending, std::string data) {
    std::string events;
    while (!data.empty()) {
      ResponseInfo info;
      ConnResult r = conn->on_data(s, pending, data, info);
      char e = r.event == ConnEvent::none ? 'n' : r.event == ConnEvent::complete ? 'c' : r.event == ConnEvent::close ? 'C'
             : r.event == ConnEvent::fatal ? 'f' : '?';
      events.push_back(e);
      if (r.event == ConnEvent::fatal) error = info.error ? info.error : "";
      if (r.consumed == 0) break;
      data.erase(0, r.consumed);
    }
    return events;
  }
  std::string error;
};

TEST(LdapConnection, SearchReadsEntriesUntilDone) {
  Client c;
  auto search = parse(R"x(<ldap type="search" base="dc=a" filter="(cn=*)" scope="wholeSubtree" result_var="dns"/>)x");
  std::string sent = c.send(*search);
  EXPECT_EQ(sent.substr(2, 3), bytes({0x02, 0x01, 0x01}));  // first message id: 1
  std::string m1 = server_message(1, tag::search_entry, entry("uid=a,dc=a"));
  std::string m2 = server_message(1, tag::search_reference, bytes({0x04, 0x01, 'u'}));
  std::string m3 = server_message(1, tag::search_entry, entry("uid=b,dc=a"));
  std::string m4 = server_message(1, tag::search_done, result(0));
  // A message cut in two: nothing of it is consumed until it is whole.
  EXPECT_EQ(c.feed(search.get(), m1 + m2.substr(0, 3)), "nn");
  EXPECT_EQ(c.feed(search.get(), m2 + m3 + m4), "nnc");
  EXPECT_EQ(c.s.get("ldap_search_entries"), 2u);
  EXPECT_EQ(c.s.var_name, "dns");
  EXPECT_EQ(c.s.var_value, "uid=a,dc=a\nuid=b,dc=a");
}

TEST(LdapConnection, ResultsAndErrorsAreCountedAsTsung) {
  // A "C" (close) ends the connection: what follows uses a new one (message ids from 1 again).
  auto bind = parse(R"x(<ldap type="bind" user="cn=x" password="bad"/>)x");
  {
    Client c;
    c.send(*bind);
    EXPECT_EQ(c.feed(bind.get(), server_message(1, tag::bind_response, result(49))), "C");  // ts_ldap closes
    EXPECT_EQ(c.s.get("ldap_bind_error"), 1u);
    EXPECT_EQ(c.s.get("ldap_bind_ok"), 0u);
  }
  auto add = parse(R"x(<ldap type="add" dn="cn=n"/>)x");
  {
    Client c;
    c.send(*bind);
    EXPECT_EQ(c.feed(bind.get(), server_message(1, tag::bind_response, result(0))), "c");
    EXPECT_EQ(c.s.get("ldap_bind_ok"), 1u);
    c.send(*add);
    EXPECT_EQ(c.feed(add.get(), server_message(2, tag::add_response, result(68))), "C");  // entryAlreadyExists
    EXPECT_EQ(c.s.get("ldap_add_error"), 1u);
  }
  auto modify = parse(R"x(<ldap type="modify" dn="cn=n"/>)x");
  {
    Client c;
    c.send(*modify);
    EXPECT_EQ(c.feed(modify.get(), server_message(1, tag::modify_response, result(0))), "c");
    c.send(*modify);
    EXPECT_EQ(c.feed(modify.get(), server_message(2, tag::modify_response, result(32))), "C");
    EXPECT_EQ(c.s.get("ldap_modify_error"), 1u);
  }
  Client c;
  // A response of another kind, and one for another message id, are unexpected; only the first
  // acknowledges the request.
  c.send(*modify);
  EXPECT_EQ(c.feed(modify.get(), server_message(99, tag::modify_response, result(0)) +
                                     server_message(1, tag::del_response, result(0))), "nc");
  EXPECT_EQ(c.s.get("ldap_unexpected_msg_resp"), 2u);
  // A BindResponse answers a bind only: to a search it is unexpected, and no ldap_bind_ok.
  auto search_all = parse(R"x(<ldap type="search" base="dc=a" filter="(cn=*)" scope="wholeSubtree"/>)x");
  c.send(*search_all);
  EXPECT_EQ(c.feed(search_all.get(), server_message(2, tag::bind_response, result(0))), "c");
  EXPECT_EQ(c.s.get("ldap_bind_ok"), 0u);
  EXPECT_EQ(c.s.get("ldap_unexpected_msg_resp"), 3u);
  auto search = parse(R"x(<ldap type="search" base="dc=a" filter="(cn=*)" scope="wholeSubtree"/>)x");
  c.send(*search);
  EXPECT_EQ(c.feed(search.get(), server_message(3, tag::search_done, result(32))), "c");
  EXPECT_EQ(c.s.get("ldap_search_error"), 1u);
  EXPECT_EQ(c.s.get("ldap_search_entries"), 0u);
}

TEST(LdapConnection, IntermediateResponsesDoNotCompleteTheSearch) {
  Client c;
  auto search = parse(R"x(<ldap type="search" base="dc=a" filter="(cn=*)" scope="wholeSubtree"/>)x");
  c.send(*search);
  EXPECT_EQ(c.feed(search.get(), server_message(1, tag::intermediate_response, "") +
                                     server_message(1, tag::search_entry, entry("uid=a")) +
                                     server_message(1, tag::intermediate_response, bytes({0x80, 0x01, '1'})) +
                                     server_message(1, tag::search_done, result(0))),
            "nnnc");
  EXPECT_EQ(c.s.get("ldap_unexpected_msg_resp"), 0u);
  EXPECT_EQ(c.s.get("ldap_search_entries"), 1u);
}

TEST(LdapConnection, ResultVarIsBoundedAndNotInherited) {
  auto search = parse(R"x(<ldap type="search" base="dc=a" filter="(cn=*)" scope="wholeSubtree" result_var="dns"/>)x");
  std::string dn60(60, 'x');
  {
    // Two DNs of 60 bytes do not fit in a 100-byte frame limit: the user ends, named.
    Client c(100);
    c.send(*search);
    EXPECT_EQ(c.feed(search.get(), server_message(1, tag::search_entry, entry(dn60)) +
                                       server_message(1, tag::search_entry, entry(dn60))),
              "nf");
    EXPECT_EQ(c.error, "ldap_result_var_too_large");
    EXPECT_EQ(c.s.var_name, "");
  }
  {
    // Without result_var nothing is collected, so nothing is bounded but each frame.
    Client c(100);
    auto plain = parse(R"x(<ldap type="search" base="dc=a" filter="(cn=*)" scope="wholeSubtree"/>)x");
    c.send(*plain);
    EXPECT_EQ(c.feed(plain.get(), server_message(1, tag::search_entry, entry(dn60)) +
                                      server_message(1, tag::search_entry, entry(dn60)) +
                                      server_message(1, tag::search_done, result(0))),
              "nnc");
  }
  Client c;
  c.send(*search);
  EXPECT_EQ(c.feed(search.get(), server_message(1, tag::search_entry, entry("uid=a")) +
                                     server_message(1, tag::search_done, result(0))), "nc");
  EXPECT_EQ(c.s.var_value, "uid=a");
  // A second search gets only its own DNs; one cut short (no SearchResultDone before the next
  // request) leaves nothing behind either.
  c.send(*search);
  EXPECT_EQ(c.feed(search.get(), server_message(2, tag::search_entry, entry("uid=b"))), "n");
  c.send(*search);
  EXPECT_EQ(c.feed(search.get(), server_message(3, tag::search_entry, entry("uid=c")) +
                                     server_message(3, tag::search_done, result(0))), "nc");
  EXPECT_EQ(c.s.var_value, "uid=c");
  // A search that finds nothing does not set the variable (as Tsung).
  c.s.var_name.clear();
  c.send(*search);
  EXPECT_EQ(c.feed(search.get(), server_message(4, tag::search_done, result(0))), "c");
  EXPECT_EQ(c.s.var_name, "");
}

TEST(LdapConnection, UnsolicitedMessagesAndEof) {
  Client c;
  auto tls = parse(R"x(<ldap type="start_tls"/>)x");
  c.send(*tls);
  // A Notice of Disconnection (id 0, RFC 4511 4.4.1) while StartTLS is pending: no TLS.
  std::string notice = server_message(0, tag::extended_response, result(52));  // unavailable
  EXPECT_EQ(c.feed(tls.get(), notice), "n");
  EXPECT_EQ(c.s.tls_started, 0);
  EXPECT_EQ(c.s.get("ldap_unexpected_msg_resp"), 1u);
  EXPECT_EQ(c.s.get("ldap_starttls_error"), 0u);
  // Nothing pending (the user thinks): consumed, not counted.
  EXPECT_EQ(c.feed(nullptr, notice + server_message(1, tag::extended_response, result(0))), "nn");
  EXPECT_EQ(c.s.get("ldap_unexpected_msg_resp"), 1u);
  EXPECT_EQ(c.s.tls_started, 0);
  // The server closing completes a pending request (ts_ldap's parse(closed, ...)), else nothing.
  ResponseInfo info;
  EXPECT_TRUE(c.conn->on_eof(tls.get(), info));
  EXPECT_FALSE(c.conn->on_eof(nullptr, info));
}

TEST(LdapConnection, StartTls) {
  Client c;
  auto tls = parse(R"x(<ldap type="start_tls"/>)x");
  c.send(*tls);
  EXPECT_EQ(c.feed(tls.get(), server_message(1, tag::extended_response, result(0))), "n");
  EXPECT_EQ(c.s.tls_started, 1);
  EXPECT_EQ(c.conn->on_tls_ready(c.s), ConnEvent::complete);
  c.send(*tls);
  EXPECT_EQ(c.feed(tls.get(), server_message(2, tag::extended_response, result(2))), "c");  // protocolError
  EXPECT_EQ(c.s.tls_started, 1);
  EXPECT_EQ(c.s.get("ldap_starttls_error"), 1u);
}

TEST(LdapConnection, MalformedAndOversizedFramesEndTheUser) {
  auto bind = parse(R"x(<ldap type="bind"/>)x");
  {
    Client c(1000);
    c.send(*bind);
    // Announces 2 GiB: refused from its 6-byte header, nothing buffered.
    EXPECT_EQ(c.feed(bind.get(), bytes({0x30, 0x84, 0x7f, 0xff, 0xff, 0xff})), "f");
    EXPECT_EQ(c.error, "ldap_frame_too_large");
  }
  for (const std::string& bad : {bytes({0x04, 0x01, 0x00}), bytes({0x30, 0x80, 0x00, 0x00}),
                                 bytes({0x30, 0x03, 0x02, 0x01, 0x01}), bytes({0x30, 0x02, 0x04, 0x00})}) {
    Client c;
    c.send(*bind);
    EXPECT_EQ(c.feed(bind.get(), bad), "f") << hex_of(bad);
    EXPECT_EQ(c.error, "ldap_malformed");
  }
  Client c;
  c.send(*bind);
  EXPECT_EQ(c.feed(bind.get(), bytes({0x30})), "n");  // a partial header waits for more
}

}  // namespace
}  // namespace loadctl::ldap
