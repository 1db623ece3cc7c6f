#pragma once
// One <mysql type="..."> element (Tsung's ts_config_mysql): parsed once, shared by every user.
// Authentication needs the salt of the connection's greeting, so MysqlConnection encodes it;
// RequestSpec::encode (tools, tests) encodes the other types and nothing for authenticate.

#include <cstdint>
#include <memory>
#include <pugixml.hpp>
#include <string>

#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"

namespace loadctl::mysql {

enum class Kind : std::uint8_t { connect, authenticate, sql, close };

class MysqlRequest final : public RequestSpec {
 public:
  Kind kind = Kind::connect;
  // authenticate (Tsung's defaults: "", i.e. no database, anonymous user, no password)
  Template database;
  Template username;
  Template password;
  // sql
  Template sql;

  void encode(const EncodeContext& ctx, std::string& out) const override;
  /// Appends the COM_QUERY packet of an sql request (several packets for a query of 16 MiB or
  /// more); returns the sequence id the server's answer carries.
  std::uint8_t encode_query(const EncodeContext& ctx, std::string& out) const;
  /// Never called: every received byte goes to MysqlConnection.
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo& info) const override {
    info.error = "mysql_no_connection";
    return {ParseStatus::error, 0};
  }
  std::string describe() const override;
};

/// Parses one <mysql> element (throws ScenarioError naming file:line:column).
std::shared_ptr<const MysqlRequest> parse_mysql_request(pugi::xml_node element, const RequestParseContext& ctx);

/// Renders `t` into `scratch`, or views its literal text without copying.
std::string_view render_template(const Template& t, const EncodeContext& ctx, std::string& scratch);

}  // namespace loadctl::mysql
