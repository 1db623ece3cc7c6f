// The MQTT plugin (Tsung's ts_mqtt): <mqtt> requests in ts_mqtt sessions, one MqttConnection
// per connection.
#include "loadctl/protocol.hpp"
#include "mqtt_connection.hpp"
#include "mqtt_request.hpp"

namespace loadctl::mqtt {
namespace {

class MqttProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "mqtt"; }
  std::string_view session_type() const override { return "ts_mqtt"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext& ctx) const override {
    return parse_mqtt_request(element, ctx);
  }
  bool connection_level() const override { return true; }
  // request_is_page() stays false: ts_config_mqtt sets endpage and then mark_prev_req, Tsung's
  // HTTP rule (consecutive requests, a waitForMessages among them, form one page).
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    return std::make_unique<MqttConnection>(ctx.max_frame_size);
  }
};

}  // namespace
}  // namespace loadctl::mqtt

void loadctl_register_mqtt(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::mqtt::MqttProtocol>());
}
