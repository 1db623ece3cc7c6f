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
chat_example_xml "$DOMAIN" "$PORT" > "$TEST_TMP/chat.xml"
run_scenario "$TEST_TMP/chat.xml" "$TEST_TMP/chat"
assert_stamped_chats "$TEST_TMP/chat"
