#pragma once
// The http plugin (Tsung's ts_http): one HttpRequest per <http> element.
// Flow: parse_http_request (http_protocol.cpp) builds the chunk list once -> encode
// (http_encode.cpp) appends the chunks per request -> parse_response (http_response.cpp)
// consumes the reply incrementally in the engine's ParserState.

#include <cstdint>
#include <memory>
#include <optional>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "http_auth.hpp"
#include "http_cookies.hpp"
#include "http_options.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"

namespace loadctl::http {

/// One piece of an encoded request. Static text is merged into literal chunks at parse time.
struct Chunk {
  enum class Kind : std::uint8_t {
    literal,         ///< `text` as is
    text,            ///< `value` rendered (a templated URL or header value)
    host,            ///< "Host: <ctx.host_header>\r\n" when the header is not empty
    user_agent,      ///< "User-Agent: ..\r\n": the user's pick of the user_agent option, else "Tsung"
    basic_auth,      ///< "Authorization: Basic base64(value:value2)\r\n"
    content_length,  ///< renders the body `value` aside; "Content-Length: N\r\n"
    body,            ///< the body rendered by the content_length chunk
    cookies,         ///< "Cookie: ...\r\n" from the user's jar and the <add_cookie>s, if any,
                     ///< then `text` (the literal that follows, so no extra chunk)
    digest_auth,     ///< "Authorization: Digest ...\r\n" (HttpRequest::auth().digest)
    oauth,           ///< "Authorization: OAuth ...\r\n" (HttpRequest::auth().oauth)
  };
  Kind kind = Kind::literal;
  std::string text;
  Template value;
  Template value2;
};

/// What a request adds per user beyond its chunks' templates: cookies and computed auth.
struct RequestExtras {
  std::vector<RequestCookie> cookies;  ///< <add_cookie>s
  std::optional<DigestAuth> digest;
  std::optional<OAuth> oauth;
  std::string method;                  ///< for digest, OAuth and dumptraffic="protocol"
  Template target;                     ///< the URL as sent (the path of an absolute URL), for the dump
  /// The scenario's ts_http options (owned by the scenario, which outlives its requests), or null.
  const HttpOptions* options = nullptr;
};

/// An <http> request, immutable after parsing.
class HttpRequest final : public RequestSpec {
 public:
  HttpRequest(std::vector<Chunk> chunks, std::string description, bool head,
              std::optional<Endpoint> endpoint, RequestExtras extras = {});

  void encode(const EncodeContext& ctx, std::string& out) const override;
  ParseResult parse_response(ParserState& state, std::span<const char> data,
                             ResponseInfo& info) const override;
  bool complete_on_eof(ParserState& state, ResponseInfo& info) const override;
  bool dump_fields(const EncodeContext& ctx, DumpFields& out) const override;
  const Endpoint* endpoint() const override { return endpoint_ ? &*endpoint_ : nullptr; }
  std::string describe() const override { return description_; }

  /// The chunks, for tests: a fully static request has only literal/host/user_agent chunks.
  const std::vector<Chunk>& chunks() const { return chunks_; }
  const RequestExtras& extras() const { return extras_; }

 private:
  std::vector<Chunk> chunks_;
  std::string description_;
  bool head_;  ///< HEAD: responses have no body whatever their headers say
  std::optional<Endpoint> endpoint_;
  RequestExtras extras_;
};

/// Parses one <http> element (throws ScenarioError); `webdav`: of a ts_webdav session.
std::shared_ptr<const HttpRequest> parse_http_request(pugi::xml_node element,
                                                      const RequestParseContext& ctx, bool webdav = false);

/// Appends the base64 encoding of `in` to `out`.
void append_base64(std::string_view in, std::string& out);

}  // namespace loadctl::http
