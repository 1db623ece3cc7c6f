#include "http_auth.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <random>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http_request.hpp"
#include "loadctl/text.hpp"

namespace loadctl::http {
namespace {

constexpr char k_hex[] = "0123456789abcdef";

std::string render(const Template& t, const EncodeContext& ctx) {
  std::string out;
  t.render(ctx.vars, out, ctx.missing_vars);
  return out;
}

std::mt19937_64& random_engine() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

std::string random_string(std::string_view alphabet, std::size_t n) {
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string out(n, ' ');
  for (char& c : out) c = alphabet[pick(random_engine())];
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
      out += char(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
      i += 2;
    } else {
      out += in[i] == '+' ? ' ' : in[i];
    }
  }
  return out;
}

// "a=1&b=2" -> decoded pairs (a parameter without '=' has an empty value).
void add_query_params(std::string_view query, std::vector<std::pair<std::string, std::string>>& params) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    params.emplace_back(percent_decode(item.substr(0, eq)),
                        eq == std::string_view::npos ? std::string() : percent_decode(item.substr(eq + 1)));
  }
}

}  // namespace

std::string md5_hex(std::string_view in) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(in.data(), in.size(), digest, &size, EVP_md5(), nullptr);
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out += k_hex[digest[i] >> 4];
    out += k_hex[digest[i] & 15];
  }
  return out;
}

namespace {

// A control character (CR, LF, NUL...) would split or corrupt the header: such a value (usually
// a capture of a malformed 401) makes the request go without Authorization, so the server's
// 401 shows it.
// `name="value"` with `"` and `\` escaped as quoted-pairs (RFC 7616 section 3.4; servers unescape
// them before hashing, so the response still matches). Values without them are sent as Tsung.
void append_quoted(std::string_view name, std::string_view value, std::string& out) {
  out += name;
  out += "=\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

void append_digest_header(const DigestAuth& auth, const EncodeContext& ctx, std::string_view method,
                          std::string_view uri, std::string& out) {
  std::string user = render(auth.user, ctx), realm = render(auth.realm, ctx), nonce = render(auth.nonce, ctx);
  std::string qop = auth.qop ? render(*auth.qop, ctx) : std::string();
  std::string opaque = auth.opaque ? render(*auth.opaque, ctx) : std::string();
  std::string nc, cnonce;
  if (auth.qop) {
    nc = render(auth.nc, ctx);
    cnonce = auth.cnonce ? render(*auth.cnonce, ctx) : random_string("0123456789abcdef", 16);
  }
  // nc is sent unquoted: only its 8 hex digits (RFC 7616) make sense there.
  bool nc_ok = std::all_of(nc.begin(), nc.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  if (!nc_ok || text::has_ctl(user) || text::has_ctl(realm) || text::has_ctl(nonce) || text::has_ctl(qop) || text::has_ctl(opaque) ||
      text::has_ctl(cnonce) || text::has_ctl(uri))
    return;
  std::string ha1 = md5_hex(user + ":" + realm + ":" + render(auth.passwd, ctx));
  std::string ha2 = md5_hex(std::string(method) + ":" + std::string(uri));
  std::string response = auth.qop ? md5_hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
                                  : md5_hex(ha1 + ":" + nonce + ":" + ha2);
  out += "Authorization: Digest ";
  append_quoted("username", user, out);
  append_quoted(", realm", realm, out);
  append_quoted(", nonce", nonce, out);
  append_quoted(", uri", uri, out);
  append_quoted(", response", response, out);
  if (auth.opaque) append_quoted(", opaque", opaque, out);
  // Tsung quotes qop, which RFC 2617 servers (Apache, nginx modules) accept.
  if (auth.qop) {
    append_quoted(", qop", qop, out);
    out += ", nc=" + nc;
    append_quoted(", cnonce", cnonce, out);
  }
  out += "\r\n";
}

void oauth_encode(std::string_view in, std::string& out) {
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += "0123456789ABCDEF"[c >> 4];
      out += "0123456789ABCDEF"[c & 15];
    }
  }
}

std::string oauth_signature(bool plaintext, std::string_view method, std::string_view base_url,
                            std::vector<std::pair<std::string, std::string>> params,
                            std::string_view consumer_secret, std::string_view token_secret) {
  std::string key;
  oauth_encode(consumer_secret, key);
  key += '&';
  oauth_encode(token_secret, key);
  if (plaintext) return key;
  for (auto& [k, v] : params) {  // sorted by encoded name, then value (RFC 5849 3.4.1.3.2)
    std::string ek, ev;
    oauth_encode(k, ek);
    oauth_encode(v, ev);
    k = std::move(ek);
    v = std::move(ev);
  }
  std::sort(params.begin(), params.end());
  std::string normalized;
  for (const auto& [k, v] : params) {
    if (!normalized.empty()) normalized += '&';
    normalized += k + "=" + v;
  }
  std::string base;
  oauth_encode(method, base);
  base += '&';
  oauth_encode(base_url, base);
  base += '&';
  oauth_encode(normalized, base);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(base.data()),
       base.size(), mac, &size);
  std::string out;
  append_base64(std::string_view(reinterpret_cast<const char*>(mac), size), out);
  return out;
}

