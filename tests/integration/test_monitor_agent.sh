#!/usr/bin/env bash
# <monitor type="erlang"> on hosts that run no load agent: the controller launches a monitor-only
# agent there (Tsung starts an Erlang node). The client is "localhost"; the monitored hosts are
# 127.0.0.2 (local: fork/exec, as a local client's agent), 127.0.0.3 (--direct: a `loadagent
# --listen` started by this test), 127.0.0.4 (--direct, nothing listens) and monitor-down.invalid
# (remote: started through -r, here a remote shell that cannot reach its host and exits 255, as
# ssh does). Asserted: `check` lists the monitor agents; the run exits 0; tsung.log has
# {cpu,"127.0.0.2"}, {freemem,...} and {load,...} samples every dump with values checked against
# this machine's /proc, and {cpu,"127.0.0.3"} from the listening agent; each monitor that could not
# start is one warning in controller.log and on the console, gives no samples and no
# error_agent_lost; so is the listening agent, killed mid-run; the load agent still samples its own host.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

new_token "$TEST_TMP/token" > /dev/null
PORT=$(free_port)
start_listening_agent "127.0.0.3:$PORT" "$TEST_TMP/token" "$TEST_TMP/listening.log"

start_loadtarget --http 127.0.0.1:0
MONITORS='<monitoring>'
for h in 127.0.0.2 localhost monitor-down.invalid 127.0.0.3 127.0.0.4; do MONITORS+="<monitor host=\"$h\" type=\"erlang\"/>"; done
MONITORS+='</monitoring>'
hello_scenario "$TEST_TMP/s.xml" 8 '<client host="localhost" use_controller_vm="true"/>' "$MONITORS"

# A remote shell that cannot reach its host, as `ssh unreachable-host ...` fails.
cat > "$TEST_TMP/noshell" <<'SH'
#!/bin/sh
echo "noshell: connect to host $1 port 22: Connection refused" >&2
exit 255
SH
chmod +x "$TEST_TMP/noshell"

LOADCTL_OPTS=(-r "$TEST_TMP/noshell" --direct 127.0.0.3 --direct 127.0.0.4 --agent-port "$PORT" --token-file "$TEST_TMP/token")
plan=$("$LOADCTL" "${LOADCTL_OPTS[@]}" -f "$TEST_TMP/s.xml" check) || fail "check refused the scenario"
log "check: $plan"
grep -q 'monitor agent 1 on 127.0.0.2 (local)' <<< "$plan" || fail "check does not list the monitor agent of 127.0.0.2"
grep -q "monitor agent 2 on monitor-down.invalid (via $TEST_TMP/noshell)" <<< "$plan" || fail "check does not list monitor-down.invalid"
grep -q 'monitor agent 4 on 127.0.0.4 (listening agent, dialed)' <<< "$plan" || fail "check does not list 127.0.0.4"
! grep -q 'monitor agent .* on localhost' <<< "$plan" || fail "localhost runs a client: it needs no monitor agent"

R=$TEST_TMP/run
"$LOADCTL" "${LOADCTL_OPTS[@]}" -f "$TEST_TMP/s.xml" --run-dir "$R" --dump-interval 2 start > /dev/null 2> "$TEST_TMP/err" &
RUN_PID=$!
on_exit "_stop_pid $RUN_PID"
# The listening agent dies mid-run, once it has given two samples: a warning, the run goes on.
wait_until 20 awk '$2 == "{cpu,\"127.0.0.3\"}" { n++ } END { exit !(n >= 2) }' "$R/tsung.log" 2>/dev/null \
  || fail "no {cpu,\"127.0.0.3\"} samples from the listening agent"
kill -KILL "$AGENT_PID"
st=0
wait "$RUN_PID" || st=$?
[ "$st" = 0 ] || { cat "$TEST_TMP/err" >&2; fail "loadctl exited with $st"; }

