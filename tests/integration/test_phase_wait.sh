#!/usr/bin/env bash
# <arrivalphase wait_all_sessions_end="true"> (Tsung's ts_launcher:check_sessions_end): the next
# phase starts only once no user of the agent runs. Phase 1 users think 2 s, past the end of
# their 1 s phase; phase 2's user must come after their last request (without the wait it comes
# about a second before). Also runs the same scenario without the attribute, which overlaps.
# The agent runs 2 threads and phase 2 has 6 users, 3 per thread, that think 2 s: the gate is
# the agent's, so both threads start their phase-2 users together (one thread's new users must
# not keep the other one waiting until they end).
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
      <users arrivalrate="100000" unit="second" maxnumber="6"/></arrivalphase>
  </load>
  <sessions>
    <session name="first" probability="50" type="ts_http">
      <request><http url="/hello?p1a"/></request>
      <thinktime value="2" random="false"/>
      <request><http url="/hello?p1b"/></request>
    </session>
    <session name="second" probability="50" type="ts_http">
      <request><http url="/hello?p2a"/></request>
      <thinktime value="2" random="false"/>
      <request><http url="/hello?p2b"/></request>
    </session>
  </sessions>
</tsung>
XML
}
# run WAIT: prints "LAST_P1B FIRST_P2A LAST_P2A FIRST_P2B" line numbers in the access log.
run() {
  : > "$access_log"
  scenario "$1" > "$TEST_TMP/$1.xml"
  run_loadctl "$TEST_TMP/$1.xml" "$TEST_TMP/run-$1" --threads 2
  wait_until 5 bash -c "[ \$(grep -c 'p1b\|p2b' '$access_log') -ge 9 ]" || fail "not every request reached loadtarget"
  assert_eq "$(grep -c 'p1b' "$access_log")" 3 "phase 1 users (wait=$1)"
  assert_eq "$(grep -c 'p2a' "$access_log")" 6 "phase 2 users (wait=$1)"
  line() { grep -n "$1" "$access_log" | "$2" -1 | cut -d: -f1; }
  echo "$(line p1b tail) $(line p2a head) $(line p2a tail) $(line p2b head)"
}
# Without the agent-wide gate a thread is held back only when its poll comes after the other
# thread's first phase-2 user started (most runs at this arrival rate): two runs.
for attempt in 1 2; do
  read -r last_p1 first_p2 last_p2a first_p2b < <(run true)
  [ "$first_p2" -gt "$last_p1" ] || fail "wait_all_sessions_end: phase 2 started (line $first_p2) before phase 1 ended (line $last_p1)"
  [ "$last_p2a" -lt "$first_p2b" ] ||
    fail "wait_all_sessions_end: a thread started its phase-2 users (line $last_p2a) only after the other's ended (line $first_p2b)"
done
read -r last_p1 first_p2 _ _ < <(run false)
[ "$first_p2" -lt "$last_p1" ] || fail "without wait_all_sessions_end phase 2 should overlap phase 1 (line $first_p2 vs $last_p1)"
echo "PASS: $TEST_NAME"
