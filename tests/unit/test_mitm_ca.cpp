// `loadctl record --mitm-ca`: the CA and the leaf certificates (src/recorder/mitm_ca.cpp).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "recorder/mitm_ca.hpp"

namespace fs = std::filesystem;
using loadctl::recorder::MitmCa;
using loadctl::recorder::X509Ptr;

// A fresh directory per test, 0700 (named, not in an anonymous namespace: gtest derives from it).
struct MitmCaDir : ::testing::Test {
  void SetUp() override {
    base = fs::temp_directory_path() / ("mitm-ca-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base);
    fs::create_directories(base);
    ::chmod(base.c_str(), 0700);
  }
  void TearDown() override { fs::remove_all(base); }
  std::string ca_dir() const { return (base / "ca").string(); }
  static mode_t mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  // X509_verify_cert of `leaf` against `ca` alone, for `host` (a name or an IP address).
  static int verify(X509* ca, X509* leaf, const std::string& host, bool ip) {
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
    X509_STORE_add_cert(store.get(), ca);
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (ip) X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
    return X509_STORE_CTX_get_error(ctx.get());
  }
  fs::path base;
};

TEST_F(MitmCaDir, MakesAnOwnerOnlyCaThenLoadsIt) {
  auto ca = MitmCa::open(ca_dir());
  EXPECT_TRUE(ca->created());
  EXPECT_EQ(mode(ca_dir()), 0700u);
  EXPECT_EQ(mode(ca_dir() + "/ca.key"), 0600u);
  EXPECT_EQ(ca->cert_path(), ca_dir() + "/ca.pem");
  X509* cert = ca->ca_cert();
  EXPECT_EQ(X509_check_ca(cert), 1);
  EXPECT_TRUE(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN);
  char name[256];
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
  EXPECT_STREQ(name, "loadctl recorder CA (local)");
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(cert)), EVP_PKEY_EC);
  // About 30 days, not years.
  int days = 0, seconds = 0;
  ASSERT_TRUE(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert)));
  EXPECT_GE(days, 29);
  EXPECT_LE(days, 31);

  auto again = MitmCa::open(ca_dir());
  EXPECT_FALSE(again->created());
  EXPECT_EQ(X509_cmp(again->ca_cert(), cert), 0) << "a second run makes a new CA instead of loading the first";
  // A leaf of the second run verifies against the first run's CA certificate.
  X509Ptr leaf = again->make_leaf("shop.example");
  EXPECT_EQ(verify(cert, leaf.get(), "shop.example", false), X509_V_OK);
}

TEST_F(MitmCaDir, LeafForANameAndForAnAddress) {
  auto ca = MitmCa::open(ca_dir());
  X509Ptr leaf = ca->make_leaf("shop.example");
  EXPECT_EQ(verify(ca->ca_cert(), leaf.get(), "shop.example", false), X509_V_OK);
  EXPECT_EQ(verify(ca->ca_cert(), leaf.get(), "other.example", false), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(X509_check_host(leaf.get(), "shop.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_TRUE(X509_get_key_usage(leaf.get()) & KU_DIGITAL_SIGNATURE);
  EXPECT_FALSE(X509_get_key_usage(leaf.get()) & KU_KEY_CERT_SIGN);
  EXPECT_TRUE(X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER);
  // Signed by the CA, never valid beyond it.
  EXPECT_EQ(X509_check_issued(ca->ca_cert(), leaf.get()), X509_V_OK);
  EXPECT_LE(ASN1_TIME_compare(X509_get0_notAfter(leaf.get()), X509_get0_notAfter(ca->ca_cert())), 0);

  X509Ptr ip = ca->make_leaf("127.0.0.1");
  EXPECT_EQ(verify(ca->ca_cert(), ip.get(), "127.0.0.1", true), X509_V_OK);
  EXPECT_EQ(X509_check_ip_asc(ip.get(), "127.0.0.1", 0), 1);
  X509Ptr ip6 = ca->make_leaf("::1");
  EXPECT_EQ(X509_check_ip_asc(ip6.get(), "::1", 0), 1);
  // A CONNECT target that would smuggle a second name into the SAN.
  EXPECT_THROW(ca->make_leaf("a.example,DNS:bank.example"), std::runtime_error);
  EXPECT_THROW(ca->make_leaf(""), std::runtime_error);
}

TEST_F(MitmCaDir, LeafContextsAreCachedAndBounded) {
  auto ca = MitmCa::open(ca_dir());
  auto first = ca->server_context("a.example");
  EXPECT_EQ(ca->server_context("a.example"), first);
  for (int i = 0; i < 300; ++i) ca->server_context("h" + std::to_string(i) + ".example");
  EXPECT_EQ(ca->cached(), loadctl::recorder::kMaxLeafCache);
  EXPECT_NE(ca->server_context("a.example"), first) << "the oldest entry was not evicted";
  // The SPKI hash for Chromium: base64 of 32 bytes.
  std::string spki = ca->leaf_spki_sha256();
  EXPECT_EQ(spki.size(), 44u);
  EXPECT_EQ(spki.back(), '=');
}

TEST_F(MitmCaDir, RefusesDirectoriesAndKeysOthersCanReach) {
  ::mkdir(ca_dir().c_str(), 0700);
  ::chmod(ca_dir().c_str(), 0770);  // group-writable
  EXPECT_THROW(MitmCa::open(ca_dir()), std::runtime_error);
  ::chmod(ca_dir().c_str(), 0703);  // world-writable
  EXPECT_THROW(MitmCa::open(ca_dir()), std::runtime_error);
  EXPECT_FALSE(fs::exists(ca_dir() + "/ca.key")) << "a key was written into a directory others can reach";
  ::chmod(ca_dir().c_str(), 0700);
  MitmCa::open(ca_dir());
  ::chmod((ca_dir() + "/ca.key").c_str(), 0640);  // the key readable by the group
  try {
    MitmCa::open(ca_dir());
    ADD_FAILURE() << "a group-readable key was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ca.key has mode 640"), std::string::npos) << e.what();
  }
  // A symlink as the key (to a file of this user with a right mode) is not followed.
  ::chmod((ca_dir() + "/ca.key").c_str(), 0600);
  fs::rename(ca_dir() + "/ca.key", base / "elsewhere.key");
  fs::create_symlink(base / "elsewhere.key", ca_dir() + "/ca.key");
  EXPECT_THROW(MitmCa::open(ca_dir()), std::runtime_error);
  // A certificate without its key: refused, not replaced.
  fs::remove(ca_dir() + "/ca.key");
  EXPECT_THROW(MitmCa::open(ca_dir()), std::runtime_error);
  EXPECT_TRUE(fs::exists(ca_dir() + "/ca.pem"));
  // A symlink as the directory.
  fs::create_symlink(base / "ca", base / "link");
  EXPECT_THROW(MitmCa::open((base / "link").string()), std::runtime_error);
}

TEST_F(MitmCaDir, RefusesADirectoryOfAnotherUser) {
  std::string dir = "/";  // root's: another user's unless the test runs as root
  if (::geteuid() == 0) {
    dir = ca_dir();
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);  // nobody's
  }
  try {
    MitmCa::open(dir);
    ADD_FAILURE() << "a directory of another user was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not to this user"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir + "/ca.key"));
}
