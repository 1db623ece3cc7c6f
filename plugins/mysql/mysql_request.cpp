// <mysql> elements, as Tsung 1.7.0's ts_config_mysql reads them, and the packets of the requests
// that need no connection state (ts_mysql's get_message for sql and close).
#include "mysql_request.hpp"

#include <fmt/format.h>

#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"
#include "mysql_packet.hpp"

namespace loadctl::mysql {

std::string_view render_template(const Template& t, const EncodeContext& ctx, std::string& scratch) {
  if (t.is_literal()) return t.literal();
  scratch.clear();
  t.render(ctx.vars, scratch, ctx.missing_vars);
  return scratch;
}

std::uint8_t MysqlRequest::encode_query(const EncodeContext& ctx, std::string& out) const {
  std::size_t start = begin_packet(out);
  out.push_back(static_cast<char>(kComQuery));
  if (sql.is_literal()) out.append(sql.literal());
  else sql.render(ctx.vars, out, ctx.missing_vars);  // rendered in place: no copy
  return end_packet(out, start, 0);
}

void MysqlRequest::encode(const EncodeContext& ctx, std::string& out) const {
  switch (kind) {
    case Kind::sql:
      encode_query(ctx, out);
      return;
    case Kind::close:
      append_quit(out);
      return;
    case Kind::connect:       // the server speaks first
    case Kind::authenticate:  // needs the greeting's salt: MysqlConnection::encode
      return;
  }
}

std::string MysqlRequest::describe() const {
  switch (kind) {
    case Kind::connect: return "mysql connect";
    case Kind::authenticate:  // never the password
      return fmt::format("mysql authenticate username={} database={}",
                         username.is_literal() ? username.literal() : "(dynamic)",
                         database.is_literal() ? database.literal() : "(dynamic)");
    case Kind::sql: {
      std::string_view text = sql.is_literal() ? sql.literal() : "(dynamic)";
      return fmt::format("mysql sql {}", text.substr(0, 60));
    }
    case Kind::close: return "mysql close";
  }
  return "mysql";
}

std::shared_ptr<const MysqlRequest> parse_mysql_request(pugi::xml_node node, const RequestParseContext& ctx) {
  XmlElement el(node);
  auto r = std::make_shared<MysqlRequest>();
  std::string type = el.choice("type", {"connect", "authenticate", "sql", "close"}, "");
  if (!el.has("type")) el.fail("type", "missing attribute 'type' (connect | authenticate | sql | close)");
  if (type == "connect") r->kind = Kind::connect;
  else if (type == "authenticate") r->kind = Kind::authenticate;
  else if (type == "sql") r->kind = Kind::sql;
  else r->kind = Kind::close;

  // Tsung 1.7.0's add_dynparams takes only true or false (all_except_body crashes its client).
  if (ctx.subst && !ctx.subst_body)
    fail_at(node, "subst=\"all_except_body\" does not apply to <mysql> (ts_mysql substitutes true or false only)");
  // Tsung reads database, username and password for authenticate only (its manual says connect
  // takes a database and a user name, its code ignores them there): elsewhere they are refused.
  for (const char* name : {"database", "username", "password"}) {
    if (r->kind != Kind::authenticate && el.has(name))
      el.fail(name, fmt::format("attribute '{}' belongs to <mysql type=\"authenticate\">, not type=\"{}\"", name, type));
  }
  if (r->kind == Kind::authenticate) {
    // ts_mysql substitutes only the query; loadctl also these three (a user per account).
    r->database = el.template_attr("database", ctx.subst, "");
    r->username = el.template_attr("username", ctx.subst, "");
    r->password = el.template_attr("password", ctx.subst, "");
  }
  el.finish();
  for (pugi::xml_node child : node.children())
    if (child.type() == pugi::node_element) fail_at(child, fmt::format("unexpected element <{}> in <mysql>", child.name()));
  std::string text = element_text(node);
  if (r->kind == Kind::sql) {
    r->sql = checked_template(node, text, ctx.subst);
  } else if (!text.empty()) {
    fail_at(node, fmt::format("<mysql type=\"{}\"> has no text (only type=\"sql\" carries a query)", type));
  }
  return r;
}

}  // namespace loadctl::mysql
