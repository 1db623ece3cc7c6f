// The Qmsg demo protocol of Tsung's plugin notes, as a run-time loadctl plugin.
//   request:  PocketLen (u32) | UserId (u32) | UserComment (text)     <qmsg uid="..">text</qmsg>
//   response: PocketLen (u32) | UserId (u32) | RandomCode (u32)
// Integers are big-endian; PocketLen counts the bytes after it. `loadtarget --qmsg` serves it.
#include <charconv>
#include <cstdint>

#include "loadctl/plugin.hpp"
#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"

namespace qmsg {

using namespace loadctl;

constexpr std::uint32_t kResponseBody = 8;  // UserId + RandomCode

void append_u32(std::string& out, std::uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}

std::uint32_t read_u32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | b[3];
}

// A user id in decimal; nullopt-like false when it is not a u32.
bool parse_uid(std::string_view text, std::uint32_t& uid) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), uid);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

class QmsgRequest final : public RequestSpec {
 public:
  QmsgRequest(Template uid, Template comment) : uid_(std::move(uid)), comment_(std::move(comment)) {}

  void encode(const EncodeContext& ctx, std::string& out) const override {
    thread_local std::string uid_text;
    uid_text.clear();
    uid_.render(ctx.vars, uid_text, ctx.missing_vars);
    std::uint32_t uid = 0;
    if (!parse_uid(uid_text, uid)) uid = 0;  // an unusable dynamic uid sends 0 rather than failing
    std::size_t len_at = out.size();
    append_u32(out, 0);  // PocketLen, patched below
    append_u32(out, uid);
    comment_.render(ctx.vars, out, ctx.missing_vars);
    auto len = static_cast<std::uint32_t>(out.size() - len_at - 4);
    for (int i = 0; i < 4; ++i) out[len_at + i] = char(len >> (24 - 8 * i));
  }

  ParseResult parse_response(ParserState&, std::span<const char> data, ResponseInfo& info) const override {
    if (data.size() < 4) return {ParseStatus::need_more, 0};
    if (read_u32(data.data()) != kResponseBody) {
      info.error = "bad_qmsg_length";
      return {ParseStatus::error, 0};
    }
    if (data.size() < 4 + kResponseBody) return {ParseStatus::need_more, 0};
    return {ParseStatus::complete, 4 + kResponseBody};
  }

  std::string describe() const override { return "qmsg"; }

 private:
  Template uid_;
  Template comment_;
};

class QmsgProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "qmsg"; }
  std::string_view session_type() const override { return "ts_qmsg"; }

  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node node,
                                                   const RequestParseContext& ctx) const override {
    XmlElement el(node);
    Template uid = el.template_attr("uid", ctx.subst);
    if (!el.has("uid")) fail_at(node, "missing attribute uid (the 32-bit user id)");
    el.finish();
    for (pugi::xml_node child : node.children())  // UserComment is text only
      if (child.type() == pugi::node_element)
        fail_at(child, "unknown element <" + std::string(child.name()) + ">: <qmsg> holds text only");
    std::uint32_t literal_uid = 0;
    if (uid.is_literal() && !parse_uid(uid.literal(), literal_uid))
      fail_at(node, node.attribute("uid"), "attribute uid: expected an integer from 0 to 4294967295");
    Template comment = checked_template(node, element_text(node), ctx.subst);
    return std::make_shared<QmsgRequest>(std::move(uid), std::move(comment));
  }
};

void register_protocols(ProtocolRegistry& registry) {
  registry.add(std::make_unique<QmsgProtocol>());
  // %%qmsg:user_tag%%, as a Tsung plugin's Erlang function called from a substitution would be.
  register_substitution_function("qmsg:user_tag", [](const VariableSource& vars, std::string& out) {
    out += "qmsg-user-";
    out += std::to_string(vars.user_id());
  });
}

}  // namespace qmsg

LOADCTL_PLUGIN("qmsg", qmsg::register_protocols)
