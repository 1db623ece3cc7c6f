#pragma once
// Password authentication: md5 (PostgreSQL's "md5" + md5(md5(password user) salt)) and the
// client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding, as libpq does
// over plain TCP. Hashes come from OpenSSL.

#include <string>
#include <string_view>

namespace loadctl::pgsql {

/// The PasswordMessage text for md5 authentication: "md5" and 32 hex digits.
std::string md5_password(std::string_view user, std::string_view password, std::string_view salt);

/// One SCRAM-SHA-256 exchange. The password is wiped when the object is destroyed.
class ScramClient {
 public:
  /// `nonce`: the client nonce, random (18 bytes from OpenSSL, base64) when empty; `user`: the
  /// n= attribute, empty for PostgreSQL (which uses the startup packet's user).
  explicit ScramClient(std::string_view password, std::string_view nonce = {}, std::string_view user = {});
  ~ScramClient();
  ScramClient(const ScramClient&) = delete;
  ScramClient& operator=(const ScramClient&) = delete;

  /// client-first-message: "n,,n=<user>,r=<nonce>".
  const std::string& client_first() const { return client_first_; }
  /// client-final-message for the server-first-message; false (and `out` untouched) when it is
  /// malformed, starts with a mandatory extension (m=), its nonce does not extend ours, its
  /// iteration count is 0 or over 100 000, or a server-first-message was answered already.
  bool client_final(std::string_view server_first, std::string& out);
  /// True when the server-final-message carries the server signature we expect.
  bool verify_server_final(std::string_view server_final) const;

 private:
  std::string password_;
  std::string client_first_;
  std::size_t bare_at_ = 0;        ///< where client-first-message-bare starts
  std::string server_signature_;   ///< base64, known once client_final() succeeded
};

/// Base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view in);
/// Decoded bytes; false on bad input.
bool base64_decode(std::string_view in, std::string& out);

}  // namespace loadctl::pgsql
