#include "recorder/mitm_ca.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "control/local_control.hpp"

namespace loadctl::recorder {

namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

[[noreturn]] void openssl_failed(const std::string& what) {
  unsigned long code = ERR_get_error();
  char text[256] = "unknown error";
  if (code) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  throw std::runtime_error(fmt::format("--mitm-ca: {}: {}", what, text));
}

PkeyPtr new_p256_key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) openssl_failed("EC P-256 key");
  return key;
}

void random_serial(X509* cert) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_new(), BN_free);
  if (!bn || !BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)))
    openssl_failed("serial number");
}

void add_ext(X509* issuer, X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) openssl_failed(fmt::format("extension {}", OBJ_nid2sn(nid)));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (!ok) openssl_failed(fmt::format("extension {}", OBJ_nid2sn(nid)));
}

void add_name(X509_NAME* name, const char* field, const std::string& value) {
  if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0))
    openssl_failed(fmt::format("name {}={}", field, value));
}

// A new X.509 v3 certificate with a random serial, valid from an hour ago (clocks differ).
X509Ptr new_cert(EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), 2) || !X509_set_pubkey(cert.get(), key) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600))
    openssl_failed("certificate");
  random_serial(cert.get());
  return cert;
}

X509Ptr make_ca_cert(EVP_PKEY* key) {
  X509Ptr cert = new_cert(key);
  if (!X509_gmtime_adj(X509_getm_notAfter(cert.get()), std::chrono::seconds(kCaValidity).count())) openssl_failed("validity");
  X509_NAME* name = X509_get_subject_name(cert.get());
  add_name(name, "O", "loadctl");
  add_name(name, "CN", kCaName);
  if (!X509_set_issuer_name(cert.get(), name)) openssl_failed("issuer");
  add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (!X509_sign(cert.get(), key, EVP_sha256())) openssl_failed("signing the CA");
  return cert;
}

// A host name fit for a certificate: letters, digits, '-', '.', '_' (no ',' that would add names).
bool plain_dns_name(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  return true;
}

std::string read_private_file(const std::string& path, bool secret) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(fmt::format("--mitm-ca: {}: {}", path, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw std::runtime_error(fmt::format("--mitm-ca: {} is not a regular file", path));
  if (st.st_uid != geteuid()) throw std::runtime_error(fmt::format("--mitm-ca: {} belongs to uid {}, not to this user", path, st.st_uid));
  if ((st.st_mode & (secret ? 077 : 022)) != 0)
    throw std::runtime_error(fmt::format("--mitm-ca: {} has mode {:o}: others can {} it (chmod {})", path, st.st_mode & 0777,
                                         secret ? "read" : "change", secret ? "600" : "644"));
  std::string data;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || data.size() > (1 << 20)) throw std::runtime_error(fmt::format("--mitm-ca: cannot read {}", path));
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data;
}

// Creates `path` (it must not exist: O_EXCL, no symlink followed) with `mode` and writes `data`.
void write_new_file(const std::string& path, const std::string& data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error(fmt::format("--mitm-ca: cannot create {}: {}", path, std::strerror(errno)));
  bool ok = fchmod(fd, mode) == 0 && ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) throw std::runtime_error(fmt::format("--mitm-ca: cannot write {}: {}", path, std::strerror(errno)));
}

std::string to_pem(const std::function<int(BIO*)>& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get())) openssl_failed("PEM");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

BioPtr memory_bio(const std::string& data) {
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) openssl_failed("memory");
  return bio;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace

std::unique_ptr<MitmCa> MitmCa::open(const std::string& dir) {
  control::ensure_private_dir(dir);
  std::unique_ptr<MitmCa> ca(new MitmCa());
  ca->cert_path_ = dir + "/ca.pem";
  std::string key_path = dir + "/ca.key";
  bool have_cert = path_exists(ca->cert_path_), have_key = path_exists(key_path);
  if (have_cert != have_key)
    throw std::runtime_error(fmt::format("--mitm-ca: {} without {}: remove it to make a new CA", have_cert ? ca->cert_path_ : key_path,
                                         have_cert ? key_path : ca->cert_path_));
  if (!have_cert) {
    ca->ca_key_ = new_p256_key();
    ca->ca_ = make_ca_cert(ca->ca_key_.get());
    write_new_file(key_path, to_pem([&](BIO* b) { return PEM_write_bio_PrivateKey(b, ca->ca_key_.get(), nullptr, nullptr, 0, nullptr, nullptr); }), 0600);
    write_new_file(ca->cert_path_, to_pem([&](BIO* b) { return PEM_write_bio_X509(b, ca->ca_.get()); }), 0644);
    ca->created_ = true;
  } else {
    std::string key_pem = read_private_file(key_path, true), cert_pem = read_private_file(ca->cert_path_, false);
    ca->ca_key_.reset(PEM_read_bio_PrivateKey(memory_bio(key_pem).get(), nullptr, nullptr, nullptr));
    if (!ca->ca_key_) openssl_failed(key_path);
    ca->ca_.reset(PEM_read_bio_X509(memory_bio(cert_pem).get(), nullptr, nullptr, nullptr));
    if (!ca->ca_) openssl_failed(ca->cert_path_);
    if (X509_check_private_key(ca->ca_.get(), ca->ca_key_.get()) != 1) openssl_failed(fmt::format("{} does not match {}", key_path, ca->cert_path_));
    if (X509_check_ca(ca->ca_.get()) != 1) throw std::runtime_error(fmt::format("--mitm-ca: {} is not a CA certificate", ca->cert_path_));
    if (X509_cmp_current_time(X509_get0_notAfter(ca->ca_.get())) <= 0)
      throw std::runtime_error(fmt::format("--mitm-ca: the CA {} has expired: remove {} and {} to make a new one", ca->cert_path_,
                                           ca->cert_path_, key_path));
  }
  ca->leaf_key_ = new_p256_key();
  return ca;
}

