// The MySQL plugin (Tsung's ts_mysql): <mysql> requests in ts_mysql sessions, one MysqlConnection
// per connection.
#include "loadctl/protocol.hpp"
#include "mysql_connection.hpp"
#include "mysql_request.hpp"

namespace loadctl::mysql {
namespace {

class MysqlProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "mysql"; }
  std::string_view session_type() const override { return "ts_mysql"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext& ctx) const override {
    return parse_mysql_request(element, ctx);
  }
  bool connection_level() const override { return true; }
  // Tsung's ts_mysql parse_bidi is ts_plugin's (nodata): with bidi="true" Tsung counts a packet
  // received while the user thinks as async_unknown_data_rcv; MysqlConnection counts it as its
  // own (an ERR's code, or badpacket) either way, so the attribute is refused, not ignored.
  bool supports_bidi() const override { return false; }
  // The protocol is a stream (the greeting, packets across reads): ts_mysql over udp never gets
  // a greeting.
  bool supports_udp() const override { return false; }
  // request_is_page() stays false: ts_config_mysql sets endpage and then mark_prev_req, Tsung's
  // HTTP rule (a page ends at a request not directly followed by another request).
  // <server type="ssl">: CLIENT_SSL after the greeting, then TLS (MySQL has no direct TLS).
  bool negotiates_tls() const override { return true; }
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    return std::make_unique<MysqlConnection>(ctx.max_frame_size, codes_, ctx.negotiate_tls);
  }

 private:
  mutable ErrorCodeNames codes_;  // shared by the connections of every worker thread
};

}  // namespace
}  // namespace loadctl::mysql

void loadctl_register_mysql(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::mysql::MysqlProtocol>());
}
