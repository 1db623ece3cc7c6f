#include "recorder/proxy_protocol.hpp"

#include "loadctl/text.hpp"

namespace loadctl::recorder {

std::unique_ptr<ProxyProtocol> make_http_proxy(bool webdav);  // http_proxy.cpp
std::unique_ptr<ProxyProtocol> make_pgsql_proxy();            // pgsql_proxy.cpp

std::unique_ptr<ProxyProtocol> make_proxy_protocol(std::string_view name) {
  if (name == "http") return make_http_proxy(false);
  if (name == "webdav") return make_http_proxy(true);
  if (name == "pgsql") return make_pgsql_proxy();
  return nullptr;
}

bool UpstreamOptions::records_host(std::string_view host) const {
  if (only_hosts.empty()) return true;
  for (const std::string& h : only_hosts)
    if (text::iequals(h, host)) return true;
  return false;
}

std::string_view proxy_protocol_names() { return "http, webdav, pgsql"; }

}  // namespace loadctl::recorder
