#!/usr/bin/env bash
# Capacity preflight, ephemeral ports (docs/capacity.md), inside a network namespace whose own
# net.ipv4.ip_local_port_range is 40000-40049 (50 ports; per namespace: the host's stays as it
# is). Controller, agent and target all run in it, on its loopback. 80 users each holding a
# connection to one destination need 80 ports from one source IP: `check --hosts` and `start`
# refuse it ("add 1 source IP(s)"), and `start --force` shows why (error_connect_eaddrnotavail); with <ip value="127.0.0.1"/><ip value="127.0.0.2"/> (40 per
# IP) the plan passes and runs, and the peak the preflight printed (80 connections) is what `ss`
# counts in the namespace while the users think.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
need_bins loadctl loadagent loadtarget ss
netns_require
netns_create 1
netns_exec 1 sysctl -q -w net.ipv4.ip_local_port_range="40000 40049" net.ipv4.tcp_tw_reuse=2
assert_eq "$(netns_exec 1 cat /proc/sys/net/ipv4/ip_local_port_range | tr -s '\t ' ' ')" "40000 40049" "namespace port range"

# loadtarget inside the namespace (start_loadtarget runs $LOADTARGET: a wrapper that enters it).
REAL_LOADTARGET=$LOADTARGET
LOADTARGET=$TEST_TMP/bin/loadtarget-ns
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "${NETNS_NAME[1]}" "$REAL_LOADTARGET" >"$LOADTARGET"
chmod +x "$LOADTARGET"
start_loadtarget --http 127.0.0.1:0
PORT=$LOADTARGET_HTTP_PORT

held_users_scenario "$TEST_TMP/one.xml" '<client host="localhost" maxusers="1000"/>' "$PORT" 80 100 5
held_users_scenario "$TEST_TMP/two.xml" \
  '<client host="localhost" maxusers="1000"><ip value="127.0.0.1"/><ip value="127.0.0.2"/></client>' "$PORT" 80 100 5

set +e
netns_exec 1 "$LOADCTL" -f "$TEST_TMP/one.xml" check --hosts >"$TEST_TMP/check1.out" 2>&1
rc=$?
set -e
cat "$TEST_TMP/check1.out" >&2
assert_eq "$rc" 2 "check --hosts exit status, one source IP"
grep -q "ports to 127.0.0.1:$PORT from the default source: needs 80 of 50 (160%): WILL RUN OUT" "$TEST_TMP/check1.out" || fail "port shortage not printed"
grep -q 'fix: add 1 source IP(s) (<ip value="...".> in <client host="localhost">, 2 in all) or 1 more host(s)' "$TEST_TMP/check1.out" ||
  fail "no source IP fix"
grep -q "net.ipv4.ip_local_port_range = 1024 65535" "$TEST_TMP/check1.out" || fail "no sysctl fix"

set +e
netns_exec 1 "$LOADCTL" -f "$TEST_TMP/one.xml" start --run-dir "$TEST_TMP/run1" >"$TEST_TMP/start1.out" 2>&1
rc=$?
set -e
assert_eq "$rc" 2 "start exit status, one source IP (refused)"
grep -q "capacity preflight: this plan cannot run" "$TEST_TMP/start1.out" || { cat "$TEST_TMP/start1.out" >&2; fail "start did not refuse"; }
grep -q "needs 80 of 50" "$TEST_TMP/start1.out" || fail "start prints another figure than check"
[ -e "$TEST_TMP/run1/tsung.log" ] && fail "users started"

# --force runs it anyway, and the shortage is real: connections fail for want of a port.
netns_exec 1 "$LOADCTL" -f "$TEST_TMP/one.xml" start --force --run-dir "$TEST_TMP/forced" >"$TEST_TMP/forced.out" 2>&1 ||
  { cat "$TEST_TMP/forced.out" >&2; fail "start --force failed"; }
grep -q "warning: capacity preflight (--force: running anyway)" "$TEST_TMP/forced.out" || fail "no --force warning"
forced_errors=$(tsung_sum error_connect_eaddrnotavail "$TEST_TMP/forced")
log "--force: error_connect_eaddrnotavail $forced_errors"
[ "$forced_errors" -gt 0 ] || fail "80 connections from one source IP through 50 ports did not fail"

netns_exec 1 "$LOADCTL" -f "$TEST_TMP/two.xml" check --hosts >"$TEST_TMP/check2.out" 2>&1 || { cat "$TEST_TMP/check2.out" >&2; fail "two source IPs still refused"; }
grep -q 'peak 80 concurrent users, 80 connections' "$TEST_TMP/check2.out" || fail "peak not printed"
grep -q "ports to 127.0.0.1:$PORT from each of 2 source IPs: needs 40 of 50 (80%): ok" "$TEST_TMP/check2.out" || fail "$(cat "$TEST_TMP/check2.out")"
printed=$(sed -n 's/.*peak [0-9]* concurrent users, \([0-9]*\) connections.*/\1/p' "$TEST_TMP/check2.out" | head -1)

# The run, and the connections ss sees from the users' side (destination port $PORT) meanwhile.
netns_exec 1 "$LOADCTL" -f "$TEST_TMP/two.xml" start --run-dir "$TEST_TMP/run2" >"$TEST_TMP/start2.out" 2>&1 &
run_pid=$!
peak=0
deadline=$((SECONDS + 30))
while kill -0 "$run_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
  n=$(netns_exec 1 ss -Htn state established "( dport = :$PORT )" | wc -l)
  [ "$n" -gt "$peak" ] && peak=$n
  sleep 0.1
done
wait "$run_pid" || { cat "$TEST_TMP/start2.out" >&2; fail "the run with two source IPs failed"; }
log "printed peak connections $printed, ss saw $peak"
assert_eq "$peak" "$printed" "peak connections (ss) against the preflight's figure"
assert_eq "$(tsung_sum error_connect_eaddrnotavail "$TEST_TMP/run2")" 0 "error_connect_eaddrnotavail"
assert_eq "$(tsung_sum users_count "$TEST_TMP/run2")" 80 "users started"
log "ok"
