#!/usr/bin/env bash
# ts_amqp against a real RabbitMQ (Debian's rabbitmq-server), started once by this test on
# 127.0.0.1 with its own epmd, node name, ports, data, logs and config under $TEST_TMP.
#  1. Tsung's own example, /usr/share/doc/tsung/examples/amqp.xml.gz, changed only in the client
#     host (ubuntu -> localhost), the server port, the publisher's arrival rate (1/s -> 100/s: it
#     arrives at once) and two durations: waitForConfirms' timeout (1 s -> 0.1 s) and
#     waitForMessages' (180 s -> 8 s: the consumer, started at 1 s, waits until the publisher is
#     done: its ten waitForConfirms last 0.1 s each, thinktimes as in Tsung):
#     one publisher (10 channels in confirm mode, 2000 persistent messages, waitForConfirms) and
#     one consumer (10 channels, basic.qos, basic.consume with ack, waitForMessages). Asserted:
#     tsung.log's amqp_* counters, and RabbitMQ's own counters (messages received, confirmed,
#     routed, delivered and acknowledged), its consumer count during the wait and its empty queue;
#     request: the 74 AMQP requests, not the 11 waits (thinktimes, as in Tsung).
#  2. (while 1 runs) A wrong password: RabbitMQ refuses the login; counted (error_amqp_access_refused), the user
#     ends, the run ends normally. Its close_ok reaches RabbitMQ: neither this run nor the others
#     leave a "client unexpectedly closed TCP connection" warning in RabbitMQ's log.
#  3. max_frame_size below RabbitMQ's connection.start: error_amqp_frame_too_large, nothing kept.
#  4. heartbeat 1 s and a 5 s waitForMessages: RabbitMQ closes a client silent for two heartbeat
#     intervals, so the connection lives only through the heartbeats loadctl sends from its timer.
# The exchange and queue the example needs are declared with rabbitmqctl import_definitions.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent

source "$(dirname "$0")/rabbitmq_lib.sh"
start_rabbitmq
cat > "$TEST_TMP/definitions.json" <<'JSON'
{"exchanges": [{"name": "test_exchange", "vhost": "/", "type": "direct", "durable": true,
                "auto_delete": false, "internal": false, "arguments": {}}],
 "queues": [{"name": "test_queue", "vhost": "/", "durable": true, "auto_delete": false, "arguments": {}}],
 "bindings": [{"source": "test_exchange", "vhost": "/", "destination": "test_queue",
               "destination_type": "queue", "routing_key": "test_queue", "arguments": {}}]}
JSON
rmqctl import_definitions "$TEST_TMP/definitions.json" > /dev/null || fail "import_definitions failed"
log "test_exchange and test_queue declared"
queue_line() { rmqctl list_queues name messages messages_unacknowledged consumers | awk '$1 == "test_queue"'; }

run() {  # run NAME SCENARIO: loadctl start, log directory $TEST_TMP/NAME
  "$LOADCTL" -q -f "$2" --run-dir "$TEST_TMP/$1" start > "$TEST_TMP/$1.out" 2> "$TEST_TMP/$1.err" ||
    { cat "$TEST_TMP/$1.err" >&2; fail "$1: loadctl exited with $?"; }
}
# stop_run PID: a background `run` (a subshell) and the loadctl it started, when still running.
stop_run() {
  local child
  for child in $(pgrep -P "$1"); do _stop_pid "$child"; done
  _stop_pid "$1"
}

