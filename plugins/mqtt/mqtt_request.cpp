// <mqtt> elements, as Tsung 1.7.0's ts_config_mqtt reads them, and their frames (ts_mqtt's
// get_message, mqtt_frame's encode), spoken as MQTT 3.1.1.
#include "mqtt_request.hpp"

#include <random>

#include <fmt/format.h>

#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"
#include "mqtt_frame.hpp"

namespace loadctl::mqtt {

namespace {

/// Renders `t` into `scratch` (or views its literal text without copying).
std::string_view render(const Template& t, const EncodeContext& ctx, std::string& scratch) {
  if (t.is_literal()) return t.literal();
  scratch.clear();
  t.render(ctx.vars, scratch, ctx.missing_vars);
  return scratch;
}

/// Tsung's client id: "tsung-" and 10 random letters (ts_utils:randombinstr, 'b' to 'z').
void append_client_id(std::string& out) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  out.append("tsung-");
  for (int i = 0; i < 10; ++i) out.push_back(static_cast<char>('b' + rng() % 25));
}

void encode_connect(const MqttRequest& r, const EncodeContext& ctx, std::string& out) {
  thread_local std::string user_buf, pass_buf;
  std::string_view user, pass;
  if (r.username) user = render(*r.username, ctx, user_buf);
  if (r.password) pass = render(*r.password, ctx, pass_buf);
  bool will = !r.will_topic.empty();  // Tsung: will_topic "" (the default) means no will
  constexpr std::size_t kClientId = 16;
  std::size_t length = 10 + 2 + kClientId;  // protocol name, level, flags, keepalive; client id
  if (will) length += string_size(r.will_topic) + string_size(r.will_msg);
  if (r.username) length += string_size(user);
  // As Tsung's mqtt_frame, the password goes only with a user name.
  bool with_password = r.username && r.password;
  if (with_password) length += string_size(pass);
  std::uint8_t flags = 0;
  if (r.username) flags |= 0x80;
  if (with_password) flags |= 0x40;
  if (will) flags |= static_cast<std::uint8_t>((r.will_retain ? 0x20 : 0) | (r.will_qos << 3) | 0x04);
  if (r.clean_start) flags |= 0x02;
  out.push_back(static_cast<char>(kConnect << 4));
  append_length(out, length);
  append_string(out, "MQTT");
  out.push_back(4);  // protocol level 4: MQTT 3.1.1
  out.push_back(static_cast<char>(flags));
  append_u16(out, r.keepalive);
  append_u16(out, kClientId);
  append_client_id(out);
  if (will) {
    append_string(out, r.will_topic);
    append_string(out, r.will_msg);
  }
  if (r.username) append_string(out, user);
  if (with_password) append_string(out, pass);
}

}  // namespace

void MqttRequest::encode_with(const EncodeContext& ctx, std::string& out, std::uint16_t packet_id) const {
  thread_local std::string topic_buf, payload_buf;
  switch (kind) {
    case Kind::connect:
      encode_connect(*this, ctx, out);
      return;
    case Kind::disconnect:
      out.append(disconnect_frame());
      return;
    case Kind::wait_for_messages:
      return;
    case Kind::publish: {
      std::string_view t = render(topic, ctx, topic_buf);
      std::string_view p = render(payload, ctx, payload_buf);
      std::size_t length = string_size(t) + (qos > 0 ? 2 : 0) + p.size();
      if (length > kMaxRemainingLength) {  // cannot be framed: send what fits
        p = p.substr(0, p.size() - (length - kMaxRemainingLength));
        length = kMaxRemainingLength;
      }
      out.push_back(static_cast<char>((kPublish << 4) | (qos << 1) | (retained ? 1 : 0)));
      append_length(out, length);
      append_string(out, t);
      if (qos > 0) append_u16(out, packet_id);
      out.append(p);
      return;
    }
    case Kind::subscribe:
    case Kind::unsubscribe: {
      std::string_view t = render(topic, ctx, topic_buf);
      bool sub = kind == Kind::subscribe;
      // MQTT 3.1.1 requires the flags 0010 on SUBSCRIBE and UNSUBSCRIBE (3.8.1, 3.10.1).
      out.push_back(static_cast<char>(((sub ? kSubscribe : kUnsubscribe) << 4) | 0x02));
      append_length(out, 2 + string_size(t) + (sub ? 1 : 0));
      append_u16(out, packet_id);
      append_string(out, t);
      if (sub) out.push_back(static_cast<char>(qos));
      return;
    }
  }
}

