#include "recorder/pgsql_proxy_auth.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "pgsql_auth.hpp"
#include "pgsql_wire.hpp"

namespace loadctl::recorder {

namespace {
constexpr std::uint32_t kAuthOk = 0, kAuthCleartext = 3, kAuthMd5 = 5, kAuthSasl = 10, kAuthSaslContinue = 11,
                        kAuthSaslFinal = 12;

// What the server sent, shortened and without control bytes, for a message.
std::string auth_excerpt(std::string_view data) {
  std::string out;
  for (char c : data.substr(0, 60)) out.push_back(c >= ' ' && c < 0x7f ? c : '?');
  return data.size() > 60 ? out + "..." : out;
}

// An AuthenticationRequest message with `code` and nothing else.
std::string pgsql_auth_request(std::uint32_t code) {
  std::string out;
  std::size_t start = pgsql::begin_message(out, 'R');
  pgsql::put_u32(out, code);
  pgsql::end_message(out, start);
  return out;
}
}  // namespace

ProxyAuth::ProxyAuth(std::string user, std::string scram_nonce, std::string scram_user)
    : user_(std::move(user)), scram_nonce_(std::move(scram_nonce)), scram_user_(std::move(scram_user)) {}
ProxyAuth::~ProxyAuth() = default;

AuthStep ProxyAuth::fail(std::string what) const {
  AuthStep s;
  s.error = "the server sent " + what;
  return s;
}

AuthStep ProxyAuth::on_backend(char type, std::string_view body, std::string_view raw) {
  AuthStep s;
  if (type != 'R') {  // ErrorResponse (a wrong password), NoticeResponse: the client reads them
    s.to_client = raw;
    return s;
  }
  if (body.size() < 4) return fail("an authentication request without its code");
  std::uint32_t code = pgsql::get_u32(body);
  std::string_view data = body.substr(4);
  if (password_pending_ && code != kAuthOk)
    return fail(fmt::format("authentication request {} while the client's password was awaited", code));
  switch (code) {
    case kAuthOk:
      if (password_pending_) return fail("AuthenticationOk before the password it asked for");
      if (method_ == Method::scram && scram_stage_ != Scram::verified)
        return fail("AuthenticationOk without SCRAM's SASLFinal (it did not prove it knows the password)");
      ready_ = s.ready = true;
      s.to_client = raw;
      return s;
    case kAuthCleartext:
    case kAuthMd5:
    case kAuthSasl:
      if (method_ != Method::none) return fail(fmt::format("a second authentication request ({})", code));
      if (code == kAuthCleartext) {
        method_ = Method::cleartext;
      } else if (code == kAuthMd5) {
        if (data.size() != 4) return fail(fmt::format("an md5 request with a {}-byte salt (not 4)", data.size()));
        salt_ = std::string(data);
        method_ = Method::md5;
      } else {
        std::string mechanisms;
        for (std::size_t at = 0; at < data.size();) {
          std::size_t nul = data.find('\0', at);
          if (nul == std::string_view::npos || nul == at) break;
          std::string_view name = data.substr(at, nul - at);
          if (name == "SCRAM-SHA-256") method_ = Method::scram;
          mechanisms += (mechanisms.empty() ? "" : ", ") + std::string(name);
          at = nul + 1;
        }
        if (method_ != Method::scram)
          return fail("SASL without SCRAM-SHA-256 (mechanisms: " + auth_excerpt(mechanisms) + ")");
      }
      password_pending_ = true;
      s.to_client = pgsql_auth_request(kAuthCleartext);
      return s;
    case kAuthSaslContinue: {
      if (method_ != Method::scram || scram_stage_ != Scram::initial_sent)
        return fail("a SASLContinue before SCRAM's initial response");
      std::string final_message;
      if (!scram_->client_final(data, final_message))
        return fail("a SCRAM server-first-message it cannot answer: " + auth_excerpt(data));
      scram_stage_ = Scram::continued;
      std::size_t start = pgsql::begin_message(s.to_server, 'p');
      s.to_server += final_message;
      pgsql::end_message(s.to_server, start);
      return s;
    }
    case kAuthSaslFinal:
      if (method_ != Method::scram || scram_stage_ != Scram::continued) return fail("a SASLFinal before SASLContinue");
      if (!scram_->verify_server_final(data))
        return fail("a SCRAM server-final-message that does not prove it knows the password: " + auth_excerpt(data));
      scram_stage_ = Scram::verified;
      return s;
    default:  // Kerberos, GSSAPI, SSPI and their continuations: passed through, nothing recordable
      if (!passthrough_noted_)
        s.note = fmt::format("authentication method {} passed through unrecorded (loadctl replays cleartext, md5 and "
                             "SCRAM-SHA-256)", code);
      passthrough_noted_ = true;
      s.to_client = raw;
      return s;
  }
}

AuthStep ProxyAuth::on_password(std::string_view password) {
  AuthStep s;
  password_pending_ = false;
  switch (method_) {
    case Method::cleartext: pgsql::string_message(s.to_server, 'p', password); break;
    case Method::md5: pgsql::string_message(s.to_server, 'p', pgsql::md5_password(user_, password, salt_)); break;
    case Method::scram: {
      if (std::any_of(password.begin(), password.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
        s.note = "the SCRAM password is not ASCII: the proxy (as loadctl's replay) uses its bytes without SASLprep; "
                 "if the server normalized it when it was set, authentication fails";
      scram_ = std::make_unique<pgsql::ScramClient>(password, scram_nonce_, scram_user_);
      scram_stage_ = Scram::initial_sent;
      std::size_t start = pgsql::begin_message(s.to_server, 'p');
      pgsql::put_cstring(s.to_server, "SCRAM-SHA-256");
      pgsql::put_u32(s.to_server, static_cast<std::uint32_t>(scram_->client_first().size()));
      s.to_server += scram_->client_first();
      pgsql::end_message(s.to_server, start);
      break;
    }
    case Method::none: return fail("nothing that asked for a password");  // wants_password() was false
  }
  return s;
}

}  // namespace loadctl::recorder
