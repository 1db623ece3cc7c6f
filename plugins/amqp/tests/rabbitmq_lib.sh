# A private RabbitMQ node for ts_amqp's test and benchmark; source after tests/integration/lib.sh.
#   start_rabbitmq [CONF [ADVANCED]]  own epmd (ERL_EPMD_PORT, a free port; the system's epmd is never used),
#                    node loadctl<random>@localhost listening on 127.0.0.1:$RABBITMQ_NODE_PORT,
#                    cookie (HOME), data, logs and config under $TEST_TMP/rabbit; waits for it
#                    (bounded) and stops it at exit (rabbitmqctl stop, else the beam.smp of its pid
#                    file; then the PID it started; then epmd). epmd and the Erlang distribution
#                    listen on 127.0.0.1 only.
#                    CONF: more rabbitmq.conf lines; ADVANCED: an advanced.config term.
#   rmqctl ARGS...   rabbitmqctl on that node, bounded (90 s: its own Erlang VM boots slowly on a busy machine)
#   rabbit_counters  RabbitMQ's global AMQP 0-9-1 counters (classic queues), "name=value" lines
RMQ_BIN=/usr/lib/rabbitmq/bin

rmqctl() { timeout 90 "$RMQ_BIN/rabbitmqctl" -q -n "$RABBITMQ_NODENAME" "$@"; }

start_rabbitmq() {
  need_bins epmd
  [ -x "$RMQ_BIN/rabbitmq-server" ] || fail "rabbitmq-server is not installed (scripts/deps.sh)"
  local dir=$TEST_TMP/rabbit _
  export HOME=$TEST_TMP  # the Erlang cookie of the node and of rabbitmqctl
  export ERL_EPMD_PORT RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT ERL_EPMD_ADDRESS=127.0.0.1
  # The node's and rabbitmqctl's distribution on loopback only (rabbitmqctl's own listener too).
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  ERL_EPMD_PORT=$(free_port)
  RABBITMQ_NODE_PORT=$(free_port)
  RABBITMQ_DIST_PORT=$(free_port)
  export RABBITMQ_NODENAME=loadctl$RANDOM$RANDOM@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
  export RABBITMQ_CONF_ENV_FILE=$dir/env.conf RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
  export RABBITMQ_PID_FILE=$dir/pid RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
  mkdir -p "$dir"
  : > "$RABBITMQ_CONF_ENV_FILE"
  echo '[].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
  printf 'listeners.tcp.1 = 127.0.0.1:%s\nloopback_users = none\n' "$RABBITMQ_NODE_PORT" > "$RABBITMQ_CONFIG_FILE"
  [ -z "${1:-}" ] || echo "$1" >> "$RABBITMQ_CONFIG_FILE"
  [ -z "${2:-}" ] || echo "$2" > "$RABBITMQ_ADVANCED_CONFIG_FILE"

  epmd -address 127.0.0.1 -port "$ERL_EPMD_PORT" > "$dir/epmd.log" 2>&1 &
  EPMD_PID=$!
  on_exit "_stop_pid $EPMD_PID"
  wait_until 10 port_open "$ERL_EPMD_PORT" || fail "epmd did not listen on $ERL_EPMD_PORT"

  log "starting RabbitMQ $RABBITMQ_NODENAME on 127.0.0.1:$RABBITMQ_NODE_PORT"
  "$RMQ_BIN/rabbitmq-server" > "$dir/server.out" 2>&1 &
  RABBIT_PID=$!
  on_exit "rmqctl stop >/dev/null 2>&1 || _stop_beam; _stop_pid $RABBIT_PID"
  # await_startup fails at once while the node is not registered with epmd yet: retry, bounded.
  local started=false
  for _ in $(seq 1 60); do
    kill -0 "$RABBIT_PID" 2>/dev/null || { cat "$dir/server.out" >&2; fail "rabbitmq-server exited"; }
    if rmqctl await_startup --timeout 25 >/dev/null 2>&1; then started=true; break; fi
    sleep 0.5
  done
  $started || { tail -20 "$dir/server.out" >&2; fail "RabbitMQ did not start"; }
  wait_until 10 port_open "$RABBITMQ_NODE_PORT" || fail "RabbitMQ does not listen on $RABBITMQ_NODE_PORT"
  log "RabbitMQ up"
}

# rabbitmqctl stop failed: the node's beam.smp by the pid file it wrote (a child of the PID we
# started, so not ours to wait for).
_stop_beam() {
  local pid
  pid=$(cat "$RABBITMQ_PID_FILE" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
}

rabbit_counters() {
  rmqctl eval '
    M = rabbit_global_counters:overview(),
    A = maps:get([{protocol, amqp091}], M),
    Q = maps:get([{protocol, amqp091}, {queue_type, rabbit_classic_queue}], M),
    lists:flatten([io_lib:format("~s=~b ", [K, V]) || {K, V} <- maps:to_list(maps:merge(A, Q))]).' |
    tr -d '"' | tr ' ' '\n' | grep =
}