X509Ptr MitmCa::make_leaf(const std::string& host) const {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  if (ec && !plain_dns_name(host)) throw std::runtime_error(fmt::format("--mitm-ca: \"{}\" is not a host name", host));
  X509Ptr leaf = new_cert(leaf_key_.get());
  // Never valid longer than the CA.
  if (!X509_set1_notAfter(leaf.get(), X509_get0_notAfter(ca_.get()))) openssl_failed("validity");
  if (host.size() <= 64) add_name(X509_get_subject_name(leaf.get()), "CN", host);
  if (!X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca_.get()))) openssl_failed("issuer");
  add_ext(ca_.get(), leaf.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(ca_.get(), leaf.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(ca_.get(), leaf.get(), NID_ext_key_usage, "serverAuth");
  add_ext(ca_.get(), leaf.get(), NID_subject_alt_name, (ec ? "DNS:" : "IP:") + (ec ? host : address.to_string()));
  add_ext(ca_.get(), leaf.get(), NID_subject_key_identifier, "hash");
  add_ext(ca_.get(), leaf.get(), NID_authority_key_identifier, "keyid:always");
  if (!X509_sign(leaf.get(), ca_key_.get(), EVP_sha256())) openssl_failed("signing a leaf");
  return leaf;
}

std::shared_ptr<boost::asio::ssl::context> MitmCa::server_context(const std::string& host) {
  if (auto found = cache_.find(host); found != cache_.end()) return found->second;
  X509Ptr leaf = make_leaf(host);
  auto context = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (!SSL_CTX_use_certificate(native, leaf.get()) || !SSL_CTX_use_PrivateKey(native, leaf_key_.get()) ||
      !SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION))
    openssl_failed("TLS server context");
  if (cache_.size() >= kMaxLeafCache) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
  cache_.emplace(host, context);
  cache_order_.push_back(host);
  return context;
}

std::string MitmCa::leaf_spki_sha256() const {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(leaf_key_.get(), &der);
  if (n <= 0) openssl_failed("SubjectPublicKeyInfo");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  int ok = EVP_Digest(der, static_cast<std::size_t>(n), digest, &size, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (!ok) openssl_failed("SHA-256");
  unsigned char base64[2 * EVP_MAX_MD_SIZE];
  int length = EVP_EncodeBlock(base64, digest, static_cast<int>(size));
  return std::string(reinterpret_cast<char*>(base64), static_cast<std::size_t>(length));
}

std::string MitmCa::trust_instructions() const {
  return fmt::format(
      "--mitm-ca: CONNECT tunnels are decrypted and recorded as https://, with leaf certificates signed by\n"
      "  {0} ({1}; installed nowhere). Trust it for this session only (PROXY: the address below):\n"
      "  curl:     curl --proxy http://PROXY --cacert {0} https://...\n"
      "  Chromium: chromium --proxy-server=http://PROXY --user-data-dir=\"$(mktemp -d)\" \\\n"
      "              --ignore-certificate-errors-spki-list={2}   (this run's leaf key)\n"
      "  or an NSS db in a throw-away profile: export HOME=\"$(mktemp -d)\"; mkdir -p \"$HOME/.pki/nssdb\";\n"
      "    certutil -d sql:\"$HOME/.pki/nssdb\" -N --empty-password;\n"
      "    certutil -d sql:\"$HOME/.pki/nssdb\" -A -t C,, -n loadctl-recorder -i {0}\n",
      cert_path_, created_ ? "made now, valid 30 days" : "made before", leaf_spki_sha256());
}

}  // namespace loadctl::recorder
