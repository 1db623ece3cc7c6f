// BER encoding and decoding for LDAPv3 (see ber.hpp).
#include "ber.hpp"

namespace loadctl::ldap {

void BerWriter::close(std::size_t start) {
  std::size_t n = out_.size() - start;
  if (n < 0x80) {
    out_[start - 1] = static_cast<char>(n);
    return;
  }
  char bytes[8];  // big-endian length octets
  int count = 0;
  for (std::size_t v = n; v != 0; v >>= 8) ++count;
  for (int i = 0; i < count; ++i) bytes[i] = static_cast<char>((n >> (8 * (count - 1 - i))) & 0xff);
  out_[start - 1] = static_cast<char>(0x80 | count);
  out_.insert(start, bytes, static_cast<std::size_t>(count));
}

void BerWriter::integer(std::uint8_t tag, std::int64_t value) {
  // Minimal two's complement: drop leading bytes that only repeat the sign.
  int size = 8;
  while (size > 1) {
    auto top = static_cast<std::uint8_t>(value >> (8 * (size - 1)));
    auto next_sign = static_cast<std::uint8_t>((value >> (8 * (size - 2))) & 0x80);
    if ((top == 0x00 && next_sign == 0) || (top == 0xff && next_sign == 0x80)) --size;
    else break;
  }
  out_.push_back(static_cast<char>(tag));
  out_.push_back(static_cast<char>(size));
  for (int i = size - 1; i >= 0; --i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

BerStatus read_header(std::span<const char> data, std::size_t limit, std::uint8_t& tag, std::size_t& header,
                      std::size_t& length) {
  if (data.size() < 2) return BerStatus::need_more;
  tag = static_cast<std::uint8_t>(data[0]);
  if ((tag & 0x1f) == 0x1f) return BerStatus::malformed;  // LDAP never uses multi-byte tags
  auto first = static_cast<std::uint8_t>(data[1]);
  if (first < 0x80) {
    header = 2;
    length = first;
  } else {
    std::size_t count = first & 0x7f;
    // Indefinite lengths are not allowed in LDAP (RFC 4511 5.1); 4 octets cover any frame.
    if (count == 0 || count > 4) return BerStatus::malformed;
    if (data.size() < 2 + count) return BerStatus::need_more;
    length = 0;
    for (std::size_t i = 0; i < count; ++i) length = (length << 8) | static_cast<std::uint8_t>(data[2 + i]);
    header = 2 + count;
  }
  if (length > limit) return BerStatus::too_large;
  return BerStatus::ok;
}

bool BerReader::next(BerTlv& tlv) {
  std::size_t header = 0, length = 0;
  std::uint8_t t = 0;
  std::span<const char> bytes(data_.data(), data_.size());
  if (read_header(bytes, data_.size(), t, header, length) != BerStatus::ok) return false;
  if (length > data_.size() - header) return false;
  tlv.tag = t;
  tlv.value = data_.substr(header, length);
  data_.remove_prefix(header + length);
  return true;
}

bool decode_integer(std::string_view content, std::int64_t& value) {
  if (content.empty() || content.size() > 8) return false;
  std::uint64_t v = static_cast<std::uint8_t>(content[0]) & 0x80 ? ~std::uint64_t{0} : 0;
  for (char c : content) v = (v << 8) | static_cast<std::uint8_t>(c);
  value = static_cast<std::int64_t>(v);
  return true;
}

}  // namespace loadctl::ldap
