#!/usr/bin/env bash
# Arrival lag: users that start more than --arrival-lag-limit (default 100 ms) after their
# scheduled arrival are counted as users_late (Tsung: "users were not launched in time"), shown
# on the progress line and in the summary, and usable in --fail-if (`late > 0`).
#  * overloaded: the agent is held still for 0.6 s (SIGSTOP, as a saturated host would be) in a
#    50 users/s phase: the ~30 arrivals due meanwhile start late (less than the 1 s stall limit
#    late, so they are not skipped): users_late > 0, the run exits 3 with --fail-if 'late > 0';
#  * stalled: held still 2 s, above the 1 s stall limit: the arrivals due meanwhile are skipped
#    (error_arrivals_missed) and counted late too: late > 0, the warning, exit 3;
#  * easy: the same phase undisturbed: users_late is 0 and the same --fail-if passes (with
#    --arrival-lag-limit 0.5: the test machine is often loaded, a user 0.1 s late there is chance).
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --http 127.0.0.1:0 --access-log "$TEST_TMP/access.log"
hello_scenario "$TEST_TMP/s.xml" 6 '<client host="localhost" use_controller_vm="true"/>'
sed -i 's/arrivalrate="5"/arrivalrate="50"/' "$TEST_TMP/s.xml"

# run NAME STOP_FOR [OPTION...]: the run, agent 0 held still STOP_FOR seconds 2 s after time zero
# (0: not). Sets st (exit status).
run() {
  local name=$1 stop_for=$2 ctl victim
  shift 2
  "$LOADCTL" -f "$TEST_TMP/s.xml" --run-dir "$TEST_TMP/$name" --threads 1 -w 0.5 start --fail-if 'late > 0' "$@" \
    >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" &
  ctl=$!
  on_exit "_stop_pid $ctl"
  if [ "$stop_for" != 0 ]; then
    wait_until 20 grep -q "time zero" "$TEST_TMP/$name/controller.log" 2>/dev/null || fail "$name: the load did not start"
    victim=$(sed -n 's/.*agent 0 on .* launched (pid \([0-9]*\)).*/\1/p' "$TEST_TMP/$name/controller.log")
    [ -n "$victim" ] || fail "$name: no pid for agent 0 in controller.log"
    on_exit "kill -CONT $victim 2>/dev/null || true"
    sleep 2
    kill -STOP "$victim"
    sleep "$stop_for"
    kill -CONT "$victim"
  fi
  st=0
  wait "$ctl" || st=$?
}

run overloaded 0.6
late=$(tsung_sum users_late "$TEST_TMP/overloaded")
started=$(tsung_sum users_count "$TEST_TMP/overloaded")
log "overloaded: $late of $started users late, exit $st"
[ "$late" -ge 8 ] && [ "$late" -le 60 ] || fail "users_late is $late, expected about 25 (0.5 s at 50/s)"
assert_eq "$(tsung_sum error_arrivals_missed "$TEST_TMP/overloaded")" 0 "arrivals skipped (a 0.6 s stall is below the 1 s limit)"
assert_eq "$st" 3 "exit status with --fail-if 'late > 0' crossed"
grep -Eq "errors [0-9]+ [|] late [1-9][0-9]*$" "$TEST_TMP/overloaded.err" ||
  { cat "$TEST_TMP/overloaded.err" >&2; fail "no late count on the progress line"; }
grep -q "users (.*% of those due) were not launched in time" "$TEST_TMP/overloaded.out" "$TEST_TMP/overloaded.err" ||
  fail "no late-arrival warning in the summary"
grep -q "late = $late (crossed: > 0)" "$TEST_TMP/overloaded.out" "$TEST_TMP/overloaded.err" || fail "the threshold's report"

run stalled 2
late=$(tsung_sum users_late "$TEST_TMP/stalled")
missed=$(tsung_sum error_arrivals_missed "$TEST_TMP/stalled")
log "stalled: $late users late, $missed arrivals skipped, exit $st"
[ "$missed" -ge 30 ] || fail "error_arrivals_missed is $missed, expected about 50 (1-2 s at 50/s)"
[ "$late" -ge "$missed" ] || fail "users_late ($late) does not include the $missed skipped arrivals"
assert_eq "$st" 3 "exit status of a stalled run with --fail-if 'late > 0'"
grep -q "users (.*% of those due) were not launched in time ($missed of them skipped" "$TEST_TMP/stalled.out" "$TEST_TMP/stalled.err" ||
  fail "no late-arrival warning naming the skipped arrivals"

run easy 0 --arrival-lag-limit 0.5
log "easy: $(tsung_sum users_late "$TEST_TMP/easy") of $(tsung_sum users_count "$TEST_TMP/easy") users late, exit $st"
assert_eq "$(tsung_sum users_late "$TEST_TMP/easy")" 0 "users_late of an easy run"
[ "$(tsung_sum users_count "$TEST_TMP/easy")" -ge 200 ] || fail "the easy run started too few users"
assert_eq "$st" 0 "exit status of an easy run with --fail-if 'late > 0'"
grep -q "not launched in time" "$TEST_TMP/easy.out" "$TEST_TMP/easy.err" && fail "late-arrival warning in an easy run"
echo "PASS: $TEST_NAME"
