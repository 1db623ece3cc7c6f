// The SNMP GetRequest encoder and GetResponse decoder of <monitor type="snmp">.

#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "monitor/snmp_ber.hpp"

namespace {

using namespace loadctl::monitor;

std::string ber_bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

TEST(SnmpBer, GetRequestMatchesTheTextbookMessage) {
  // snmpget -v1 -c public host sysUpTime.0, request id 1 (as Wireshark shows it).
  std::string expected = ber_bytes({0x30, 0x26, 0x02, 0x01, 0x00, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c', 0xa0, 0x19,
                                0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
                                0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x05, 0x00});
  EXPECT_EQ(encode_snmp_get(0, "public", 1, {{1, 3, 6, 1, 2, 1, 1, 3, 0}}), expected);
  // Multi-byte arcs (2021 = 0x8f 0x65) and a request id with its high bit set (a leading 0).
  std::string m = encode_snmp_get(1, "c", 200, {{1, 3, 6, 1, 4, 1, 2021, 10, 1, 5, 1}});
  EXPECT_NE(m.find(ber_bytes({0x02, 0x01, 0x01})), std::string::npos);        // version 1 = v2c
  EXPECT_NE(m.find(ber_bytes({0x02, 0x02, 0x00, 0xc8})), std::string::npos);  // request id 200
  EXPECT_NE(m.find(ber_bytes({0x8f, 0x65})), std::string::npos);
}

// A GetResponse as snmpd sends it (request id 7): a Counter32 with its high bit set, an INTEGER,
// a numeric string, and a noSuchObject.
std::string snmp_response() {
  std::string counter = ber_bytes({0x30, 0x12, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x8f, 0x65, 0x0b, 0x32,
                               0x41, 0x05, 0x00, 0xff, 0xff, 0xff, 0xfe});
  std::string integer = ber_bytes({0x30, 0x0d, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x07, 0x00, 0x02, 0x01, 0xff});
  std::string text = ber_bytes({0x30, 0x0f, 0x06, 0x07, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x09, 0x04, 0x04, '0', '.', '4', '2'});
  std::string missing = ber_bytes({0x30, 0x09, 0x06, 0x05, 0x2b, 0x06, 0x01, 0x02, 0x09, 0x80, 0x00});
  std::string list = counter + integer + text + missing;
  std::string pdu = ber_bytes({0x02, 0x01, 0x07, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, static_cast<int>(list.size())}) + list;
  std::string body = ber_bytes({0x02, 0x01, 0x01, 0x04, 0x01, 'c', 0xa2, static_cast<int>(pdu.size())}) + pdu;
  return ber_bytes({0x30, static_cast<int>(body.size())}) + body;
}

TEST(SnmpBer, DecodesAResponse) {
  std::string message = snmp_response();
  auto r = decode_snmp_response(message);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->request_id, 7);
  EXPECT_EQ(r->error_status, 0);
  ASSERT_EQ(r->varbinds.size(), 4u);
  EXPECT_EQ(oid_text(r->varbinds[0].oid), "1.3.6.1.4.1.2021.11.50");
  EXPECT_EQ(r->varbinds[0].value, 4294967294.0);
  EXPECT_EQ(r->varbinds[1].value, -1.0);
  EXPECT_EQ(r->varbinds[2].value, 0.42);
  EXPECT_FALSE(r->varbinds[3].value);  // noSuchObject: no value
  // Every truncation is refused, never read past the end.
  for (std::size_t n = 0; n < message.size(); ++n) EXPECT_FALSE(decode_snmp_response(message.substr(0, n))) << n;
  // A GetRequest is not a response.
  EXPECT_FALSE(decode_snmp_response(encode_snmp_get(0, "public", 1, {{1, 3, 6, 1}})));
}

// Positions of every tag and length byte of the message's structure (sequences, the PDU, and
// the tags of version, community, request-id, error-status, error-index and each OID): what
// a mutation there breaks. The values' own tags and bytes are data.
void structure(std::string_view m, std::size_t base, bool in_varbind, std::vector<std::size_t>& at) {
  std::size_t i = 0, element = 0;
  while (i + 2 <= m.size()) {
    auto tag = static_cast<std::uint8_t>(m[i]);
    std::size_t len = static_cast<std::uint8_t>(m[i + 1]), head = 2;
    if (len & 0x80) {
      std::size_t n = len & 0x7f;
      len = 0;
      for (std::size_t k = 0; k < n; ++k) len = len << 8 | static_cast<std::uint8_t>(m[i + 2 + k]);
      head += n;
    }
    bool value = in_varbind && element == 1;
    if (!value) at.push_back(base + i);
    if (tag == 0x30 || tag == 0xa2) {
      for (std::size_t k = 1; k < head; ++k) at.push_back(base + i + k);
      structure(m.substr(i + head, len), base + i + head, tag == 0x30 && !in_varbind && len > 0 && m[i + head] == 0x06, at);
    }
    i += head + len;
    ++element;
  }
}

