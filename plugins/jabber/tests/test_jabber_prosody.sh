#!/usr/bin/env bash
# XMPP against a real prosody (Debian package) started here with its own config, data directory
# and port on 127.0.0.1. First loadctl registers the test users in-band (type="register", the
# session of Tsung's jabber_register.xml), then it runs Tsung's own jabber.xml example, changed
# only in the server's port, the domain, the user counts (userid_max 30; 12 users arriving in
# 1.2 s instead of 30 in 60 s) and the durations (thinktimes of 1-2 s instead of 2-30 s); then
# the plugin's own example, examples/jabber_chat.xml.
# Asserted: every chat message the simulated users sent was either received by a simulated user
# (tsung.log counters) or stored by prosody for an offline user (its data files); plain-password
# logins never fail (prosody's log). prosody answers the digest and SIP-digest logins of the
# example's other sessions with the iq:auth form (type result), not an error.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent prosody

source "$(dirname "$0")/jabber_prosody_lib.sh"

USERS_MAX=30
DOMAIN=loadctl.test
start_prosody "$DOMAIN"
# 1. In-band registration of user1..user30 (the pool gives ids in order to users that connect).
register_users "$DOMAIN" "$USERS_MAX"

# 2. Tsung's jabber.xml.
tsung_jabber_xml "$DOMAIN" "$USERS_MAX" "$PORT" > "$TEST_TMP/jabber.xml"
auth_before=$(prosody_logins)
run_scenario "$TEST_TMP/jabber.xml" "$TEST_TMP/run"
R=$TEST_TMP/run
assert_chats_and_logins "$R" "$auth_before"
log "ok: $users users, $plain plain logins"

# 3. The plugin's example (SASL PLAIN, bind, session, stamped messages between online users),
# with our port and domain and shorter durations. Its users may be sent step 2's offline
# messages when they log in (unstamped); its own messages carry a stamp of this process: each
# one received gives an xmpp_msg_latency sample, the others are stored offline by prosody.
sed -e "s/port=\"5222\"/port=\"$PORT\"/" -e "s/value=\"localhost\"/value=\"$DOMAIN\"/" \
    -e 's/duration="10" unit="second"/duration="1" unit="second"/' -e 's/arrivalrate="2"/arrivalrate="10"/' \
    -e 's/maxnumber="20"/maxnumber="10"/' -e 's/<thinktime value="[35]"\/>/<thinktime value="1"\/>/' \
    -e 's/<thinktime value="1" random="true"\/>/<thinktime value="0.1" random="true"\/>/' \
    "$(dirname "$0")/../examples/jabber_chat.xml" > "$TEST_TMP/chat.xml"
run_scenario "$TEST_TMP/chat.xml" "$TEST_TMP/chat"
C=$TEST_TMP/chat
sent=$(tsung_sum xmpp_chat_sent "$C")
received=$(tsung_sum xmpp_chat_received "$C")
stamped=$(tsung_sum xmpp_msg_latency "$C")
stamped_stored=$( (cat "$P"/data/*/offline/*.list 2>/dev/null || true) | { grep -c '^[[:space:]]*"@@@' || true; })
log "example: sent $sent, received $received ($stamped stamped), stamped stored offline $stamped_stored"
[ "$stamped" -gt 0 ] || fail "example: no stamped message received"
[ "$received" -ge "$stamped" ] || fail "example: $stamped latency samples for $received messages"
assert_eq "$((stamped + stamped_stored))" "$sent" "example: stamped messages received + stored offline"
assert_eq "$(tsung_sum finish_users_count "$C")" "$(tsung_sum users_count "$C")" "example: users that ended their session"
