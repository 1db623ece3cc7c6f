#include "digest_route.hpp"

#include <map>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace loadtarget {
namespace {

constexpr std::string_view k_user = "user", k_passwd = "passwd", k_realm = "loadtarget";

std::string md5_hex(const std::string& in) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(in.data(), in.size(), digest, &size, EVP_md5(), nullptr);
  std::string out;
  for (unsigned i = 0; i < size; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

// The parameters of "Authorization: Digest k=v, k="v", ..." in the request head; empty if none.
std::map<std::string, std::string, std::less<>> digest_params(std::string_view head) {
  std::map<std::string, std::string, std::less<>> out;
  auto at = head.find("\r\nAuthorization: Digest ");
  if (at == std::string_view::npos) return out;
  std::string_view rest = head.substr(at + 24);
  rest = rest.substr(0, rest.find("\r\n"));
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    auto eq = rest.find('=');
    if (eq == std::string_view::npos) break;
    std::string key(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    std::string value;
    if (rest.starts_with('"')) {
      auto close = rest.find('"', 1);
      if (close == std::string_view::npos) break;
      value = rest.substr(1, close - 1);
      rest.remove_prefix(close + 1);
    } else {
      auto comma = rest.find(',');
      value = rest.substr(0, comma);
      rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma);
    }
    out[key] = value;
  }
  return out;
}

bool valid(const HttpRequest& req) {
  auto p = digest_params(req.head);
  if (p["username"] != k_user || p["realm"] != k_realm || !p["nonce"].starts_with("lt") || p["uri"] != req.target)
    return false;
  std::string ha1 = md5_hex(fmt::format("{}:{}:{}", k_user, k_realm, k_passwd));
  std::string ha2 = md5_hex(req.method + ":" + req.target);
  std::string expected = p.contains("qop")
                             ? md5_hex(fmt::format("{}:{}:{}:{}:{}:{}", ha1, p["nonce"], p["nc"], p["cnonce"], p["qop"], ha2))
                             : md5_hex(fmt::format("{}:{}:{}", ha1, p["nonce"], ha2));
  return p["response"] == expected;
}

}  // namespace

void route_digest(const HttpRequest& req, std::uint64_t sequence, HttpResponse& res) {
  if (valid(req)) {
    res.body = "authenticated\n";
    return;
  }
  res.status = 401;
  res.headers = fmt::format("WWW-Authenticate: Digest realm=\"{}\", nonce=\"lt{:x}\", opaque=\"op\"\r\n",
                            k_realm, 0x1000 + sequence);
  res.body = "authentication required\n";
}

}  // namespace loadtarget
