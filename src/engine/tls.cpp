#include "engine/tls.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace loadctl::engine {

namespace {

// Where a connection's new sessions go: the worker's slot for that server (see make_tls_stream).
int session_slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// OpenSSL calls this for every session the server hands out (TLS 1.3: tickets after the handshake).
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SSL_SESSION**>(SSL_get_ex_data(ssl, session_slot_index()));
  if (!slot) return 0;
  if (*slot) SSL_SESSION_free(*slot);
  *slot = session;
  return 1;  // the slot owns it now
}

int tls_version(const std::string& name) {
  if (name == "tlsv1") return TLS1_VERSION;
  if (name == "tlsv1.1") return TLS1_1_VERSION;
  if (name == "tlsv1.2") return TLS1_2_VERSION;
  if (name == "tlsv1.3") return TLS1_3_VERSION;
  return 0;
}

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  if (!code) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

bool is_ip_literal(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace

std::unique_ptr<asio::ssl::context> make_tls_context(const Options& options, const TlsCertificate* certificate) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* ctx = context->native_handle();
  if (int version = tls_version(options.ssl_version)) {
    SSL_CTX_set_min_proto_version(ctx, version);
    SSL_CTX_set_max_proto_version(ctx, version);
  }
  if (!options.ssl_ciphers.empty()) {
    // TLS 1.3 suites have their own list in OpenSSL; a Tsung list may name either kind.
    std::string v12, v13;
    for (std::size_t start = 0; start <= options.ssl_ciphers.size();) {
      std::size_t end = options.ssl_ciphers.find(':', start);
      if (end == std::string::npos) end = options.ssl_ciphers.size();
      std::string name = options.ssl_ciphers.substr(start, end - start);
      std::string& list = name.starts_with("TLS_") ? v13 : v12;
      if (!name.empty()) list += (list.empty() ? "" : ":") + name;
      start = end + 1;
    }
    if (!v12.empty() && SSL_CTX_set_cipher_list(ctx, v12.c_str()) != 1)
      throw std::runtime_error(fmt::format("ssl_ciphers '{}': {}", v12, openssl_error()));
    if (!v13.empty() && SSL_CTX_set_ciphersuites(ctx, v13.c_str()) != 1)
      throw std::runtime_error(fmt::format("ssl_ciphers '{}': {}", v13, openssl_error()));
  }
  if (options.ssl_reuse_sessions) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_set_timeout(ctx, options.ssl_session_lifetime);  // read back in make_tls_stream
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  boost::system::error_code ec;
  context->set_verify_mode(options.ssl_verify ? asio::ssl::verify_peer : asio::ssl::verify_none, ec);
  if (options.ssl_verify) context->set_default_verify_paths(ec);
  if (!certificate) return context;
  if (!certificate->cacertfile.empty()) {
    context->load_verify_file(certificate->cacertfile, ec);
    if (ec) throw std::runtime_error(fmt::format("certificate cacertfile {}: {}", certificate->cacertfile, ec.message()));
  }
  if (!certificate->certfile.empty()) {
    std::string pass = certificate->keypass;
    context->set_password_callback([pass](std::size_t, asio::ssl::context::password_purpose) { return pass; });
    context->use_certificate_chain_file(certificate->certfile, ec);
    if (ec) throw std::runtime_error(fmt::format("certificate certfile {}: {}", certificate->certfile, ec.message()));
    context->use_private_key_file(certificate->keyfile, asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error(fmt::format("certificate keyfile {}: {}", certificate->keyfile, ec.message()));
  }
  return context;
}

std::unique_ptr<TlsStream> make_tls_stream(TlsSocket& socket, asio::ssl::context& context, std::string_view host,
                                           std::string_view alpn, bool verify, SSL_SESSION** session_slot) {
  auto stream = std::make_unique<TlsStream>(socket, context);
  SSL* ssl = stream->native_handle();
  std::string name(host);
  if (!is_ip_literal(host)) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (verify) SSL_set1_host(ssl, name.c_str());
  if (!alpn.empty() && alpn.size() < 256) {
    unsigned char wire[256];
    wire[0] = static_cast<unsigned char>(alpn.size());
    std::memcpy(wire + 1, alpn.data(), alpn.size());
    SSL_set_alpn_protos(ssl, wire, static_cast<unsigned>(alpn.size() + 1));
  }
  if (session_slot) {
    SSL_set_ex_data(ssl, session_slot_index(), session_slot);
    // -L: a session older than the lifetime is not resumed (the server's ticket hint may differ).
    if (*session_slot && std::time(nullptr) - SSL_SESSION_get_time(*session_slot) >= SSL_CTX_get_timeout(SSL_get_SSL_CTX(ssl)))
      free_tls_session(*session_slot);
    if (*session_slot) SSL_set_session(ssl, *session_slot);
  }
  return stream;
}

void free_tls_session(SSL_SESSION*& slot) {
  if (slot) SSL_SESSION_free(slot);
  slot = nullptr;
}

}  // namespace loadctl::engine
