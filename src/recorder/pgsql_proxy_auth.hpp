#pragma once
// The PostgreSQL recording proxy's authentication (pgsql_proxy.cpp), kept apart from the sockets
// so that every path is unit-tested on bytes: a backend message read while authenticating -> what
// to send the client and the server, or why the proxy gives up.
//
// md5 and SCRAM-SHA-256 are answered by the proxy: the client is asked for the cleartext password
// instead (AuthenticationCleartextPassword), which is recorded and used to answer the server
// (md5_password, ScramClient, whose server signature must verify before AuthenticationOk).
// Cleartext and trust pass through; GSSAPI/SSPI/Kerberos pass through unrecorded.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace loadctl::pgsql {
class ScramClient;
}

namespace loadctl::recorder {

struct AuthStep {
  std::string to_client, to_server;  ///< bytes to send each way, "" for none
  std::string error;  ///< the proxy gives up ("the server sent ..."), "" when fine
  std::string note;   ///< a console note, "" for none
  bool ready = false; ///< AuthenticationOk: the login is complete, bytes pass through unread from now
};

class ProxyAuth {
 public:
  /// `user`: the startup packet's (md5's salt input); `scram_nonce`: the SCRAM client nonce, random
  /// when empty (tests give one); `scram_user`: SCRAM's n= (empty for PostgreSQL).
  explicit ProxyAuth(std::string user, std::string scram_nonce = {}, std::string scram_user = {});
  ~ProxyAuth();
  ProxyAuth(const ProxyAuth&) = delete;
  ProxyAuth& operator=(const ProxyAuth&) = delete;

  /// A whole backend message (type, body after the length, the raw bytes) before AuthenticationOk.
  AuthStep on_backend(char type, std::string_view body, std::string_view raw);
  /// True when the client's next PasswordMessage is the cleartext password the proxy asked for.
  bool wants_password() const { return password_pending_; }
  /// That password (without its NUL): the answer to the server's request.
  AuthStep on_password(std::string_view password);
  bool ready() const { return ready_; }

 private:
  enum class Method { none, cleartext, md5, scram };
  enum class Scram { none, initial_sent, continued, verified };
  AuthStep fail(std::string what) const;

  std::string user_, scram_nonce_, scram_user_, salt_;
  Method method_ = Method::none;
  Scram scram_stage_ = Scram::none;
  std::unique_ptr<pgsql::ScramClient> scram_;
  bool password_pending_ = false, ready_ = false, passthrough_noted_ = false;
};

}  // namespace loadctl::recorder
