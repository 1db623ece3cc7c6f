#!/usr/bin/env bash
# kill -9 one of two local agents (cpu="2") mid-run against nginx: the run goes on to its end but
# exits 2 (part of the planned load did not run), naming the lost agent; with
# --tolerate-agent-loss it exits 0. tsung.log has every interval and error_agent_lost 1, and what
# the dead agent sent before it died stays counted: nginx's count exceeds tsung.log's by at most
# what that agent had in flight or not yet reported (one 500 ms delta), far less than its share
# before the kill. The lost agent's share of the remaining arrivals goes to the other (a steering
# event).
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent nginx

port=$(free_port)
start_nginx "$port"
cat >"$TEST_TMP/scenario.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients>
    <client host="localhost" use_controller_vm="true" cpu="2" maxusers="30000"/>
  </clients>
  <servers>
    <server host="127.0.0.1" port="$port" type="tcp"/>
  </servers>
  <load>
    <arrivalphase phase="1" duration="6" unit="second">
      <users arrivalrate="10" unit="second"/>
    </arrivalphase>
  </load>
  <sessions>
    <session name="steady" probability="100" type="ts_http">
      <for from="1" to="20" incr="1" var="i">
        <request><http url="/" method="GET"/></request>
        <thinktime value="0.05" random="false"/>
      </for>
    </session>
  </sessions>
</tsung>
XML

# run_and_kill DIR ARGS...: runs the scenario into DIR, kill -9 agent 1 at ~3 s of 6; sets st.
run_and_kill() {
  local run=$1 ctl victim
  shift
  "$LOADCTL" -q -f "$TEST_TMP/scenario.xml" --run-dir "$run" --dump-interval 1 -w 0.5 start "$@" \
    >"$run.out" 2>"$run.err" &
  ctl=$!
  on_exit "_stop_pid $ctl"
  wait_until 20 grep -q "time zero" "$run/controller.log" 2>/dev/null || fail "the load did not start: $(cat "$run.err")"
  victim=$(sed -n 's/.*agent 1 on .* launched (pid \([0-9]*\)).*/\1/p' "$run/controller.log")
  [ -n "$victim" ] || fail "no pid for agent 1 in controller.log"
  sleep 3.5
  log "kill -9 agent 1 (pid $victim) at ~3 s of 6"
  kill -KILL "$victim"
  st=0
  wait "$ctl" || st=$?
}

run=$TEST_TMP/run
run_and_kill "$run"
cat "$run.err" >&2
assert_eq "$st" 2 "exit status after losing an agent"
grep -q "error: 1 of 2 agent(s) lost" "$run.err" || fail "the loss is not reported as an error"
grep -q "agent 1 on localhost: .*killed by signal 9" "$run.err" || fail "the lost agent is not named"
grep -q '"exit_status": 2' "$run/run.json" || fail "run.json does not record exit status 2"

sum() { tsung_sum "$1" "$run"; }
assert_eq "$(sum error_agent_lost)" 1 "error_agent_lost in tsung.log"
grep -q "agent 1 on localhost lost" "$run/controller.log" || fail "the loss is not in controller.log"
grep -q '"lost"' "$run/run.json" || fail "run.json does not record the lost agent"
# Lost mid-phase: its share of the arrivals goes to agent 0 (docs/dashboard.md), a steering event.
grep -q "steering: agent 1 lost: its arrivals to the others" "$run/controller.log" || fail "agent 1's share was not moved"
assert_eq "$(sum steer_remove_agent)" 1 "steer_remove_agent in tsung.log"

# Every interval: one dump per second from time zero to the end (6 s of arrivals + ~1 s of
# sessions), consecutive dumps one second apart.
mapfile -t dumps < <(awk '/^# stats: dump at / { print $5 }' "$run/tsung.log")
[ "${#dumps[@]}" -ge 7 ] || fail "only ${#dumps[@]} dumps in tsung.log"
for ((i = 1; i < ${#dumps[@]} - 1; i++)); do
  gap=$((dumps[i] - dumps[i - 1]))
  [ "$gap" -le 1 ] || fail "tsung.log skips from ${dumps[i - 1]} to ${dumps[i]}"
done

requests=$(sum request)
logged=$(count_lines "$NGINX_ACCESS_LOG")
unreported=$((logged - requests))
log "tsung.log requests=$requests nginx=$logged unreported=$unreported"
[ "$requests" -gt 400 ] || fail "too few requests: $requests"
[ "$unreported" -ge 0 ] || fail "tsung.log counts more requests ($requests) than nginx saw ($logged)"
# Agent 1 did ~100-120 requests/s with ~6 users in flight: one 500 ms delta plus in-flight is ~70,
# up to ~130 when the agent's report is late (ASan, a loaded machine: 91 was seen); losing its
# earlier statistics would leave ~300 unreported.
[ "$unreported" -le 150 ] || fail "$unreported requests nginx answered are missing from tsung.log"
# The same with the opt-in: a partial run is accepted.
run_and_kill "$TEST_TMP/tolerated" --tolerate-agent-loss
[ "$st" -eq 0 ] || { cat "$TEST_TMP/tolerated.err" >&2; fail "loadctl --tolerate-agent-loss exited with $st after losing an agent"; }
grep -q "warning: 1 of 2 agent(s) lost" "$TEST_TMP/tolerated.err" || fail "no warning about the tolerated loss"

echo "PASS: $TEST_NAME"
