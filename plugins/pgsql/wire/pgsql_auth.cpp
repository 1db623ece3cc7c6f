#include "pgsql_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>

namespace loadctl::pgsql {
namespace {

constexpr int kSha256Size = 32;
// PostgreSQL stores 4096 by default (scram_iterations); 100 000 PBKDF2 rounds take ~30 ms of
// the worker thread, which every user of that thread waits for.
constexpr long kMaxIterations = 100'000;

std::string md5_hex(std::string_view a, std::string_view b) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
  EVP_DigestUpdate(ctx, a.data(), a.size());
  EVP_DigestUpdate(ctx, b.data(), b.size());
  EVP_DigestFinal_ex(ctx, digest, &size);
  EVP_MD_CTX_free(ctx);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(out), size);
}

/// The value of attribute `name` ("r", "s", "i") of a SCRAM message: "r=..,s=..,i=..".
std::string_view scram_attribute(std::string_view message, char name) {
  while (!message.empty()) {
    std::size_t comma = message.find(',');
    std::string_view part = message.substr(0, comma);
    if (part.size() >= 2 && part[0] == name && part[1] == '=') return part.substr(2);
    if (comma == std::string_view::npos) break;
    message.remove_prefix(comma + 1);
  }
  return {};
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace

std::string md5_password(std::string_view user, std::string_view password, std::string_view salt) {
  return "md5" + md5_hex(md5_hex(password, user), salt);
}

std::string base64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool base64_decode(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  std::string bytes(3 * in.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) --size;
  bytes.resize(size);
  out = std::move(bytes);
  return true;
}

ScramClient::ScramClient(std::string_view password, std::string_view nonce, std::string_view user)
    : password_(password) {
  std::string random;
  if (nonce.empty()) {
    unsigned char raw[18];
    if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
    random = base64_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
    nonce = random;
  }
  client_first_ = "n,,";
  bare_at_ = client_first_.size();
  client_first_ += "n=";
  client_first_ += user;
  client_first_ += ",r=";
  client_first_ += nonce;
}

ScramClient::~ScramClient() { wipe(password_); }

bool ScramClient::client_final(std::string_view server_first, std::string& out) {
  // Once per exchange; server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count:
  // a mandatory extension (m=) we do not know fails the exchange (RFC 5802 section 5.1).
  if (!server_signature_.empty() || !server_first.starts_with("r=")) return false;
  std::string_view client_nonce = scram_attribute(std::string_view(client_first_).substr(bare_at_), 'r');
  std::string_view nonce = scram_attribute(server_first, 'r');
  std::string_view salt64 = scram_attribute(server_first, 's');
  std::string_view iterations_text = scram_attribute(server_first, 'i');
  if (nonce.size() <= client_nonce.size() || !nonce.starts_with(client_nonce)) return false;
  long iterations = 0;
  auto [end, ec] = std::from_chars(iterations_text.data(), iterations_text.data() + iterations_text.size(), iterations);
  if (ec != std::errc{} || end != iterations_text.data() + iterations_text.size() || iterations < 1 ||
      iterations > kMaxIterations)
    return false;
  std::string salt;
  if (salt64.empty() || !base64_decode(salt64, salt)) return false;

  std::string salted(kSha256Size, '\0');
  if (PKCS5_PBKDF2_HMAC(password_.data(), static_cast<int>(password_.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(), kSha256Size,
                        reinterpret_cast<unsigned char*>(salted.data())) != 1)
    return false;
  std::string client_key = hmac(salted, "Client Key");
  std::string stored_key = sha256(client_key);
  std::string without_proof = "c=biws,r=";  // biws: base64 of "n,,", no channel binding
  without_proof += nonce;
  std::string auth_message = client_first_.substr(bare_at_);
  auth_message += ',';
  auth_message += server_first;
  auth_message += ',';
  auth_message += without_proof;
  std::string proof = hmac(stored_key, auth_message);
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] ^= client_key[i];
  server_signature_ = base64_encode(hmac(hmac(salted, "Server Key"), auth_message));
  wipe(salted);
  wipe(client_key);
  wipe(password_);
  out = std::move(without_proof);
  out += ",p=";
  out += base64_encode(proof);
  return true;
}

bool ScramClient::verify_server_final(std::string_view server_final) const {
  return !server_signature_.empty() && scram_attribute(server_final, 'v') == server_signature_;
}

}  // namespace loadctl::pgsql
