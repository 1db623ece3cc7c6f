#include "monitor/snmp_ber.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

namespace loadctl::monitor {
namespace {

// Lengths up to 2^24 - 1; encode_snmp_get refuses a message above a UDP datagram's 65507 bytes.
void put_length(std::string& out, std::size_t n) {
  if (n < 0x80) {
    out += static_cast<char>(n);
  } else if (n < 0x100) {
    out += '\x81';
    out += static_cast<char>(n);
  } else if (n < 0x10000) {
    out += '\x82';
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xff);
  } else {
    out += '\x83';
    out += static_cast<char>((n >> 16) & 0xff);
    out += static_cast<char>((n >> 8) & 0xff);
    out += static_cast<char>(n & 0xff);
  }
}

std::string tlv(std::uint8_t tag, std::string_view body) {
  std::string out(1, static_cast<char>(tag));
  put_length(out, body.size());
  out += body;
  return out;
}

std::string ber_integer(std::int64_t v) {
  std::string bytes;
  for (int shift = 56; shift >= 0; shift -= 8) bytes += static_cast<char>((v >> shift) & 0xff);
  // Minimal two's complement: drop leading bytes that only repeat the sign.
  std::size_t i = 0;
  while (i + 1 < bytes.size() &&
         ((bytes[i] == '\0' && !(bytes[i + 1] & 0x80)) || (bytes[i] == '\xff' && (bytes[i + 1] & 0x80))))
    ++i;
  return tlv(0x02, bytes.substr(i));
}

std::string ber_oid(const Oid& oid) {
  std::string body;
  auto put_arc = [&](std::uint64_t arc) {
    char tmp[10];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>(arc & 0x7f);
      arc >>= 7;
    } while (arc);
    while (n > 1) body += static_cast<char>(tmp[--n] | 0x80);
    body += tmp[0];
  };
  put_arc(std::uint64_t{oid[0]} * 40 + oid[1]);
  for (std::size_t i = 2; i < oid.size(); ++i) put_arc(oid[i]);
  return tlv(0x06, body);
}

// A reader over one TLV body; every read is checked against what is left.
struct Reader {
  std::string_view rest;
  bool ok = true;

  std::optional<std::pair<std::uint8_t, std::string_view>> next() {
    if (!ok || rest.size() < 2) return fail();
    auto tag = static_cast<std::uint8_t>(rest[0]);
    std::size_t len = static_cast<std::uint8_t>(rest[1]);
    std::size_t head = 2;
    if (len & 0x80) {
      std::size_t bytes = len & 0x7f;
      if (bytes == 0 || bytes > 3 || rest.size() < 2 + bytes) return fail();
      len = 0;
      for (std::size_t i = 0; i < bytes; ++i) len = len << 8 | static_cast<std::uint8_t>(rest[2 + i]);
      head += bytes;
    }
    if (rest.size() - head < len) return fail();
    std::string_view body = rest.substr(head, len);
    rest.remove_prefix(head + len);
    return std::pair{tag, body};
  }
  std::optional<std::string_view> expect(std::uint8_t tag) {
    auto t = next();
    if (!t || t->first != tag) return fail_view();
    return t->second;
  }
  std::optional<std::pair<std::uint8_t, std::string_view>> fail() {
    ok = false;
    return std::nullopt;
  }
  std::optional<std::string_view> fail_view() {
    ok = false;
    return std::nullopt;
  }
};

std::optional<std::int64_t> integer_of(std::string_view b) {
  if (b.empty() || b.size() > 8) return std::nullopt;
  std::int64_t v = (b[0] & 0x80) ? -1 : 0;
  for (char c : b) v = static_cast<std::int64_t>(static_cast<std::uint64_t>(v) << 8 | static_cast<std::uint8_t>(c));
  return v;
}

std::optional<std::uint64_t> unsigned_of(std::string_view b) {
  if (b.empty() || b.size() > 9 || (b.size() == 9 && b[0] != '\0')) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : b) v = v << 8 | static_cast<std::uint8_t>(c);
  return v;
}

std::optional<Oid> oid_of(std::string_view b) {
  Oid oid;
  std::uint64_t arc = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    arc = arc << 7 | (static_cast<std::uint8_t>(b[i]) & 0x7f);
    if (arc > 0xffffffffULL + 80) return std::nullopt;  // beyond every arc an Oid holds
    if (static_cast<std::uint8_t>(b[i]) & 0x80) continue;
    std::uint64_t first = arc < 80 ? arc / 40 : 2;
    std::uint64_t value = oid.empty() ? arc - first * 40 : arc;
    if (value > 0xffffffffULL) return std::nullopt;  // never truncated into another OID
    if (oid.empty()) oid.push_back(static_cast<std::uint32_t>(first));
    oid.push_back(static_cast<std::uint32_t>(value));
    arc = 0;
  }
  if (oid.empty() || (!b.empty() && (static_cast<std::uint8_t>(b.back()) & 0x80))) return std::nullopt;
  return oid;
}

