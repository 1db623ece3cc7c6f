#include <atomic>
#include <stdexcept>
#include <string>

#include "loadctl/connection.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/scenario_error.hpp"

namespace loadctl {

std::unique_ptr<Connection> Protocol::open_connection(const ConnectionContext&) const { return nullptr; }

std::shared_ptr<const ProtocolOptions> Protocol::parse_options(std::span<const pugi::xml_node> options) const {
  if (!options.empty())
    unsupported_at(options.front(), std::string(session_type()) + " option '" +
                                         options.front().attribute("name").value() + "'");
  return nullptr;
}

void ProtocolRegistry::add(std::unique_ptr<Protocol> protocol) {
  if (!protocol) throw std::invalid_argument("ProtocolRegistry::add: null protocol");
  // Several session types may share an element (ts_http and ts_webdav both use <http>).
  if (by_session_type(protocol->session_type()))
    throw std::logic_error("ProtocolRegistry::add: a protocol already handles " +
                           std::string(protocol->session_type()) + " sessions");
  protocols_.push_back(std::move(protocol));
}

const Protocol* ProtocolRegistry::by_element(std::string_view element) const {
  for (const auto& p : protocols_)
    if (p->element() == element) return p.get();
  return nullptr;
}

const Protocol* ProtocolRegistry::by_session_type(std::string_view type) const {
  for (const auto& p : protocols_)
    if (p->session_type() == type) return p.get();
  return nullptr;
}

// ProtocolRegistry::builtin() is defined in the generated builtin_plugins.cpp (library
// loadctl_plugins), so that loadctl_core does not depend on the plugins that depend on it.

namespace {
std::atomic<bool> g_shell_allowed{false};
}  // namespace

bool shell_allowed() { return g_shell_allowed.load(std::memory_order_relaxed); }
void set_shell_allowed(bool allowed) { g_shell_allowed.store(allowed, std::memory_order_relaxed); }

}  // namespace loadctl
