#!/usr/bin/env bash
# rate_limit (KB/s per user, token bucket with a burst): the global option, and set_option in a
# session. 4 x 1 MB at 2048 KB/s with a 1024 KB burst take at least (4 - 1) / 2 = 1.5 s; without a
# limit the same session takes a few ms on loopback.
# Then a connection-level plugin (websocket, against loadtarget's echo), whose socket is read all
# along: 4 x 64 KB echoes at 128 KB/s with a 32 KB burst. When the user awaits each echo (global
# option), the close frame's read first repays the last echo's debt: at least (256 - 32) / 128 =
# 1.75 s (the lower bound leaves 0.1 s for timer and clock granularity). When it sends them
# without waiting (ack="no_ack") and thinks 0.3 s while they come back, then closes (set_option),
# they are not limited: as in Tsung (ts_client debits its bucket only in wait_ack), bytes that
# come while the user thinks go through unlimited, so the session takes about as long as
# without a limit. Upper bounds leave seconds for a loaded machine.
# Last, a throttled wait longer than idle_timeout is not a timeout: 64 KB at 16 KB/s with a
# 16 KB burst wait about 2 s in reads deferred by 1 s each, with idle_timeout at 0.4 s.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget
start_loadtarget --http 127.0.0.1:0 --ws-echo 127.0.0.1:0 --threads 1

# scenario OPTION SETOPTION: one user, 4 GETs of /bytes/1048576. A static <user>, not an arrival
# phase: on a loaded machine a 1 s phase's only arrival can come late enough to be skipped.
scenario() {
  cat <<XML
<?xml version="1.0"?>
<tsung loglevel="notice">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><user session="s" start_time="0" unit="second"/></load>
  <options>$1</options>
  <sessions>
    <session name="s" probability="100" type="ts_http">
      $2
      <for from="1" to="4" var="i"><request><http url="/bytes/1048576" method="GET"/></request></for>
    </session>
  </sessions>
</tsung>
XML
}
# session_ms DIR: the mean session duration in tsung.log (ms).
session_ms() { awk '$1 == "stats:" && $2 == "session" && $3 > 0 { print int($4) }' "$1/tsung.log" | tail -1; }
run() {
  scenario "$1" "$2" > "$TEST_TMP/$3.xml"
  run_loadctl "$TEST_TMP/$3.xml" "$TEST_TMP/$3"
  session_ms "$TEST_TMP/$3"
}
free=$(run "" "" free)
global=$(run '<option name="rate_limit" value="2048" max="1024"/>' "" global)
session=$(run "" '<set_option name="rate_limit" value="2048" max="1024"/>' session)
log "session ms: unlimited $free, global option $global, set_option $session"
[ "$free" -lt 1000 ] || fail "unlimited session took $free ms"
for v in "$global" "$session"; do
  [ "$v" -ge 1400 ] && [ "$v" -le 4000 ] || fail "rate-limited session took $v ms, expected about 1500"
done

# ws_scenario OPTION SETOPTION ACK THINK
big=$(head -c 65536 /dev/zero | tr '\0' 'a')
ws_scenario() {
  cat <<XML
<?xml version="1.0"?>
<tsung loglevel="notice">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_WS_PORT" type="tcp"/></servers>
  <load><user session="ws" start_time="0" unit="second"/></load>
  <options>$1</options>
  <sessions>
    <session name="ws" probability="100" type="ts_websocket">
      $2
      <request><websocket type="connect" path="/rate"/></request>
      <for from="1" to="${WS_COUNT:-4}" var="i"><request><websocket type="message" ack="$3">$big</websocket></request></for>
      $4
      <request><websocket type="close"/></request>
    </session>
  </sessions>
</tsung>
XML
}
ws_run() {
  ws_scenario "$1" "$2" "$3" "$4" > "$TEST_TMP/$5.xml"
  run_loadctl "$TEST_TMP/$5.xml" "$TEST_TMP/$5"
  assert_eq "$(tsung_sum finish_users_count "$TEST_TMP/$5")" 1 "$5: users finished"
  errors=$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 {print $2}' "$TEST_TMP/$5/tsung.log" | sort -u | tr '\n' ' ')
  assert_eq "$errors" "" "$5: errors"
  session_ms "$TEST_TMP/$5"
}
limit='<option name="rate_limit" value="128" max="32"/>'
think='<thinktime value="0.3" random="false"/>'
ws_free=$(ws_run "" "" parse "" ws_free)
ws_global=$(ws_run "$limit" "" parse "" ws_global)
ws_push_free=$(ws_run "" "" no_ack "$think" ws_push_free)
ws_push=$(ws_run "" "${limit/option/set_option}" no_ack "$think" ws_push)
log "websocket session ms: unlimited $ws_free, global option $ws_global; echoes during a thinktime: unlimited $ws_push_free, set_option $ws_push"
[ "$ws_free" -lt 1000 ] || fail "unlimited websocket session took $ws_free ms"
[ "$ws_push_free" -lt 1200 ] || fail "unlimited websocket session with a thinktime took $ws_push_free ms"
[ "$ws_global" -ge 1650 ] && [ "$ws_global" -le 5000 ] ||
  fail "rate-limited websocket session took $ws_global ms, expected at least 1750"
[ "$ws_push" -lt 1200 ] || fail "echoes during a thinktime were limited: the session took $ws_push ms"

# idle_timeout and throttled waits: HTTP (the user's own read) and websocket (a deferred read).
slow='<option name="rate_limit" value="16" max="16"/><option name="idle_timeout" value="400"/>'
scenario "$slow" "" | sed 's|/bytes/1048576|/bytes/65536|; s|to="4"|to="1"|' > "$TEST_TMP/idle.xml"
run_loadctl "$TEST_TMP/idle.xml" "$TEST_TMP/idle1"
idle=$(session_ms "$TEST_TMP/idle1")
assert_eq "$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 {print $2}' "$TEST_TMP/idle1/tsung.log" | tr '\n' ' ')" "" "idle: errors"
assert_eq "$(tsung_sum finish_users_count "$TEST_TMP/idle1")" 1 "idle: users finished"
ws_idle=$(WS_COUNT=1 ws_run "$slow" "" parse "" ws_idle)
log "throttled waits of 1 s with idle_timeout 0.4 s: http $idle ms, websocket $ws_idle ms"
for v in "$idle" "$ws_idle"; do
  [ "$v" -ge 1800 ] && [ "$v" -le 6000 ] || fail "a session limited to 16 KB/s took $v ms, expected about 2000"
done

log "ok"
