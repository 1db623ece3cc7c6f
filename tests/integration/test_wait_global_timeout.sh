#!/usr/bin/env bash
# Tsung's ts_timer releases an incomplete wait_global group once global_ack_timeout passes
# without an arrival: three users of a group of five (global_number) arrive within 0.6 s; with
# global_ack_timeout 2 s they go on about 2 s after the last one reported (reports every
# 500 ms), not at once and not at the 20 s <load duration>.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --threads 1 --access-log "$access_log"
cat > "$TEST_TMP/scenario.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load duration="20" unit="second">
    <user session="s" start_time="0" unit="second"/>
    <user session="s" start_time="0.3" unit="second"/>
    <user session="s" start_time="0.6" unit="second"/>
  </load>
  <options><option name="global_number" value="5"/><option name="global_ack_timeout" value="2000"/></options>
  <sessions>
    <session name="s" probability="100" type="ts_http">
      <request><http url="/hello?a"/></request>
      <thinktime value="wait_global"/>
      <request><http url="/hello?b"/></request>
    </session>
  </sessions>
</tsung>
XML
start=$(date +%s%N)
run_loadctl "$TEST_TMP/scenario.xml" "$TEST_TMP/run" --threads 1
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
log "run took $elapsed_ms ms"
wait_until 5 bash -c "[ \$(grep -c 'hello?b' '$access_log') -ge 3 ]" || fail "the incomplete group was not released"
last_a=$(grep -n 'hello?a' "$access_log" | tail -1 | cut -d: -f1)
first_b=$(grep -n 'hello?b' "$access_log" | head -1 | cut -d: -f1)
[ "$first_b" -gt "$last_a" ] || fail "a user went on (line $first_b) before the last arrived (line $last_a)"
[ "$elapsed_ms" -ge 2500 ] || fail "released after $elapsed_ms ms: before global_ack_timeout passed"
[ "$elapsed_ms" -lt 10000 ] || fail "released after $elapsed_ms ms: not by global_ack_timeout"
assert_eq "$(tsung_sum finish_users_count "$TEST_TMP/run")" 3 "users finished"
assert_eq "$(tsung_sum error_abort "$TEST_TMP/run")" 0 "error_abort (the run ended before its duration)"
log "ok"
