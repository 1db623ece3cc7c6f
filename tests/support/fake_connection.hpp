#pragma once
// A connection-level plugin's Connection opened as the engine opens it, on FakeConnServices: what
// a plugin's unit tests drive (encode a request, then offer the server's bytes their own way).

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>

#include "loadctl/connection.hpp"
#include "loadctl/protocol.hpp"
#include "support/fake_conn_services.hpp"
#include "support/map_vars.hpp"

namespace loadctl::test {

struct FakeConnection {
  FakeConnServices s;
  std::unique_ptr<Connection> conn;
  MapVars vars;       ///< the user's variables, for encode
  std::string out;    ///< the bytes of the last encode
  ResponseInfo info;  ///< of the last response offered
  bool holds = false;  ///< what on_open returned: the first request waits for ConnEvent::ready

  /// `protocol`'s connection, with `options` (may be null) and max_frame_size `max_frame`; its
  /// on_open must not end it, and holds the first request only when `negotiate_tls` (a
  /// `<server type="ssl">` for a plugin that negotiates TLS itself).
  FakeConnection(const Protocol& protocol, std::size_t max_frame, const ProtocolOptions* options = nullptr,
                 bool negotiate_tls = false) {
    ConnectionContext ctx;
    ctx.options = options;
    ctx.max_frame_size = max_frame;
    ctx.negotiate_tls = negotiate_tls;
    conn = protocol.open_connection(ctx);
    holds = conn->on_open(s);
    if (!negotiate_tls) EXPECT_FALSE(holds);
  }
  /// Encodes `r` with `vars`; returns the bytes it wrote.
  std::string encode(const RequestSpec& r) {
    out.clear();
    EncodeContext ctx;
    ctx.vars = &vars;
    conn->encode(s, r, ctx, out);
    return out;
  }
};

}  // namespace loadctl::test
