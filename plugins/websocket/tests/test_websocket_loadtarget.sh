#!/usr/bin/env bash
# ts_websocket against loadtarget's WebSocket echo (--ws-echo): ~40 users (Poisson arrivals,
# the counts below use how many came) each send 20 text
# messages (substituted), one of 200 bytes (16-bit length), one no_ack, then close. Counted on
# both sides: loadtarget's echo count must equal what loadctl sent. A dyn_variable (re anchored
# at the payload's start) takes the last echo and a later message carries it back; the match
# on its echo proves the payload, not the frame header, is what they see. Then the same
# scenario with max_frame_size 100: the 200-byte echo ends every user with
# error_websocket_frame_too_large.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --ws-echo 127.0.0.1:0 --threads 2
big=$(head -c 200 /dev/zero | tr '\0' 'b')

# scenario FILE OPTIONS
scenario() {
  cat > "$1" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_WS_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="2" unit="second"><users maxnumber="40" arrivalrate="20" unit="second"/></arrivalphase></load>
  <options>$2</options>
  <sessions><session name="ws" probability="100" type="ts_websocket">
    <request subst="true"><websocket type="connect" path="/echo/%%_tsung_userid%%"/></request>
    <for from="1" to="20" var="i">
      <request subst="true">
        <dyn_variable name="echoed" re="^v=([0-9]+)\$"/>
        <websocket type="message" frame="text">v=%%_i%%</websocket>
      </request>
    </for>
    <request subst="true">
      <match do="continue" when="match">^got 20\$</match>
      <websocket type="message" frame="text">got %%_echoed%%</websocket>
    </request>
    <request><websocket type="message">$big</websocket></request>
    <request><websocket type="message" ack="no_ack">fire and forget</websocket></request>
    <thinktime value="0.2" random="false"/>
    <request><websocket type="close"/></request>
  </session></sessions>
</tsung>
XML
}

scenario "$TEST_TMP/ws.xml" ""
run_loadctl "$TEST_TMP/ws.xml" "$TEST_TMP/run"
r=$TEST_TMP/run
n=$(tsung_sum users_count "$r")
[ "$n" -ge 10 ] || fail "only $n users arrived"
assert_eq "$(tsung_sum websocket_succ "$r")" "$n" "handshakes"
assert_eq "$(tsung_sum finish_users_count "$r")" "$n" "users finished"
assert_eq "$(tsung_sum request "$r")" $((n * 24)) "requests (connect, 22 messages, close)"
assert_eq "$(tsung_sum request_noack "$r")" "$n" "no_ack messages"
assert_eq "$(tsung_sum match "$r")" "$n" "matches on the echo of the dyn_variable's value"
assert_eq "$(tsung_sum nomatch "$r")" 0 "nomatch"
errors=$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 {print $2}' "$r/tsung.log" | sort -u | tr '\n' ' ')
assert_eq "$errors" "" "errors"

scenario "$TEST_TMP/small.xml" '<option name="max_frame_size" value="100"/>'
run_loadctl "$TEST_TMP/small.xml" "$TEST_TMP/run_small"
r=$TEST_TMP/run_small
n2=$(tsung_sum users_count "$r")
[ "$n2" -ge 10 ] || fail "only $n2 users arrived in the second run"
assert_eq "$(tsung_sum error_websocket_frame_too_large "$r")" "$n2" "echoes over max_frame_size"
assert_eq "$(tsung_sum request "$r")" $((n2 * 22)) "requests before the oversized echo"

_stop_pid "$LOADTARGET_PID"
echoed=$(awk '/echoed [0-9]+ websocket messages/ {print $3}' "$LOADTARGET_OUT")
# first run: 23 messages per user; second: 22 (20, "got", the oversized one), no_ack never sent
assert_eq "$echoed" $((n * 23 + n2 * 22)) "messages loadtarget echoed"
log "ok: $n users x 23 messages echoed by loadtarget, payload seen by dyn_variable and match"
