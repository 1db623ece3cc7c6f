// A self-signed certificate (cert.pem, key.pem for CN=localhost) in a fresh directory, removed at
// destruction: for tests that run a TLS server.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace loadctl::test {

struct TestCert {
  TestCert() {
    char dir_template[] = "/tmp/loadctl_cert_test.XXXXXX";
    if (!mkdtemp(dir_template)) throw std::runtime_error("mkdtemp failed");
    dir = dir_template;
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " + dir +
                      "/key.pem -out " + dir + "/cert.pem 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl failed");
  }
  ~TestCert() { std::filesystem::remove_all(dir); }
  TestCert(const TestCert&) = delete;
  TestCert& operator=(const TestCert&) = delete;
  std::string dir;
};

}  // namespace loadctl::test
