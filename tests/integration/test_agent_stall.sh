#!/usr/bin/env bash
# An agent stopped (SIGSTOP) then resumed (SIGCONT):
#  * for 4 s, less than the 10 s loss timeout: the arrivals due while it was stopped are skipped
#    and counted (error_arrivals_missed), not fired at once on SIGCONT (no interval starts more
#    than ~2 s worth of users), and tsung.log counts exactly the requests the target served;
#  * for 13 s, longer than the loss timeout, one agent of two: it is declared lost (exit 2), told
#    to stop when it comes back, and what it sends then is merged: tsung.log still counts every
#    request the target served.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --http 127.0.0.1:0 --access-log "$TEST_TMP/access.log"
# run_stalled NAME CPU DURATION STOP_FOR ARGS...: stops agent 0 two seconds into the load for
# STOP_FOR seconds. Sets st and served (requests the target served during this run).
run_stalled() {
  local name=$1 cpu=$2 duration=$3 stop_for=$4 ctl victim before
  shift 4
  # 20 users/s, one quick request each.
  one_request_scenario "$TEST_TMP/$name.xml" "$LOADTARGET_HTTP_PORT" /hello 20 "$duration" " cpu=\"$cpu\""
  before=$(count_lines "$TEST_TMP/access.log")
  "$LOADCTL" -q -f "$TEST_TMP/$name.xml" --run-dir "$TEST_TMP/$name" --dump-interval 1 --threads 1 -w 0.5 start "$@" \
    >/dev/null 2>"$TEST_TMP/$name.err" &
  ctl=$!
  on_exit "_stop_pid $ctl"
  wait_until 20 grep -q "time zero" "$TEST_TMP/$name/controller.log" 2>/dev/null || fail "$name: the load did not start"
  victim=$(sed -n 's/.*agent 0 on .* launched (pid \([0-9]*\)).*/\1/p' "$TEST_TMP/$name/controller.log")
  [ -n "$victim" ] || fail "$name: no pid for agent 0 in controller.log"
  on_exit "kill -CONT $victim 2>/dev/null || true"
  sleep 2.5
  log "$name: SIGSTOP agent 0 (pid $victim) for ${stop_for}s"
  kill -STOP "$victim"
  sleep "$stop_for"
  kill -CONT "$victim"
  st=0
  wait "$ctl" || st=$?
  sleep 0.3  # loadtarget flushes its access log every 100 ms
  served=$(($(count_lines "$TEST_TMP/access.log") - before))
  cat "$TEST_TMP/$name.err" >&2
}

run_stalled short 1 10 4
assert_eq "$st" 0 "exit status after a 4 s stall"
missed=$(tsung_sum error_arrivals_missed "$TEST_TMP/short")
burst=$(awk '$1 == "stats:" && $2 == "users_count" && $3 > m { m = $3 } END { print m + 0 }' "$TEST_TMP/short/tsung.log")
logged=$(tsung_sum request "$TEST_TMP/short")
log "short: served=$served tsung.log requests=$logged missed arrivals=$missed most users started in one interval=$burst"
[ "$missed" -ge 40 ] && [ "$missed" -le 130 ] || fail "error_arrivals_missed is $missed, expected about 80 (4 s at 20/s)"
[ "$burst" -le 45 ] || fail "$burst users started in one 1 s interval: the missed arrivals were fired at once"
assert_eq "$logged" "$served" "requests in tsung.log vs served by the target"
grep -q error_agent_lost "$TEST_TMP/short/tsung.log" && fail "the agent was declared lost after a 4 s stall"

run_stalled long 2 24 13
assert_eq "$st" 2 "exit status after an agent was lost"
grep -q "agent 0 on localhost lost (running): no message for 10 s" "$TEST_TMP/long.err" || fail "the loss is not reported"
grep -q "agent 0 on localhost came back after being declared lost" "$TEST_TMP/long.err" || fail "the return is not reported"
logged=$(tsung_sum request "$TEST_TMP/long")
log "long: served=$served tsung.log requests=$logged"
# A request in flight when the agent got the stop may or may not have been served; it is counted
# as cut off (error_abort_inflight) either way.
cut=$(tsung_sum error_abort_inflight "$TEST_TMP/long")
[ "$logged" -le "$served" ] && [ "$served" -le "$((logged + cut))" ] ||
  fail "tsung.log counts $logged requests (+ $cut cut off), the target served $served: late statistics not merged"
assert_eq "$(tsung_sum error_agent_lost "$TEST_TMP/long")" 1 "error_agent_lost"
echo "PASS: $TEST_NAME"
