#!/usr/bin/env bash
# rate_limit (KB/s per user, token bucket with a burst): the global option, and set_option in a
# session. 4 x 1 MB at 2048 KB/s with a 1024 KB burst take at least (4 - 1) / 2 = 1.5 s; without a
# limit the same session takes a few ms on loopback.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget
start_loadtarget --http 127.0.0.1:0 --threads 1

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
  "$LOADCTL" -q -f "$TEST_TMP/$3.xml" --run-dir "$TEST_TMP/$3" start > /dev/null 2> "$TEST_TMP/$3.err" ||
    { cat "$TEST_TMP/$3.err" >&2; fail "loadctl exited with $?"; }
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
log "ok"