std::optional<double> value_of(std::uint8_t tag, std::string_view b) {
  switch (tag) {
    case 0x02:
      if (auto v = integer_of(b)) return static_cast<double>(*v);
      return std::nullopt;
    case 0x41: case 0x42: case 0x43: case 0x46: case 0x47:  // Counter32, Gauge32, TimeTicks, Counter64, UInteger32
      if (auto v = unsigned_of(b)) return static_cast<double>(*v);
      return std::nullopt;
    case 0x44: {  // Opaque: net-snmp wraps a float (9f 78 04 ...) or a double (9f 79 08 ...)
      if (b.size() == 7 && b.substr(0, 3) == std::string_view("\x9f\x78\x04", 3)) {
        std::uint32_t bits = 0;
        for (char c : b.substr(3)) bits = bits << 8 | static_cast<std::uint8_t>(c);
        double v = std::bit_cast<float>(bits);
        if (std::isfinite(v)) return v;
      } else if (b.size() == 11 && b.substr(0, 3) == std::string_view("\x9f\x79\x08", 3)) {
        std::uint64_t bits = 0;
        for (char c : b.substr(3)) bits = bits << 8 | static_cast<std::uint8_t>(c);
        double v = std::bit_cast<double>(bits);
        if (std::isfinite(v)) return v;
      }
      return std::nullopt;
    }
    case 0x04: {  // OCTET STRING: net-snmp gives e.g. laLoad as "0.42"; not "nan" or "inf"
      double v = 0;
      auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), v);
      if (b.empty() || ec != std::errc() || end != b.data() + b.size() || !std::isfinite(v)) return std::nullopt;
      return v;
    }
    default:  // NULL, noSuchObject, noSuchInstance, endOfMibView, others
      return std::nullopt;
  }
}

}  // namespace

std::string encode_snmp_get(int version, std::string_view community, std::int32_t request_id,
                            const std::vector<Oid>& oids) {
  std::string binds;
  for (const Oid& oid : oids) binds += tlv(0x30, ber_oid(oid) + tlv(0x05, {}));
  std::string pdu = ber_integer(request_id) + ber_integer(0) + ber_integer(0) + tlv(0x30, binds);
  std::string message = tlv(0x30, ber_integer(version) + tlv(0x04, community) + tlv(0xa0, pdu));
  if (message.size() > 65507) return {};  // the largest UDP/IPv4 payload
  return message;
}

std::optional<SnmpResponse> decode_snmp_response(std::string_view datagram) {
  Reader top{datagram};
  auto message = top.expect(0x30);
  if (!message) return std::nullopt;
  Reader m{*message};
  auto version = m.expect(0x02);
  auto community = m.expect(0x04);
  auto pdu = m.expect(0xa2);
  // Nothing may follow what was read, at any level: a bad length is never half-accepted.
  if (!version || !community || !pdu || !m.rest.empty() || !top.rest.empty()) return std::nullopt;
  Reader p{*pdu};
  auto id = p.expect(0x02), status = p.expect(0x02), index = p.expect(0x02), list = p.expect(0x30);
  if (!id || !status || !index || !list || !p.rest.empty()) return std::nullopt;
  SnmpResponse r;
  auto i0 = integer_of(*version), i1 = integer_of(*id), i2 = integer_of(*status), i3 = integer_of(*index);
  if (!i0 || !i1 || !i2 || !i3) return std::nullopt;
  r.version = *i0;
  r.community = std::string(*community);
  r.request_id = *i1;
  r.error_status = *i2;
  r.error_index = *i3;
  Reader l{*list};
  while (!l.rest.empty()) {
    auto bind = l.expect(0x30);
    if (!bind) return std::nullopt;
    Reader b{*bind};
    auto oid_bytes = b.expect(0x06);
    auto value = b.next();
    if (!oid_bytes || !value || !b.rest.empty()) return std::nullopt;
    auto oid = oid_of(*oid_bytes);
    if (!oid) return std::nullopt;
    bool is_float = value->first == 0x44 ||
                    (value->first == 0x04 && value->second.find_first_of(".eE") != std::string_view::npos);
    r.varbinds.push_back({std::move(*oid), value_of(value->first, value->second), is_float});
  }
  return r;
}

std::string oid_text(const Oid& oid) {
  std::string out;
  for (std::uint32_t arc : oid) {
    if (!out.empty()) out += '.';
    out += std::to_string(arc);
  }
  return out;
}

}  // namespace loadctl::monitor
