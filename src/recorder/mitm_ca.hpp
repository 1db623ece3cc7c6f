#pragma once
// `loadctl record --mitm-ca DIR`: the locally generated CA that lets the proxy decrypt CONNECT
// tunnels and record them as https:// requests (docs/recorder.md, "HTTPS").
//
//   MitmCa::open(DIR): DIR (0700, this user's) holds ca.pem and ca.key (0600), made here when
//   missing (EC P-256, CA:TRUE, keyCertSign, 30 days); never installed anywhere.
//   server_context(host): a TLS server context with a leaf certificate for `host` (SAN DNS or IP,
//   signed by the CA, one leaf key per recorder run), cached per host (at most kMaxLeafCache).

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio/ssl/context.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace loadctl::recorder {

struct OpenSslFree {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using X509Ptr = std::unique_ptr<X509, OpenSslFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree>;

inline constexpr std::size_t kMaxLeafCache = 256;
inline constexpr auto kCaValidity = std::chrono::hours(24 * 30);
inline constexpr const char* kCaName = "loadctl recorder CA (local)";

class MitmCa {
 public:
  /// Loads DIR/ca.pem and DIR/ca.key, or makes them when neither exists. DIR is created 0700 when
  /// missing; an existing DIR must be a directory of this user without group or other access, the
  /// key a regular file of this user with mode 0600 (or stricter). Throws std::runtime_error
  /// saying what is wrong (an expired CA too: remove it to make a new one).
  static std::unique_ptr<MitmCa> open(const std::string& dir);

  const std::string& cert_path() const { return cert_path_; }
  bool created() const { return created_; }
  X509* ca_cert() const { return ca_.get(); }
  /// base64(SHA-256(SubjectPublicKeyInfo)) of the leaf key: Chromium's
  /// --ignore-certificate-errors-spki-list (with --user-data-dir).
  std::string leaf_spki_sha256() const;
  /// A new leaf certificate for `host` (a DNS name or an IP address), signed by the CA.
  X509Ptr make_leaf(const std::string& host) const;
  /// A TLS server context presenting make_leaf(host) and the CA, cached per host.
  std::shared_ptr<boost::asio::ssl::context> server_context(const std::string& host);
  std::size_t cached() const { return cache_.size(); }
  /// Lines telling how to trust the CA for one session (curl, Chromium), for the console.
  std::string trust_instructions() const;

 private:
  MitmCa() = default;
  std::string cert_path_;
  bool created_ = false;
  X509Ptr ca_;
  PkeyPtr ca_key_, leaf_key_;
  std::unordered_map<std::string, std::shared_ptr<boost::asio::ssl::context>> cache_;
  std::deque<std::string> cache_order_;  ///< oldest first: evicted beyond kMaxLeafCache
};

}  // namespace loadctl::recorder
