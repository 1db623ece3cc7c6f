#pragma once
// One <ldap type="..."> element (Tsung's ts_config_ldap), parsed once and shared by every user,
// and the LDAPv3 messages (RFC 4511) it encodes. The message id is per connection, so
// LdapConnection encodes with encode_with(); RequestSpec::encode (tools, tests) uses id 1.

#include <cstdint>
#include <memory>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ldap_filter.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"

namespace loadctl::ldap {

enum class Type : std::uint8_t { bind, unbind, search, start_tls, add, modify, del };

/// RFC 4511's ModifyRequest operations.
enum class ModOp : std::uint8_t { add = 0, del = 1, replace = 2 };

struct Attribute {
  std::string type;
  std::vector<Template> values;
};

struct Modification {
  ModOp op = ModOp::add;
  Attribute attr;
};

constexpr std::string_view kStartTlsOid = "1.3.6.1.4.1.1466.20037";

class LdapRequest final : public RequestSpec {
 public:
  Type type = Type::bind;
  Template user, password;  ///< bind
  Template base;            ///< search
  std::uint8_t scope = 2;   ///< baseObject 0, singleLevel 1, wholeSubtree 2
  FilterNode filter;
  std::vector<std::string> attributes;  ///< search: attributes to return (empty: all user attributes)
  std::string result_var;               ///< search: variable set to the DNs of the entries
  Template dn;                          ///< add, modify, delete
  std::vector<Attribute> attrs;         ///< add
  std::vector<Modification> modifications;

  void encode(const EncodeContext& ctx, std::string& out) const override { encode_with(ctx, out, 1); }
  void encode_with(const EncodeContext& ctx, std::string& out, std::int32_t message_id) const;
  /// unbind is Tsung's ack = no_ack (the server closes without answering).
  bool awaits_response() const override { return type != Type::unbind; }
  /// Never called: every received byte goes to the connection.
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo& info) const override {
    info.error = "ldap_no_connection";
    return {ParseStatus::error, 0};
  }
  std::string describe() const override;
  /// A search's result_var, for the loader's <if>/<foreach> checks.
  std::span<const std::string> sets_variables() const override {
    return {&result_var, result_var.empty() ? 0u : 1u};
  }
};

/// Parses one <ldap> element (throws ScenarioError naming file:line:column).
std::shared_ptr<const LdapRequest> parse_ldap_request(pugi::xml_node element, const RequestParseContext& ctx);

/// The parts of a received LDAPMessage the client acts on.
struct LdapMessage {
  std::int64_t id = 0;
  std::uint8_t op = 0;           ///< the protocolOp's tag (tag::bind_response, ...)
  std::int64_t result_code = -1; ///< of an LDAPResult (responses), else -1
  std::string_view dn;           ///< objectName of a SearchResultEntry, matchedDN of a result
  std::string_view diagnostic;   ///< diagnosticMessage of a result
};

/// Decodes one whole LDAPMessage (its SEQUENCE header included); false when malformed.
bool decode_message(std::string_view frame, LdapMessage& out);

}  // namespace loadctl::ldap
