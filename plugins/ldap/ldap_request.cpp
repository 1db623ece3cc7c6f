// <ldap> requests (Tsung's ts_config_ldap and ts_ldap_common) and LDAPv3 message coding.
#include "ldap_request.hpp"

#include <fmt/format.h>

#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"

namespace loadctl::ldap {

namespace {

void encode_attribute(BerWriter& w, const Attribute& a, const EncodeContext& ctx) {
  std::size_t at = w.open(tag::sequence);
  w.octets(tag::octet_string, a.type);
  std::size_t set = w.open(tag::set);
  for (const Template& v : a.values) render_octets(w, tag::octet_string, v, ctx);
  w.close(set);
  w.close(at);
}

}  // namespace

void LdapRequest::encode_with(const EncodeContext& ctx, std::string& out, std::int32_t message_id) const {
  BerWriter w(out);
  std::size_t message = w.open(tag::sequence);
  w.integer(tag::integer, message_id);
  switch (type) {
    case Type::bind: {
      std::size_t op = w.open(tag::bind_request);
      w.integer(tag::integer, 3);
      render_octets(w, tag::octet_string, user, ctx);
      render_octets(w, 0x80, password, ctx);  // simple [0]
      w.close(op);
      break;
    }
    case Type::unbind:
      w.out().push_back(static_cast<char>(tag::unbind_request));
      w.out().push_back(0);
      break;
    case Type::search: {
      std::size_t op = w.open(tag::search_request);
      render_octets(w, tag::octet_string, base, ctx);
      w.integer(tag::enumerated, scope);
      w.integer(tag::enumerated, 0);  // neverDerefAliases
      w.integer(tag::integer, 0);     // no size limit
      w.integer(tag::integer, 0);     // no time limit
      w.boolean(false);               // typesOnly
      encode_filter(w, filter, ctx);
      std::size_t list = w.open(tag::sequence);
      for (const std::string& a : attributes) w.octets(tag::octet_string, a);
      w.close(list);
      w.close(op);
      break;
    }
    case Type::start_tls: {
      std::size_t op = w.open(tag::extended_request);
      w.octets(0x80, kStartTlsOid);  // requestName [0]
      w.close(op);
      break;
    }
    case Type::add: {
      std::size_t op = w.open(tag::add_request);
      render_octets(w, tag::octet_string, dn, ctx);
      std::size_t list = w.open(tag::sequence);
      for (const Attribute& a : attrs) encode_attribute(w, a, ctx);
      w.close(list);
      w.close(op);
      break;
    }
    case Type::modify: {
      std::size_t op = w.open(tag::modify_request);
      render_octets(w, tag::octet_string, dn, ctx);
      std::size_t list = w.open(tag::sequence);
      for (const Modification& m : modifications) {
        std::size_t change = w.open(tag::sequence);
        w.integer(tag::enumerated, static_cast<int>(m.op));
        encode_attribute(w, m.attr, ctx);
        w.close(change);
      }
      w.close(list);
      w.close(op);
      break;
    }
    case Type::del:
      render_octets(w, tag::del_request, dn, ctx);
      break;
  }
  w.close(message);
}

namespace {

constexpr std::string_view kTypeNames[] = {"bind", "unbind", "search", "start_tls", "add", "modify", "delete"};

std::string text_of(const Template& t) { return t.is_literal() ? std::string(t.literal()) : std::string("(dynamic)"); }

/// <attr type="..."><value>...</value>...</attr>: Tsung's ts_config_ldap values are substituted.
/// An attribute to add needs a value (RFC 4511 4.7: vals SIZE(1..MAX)); a modification's may
/// have none (delete: the whole attribute).
Attribute parse_attr(pugi::xml_node node, bool subst, bool needs_value) {
  XmlElement el(node);
  Attribute a;
  a.type = el.required("type");
  if (!valid_attribute_description(a.type))
    el.fail("type", fmt::format("bad attribute type '{}' (expected a name such as cn, an OID, then ;options)", a.type));
  el.finish();
  if (needs_value && el.children({"value"}).empty()) fail_at(node, fmt::format("<attr type=\"{}\"> to add needs a <value>", a.type));
  for (pugi::xml_node v : el.children({"value"})) {
    XmlElement(v).finish();
    for (pugi::xml_node c : v.children())
      if (c.type() == pugi::node_element) fail_at(c, fmt::format("unexpected element <{}> in <value>", c.name()));
    a.values.push_back(checked_template(v, element_text(v), subst));
  }
  return a;
}

}  // namespace

std::string LdapRequest::describe() const {
  std::string name = fmt::format("ldap {}", kTypeNames[static_cast<int>(type)]);
  switch (type) {
    case Type::bind: return name + " " + text_of(user);
    case Type::search: return name + " " + text_of(base);
    case Type::add:
    case Type::modify:
    case Type::del: return name + " " + text_of(dn);
    default: return name;
  }
}

std::shared_ptr<const LdapRequest> parse_ldap_request(pugi::xml_node node, const RequestParseContext& ctx) {
  XmlElement el(node);
  auto r = std::make_shared<LdapRequest>();
  if (!el.has("type")) el.fail("type", "missing attribute 'type' (bind | unbind | search | start_tls | add | modify | delete)");
  std::string type = el.choice("type", {"bind", "unbind", "search", "start_tls", "add", "modify", "delete"}, "");
  for (std::size_t i = 0; i < std::size(kTypeNames); ++i)
    if (type == kTypeNames[i]) r->type = static_cast<Type>(i);
  // Each type reads its own attributes (as ts_config_ldap); another one is refused by finish().
  bool children_allowed = false;
  switch (r->type) {
    case Type::bind:
      // Tsung's add_dynparams substitutes user and password.
      r->user = el.template_attr("user", ctx.subst, "");
      r->password = el.template_attr("password", ctx.subst, "");
      break;
    case Type::unbind:
      break;
    case Type::start_tls:
      // ts_ldap hands these to ssl:connect; loadctl's STARTTLS uses the user's TLS context.
      el.unsupported({"cacertfile", "keyfile", "certfile"});
      break;
    case Type::search: {
      r->base = el.template_attr("base", ctx.subst, "");
      if (!el.has("scope")) el.fail("scope", "<ldap type=\"search\"> needs a scope (baseObject | singleLevel | wholeSubtree)");
      std::string scope = el.choice("scope", {"baseObject", "singleLevel", "wholeSubtree"}, "");
      r->scope = scope == "baseObject" ? 0 : scope == "singleLevel" ? 1 : 2;
      std::string filter = el.required("filter");
      MakeTemplate make = [&](std::string_view text) { return checked_template(node, text, ctx.subst); };
      FilterError error;
      if (!parse_filter(filter, make, r->filter, error)) {
        if (error.unsupported) unsupported_at(node, "extensible match filters (attr:rule:=value) in '" + filter + "'");
        el.fail("filter", fmt::format("bad filter '{}' at offset {}: {}", filter, error.offset, error.message));
      }
      r->result_var = el.optional("result_var", "");
      // Not in Tsung (ts_config_ldap always asks for all attributes): a comma-separated list.
      // Each name is an attribute description, "*" (all user attributes) or "+" (operational).
      if (auto list = el.maybe("attributes")) {
        std::string_view rest = *list;
        for (;;) {
          std::size_t comma = rest.find(',');
          std::string_view a = rest.substr(0, comma);
          while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
          while (!a.empty() && a.back() == ' ') a.remove_suffix(1);
          if (a.empty()) el.fail("attributes", fmt::format("empty name in attribute list '{}'", *list));
          if (a != "*" && a != "+" && !valid_attribute_description(a))
            el.fail("attributes", fmt::format("bad attribute name '{}' in '{}'", a, *list));
          r->attributes.emplace_back(a);
          if (comma == std::string_view::npos) break;
          rest = rest.substr(comma + 1);
        }
      }
      break;
    }
    case Type::add:
    case Type::modify:
    case Type::del:
      r->dn = el.template_attr("dn", ctx.subst, "");
      if (!el.has("dn")) el.fail("dn", fmt::format("<ldap type=\"{}\"> needs a dn", type));
      children_allowed = r->type != Type::del;
      break;
  }
  el.finish();
  if (!children_allowed) {
    el.children({});  // refuses child elements and text, with their location
    return r;
  }
  if (r->type == Type::add) {
    for (pugi::xml_node a : el.children({"attr"})) r->attrs.push_back(parse_attr(a, ctx.subst, true));
    return r;
  }
  // modify: <modification type="add|delete|replace"> with <attr> children, one change per attr.
  for (pugi::xml_node m : el.children({"modification"})) {
    XmlElement mel(m);
    if (!mel.has("type")) mel.fail("type", "missing attribute 'type' (add | delete | replace)");
    std::string op = mel.choice("type", {"add", "delete", "replace"}, "");
    mel.finish();
    ModOp mod = op == "add" ? ModOp::add : op == "delete" ? ModOp::del : ModOp::replace;
    for (pugi::xml_node a : mel.children({"attr"})) r->modifications.push_back({mod, parse_attr(a, ctx.subst, false)});
  }
  return r;
}

bool decode_message(std::string_view frame, LdapMessage& out) {
  BerReader outer(frame);
  BerTlv message, id, op;
  if (!outer.expect(tag::sequence, message) || !outer.done()) return false;
  BerReader fields(message.value);
  if (!fields.expect(tag::integer, id) || !decode_integer(id.value, out.id) || !fields.next(op)) return false;
  out.op = op.tag;
  out.result_code = -1;
  out.dn = {};
  out.diagnostic = {};
  BerReader body(op.value);
  BerTlv part;
  switch (op.tag) {
    case tag::search_entry:
      if (!body.expect(tag::octet_string, part)) return false;
      out.dn = part.value;
      return true;
    case tag::bind_response:
    case tag::search_done:
    case tag::modify_response:
    case tag::add_response:
    case tag::del_response:
    case tag::moddn_response:
    case tag::compare_response:
    case tag::extended_response: {
      BerTlv matched, diagnostic;
      if (!body.expect(tag::enumerated, part) || !decode_integer(part.value, out.result_code)) return false;
      if (!body.expect(tag::octet_string, matched) || !body.expect(tag::octet_string, diagnostic)) return false;
      out.dn = matched.value;
      out.diagnostic = diagnostic.value;
      return true;
    }
    default:
      return true;  // references, intermediate responses, anything else: the tag is enough
  }
}

}  // namespace loadctl::ldap