std::string MqttRequest::describe() const {
  auto topic_text = [this] { return topic.is_literal() ? std::string(topic.literal()) : std::string("(dynamic)"); };
  switch (kind) {
    case Kind::connect: return "mqtt connect";
    case Kind::disconnect: return "mqtt disconnect";
    case Kind::publish: return fmt::format("mqtt publish {} qos={}", topic_text(), qos);
    case Kind::subscribe: return fmt::format("mqtt subscribe {} qos={}", topic_text(), qos);
    case Kind::unsubscribe: return "mqtt unsubscribe " + topic_text();
    case Kind::wait_for_messages: return fmt::format("mqtt waitForMessages timeout={}", timeout_s);
  }
  return "mqtt";
}

namespace {

/// A fixed string attribute that must fit an MQTT string field.
std::string short_string(XmlElement& el, const char* name) {
  std::string value = el.optional(name, "");
  if (value.size() > kMaxString) el.fail(name, fmt::format("attribute '{}' is longer than {} bytes", name, kMaxString));
  return value;
}

/// Tsung reads these with getAttr(atom, ...): only true and false mean anything.
bool flag(XmlElement& el, const char* name, bool fallback) { return el.boolean(name, fallback); }

}  // namespace

std::shared_ptr<const MqttRequest> parse_mqtt_request(pugi::xml_node node, const RequestParseContext& ctx) {
  XmlElement el(node);
  auto r = std::make_shared<MqttRequest>();
  std::string type = el.choice("type", {"connect", "disconnect", "publish", "subscribe", "unsubscribe", "waitForMessages"}, "");
  if (!el.has("type")) el.fail("type", "missing attribute 'type' (connect | disconnect | publish | subscribe | unsubscribe | waitForMessages)");
  // Attributes are read whatever the type, as Tsung's parser does; each type uses its own.
  r->clean_start = flag(el, "clean_start", true);
  r->keepalive = static_cast<std::uint16_t>(el.integer("keepalive", 10, 0, 65535));
  r->will_topic = short_string(el, "will_topic");
  r->will_qos = static_cast<std::uint8_t>(el.integer("will_qos", 0, 0, 2));
  r->will_msg = short_string(el, "will_msg");
  r->will_retain = flag(el, "will_retain", false);
  // ts_mqtt substitutes user name and password (add_dynparams), topic and payload.
  if (el.has("username")) r->username = el.template_attr("username", ctx.subst);
  if (el.has("password")) r->password = el.template_attr("password", ctx.subst);
  r->topic = el.template_attr("topic", ctx.subst, "");
  r->qos = static_cast<std::uint8_t>(el.integer("qos", 0, 0, 2));
  r->retained = flag(el, "retained", false);
  r->timeout_s = el.number("timeout", 1, 0, 4'294'967);
  el.finish();
  for (pugi::xml_node child : node.children())
    if (child.type() == pugi::node_element) fail_at(child, fmt::format("unexpected element <{}> in <mqtt>", child.name()));
  r->payload = checked_template(node, element_text(node), ctx.subst && ctx.subst_body);

  if (type == "connect") r->kind = Kind::connect;
  else if (type == "disconnect") r->kind = Kind::disconnect;
  else if (type == "publish") r->kind = Kind::publish;
  else if (type == "subscribe") r->kind = Kind::subscribe;
  else if (type == "unsubscribe") r->kind = Kind::unsubscribe;
  else r->kind = Kind::wait_for_messages;

  bool topic_used = r->kind == Kind::publish || r->kind == Kind::subscribe || r->kind == Kind::unsubscribe;
  if (topic_used && r->topic.is_literal() && r->topic.literal().empty())
    el.fail("topic", fmt::format("<mqtt type=\"{}\"> needs a topic", type));
  if (topic_used && r->topic.is_literal() && r->topic.literal().size() > kMaxString)
    el.fail("topic", fmt::format("attribute 'topic' is longer than {} bytes", kMaxString));
  // QoS 2 needs PUBREC/PUBREL/PUBCOMP, which Tsung's ts_mqtt does not speak either.
  if ((r->kind == Kind::publish || r->kind == Kind::subscribe) && r->qos == 2)
    unsupported_at(node, fmt::format("<mqtt type=\"{}\" qos=\"2\"> (QoS 2)", type));
  return r;
}

}  // namespace loadctl::mqtt
