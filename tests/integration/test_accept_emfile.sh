#!/usr/bin/env bash
# Accept loops survive fd exhaustion (EMFILE): a listening agent and a controller run under a low
# `ulimit -n` (prlimit), idle connections use up their fds, then go away. Both keep accepting
# (one log line per interval, not one per retry) and serve a run / an agent arriving afterwards.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget python3 prlimit
PEER="python3 $LOADCTL_SRC/tests/integration/control_peer.py"
export PYTHONPATH=$LOADCTL_SRC/tests/integration
start_loadtarget --http 127.0.0.1:0


# exhaust HOST PORT COUNT SECONDS: holds COUNT idle connections for SECONDS.
exhaust() {
  (sleep "$4" | $PEER hold "$1" "$2" "$3") >"$TEST_TMP/hold.out" 2>&1 &
  HOLDER=$!
}

log "listening agent with 32 fds: 80 idle connections for 3 s"
new_token "$TEST_TMP/token" > /dev/null
APORT=$(free_port)
AGENT_VIA="prlimit --nofile=32" start_listening_agent "127.0.0.1:$APORT" "$TEST_TMP/token" "$TEST_TMP/listen.log"
exhaust 127.0.0.1 "$APORT" 80 3
wait_until 5 grep -q "accept failed" "$TEST_TMP/listen.log" || fail "the agent never hit its fd limit: $(cat "$TEST_TMP/listen.log")"
wait "$HOLDER" || true
lines=$(grep -c "accept failed" "$TEST_TMP/listen.log")
log "agent: $lines 'accept failed' line(s) while its fds were exhausted; $(cat "$TEST_TMP/hold.out")"
((lines <= 3)) || fail "the agent logged $lines accept failures (one per interval expected)"
log "a run through the agent afterwards"
direct_run_works emfiledirect "$APORT"

log "controller with 40 fds: 80 idle connections for 3 s; its agent arrives after 5 s"
cat >"$TEST_TMP/slow_rsh.sh" <<'SH'
#!/usr/bin/env bash
shift
IFS= read -r token
sleep 5
exec "$@" < <(printf '%s\n' "$token")
SH
chmod 700 "$TEST_TMP/slow_rsh.sh"
hello_scenario "$TEST_TMP/late.xml" 2 '<client host="latehost" hostip="127.0.0.1"/>'
CPORT=$(free_port)
prlimit --nofile=40 "$LOADCTL" -q -f "$TEST_TMP/late.xml" --run-dir "$TEST_TMP/run-late" -r "$TEST_TMP/slow_rsh.sh" \
  -F 127.0.0.1 --control-port "$CPORT" --dump-interval 1 start >/dev/null 2>"$TEST_TMP/late.err" &
CTL=$!
on_exit "_stop_pid $CTL"
wait_until 10 port_open "$CPORT" || fail "the controller does not listen"
exhaust 127.0.0.1 "$CPORT" 80 3
wait "$HOLDER" || true
st=0
wait "$CTL" || st=$?
assert_eq "$st" 0 "exit status of the run whose agent arrived after fd exhaustion ($(cat "$TEST_TMP/late.err"))"
grep -q "accept failed" "$TEST_TMP/run-late/controller.log" || fail "the controller never hit its fd limit"
lines=$(grep -c "accept failed" "$TEST_TMP/run-late/controller.log")
log "controller: $lines 'accept failed' line(s)"
((lines <= 3)) || fail "the controller logged $lines accept failures"
[ "$(tsung_sum request "$TEST_TMP/run-late")" -gt 0 ] || fail "no requests in the late-agent run"
echo "PASS: $TEST_NAME"
