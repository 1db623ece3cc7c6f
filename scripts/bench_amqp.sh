#!/usr/bin/env bash
# Usage: scripts/bench_amqp.sh [USERS [MESSAGES_PER_USER]]   (default 10 x 10000)
# Benchmark (not a test): AMQP publishing, loadctl vs Tsung 1.7.0, on the same private RabbitMQ
# (plugins/amqp/tests/rabbitmq_lib.sh: own epmd and node on 127.0.0.1, stopped at the end).
# Each tool runs the same ts_amqp scenario: USERS connections, one channel each, publishing
# MESSAGES_PER_USER messages of 100 random bytes (payload_size, Tsung's default) to a queue
# (bench_q, bounded by x-max-length so RabbitMQ's memory stays flat), then connection.close.
# Messages are counted by RabbitMQ (messages_received_total delta); CPU is user+sys of the tool's
# process tree (/usr/bin/time, children included); rate = messages / wall time of the run
# (start-up included: Tsung's Erlang VM boot weighs on short runs). Every step is time-bounded.
# Needs a built tree (build/) and, for the Tsung row, `tsung` and a resolvable host name.
export LOADCTL_TEST_TIMEOUT=${LOADCTL_TEST_TIMEOUT:-900}
source "$(dirname "$0")/../tests/integration/lib.sh"
source "$LOADCTL_SRC/plugins/amqp/tests/rabbitmq_lib.sh"
users=${1:-10}
per_user=${2:-10000}
need_bins loadctl loadagent
# Tsung 1.7.0 asks for channel_max 0 ("no limit") in connection.tune_ok, which RabbitMQ (3.10)
# refuses unless its own channel_max is 0 too ("failed to negotiate connection parameters"): without
# this setting every Tsung connection is closed. rabbitmq.conf does not take 0; advanced.config does.
start_rabbitmq "" "[{rabbit, [{channel_max, 0}]}]."
cat > "$TEST_TMP/definitions.json" <<'JSON'
{"queues": [{"name": "bench_q", "vhost": "/", "durable": false, "auto_delete": false,
             "arguments": {"x-max-length": 20000}}]}
JSON
rmqctl import_definitions "$TEST_TMP/definitions.json" > /dev/null || fail "import_definitions failed"

cat > "$TEST_TMP/bench-amqp.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="10000"/></clients>
  <servers><server host="127.0.0.1" port="$RABBITMQ_NODE_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second">
    <users maxnumber="$users" arrivalrate="1000" unit="second"/></arrivalphase></load>
  <sessions><session name="publisher" probability="100" type="ts_amqp" bidi="true">
    <request><amqp type="connection.open" vhost="/"/></request>
    <request><amqp type="channel.open"/></request>
    <for from="1" to="$per_user" incr="1" var="i">
      <request><amqp type="basic.publish" channel="1" exchange="" routing_key="bench_q" payload_size="100"/></request>
    </for>
    <request><amqp type="connection.close"/></request>
  </session></sessions>
</tsung>
XML

received() { rabbit_counters | awk -F= '$1 == "messages_received_total" { print $2 }'; }

# measure NAME CMD...: runs CMD bounded; sets MSGS, CPU_US (per message), RATE (messages/s).
declare -A MSGS CPU_US RATE WALL
measure() {
  local name=$1 before after t
  shift
  before=$(received)
  if ! /usr/bin/time -f '%e %U %S' -o "$TEST_TMP/$name.time" timeout -k 10 300 "$@" > "$TEST_TMP/$name.out" 2>&1; then
    log "$name failed: $(tail -3 "$TEST_TMP/$name.out")"
    MSGS[$name]=n/a CPU_US[$name]=n/a RATE[$name]=n/a WALL[$name]=n/a
    return
  fi
  after=$(received)
  t=$(tail -1 "$TEST_TMP/$name.time")
  MSGS[$name]=$((after - before))
  WALL[$name]=$(awk '{ print $1 }' <<< "$t")
  CPU_US[$name]=$(awk -v n="${MSGS[$name]}" '{ if (n > 0) printf "%.1f", ($2 + $3) * 1e6 / n; else print "n/a" }' <<< "$t")
  RATE[$name]=$(awk -v n="${MSGS[$name]}" '{ if ($1 > 0) printf "%.0f", n / $1; else print "n/a" }' <<< "$t")
}

log "loadctl: $users x $per_user messages"
measure loadctl "$LOADCTL" -q -f "$TEST_TMP/bench-amqp.xml" --run-dir "$TEST_TMP/loadctl-run" --threads 1 start
if command -v tsung > /dev/null && { getent hosts "$(hostname)" > /dev/null || getent hosts "$(hostname -s)" > /dev/null; }; then
  log "Tsung: $users x $per_user messages"
  measure tsung tsung -f "$TEST_TMP/bench-amqp.xml" -l "$TEST_TMP/tsung-logs" start
else
  log "Tsung skipped (not installed, or this host's name does not resolve)"
  MSGS[tsung]=n/a CPU_US[tsung]=n/a RATE[tsung]=n/a WALL[tsung]=n/a
fi

printf '\n%-8s %10s %8s %12s %14s\n' tool messages wall_s msgs_per_s cpu_us_per_msg
for t in loadctl tsung; do
  printf '%-8s %10s %8s %12s %14s\n' "$t" "${MSGS[$t]}" "${WALL[$t]}" "${RATE[$t]}" "${CPU_US[$t]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "loadctl/Tsung: CPU per message x$(ratio "${CPU_US[loadctl]}" "${CPU_US[tsung]}"), messages/s x$(ratio "${RATE[loadctl]}" "${RATE[tsung]}")"
