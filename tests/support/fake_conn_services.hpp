#pragma once
// A ConnectionServices playing the engine for a connection-level plugin's unit tests: it keeps
// what the plugin sends, its timer, its STARTTLS calls, the last variable it set and its counters
// (errors as "error_<name>").

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "loadctl/connection.hpp"

namespace loadctl::test {

struct FakeConnServices final : ConnectionServices {
  std::string sent;
  double timer = -1;  ///< seconds of the last set_timer, -1 none
  int tls_started = 0;
  std::string var_name, var_value;  ///< of the last set_var
  std::vector<std::string> names;
  std::map<std::string, std::uint64_t> counts;
  void send(std::string_view bytes) override { sent.append(bytes); }
  void start_tls() override { ++tls_started; }
  void set_timer(double s) override { timer = s; }
  void cancel_timer() override { timer = -1; }
  ConnMetric metric(std::string_view name, ConnMetricKind) override {
    names.emplace_back(name);
    return static_cast<ConnMetric>(names.size() - 1);
  }
  void count(ConnMetric m, std::uint64_t n) override { counts[names.at(m)] += n; }
  void sample(ConnMetric, double) override {}
  void set_var(std::string_view name, std::string_view value) override {
    var_name = name;
    var_value = value;
  }
  void error(std::string_view name) override { counts["error_" + std::string(name)]++; }
  const VariableSource* vars() const override { return nullptr; }
  /// `name`'s count, 0 when nothing counted it.
  std::uint64_t operator[](const std::string& name) const {
    auto it = counts.find(name);
    return it == counts.end() ? 0 : it->second;
  }
  /// The count of a metric the plugin declared (a test failure when it declared no `name`).
  std::uint64_t get(const std::string& name) const {
    if (std::find(names.begin(), names.end(), name) == names.end()) ADD_FAILURE() << "no metric " << name;
    return (*this)[name];
  }
};

}  // namespace loadctl::test
