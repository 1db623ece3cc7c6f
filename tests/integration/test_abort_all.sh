#!/usr/bin/env bash
# <abort type="all"/> stops every user of the agent, on every thread: users thinking 3 s never
# send their second request, and later arrivals never start. The test being aborted counts one
# error_abort, as Tsung does (ts_config_server:stop -> ts_mon:abort).
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --threads 1 --access-log "$access_log"
cat > "$TEST_TMP/scenario.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="3" unit="second"><users arrivalrate="10" unit="second"/></arrivalphase></load>
  <sessions>
    <session name="s" probability="100" type="ts_http">
      <request><http url="/hello?first" method="GET"/></request>
      <setdynvars sourcetype="value" value="x"><var name="v"/></setdynvars>
      <if var="tsung_userid" eq="4"><abort type="all"/></if>
      <thinktime value="3"/>
      <request><http url="/hello?late" method="GET"/></request>
    </session>
  </sessions>
</tsung>
XML
start=$SECONDS
run_loadctl "$TEST_TMP/scenario.xml" "$TEST_TMP/run" --threads 2
elapsed=$((SECONDS - start))
sleep 0.3
first=$(grep -c ' /hello?first ' "$access_log" || true)
log "first requests: $first, elapsed ${elapsed}s"
[ "$first" -ge 2 ] || fail "user 4 (thread 2's second user) should come after others: $first first requests"
assert_eq "$(grep -c ' /hello?late ' "$access_log" || true)" 0 "requests after <abort type=all>"
[ "$elapsed" -lt 6 ] || fail "the run went on for ${elapsed}s after the abort"
grep -q 'aborts the test' "$TEST_TMP/run/agent-0.log" || fail "abort not logged"
assert_eq "$(tsung_sum error_abort "$TEST_TMP/run")" 1 "error_abort after <abort type=all>"
log "ok"
