#!/usr/bin/env bash
# Raw TCP against loadtarget's echo port: ack="local" requests are timed, ack="no_ack" ones are
# counted as request_noack, and the bytes sent add up to what the scenario says.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --tcp-echo 127.0.0.1:0
cat > "$TEST_TMP/raw.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_ECHO_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="2" unit="second"><users arrivalrate="50" unit="second" maxnumber="15"/></arrivalphase></load>
  <sessions><session name="raw" probability="100" type="ts_raw">
    <request><raw data="HELLO" ack="local"/></request>
    <thinktime value="0.05"/>
    <request><raw datasize="100" ack="local"/></request>
    <thinktime value="0.05"/>
    <request><raw data="fire and forget" ack="no_ack"/></request>
    <thinktime value="0.1"/>
    <transaction name="bye"><request><raw data="BYE" ack="local"/></request></transaction>
  </session></sessions>
</tsung>
XML
run_loadctl "$TEST_TMP/raw.xml" "$TEST_TMP/run"
sum() { tsung_sum "$1" "$TEST_TMP/run"; }
users=$(sum users_count)
log "users=$users requests=$(sum request) noack=$(sum request_noack) sent=$(sum size_sent)"
assert_eq "$users" 15 "users started (maxnumber)"
assert_eq "$(sum finish_users_count)" 15 "users finished"
assert_eq "$(sum request)" $((users * 3)) "timed requests (ack=local)"
assert_eq "$(sum request_noack)" "$users" "fire-and-forget requests"
assert_eq "$(sum size_sent)" $((users * (5 + 100 + 15 + 3))) "bytes sent"
assert_eq "$(sum tr_bye)" "$users" "transaction samples"
[ "$(sum size_rcv)" -gt 0 ] || fail "nothing received from the echo server"
