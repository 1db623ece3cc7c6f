#!/usr/bin/env bash
# Distributed runs over network namespaces, against nginx on the root namespace's bridge address:
#   host 1 runs rsh_daemon.sh        (reached with -r scripts/rsh_client.sh),
#   host 2 runs loadagent --listen   (reached with -r direct and a token file),
#   plus a local agent in every run.
# Runs: rsh (local + host 1), direct with a wrong token (refused before any load), direct (local +
# host 2, proving the listening agent survived the refusal), and all three hosts in one run
# (-r rsh_client.sh for host 1, --direct for host 2). For each good run: users per agent
# match the weights exactly (maxnumber caps every agent's share), tsung.log's request total equals
# nginx's count, and the <ip> source addresses are the only ones nginx sees from that host.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_require
need_bins loadctl loadagent nginx ncat ss
grep -q -- 'direct' <<<"$("$LOADCTL" --help 2>&1)" || skip "this loadctl has no -r direct (IP-direct) mode"

netns_create 2
RSH_HOST=${NETNS_IP[1]}
DIRECT_HOST=${NETNS_IP[2]}
RSH_IPS=("$NETNS_NET.112" "$NETNS_NET.122")
DIRECT_IPS=("$NETNS_NET.113" "$NETNS_NET.123")
for ip in "${RSH_IPS[@]}"; do netns_add_ip 1 "$ip"; done
for ip in "${DIRECT_IPS[@]}"; do netns_add_ip 2 "$ip"; done

PORT=18080
NGINX_ADDR=$NETNS_ROOT_IP start_nginx "$PORT"

log "rsh_daemon.sh on host 1 ($RSH_HOST), allowing only $NETNS_ROOT_IP; loadagent --listen on host 2 ($DIRECT_HOST:19998)"
netns_start_agent_hosts

# scenario FILE REMOTE_HOST REMOTE_IP SOURCE_IPS...: local client weight 1, remote client weight 2
# with <ip> source addresses; 60 users (20 + 40), 5 requests each.
scenario() {
  local file=$1 host=$2 hostip=$3 ip
  shift 3
  {
    cat <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients>
    <client host="localhost" use_controller_vm="true" weight="1" maxusers="10000"/>
    <client host="$host" hostip="$hostip" weight="2" maxusers="10000">
XML
    for ip in "$@"; do echo "      <ip value=\"$ip\"/>"; done
    cat <<XML
    </client>
  </clients>
  <servers>
    <server host="$NETNS_ROOT_IP" port="$PORT" type="tcp"/>
  </servers>
  <load>
    <arrivalphase phase="1" duration="2" unit="second">
      <users maxnumber="60" arrivalrate="100" unit="second"/>
    </arrivalphase>
  </load>
  <sessions>
    <session name="five" probability="100" type="ts_http">
      <for from="1" to="5" incr="1" var="i">
        <request><http url="/" method="GET"/></request>
      </for>
    </session>
  </sessions>
</tsung>
XML
  } >"$file"
}

sum() { tsung_sum "$1" "$2"; }
# requests_from LOGSLICE ADDR...: nginx log lines from any of the addresses.
requests_from() {
  local slice=$1 n=0 a
  shift
  for a in "$@"; do n=$((n + $(awk -v a="$a" '$1 == a' "$slice" | wc -l))); done
  echo "$n"
}

# check_run NAME RUN_DIR FIRST_LINE SOURCE_IPS...: the assertions shared by the good runs.
check_run() {
  local name=$1 run=$2 first=$3
  shift 3
  local slice=$TEST_TMP/$name.access.log
  tail -n +"$first" "$NGINX_ACCESS_LOG" >"$slice"
  local requests logged
  requests=$(sum request "$run")
  logged=$(count_lines "$slice")
  log "$name: tsung.log requests=$requests nginx=$logged"
  assert_eq "$requests" "$logged" "$name: requests in tsung.log vs nginx"
  assert_eq "$(sum users_count "$run")" 60 "$name: users started"
  assert_eq "$logged" 300 "$name: 60 users x 5 requests"
  # Weights 1:2 of maxnumber 60: exactly 20 local users and 40 remote ones.
  assert_eq "$(requests_from "$slice" "$NETNS_ROOT_IP")" 100 "$name: requests from the local agent (20 users)"
  assert_eq "$(requests_from "$slice" "$@")" 200 "$name: requests from the remote agent's <ip> addresses (40 users)"
  local ip
  for ip in "$@"; do
    [ "$(requests_from "$slice" "$ip")" -gt 0 ] || fail "$name: source address $ip never used"
  done
  grep -q '"exit_status": 0' "$run/run.json" || fail "$name: run.json does not record exit status 0"
}

log "run 1: rsh (local + host 1)"
scenario "$TEST_TMP/rsh.xml" rshhost "$RSH_HOST" "${RSH_IPS[@]}"
first=$(($(count_lines "$NGINX_ACCESS_LOG") + 1))
"$LOADCTL" -q -f "$TEST_TMP/rsh.xml" --run-dir "$TEST_TMP/run-rsh" -r "$LOADCTL_SRC/scripts/rsh_client.sh" \
  -F "$NETNS_ROOT_IP" --dump-interval 1 start >/dev/null 2>"$TEST_TMP/rsh.err" ||
  { cat "$TEST_TMP/rsh.err" "$TEST_TMP/run-rsh/controller.log" "$TEST_TMP/run-rsh/agent-1.log" >&2; fail "the rsh run failed"; }
