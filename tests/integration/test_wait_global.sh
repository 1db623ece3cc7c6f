#!/usr/bin/env bash
# <thinktime value="wait_global"/> with <option name="global_number" value="4"/> (Tsung's
# ts_timer rendezvous), across two agents (cpu="2"): four users start 0.4 s apart, send /hello?a,
# wait; the controller releases them when the fourth arrives, so every /hello?b comes after the
# last /hello?a. Without the release they would wait until the 20 s <load duration> cuts them off
# (no user finished, error_abort 1).
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --threads 1 --access-log "$access_log"
cat > "$TEST_TMP/scenario.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true" cpu="2"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load duration="20" unit="second">
    <user session="s" start_time="0" unit="second"/>
    <user session="s" start_time="0.4" unit="second"/>
    <user session="s" start_time="0.8" unit="second"/>
    <user session="s" start_time="1.2" unit="second"/>
  </load>
  <options><option name="global_number" value="4"/></options>
  <sessions>
    <session name="s" probability="100" type="ts_http">
      <request><http url="/hello?a"/></request>
      <thinktime value="wait_global"/>
      <request><http url="/hello?b"/></request>
    </session>
  </sessions>
</tsung>
XML
run_loadctl "$TEST_TMP/scenario.xml" "$TEST_TMP/run"
wait_until 5 bash -c "[ \$(grep -c 'hello?b' '$access_log') -ge 4 ]" || fail "not every user was released"
assert_eq "$(grep -c 'hello?a' "$access_log")" 4 "users before the rendezvous"
last_a=$(grep -n 'hello?a' "$access_log" | tail -1 | cut -d: -f1)
first_b=$(grep -n 'hello?b' "$access_log" | head -1 | cut -d: -f1)
[ "$first_b" -gt "$last_a" ] || fail "a user went on (line $first_b) before the fourth arrived (line $last_a)"
grep -q 'agent 1' "$TEST_TMP/run/controller.log" || fail "the run did not use two agents"
assert_eq "$(awk '$2 == "finish_users_count" { s += $3 } END { print s }' "$TEST_TMP/run/tsung.log")" 4 "users finished"
assert_eq "$(awk '$2 == "error_abort" { s += $3 } END { print s + 0 }' "$TEST_TMP/run/tsung.log")" 0 \
  "error_abort (the run ended before its duration)"
echo "PASS: $TEST_NAME"