# counts DIR: every non-zero counter of DIR/tsung.log, for failure messages.
counts() { awk '$1 == "stats:" && $2 !~ /^[{]/ { a[$2] += $3 } END { for (k in a) if (a[k] > 0) printf "%s=%s ", k, a[k] }' "$1/tsung.log"; }
scenario() {  # scenario FILE OPTIONS [REQUESTS]: 3 users (static, 0.1 s apart) opening a connection and a channel
  cat > "$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$RABBITMQ_NODE_PORT" type="tcp"/></servers>
  <load><user session="s" start_time="0.1" unit="second"/><user session="s" start_time="0.2" unit="second"/>
    <user session="s" start_time="0.3" unit="second"/></load>
  <options>$2</options>
  <sessions><session name="s" probability="100" type="ts_amqp" bidi="true">
    <request><amqp type="connection.open" vhost="/"/></request>
    <request><amqp type="channel.open"/></request>${3:-}
    <request><amqp type="connection.close"/></request>
  </session></sessions>
</tsung>
XML
}
# 4 runs while the example does (it publishes nothing and consumes nothing: RabbitMQ's counters
# and test_queue are the example's alone).
scenario "$TEST_TMP/heartbeat.xml" '<option type="ts_amqp" name="heartbeat" value="1"/>' \
  '<request><amqp type="waitForMessages" timeout="5"/></request>'
run heartbeat "$TEST_TMP/heartbeat.xml" &
HEARTBEAT_PID=$!
on_exit "stop_run $HEARTBEAT_PID"

# --- 1. Tsung's example ----------------------------------------------------------------------
zcat /usr/share/doc/tsung/examples/amqp.xml.gz |
  sed -e 's/host="ubuntu"/host="localhost"/' -e "s/port=\"5672\"/port=\"$RABBITMQ_NODE_PORT\"/" \
      -e 's/timeout="180"/timeout="8"/' -e 's/waitForConfirms" timeout="1"/waitForConfirms" timeout="0.1"/' \
      -e 's/maxnumber="1" arrivalrate="1"/maxnumber="1" arrivalrate="100"/' > "$TEST_TMP/amqp.xml"
[ "$(zcat /usr/share/doc/tsung/examples/amqp.xml.gz | diff - "$TEST_TMP/amqp.xml" | grep -c '^>')" = 5 ] ||
  fail "the example changed: its client host, server port, arrival rate or wait timeouts were not found"
"$LOADCTL" -f "$TEST_TMP/amqp.xml" check > /dev/null 2> "$TEST_TMP/check.err" || { cat "$TEST_TMP/check.err" >&2; fail "check refused the example"; }
run example "$TEST_TMP/amqp.xml" &
RUN_PID=$!
on_exit "stop_run $RUN_PID"
# 2. meanwhile (its connections are refused before any channel: the example's counters stay its own)
scenario "$TEST_TMP/refused.xml" '<option type="ts_amqp" name="password" value="not-the-password"/>'
run refused "$TEST_TMP/refused.xml" &
REFUSED_PID=$!
on_exit "stop_run $REFUSED_PID"
# While the consumer waits for messages, RabbitMQ counts its 10 consumers on test_queue.
consumers=0
deadline=$((SECONDS + 10))
while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$RUN_PID" 2>/dev/null; do
  consumers=$(queue_line | awk '{ print $4 }')
  [ "${consumers:-0}" = 10 ] && break
  sleep 0.2