check_run rsh "$TEST_TMP/run-rsh" "$first" "${RSH_IPS[@]}"
grep -q "rsh_daemon: running $LOADAGENT" "$TEST_TMP/run-rsh/agent-1.log" || fail "agent-1.log lacks the rsh daemon's line"
grep -q "starting $LOADAGENT --controller $NETNS_ROOT_IP:" "$TEST_TMP/rsh/rsh_daemon.log" || fail "the daemon did not log the agent start"

log "run 2: direct with a wrong token: refused before any load"
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$TEST_TMP/bad-token"
chmod 600 "$TEST_TMP/bad-token"
scenario "$TEST_TMP/direct.xml" directhost "$DIRECT_HOST" "${DIRECT_IPS[@]}"
before=$(count_lines "$NGINX_ACCESS_LOG")
st=0
"$LOADCTL" -q -f "$TEST_TMP/direct.xml" --run-dir "$TEST_TMP/run-bad" -r direct --token-file "$TEST_TMP/bad-token" \
  -F "$NETNS_ROOT_IP" start >/dev/null 2>"$TEST_TMP/bad.err" || st=$?
assert_eq "$st" 2 "exit status with a wrong token"
grep -q "$DIRECT_HOST.*wrong token" "$TEST_TMP/bad.err" || fail "unclear wrong-token error: $(cat "$TEST_TMP/bad.err")"
assert_eq "$(count_lines "$NGINX_ACCESS_LOG")" "$before" "requests sent despite the refused token"
grep -q "refused: wrong token" "$TEST_TMP/listen.log" || fail "the listening agent did not log the refusal"

log "run 3: direct (local + host 2)"
first=$(($(count_lines "$NGINX_ACCESS_LOG") + 1))
"$LOADCTL" -q -f "$TEST_TMP/direct.xml" --run-dir "$TEST_TMP/run-direct" -r direct --token-file "$TEST_TMP/token" \
  -F "$NETNS_ROOT_IP" --dump-interval 1 start >/dev/null 2>"$TEST_TMP/direct.err" ||
  { cat "$TEST_TMP/direct.err" "$TEST_TMP/run-direct/controller.log" "$TEST_TMP/listen.log" >&2; fail "the direct run failed"; }
check_run direct "$TEST_TMP/run-direct" "$first" "${DIRECT_IPS[@]}"
# The listening agent's log travels over the control connection into the run directory.
grep -q "agent 1 ready" "$TEST_TMP/run-direct/agent-1.log" 2>/dev/null \
  || fail "the listening agent's log did not reach run-direct/agent-1.log"
grep -q "run for controller $NETNS_ROOT_IP:.* ended (status 0)" "$TEST_TMP/listen.log" || fail "the listening agent did not end its run cleanly"
wait_until 5 grep -q "waiting for the next controller" "$TEST_TMP/listen.log" || fail "the listening agent did not go back to waiting"
log "run 4: the three hosts in one run (local, rsh on host 1, --direct host 2)"
cat >"$TEST_TMP/mixed.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients>
    <client host="localhost" use_controller_vm="true" weight="1" maxusers="10000"/>
    <client host="rshhost" hostip="$RSH_HOST" weight="2" maxusers="10000">
      <ip value="${RSH_IPS[0]}"/><ip value="${RSH_IPS[1]}"/>
    </client>
    <client host="directhost" hostip="$DIRECT_HOST" weight="2" maxusers="10000">
      <ip value="${DIRECT_IPS[0]}"/><ip value="${DIRECT_IPS[1]}"/>
    </client>
  </clients>
  <servers><server host="$NETNS_ROOT_IP" port="$PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="2" unit="second"><users maxnumber="100" arrivalrate="150" unit="second"/></arrivalphase></load>
  <sessions><session name="five" probability="100" type="ts_http">
    <for from="1" to="5" incr="1" var="i"><request><http url="/" method="GET"/></request></for>
  </session></sessions>
</tsung>
XML
first=$(($(count_lines "$NGINX_ACCESS_LOG") + 1))
"$LOADCTL" -q -f "$TEST_TMP/mixed.xml" --run-dir "$TEST_TMP/run-mixed" -r "$LOADCTL_SRC/scripts/rsh_client.sh" \
  --direct directhost --token-file "$TEST_TMP/token" -F "$NETNS_ROOT_IP" --dump-interval 1 start >/dev/null 2>"$TEST_TMP/mixed.err" ||
  { cat "$TEST_TMP/mixed.err" "$TEST_TMP/run-mixed/controller.log" >&2; fail "the mixed run failed"; }
tail -n +"$first" "$NGINX_ACCESS_LOG" >"$TEST_TMP/mixed.access.log"
assert_eq "$(sum request "$TEST_TMP/run-mixed")" "$(count_lines "$TEST_TMP/mixed.access.log")" "mixed: requests in tsung.log vs nginx"
assert_eq "$(sum users_count "$TEST_TMP/run-mixed")" 100 "mixed: users started"
# Weights 1:2:2 of maxnumber 100: 20 local users, 40 on each remote host, 5 requests each.
assert_eq "$(requests_from "$TEST_TMP/mixed.access.log" "$NETNS_ROOT_IP")" 100 "mixed: requests from the local agent"
assert_eq "$(requests_from "$TEST_TMP/mixed.access.log" "${RSH_IPS[@]}")" 200 "mixed: requests from the rsh host"
assert_eq "$(requests_from "$TEST_TMP/mixed.access.log" "${DIRECT_IPS[@]}")" 200 "mixed: requests from the listening agent"
grep -q "rsh_daemon: running $LOADAGENT" "$TEST_TMP/run-mixed/agent-1.log" || fail "mixed: host 1 was not reached through rsh_daemon"
grep -q "agent 2 ready" "$TEST_TMP/run-mixed/agent-2.log" || fail "mixed: no log from the listening agent"
echo "PASS: $TEST_NAME"
