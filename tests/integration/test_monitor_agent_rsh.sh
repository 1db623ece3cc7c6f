#!/usr/bin/env bash
# A monitor-only agent started through -r scripts/rsh_client.sh on a network-namespace host that
# runs no client (rsh_daemon.sh there, allowing only the root namespace). The client is the local
# "localhost". Asserted: {cpu,"H"}, {freemem,"H"} and {load,"H"} in every dump but the first two
# with plausible values; {recvpackets,"H"} counts the namespace's own eth0 traffic (the agent's
# control channel crosses it, so it is > 0); the rsh daemon started the agent; exit status 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_require
need_bins loadctl loadagent loadtarget ncat ss

netns_create 1
HOST=${NETNS_IP[1]}
netns_start_rsh_daemon

start_loadtarget --http 127.0.0.1:0
hello_scenario "$TEST_TMP/s.xml" 8 '<client host="localhost" use_controller_vm="true"/>' \
  "<monitoring><monitor host=\"$HOST\" type=\"erlang\"/></monitoring>"
"$LOADCTL" -f "$TEST_TMP/s.xml" -r "$LOADCTL_SRC/scripts/rsh_client.sh" check | grep -q "monitor agent 1 on $HOST (via " \
  || fail "check does not list the monitor agent"
R=$TEST_TMP/run
"$LOADCTL" -q -f "$TEST_TMP/s.xml" --run-dir "$R" -r "$LOADCTL_SRC/scripts/rsh_client.sh" -F "$NETNS_ROOT_IP" \
  --dump-interval 2 start > /dev/null 2> "$TEST_TMP/err" \
  || { cat "$TEST_TMP/err" "$R/controller.log" "$R/agent-1.log" >&2; fail "the run failed"; }
grep -q "rsh_daemon: running $LOADAGENT" "$R/agent-1.log" || fail "agent-1.log lacks the rsh daemon's line"
grep -q 'monitor-only' "$R/agent-1.log" || fail "agent-1.log does not say monitor-only"

samples() { tsung_samples "{$1,\"$HOST\"}" "$R/tsung.log"; }
dumps=$(grep -c '^# stats: dump at' "$R/tsung.log")
for m in cpu freemem load; do
  n=$(samples "$m" | wc -l)
  [ "$n" -ge $((dumps - 2)) ] && [ "$n" -ge 3 ] || fail "{$m,\"$HOST\"} in only $n of $dumps dumps"
done
samples cpu | awk '{ if ($4 < 0 || $4 > 100) exit 1 }' || fail "cpu outside 0..100"
mem_total=$(awk '$1 == "MemTotal:" { print int($2 / 1024) }' /proc/meminfo)
samples freemem | awk -v t="$mem_total" '{ if ($4 <= 0 || $4 > t) exit 1 }' || fail "freemem outside 0..$mem_total MB"
recv=$(samples recvpackets | awk '{ s += $3 * $4 } END { printf "%.0f", s }')
log "$dumps dumps; packets received on $HOST's eth0: $recv"
[ "$recv" -gt 0 ] || fail "no packets counted on $HOST's eth0, which carries the agent's control channel"
log "ok"
