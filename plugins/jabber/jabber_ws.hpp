#pragma once
// XMPP over WebSocket (RFC 7395) for <server type="websocket|websocket_ssl|ws|wss">, as Tsung's
// ts_server_websocket carries ts_jabber: the opening handshake (websocket_path,
// websocket_subprotocols), then every request's bytes (and bidi replies) in one frame each
// (websocket_frame: binary, Tsung's default, or text) and every message received, unframed, to
// the XMPP connection. The server's framing elements <open/> and <close/> reach it as a stream
// header and a stream end, as prosody's mod_websocket does the other way round.

#include <memory>
#include <string>
#include <string_view>

#include "loadctl/connection.hpp"

namespace loadctl::jabber {

/// One WebSocket carrying the XMPP connection `xmpp`.
std::unique_ptr<Connection> make_ws_connection(std::unique_ptr<Connection> xmpp, const ConnectionContext& ctx);

/// Appends `payload` (one message) in RFC 6120 stream form: <open xmlns='urn:ietf:params:xml:ns:
/// xmpp-framing' .../> becomes <stream:stream ...>, <close xmlns=.../> </stream:stream>; anything
/// else is appended as it is.
void append_unframed(std::string& out, std::string_view payload);

}  // namespace loadctl::jabber
