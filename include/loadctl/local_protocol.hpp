#pragma once
// A connection-level protocol whose requests run on the agent host itself (Tsung's ts_erlang
// transport, <server type="erlang">: ts_fs, ts_shell). Its sessions run only on such servers
// (the loader refuses others), never bidi or over udp; each connection gets the engine's end of
// a socket pair (ConnectionContext::local_fd) to write its results to (docs/plugins.md).

#include <memory>
#include <span>
#include <string_view>

#include "loadctl/connection.hpp"
#include "loadctl/protocol.hpp"

namespace loadctl {

class LocalProtocol : public Protocol {
 public:
  bool connection_level() const final { return true; }
  bool supports_bidi() const final { return false; }
  bool supports_udp() const final { return false; }
  std::span<const std::string_view> server_types() const final {
    static constexpr std::string_view types[] = {"erlang"};
    return types;
  }
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const final {
    return ctx.local_fd < 0 ? nullptr : open_local(ctx.local_fd, ctx);
  }

 protected:
  /// The connection, owning `fd` (closes it).
  virtual std::unique_ptr<Connection> open_local(int fd, const ConnectionContext& ctx) const = 0;
};

}  // namespace loadctl
