#include "recorder/proxy_protocol.hpp"

namespace loadctl::recorder {

std::unique_ptr<ProxyProtocol> make_http_proxy(bool webdav);  // http_proxy.cpp

std::unique_ptr<ProxyProtocol> make_proxy_protocol(std::string_view name) {
  if (name == "http") return make_http_proxy(false);
  if (name == "webdav") return make_http_proxy(true);
  return nullptr;
}

std::string_view proxy_protocol_names() { return "http, webdav"; }

}  // namespace loadctl::recorder
