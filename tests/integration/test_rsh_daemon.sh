#!/usr/bin/env bash
# rsh_daemon.sh in a network namespace ("host 1", 198.18.0.2), allowed peer = the root namespace
# (198.18.0.1): ping/pong, a real loadagent start, refusal of anything that is not the agent
# with valid arguments, refusal of a peer not in -a (host 2), status/stop.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_require
need_bins loadagent ncat ss

RSH_CLIENT=$LOADCTL_SRC/scripts/rsh_client.sh
export LOADCTL_RSH_PORT=19999
netns_create 2
HOST=${NETNS_IP[1]}
DLOG=$TEST_TMP/rsh/rsh_daemon.log

on_exit "rsh_daemon kill >/dev/null"
rsh_daemon start >&2 || fail "the daemon did not start"
rsh_daemon status >/dev/null || fail "status does not report the running daemon"
rsh_daemon start | grep -q 'already running' || fail "a second start should say it is already running"

log "ping"
assert_eq "$("$RSH_CLIENT" "$HOST" ping)" pong "ping from the allowed controller address"

# refused LINE REASON_PATTERN: sends LINE raw and expects a "refused:" answer matching the pattern.
refused() {
  local answer
  answer=$(printf '%s\n' "$1" | ncat --no-shutdown -w 3 "$HOST" "$LOADCTL_RSH_PORT" 2>&1 || true)
  [[ $answer == "refused: "* ]] || fail "'$1' was not refused (answer: '$answer')"
  [[ $answer =~ $2 ]] || fail "'$1' refused for the wrong reason: '$answer'"
}
TOKEN=0123456789abcdef0123456789abcdef
AGENT_OK="$LOADAGENT --controller $NETNS_ROOT_IP:9 --token-stdin --id 1"
log "refusals"
refused "ls" "not a loadagent command"
refused "ls -la /" "not a loadagent command"
refused "loadagent --token 'x;rm -rf /'" "characters outside"
refused "loadagent --controller 1.2.3.4:5 --token \$(touch $TEST_TMP/pwned) --id 1" "characters outside"
refused "loadagent --controller 1.2.3.4:5 --token \`touch $TEST_TMP/pwned\` --id 1" "characters outside"
refused "/bin/sh --controller $NETNS_ROOT_IP:9 --token $TOKEN --id 1" "not a loadagent command"
refused "/tmp/evil/loadagent --controller $NETNS_ROOT_IP:9 --token $TOKEN --id 1" "only .*/loadagent may run"
refused "$AGENT_OK --exec /bin/sh" "invalid option"
refused "$AGENT_OK --allow-local" "has no value|invalid option"  # the trust rule: never through the daemon (docs/security.md)
refused "$AGENT_OK --allow-shell 1" "invalid option"
refused "$AGENT_OK --id 2" "given twice"
refused "$LOADAGENT --controller $NETNS_ROOT_IP:9 --token $TOKEN --id 1" "--token on a command line is refused"
refused "$AGENT_OK"$'\n'"NOTHEX" "the token line is not 32-128 hex digits"
refused "$AGENT_OK"$'\n'"0123456789abcdef" "the token line is not 32-128 hex digits"
refused "$LOADAGENT --controller $NETNS_ROOT_IP:99999 --token-stdin --id 1" "invalid option or value: --controller"
refused "$LOADAGENT --controller $NETNS_ROOT_IP:9 --token-stdin" "missing option --id"
refused "$LOADAGENT --controller $NETNS_ROOT_IP:9 --id 1" "missing option --token-stdin"
refused "$AGENT_OK --threads" "has no value"
refused "" "empty command line|no command line"
[ ! -e "$TEST_TMP/pwned" ] || fail "a command substitution was executed"
grep -q "refused: not a loadagent command: ls" "$DLOG" || fail "refusals are not logged in $DLOG"

log "rsh_client reports a refusal, naming the host"
err=$("$RSH_CLIENT" "$HOST" ls 2>&1 >/dev/null) && fail "rsh_client.sh ls should fail"
[[ $err == *"$HOST"*"refused: not a loadagent command"* ]] || fail "unclear refusal message: $err"

log "a valid agent command runs the agent (which cannot reach a controller on port 9)"
out=$(printf '%s\n' "$TOKEN" | timeout 20 "$RSH_CLIENT" "$HOST" $AGENT_OK 2>&1) && fail "the agent should fail: nothing listens on port 9"
[[ $out == *"rsh_daemon: running $LOADAGENT"* ]] || fail "the agent was not started: $out"
[[ $out == *"cannot reach the controller"* ]] || fail "the agent's output was not relayed: $out"
grep -q "starting $LOADAGENT --controller" "$DLOG" || fail "the agent start is not logged"
! grep -q "$TOKEN" "$DLOG" || fail "the token reached the daemon log"

log "a peer outside -a (host 2) is refused by ncat, and logged"
err=$(netns_exec 2 "$RSH_CLIENT" "$HOST" ping 2>&1) && fail "host 2 is not allowed but got: $err"
[[ $err == *"$HOST"* ]] || fail "the client's error does not name the host: $err"
wait_until 3 grep -q "peer=${NETNS_IP[2]}.* refused: not in the allowed addresses" "$DLOG" ||
  fail "the refused peer is not logged: $(tail -n 5 "$DLOG")"

log "unreachable daemon"
err=$(LOADCTL_RSH_PORT=19998 "$RSH_CLIENT" "$HOST" ping 2>&1) && fail "ping on a closed port succeeded"
[[ $err == *"$HOST:19998 unreachable"* ]] || fail "unclear unreachable message: $err"

log "stop"
rsh_daemon stop >&2
st=0
rsh_daemon status >/dev/null || st=$?
assert_eq "$st" 3 "status after stop"
"$RSH_CLIENT" "$HOST" ping >/dev/null 2>&1 && fail "ping answered after stop"
grep -q "daemon stopped" "$DLOG" || fail "the stop is not logged"
echo "PASS: $TEST_NAME"
