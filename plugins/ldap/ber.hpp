#pragma once
// A minimal BER codec for LDAPv3 (RFC 4511 section 5.1: definite lengths, single-byte tags).
// The writer appends to a string, back-patching each constructed element's length when it is
// closed; the reader walks one element level at a time over a complete buffer and never
// allocates: every length is checked against the bytes that hold it (or, for a message header,
// against the largest frame the connection accepts) before anything is read.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace loadctl::ldap {

// Universal and LDAP tags (RFC 4511 appendix B).
namespace tag {
constexpr std::uint8_t boolean = 0x01, integer = 0x02, octet_string = 0x04, null = 0x05, enumerated = 0x0a,
                       sequence = 0x30, set = 0x31;
constexpr std::uint8_t bind_request = 0x60, bind_response = 0x61, unbind_request = 0x42, search_request = 0x63,
                       search_entry = 0x64, search_done = 0x65, search_reference = 0x73, modify_request = 0x66,
                       modify_response = 0x67, add_request = 0x68, add_response = 0x69, del_request = 0x4a,
                       del_response = 0x6b, moddn_response = 0x6d, compare_response = 0x6f,
                       extended_request = 0x77, extended_response = 0x78, intermediate_response = 0x79;
}  // namespace tag

class BerWriter {
 public:
  explicit BerWriter(std::string& out) : out_(out) {}
  /// Starts a constructed element; returns the position its content starts at, for close().
  std::size_t open(std::uint8_t tag) {
    out_.push_back(static_cast<char>(tag));
    out_.push_back(0);
    return out_.size();
  }
  /// Ends the element opened at `start`: writes its length (inserting long-form bytes).
  void close(std::size_t start);
  void octets(std::uint8_t tag, std::string_view value) {
    std::size_t at = open(tag);
    out_.append(value);
    close(at);
  }
  void integer(std::uint8_t tag, std::int64_t value);
  void boolean(bool value) {
    out_.push_back(static_cast<char>(tag::boolean));
    out_.push_back(1);
    out_.push_back(value ? static_cast<char>(0xff) : 0);
  }
  std::string& out() { return out_; }

 private:
  std::string& out_;
};

enum class BerStatus : std::uint8_t { ok, need_more, malformed, too_large };

struct BerTlv {
  std::uint8_t tag = 0;
  std::string_view value;  ///< the content octets
};

/// Reads the tag and length at the start of `data`. `header` gets the header's size and
/// `length` the content's. need_more: the header itself is incomplete; too_large: the content
/// would exceed `limit` bytes; malformed: multi-byte tag, indefinite or over-long length.
BerStatus read_header(std::span<const char> data, std::size_t limit, std::uint8_t& tag, std::size_t& header,
                      std::size_t& length);

/// Walks the elements of one constructed value (or a whole buffer), left to right.
class BerReader {
 public:
  explicit BerReader(std::string_view data) : data_(data) {}
  bool done() const { return data_.empty(); }
  /// The next element; false (reader left as is) when what remains does not hold one.
  bool next(BerTlv& tlv);
  /// The next element, which must carry `tag`.
  bool expect(std::uint8_t tag, BerTlv& tlv) { return next(tlv) && tlv.tag == tag; }

 private:
  std::string_view data_;
};

/// An INTEGER or ENUMERATED content (1 to 8 octets, two's complement).
bool decode_integer(std::string_view content, std::int64_t& value);

}  // namespace loadctl::ldap
