#!/usr/bin/env bash
# kill -9 the controller mid-run: remote agents must stop their users within a few seconds (no
# orphaned load on the target). Host 1 runs an agent started through rsh_daemon.sh (it must exit,
# and the daemon logs its exit status); host 2 runs a listening agent (it must end the run and
# wait for the next controller, which it then serves).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_require
need_bins loadctl loadagent nginx ncat ss
grep -q -- 'direct' <<<"$("$LOADCTL" --help 2>&1)" || skip "this loadctl has no -r direct (IP-direct) mode"

netns_create 2
RSH_HOST=${NETNS_IP[1]}
DIRECT_HOST=${NETNS_IP[2]}
PORT=18080
NGINX_ADDR=$NETNS_ROOT_IP start_nginx "$PORT"

netns_start_agent_hosts

# scenario FILE HOST HOSTIP SECONDS: one remote client, a steady stream of short sessions.
scenario() {
  cat >"$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients><client host="$2" hostip="$3" maxusers="10000"/></clients>
  <servers><server host="$NETNS_ROOT_IP" port="$PORT" type="tcp"/></servers>
  <load>
    <arrivalphase phase="1" duration="$4" unit="second"><users arrivalrate="20" unit="second"/></arrivalphase>
  </load>
  <sessions>
    <session name="s" probability="100" type="ts_http">
      <for from="1" to="10" incr="1" var="i">
        <request><http url="/" method="GET"/></request>
        <thinktime value="0.1" random="false"/>
      </for>
    </session>
  </sessions>
</tsung>
XML
}
from_host() { awk -v a="$1" '$1 == a' "$NGINX_ACCESS_LOG" | wc -l; }

# run_and_kill NAME HOSTIP ARGS...: starts loadctl, kills it with -9 two seconds into the load.
run_and_kill() {
  local name=$1 hostip=$2
  shift 2
  "$LOADCTL" -q --run-dir "$TEST_TMP/run-$name" -F "$NETNS_ROOT_IP" "$@" start >/dev/null 2>&1 &
  local ctl=$!
  on_exit "kill -KILL $ctl 2>/dev/null || true"
  wait_until 20 grep -q "time zero" "$TEST_TMP/run-$name/controller.log" 2>/dev/null || fail "$name: the load did not start"
  wait_until 10 bash -c "[ \$(awk -v a=$hostip '\$1 == a' '$NGINX_ACCESS_LOG' | wc -l) -gt 20 ]" || fail "$name: no load from $hostip"
  sleep 1
  log "$name: kill -9 the controller (pid $ctl)"
  kill -KILL "$ctl"
  wait "$ctl" 2>/dev/null || true
}

# no_more_load HOSTIP: nginx's count from HOSTIP stops growing within 12 s (10 s of controller
# silence at worst; the closed connection is normally noticed at once).
no_more_load() {
  local before after _
  for _ in $(seq 1 24); do
    before=$(from_host "$1")
    sleep 0.5
    after=$(from_host "$1")
    [ "$before" -ne "$after" ] || return 0
  done
  fail "load from $1 goes on after the controller died ($before -> $after)"
}

scenario "$TEST_TMP/rsh.xml" rshhost "$RSH_HOST" 30
run_and_kill rsh "$RSH_HOST" -f "$TEST_TMP/rsh.xml" -r "$LOADCTL_SRC/scripts/rsh_client.sh"
wait_until 12 grep -q "exited with status 3" "$TEST_TMP/rsh/rsh_daemon.log" ||
  fail "the rsh-started agent did not stop: $(tail -n 3 "$TEST_TMP/rsh/rsh_daemon.log")"
no_more_load "$RSH_HOST"

scenario "$TEST_TMP/direct.xml" directhost "$DIRECT_HOST" 30
run_and_kill direct "$DIRECT_HOST" -f "$TEST_TMP/direct.xml" -r direct --token-file "$TEST_TMP/token"
wait_until 12 grep -q "ended (status 3)" "$TEST_TMP/listen.log" || fail "the listening agent did not end the run"
no_more_load "$DIRECT_HOST"
wait_until 5 grep -q "waiting for the next controller" "$TEST_TMP/listen.log" || fail "the listening agent is not waiting"

log "the listening agent serves the next controller"
scenario "$TEST_TMP/short.xml" directhost "$DIRECT_HOST" 1
"$LOADCTL" -q --run-dir "$TEST_TMP/run-next" -F "$NETNS_ROOT_IP" -f "$TEST_TMP/short.xml" -r direct \
  --token-file "$TEST_TMP/token" start >/dev/null 2>"$TEST_TMP/next.err" || { cat "$TEST_TMP/next.err" >&2; fail "the next run failed"; }
echo "PASS: $TEST_NAME"