// "http://host[:port]" as erlang-oauth normalizes it: host in lower case, no default port.
static std::string oauth_base_host(const OAuth& auth, const EncodeContext& ctx) {
  bool tls = ctx.transport == Transport::ssl;
  std::string out = tls ? "https://" : "http://";
  std::string_view authority = auth.authority.empty() ? ctx.host_header : std::string_view(auth.authority);
  if (authority.ends_with(tls ? ":443" : ":80")) authority.remove_suffix(tls ? 4 : 3);
  for (char c : authority) out += c >= 'A' && c <= 'Z' ? char(c + 32) : c;
  return out;
}

void append_oauth_header(const OAuth& auth, const EncodeContext& ctx, std::string_view method,
                         std::string_view target, std::string& out, std::string_view nonce,
                         std::string_view timestamp) {
  std::string token = render(auth.token, ctx), token_secret = render(auth.token_secret, ctx);
  std::string fresh_nonce = nonce.empty() ? random_string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 10)
                                          : std::string(nonce);
  std::string time = timestamp.empty() ? std::to_string(std::time(nullptr)) : std::string(timestamp);
  // Tsung's order: signature, token, then erlang-oauth's params list.
  std::vector<std::pair<std::string, std::string>> oauth;
  if (!token.empty()) oauth.emplace_back("oauth_token", token);
  oauth.emplace_back("oauth_version", "1.0");
  oauth.emplace_back("oauth_nonce", fresh_nonce);
  oauth.emplace_back("oauth_timestamp", time);
  oauth.emplace_back("oauth_signature_method", auth.plaintext ? "PLAINTEXT" : "HMAC-SHA1");
  oauth.emplace_back("oauth_consumer_key", auth.consumer_key);
  auto params = oauth;
  auto question = target.find('?');
  std::string_view path = target.substr(0, question);
  if (question != std::string_view::npos) add_query_params(target.substr(question + 1), params);
  if (auth.form_body) add_query_params(render(auth.body, ctx), params);
  std::string signature = oauth_signature(auth.plaintext, method, oauth_base_host(auth, ctx) + std::string(path),
                                          std::move(params), auth.consumer_secret, token_secret);
  oauth.insert(oauth.begin(), {"oauth_signature", signature});
  out += "Authorization: OAuth ";
  bool first = true;
  for (const auto& [k, v] : oauth) {
    if (!first) out += ", ";
    first = false;
    oauth_encode(k, out);
    out += "=\"";
    oauth_encode(v, out);
    out += '"';
  }
  out += "\r\n";
}

}  // namespace loadctl::http
