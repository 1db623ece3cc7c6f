#!/usr/bin/env bash
# maxusers (Tsung's semantics): when an agent runs maxusers users at once, the controller starts
# another agent on that host for the rest of its arrivals. The run still starts exactly
# maxnumber users, every one finishes, and no agent ran more than maxusers at once.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --http 127.0.0.1:0 --access-log "$TEST_TMP/access.log"
cat > "$TEST_TMP/s.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true" maxusers="4"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="3" unit="second"><users arrivalrate="20" unit="second" maxnumber="16"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/first"/></request>
    <thinktime value="4"/>
    <request><http url="/second"/></request>
  </session></sessions>
</tsung>
XML
run_loadctl "$TEST_TMP/s.xml" "$TEST_TMP/run" --threads 1
sum() { tsung_sum "$1" "$TEST_TMP/run"; }
agents=$(ls "$TEST_TMP/run"/agent-*.log | wc -l)
log "agents=$agents users=$(sum users_count) finished=$(sum finish_users_count)"
assert_eq "$(sum users_count)" 16 "users started across all agents"
assert_eq "$(sum finish_users_count)" 16 "users finished"
[ "$agents" -ge 4 ] || fail "only $agents agents for 16 users at maxusers=4"
grep -q '"state": "lost"' "$TEST_TMP/run/run.json" && fail "an agent was lost"
# Every user's first request happened before its second one, 16 of each.
sleep 0.3
assert_eq "$(grep -c ' /first ' "$TEST_TMP/access.log")" 16 "first requests"
assert_eq "$(grep -c ' /second ' "$TEST_TMP/access.log")" 16 "second requests"
# No agent ever ran more than 4 users at once, and the first one did reach 4.
for f in "$TEST_TMP/run"/agent-*.log; do
  peak=$(sed -n 's/.*peak concurrent users: at most \([0-9]*\).*/\1/p' "$f")
  [ -n "$peak" ] || fail "$f has no peak line"
  [ "$peak" -le 4 ] || fail "$f ran $peak users at once (maxusers 4)"
done
grep -q 'at most 4)' "$TEST_TMP/run/agent-0.log" || fail "agent 0 never reached maxusers"
