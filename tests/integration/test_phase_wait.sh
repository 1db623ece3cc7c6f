#!/usr/bin/env bash
# <arrivalphase wait_all_sessions_end="true"> (Tsung's ts_launcher:check_sessions_end): the next
# phase starts only once no user of the agent runs. Phase 1 users think 2 s, past the end of
# their 1 s phase; phase 2's user must come after their last request (without the wait it comes
# about a second before). Also runs the same scenario without the attribute, which overlaps.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --threads 1 --access-log "$access_log"
scenario() {  # WAIT: "true" or "false"
  cat <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load>
    <arrivalphase phase="1" duration="1" unit="second" wait_all_sessions_end="$1">
      <session_setup name="first" probability="100"/><session_setup name="second" probability="0"/>
      <users arrivalrate="20" unit="second" maxnumber="3"/></arrivalphase>
    <arrivalphase phase="2" duration="1" unit="second">
      <session_setup name="first" probability="0"/><session_setup name="second" probability="100"/>
      <users arrivalrate="50" unit="second" maxnumber="1"/></arrivalphase>
  </load>
  <sessions>
    <session name="first" probability="50" type="ts_http">
      <request><http url="/hello?p1a"/></request>
      <thinktime value="2" random="false"/>
      <request><http url="/hello?p1b"/></request>
    </session>
    <session name="second" probability="50" type="ts_http"><request><http url="/hello?p2"/></request></session>
  </sessions>
</tsung>
XML
}
# run WAIT: prints "LAST_P1B FIRST_P2" line numbers in the access log.
run() {
  : > "$access_log"
  scenario "$1" > "$TEST_TMP/$1.xml"
  "$LOADCTL" -q -f "$TEST_TMP/$1.xml" --run-dir "$TEST_TMP/run-$1" start >/dev/null 2>"$TEST_TMP/$1.err" ||
    { cat "$TEST_TMP/$1.err" >&2; fail "loadctl exited with $?"; }
  wait_until 5 bash -c "[ \$(grep -c 'p1b\|p2' '$access_log') -ge 4 ]" || fail "not every request reached loadtarget"
  assert_eq "$(grep -c 'p1b' "$access_log")" 3 "phase 1 users (wait=$1)"
  assert_eq "$(grep -c 'p2' "$access_log")" 1 "phase 2 users (wait=$1)"
  echo "$(grep -n 'p1b' "$access_log" | tail -1 | cut -d: -f1) $(grep -n 'p2' "$access_log" | head -1 | cut -d: -f1)"
}
read -r last first < <(run true)
[ "$first" -gt "$last" ] || fail "wait_all_sessions_end: phase 2 started (line $first) before phase 1 ended (line $last)"
read -r last first < <(run false)
[ "$first" -lt "$last" ] || fail "without wait_all_sessions_end phase 2 should overlap phase 1 (line $first vs $last)"
echo "PASS: $TEST_NAME"
