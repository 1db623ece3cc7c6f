#!/usr/bin/env bash
# Control channel hardening, on loopback:
#  1. launched agents get their token on stdin: no /proc/PID/cmdline of an agent (nor of the
#     remote shell in between) holds it; a second hello for a claimed slot is refused and logged
#     while the real agent's run succeeds;
#  2. 1000 unauthenticated connections announcing 64 MiB frames leave the controller's and a
#     listening agent's RSS within a few MB, and runs still work afterwards;
#  3. (test_accept_emfile.sh covers fd exhaustion.)
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget python3
PEER="python3 $LOADCTL_SRC/tests/integration/control_peer.py"
export PYTHONPATH=$LOADCTL_SRC/tests/integration
FLOOD=${FLOOD:-1000}
# Bound on RSS growth; the goal is "within a few MB of the baseline".
RSS_BOUND_KB=${RSS_BOUND_KB:-8192}
ulimit -n 4096 2>/dev/null || true  # the flooder holds $FLOOD sockets

start_loadtarget --http 127.0.0.1:0
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }


# ---- 1. token on stdin through a remote shell; one hello per slot ----
# A "remote shell" for host claimhost that records its argv and the token it got on stdin (what
# ssh or rsh_client.sh would forward), then runs the agent locally with that token on stdin.
cat >"$TEST_TMP/fake_rsh.sh" <<SH
#!/usr/bin/env bash
shift  # the host
printf '%s\n' "\$*" >>"$TEST_TMP/rsh-argv"
IFS= read -r token
printf '%s\n' "\$token" >"$TEST_TMP/stolen-token"
exec "\$@" < <(printf '%s\n' "\$token")
SH
chmod 700 "$TEST_TMP/fake_rsh.sh"
hello_scenario "$TEST_TMP/claim.xml" 8 '<client host="localhost" use_controller_vm="true"/><client host="claimhost" hostip="127.0.0.1"/>'
CPORT=$(free_port)
log "run with a local agent and one through a remote shell (control port $CPORT)"
"$LOADCTL" -q -f "$TEST_TMP/claim.xml" --run-dir "$TEST_TMP/run-claim" -r "$TEST_TMP/fake_rsh.sh" -F 127.0.0.1 \
  --control-port "$CPORT" --dump-interval 1 start >"$TEST_TMP/claim.out" 2>"$TEST_TMP/claim.err" &
CTL=$!
on_exit "_stop_pid $CTL"
wait_until 20 grep -q "agent 1 connected" "$TEST_TMP/run-claim/controller.log" 2>/dev/null ||
  fail "agent 1 did not connect: $(cat "$TEST_TMP/claim.err")"
agents=$(pgrep -P "$CTL" || true)
[ -n "$agents" ] || fail "no child of loadctl found"
for pid in $agents $(for p in $agents; do pgrep -P "$p" || true; done); do
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  [ -n "$cmdline" ] || continue
  log "child $pid: $cmdline"
  [[ $cmdline =~ [0-9a-f]{32} ]] && fail "a token-like string is on the command line of $pid: $cmdline"
  [[ $cmdline == *"--token "* ]] && fail "--token on the command line of $pid: $cmdline"
  [[ $cmdline == *loadagent* && $cmdline != *--token-stdin* ]] && fail "agent $pid without --token-stdin: $cmdline"
