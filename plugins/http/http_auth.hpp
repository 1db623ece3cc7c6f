#pragma once
// Authorization headers computed per request: HTTP digest (<www_authenticate type="digest">,
// RFC 2617 as Tsung's ts_http_common:authenticate builds it) and OAuth 1.0 (<oauth>, as
// Tsung's bundled erlang-oauth signs: HMAC-SHA1 or PLAINTEXT).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"

namespace loadctl::http {

/// <www_authenticate type="digest">: every attribute may be a %%_var%% (realm and nonce usually
/// come from the 401's WWW-Authenticate through dyn_variable header="www-authenticate/nonce").
struct DigestAuth {
  Template user, passwd, realm, nonce;
  std::optional<Template> opaque, qop;
  std::optional<Template> cnonce;  ///< absent: a new random value per request (Tsung: a unique id)
  Template nc;                     ///< "00000001" by default, as Tsung
};

/// Appends "Authorization: Digest ...\r\n" for `method` and request target `uri`.
void append_digest_header(const DigestAuth& auth, const EncodeContext& ctx, std::string_view method,
                          std::string_view uri, std::string& out);

/// <oauth consumer_key consumer_secret access_token access_token_secret method>.
struct OAuth {
  std::string consumer_key, consumer_secret;  ///< literal, as in Tsung
  Template token, token_secret;               ///< may be %%_var%%, "" = none
  bool plaintext = false;                     ///< method="PLAINTEXT"; else HMAC-SHA1
  bool form_body = false;  ///< the body is application/x-www-form-urlencoded: its parameters are signed
  Template body;           ///< that body, when form_body
  std::string authority;   ///< host[:port] of an absolute URL; empty: the server's Host header
};

/// RFC 3986 percent-encoding of OAuth (unreserved kept, upper-case hex).
void oauth_encode(std::string_view in, std::string& out);

/// The signature of a request whose parameters (oauth_* and request ones, decoded) are `params`:
/// HMAC-SHA1 over METHOD&url&sorted-params, or PLAINTEXT; base64 for HMAC-SHA1.
std::string oauth_signature(bool plaintext, std::string_view method, std::string_view base_url,
                            std::vector<std::pair<std::string, std::string>> params,
                            std::string_view consumer_secret, std::string_view token_secret);

/// Appends "Authorization: OAuth ...\r\n". `target` is the request target ("/p?q"); nonce and
/// timestamp are fresh unless given (tests).
void append_oauth_header(const OAuth& auth, const EncodeContext& ctx, std::string_view method,
                         std::string_view target, std::string& out, std::string_view nonce = {},
                         std::string_view timestamp = {});

/// Lower-case hex MD5 of `in`.
std::string md5_hex(std::string_view in);

}  // namespace loadctl::http
