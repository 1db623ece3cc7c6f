#!/usr/bin/env bash
# ts_mqtt against a private mosquitto (own config, port and log on 127.0.0.1):
#  1. Tsung's own example /usr/share/doc/tsung/examples/mqtt.xml, changed only in the client host
#     (ubuntu -> localhost), the server port (5672 -> mosquitto's) and durations (the arrival
#     phase lasts 9 s instead of 3 s, so that its one publisher arrives, the arrivals being
#     Poisson, before the subscriber starts at 10 s; the subscriber waits 3 s instead of 60 s):
#     the publisher sends 10 retained QoS 1 messages, the subscriber then gets the retained one.
#  2. N publishers x M subscribers on one topic, QoS 0 then QoS 1: the subscribers receive
#     exactly N x msgs x M messages (nothing lost, nothing counted twice), and a mosquitto_sub
#     on the same topic sees the N x msgs messages the publishers sent.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent /usr/sbin/mosquitto mosquitto_sub

mlog=$TEST_TMP/mosquitto.log
# free_port is racy (another process may take the port first): up to 3 ports.
for attempt in 1 2 3; do
  port=$(free_port)
  cat > "$TEST_TMP/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
user $(id -un)
log_dest file $mlog
log_type all
connection_messages true
CONF
  /usr/sbin/mosquitto -c "$TEST_TMP/mosquitto.conf" >"$TEST_TMP/mosquitto.out" 2>&1 &
  mpid=$!
  on_exit "_stop_pid $mpid"
  listening_or_gone() { port_open "$port" || ! kill -0 "$mpid" 2>/dev/null; }
  wait_until 10 listening_or_gone || true
  kill -0 "$mpid" 2>/dev/null && port_open "$port" && break
  [ "$attempt" = 3 ] && { cat "$TEST_TMP/mosquitto.out" "$mlog" >&2; fail "mosquitto did not listen on $port"; }
  _stop_pid "$mpid"
done

run() {  # run NAME SCENARIO
  "$LOADCTL" -q -f "$2" --run-dir "$TEST_TMP/$1" start >/dev/null 2>"$TEST_TMP/$1.err" ||
    { cat "$TEST_TMP/$1.err" >&2; fail "$1: loadctl exited with $?"; }
}
sum() { tsung_sum "$1" "$TEST_TMP/$2"; }
errors() { awk '$1 == "stats:" && $2 ~ /^error_/ { print $2, $3 }' "$TEST_TMP/$1/tsung.log" | sort | uniq; }

# --- 1. Tsung's example -------------------------------------------------------------------------
sed -e 's/host="ubuntu"/host="localhost"/' -e "s/port=\"5672\"/port=\"$port\"/" \
    -e 's/duration="3"/duration="9"/' -e 's/timeout="60"/timeout="3"/' \
    /usr/share/doc/tsung/examples/mqtt.xml > "$TEST_TMP/example.xml"
[ "$(diff /usr/share/doc/tsung/examples/mqtt.xml "$TEST_TMP/example.xml" | grep -c '^>')" = 4 ] ||
  fail "the example did not change in exactly 4 lines (host, port, phase duration, timeout)"
connects_before=$(grep -c 'New client connected' "$mlog" || true)
run example "$TEST_TMP/example.xml"
log "example: $(for m in users_count mqtt_connected mqtt_published mqtt_server_pubacked mqtt_server_published mqtt_disconnected request request_noack; do printf '%s=%s ' $m "$(sum $m example)"; done)"
[ -z "$(errors example)" ] || fail "example: errors: $(errors example)"
assert_eq "$(sum users_count example)" 2 "example: users (1 publisher, 1 subscriber)"
assert_eq "$(sum finish_users_count example)" 2 "example: users finished"
assert_eq "$(sum mqtt_connected example)" 2 "example: CONNACKs"
assert_eq "$(sum mqtt_published example)" 10 "example: messages published"
assert_eq "$(sum mqtt_server_pubacked example)" 10 "example: PUBACKs for the QoS 1 messages"
assert_eq "$(sum mqtt_server_published example)" 1 "example: the retained message the subscriber got"
assert_eq "$(sum mqtt_disconnected example)" 2 "example: disconnects"
# Timed as in Tsung: connect + 10 QoS 1 publishes; connect, subscribe, unsubscribe (the wait is a
# thinktime in Tsung: not a request); the 2 disconnects are not acknowledged.
assert_eq "$(sum request example)" 14 "example: timed requests"
assert_eq "$(sum request_noack example)" 2 "example: unacknowledged requests"
# Pages as Tsung's ts_config_mqtt makes them (endpage = true, then mark_prev_req): the publisher's
# connect (a <for> follows), each of its 10 publishes (a loop end follows) and its disconnect: 12;
# the subscriber's connect, subscribe, waitForMessages (a thinktime that still marks the request
# before it), unsubscribe and disconnect: 1 page.
assert_eq "$(sum page example)" 13 "example: pages"
wait_until 5 bash -c "[ \$(grep -c 'New client connected' '$mlog') -ge $((connects_before + 2)) ]" ||
  fail "mosquitto did not log the example's 2 connections"
