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
  // request_is_page() stays false: ts_config_mysql sets endpage and then mark_prev_req, Tsung's
  // HTTP rule (a page ends at a request not directly followed by another request).
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    return std::make_unique<MysqlConnection>(ctx.max_frame_size, codes_);
  }

 private:
  mutable ErrorCodeNames codes_;  // shared by the connections of every worker thread
};

}  // namespace
}  // namespace loadctl::mysql

void loadctl_register_mysql(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::mysql::MysqlProtocol>());
}
