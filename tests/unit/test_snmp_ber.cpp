// The SNMP GetRequest encoder and GetResponse decoder of <monitor type="snmp">.

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

TEST(SnmpBer, GarbageNeverCrashes) {
  std::string m = snmp_response();
  for (std::size_t i = 0; i < m.size(); ++i)
    for (int v : {0x00, 0x7f, 0x80, 0x84, 0xff}) {
      std::string bad = m;
      bad[i] = static_cast<char>(v);
      (void)decode_snmp_response(bad);  // any result, without reading out of bounds (ASan)
    }
}

}  // namespace
