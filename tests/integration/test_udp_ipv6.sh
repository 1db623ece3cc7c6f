#!/usr/bin/env bash
# UDP and IPv6 transports with the raw plugin against loadtarget's echo servers: udp (each
# request one datagram, echoed back), tcp6 and udp6 on ::1, with an IPv6 <ip> source address.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --udp-echo 127.0.0.1:0 --tcp-echo [::1]:0
udp_port=$LOADTARGET_UDP_PORT
tcp6_port=$LOADTARGET_ECHO_PORT
start_loadtarget --udp-echo [::1]:0
udp6_port=$LOADTARGET_UDP_PORT

# run NAME CLIENT SERVER: 10 users, each sends 3 acknowledged requests and one without ack.
run() {
  cat > "$TEST_TMP/$1.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients>$2</clients>
  <servers>$3</servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="30" unit="second" maxnumber="10"/></arrivalphase></load>
  <sessions><session name="$1" probability="100" type="ts_raw">
    <request><raw data="HELLO" ack="local"/></request>
    <thinktime value="0.02"/>
    <request><raw datasize="1000" ack="local"/></request>
    <request><raw data="no ack" ack="no_ack"/></request>
    <request><raw data="BYE" ack="local"/></request>
  </session></sessions>
</tsung>
XML
  "$LOADCTL" -q -f "$TEST_TMP/$1.xml" --run-dir "$TEST_TMP/$1" start > /dev/null 2> "$TEST_TMP/$1.err" \
    || { cat "$TEST_TMP/$1.err" >&2; fail "$1: loadctl exited with $?"; }
  local sum_req sent rcv
  sum_req=$(tsung_sum request "$TEST_TMP/$1")
  sent=$(tsung_sum size_sent "$TEST_TMP/$1")
  rcv=$(tsung_sum size_rcv "$TEST_TMP/$1")
  log "$1: requests=$sum_req sent=$sent rcv=$rcv"
  assert_eq "$(tsung_sum finish_users_count "$TEST_TMP/$1")" 10 "$1: users finished"
  assert_eq "$sum_req" 30 "$1: acknowledged requests"
  assert_eq "$(tsung_sum request_noack "$TEST_TMP/$1")" 10 "$1: requests without ack"
  assert_eq "$sent" $((10 * (5 + 1000 + 6 + 3))) "$1: bytes sent"
  # every acknowledged request's bytes come back; the no_ack datagram may or may not be read
  [ "$rcv" -ge $((10 * (5 + 1000 + 3))) ] || fail "$1: received $rcv bytes, expected the echoes"
  if grep -q "^stats: error_" "$TEST_TMP/$1/tsung.log"; then grep "^stats: error_" "$TEST_TMP/$1/tsung.log" >&2; fail "$1: errors"; fi
}
local_client='<client host="localhost" use_controller_vm="true"/>'
v6_client='<client host="localhost" use_controller_vm="true"><ip value="::1"/></client>'
run udp "$local_client" "<server host=\"127.0.0.1\" port=\"$udp_port\" type=\"udp\"/>"
run tcp6 "$v6_client" "<server host=\"::1\" port=\"$tcp6_port\" type=\"tcp6\"/>"
run udp6 "$v6_client" "<server host=\"::1\" port=\"$udp6_port\" type=\"udp6\"/>"
log "ok"
