#include "pgsql_request.hpp"

#include <algorithm>
#include <charconv>

#include "loadctl/input_file.hpp"
#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"
#include "pgsql_wire.hpp"

namespace loadctl::pgsql {
namespace {

constexpr std::string_view kTypeNames[] = {"connect", "authenticate", "sql",     "close",   "sync",
                                           "flush",   "copydone",     "execute", "parse",   "bind",
                                           "copy",    "copyfail",     "describe"};

/// Tsung's ts_utils:split(Text, ","): the pieces between commas; none for an empty text.
std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  while (true) {
    std::size_t comma = text.find(',');
    out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

/// A comma-separated list of integers in [0, max] (parse's parameter OIDs, copy's bytes).
std::vector<std::uint32_t> integers(XmlElement& el, const char* attribute, std::string_view text,
                                    std::uint32_t max) {
  std::vector<std::uint32_t> out;
  for (const std::string& piece : split_commas(text)) {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(piece.data(), piece.data() + piece.size(), v);
    if (ec != std::errc{} || end != piece.data() + piece.size() || v > max) {
      std::string message = std::string(attribute ? attribute : "text") +
                            ": expected comma-separated integers from 0 to " + std::to_string(max) + ", got '" +
                            piece + "'";
      if (attribute) el.fail(attribute, message);
      fail_at(el.node(), message);
    }
    out.push_back(v);
  }
  return out;
}

/// With subst, Tsung's ts_pgsql:subst replaces %%...%% in sql's text, username, password,
/// database and bind's parameters only: anywhere else they would be sent as they are.
void refuse_unsubstituted(pugi::xml_node node, Type type, std::string_view text, bool subst_body) {
  auto message = [](std::string_view what) {
    return "not supported yet: %%...%% in " + std::string(what) +
           " (Tsung substitutes only sql's text, username, password, database and bind's parameters)";
  };
  for (pugi::xml_attribute a : node.attributes()) {
    std::string_view name = a.name();
    if (name == "database" || name == "username" || name == "password" || (name == "parameters" && type == Type::bind))
      continue;
    if (std::string_view(a.value()).find("%%") != std::string_view::npos)
      fail_at(node, a, message("attribute '" + std::string(name) + "'"));
  }
  if (subst_body && type != Type::sql && text.find("%%") != std::string_view::npos)
    fail_at(node, message("the text of a <pgsql type=\"" + std::string(kTypeNames[static_cast<int>(type)]) + "\">"));
}

void append_bind(const PgsqlRequest& r, const EncodeContext* ctx, std::string& out) {
  std::size_t start = begin_message(out, 'B');
  put_cstring(out, r.name_portal);
  put_cstring(out, r.name_prepared);
  auto count = static_cast<std::uint16_t>(r.parameters.size());
  switch (r.formats) {
    case ParamFormats::none: put_u16(out, 0); break;
    case ParamFormats::binary: put_u16(out, 1), put_u16(out, 1); break;
    case ParamFormats::text: put_u16(out, 1), put_u16(out, 0); break;
    case ParamFormats::auto_:  // Tsung's parameters are text: format 0 for each
      put_u16(out, count);
      for (std::uint16_t i = 0; i < count; ++i) put_u16(out, 0);
      break;
  }
  put_u16(out, count);
  for (const std::optional<Template>& p : r.parameters) {
    if (!p) {
      put_u32(out, 0xFFFFFFFFu);  // -1: NULL
      continue;
    }
    std::size_t at = out.size();
    put_u32(out, 0);
    p->render(ctx ? ctx->vars : nullptr, out, ctx ? ctx->missing_vars : nullptr);
    auto size = static_cast<std::uint32_t>(out.size() - at - 4);
    for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>(size >> (24 - 8 * i));
  }
  put_u16(out, static_cast<std::uint16_t>(r.result_formats.size()));
  for (std::uint16_t f : r.result_formats) put_u16(out, f);
  end_message(out, start);
}

}  // namespace

void PgsqlRequest::encode(const EncodeContext& ctx, std::string& out) const {
  if (!bytes.empty()) {
    out.append(bytes);
  } else if (type == Type::sql) {
    std::size_t start = begin_message(out, 'Q');
    sql.render(ctx.vars, out, ctx.missing_vars);
    out.push_back('\0');
    end_message(out, start);
  } else if (type == Type::bind) {
    append_bind(*this, &ctx, out);
  }
  // connect and authenticate: PgsqlConnection::encode (they depend on the connection's state)
}

bool PgsqlRequest::awaits_response() const {
  return type != Type::execute && type != Type::parse && type != Type::bind && type != Type::copy &&
         type != Type::describe;
}

std::string PgsqlRequest::describe() const {
  std::string out = "pgsql " + std::string(kTypeNames[static_cast<int>(type)]);
  if (type == Type::sql && sql.is_literal()) out += " " + std::string(sql.literal().substr(0, 60));
  return out;
}

// Tsung's ts_config_pgsql: which attributes each type reads, with its defaults.
std::shared_ptr<const RequestSpec> parse_pgsql(pugi::xml_node node, const RequestParseContext& ctx) {
  XmlElement el(node);
  std::string type_text = el.required("type");
  if (type_text == "cancel" || type_text == "call")
    unsupported_at(node, "pgsql type=\"" + type_text + "\" (in Tsung's DTD, but Tsung 1.7.0 has no code for it)");
  auto found = std::find(std::begin(kTypeNames), std::end(kTypeNames), type_text);
  if (found == std::end(kTypeNames)) {
    std::string list;
    for (std::string_view n : kTypeNames) list += (list.empty() ? "" : ", ") + std::string(n);
    el.fail("type", "unknown pgsql type '" + type_text + "', expected one of " + list);
  }
  auto r = std::make_shared<PgsqlRequest>();
  r->type = static_cast<Type>(found - std::begin(kTypeNames));
  const bool subst = ctx.subst;
  bool takes_text = false;
  std::string text = element_text(node);
  switch (r->type) {
    case Type::connect:
      r->database = el.template_attr("database", subst, "");
      r->username = el.template_attr("username", subst, "");
      break;
    case Type::authenticate:
      r->password = el.template_attr("password", subst, "");
      break;
    case Type::sql:
      takes_text = true;
      r->sql = checked_template(node, text, subst && ctx.subst_body);
      if (r->sql.is_literal()) string_message(r->bytes, 'Q', r->sql.literal());
      break;
    case Type::close: empty_message(r->bytes, 'X'); break;
    case Type::sync: empty_message(r->bytes, 'S'); break;
    case Type::flush: empty_message(r->bytes, 'H'); break;
    case Type::copydone: empty_message(r->bytes, 'c'); break;
    case Type::copyfail: string_message(r->bytes, 'f', el.required("equery")); break;
    case Type::execute: {
      std::size_t start = begin_message(r->bytes, 'E');
      put_cstring(r->bytes, el.optional("name_portal", ""));
      put_u32(r->bytes, static_cast<std::uint32_t>(el.integer("max_rows", 0, 0, 0x7FFFFFFF)));
      end_message(r->bytes, start);
      break;
    }
    case Type::parse: {
      takes_text = true;
      std::string name = el.optional("name_prepared", "");
      std::string params = el.optional("parameters", "");
      std::vector<std::uint32_t> oids = integers(el, "parameters", params, 0xFFFFFFFFu);
      if (oids.size() > 65535) el.fail("parameters", "parameters: more than 65535");
      std::size_t start = begin_message(r->bytes, 'P');
      put_cstring(r->bytes, name);
      put_cstring(r->bytes, text);
      put_u16(r->bytes, static_cast<std::uint16_t>(oids.size()));
      for (std::uint32_t oid : oids) put_u32(r->bytes, oid);
      end_message(r->bytes, start);
      break;
    }
    case Type::bind: {
      r->name_portal = el.optional("name_portal", "");
      r->name_prepared = el.optional("name_prepared", "");
      for (const std::string& f : split_commas(el.optional("formats_results", ""))) {
        if (f != "text" && f != "binary")
          el.fail("formats_results", "formats_results: expected comma-separated text or binary, got '" + f + "'");
        r->result_formats.push_back(f == "binary" ? 1 : 0);
      }
      std::string formats = el.choice("formats", {"none", "binary", "text", "auto"}, "none");
      r->formats = formats == "binary" ? ParamFormats::binary
                   : formats == "text" ? ParamFormats::text
                   : formats == "auto" ? ParamFormats::auto_
                                       : ParamFormats::none;
      bool literal = true;
      std::string params = el.optional("parameters", "");
      for (const std::string& p : split_commas(params)) {
        if (p == "null") {
          r->parameters.emplace_back();
          continue;
        }
        r->parameters.emplace_back(checked_template(node, p, subst));
        literal = literal && r->parameters.back()->is_literal();
      }
      if (r->parameters.size() > 65535 || r->result_formats.size() > 65535)
        el.fail("parameters", "parameters: more than 65535");
      if (literal) append_bind(*r, nullptr, r->bytes);
      break;
    }
    case Type::copy: {
      std::string data;
      if (auto file = el.maybe("contents_from_file")) {
        if (!text.empty()) fail_at(node, "use either the text or contents_from_file, not both");
        std::string path = (!file->empty() && (*file)[0] == '/') || ctx.scenario_dir.empty()
                               ? *file : ctx.scenario_dir + "/" + *file;
        try {
          data = read_regular_file(path, kMaxDataFileBytes);
        } catch (const std::runtime_error& e) {
          el.fail("contents_from_file", std::string("attribute contents_from_file: ") + e.what());
        }
      } else {
        takes_text = true;  // Tsung: the bytes as comma-separated integers
        for (std::uint32_t b : integers(el, nullptr, text, 255)) data.push_back(static_cast<char>(b));
      }
      std::size_t start = begin_message(r->bytes, 'd');
      r->bytes += data;
      end_message(r->bytes, start);
      break;
    }
    case Type::describe: {
      auto portal = el.maybe("name_portal");
      auto prepared = el.maybe("name_prepared");
      if (portal.has_value() == prepared.has_value())
        fail_at(node, "pgsql type=\"describe\" takes one of name_portal and name_prepared");
      std::size_t start = begin_message(r->bytes, 'D');
      r->bytes.push_back(portal ? 'P' : 'S');
      put_cstring(r->bytes, portal ? *portal : *prepared);
      end_message(r->bytes, start);
      break;
    }
  }
  el.finish();
  if (subst) refuse_unsubstituted(node, r->type, text, ctx.subst_body);
  if (!takes_text && !text.empty())
    fail_at(node, "<pgsql type=\"" + type_text + "\"> takes no text (Tsung ignores it)");
  for (pugi::xml_node child : node.children())
    if (child.type() == pugi::node_element) fail_at(child, "<pgsql> takes no child elements");
  return r;
}

}  // namespace loadctl::pgsql
