#!/usr/bin/env bash
# loadagent --listen (IP-direct) handshake, against a fake controller on loopback: the right
# token gets the agent's hello; a wrong token, another protocol version or junk get a reject
# (or a close) and are logged; a second controller while busy gets "busy"; after a controller
# goes away the agent serves the next one; SIGTERM ends it.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent python3

FAKE=$LOADCTL_SRC/tests/integration/fake_controller.py
TOKEN=$(new_token "$TEST_TMP/token")
PORT=$(free_port)
AGENT_LOG=$TEST_TMP/agent.log

start_listening_agent "127.0.0.1:$PORT" "$TEST_TMP/token" "$AGENT_LOG"

fake() { timeout 30 python3 "$FAKE" 127.0.0.1 "$PORT" "$@"; }

log "wrong token, other version, junk"
out=$(fake ffffffffffffffffffffffffffffffff --id 3)
[[ $out == "reject wrong token"* ]] || fail "wrong token not rejected: $out"
out=$(fake "$TOKEN" --version 99)
[[ $out == "reject protocol version 99"* ]] || fail "version mismatch not rejected: $out"
out=$(fake "$TOKEN" --raw $'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
[[ $out == closed || $out == reject* ]] || fail "junk was not refused: $out"
grep -q "refused: wrong token" "$AGENT_LOG" || fail "the wrong token is not logged"
grep -q "refused: protocol version 99" "$AGENT_LOG" || fail "the version mismatch is not logged"
kill -0 "$AGENT_PID" || fail "the agent died after refusals"

log "right token; a second controller meanwhile is told busy"
fake "$TOKEN" --id 5 --hold 3 >"$TEST_TMP/first" &
FIRST=$!
wait_until 10 grep -q '^hello' "$TEST_TMP/first" || fail "no hello from the agent: $(cat "$TEST_TMP/first")"
grep -q "^hello id=5 token=$TOKEN host=$(hostname) magic=LOADCTL" "$TEST_TMP/first" || fail "bad agent hello: $(cat "$TEST_TMP/first")"
out=$(fake "$TOKEN" --id 6)
[[ $out == "reject busy"* ]] || fail "second controller not told busy: $out"
wait "$FIRST" || fail "the first fake controller failed"

log "the agent serves the next controller after the first went away"
wait_until 15 grep -q "waiting for the next controller" "$AGENT_LOG" || fail "the agent did not go back to listening"
out=$(fake "$TOKEN" --id 7)
[[ $out == "hello id=7 "* ]] || fail "no hello for the next controller: $out"

log "SIGTERM ends the daemon"
wait_until 15 bash -c "[ \$(grep -c 'waiting for the next controller' '$AGENT_LOG') -ge 2 ]" || fail "second run did not end"
stops_on_sigterm "$AGENT_PID" "the agent"

log "a token file readable by others (644) is refused at start, for the agent and the controller"
cp "$TEST_TMP/token" "$TEST_TMP/open-token"
chmod 644 "$TEST_TMP/open-token"
st=0
"$LOADAGENT" --listen "127.0.0.1:$PORT" --token-file "$TEST_TMP/open-token" 2>"$TEST_TMP/open.err" || st=$?
assert_eq "$st" 2 "exit status with a mode-644 token file"
grep -q "accessible to group or others (mode 0644): run chmod 600" "$TEST_TMP/open.err" ||
  fail "unclear mode error: $(cat "$TEST_TMP/open.err")"
st=0
"$LOADCTL" -f "$LOADCTL_SRC/tests/integration/report_scenario.xml" -r direct --token-file "$TEST_TMP/open-token" \
  --run-dir "$TEST_TMP/run-open" start 2>"$TEST_TMP/open-ctl.err" >/dev/null || st=$?
[ "$st" -ne 0 ] || fail "loadctl accepted a mode-644 token file"
grep -q "accessible to group or others" "$TEST_TMP/open-ctl.err" || fail "loadctl: unclear mode error: $(cat "$TEST_TMP/open-ctl.err")"

log "a token file that is too short (under 128 bits) is refused at start"
printf '0123456789abcdef0123456789abcde\n' >"$TEST_TMP/short"  # 31 hex digits
chmod 600 "$TEST_TMP/short"
st=0
"$LOADAGENT" --listen "127.0.0.1:$PORT" --token-file "$TEST_TMP/short" 2>"$TEST_TMP/short.err" || st=$?
assert_eq "$st" 2 "exit status with a short token"
grep -q "32-128 hex digits (at least 128 bits), got 31" "$TEST_TMP/short.err" || fail "unclear short-token error: $(cat "$TEST_TMP/short.err")"

log "--token on the command line is refused, pointing to --token-stdin / --token-file"
st=0
"$LOADAGENT" --controller 127.0.0.1:9 --token "$TOKEN" --id 1 2>"$TEST_TMP/argv.err" || st=$?
assert_eq "$st" 2 "exit status with --token"
grep -q -- "--token is refused.*--token-stdin.*--token-file" "$TEST_TMP/argv.err" || fail "unclear --token error: $(cat "$TEST_TMP/argv.err")"
echo "PASS: $TEST_NAME"
