// Shared by the jabber plugin's unit tests: the registered ts_jabber protocol and connection
// services that record what a connection sends, counts and reports.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "loadctl/connection.hpp"
#include "loadctl/protocol.hpp"

void loadctl_register_jabber(loadctl::ProtocolRegistry& registry);

namespace loadctl::jabber::test {

inline const Protocol& protocol() {
  static ProtocolRegistry registry = [] {
    ProtocolRegistry r;
    loadctl_register_jabber(r);
    return r;
  }();
  return *registry.by_session_type("ts_jabber");
}

class FakeServices final : public ConnectionServices {
 public:
  void send(std::string_view bytes) override { sent += bytes; }
  /// Lane 0 is `sent`, lane 1 `lane1` (XMPP over BOSH).
  void send_on(unsigned lane, std::string_view bytes) override { (lane == 0 ? sent : lane1) += bytes; }
  void start_tls() override { tls = true; }
  void set_timer(double) override { timer = true; }
  void cancel_timer() override {}
  ConnMetric metric(std::string_view name, ConnMetricKind) override {
    names.emplace_back(name);
    return static_cast<ConnMetric>(names.size() - 1);
  }
  void count(ConnMetric m, std::uint64_t n) override { counts[names[m]] += n; }
  void sample(ConnMetric m, double) override { counts[names[m] + ".samples"]++; }
  void set_var(std::string_view, std::string_view) override {}
  void error(std::string_view name) override { counts["error_" + std::string(name)]++; }
  const VariableSource* vars() const override { return nullptr; }
  std::vector<std::string> names;
  std::map<std::string, std::uint64_t> counts;
  std::string sent, lane1;
  bool tls = false, timer = false;
};

}  // namespace loadctl::jabber::test
