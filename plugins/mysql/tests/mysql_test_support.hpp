#pragma once
// For the unit tests and the fuzz target (fuzz/fuzz_mysql_connection.cpp): bytes MariaDB 10.11.19
// sent (captured with a plain socket client), and ConnectionServices that record what a
// connection sends and counts.
#include <string>
#include <string_view>
#include <vector>

#include "loadctl/connection.hpp"

namespace loadctl::mysql::test_support {

class FakeServices final : public ConnectionServices {
 public:
  std::string sent;
  std::vector<std::string> errors;
  double timer = -1;  ///< seconds of the armed timer, -1: none
  int tls_started = 0;
  void send(std::string_view b) override { sent.append(b); }
  void start_tls() override { ++tls_started; }
  void set_timer(double s) override { timer = s; }
  void cancel_timer() override { timer = -1; }
  ConnMetric metric(std::string_view, ConnMetricKind) override { return 0; }
  void count(ConnMetric, std::uint64_t) override {}
  void sample(ConnMetric, double) override {}
  void set_var(std::string_view, std::string_view) override {}
  void error(std::string_view name) override { errors.emplace_back(name); }
  const VariableSource* vars() const override { return nullptr; }
};

inline std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// MariaDB 10.11.19's greeting, its OK to the handshake, and its responses (captured with a
// plain socket client; the scramble is the greeting's).
inline const std::string kGreeting = unhex(
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b646562313275310005000000744c5c6b246f276f00fef7080200"
    "ff81150000000000001d0000007d457e6f2f3b786c376a335d006d7973716c5f6e61746976655f70617373776f726400");
inline const std::string kSalt = "tL\\k$o'o}E~o/;xl7j3]";
inline const std::string kAuthOk = unhex("0700000200000002000000");
inline const std::string kSelect1 = unhex(
    "010000010117000002036465660000000131000c3f000100000003810000000005000003fe0000020002000004013105000005fe00000200");
}  // namespace loadctl::mysql::test_support
