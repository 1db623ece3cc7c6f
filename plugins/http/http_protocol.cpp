#include <algorithm>
#include <cctype>

#include "http_request.hpp"
#include "loadctl/input_file.hpp"
#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"
#include "loadctl/text.hpp"

namespace loadctl::http {
namespace {

// Methods of Tsung's ts_webdav sessions; it sends them with a body (Content-Type and
// Content-Length) except MKCOL. Tsung has no encoder for MERGE and CHECKOUT (its users crash).
constexpr std::string_view k_webdav_methods[] = {"PROPFIND", "PROPPATCH",  "COPY",   "MOVE",
                                                 "LOCK",     "MKACTIVITY", "UNLOCK", "REPORT",
                                                 "VERSION-CONTROL", "MKCOL"};

// Collects chunks, folding static text into the preceding literal.
class ChunkBuilder {
 public:
  // Literal text joins the previous literal, or the cookies chunk (which writes its text after
  // the Cookie header): a static request stays request line, Host, User-Agent, cookies + CRLF.
  void literal(std::string_view s) {
    if (s.empty()) return;
    if (chunks_.empty() ||
        (chunks_.back().kind != Chunk::Kind::literal && chunks_.back().kind != Chunk::Kind::cookies))
      chunks_.push_back(Chunk{Chunk::Kind::literal, {}, {}, {}});
    chunks_.back().text += s;
  }
  void text(Template t) {
    if (t.is_literal()) return literal(t.literal());
    chunks_.push_back(Chunk{Chunk::Kind::text, {}, std::move(t), {}});
  }
  void special(Chunk::Kind kind, Template a = {}, Template b = {}) {
    chunks_.push_back(Chunk{kind, {}, std::move(a), std::move(b)});
  }
  std::vector<Chunk> take() { return std::move(chunks_); }

 private:
  std::vector<Chunk> chunks_;
};

struct ParsedUrl {
  std::optional<Endpoint> endpoint;
  std::string authority;  // host[:port] as written, for the Host header
  std::string path;       // what goes on the request line
};

ParsedUrl split_url(pugi::xml_node node, const std::string& url) {
  ParsedUrl out;
  std::string_view rest = url;
  Transport transport = Transport::tcp;
  std::uint16_t default_port = 80;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    transport = Transport::ssl;
    default_port = 443;
  } else {
    if (url.empty())
      fail_at(node, node.attribute("url"),
              "attribute url: expected a path or an absolute http(s) URL");
    out.path = url;
    return out;
  }
  auto end = rest.find_first_of("/?");
  out.authority = std::string(rest.substr(0, end));
  if (end == std::string_view::npos) {
    out.path = "/";
  } else {
    out.path = rest[end] == '?' ? "/" + std::string(rest.substr(end)) : std::string(rest.substr(end));
  }
  if (out.authority.find("%%") != std::string::npos)
    unsupported_at(node, "variables in the host of an absolute url");  // endpoint is per request
  Endpoint ep;
  ep.transport = transport;
  ep.port = default_port;
  std::string_view auth = out.authority;
  std::size_t colon = std::string_view::npos;
  if (auth.starts_with('[')) {  // [v6-address]:port
    auto close = auth.find(']');
    if (close == std::string_view::npos)
      fail_at(node, node.attribute("url"), "attribute url: bad host in '" + url + "'");
    if (close + 1 < auth.size() && auth[close + 1] == ':') colon = close + 1;
    if (close + 1 < auth.size() && auth[close + 1] != ':')
      fail_at(node, node.attribute("url"), "attribute url: bad host in '" + url + "'");
  } else {
    colon = auth.find(':');
  }
  if (colon != std::string_view::npos) {
    std::string_view port_text = auth.substr(colon + 1);
    unsigned port = 0;
    if (port_text.empty() || port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(),
                     [](char c) { return c >= '0' && c <= '9'; }))
      fail_at(node, node.attribute("url"), "attribute url: bad port in '" + url + "'");
    for (char c : port_text) port = port * 10 + unsigned(c - '0');
    if (port == 0 || port > 65535)
      fail_at(node, node.attribute("url"), "attribute url: port out of range in '" + url + "'");
    ep.port = static_cast<std::uint16_t>(port);
    auth = auth.substr(0, colon);
  }
  if (auth.starts_with('[')) auth = auth.substr(1, auth.size() - 2);
  if (auth.empty()) fail_at(node, node.attribute("url"), "attribute url: no host in '" + url + "'");
  ep.host = std::string(auth);
  out.endpoint = std::move(ep);
  return out;
}

