#!/usr/bin/env bash
# Shared helpers for integration tests. Usage, at the top of tests/integration/test_*.sh:
#   source "$(dirname "$0")/lib.sh"
# The sourcing script re-runs itself under `timeout` (LOADCTL_TEST_TIMEOUT seconds, default 240),
# gets a private $TEST_TMP, and its cleanups (registered with on_exit) run on exit, failure,
# timeout or signal. LOADCTL_BIN is the build directory (ctest sets it; default: build/).
set -euo pipefail

if [ -z "${_LOADCTL_TEST_TIMED:-}" ]; then
  export _LOADCTL_TEST_TIMED=1
  exec timeout -k 10 "${LOADCTL_TEST_TIMEOUT:-240}" bash "$0" "$@"
fi

LOADCTL_SRC=${LOADCTL_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LOADCTL_BIN=${LOADCTL_BIN:-$LOADCTL_SRC/build}
LOADCTL=$LOADCTL_BIN/src/controller/loadctl
LOADAGENT=$LOADCTL_BIN/src/agent/loadagent
LOADTARGET=$LOADCTL_BIN/src/target/loadtarget
TEST_NAME=$(basename "$0" .sh)
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX")

# Every `loadctl start` (or debug) of a test goes without the dashboard unless the test asks about
# it (-n, -k, --http, --http-token-file): the default 127.0.0.1:8091 is one port for all the tests
# that ctest -j runs at once. $LOADCTL is that wrapper (it execs: $! is loadctl's pid);
# $LOADCTL_REAL the binary itself (for a test of the default port).
LOADCTL_REAL=$LOADCTL
mkdir -p "$TEST_TMP/bin"
cat > "$TEST_TMP/bin/loadctl" <<WRAPPER
#!/bin/bash
run=0
for a in "\$@"; do
  case \$a in
    -n | -k | --http | --http=* | --http-token-file | --http-token-file=*) exec "$LOADCTL_REAL" "\$@" ;;
    start | debug) run=1 ;;
  esac
done
[ \$run = 1 ] && exec "$LOADCTL_REAL" -n "\$@"
exec "$LOADCTL_REAL" "\$@"
WRAPPER
chmod +x "$TEST_TMP/bin/loadctl"
LOADCTL=$TEST_TMP/bin/loadctl

_cleanups=()
# on_exit COMMAND: runs COMMAND (a string, eval'd) at exit; last registered runs first.
on_exit() { _cleanups+=("$1"); }
_run_cleanups() {
  local rc=$? i
  trap - EXIT
  for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[i]}" || true; done
  if [ "$rc" -ne 0 ] && [ -n "${KEEP_TEST_TMP:-}" ]; then
    echo "$TEST_NAME: keeping $TEST_TMP" >&2
  else
    rm -rf "$TEST_TMP"
  fi
  exit "$rc"
}
trap _run_cleanups EXIT
trap 'echo "$TEST_NAME: terminated (timeout or signal)" >&2; exit 124' TERM
trap 'exit 130' INT

# fail MSG: prints MSG and ends the test with status 1.
fail() { echo "FAIL: $TEST_NAME: $*" >&2; exit 1; }
# assert_eq ACTUAL EXPECTED MSG
assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }
# log MSG: progress line on stderr (ctest shows it on failure).
log() { echo "[$TEST_NAME $(date +%T)] $*" >&2; }

# private_home: HOME is $TEST_TMP/home (created), so the ~/.loadctl of the runs and recorders a test
# starts (control sockets, registry, recordings) is its own.
private_home() {
  export HOME=$TEST_TMP/home
  mkdir -p "$HOME"
}

# need_bins NAME...: loadctl/loadagent/loadtarget from LOADCTL_BIN, anything else from PATH.
need_bins() {
  local b path
  for b in "$@"; do
    case "$b" in
      loadctl) path=$LOADCTL_REAL ;;
      loadagent) path=$LOADAGENT ;;
      loadtarget) path=$LOADTARGET ;;
      *) path=$(command -v "$b" || true) ;;
    esac
    [ -n "$path" ] && [ -x "$path" ] || fail "needed binary '$b' not found${path:+ at $path} (LOADCTL_BIN=$LOADCTL_BIN)"
  done
}

# port_open PORT [HOST]: 0 when a TCP connect succeeds.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/${2:-127.0.0.1}/$1" 2>/dev/null; }