TEST(SnmpBer, GarbageIsRefused) {
  std::string m = snmp_response();
  std::vector<std::size_t> at;
  structure(m, 0, false, at);
  ASSERT_GT(at.size(), 20u);
  for (std::size_t i : at)
    for (int v : {0x00, 0x7f, 0x80, 0x84, 0xff}) {
      if (static_cast<std::uint8_t>(m[i]) == v) continue;
      std::string bad = m;
      bad[i] = static_cast<char>(v);
      EXPECT_FALSE(decode_snmp_response(bad)) << "byte " << i << " set to " << v;
    }
  // Elsewhere (value bytes): any result, never out of bounds (ASan), never a non-finite value.
  for (std::size_t i = 0; i < m.size(); ++i)
    for (int v : {0x00, 0x7f, 0x80, 0x84, 0xff}) {
      std::string bad = m;
      bad[i] = static_cast<char>(v);
      if (auto r = decode_snmp_response(bad))
        for (const auto& b : r->varbinds) EXPECT_TRUE(!b.value || std::isfinite(*b.value)) << i;
    }
}

std::string response_with(std::string_view version_and_community, std::string_view varbind) {
  std::string list = ber_bytes({0x30, static_cast<int>(varbind.size())}) + std::string(varbind);
  std::string pdu = ber_bytes({0x02, 0x01, 0x07, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, static_cast<int>(list.size())}) + list;
  std::string body = std::string(version_and_community) + ber_bytes({0xa2, static_cast<int>(pdu.size())}) + pdu;
  return ber_bytes({0x30, static_cast<int>(body.size())}) + body;
}

std::optional<double> single_value(std::string_view value_tlv) {
  std::string bind = ber_bytes({0x06, 0x03, 0x2b, 0x06, 0x01}) + std::string(value_tlv);
  auto r = decode_snmp_response(response_with(ber_bytes({0x02, 0x01, 0x01, 0x04, 0x01, 'c'}), bind));
  if (!r || r->varbinds.size() != 1) return std::nullopt;
  return r->varbinds[0].value;
}

TEST(SnmpBer, ValuesAndArcs) {
  EXPECT_EQ(single_value(ber_bytes({0x47, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff})), 4294967295.0) << "UInteger32";
  EXPECT_EQ(single_value(ber_bytes({0x44, 0x07, 0x9f, 0x78, 0x04, 0x3f, 0xc0, 0x00, 0x00})), 1.5) << "Opaque float";
  EXPECT_EQ(single_value(ber_bytes({0x44, 0x0b, 0x9f, 0x79, 0x08, 0x40, 0x04, 0, 0, 0, 0, 0, 0})), 2.5) << "Opaque double";
  EXPECT_FALSE(single_value(ber_bytes({0x44, 0x07, 0x9f, 0x78, 0x04, 0x7f, 0xc0, 0x00, 0x00}))) << "Opaque NaN";
  EXPECT_EQ(single_value(ber_bytes({0x04, 0x04, '0', '.', '4', '2'})), 0.42);
  for (const char* text : {"nan", "inf", "-inf", "NAN", "infinity"}) {
    std::string v = ber_bytes({0x04, static_cast<int>(std::strlen(text))}) + text;
    EXPECT_FALSE(single_value(v)) << text;
  }
  // Arcs: 2^32 - 1 decodes, 2^32 (0x90 0x80 0x80 0x80 0x00) is refused, never truncated to 0.
  auto with_oid = [](std::string_view oid_body) {
    std::string bind = ber_bytes({0x06, static_cast<int>(oid_body.size())}) + std::string(oid_body) + ber_bytes({0x05, 0x00});
    return decode_snmp_response(response_with(ber_bytes({0x02, 0x01, 0x01, 0x04, 0x01, 'c'}), bind));
  };
  auto ok = with_oid(ber_bytes({0x2b, 0x8f, 0xff, 0xff, 0xff, 0x7f}));
  ASSERT_TRUE(ok);
  EXPECT_EQ(oid_text(ok->varbinds[0].oid), "1.3.4294967295");
  EXPECT_FALSE(with_oid(ber_bytes({0x2b, 0x90, 0x80, 0x80, 0x80, 0x00})));
  EXPECT_FALSE(with_oid(ber_bytes({0x90, 0x80, 0x80, 0x80, 0x50}))) << "2.(2^32): first subidentifier 2^32 + 80";
  auto two = with_oid(ber_bytes({0x90, 0x80, 0x80, 0x80, 0x4f}));  // 2^32 + 79 = 2.(2^32 - 1)
  ASSERT_TRUE(two);
  EXPECT_EQ(oid_text(two->varbinds[0].oid), "2.4294967295");
  // Version and community are read, for the poller to compare with its request's.
  auto r = decode_snmp_response(snmp_response());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(r->community, "c");
}

TEST(SnmpBer, RequestsAboveOneDatagramAreRefused) {
  std::vector<Oid> oids(200, Oid{1, 3, 6, 1, 4, 1, 2021, 10, 1, 5, 1});
  std::string m = encode_snmp_get(1, "public", 1, oids);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(static_cast<std::uint8_t>(m[1]), 0x82) << "a two-byte length";
  EXPECT_EQ(decode_snmp_response(std::string_view(m)).has_value(), false) << "a GetRequest";
  std::vector<Oid> many(5000, Oid{1, 3, 6, 1, 4, 1, 2021, 10, 1, 5, 1});
  EXPECT_TRUE(encode_snmp_get(1, "public", 1, many).empty()) << "about 80 kB: no datagram";
}

}  // namespace