# stats: {name,"host"} count mean stddev max min ...
samples() { tsung_samples "{$1,\"$2\"}" "$R/tsung.log"; }
dumps=$(grep -c '^# stats: dump at' "$R/tsung.log")
cpu=$(samples cpu 127.0.0.2 | wc -l)
log "$dumps dumps; {cpu,\"127.0.0.2\"} in $cpu of them"
[ "$cpu" -ge $((dumps - 2)) ] && [ "$cpu" -ge 3 ] || fail "{cpu,\"127.0.0.2\"} in only $cpu of $dumps dumps"
samples cpu 127.0.0.2 | awk '{ if ($4 < 0 || $4 > 100 || $6 > 100) exit 1 }' || fail "cpu outside 0..100: $(samples cpu 127.0.0.2)"
mem_total=$(awk '$1 == "MemTotal:" { print int($2 / 1024) }' /proc/meminfo)
freemem=$(samples freemem 127.0.0.2 | awk 'NR == 1 { print $4 }')
[ -n "$freemem" ] || fail "no {freemem,\"127.0.0.2\"} sample"
awk -v f="$freemem" -v t="$mem_total" 'BEGIN { exit !(f > 0 && f <= t) }' || fail "freemem $freemem MB, MemTotal $mem_total MB"
cores=$(nproc)
load=$(samples load 127.0.0.2 | awk 'NR == 1 { print $4 }')
[ -n "$load" ] || fail "no {load,\"127.0.0.2\"} sample"
awk -v l="$load" -v c="$cores" 'BEGIN { exit !(l >= 0 && l < 50 * c) }' || fail "load $load on $cores cores"
[ "$(samples freemem 127.0.0.2 | wc -l)" -ge 3 ] || fail "too few freemem samples"
[ "$(samples load 127.0.0.2 | wc -l)" -ge 3 ] || fail "too few load samples"
grep -q '{recvpackets,"127.0.0.2"}' "$R/tsung.log" || fail "no {recvpackets,\"127.0.0.2\"}"
grep -q '{recvbytes,"127.0.0.2"}' "$R/tsung.log" || fail "no {recvbytes,\"127.0.0.2\"}"
samples iowait 127.0.0.2 | awk '{ if ($4 < 0 || $4 > 100) exit 1 } END { exit !(NR >= 3) }' \
  || fail "{iowait,\"127.0.0.2\"}: too few samples or outside 0..100: $(samples iowait 127.0.0.2)"
# Disks: only with a whole disk listed in /sys/block (a `device` link), as the agent counts them.
if ls -d /sys/block/*/device > /dev/null 2>&1; then
  samples diskbusy 127.0.0.2 | awk '{ if ($4 < 0 || $4 > 100) exit 1 } END { exit !(NR >= 3) }' \
    || fail "{diskbusy,\"127.0.0.2\"}: too few samples or outside 0..100: $(samples diskbusy 127.0.0.2)"
  [ "$(samples diskwrite 127.0.0.2 | wc -l)" -ge 3 ] || fail "too few {diskwrite,\"127.0.0.2\"} samples"
fi
# The load agent (agent 0) samples its own process CPU; monitor-only agents run no load, no agentcpu.
agentcpu=$(samples agentcpu "agent0@$(hostname)" | wc -l)
[ "$agentcpu" -ge 3 ] || fail "{agentcpu,\"agent0@$(hostname)\"} in only $agentcpu dumps"
samples agentcpu "agent0@$(hostname)" | awk '{ if ($4 < 0) exit 1 }' || fail "negative agentcpu"
grep -q '{agentcpu,"agent[1-9]' "$R/tsung.log" && fail "a monitor-only agent wrote agentcpu"

# The listening agent on 127.0.0.3, dialed by the controller, killed mid-run.
grep -q 'monitor-only' "$R/agent-3.log" || fail "the listening agent's log (shipped to agent-3.log) does not say monitor-only"
warned=$(grep -c 'monitor agent 3 for host 127.0.0.3 lost (running)' "$R/controller.log" || true)
assert_eq "$warned" 1 "warnings in controller.log for the monitor agent killed mid-run"
grep -q 'warning: monitor agent 3 for host 127.0.0.3 lost' "$TEST_TMP/err" || fail "no console warning for 127.0.0.3"

# The load agent samples its own host, under its hostname, as before.
grep -q "{cpu,\"$(hostname)\"}" "$R/tsung.log" || fail "the load agent's own {cpu,\"$(hostname)\"} is missing"
[ "$(tsung_sum request "$R")" -ge 20 ] || fail "the load did not run: $(tsung_sum request "$R") requests"

# The monitor that could not start: one warning, no samples, not an agent loss.
grep -q '{cpu,"monitor-down.invalid"}' "$R/tsung.log" && fail "samples for a host whose agent never started"
warned=$(grep -c 'monitor agent 2 for host monitor-down.invalid lost' "$R/controller.log" || true)
assert_eq "$warned" 1 "warnings in controller.log for the monitor that could not start"
grep -q 'warning: monitor agent 2 for host monitor-down.invalid lost.*the load goes on' "$TEST_TMP/err" \
  || { cat "$TEST_TMP/err" >&2; fail "no warning on the console"; }
grep -q 'Connection refused' "$R/agent-2.log" || fail "the remote shell's message is not in agent-2.log"
grep -q '{cpu,"127.0.0.4"}' "$R/tsung.log" && fail "samples for 127.0.0.4 where no agent listens"
warned=$(grep -c 'monitor agent 4 for host 127.0.0.4 lost.*cannot reach the agent' "$R/controller.log" || true)
assert_eq "$warned" 1 "warnings in controller.log for 127.0.0.4"
grep -q 'error_agent_lost' "$R/tsung.log" && fail "a monitor agent counted as a lost load agent"
grep -q '"host": "127.0.0.2".*"state": "done".*"monitor": true' "$R/run.json" || fail "run.json does not mark the monitor agent"
grep -q '"host": "localhost".*"monitor"' "$R/run.json" && fail "run.json marks the load agent as a monitor"
grep -q 'monitor-only' "$R/agent-1.log" || fail "agent-1.log does not say it is a monitor-only agent"
log "ok: monitor agent samples, one warning for the host that could not be reached"