std::string read_contents_file(pugi::xml_node node, const std::string& name,
                               const std::string& dir) {
  std::string path = (!name.empty() && name[0] == '/') || dir.empty() ? name : dir + "/" + name;
  try {
    return read_regular_file(path, kMaxDataFileBytes);
  } catch (const std::runtime_error& e) {
    fail_at(node, node.attribute("contents_from_file"), std::string("attribute contents_from_file: ") + e.what());
  }
}

class HttpProtocol final : public Protocol {
 public:
  explicit HttpProtocol(bool webdav) : webdav_(webdav) {}
  std::string_view element() const override { return "http"; }
  std::string_view session_type() const override { return webdav_ ? "ts_webdav" : "ts_http"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element,
                                                   const RequestParseContext& ctx) const override {
    return parse_http_request(element, ctx, webdav_);
  }
  std::string_view alpn() const override { return "http/1.1"; }
  std::string_view options_type() const override { return "ts_http"; }
  std::shared_ptr<const ProtocolOptions> parse_options(std::span<const pugi::xml_node> options) const override {
    return parse_http_options(options);
  }

 private:
  bool webdav_;
};

}  // namespace

std::shared_ptr<const HttpRequest> parse_http_request(pugi::xml_node node,
                                                      const RequestParseContext& ctx, bool webdav) {
  XmlElement el(node);
  std::string url = el.required("url");
  std::string method =
      el.choice("method",
                {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND",
                 "PROPPATCH", "COPY", "MOVE", "LOCK", "UNLOCK", "MKCOL", "MKACTIVITY", "REPORT",
                 "VERSION-CONTROL", "MERGE", "CHECKOUT"},
                "GET");
  const bool webdav_method = std::find(std::begin(k_webdav_methods), std::end(k_webdav_methods), method) !=
                             std::end(k_webdav_methods);
  if (method == "MERGE" || method == "CHECKOUT")
    unsupported_at(node, "http method " + method + " (Tsung 1.7.0 has no encoder for it either)");
  if (webdav_method && !webdav)
    fail_at(node, node.attribute("method"),
            "attribute method: " + method + " is a WebDAV method: use it in a type=\"ts_webdav\" session");
  std::string version = el.choice("version", {"1.0", "1.1"}, "1.1");
  auto contents = el.maybe("contents");
  auto contents_file = el.maybe("contents_from_file");
  auto content_type = el.maybe("content_type");
  auto if_modified_since = el.maybe("if_modified_since");
  el.finish();
  if (contents && contents_file)
    fail_at(node, "use either contents or contents_from_file, not both");
  if (contents_file) contents = read_contents_file(node, *contents_file, ctx.scenario_dir);

  // Tsung sends a body (and Content-Type/Length) for these methods only, contents or not.
  const bool has_body = method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE" ||
                        (webdav_method && method != "MKCOL");

  // Children: what Tsung sends in fixed places, plus the custom headers in document order.
  std::optional<std::pair<Template, Template>> basic_auth;
  std::optional<Template> soap_action;
  struct CustomHeader {
    std::string name;
    Template value;
  };
  std::vector<CustomHeader> custom;
  RequestExtras extras;
  extras.method = method;
  extras.options = static_cast<const HttpOptions*>(ctx.options);  // only ever parse_http_options'
  for (auto child :
       el.children({"oauth", "www_authenticate", "soap", "http_header", "add_cookie"})) {
    XmlElement c(child);
    std::string_view kind = child.name();
    if (kind == "www_authenticate") {
      std::string type = c.choice("type", {"basic", "digest"}, "basic");
      Template user = checked_template(child, c.required("userid"), ctx.subst);
      Template pass = checked_template(child, c.required("passwd"), ctx.subst);
      if (type == "digest") {
        auto attr = [&](const char* name) -> std::optional<Template> {
          auto v = c.maybe(name);
          if (!v) return std::nullopt;
          return checked_template(child, *v, ctx.subst);
        };
        DigestAuth d{std::move(user), std::move(pass), attr("realm").value_or(Template()),
                     attr("nonce").value_or(Template()), attr("opaque"), attr("qop"), attr("cnonce"),
                     attr("nc").value_or(Template("00000001", false))};
        c.finish();
        extras.digest = std::move(d);
      } else {
        c.ignore({"nonce", "opaque", "cnonce", "nc", "realm", "qop"});  // digest-only, as Tsung
        c.finish();
        basic_auth.emplace(std::move(user), std::move(pass));
      }
    } else if (kind == "soap") {
      std::string action = c.required("action");
      c.finish();
      soap_action = checked_template(child, action, ctx.subst);
    } else if (kind == "http_header") {
      std::string name = c.required("name");
      std::string value = c.optional("value");
      // Tsung encodes the attribute text at load time: the base64 text is sent as is, never
      // substituted.
      bool base64 = c.choice("encoding", {"none", "base64"}, "none") == "base64";
      c.finish();
      if (name.empty() || name.find_first_of(" \t:\r\n") != std::string::npos)
        fail_at(child, child.attribute("name"), "attribute name: bad header name '" + name + "'");
      if (base64) {
        std::string encoded;
        append_base64(value, encoded);
        custom.push_back({name, Template(encoded, false)});
      } else {
        custom.push_back({name, checked_template(child, value, ctx.subst)});
      }
    } else if (kind == "oauth") {
      OAuth o;
      o.consumer_key = c.required("consumer_key");
      o.consumer_secret = c.required("consumer_secret");
      o.token = checked_template(child, c.optional("access_token"), ctx.subst);
      o.token_secret = checked_template(child, c.optional("access_token_secret"), ctx.subst);
      std::string sig = c.choice("method", {"HMAC-SHA1", "PLAINTEXT", "RSA-SHA1"}, "HMAC-SHA1");
      c.finish();
      if (sig == "RSA-SHA1") unsupported_at(child, "oauth method RSA-SHA1");
      o.plaintext = sig == "PLAINTEXT";
      extras.oauth = std::move(o);
    } else {  // add_cookie
      RequestCookie cookie;
      cookie.name = c.required("key");
      cookie.value = checked_template(child, c.required("value"), ctx.subst);
      std::string domain = c.optional("domain");
      cookie.path = c.optional("path", "/");
      c.finish();
      if (cookie.name.empty() || cookie.name.find_first_of("=; \t\r\n") != std::string::npos)
        fail_at(child, child.attribute("key"), "attribute key: bad cookie name '" + cookie.name + "'");
      cookie.domain = domain.substr(domain.find_first_not_of('.') == std::string::npos ? domain.size() : domain.find_first_not_of('.'));
      extras.cookies.push_back(std::move(cookie));
    }
  }
  // A custom Host, User-Agent, Content-Type or Content-Length takes the automatic one's place.
  auto take_custom = [&](std::string_view lower_name) -> std::optional<Template> {
    auto it = std::find_if(custom.begin(), custom.end(),
                           [&](const CustomHeader& h) { return text::iequals(h.name, lower_name); });
    if (it == custom.end()) return std::nullopt;
    Template value = it->value;
    custom.erase(std::remove_if(custom.begin(), custom.end(),
                                [&](const CustomHeader& h) { return text::iequals(h.name, lower_name); }),
                 custom.end());
    return value;
  };
  ChunkBuilder b;
  auto header = [&](std::string_view name, Template value) {
    b.literal(name);
    b.literal(": ");
    b.text(std::move(value));
    b.literal("\r\n");
  };
  auto auth_header = [&] {
    if (extras.digest) b.special(Chunk::Kind::digest_auth);
    if (!basic_auth) return;
    auto& [user, pass] = *basic_auth;
    if (user.is_literal() && pass.is_literal()) {
      std::string line = "Authorization: Basic ";
      append_base64(std::string(user.literal()) + ":" + std::string(pass.literal()), line);
      b.literal(line + "\r\n");
    } else {
      b.special(Chunk::Kind::basic_auth, user, pass);
    }
  };
  auto soap_header = [&] {
    if (!soap_action) return;
    b.literal("SOAPAction: \"");
    b.text(*soap_action);
    b.literal("\"\r\n");
  };

  ParsedUrl parsed = split_url(node, url);
  b.literal(method + " ");
  extras.target = checked_template(node, parsed.path, ctx.subst);
  b.text(extras.target);
  b.literal(" HTTP/" + version + "\r\n");
  // Tsung drops If-Modified-Since on body requests; loadctl sends it, in the same place.
  if (if_modified_since)
    header("If-Modified-Since", checked_template(node, *if_modified_since, ctx.subst));

  if (auto host = take_custom("host")) {
    header("Host", std::move(*host));
  } else if (parsed.endpoint) {
    b.literal("Host: " + parsed.authority + "\r\n");
  } else {
    b.special(Chunk::Kind::host);
  }
  if (auto agent = take_custom("user-agent")) {
    header("User-Agent", std::move(*agent));
  } else {
    b.special(Chunk::Kind::user_agent);
  }
  auto custom_type = take_custom("content-type");
  auto custom_length = take_custom("content-length");
  if (custom_type) {
    header("Content-Type", std::move(*custom_type));
  } else if (has_body) {
    b.literal("Content-Type: " + content_type.value_or("application/x-www-form-urlencoded") +
              "\r\n");
  }
  Template body =
      checked_template(node, has_body ? contents.value_or("") : "", ctx.subst && ctx.subst_body);
  if (extras.oauth) {  // Tsung signs the parameters of a form body (its content_type attribute)
    extras.oauth->form_body =
        has_body && content_type.value_or("application/x-www-form-urlencoded") == "application/x-www-form-urlencoded";
    if (extras.oauth->form_body) extras.oauth->body = body;
    if (parsed.endpoint) extras.oauth->authority = parsed.authority;
  }
  if (has_body) {  // computed even when a custom Content-Length is given: a wrong one breaks the
                   // run
    if (body.is_literal()) {
      b.literal("Content-Length: " + std::to_string(body.literal().size()) + "\r\n");
    } else {
      b.special(Chunk::Kind::content_length, body);
    }
  } else if (custom_length) {
    header("Content-Length", std::move(*custom_length));
  }
  auto oauth_header = [&] {
    if (extras.oauth) b.special(Chunk::Kind::oauth);
  };
  if (if_modified_since && !has_body) {  // Tsung's orders
    soap_header();
    auth_header();
    oauth_header();
  } else if (has_body) {
    auth_header();
    soap_header();
    oauth_header();
  } else {
    auth_header();
    oauth_header();
    soap_header();
  }
  b.special(Chunk::Kind::cookies);
  for (auto& h : custom) header(h.name, std::move(h.value));
  b.literal("\r\n");
  if (has_body) {
    if (body.is_literal()) {
      b.literal(body.literal());
    } else {
      b.special(Chunk::Kind::body);
    }
  }

  return std::make_shared<HttpRequest>(b.take(), method + " " + url, method == "HEAD",
                                       std::move(parsed.endpoint), std::move(extras));
}

}  // namespace loadctl::http

void loadctl_register_http(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::http::HttpProtocol>(false));
  registry.add(std::make_unique<loadctl::http::HttpProtocol>(true));
}
