#!/usr/bin/env bash
# The schedule: static users start at their times, phases replay with loop, load duration is a
# hard stop that ends users mid-session, and a run longer than the 10 s heartbeat window keeps
# its agents (the controller heartbeats them).
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --http 127.0.0.1:0 --access-log "$TEST_TMP/access.log"
cat > "$TEST_TMP/s.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load duration="13" unit="second" loop="1">
    <arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="50" unit="second" maxnumber="3"/></arrivalphase>
    <arrivalphase phase="2" duration="500" unit="millisecond"><users arrivalrate="60" unit="second" maxnumber="2"/></arrivalphase>
    <user session="static" start_time="2" unit="second"/>
    <user session="static" start_time="2500" unit="millisecond"/>
    <user session="sleeper" start_time="0" unit="second"/>
  </load>
  <sessions>
    <session name="short" probability="100" type="ts_http">
      <request><http url="/hello"/></request>
    </session>
    <session name="static" probability="0" type="ts_http">
      <request><http url="/static"/></request>
    </session>
    <session name="sleeper" probability="0" type="ts_http">
      <request><http url="/before-sleep"/></request>
      <thinktime value="11" random="false"/>
      <request><http url="/after-sleep"/></request>
      <thinktime value="30"/>
      <request><http url="/never"/></request>
    </session>
  </sessions>
</tsung>
XML
start=$SECONDS
run_loadctl "$TEST_TMP/s.xml" "$TEST_TMP/run" --dump-interval 2
elapsed=$((SECONDS - start))
sleep 0.3  # loadtarget flushes its access log every 100 ms
count() { grep -c " GET $1 " "$TEST_TMP/access.log" || true; }
log "elapsed=${elapsed}s hello=$(count /hello) static=$(count /static) sleeper=$(count /after-sleep)"
assert_eq "$(count /hello)" 10 "arrival users: (3 + 2) per round, 2 rounds (loop=1)"
assert_eq "$(count /static)" 2 "static users"
assert_eq "$(count /before-sleep)" 1 "sleeper started"
assert_eq "$(count /after-sleep)" 1 "sleeper survived an 11 s think (heartbeats kept its agent)"
assert_eq "$(count /never)" 0 "load duration stopped the sleeper"
[ "$elapsed" -ge 12 ] && [ "$elapsed" -le 20 ] || fail "run took ${elapsed}s, expected about 13 s (hard stop)"
grep -q error_agent_lost "$TEST_TMP/run/tsung.log" && fail "an agent was lost"
dumps=$(grep -c '^# stats: dump at' "$TEST_TMP/run/tsung.log")
[ "$dumps" -ge 6 ] || fail "only $dumps dumps for a 13 s run at 2 s intervals"
