// The LDAP plugin (Tsung's ts_ldap): <ldap> requests in ts_ldap sessions, one LdapConnection per
// connection, which numbers the messages, reads the responses (a search's entries until its
// SearchResultDone) and upgrades to TLS on a successful StartTLS.
#include <array>

#include "ber.hpp"
#include "ldap_request.hpp"
#include "loadctl/connection.hpp"
#include "loadctl/protocol.hpp"

namespace loadctl::ldap {
namespace {

class LdapConnection final : public Connection {
 public:
  explicit LdapConnection(std::size_t max_frame_size) : max_frame_size_(max_frame_size) {}

  bool on_open(ConnectionServices& s) override {
    // Tsung's ts_ldap counters, then loadctl's own (not in Tsung): entries received, searches
    // and deletes the server refused.
    constexpr std::string_view names[] = {"ldap_bind_ok",      "ldap_bind_error",     "ldap_starttls_error",
                                          "ldap_add_error",    "ldap_modify_error",   "ldap_unexpected_msg_resp",
                                          "ldap_delete_error", "ldap_search_entries", "ldap_search_error"};
    for (std::size_t i = 0; i < std::size(names); ++i) m_[i] = s.metric(names[i], ConnMetricKind::counter);
    return false;
  }

  void encode(ConnectionServices&, const RequestSpec& spec, const EncodeContext& ctx, std::string& out) override {
    const auto& r = static_cast<const LdapRequest&>(spec);
    id_ = id_ == 0x7fffffff ? 1 : id_ + 1;  // messageID: 1 .. maxInt, 0 is the server's
    std::string().swap(dns_);  // nothing of an earlier search (one cut short) is kept
    r.encode_with(ctx, out, id_);
  }

  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override;

  ConnEvent on_tls_ready(ConnectionServices&) override { return ConnEvent::complete; }

  /// Tsung's parse(closed, ...): the server closing acknowledges the pending request.
  bool on_eof(const RequestSpec* pending, ResponseInfo&) override { return pending != nullptr; }

 private:
  enum Metric { bind_ok, bind_error, starttls_error, add_error, modify_error, unexpected, delete_error,
                search_entries, search_error, metric_count };

  /// A refused add/modify/delete (or bind): counted, and as ts_ldap the connection closes.
  ConnEvent refused(ConnectionServices& s, const LdapMessage& m, Metric metric) {
    if (m.result_code == 0) return ConnEvent::complete;
    s.count(m_[metric]);
    return ConnEvent::close;
  }

  std::size_t max_frame_size_;
  std::array<ConnMetric, metric_count> m_{};
  std::int32_t id_ = 0;  ///< the last message id sent
  std::string dns_;      ///< result_var: the DNs of the pending search's entries, one per line
};

ConnResult LdapConnection::on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                                   ResponseInfo& info) {
  std::uint8_t t = 0;
  std::size_t header = 0, length = 0;
  // The peer's length is checked before waiting for (and buffering) that many bytes.
  switch (read_header(data, max_frame_size_, t, header, length)) {
    case BerStatus::need_more:
      return {0, ConnEvent::none};
    case BerStatus::too_large:
      info.error = "ldap_frame_too_large";
      return {data.size(), ConnEvent::fatal};
    case BerStatus::malformed:
      info.error = "ldap_malformed";
      return {data.size(), ConnEvent::fatal};
    case BerStatus::ok:
      break;
  }
  if (t != tag::sequence) {
    info.error = "ldap_malformed";
    return {data.size(), ConnEvent::fatal};
  }
  if (data.size() - header < length) return {0, ConnEvent::none};
  std::size_t size = header + length;
  LdapMessage m;
  if (!decode_message(std::string_view(data.data(), size), m)) {
    info.error = "ldap_malformed";
    return {data.size(), ConnEvent::fatal};
  }
  // Nothing pending (after an unbind, or a notice of disconnection while the user thinks), or a
  // message for another id (an unsolicited notification, id 0): not a response.
  if (!pending || m.id != id_) {
    if (pending) s.count(m_[unexpected]);
    return {size, ConnEvent::none};
  }
  const auto& r = static_cast<const LdapRequest&>(*pending);
  switch (m.op) {
    case tag::bind_response:
      if (r.type != Type::bind) break;
      if (m.result_code == 0) {
        s.count(m_[bind_ok]);
        return {size, ConnEvent::complete};
      }
      s.count(m_[bind_error]);
      return {size, ConnEvent::close};  // ts_ldap closes after a failed bind
    case tag::search_entry:
      if (r.type != Type::search) break;
      s.count(m_[search_entries]);
      if (!r.result_var.empty()) {
        // The variable is bounded as one frame is: a user holds at most max_frame_size of DNs.
        if (dns_.size() + 1 + m.dn.size() > max_frame_size_) {
          info.error = "ldap_result_var_too_large";
          return {size, ConnEvent::fatal};
        }
        if (!dns_.empty()) dns_.push_back('\n');
        dns_.append(m.dn);
      }
      return {size, ConnEvent::none};
    case tag::search_reference:
      if (r.type != Type::search) break;
      return {size, ConnEvent::none};
    case tag::intermediate_response:
      // RFC 4511 4.13: zero or more may precede the final response of the request (with its id);
      // they neither answer it nor are unexpected. (Tsung has no clause for them.)
      return {size, ConnEvent::none};
    case tag::search_done:
      if (r.type != Type::search) break;
      if (m.result_code != 0) s.count(m_[search_error]);
      // As Tsung's result_var: set when entries came (Tsung keeps the decoded entries).
      if (!r.result_var.empty() && !dns_.empty()) {
        s.set_var(r.result_var, dns_);
        std::string().swap(dns_);  // the variable holds its own copy: free ours
      }
      return {size, ConnEvent::complete};
    case tag::extended_response:
      if (r.type != Type::start_tls) break;
      if (m.result_code == 0) {
        s.start_tls();  // on_tls_ready completes the request
        return {size, ConnEvent::none};
      }
      s.count(m_[starttls_error]);  // ts_ldap goes on in the clear
      return {size, ConnEvent::complete};
    case tag::add_response:
      if (r.type != Type::add) break;
      return {size, refused(s, m, add_error)};
    case tag::modify_response:
      if (r.type != Type::modify) break;
      return {size, refused(s, m, modify_error)};
    case tag::del_response:
      if (r.type != Type::del) break;
      return {size, refused(s, m, delete_error)};
    default:
      break;
  }
  s.count(m_[unexpected]);  // ts_ldap: any other message acknowledges the request
  return {size, ConnEvent::complete};
}

class LdapProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "ldap"; }
  std::string_view session_type() const override { return "ts_ldap"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext& ctx) const override {
    return parse_ldap_request(element, ctx);
  }
  bool connection_level() const override { return true; }
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    return std::make_unique<LdapConnection>(ctx.max_frame_size);
  }
};

}  // namespace
}  // namespace loadctl::ldap

void loadctl_register_ldap(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::ldap::LdapProtocol>());
}
