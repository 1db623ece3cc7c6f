#!/usr/bin/env bash
# XMPP over WebSocket (RFC 7395) against a private prosody (Debian package, mod_websocket) started
# here with its own config, data directory and ports on 127.0.0.1. loadctl registers the users
# in-band over plain XMPP, then runs Tsung's jabber.xml over a <server type="websocket"> on
# prosody's HTTP port, changed as test_jabber_prosody.sh changes it (port, domain, user counts,
# durations) and for WebSocket: server type, Tsung's websocket_path, websocket_frame and
# websocket_subprotocols options (prosody's path, text frames and the "xmpp" subprotocol prosody
# requires) and version="websocket" on connect and close (Tsung 1.8's <open/>/<close/> framing).
# Asserted: chat messages sent = received + stored offline by prosody; plain logins = prosody's
# "Authenticated as" lines; one prosody client session per user (all over the HTTP port). Then
# the plugin's jabber_chat.xml over WebSocket without version="websocket" (as Tsung 1.7.0 sends).
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent prosody

source "$(dirname "$0")/jabber_prosody_lib.sh"

USERS_MAX=30
DOMAIN=loadctl.test
start_prosody_http "$DOMAIN" websocket
register_users "$DOMAIN" "$USERS_MAX"

tsung_jabber_xml "$DOMAIN" "$USERS_MAX" "$HTTP_PORT" |
  sed -e 's/type="tcp"/type="websocket"/' \
      -e 's|<options>|<options><option name="websocket_path" value="/xmpp-websocket"/><option name="websocket_frame" value="text"/><option name="websocket_subprotocols" value="xmpp"/>|' \
      -e 's/type="connect"/type="connect" version="websocket"/' -e 's/type="close"/type="close" version="websocket"/' \
  > "$TEST_TMP/jabber_ws.xml"
grep -q 'type="websocket"' "$TEST_TMP/jabber_ws.xml" || fail "the example changed: server type not substituted"
auth_before=$(prosody_logins)
sessions_before=$(grep -c 'Client connected' "$P/prosody.log" || true)
run_scenario "$TEST_TMP/jabber_ws.xml" "$TEST_TMP/ws"
assert_chats_and_logins "$TEST_TMP/ws" "$auth_before"
# mod_websocket hands each WebSocket to the c2s listener ("Client connected"); the scenario's
# only server is prosody's HTTP port, so every session prosody saw came over a WebSocket.
assert_eq "$(( $(grep -c 'Client connected' "$P/prosody.log") - sessions_before ))" "$users" "prosody sessions"
log "ok: $users users over WebSocket, $plain plain logins"

# The plugin's example as Tsung 1.7.0 would send it over a WebSocket (no version="websocket": the
# stream header and stanzas as over TCP, in text frames; prosody answers with <open/>): SASL
# PLAIN, bind, session, stamped chats, each received one or stored offline.
chat_example_xml "$DOMAIN" "$HTTP_PORT" |
  sed -e 's/type="tcp"/type="websocket"/' \
      -e 's|<options>|<options><option name="websocket_path" value="/xmpp-websocket"/><option name="websocket_frame" value="text"/><option name="websocket_subprotocols" value="xmpp"/>|' \
  > "$TEST_TMP/chat_ws.xml"
grep -q 'type="websocket"' "$TEST_TMP/chat_ws.xml" || fail "the example changed: server type not substituted"
run_scenario "$TEST_TMP/chat_ws.xml" "$TEST_TMP/chat_ws"
assert_stamped_chats "$TEST_TMP/chat_ws"

