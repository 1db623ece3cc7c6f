#!/usr/bin/env bash
# XMPP over BOSH against a private prosody (Debian package, mod_bosh) started here with its own
# config, data directory and ports on 127.0.0.1. loadctl registers the users in-band over plain
# XMPP, then runs Tsung's bosh.xml changed only in the server's host and port, the domain, the
# path of its file_server file (the registered users), the arrival phase's duration (5 s instead
# of 1 hour) and the thinktimes (1 s instead of 5 and 2). Asserted: one prosody BOSH session and
# one login per user, every roster request answered, Tsung's bosh_http_req and bosh_http_conn
# counters, no error. Then the plugin's jabber_chat.xml over BOSH: every stamped chat message is
# received by a user (a latency sample) or stored offline by prosody; then the same over
# bosh_ssl (prosody's HTTPS port, a certificate made here).
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent prosody

source "$(dirname "$0")/jabber_prosody_lib.sh"

USERS_MAX=30
DOMAIN=loadctl.test
openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=$DOMAIN" -days 1 -keyout "$TEST_TMP/key.pem" \
  -out "$TEST_TMP/cert.pem" 2>/dev/null || fail "openssl could not make a certificate"
PROSODY_HTTPS_PORT=$(free_port)
PROSODY_HTTPS_PORT=$PROSODY_HTTPS_PORT start_prosody_http "$DOMAIN" bosh \
  "https_ssl = { certificate = \"$TEST_TMP/cert.pem\"; key = \"$TEST_TMP/key.pem\" }"
wait_until 10 port_open "$PROSODY_HTTPS_PORT" || { cat "$P/prosody.log" >&2; fail "prosody's HTTPS port is not open"; }
register_users "$DOMAIN" "$USERS_MAX"

for i in $(seq 1 "$USERS_MAX"); do echo "user$i,pass$i"; done > "$TEST_TMP/usernames.csv"
sed -e 's/host="myserver" port="5280"/host="127.0.0.1" port="'"$HTTP_PORT"'"/' \
    -e "s/value=\"mydomain\"/value=\"$DOMAIN\"/" \
    -e "s|/home/nniclaus/.tsung/usernames.csv|$TEST_TMP/usernames.csv|" \
    -e 's/duration="1" unit="hour"/duration="5" unit="second"/' \
    -e 's/<thinktime value="5"><\/thinktime>/<thinktime value="1"><\/thinktime>/' \
    -e 's/<thinktime value="2  "><\/thinktime>/<thinktime value="1"><\/thinktime>/' \
    /usr/share/doc/tsung/examples/bosh.xml > "$TEST_TMP/bosh.xml"
for changed in "port=\"$HTTP_PORT\"" "value=\"$DOMAIN\"" "$TEST_TMP/usernames.csv" 'duration="5" unit="second"'; do
  grep -qF "$changed" "$TEST_TMP/bosh.xml" || fail "the example changed: $changed not substituted"
done
grep -q 'thinktime value="[25]' "$TEST_TMP/bosh.xml" && fail "the example changed: thinktimes not substituted"

logins_before=$(prosody_logins)
sessions_before=$(grep -c 'New BOSH session' "$P/prosody.log" || true)
run_scenario "$TEST_TMP/bosh.xml" "$TEST_TMP/bosh"
R=$TEST_TMP/bosh
users=$(tsung_sum users_count "$R")
[ "$users" -ge 1 ] || fail "no user started"
assert_eq "$(tsung_sum finish_users_count "$R")" "$users" "users that ended their session"
assert_eq "$(( $(grep -c 'New BOSH session' "$P/prosody.log") - sessions_before ))" "$users" "prosody BOSH sessions"
assert_eq "$(( $(prosody_logins) - logins_before ))" "$users" "logins prosody accepted"
assert_eq "$(tsung_sum tr_authenticate "$R")" "$users" "authenticate transactions"
assert_eq "$(tsung_sum tr_roster "$R")" "$users" "roster transactions"
req=$(tsung_sum bosh_http_req "$R")
conn=$(tsung_sum bosh_http_conn "$R")
log "bosh.xml: $users users, $req BOSH requests over $conn HTTP connections"
# Per user at least: creation, auth, restart, bind, session, presence, roster, terminate.
[ "$req" -ge $((users * 8)) ] || fail "bosh_http_req $req for $users users"
[ "$conn" -ge "$users" ] && [ "$conn" -le $((users * 2)) ] || fail "bosh_http_conn $conn for $users users"
errors=$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 { print $2 }' "$R/tsung.log" | sort -u | tr '\n' ' ')
[ -z "$errors" ] || fail "errors counted: $errors"

# The plugin's example over BOSH: SASL PLAIN, bind, session, stamped chats between the users.
chat_example_xml "$DOMAIN" "$HTTP_PORT" |
  sed -e 's/type="tcp"/type="bosh"/' -e 's|<options>|<options><option name="bosh_path" value="/http-bind"/>|' \
  > "$TEST_TMP/chat_bosh.xml"
grep -q 'type="bosh"' "$TEST_TMP/chat_bosh.xml" || fail "the example changed: server type not substituted"
run_scenario "$TEST_TMP/chat_bosh.xml" "$TEST_TMP/chat_bosh"
assert_stamped_chats "$TEST_TMP/chat_bosh"

# The same over TLS (<server type="bosh_ssl">, Tsung's ts_bosh_ssl) on prosody's HTTPS port: both
# sockets of each user are TLS (prosody's HTTPS port speaks nothing else).
sessions_before=$(grep -c 'New BOSH session' "$P/prosody.log" || true)
sed -e "s/port=\"$HTTP_PORT\" type=\"bosh\"/port=\"$PROSODY_HTTPS_PORT\" type=\"bosh_ssl\"/" "$TEST_TMP/chat_bosh.xml" \
  > "$TEST_TMP/chat_bosh_ssl.xml"
grep -q 'type="bosh_ssl"' "$TEST_TMP/chat_bosh_ssl.xml" || fail "bosh_ssl not substituted"
run_scenario "$TEST_TMP/chat_bosh_ssl.xml" "$TEST_TMP/chat_bosh_ssl"
assert_stamped_chats "$TEST_TMP/chat_bosh_ssl"
users=$(tsung_sum users_count "$TEST_TMP/chat_bosh_ssl")
assert_eq "$(( $(grep -c 'New BOSH session' "$P/prosody.log") - sessions_before ))" "$users" "prosody BOSH sessions over TLS"
conn=$(tsung_sum bosh_http_conn "$TEST_TMP/chat_bosh_ssl")
[ "$conn" -gt "$users" ] || fail "bosh_ssl: $conn HTTP connections for $users users (no second socket)"
log "ok"
