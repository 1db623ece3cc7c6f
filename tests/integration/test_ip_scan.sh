#!/usr/bin/env bash
# Tsung's <ip scan="true" value="IF"/>: the agent uses every IPv4 address of interface IF on its own
# host (labelled aliases included), round-robin. Host 1 (a network namespace reached with
# rsh_daemon.sh) has three addresses on eth0, one of them labelled eth0:7; the controller's host
# has none of them, so only the agent can have found them. nginx, on the root namespace's bridge
# address, logs the source of every request: all three, and nothing else, from host 1. An
# interface without an address on the agent's host fails the run (the agent does not start), with
# the interface named.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_require
need_bins loadctl loadagent nginx ncat

netns_create 1
HOST_IP=${NETNS_IP[1]}
ALIASES=("$NETNS_NET.131" "$NETNS_NET.141")
netns_add_ip 1 "${ALIASES[0]}"
ip -n "${NETNS_NAME[1]}" addr add "${ALIASES[1]}/24" dev eth0 label eth0:7
PORT=18080
NGINX_ADDR=$NETNS_ROOT_IP start_nginx "$PORT"
netns_start_rsh_daemon

# scenario FILE INTERFACE: 30 users of 4 requests each, all from host 1.
scenario() {
  cat >"$1" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="scanhost" hostip="$HOST_IP" maxusers="10000"><ip scan="true" value="$2"/></client></clients>
  <servers><server host="$NETNS_ROOT_IP" port="$PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="30" arrivalrate="60" unit="second"/></arrivalphase></load>
  <sessions><session name="four" probability="100" type="ts_http">
    <for from="1" to="4" incr="1" var="i"><request><http url="/" method="GET" version="1.0"/></request></for>
  </session></sessions>
</tsung>
XML
}

scenario "$TEST_TMP/scan.xml" eth0
"$LOADCTL" -f "$TEST_TMP/scan.xml" check >"$TEST_TMP/check.out" 2>&1 || { cat "$TEST_TMP/check.out" >&2; fail "check refused <ip scan>"; }
first=$(($(count_lines "$NGINX_ACCESS_LOG") + 1))
timeout 60 "$LOADCTL" -q -f "$TEST_TMP/scan.xml" --run-dir "$TEST_TMP/run" -r "$LOADCTL_SRC/scripts/rsh_client.sh" \
  -F "$NETNS_ROOT_IP" start >/dev/null 2>"$TEST_TMP/run.err" ||
  { cat "$TEST_TMP/run.err" "$TEST_TMP/run/controller.log" >&2; fail "the <ip scan> run failed"; }
tail -n +"$first" "$NGINX_ACCESS_LOG" >"$TEST_TMP/slice.log"
assert_eq "$(count_lines "$TEST_TMP/slice.log")" 120 "requests nginx logged (30 users x 4)"
assert_eq "$(tsung_sum request "$TEST_TMP/run")" 120 "requests in tsung.log"
# HTTP/1.0: a connection per request, so the round-robin goes over every address many times.
sources=$(awk '{ print $1 }' "$TEST_TMP/slice.log" | sort -u | tr '\n' ' ')
expected=$(printf '%s\n' "$HOST_IP" "${ALIASES[@]}" | sort -u | tr '\n' ' ')
log "sources seen: $sources"
assert_eq "$sources" "$expected" "source addresses of host 1's eth0 (eth0:7 included), and only them"
for ip in "$HOST_IP" "${ALIASES[@]}"; do
  n=$(awk -v a="$ip" '$1 == a' "$TEST_TMP/slice.log" | wc -l)
  [ "$n" -ge 30 ] || fail "$ip: $n requests of 120 (round-robin over 3 addresses gives 40)"
done

log "an interface without an address on the agent's host: the run fails and says which"
scenario "$TEST_TMP/none.xml" lcnone0
before=$(count_lines "$NGINX_ACCESS_LOG")
st=0
timeout 60 "$LOADCTL" -q -f "$TEST_TMP/none.xml" --run-dir "$TEST_TMP/none" -r "$LOADCTL_SRC/scripts/rsh_client.sh" \
  -F "$NETNS_ROOT_IP" start >/dev/null 2>"$TEST_TMP/none.err" || st=$?
[ "$st" -ne 0 ] || fail "a run whose agent could not start exited 0"
grep -rq "no IPv4 address on interface 'lcnone0'" "$TEST_TMP/none.err" "$TEST_TMP/none" ||
  { cat "$TEST_TMP/none.err" >&2; fail "the missing interface is not named"; }
assert_eq "$(count_lines "$NGINX_ACCESS_LOG")" "$before" "requests sent by a run whose agent did not start"
echo "PASS: $TEST_NAME"
