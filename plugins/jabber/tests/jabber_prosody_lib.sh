# Helpers for the prosody tests (sourced after tests/integration/lib.sh).
source "$(dirname "${BASH_SOURCE[0]}")/prosody_config.sh"
# start_prosody DOMAIN [GLOBAL_LUA [COMPONENTS_LUA]]: a private prosody on a free port of 127.0.0.1 (config, data,
# pid and log under $TEST_TMP/prosody); sets PORT, P (its directory) and PROSODY_PID.
start_prosody() {
  local try
  for try in 1 2 3; do  # free_port is racy: another port when prosody finds it taken
    _start_prosody "$@" && return 0
    log "prosody could not listen on $PORT (try $try)"
  done
  cat "$P/stdout" "$P/prosody.log" >&2
  fail "prosody did not listen"
}
_start_prosody() {
  PORT=$(free_port)
  P=$TEST_TMP/prosody
  mkdir -p "$P/data"
  prosody_config "$P" "$PORT" "$1" "info" "${2:-}" "${3:-}"
  : > "$P/prosody.log"
  prosody --config "$P/prosody.cfg.lua" -F > "$P/stdout" 2>&1 &
  PROSODY_PID=$!
  on_exit "_stop_pid $PROSODY_PID"
  wait_until 20 grep -q "Activated service 'c2s' on\|Failed to open server port" "$P/prosody.log" ||
    { cat "$P/stdout" "$P/prosody.log" >&2; fail "prosody did not start"; }
  if grep -q "Activated service 'c2s' on \[127.0.0.1\]:$PORT" "$P/prosody.log" && wait_until 10 port_open "$PORT"; then
    return 0
  fi
  _stop_pid "$PROSODY_PID"
  return 1
}

