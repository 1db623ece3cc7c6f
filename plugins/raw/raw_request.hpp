#pragma once
// The raw plugin (Tsung's ts_raw): a <raw> request sends `data`, or `datasize` zero bytes, and
// with ack="local" completes on the first bytes received; ack="no_ack" does not wait.

#include <cstddef>
#include <memory>
#include <pugixml.hpp>
#include <string>

#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"

namespace loadctl::raw {

enum class Ack : std::uint8_t { local, no_ack };

/// Upper bound of datasize, so a typo cannot ask for gigabytes per request.
inline constexpr std::size_t k_max_datasize = 64 * 1024 * 1024;

class RawRequest final : public RequestSpec {
 public:
  /// `data` when set (non-empty), else `datasize` when templated, else `static_size` zero bytes.
  RawRequest(Template data, Template datasize, std::size_t static_size, Ack ack);

  void encode(const EncodeContext& ctx, std::string& out) const override;
  bool awaits_response() const override { return ack_ != Ack::no_ack; }
  ParseResult parse_response(ParserState& state, std::span<const char> data,
                             ResponseInfo& info) const override;
  std::string describe() const override;

 private:
  Template data_;
  Template datasize_;
  std::size_t static_size_;
  Ack ack_;
  bool has_data_;  ///< send data_ rather than datasize zero bytes
};

/// Parses one <raw> element (throws ScenarioError).
std::shared_ptr<const RawRequest> parse_raw_request(pugi::xml_node element,
                                                    const RequestParseContext& ctx);

}  // namespace loadctl::raw
