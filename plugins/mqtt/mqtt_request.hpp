#pragma once
// One <mqtt type="..."> element (Tsung's ts_config_mqtt): parsed once, shared by every user. The
// packet id of publish/subscribe/unsubscribe is per connection, so MqttConnection encodes with
// encode_with(); RequestSpec::encode (tools, tests) uses packet id 1.

#include <cstdint>
#include <memory>
#include <optional>
#include <pugixml.hpp>
#include <string>

#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"

namespace loadctl::mqtt {

enum class Kind : std::uint8_t { connect, disconnect, publish, subscribe, unsubscribe, wait_for_messages };

class MqttRequest final : public RequestSpec {
 public:
  Kind kind = Kind::connect;
  // connect
  bool clean_start = true;
  std::uint16_t keepalive = 10;  ///< seconds; also the PINGREQ period (none when 0)
  std::string will_topic;        ///< empty: no will
  std::string will_msg;
  std::uint8_t will_qos = 0;
  bool will_retain = false;
  std::optional<Template> username;  ///< absent: no user name flag (Tsung's `undefined`)
  std::optional<Template> password;
  // publish, subscribe, unsubscribe
  Template topic;
  std::uint8_t qos = 0;
  bool retained = false;
  Template payload;
  // waitForMessages
  double timeout_s = 1;

  void encode(const EncodeContext& ctx, std::string& out) const override { encode_with(ctx, out, 1); }
  /// The request's frame with `packet_id` (publish QoS 1, subscribe, unsubscribe); nothing for
  /// waitForMessages.
  void encode_with(const EncodeContext& ctx, std::string& out, std::uint16_t packet_id) const;
  /// Publish QoS 0 and disconnect are not acknowledged (Tsung's ack = no_ack).
  bool awaits_response() const override {
    return !(kind == Kind::disconnect || (kind == Kind::publish && qos == 0));
  }
  /// Never called: every received byte goes to MqttConnection.
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo& info) const override {
    info.error = "mqtt_no_connection";
    return {ParseStatus::error, 0};
  }
  std::string describe() const override;
};

/// Parses one <mqtt> element (throws ScenarioError naming file:line:column).
std::shared_ptr<const MqttRequest> parse_mqtt_request(pugi::xml_node element, const RequestParseContext& ctx);

}  // namespace loadctl::mqtt