# start_prosody_http DOMAIN MODULE [GLOBAL_LUA]: start_prosody with prosody's HTTP server on a
# free port of 127.0.0.1 (sets HTTP_PORT; HTTPS too when PROSODY_HTTPS_PORT is set) serving
# MODULE (websocket, bosh) for DOMAIN.
start_prosody_http() {
  HTTP_PORT=$(free_port)
  PROSODY_HTTP_PORT=$HTTP_PORT start_prosody "$1" "http_default_host = \"$1\"
${3:-}" "modules_enabled = { \"$2\" }"
  wait_until 10 port_open "$HTTP_PORT" || { cat "$P/prosody.log" >&2; fail "prosody's HTTP port $HTTP_PORT is not open"; }
}

# jabber_options DOMAIN USERS_MAX: the ts_jabber options of the tests' scenarios.
jabber_options() {
  cat <<OPT
 <options>
  <option type="ts_jabber" name="userid_max" value="$2"></option>
  <option type="ts_jabber" name="domain" value="$1"></option>
  <option type="ts_jabber" name="username" value="user"></option>
  <option type="ts_jabber" name="passwd" value="pass"></option>
 </options>
OPT
}

# register_users DOMAIN N: user1..userN (password passN) registered in-band by loadctl (the
# session of Tsung's jabber_register.xml); asserts prosody stored N accounts.
register_users() {
  cat > "$TEST_TMP/register.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second">
    <users arrivalrate="60" unit="second" maxnumber="$2"/></arrivalphase></load>
$(jabber_options "$1" "$2")
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
  run_scenario "$TEST_TMP/register.xml" "$TEST_TMP/reg"
  local accounts
  accounts=$(find "$P/data" -path '*/accounts/*' -name '*.dat' | wc -l)
  assert_eq "$accounts" "$2" "accounts prosody registered"
  assert_eq "$(tsung_sum match_stop "$TEST_TMP/reg")" 0 "registrations answered with an error"
}

# run_scenario FILE RUN_DIR: `loadctl check` then `start`; fails with loadctl's stderr.
run_scenario() {
  "$LOADCTL" -f "$1" check > /dev/null 2> "$TEST_TMP/err" || { cat "$TEST_TMP/err" >&2; fail "check refused $1"; }
  "$LOADCTL" -q -f "$1" --run-dir "$2" start > "$TEST_TMP/out" 2> "$TEST_TMP/err" ||
    { cat "$TEST_TMP/err" >&2; fail "loadctl start $1 failed"; }
}

# prosody_logins: "Authenticated as" lines in prosody's log so far.
prosody_logins() { grep -c 'Authenticated as' "$P/prosody.log" || true; }

# tsung_jabber_xml DOMAIN USERS_MAX PORT: Tsung's jabber.xml on stdout, changed only in the
# server's port, the domain, the user counts (userid_max USERS_MAX; 12 users arriving in 1.2 s
# instead of 30 in 60 s) and the durations (thinktimes of 1-2 s instead of 2-30 s).
tsung_jabber_xml() {
  local xml
  xml=$(zcat /usr/share/doc/tsung/examples/jabber.xml.gz |
    sed -e "s/port=\"5222\"/port=\"$3\"/" -e "s/mydomain.org/$1/" \
        -e "s/name=\"userid_max\" value=\"10000\"/name=\"userid_max\" value=\"$2\"/" \
        -e 's/duration="1" unit="minute"/duration="1200" unit="millisecond"/' \
        -e 's/<users interarrival="2" unit="second">/<users interarrival="0.1" unit="second">/' \
        -e 's/<thinktime value="2">/<thinktime value="1">/' -e 's/<thinktime value="30">/<thinktime value="2">/')
  grep -q "port=\"$3\"" <<< "$xml" || fail "the example changed: port not substituted"
  grep -q 'thinktime value="30"' <<< "$xml" && fail "the example changed: thinktimes not substituted"
  echo "$xml"
}

# assert_chats_and_logins RUN_DIR LOGINS_BEFORE: after jabber.xml, every chat message sent was
# received by a simulated user (tsung.log) or stored offline by prosody (its data files), and
# the plain-password logins (sessions jabber-example and jabber-plain) are those prosody logged
# ("Authenticated as") since LOGINS_BEFORE, none answered with an error. Sets users and plain.
assert_chats_and_logins() {
  local sent received stored
  sent=$(tsung_sum xmpp_chat_sent "$1")
  received=$(tsung_sum xmpp_chat_received "$1")
  # prosody keeps messages for offline users in data/<host>/offline/<user>.list, one item each
  stored=$( (cat "$P"/data/*/offline/*.list 2>/dev/null || true) | { grep -o '\["name"\] = "body"' || true; } | wc -l)
  log "chat messages: sent $sent, received $received, stored offline $stored"
  [ "$sent" -gt 0 ] || fail "no chat message sent"
  [ "$received" -gt 0 ] || fail "no chat message received"
  assert_eq "$((received + stored))" "$sent" "messages received + stored offline"
  plain=$(( $(tsung_sum tr_authenticate "$1") + $(tsung_sum tr_auth_plain "$1") ))
  [ "$plain" -gt 0 ] || fail "no plain-password login"
  assert_eq "$(( $(prosody_logins) - $2 ))" "$plain" "logins prosody accepted"
  assert_eq "$(tsung_sum error_xmpp_auth_failed "$1")" 0 "failed logins"
  users=$(tsung_sum users_count "$1")
  assert_eq "$(tsung_sum finish_users_count "$1")" "$users" "users that ended their session"
}

# chat_example_xml DOMAIN PORT: the plugin's examples/jabber_chat.xml on stdout with our port and
# domain and shorter durations (10 users in 1 s, thinktimes of 1 s).
chat_example_xml() {
  sed -e "s/port=\"5222\"/port=\"$2\"/" -e "s/value=\"localhost\"/value=\"$1\"/" \
      -e 's/duration="10" unit="second"/duration="1" unit="second"/' -e 's/arrivalrate="2"/arrivalrate="10"/' \
      -e 's/maxnumber="20"/maxnumber="10"/' -e 's/<thinktime value="[35]"\/>/<thinktime value="1"\/>/' \
      -e 's/<thinktime value="1" random="true"\/>/<thinktime value="0.1" random="true"\/>/' \
      "$(dirname "${BASH_SOURCE[0]}")/../examples/jabber_chat.xml"
}

# assert_stamped_chats RUN_DIR: after jabber_chat.xml, each stamped message (of this process) was
# received (an xmpp_msg_latency sample) or stored offline by prosody; every user ended.
assert_stamped_chats() {
  local sent received stamped stamped_stored
  sent=$(tsung_sum xmpp_chat_sent "$1")
  received=$(tsung_sum xmpp_chat_received "$1")
  stamped=$(tsung_sum xmpp_msg_latency "$1")
  stamped_stored=$( (cat "$P"/data/*/offline/*.list 2>/dev/null || true) | { grep -c '^[[:space:]]*"@@@' || true; })
  log "example: sent $sent, received $received ($stamped stamped), stamped stored offline $stamped_stored"
  [ "$stamped" -gt 0 ] || fail "example: no stamped message received"
  [ "$received" -ge "$stamped" ] || fail "example: $stamped latency samples for $received messages"
  assert_eq "$((stamped + stamped_stored))" "$sent" "example: stamped messages received + stored offline"
  assert_eq "$(tsung_sum finish_users_count "$1")" "$(tsung_sum users_count "$1")" "example: users that ended their session"
}