done
grep -q -- "--token-stdin" "$TEST_TMP/rsh-argv" || fail "the remote shell was not given --token-stdin: $(cat "$TEST_TMP/rsh-argv")"
STOLEN=$(cat "$TEST_TMP/stolen-token")
[[ $STOLEN =~ ^[0-9a-f]{32}$ ]] || fail "the remote shell got no token on stdin: '$STOLEN'"
log "a second hello for slot 1, even with its token, is refused; a guessed token for slot 0 too"
answer=$($PEER claim 127.0.0.1 "$CPORT" 1 "$STOLEN") || { ss -ltnp >&2; ss -tnp | grep "$CPORT" >&2; cat "$TEST_TMP/run-claim/controller.log" >&2; fail "claim failed"; }
[[ $answer == "reject agent 1 has already been claimed"* ]] || fail "second claimant not refused: $answer"
answer=$($PEER claim 127.0.0.1 "$CPORT" 0 "$STOLEN") || { ss -ltnp >&2; ss -tnp | grep "$CPORT" >&2; cat "$TEST_TMP/run-claim/controller.log" >&2; ps -ef | grep loadctl >&2; fail "claim 0 failed"; }
assert_eq "$answer" "reject wrong token" "slot 0 with slot 1's token"
st=0
wait "$CTL" || st=$?
assert_eq "$st" 0 "exit status of the run with a rogue claimant"
grep -q "refused: agent 1 has already been claimed" "$TEST_TMP/run-claim/controller.log" || fail "the refusal is not logged"
requests=$(tsung_sum request "$TEST_TMP/run-claim")
[ "$requests" -gt 0 ] || fail "no requests in the run"

# ---- 2. unauthenticated floods ----
# measure_flood PID NAME PORT: $FLOOD connections announcing 64 MiB (refused at once: over 4 KiB),
# then $FLOOD announcing 4096 bytes (held: the cap of 64 closes the rest); RSS sampled throughout.
measure_flood() {
  local pid=$1 name=$2 port=$3 before peak now flooder length
  before=$(rss_kb "$pid")
  peak=$before
  for length in 67108864 4096; do
    $PEER flood 127.0.0.1 "$port" "$FLOOD" 2 "$length" >"$TEST_TMP/flood-$name-$length.out" &
    flooder=$!
    while kill -0 "$flooder" 2>/dev/null; do
      now=$(rss_kb "$pid")
      ((now > peak)) && peak=$now
      sleep 0.05
    done
    wait "$flooder"
    log "$name: $FLOOD connections announcing $length bytes: $(cat "$TEST_TMP/flood-$name-$length.out")"
  done
  log "$name RSS ${before} kB before, peak ${peak} kB under the floods"
  echo "${name}_rss_before_kb=$before ${name}_rss_peak_kb=$peak" >>"$TEST_TMP/figures"
  ((peak - before < RSS_BOUND_KB)) || fail "$name RSS grew by $((peak - before)) kB under $FLOOD unauthenticated connections"
}

hello_scenario "$TEST_TMP/flood.xml" 20 '<client host="localhost" use_controller_vm="true"/>'
CPORT=$(free_port)
log "controller: $FLOOD connections announcing 64 MiB frames during a run"
"$LOADCTL" -q -f "$TEST_TMP/flood.xml" --run-dir "$TEST_TMP/run-flood" --control-port "$CPORT" --dump-interval 1 \
  start >/dev/null 2>"$TEST_TMP/flood.err" &
CTL=$!
on_exit "_stop_pid $CTL"
wait_until 20 grep -q "agent 0 connected" "$TEST_TMP/run-flood/controller.log" 2>/dev/null || fail "agent 0 did not connect"
sleep 0.5
measure_flood "$CTL" controller "$CPORT"
st=0
wait "$CTL" || st=$?
assert_eq "$st" 0 "exit status of the run under the flood"
[ "$(tsung_sum request "$TEST_TMP/run-flood")" -gt 0 ] || fail "no requests in the flooded run"
grep -q "connections without a verified hello; closed" "$TEST_TMP/run-flood/controller.log" ||
  fail "the unauthenticated-connection cap is not logged"

log "listening agent: $FLOOD connections announcing 64 MiB frames"
new_token "$TEST_TMP/token" > /dev/null
APORT=$(free_port)
start_listening_agent "127.0.0.1:$APORT" "$TEST_TMP/token" "$TEST_TMP/listen.log"
measure_flood "$AGENT_PID" agent "$APORT"
grep -q "connections without a verified hello; closed" "$TEST_TMP/listen.log" || fail "the agent's cap is not logged"
log "a run through the listening agent still works"
direct_run_works flooddirect "$APORT"
cat "$TEST_TMP/figures" >&2
echo "PASS: $TEST_NAME"
