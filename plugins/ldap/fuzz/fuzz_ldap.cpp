// libFuzzer target for what the ldap plugin reads from outside: server messages (read_header then
// decode_message, as LdapConnection does) and RFC 4515 filters from scenarios (parse_filter, then
// encode_filter). The first byte chooses: even, a server message; odd, a filter.
// Properties: nothing reads outside the input; a decoded message's views point into its frame;
// a parsed filter encodes to exactly one well-formed BER element whose children parse again.
// Build and run: scripts/fuzz.sh 60 fuzz_ldap (clang, -DLOADCTL_FUZZ=ON, build-fuzz/).
#include <cstdlib>
#include <string>
#include <string_view>

#include "ber.hpp"
#include "ldap_filter.hpp"
#include "ldap_request.hpp"

using namespace loadctl::ldap;

namespace {

void check_inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return;
  if (part.data() < whole.data() || part.data() + part.size() > whole.data() + whole.size()) std::abort();
}

void server_message(std::string_view data) {
  std::uint8_t t = 0;
  std::size_t header = 0, length = 0;
  const std::size_t limit = 4096;
  BerStatus status = read_header(std::span<const char>(data.data(), data.size()), limit, t, header, length);
  if (status != BerStatus::ok) return;
  if (length > limit || header > data.size()) std::abort();
  if (data.size() - header < length) return;
  std::string_view frame = data.substr(0, header + length);
  LdapMessage m;
  if (!decode_message(frame, m)) return;
  check_inside(m.dn, frame);
  check_inside(m.diagnostic, frame);
}

// Walks every constructed element (context tags 0xa0..0xa9 and SEQUENCE) down to the leaves.
void walk(std::string_view value, int depth) {
  if (depth > kMaxFilterDepth + 4) std::abort();
  BerReader r(value);
  BerTlv tlv;
  while (!r.done()) {
    if (!r.next(tlv)) std::abort();  // the encoder wrote something the reader refuses
    if (tlv.tag & 0x20) walk(tlv.value, depth + 1);
  }
}

void filter(std::string_view text) {
  FilterNode node;
  FilterError error;
  auto make = [](std::string_view v) { return loadctl::Template(v, false); };
  if (!parse_filter(text, make, node, error)) {
    if (error.offset > text.size()) std::abort();
    return;
  }
  std::string out;
  BerWriter w(out);
  encode_filter(w, node, loadctl::EncodeContext{});
  BerReader r(out);
  BerTlv top;
  if (!r.next(top) || !r.done()) std::abort();
  if (top.tag & 0x20) walk(top.value, 1);  // a present filter (0x87) is primitive
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0) return 0;
  std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);  // libFuzzer's buffer: exact size
  if (bytes[0] % 2 == 0) server_message(data);
  else filter(data);
  return 0;
}
