#!/usr/bin/env bash
# <match do="abort_test"> ends the whole test, as Tsung's ts_config_server:stop does: one user on
# one of two agents (cpu="2") fetches a file from nginx whose body matches; the agent tells the
# controller, which stops every agent. The other agent's users, thinking 60 s, never send their
# second request; the run ends seconds after the match instead of after a minute; tsung.log holds
# every request nginx served; the controller names the match; the exit status is 5 (aborted).
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent nginx

NGINX_DIR=$TEST_TMP/nginx
mkdir -p "$NGINX_DIR/www"
echo "TRIPWIRE-7f3a9c" > "$NGINX_DIR/www/tripwire.txt"
echo "location /files/ { alias $NGINX_DIR/www/; }" > "$NGINX_DIR/server.conf"
port=$(free_port)
start_nginx "$port"

# Six calm users (maxnumber: three per agent) arrive in the first second and think 60 s; the
# static tripwire user starts at 2 s on whichever agent the plan gives it.
cat > "$TEST_TMP/scenario.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice">
  <clients><client host="localhost" use_controller_vm="true" cpu="2"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load>
    <arrivalphase phase="1" duration="60" unit="second"><users maxnumber="6" arrivalrate="10" unit="second"/></arrivalphase>
    <user session="tripwire" start_time="2" unit="second"/>
  </load>
  <sessions>
    <session name="calm" probability="100" type="ts_http">
      <request><http url="/?calm" method="GET"/></request>
      <thinktime value="60"/>
      <request><http url="/?late" method="GET"/></request>
    </session>
    <session name="tripwire" probability="0" type="ts_http">
      <request><match do="abort_test" name="tripwire">TRIPWIRE-7f3a9c</match><http url="/files/tripwire.txt" method="GET"/></request>
      <request><http url="/?after_match" method="GET"/></request>
    </session>
  </sessions>
</tsung>
XML

run=$TEST_TMP/run
start=$(date +%s%N)
set +e
"$LOADCTL" -q -f "$TEST_TMP/scenario.xml" --run-dir "$run" --threads 1 --dump-interval 1 start > "$TEST_TMP/out" 2> "$TEST_TMP/err"
rc=$?
set -e
elapsed=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
log "exit status $rc after ${elapsed}s; console:"
cat "$TEST_TMP/err" >&2

assert_eq "$rc" 5 "exit status of a run aborted by its scenario"
# Agents start in about a second; the match comes at 2 s; the stop takes under 2 s more.
awk -v e="$elapsed" 'BEGIN { exit !(e < 12) }' || fail "the run went on for ${elapsed}s after the match (the scenario lasts 60 s or more)"

# The controller says why it stopped, naming the match and the agent that matched.
grep -q 'test aborted by agent [01] on localhost: <match do="abort_test" name="tripwire">TRIPWIRE-7f3a9c</match> (user [0-9]*, session "tripwire"): stopping every agent' "$TEST_TMP/err" ||
  fail "the console does not name the match"
matcher=$(sed -n 's/.*test aborted by agent \([01]\) on localhost.*/\1/p' "$TEST_TMP/err" | head -1)
other=$((1 - matcher))
log "agent $matcher matched; agent $other was stopped by the controller"
grep -q "test aborted by agent $matcher on localhost: <match" "$run/controller.log" || fail "controller.log does not name the match"
grep -q 'the test is aborted by <match do="abort_test" name="tripwire">' "$run/agent-$matcher.log" ||
  fail "agent $matcher does not log its abort"
grep -q "stop requested by the controller: test aborted by agent $matcher" "$run/agent-$other.log" ||
  { cat "$run/agent-$other.log" >&2; fail "agent $other was not stopped for the abort"; }
# run.json: how it ended, both agents done (each sent its final statistics).
grep -q '"exit_status": 5' "$run/run.json" || fail "run.json exit status"
grep -q "\"stop_reason\": \"test aborted by agent $matcher on localhost: <match do=" "$run/run.json" || fail "run.json stop reason"
assert_eq "$(grep -c '"state": "done"' "$run/run.json")" 2 "agents done in run.json"