done
wait "$RUN_PID" || fail "the example run failed"
assert_eq "$consumers" 10 "consumers RabbitMQ saw on test_queue during waitForMessages"
dir=$TEST_TMP/example
errors=$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 { print $2 "=" $3 }' "$dir/tsung.log" | sort -u)
[ -z "$errors" ] || fail "errors in tsung.log: $errors"
assert_eq "$(tsung_sum amqp_connected "$dir")" 2 "amqp_connected"
assert_eq "$(tsung_sum amqp_channel_opened "$dir")" 20 "amqp_channel_opened"
assert_eq "$(tsung_sum amqp_channel_closed "$dir")" 20 "amqp_channel_closed"
assert_eq "$(tsung_sum amqp_consumer "$dir")" 10 "amqp_consumer"
assert_eq "$(tsung_sum amqp_closed "$dir")" 2 "amqp_closed"
assert_eq "$(tsung_sum amqp_published "$dir")" 2000 "amqp_published"
assert_eq "$(tsung_sum amqp_confirmed "$dir")" 2000 "amqp_confirmed"
assert_eq "$(tsung_sum amqp_unconfirmed "$dir")" 0 "amqp_unconfirmed"
assert_eq "$(tsung_sum amqp_delivered "$dir")" 2000 "amqp_delivered"
assert_eq "$(tsung_sum amqp_unexpected "$dir")" 0 "amqp_unexpected"
assert_eq "$(tsung_sum request_noack "$dir")" 2000 "request_noack (basic.publish)"
assert_eq "$(tsung_sum request "$dir")" 74 "request (publisher 32, consumer 42; waitForConfirms and waitForMessages are thinktimes)"
assert_eq "$(tsung_sum finish_users_count "$dir")" 2 "finish_users_count"
rabbit_counters > "$TEST_TMP/counters"
c() { awk -F= -v k="$1" '$1 == k { print $2 }' "$TEST_TMP/counters"; }
assert_eq "$(c messages_received_confirm_total)" 2000 "RabbitMQ: messages received in confirm mode"
assert_eq "$(c messages_confirmed_total)" 2000 "RabbitMQ: messages confirmed"
assert_eq "$(c messages_routed_total)" 2000 "RabbitMQ: messages routed to test_queue"
assert_eq "$(c messages_delivered_total)" 2000 "RabbitMQ: messages delivered to consumers"
assert_eq "$(c messages_acknowledged_total)" 2000 "RabbitMQ: messages acknowledged"
assert_eq "$(queue_line | awk '{ print $2, $3, $4 }')" "0 0 0" "test_queue: messages, unacknowledged, consumers"
log "example: 2000 published = confirmed = delivered = acknowledged, as RabbitMQ counted them"

# --- 2. login refused, 3. frame larger than max_frame_size, 4. heartbeats ---------------------
wait "$REFUSED_PID" || fail "the refused run failed"
assert_eq "$(tsung_sum error_amqp_access_refused "$TEST_TMP/refused")" 3 "logins refused ($(counts "$TEST_TMP/refused"))"
assert_eq "$(tsung_sum amqp_connected "$TEST_TMP/refused")" 0 "amqp_connected with a wrong password"
assert_eq "$(tsung_sum finish_users_count "$TEST_TMP/refused")" 3 "users that ended"

wait "$HEARTBEAT_PID" || fail "the heartbeat run failed"
assert_eq "$(tsung_sum amqp_closed "$TEST_TMP/heartbeat")" 3 "connections closed normally after 5 s with 1 s heartbeats ($(counts "$TEST_TMP/heartbeat"))"
grep -q "missed heartbeats" "$RABBITMQ_LOG_BASE"/*.log && fail "RabbitMQ missed heartbeats: $(grep -m1 "missed heartbeats" "$RABBITMQ_LOG_BASE"/*.log)"
# Every connection so far ended with an AMQP close both sides saw (the refused logins too: the
# close_ok queued on RabbitMQ's connection.close is written before the socket closes). RabbitMQ
# logs the closes after a short while: wait for the 2 + 3 + 3 of them, then look for one cut.
rabbit_log_count() { cat "$RABBITMQ_LOG_BASE"/*.log | { grep -c "$1" || true; }; }
closes_logged() { [ "$(rabbit_log_count 'closing AMQP connection')" -ge 8 ]; }
wait_until 10 closes_logged || fail "RabbitMQ logged $(rabbit_log_count 'closing AMQP connection') closed connections, expected 8"
assert_eq "$(rabbit_log_count 'unexpectedly closed TCP connection')" 0 \
  "connections RabbitMQ saw cut without an AMQP close ($(cat "$RABBITMQ_LOG_BASE"/*.log | grep -m1 'unexpectedly closed' || true))"

scenario "$TEST_TMP/frame.xml" '<option name="max_frame_size" value="128"/>'
run frame "$TEST_TMP/frame.xml"
assert_eq "$(tsung_sum error_amqp_frame_too_large "$TEST_TMP/frame")" 3 "frames over max_frame_size ($(counts "$TEST_TMP/frame"))"
assert_eq "$(tsung_sum amqp_error "$TEST_TMP/frame")" 3 "amqp_error"
assert_eq "$(tsung_sum amqp_connected "$TEST_TMP/frame")" 0 "amqp_connected with a 128-byte frame limit"
log "ok"
