#!/usr/bin/env bash
# Capacity preflight, open files (docs/capacity.md): under `ulimit -n 200` (soft 100), a plan
# holding 300 users at once in one agent process (maxusers 800) needs 300 + 22 descriptors (2 threads).
# `check --hosts` and `start` both refuse it, printing the fixes (ulimit -n 1024, the limits.d
# lines, maxusers 138); `start` refuses before any user starts (no tsung.log, nothing served), and
# its agent raised its soft limit to the hard one and said so. With maxusers="138" the same load
# runs in 3 agent processes without one error_connect_emfile.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget
start_loadtarget --http 127.0.0.1:0

held_users_scenario "$TEST_TMP/many.xml" '<client host="localhost"/>' "$LOADTARGET_HTTP_PORT" 300 300 3
held_users_scenario "$TEST_TMP/fixed.xml" '<client host="localhost" maxusers="138"/>' "$LOADTARGET_HTTP_PORT" 300 300 3
limited() { (ulimit -Sn 100 && ulimit -Hn 200 && "$@"); }

set +e
limited "$LOADCTL" --threads 2 -f "$TEST_TMP/many.xml" check --hosts >"$TEST_TMP/check.out" 2>&1
rc=$?
set -e
cat "$TEST_TMP/check.out" >&2
assert_eq "$rc" 2 "check --hosts exit status"
grep -q 'peak 300 concurrent users, 300 connections, 1 agent process' "$TEST_TMP/check.out" || fail "peak users not printed"
grep -q 'open files per agent process: needs 322 of 200 (161%): WILL RUN OUT' "$TEST_TMP/check.out" || fail "the fd shortage is not printed"
grep -q 'fix: ulimit -n 1024 ' "$TEST_TMP/check.out" || fail "no ulimit fix"
grep -q "'\* soft nofile 1024' and '\* hard nofile 1024'" "$TEST_TMP/check.out" || fail "no limits.d fix"
grep -q 'maxusers 138 on <client host="localhost"> so that more agent processes start (3 instead of 1)' "$TEST_TMP/check.out" ||
  fail "no maxusers fix"

set +e
limited "$LOADCTL" --threads 2 -f "$TEST_TMP/many.xml" start --run-dir "$TEST_TMP/run1" >"$TEST_TMP/start.out" 2>&1
rc=$?
set -e
assert_eq "$rc" 2 "start exit status (refused)"
grep -q 'capacity preflight: this plan cannot run' "$TEST_TMP/start.out" || { cat "$TEST_TMP/start.out" >&2; fail "start did not refuse"; }
grep -q 'needs 322 of 200' "$TEST_TMP/start.out" || fail "start does not print the same figure as check"
grep -q 'fix: ulimit -n 1024 ' "$TEST_TMP/start.out" || fail "start does not print the fix"
[ -e "$TEST_TMP/run1/tsung.log" ] && fail "users started: tsung.log was written"
grep -q 'open files limit raised from 100 to 200 (the hard limit)' "$TEST_TMP/run1/agent-0.log" || fail "the agent did not raise its soft limit"

# maxusers 138: the preflight passes (80% of 200: at the edge, not above). 3 processes carry it:
# the first holds 138 (69 per worker of 2), then each of its 2 workers hands its arrivals over to
# an agent of its own (81 users each), as the preflight's "3 agent process(es)" says.
limited "$LOADCTL" --threads 2 -f "$TEST_TMP/fixed.xml" check --hosts >"$TEST_TMP/check2.out" 2>&1 || { cat "$TEST_TMP/check2.out" >&2; fail "check refused the fixed plan"; }
grep -q 'needs 160 of 200 (80%): ok' "$TEST_TMP/check2.out" || fail "$(cat "$TEST_TMP/check2.out")"
grep -q '3 agent process(es)' "$TEST_TMP/check2.out" || fail "$(cat "$TEST_TMP/check2.out")"
limited "$LOADCTL" --threads 2 -f "$TEST_TMP/fixed.xml" start --run-dir "$TEST_TMP/run2" >"$TEST_TMP/start2.out" 2>&1 ||
  { cat "$TEST_TMP/start2.out" >&2; fail "the fixed plan did not run"; }
# (arrivals a stalled machine skipped are counted, not started: error_arrivals_missed)
assert_eq "$(($(tsung_sum users_count "$TEST_TMP/run2") + $(tsung_sum error_arrivals_missed "$TEST_TMP/run2")))" 300 "users started"
assert_eq "$(tsung_sum error_connect_emfile "$TEST_TMP/run2")" 0 "error_connect_emfile"
assert_eq "$(ls "$TEST_TMP/run2"/agent-*.log | wc -l)" 3 "agent processes with maxusers 138 (the preflight's count)"
log "ok"
