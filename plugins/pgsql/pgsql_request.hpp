#pragma once
// A <pgsql type="..."> request (Tsung's ts_config_pgsql): its type, the attributes that type
// reads, and its bytes pre-encoded when nothing in them varies per user.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loadctl/protocol.hpp"

namespace loadctl::pgsql {

enum class Type : std::uint8_t {
  connect, authenticate, sql, close, sync, flush, copydone, execute, parse, bind, copy, copyfail, describe,
};

/// bind's `formats`: the parameter format codes sent (Tsung's none | binary | text | auto).
enum class ParamFormats : std::uint8_t { none, binary, text, auto_ };

class PgsqlRequest final : public RequestSpec {
 public:
  Type type = Type::sql;
  Template database, username, password;  ///< connect, authenticate (subst as in Tsung)
  Template sql;                           ///< sql: the query text
  std::vector<std::optional<Template>> parameters;  ///< bind: null for "null"
  std::string name_portal, name_prepared;           ///< bind (rendered with its parameters)
  ParamFormats formats = ParamFormats::none;        ///< bind
  std::vector<std::uint16_t> result_formats;        ///< bind: 0 text, 1 binary
  std::string bytes;  ///< the whole message when it does not vary (everything but the above)

  // Every byte is written by PgsqlConnection::encode, which knows the user and auth method.
  void encode(const EncodeContext& ctx, std::string& out) const override;
  /// Tsung's no_ack types: done once written; the server answers them at the next sync.
  bool awaits_response() const override;
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo& info) const override {
    info.error = "pgsql_not_connection_level";
    return {ParseStatus::error, 0};
  }
  std::string describe() const override;  ///< never shows a password
};

/// Parses a <pgsql> element; throws ScenarioError naming file:line:column.
std::shared_ptr<const RequestSpec> parse_pgsql(pugi::xml_node node, const RequestParseContext& ctx);

}  // namespace loadctl::pgsql
