#pragma once
// <option type="ts_http" name="user_agent"> (Tsung's ts_http options), parsed by the plugin
// (Protocol::parse_options) and shared by the ts_http and ts_webdav sessions' requests.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "loadctl/protocol.hpp"

namespace loadctl::http {

/// Tsung's User-Agent when the scenario gives none, so that server-side rules written for Tsung
/// runs keep matching.
inline constexpr std::string_view kDefaultUserAgent = "Tsung";

class HttpOptions final : public ProtocolOptions {
 public:
  struct Agent {
    std::string value;
    double cumulative = 0;  ///< probability of this agent and the ones before it, in (0, 1]
  };
  explicit HttpOptions(std::vector<Agent> agents) : agents_(std::move(agents)) {}

  /// The User-Agent of user `user` (its tsung_userid): drawn with the option's probabilities,
  /// once per user as in Tsung (which draws it when the session starts), from a hash of the id.
  std::string_view user_agent(std::uint64_t user) const;
  const std::vector<Agent>& agents() const { return agents_; }

 private:
  std::vector<Agent> agents_;
};

/// Parses the ts_http options: `user_agent` with `<user_agent probability="..">` children that sum
/// to 100. Throws ScenarioError on anything else.
std::shared_ptr<const ProtocolOptions> parse_http_options(std::span<const pugi::xml_node> options);

}  // namespace loadctl::http
