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

  /// `protocol`'s connection, with `options` (may be null) and max_frame_size `max_frame`; its
  /// on_open must not end it.
  FakeConnection(const Protocol& protocol, std::size_t max_frame, const ProtocolOptions* options = nullptr) {
    ConnectionContext ctx;
    ctx.options = options;
    ctx.max_frame_size = max_frame;
    conn = protocol.open_connection(ctx);
    EXPECT_FALSE(conn->on_open(s));
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