# Nothing measured is lost: every request nginx served is in tsung.log, and every user is counted.
sleep 0.3
served=$(count_lines "$NGINX_ACCESS_LOG")
requests=$(tsung_sum request "$run")
log "nginx served $served, tsung.log counts $requests requests"
assert_eq "$(grep -c '/?late' "$NGINX_ACCESS_LOG" || true)" 0 "calm users' second requests (after the abort)"
assert_eq "$(grep -c '/?after_match' "$NGINX_ACCESS_LOG" || true)" 0 "requests after the match"
assert_eq "$(grep -c '/files/tripwire.txt' "$NGINX_ACCESS_LOG" || true)" 1 "tripwire fetches"
assert_eq "$(grep -c '/?calm' "$NGINX_ACCESS_LOG" || true)" 6 "calm users' first requests"
assert_eq "$requests" "$served" "requests in tsung.log"
assert_eq "$(tsung_sum users_count "$run")" 7 "users started"
assert_eq "$(tsung_sum match_stop_test "$run")" 1 "match_stop_test"
assert_eq "$(tsung_sum error_abort "$run")" 1 "error_abort (Tsung's ts_mon:abort)"
cut=$(tsung_sum users_cut_off "$run")
# The matching agent holds at most four users (three calm, the tripwire): six or more cut off means
# the other agent's users were cut off too.
[ "$cut" -ge 6 ] || fail "users_cut_off $cut: the six calm users (three per agent) were thinking at the stop"
# The same run with the dashboard kept (-k): `loadctl status`, /api/status and the dashboard's
# events say why it stopped; the kept run still exits 5 once `loadctl stop` ends it.
run2=$TEST_TMP/run-kept
"$LOADCTL" -q -f "$TEST_TMP/scenario.xml" --run-dir "$run2" --threads 1 --http 127.0.0.1:0 -k start \
  > "$TEST_TMP/out2" 2> "$TEST_TMP/err2" &
pid=$!
on_exit "kill -9 $pid 2>/dev/null || true"
wait_dashboard "$run2" 20
finished() { curl -sS --max-time 5 "${DASHBOARD_URL}api/status" > "$TEST_TMP/status.json" && grep -q '"state": "finished"' "$TEST_TMP/status.json"; }
wait_until 20 finished || { cat "$TEST_TMP/status.json" "$TEST_TMP/err2" >&2; fail "the kept dashboard never showed the finished run"; }
grep -q '"stop_reason": "test aborted by agent [01] on localhost: <match do=\\"abort_test\\" name=\\"tripwire\\">' "$TEST_TMP/status.json" ||
  { cat "$TEST_TMP/status.json" >&2; fail "/api/status has no stop reason"; }
grep -q '"exit_status": 5' "$TEST_TMP/status.json" || fail "/api/status exit status"
curl -sS --max-time 5 "${DASHBOARD_URL}api/stats" | grep -q '"text": *"test aborted by agent' || fail "no abort event on the dashboard's charts"
"$LOADCTL" status --run-dir "$run2" > "$TEST_TMP/status.txt" 2>&1 || true
grep -q '^loadctl has finished (test aborted by agent [01] on localhost: <match do="abort_test" name="tripwire">.*): exit status 5$' \
  "$TEST_TMP/status.txt" || { cat "$TEST_TMP/status.txt" >&2; fail "loadctl status does not say why the run stopped"; }
"$LOADCTL" stop --run-dir "$run2" > "$TEST_TMP/stop.out" 2>&1 || { cat "$TEST_TMP/stop.out" >&2; fail "loadctl stop of the kept dashboard"; }
wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || fail "the controller did not exit after loadctl stop (-k)"
set +e
wait "$pid"
rc=$?
set -e
assert_eq "$rc" 5 "exit status of the aborted run kept with -k"

log "agent-$matcher.log: $(grep 'aborts the test' "$run/agent-$matcher.log" | cut -c1-80)"
log "controller.log: $(grep -E 'test aborted by|agent [01] finished|exit status' "$run/controller.log" | cut -c1-100 | tr '\n' '|')"
log "ok"