# free_port: prints a port nobody uses, below the kernel's ephemeral range (a port in that range
# can be taken at any moment by some test's outgoing connection, and nginx's bind then fails).
# Racy by nature: prefer port 0.
free_port() {
  local lo=20000 hi=32767 eph p _
  read -r eph _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph=32768
  [ "$eph" -gt $((lo + 1000)) ] && hi=$((eph - 1))
  for _ in $(seq 1 100); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    port_open "$p" && continue
    if command -v ss >/dev/null && [ -n "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; then continue; fi
    echo "$p"
    return 0
  done
  fail "no free port found in $lo-$hi"
}

# wait_until SECONDS COMMAND...: polls COMMAND every 50 ms; 0 once it succeeds, 1 on timeout.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# exited PID: 0 once process PID is gone (for wait_until).
exited() { ! kill -0 "$1" 2>/dev/null; }

# stops_on_sigterm PID NAME: sends SIGTERM to PID (a child of this shell); fails unless it exits
# within 5 s with status 0.
stops_on_sigterm() {
  local st=0
  kill -TERM "$1"
  wait_until 5 exited "$1" || fail "$2 did not exit on SIGTERM"
  wait "$1" || st=$?
  assert_eq "$st" 0 "$2: exit status after SIGTERM"
}

# tsung_sum NAME DIR: NAME's interval counts (first value of its stats lines) summed over every
# dump of DIR/tsung.log: a counter's or a sample's total for the run.
tsung_sum() { awk -v name="$1" '$1 == "stats:" && $2 == name { s += $3 } END { print s + 0 }' "$2/tsung.log"; }

# tsung_samples NAME FILE: the `stats:` lines of sample metric NAME in tsung.log FILE that hold at
# least one value (column 3: count, 4: mean, 5: stddev, 6: max, 7: min).
tsung_samples() { awk -v name="$1" '$1 == "stats:" && $2 == name && $3 > 0' "$2"; }

# count_lines FILE: line count (0 when FILE is missing).
count_lines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }

# served_as_recorded RUN_DIR ACCESS_LOG: every request the run recorded (stats.jsonl's final line)
# reached the server, which served no more than those plus the ones a stop cut off in flight
# (error_abort_inflight: sent, maybe served, their answers never read). The run must be over.
# Sets RECORDED_REQUESTS.
served_as_recorded() {
  local total cut served
  read -r total cut < <(python3 -c 'import json,sys
m = [json.loads(l) for l in open(sys.argv[1]) if "\"final\":true" in l][0]["metrics"]
print(m["request"]["count"], m.get("error_abort_inflight", {}).get("total", 0))' "$1/stats.jsonl")
  served=$(count_lines "$2")
  log "requests: $total recorded (+ $cut cut off in flight), $served served"
  [ "$total" -le "$served" ] && [ "$served" -le "$((total + cut))" ] || fail "recorded $total (+ $cut cut), the server served $served"
  RECORDED_REQUESTS=$total
}

# run_loadctl SCENARIO [RUN_DIR [OPTIONS...]]: `loadctl -q -f SCENARIO --run-dir RUN_DIR OPTIONS
# start` (RUN_DIR defaults to $TEST_TMP/run), its stdout and stderr in RUN_DIR.out and RUN_DIR.err;
# fails, showing the errors, unless loadctl exits 0.
run_loadctl() {
  local scenario=$1 run=${2:-$TEST_TMP/run} st=0
  shift $(($# < 2 ? $# : 2))
  "$LOADCTL" -q -f "$scenario" --run-dir "$run" "$@" start > "$run.out" 2> "$run.err" || st=$?
  [ "$st" = 0 ] || { cat "$run.err" >&2; fail "loadctl exited with $st"; }
}

# start_loadtarget ARGS...: starts loadtarget in the background and waits for one "listening"
# line per --http/--tcp-echo/--udp-echo/--ws-echo argument. Sets LOADTARGET_PID, LOADTARGET_OUT and the
# first LOADTARGET_HTTP_PORT / LOADTARGET_ECHO_PORT / LOADTARGET_UDP_PORT / LOADTARGET_WS_PORT (the real
# ports, so "IP:0" is fine).
start_loadtarget() {
  need_bins loadtarget
  local expected=0 a n
  for a in "$@"; do [[ $a == --http || $a == --tcp-echo || $a == --udp-echo || $a == --ws-echo ]] && expected=$((expected + 1)); done
  LOADTARGET_OUT=$(mktemp "$TEST_TMP/loadtarget.XXXXXX")
  "$LOADTARGET" "$@" >"$LOADTARGET_OUT" 2>&1 &
  LOADTARGET_PID=$!
  on_exit "_stop_pid $LOADTARGET_PID"
  for _ in $(seq 1 100); do
    n=$(grep -c '^listening ' "$LOADTARGET_OUT" || true)
    [ "$n" -ge "$expected" ] && break
    kill -0 "$LOADTARGET_PID" 2>/dev/null || { cat "$LOADTARGET_OUT" >&2; fail "loadtarget exited at start-up"; }
    sleep 0.05
  done
  [ "$n" -ge "$expected" ] || fail "loadtarget did not print its listening lines"
  LOADTARGET_HTTP_PORT=$(awk '/^listening http /{n = split($3, a, ":"); print a[n]; exit}' "$LOADTARGET_OUT")
  LOADTARGET_ECHO_PORT=$(awk '/^listening tcp-echo /{n = split($3, a, ":"); print a[n]; exit}' "$LOADTARGET_OUT")
  LOADTARGET_UDP_PORT=$(awk '/^listening udp-echo /{n = split($3, a, ":"); print a[n]; exit}' "$LOADTARGET_OUT")
  LOADTARGET_WS_PORT=$(awk '/^listening ws-echo /{n = split($3, a, ":"); print a[n]; exit}' "$LOADTARGET_OUT")
}

# _stop_pid PID: SIGTERM, then SIGKILL after 5 s.
_stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# new_token FILE: a fresh random token (32 hex digits) written to FILE (mode 0600, with a newline)
# and printed, for --token-file and --http-token-file.
new_token() {
  local token
  token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '%s\n' "$token" > "$1")
  echo "$token"
}

# start_listening_agent ADDR TOKEN_FILE LOG [ARGS...]: `loadagent --listen ADDR --token-file
# TOKEN_FILE ARGS` in the background (run through $AGENT_VIA when set, e.g. "netns_exec 2" or
# "prlimit --nofile=32"), its output in LOG; sets AGENT_PID (stopped at exit) and fails unless LOG
# says "listening on ADDR" within 10 s.
start_listening_agent() {
  local addr=$1 token=$2 out=$3
  shift 3
  ${AGENT_VIA:-} "$LOADAGENT" --listen "$addr" --token-file "$token" "$@" > "$out" 2>&1 &
  AGENT_PID=$!
  on_exit "_stop_pid $AGENT_PID"
  wait_until 10 grep -q "listening on $addr" "$out" || { cat "$out" >&2; fail "the agent does not listen on $addr"; }
}

# direct_run_works NAME PORT: a 2 s hello_scenario run through the listening agent on 127.0.0.1:PORT
# (client host NAME, --direct, the token in $TEST_TMP/token), into $TEST_TMP/run-direct; fails unless
# it exits 0 with requests sent.
direct_run_works() {
  local st=0
  hello_scenario "$TEST_TMP/direct.xml" 2 "<client host=\"$1\" hostip=\"127.0.0.1\"/>"
  "$LOADCTL" -q -f "$TEST_TMP/direct.xml" --run-dir "$TEST_TMP/run-direct" --direct "$1" --agent-port "$2" \
    --token-file "$TEST_TMP/token" -F 127.0.0.1 --dump-interval 1 start >/dev/null 2>"$TEST_TMP/direct.err" || st=$?
  assert_eq "$st" 0 "exit status of the run through the listening agent ($(cat "$TEST_TMP/direct.err"))"
  [ "$(tsung_sum request "$TEST_TMP/run-direct")" -gt 0 ] || fail "no requests in the direct run"
}

# start_nginx PORT [WORKERS]: private nginx via scripts/nginx_target.sh; sets NGINX_DIR and
# NGINX_ACCESS_LOG ("<addr> "<request>" <status>" per line). With NGINX_DIR set beforehand (a
# directory holding http.conf / server.conf: extra directives), that directory is used.
start_nginx() {
  need_bins nginx
  NGINX_DIR=${NGINX_DIR:-$(mktemp -d "$TEST_TMP/nginx.XXXXXX")}
  NGINX_ACCESS_LOG=$NGINX_DIR/access.log
  on_exit "'$LOADCTL_SRC/scripts/nginx_target.sh' stop '$NGINX_DIR'"
  "$LOADCTL_SRC/scripts/nginx_target.sh" start "$NGINX_DIR" "$1" "${2:-1}" >&2 || fail "nginx did not start"
}

# hello_scenario FILE SECONDS CLIENT_XML [MONITORING_XML [RATE]]: GET /hello on loadtarget's HTTP port,
# RATE (default 5) users/s for SECONDS, with the given <client> elements and <monitoring> element.
hello_scenario() {
  cat >"$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients>$3</clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>${4:-}
  <load><arrivalphase phase="1" duration="$2" unit="second"><users arrivalrate="${5:-5}" unit="second"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/hello" method="GET" version="1.1"/></request>
  </session></sessions>
</tsung>
XML
}

# one_request_scenario FILE PORT URL RATE SECONDS [CLIENT_ATTRS]: RATE users a second for SECONDS,
# each one GET URL on 127.0.0.1:PORT (so requests/s at the server = arrivals/s); CLIENT_ATTRS are
# more attributes of the local <client> (e.g. ' cpu="2"').
one_request_scenario() {
  cat >"$1" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"${6:-}/></clients>
  <servers><server host="127.0.0.1" port="$2" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="$5" unit="second"><users arrivalrate="$4" unit="second"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="$3"/></request>
  </session></sessions>
</tsung>
XML
}

# held_users_scenario FILE CLIENT_XML PORT USERS RATE THINK: USERS users (maxnumber) arriving at RATE
# a second, each one GET /hello on 127.0.0.1:PORT then THINK seconds holding its connection.
held_users_scenario() {
  cat >"$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients>$2</clients>
  <servers><server host="127.0.0.1" port="$3" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="10" unit="second"><users maxnumber="$4" arrivalrate="$5" unit="second"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/hello" method="GET" version="1.1"/></request>
    <thinktime value="$6"/>
  </session></sessions>
</tsung>
XML
}

# dashboard_url RUN_DIR: the live dashboard's address the controller logged in RUN_DIR/controller.log
# ("dashboard on http://127.0.0.1:PORT/"); empty until it is there. wait_dashboard RUN_DIR SECONDS
# waits for it and sets DASHBOARD_URL.
dashboard_url() { awk '/ dashboard on http:/ { for (i = 1; i <= NF; ++i) if ($i ~ /^http:/) { print $i; exit } }' "$1/controller.log" 2>/dev/null; }
wait_dashboard() {
  _has_dashboard() { [ -n "$(dashboard_url "$1")" ]; }
  wait_until "$2" _has_dashboard "$1" || fail "no dashboard address in $1/controller.log"
  DASHBOARD_URL=$(dashboard_url "$1")
}

# start_dashboard_run RUN_DIR ARGS...: `loadctl ARGS` (options naming RUN_DIR and --http, then
# start) in the background, stderr in $TEST_TMP/err; sets RUN_PID (killed at exit) and, once the
# controller logged it (20 s at most), DASHBOARD_URL.
start_dashboard_run() {
  local run=$1
  shift
  "$LOADCTL" "$@" > /dev/null 2> "$TEST_TMP/err" &
  RUN_PID=$!
  on_exit "kill -9 $RUN_PID 2>/dev/null || true"
  wait_dashboard "$run" 20
}

# Steering tests (test_dashboard_steer.sh, test_dashboard_agents.sh). start_timed_nginx FIELDS:
# nginx (2 workers) on a free port (NGINX_PORT) logging "$msec FIELDS" per request to
# TIMED_LOG. steer ARGS: `loadctl ARGS`, which must succeed, its answer in $TEST_TMP/steer.out;
# steer_post PATH: a steering POST to $DASHBOARD_URL with the token $HTTP_TOKEN (as the page sends
# it), its answer in $TEST_TMP/post.out. Both log the answer and append the time they returned
# (seconds since the epoch) to STEER_MARKS.
start_timed_nginx() {
  NGINX_DIR=$TEST_TMP/nginx
  mkdir -p "$NGINX_DIR"
  echo "log_format timed '\$msec $1';" > "$NGINX_DIR/http.conf"
  echo "access_log $NGINX_DIR/timed.log timed;" > "$NGINX_DIR/server.conf"
  NGINX_PORT=$(free_port)
  start_nginx "$NGINX_PORT" 2
  TIMED_LOG=$NGINX_DIR/timed.log
}
STEER_MARKS=()
steer() {
  "$LOADCTL" "$@" > "$TEST_TMP/steer.out" 2>&1 || { cat "$TEST_TMP/steer.out" >&2; fail "loadctl $*"; }
  STEER_MARKS+=("$(date +%s.%N)")
  log "loadctl $*: $(cat "$TEST_TMP/steer.out")"
}
steer_post() {
  curl -sS --max-time 5 -X POST -H 'X-Loadctl: 1' -H "Authorization: Bearer $HTTP_TOKEN" "$DASHBOARD_URL$1" \
    > "$TEST_TMP/post.out" || fail "POST $1"
  STEER_MARKS+=("$(date +%s.%N)")
  log "POST $1: $(cat "$TEST_TMP/post.out")"
}
