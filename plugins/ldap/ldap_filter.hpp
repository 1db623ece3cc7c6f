#pragma once
// LDAP search filters in their string form (RFC 4515), parsed once at load time into a tree
// whose assertion values are templates (Tsung's ts_ldap substitutes %%_var%% in the values of a
// parsed filter, never in attribute names), and encoded as the BER Filter of RFC 4511 4.5.1.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ber.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"

namespace loadctl::ldap {

/// Filters nest at most this deep ("(&(!(...)))" is 3): deeper ones are refused when parsed.
constexpr int kMaxFilterDepth = 32;

struct FilterNode {
  enum class Kind : std::uint8_t { and_, or_, not_, equality, substrings, greater_or_equal, less_or_equal, present, approx };
  struct Substring {
    std::uint8_t tag = 0x80;  ///< [0] initial, [1] any, [2] final
    Template value;
  };
  Kind kind = Kind::present;
  std::string attr;
  Template value;                     ///< equality, greater_or_equal, less_or_equal, approx
  std::vector<Substring> substrings;  ///< substrings
  std::vector<FilterNode> children;   ///< and, or (any number), not (one)
};

/// Builds the template of an assertion value (decoded from its escapes); it may throw.
using MakeTemplate = std::function<Template(std::string_view)>;

struct FilterError {
  std::size_t offset = 0;  ///< where in the filter text
  std::string message;
  bool unsupported = false;  ///< valid RFC 4515 that loadctl does not implement (extensible match)
};

/// Parses `text`; false with `error` set when it is not a filter. As Tsung's rfc4515_parser,
/// spaces around the parts of a filter are not significant (a value's leading and trailing
/// spaces are dropped, as are those of each substring).
bool parse_filter(std::string_view text, const MakeTemplate& make, FilterNode& out, FilterError& error);

/// An RFC 4512 attribute description: a descriptor (ALPHA *(ALPHA / DIGIT / "-")) or a numeric
/// OID (1.2.840...), then any ";option"s (each 1*(ALPHA / DIGIT / "-")).
bool valid_attribute_description(std::string_view text);

/// Appends the BER Filter, rendering the values with the user's variables.
void encode_filter(BerWriter& w, const FilterNode& filter, const EncodeContext& ctx);

/// An OCTET STRING (or an element of tag `tag` holding one) rendered from a template.
inline void render_octets(BerWriter& w, std::uint8_t tag, const Template& t, const EncodeContext& ctx) {
  std::size_t at = w.open(tag);
  t.render(ctx.vars, w.out(), ctx.missing_vars);
  w.close(at);
}

}  // namespace loadctl::ldap
