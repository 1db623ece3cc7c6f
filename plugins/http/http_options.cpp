#include "http_options.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"

namespace loadctl::http {
namespace {

// SplitMix64's finaliser: consecutive user ids spread over the whole range.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::string_view HttpOptions::user_agent(std::uint64_t user) const {
  if (agents_.empty()) return kDefaultUserAgent;
  if (agents_.size() == 1) return agents_.front().value;
  double u = static_cast<double>(mix(user) >> 11) * 0x1.0p-53;  // [0, 1)
  auto it = std::upper_bound(agents_.begin(), agents_.end(), u,
                             [](double v, const Agent& a) { return v < a.cumulative; });
  return it == agents_.end() ? agents_.back().value : it->value;
}

std::shared_ptr<const ProtocolOptions> parse_http_options(std::span<const pugi::xml_node> options) {
  std::vector<HttpOptions::Agent> agents;
  for (pugi::xml_node node : options) {
    XmlElement el(node);
    el.ignore({"type"});
    std::string name = el.required("name");
    if (name != "user_agent") el.fail("name", fmt::format("not supported yet: ts_http option '{}'", name));
    el.finish();
    agents.clear();  // the last user_agent option wins, as a later Tsung option overrides
    double total = 0;
    for (pugi::xml_node ua : el.children({"user_agent"})) {
      XmlElement u(ua);
      double p = u.number("probability", std::nullopt, 0, 100);
      u.finish();
      std::string value = element_text(ua);
      if (value.empty()) fail_at(ua, "empty <user_agent>");
      total += p;
      agents.push_back({std::move(value), total});
    }
    if (agents.empty()) fail_at(node, "expected at least one <user_agent>");
    if (std::abs(total - 100) > 0.01) fail_at(node, fmt::format("user_agent probabilities sum to {}, expected 100", total));
    for (auto& a : agents) a.cumulative /= total;
    agents.back().cumulative = 1;
  }
  return std::make_shared<HttpOptions>(std::move(agents));
}

}  // namespace loadctl::http