# DISCONNECT reaches the broker before the socket closes: no "closed its connection" (an abrupt end).
grep -q 'Client tsung-.* closed its connection' "$mlog" && fail "a client closed its connection without DISCONNECT"

# --- 2. N publishers x M subscribers --------------------------------------------------------------
N=4 M=3 MSGS=25
for qos in 0 1; do
  topic=loadctl/qos$qos
  users=""
  for _ in $(seq $M); do users+="<user session=\"sub\" start_time=\"0\" unit=\"second\"/>"; done
  for _ in $(seq $N); do users+="<user session=\"pub\" start_time=\"0.2\" unit=\"second\"/>"; done
  cat > "$TEST_TMP/fanout$qos.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load duration="30" unit="second">$users</load>
  <options><option name="global_number" value="$((N + M))"/></options>
  <sessions>
    <session name="sub" probability="0" type="ts_mqtt">
      <request><mqtt type="connect" keepalive="1"/></request>
      <request><mqtt type="subscribe" topic="$topic" qos="$qos"/></request>
      <thinktime value="wait_global"/>
      <request><mqtt type="waitForMessages" timeout="2.5"/></request>
      <request><mqtt type="unsubscribe" topic="$topic"/></request>
      <request><mqtt type="disconnect"/></request>
    </session>
    <session name="pub" probability="0" type="ts_mqtt">
      <request><mqtt type="connect"/></request>
      <thinktime value="wait_global"/>
      <for from="1" to="$MSGS" incr="1" var="i">
        <request subst="true"><mqtt type="publish" topic="$topic" qos="$qos">msg %%_i%%</mqtt></request>
      </for>
      <request><mqtt type="disconnect"/></request>
    </session>
  </sessions>
</tsung>
XML
  subs_before=$(grep -c 'Received SUBSCRIBE from' "$mlog" || true)
  mosquitto_sub -h 127.0.0.1 -p "$port" -t "$topic" -q "$qos" -W 20 -C $((N * MSGS)) >"$TEST_TMP/sub$qos.out" 2>&1 &
  spid=$!
  on_exit "_stop_pid $spid"
  wait_until 10 bash -c "[ \$(grep -c 'Received SUBSCRIBE from' '$mlog') -gt $subs_before ]" ||
    fail "mosquitto_sub did not subscribe"
  pubacks_before=$(grep -c 'Received PUBACK from tsung-' "$mlog" || true)
  run fanout$qos "$TEST_TMP/fanout$qos.xml"
  log "qos $qos: $(for m in users_count mqtt_connected mqtt_published mqtt_server_pubacked mqtt_server_published mqtt_pubacked; do printf '%s=%s ' $m "$(sum $m fanout$qos)"; done)"
  [ -z "$(errors fanout$qos)" ] || fail "qos $qos: errors: $(errors fanout$qos)"
  assert_eq "$(sum finish_users_count fanout$qos)" $((N + M)) "qos $qos: users finished"
  assert_eq "$(sum mqtt_published fanout$qos)" $((N * MSGS)) "qos $qos: messages published"
  assert_eq "$(sum mqtt_server_pubacked fanout$qos)" $((qos * N * MSGS)) "qos $qos: PUBACKs received"
  assert_eq "$(sum mqtt_server_published fanout$qos)" $((N * MSGS * M)) "qos $qos: messages the subscribers received"
  wait_until 10 exited "$spid" || fail "qos $qos: mosquitto_sub did not get $((N * MSGS)) messages"
  wait "$spid" || true
  assert_eq "$(grep -c '^msg ' "$TEST_TMP/sub$qos.out")" $((N * MSGS)) "qos $qos: messages mosquitto_sub saw"
  for i in 1 $MSGS; do
    assert_eq "$(grep -c "^msg $i\$" "$TEST_TMP/sub$qos.out")" "$N" "qos $qos: copies of 'msg $i' (substituted payload)"
  done
  if [ "$qos" = 1 ]; then
    # Every QoS 1 message a subscriber got was acknowledged: mosquitto logged M x N x MSGS PUBACKs.
    assert_eq "$(($(grep -c 'Received PUBACK from tsung-' "$mlog") - pubacks_before))" $((N * MSGS * M)) "qos 1: PUBACKs the broker received"
  fi
done
# keepalive="1" for the subscribers: PINGREQs went out while they waited.
[ "$(grep -c 'Received PINGREQ from tsung-' "$mlog")" -ge $((2 * M)) ] || fail "no keepalive PINGREQ from the subscribers"
log "ok"
