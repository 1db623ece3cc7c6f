#!/usr/bin/env bash
# XMPP against a real prosody (Debian package) started here with its own config, data directory
# and port on 127.0.0.1. First loadctl registers the test users in-band (type="register", the
# session of Tsung's jabber_register.xml), then it runs Tsung's own jabber.xml example, changed
# only in the server's port, the domain, the user counts (userid_max 30; 12 users arriving in
# 1.2 s instead of 30 in 60 s) and the durations (thinktimes of 1-2 s instead of 2-30 s).
# Asserted: every chat message the simulated users sent was either received by a simulated user
# (tsung.log counters) or stored by prosody for an offline user (its data files); plain-password
# logins never fail (prosody's log). prosody answers the digest and SIP-digest logins of the
# example's other sessions with the iq:auth form (type result), not an error.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent prosody

USERS_MAX=30
DOMAIN=loadctl.test
PORT=$(free_port)
P=$TEST_TMP/prosody
mkdir -p "$P/data"
cat > "$P/prosody.cfg.lua" <<CFG
pidfile = "$P/prosody.pid"
data_path = "$P/data"
run_as_root = true
c2s_ports = { $PORT }
c2s_interfaces = { "127.0.0.1" }
interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
modules_disabled = { "s2s" }
allow_registration = true
min_seconds_between_registrations = 0
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
log = { info = "$P/prosody.log" }
modules_enabled = { "roster"; "saslauth"; "legacyauth"; "disco"; "register"; "offline"; "ping"; "posix" }
VirtualHost "$DOMAIN"
CFG
prosody --config "$P/prosody.cfg.lua" -F > "$P/stdout" 2>&1 &
PROSODY_PID=$!
on_exit "_stop_pid $PROSODY_PID"
wait_until 20 port_open "$PORT" || { cat "$P/stdout" "$P/prosody.log" >&2; fail "prosody did not listen on $PORT"; }

options_xml() {
  cat <<OPT
 <options>
  <option type="ts_jabber" name="global_number" value="100"></option>
  <option type="ts_jabber" name="userid_max" value="$USERS_MAX"></option>
  <option type="ts_jabber" name="domain" value="$DOMAIN"></option>
  <option type="ts_jabber" name="username" value="user"></option>
  <option type="ts_jabber" name="passwd" value="pass"></option>
 </options>
OPT
}

# 1. In-band registration of user1..user30 (the pool gives ids in order to users that connect).
cat > "$TEST_TMP/register.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second">
    <users arrivalrate="60" unit="second" maxnumber="$USERS_MAX"/></arrivalphase></load>
$(options_xml)
  <sessions>
  <session probability="100" name="jabber-register" type="ts_jabber">
    <request> <jabber type="connect" ack="local"></jabber> </request>
    <request>
      <match do="abort" when="match">error</match>
      <jabber type="register" ack="local" id="new"></jabber>
    </request>
    <request> <jabber type="close" ack="local"></jabber> </request>
  </session>
  </sessions>
</tsung>
XML
"$LOADCTL" -q -f "$TEST_TMP/register.xml" --run-dir "$TEST_TMP/reg" start > "$TEST_TMP/out" 2> "$TEST_TMP/err" ||
  { cat "$TEST_TMP/err" >&2; fail "registration run failed"; }
accounts=$(find "$P/data" -path '*accounts*' -name '*.dat' | wc -l)
assert_eq "$accounts" "$USERS_MAX" "accounts prosody registered"
assert_eq "$(tsung_sum match_stop "$TEST_TMP/reg")" 0 "registrations answered with an error"

# 2. Tsung's jabber.xml.
zcat /usr/share/doc/tsung/examples/jabber.xml.gz |
  sed -e "s/port=\"5222\"/port=\"$PORT\"/" -e "s/mydomain.org/$DOMAIN/" \
      -e "s/name=\"userid_max\" value=\"10000\"/name=\"userid_max\" value=\"$USERS_MAX\"/" \
      -e 's/duration="1" unit="minute"/duration="1200" unit="millisecond"/' \
      -e 's/<users interarrival="2" unit="second">/<users interarrival="0.1" unit="second">/' \
      -e 's/<thinktime value="2">/<thinktime value="1">/' -e 's/<thinktime value="30">/<thinktime value="2">/' \
  > "$TEST_TMP/jabber.xml"
grep -q "port=\"$PORT\"" "$TEST_TMP/jabber.xml" || fail "the example changed: port not substituted"
grep -q 'thinktime value="30"' "$TEST_TMP/jabber.xml" && fail "the example changed: thinktimes not substituted"
auth_before=$(grep -c 'Authenticated as' "$P/prosody.log" || true)
"$LOADCTL" -f "$TEST_TMP/jabber.xml" check > /dev/null 2> "$TEST_TMP/err" || { cat "$TEST_TMP/err" >&2; fail "check refused jabber.xml"; }
"$LOADCTL" -q -f "$TEST_TMP/jabber.xml" --run-dir "$TEST_TMP/run" start > "$TEST_TMP/out" 2> "$TEST_TMP/err" ||
  { cat "$TEST_TMP/err" >&2; fail "jabber.xml run failed"; }
R=$TEST_TMP/run
sent=$(tsung_sum xmpp_chat_sent "$R")
received=$(tsung_sum xmpp_chat_received "$R")
# prosody keeps messages for offline users in data/<host>/offline/<user>.list, one item each
stored=$( (cat "$P"/data/*/offline/*.list 2>/dev/null || true) | grep -o '\["name"\] = "body"' | wc -l)
log "chat messages: sent $sent, received $received, stored offline $stored"
[ "$sent" -gt 0 ] || fail "no chat message sent"
[ "$received" -gt 0 ] || fail "no chat message received"
assert_eq "$((received + stored))" "$sent" "messages received + stored offline"
# Plain-password logins (sessions jabber-example and jabber-plain) all succeed: prosody logged
# one "Authenticated as" per transaction; none was answered with an error.
plain=$(( $(tsung_sum tr_authenticate "$R") + $(tsung_sum tr_auth_plain "$R") ))
[ "$plain" -gt 0 ] || fail "no plain-password login"
assert_eq "$(( $(grep -c 'Authenticated as' "$P/prosody.log" || true) - auth_before ))" "$plain" "logins prosody accepted"
assert_eq "$(tsung_sum error_xmpp_auth_failed "$R")" 0 "failed logins"
users=$(tsung_sum users_count "$R")
assert_eq "$(tsung_sum finish_users_count "$R")" "$users" "users that ended their session"
log "ok: $users users, $plain plain logins"
