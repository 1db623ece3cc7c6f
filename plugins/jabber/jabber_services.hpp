#pragma once
// The engine's services as a carrier (WebSocket, BOSH) hands them to the XMPP connection it
// wraps: everything forwarded, except what the carrier overrides (send: the XMPP connection's own
// messages, e.g. bidi replies, framed or put in a body; start_tls: refused over a carrier).

#include "loadctl/connection.hpp"

namespace loadctl::jabber {

class ForwardingServices : public ConnectionServices {
 public:
  explicit ForwardingServices(ConnectionServices& s) : s_(s) {}
  void send(std::string_view bytes) override { s_.send(bytes); }
  void send_on(unsigned lane, std::string_view bytes) override { s_.send_on(lane, bytes); }
  /// TLS under a carrier is not STARTTLS: the carrier fails the request (tls_asked).
  void start_tls() override { tls_asked_ = true; }
  void set_timer(double seconds) override { s_.set_timer(seconds); }
  void cancel_timer() override { s_.cancel_timer(); }
  ConnMetric metric(std::string_view name, ConnMetricKind kind) override { return s_.metric(name, kind); }
  void count(ConnMetric metric, std::uint64_t n) override { s_.count(metric, n); }
  void sample(ConnMetric metric, double ms) override { s_.sample(metric, ms); }
  void set_var(std::string_view name, std::string_view value) override { s_.set_var(name, value); }
  void error(std::string_view name) override { s_.error(name); }
  const VariableSource* vars() const override { return s_.vars(); }
  bool tls_asked() const { return tls_asked_; }

 protected:
  ConnectionServices& s_;

 private:
  bool tls_asked_ = false;
};

}  // namespace loadctl::jabber
