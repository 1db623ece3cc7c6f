#!/usr/bin/env bash
# `loadctl status` and `loadctl stop` through the controller's control socket: status during a run
# shows its users and phase; stop ends a 60 s run within seconds, as SIGTERM does (exit 143, final
# statistics written, tsung.log counting what loadtarget served), after `stop --agent 1` stopped one
# of the two agents while the other went on; afterwards nothing runs. The
# socket is 0600 in the run's directory, its registry entry in ~/.loadctl/run (0700); a malformed
# request is refused without harming the run. HOME is private to this test.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget python3
# Debian's python3 (a python3 earlier in PATH may be a slow shim, or unreadable for user nobody).
PY=$(command -v /usr/bin/python3 || command -v python3)
private_home

start_loadtarget --http 127.0.0.1:0 --access-log "$TEST_TMP/access.log"
cat > "$TEST_TMP/s.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true" cpu="2"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load>
    <arrivalphase phase="1" duration="30" unit="second"><users arrivalrate="10" unit="second"/></arrivalphase>
    <arrivalphase phase="2" duration="30" unit="second"><users arrivalrate="10" unit="second"/></arrivalphase>
  </load>
  <sessions><session name="s" probability="100" type="ts_http">
    <for from="1" to="20" incr="1" var="i">
      <request><http url="/hello"/></request>
      <thinktime value="0.5" random="false"/>
    </for>
  </session></sessions>
</tsung>
XML

status() { "$LOADCTL" "$@" status; }
"$LOADCTL" -q -f "$TEST_TMP/s.xml" --run-dir "$TEST_TMP/run" --dump-interval 1 start --report > /dev/null 2> "$TEST_TMP/err" &
pid=$!
on_exit "kill -9 $pid 2>/dev/null || true"

# 10 new users a second, each 10 s long sending 2 requests a second: more than 15 running and
# more than 5 requests a second after 2 s.
users_running() {
  status > "$TEST_TMP/st" 2>&1 && [ "$(awk '/Current users:/ {print $3}' "$TEST_TMP/st")" -gt 15 ] &&
    [ "$(awk '/Current request rate:/ {print int($4)}' "$TEST_TMP/st")" -ge 5 ]
}
wait_until 20 users_running || { cat "$TEST_TMP/st" "$TEST_TMP/err" >&2; fail "status never showed running users and requests"; }
cat "$TEST_TMP/st" >&2
grep -q '^loadctl is running \[OK\]$' "$TEST_TMP/st" || fail "status headline"
# Phase 1 lasts 5 s: on a slow machine phase 2 may have begun by now.
grep -Eq '^ Current phase: +[12]$' "$TEST_TMP/st" || fail "status phase"
grep -Eq '^ Phases planned: +2$' "$TEST_TMP/st" || fail "status phases planned"
grep -Eq '^ Current request rate: +[0-9]+\.[0-9]{2} req/sec$' "$TEST_TMP/st" || fail "status request rate"
grep -Eq "^ Log directory: +$TEST_TMP/run$" "$TEST_TMP/st" || fail "status log directory"
grep -Eq "^ Controller pid: +$pid$" "$TEST_TMP/st" || fail "status pid"
grep -Eq '^ Agent: +0 on localhost: running' "$TEST_TMP/st" || fail "status agent 0 line"
grep -Eq '^ Agent: +1 on localhost: running' "$TEST_TMP/st" || fail "status agent 1 line"

# The same run through its log directory and its log root, and as JSON.
status --run-dir "$TEST_TMP/run" | grep -q '^loadctl is running' || fail "status --run-dir"
status -l "$TEST_TMP" | grep -q '^loadctl is running' || fail "status -l"
log "status shown"
"$LOADCTL" status --json > "$TEST_TMP/st.json"
"$PY" - "$TEST_TMP/st.json" <<'PY' || fail "status --json"
import json, sys
s = json.loads(open(sys.argv[1]).read())
assert s["state"] == "running" and s["phase"] in (1, 2) and s["phases"] == 2, s
assert s["users"] > 15 and s["users_started"] > 10 and s["requests"] > 0 and s["request_rate"] > 0, s
assert s["agents"][0]["state"] == "running", s
PY

# Owner-only: the socket 0600, the registry 0700 with a symlink named after the controller's pid.
assert_eq "$(stat -c %a "$TEST_TMP/run/control.sock")" 600 "socket mode"
assert_eq "$(stat -c %a "$HOME/.loadctl/run")" 700 "registry directory mode"
assert_eq "$(stat -c %a "$HOME/.loadctl")" 700 "~/.loadctl mode"
assert_eq "$(readlink "$HOME/.loadctl/run/$(hostname)-$pid")" "$TEST_TMP/run/control.sock" "registry entry"

# Garbage and an oversized request: refused, the connection closed, the run unharmed.
"$PY" - "$TEST_TMP/run/control.sock" <<'PY' || fail "malformed requests"
import socket, sys
for payload in (b"reboot\n", b"x" * 5000, b"status\0\n"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sys.argv[1])
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    assert data.startswith(b"error: unknown request"), (payload[:10], data)
    s.close()
PY
kill -0 "$pid" || fail "the controller died of a malformed request"
log "malformed requests refused"
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  chmod 755 "$TEST_TMP" "$TEST_TMP/run"  # only the socket's own mode keeps another user out
  setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect('$TEST_TMP/run/control.sock')
except PermissionError:
    sys.exit(0)
sys.exit(1)" || fail "another user could connect to the control socket"
  chmod 700 "$TEST_TMP" "$TEST_TMP/run"
else
  log "SKIP: another user's connection refused (needs root and setpriv)"
fi

# Two runs at once: status shows both; stop wants a choice and stops only the run chosen. The second
# run's users only think (no request reaches loadtarget).
cat > "$TEST_TMP/idle.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="60" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>
  <sessions><session name="idle" probability="100" type="ts_http"><thinktime value="30"/></session></sessions>
</tsung>
XML
"$LOADCTL" -q -f "$TEST_TMP/idle.xml" --run-dir "$TEST_TMP/run2" start > /dev/null 2>&1 &
pid2=$!
on_exit "kill -9 $pid2 2>/dev/null || true"
two_running() { [ "$(status 2> /dev/null | grep -c '^loadctl is running \[OK\]$')" = 2 ]; }
wait_until 15 two_running || fail "status did not show both runs"
set +e
"$LOADCTL" stop > "$TEST_TMP/stop2" 2>&1
rc=$?
set -e
assert_eq "$rc" 64 "stop with two runs in progress"
grep -q -- "--run-dir $TEST_TMP/run2$" "$TEST_TMP/stop2" || fail "stop did not list the runs: $(cat "$TEST_TMP/stop2")"
"$LOADCTL" stop --run-dir "$TEST_TMP/run2" > "$TEST_TMP/stop2" 2>&1 || fail "stop --run-dir: $(cat "$TEST_TMP/stop2")"
set +e
wait "$pid2"
rc=$?
set -e
assert_eq "$rc" 143 "the second run stopped by loadctl stop --run-dir"
kill -0 "$pid" || fail "stopping the second run stopped the first"

# One agent stops, the other goes on.
set +e
"$LOADCTL" stop --agent 7 > "$TEST_TMP/stop7" 2>&1
rc=$?
set -e
assert_eq "$rc" 64 "stop --agent of an agent that does not exist"
grep -q '^error: no agent 7$' "$TEST_TMP/stop7" || fail "stop --agent 7: $(cat "$TEST_TMP/stop7")"
"$LOADCTL" stop --agent 1 > "$TEST_TMP/stop1" 2>&1 || fail "stop --agent 1: $(cat "$TEST_TMP/stop1")"
grep -q '^stopping agent 1 on localhost' "$TEST_TMP/stop1" || fail "stop --agent 1 said: $(cat "$TEST_TMP/stop1")"
agent1_done() { status > "$TEST_TMP/st" 2>&1 && grep -Eq '^ Agent: +1 on localhost: done' "$TEST_TMP/st"; }
wait_until 10 agent1_done || { cat "$TEST_TMP/st" >&2; fail "agent 1 did not stop"; }
grep -q '^loadctl is running \[OK\]$' "$TEST_TMP/st" || fail "the run stopped with agent 1"
grep -Eq '^ Agent: +0 on localhost: running' "$TEST_TMP/st" || fail "agent 0 stopped with agent 1"

stop_at=$SECONDS
"$LOADCTL" stop > "$TEST_TMP/stop" 2>&1 || { cat "$TEST_TMP/stop" >&2; fail "loadctl stop failed"; }
cat "$TEST_TMP/stop" >&2
# stop answers once the report is written.
[ -s "$TEST_TMP/run/report.html" ] || fail "loadctl stop returned before report.html was written"
grep -q '^stopping' "$TEST_TMP/stop" || fail "stop did not say it is stopping"
grep -q '^loadctl has finished (loadctl stop): exit status 143$' "$TEST_TMP/stop" || fail "stop's final status"
set +e
wait "$pid"
rc=$?
set -e
stop_took=$((SECONDS - stop_at))
[ "$stop_took" -le 30 ] || fail "loadctl stop took ${stop_took}s"
assert_eq "$rc" 143 "exit status of a run stopped by loadctl stop (as SIGTERM)"
grep -q '"stop_reason": "loadctl stop"' "$TEST_TMP/run/run.json" || fail "run.json stop reason"
grep -q '"exit_status": 143' "$TEST_TMP/run/run.json" || fail "run.json exit status"

# tsung.log is complete: its last dump is written and it counts what loadtarget served (a request
# cut off in flight by the stop may have been served: error_abort_inflight).
requests=$(tsung_sum request "$TEST_TMP/run")
# The last dump's request line carries the run's total count (its last field).
final=$(awk '/^# stats: dump at/ { last = "" } $1 == "stats:" && $2 == "request" { last = $NF } END { print last }' \
  "$TEST_TMP/run/tsung.log")
assert_eq "$final" "$requests" "request total in tsung.log's final dump"
cut=$(tsung_sum error_abort_inflight "$TEST_TMP/run")
served=$(count_lines "$TEST_TMP/access.log")
log "requests=$requests cut=$cut served=$served (stop took ${stop_took}s)"
[ "$requests" -gt 20 ] || fail "too few requests: $requests"
[ "$requests" -le "$served" ] && [ "$served" -le "$((requests + cut))" ] || fail "recorded $requests (+ $cut cut), served $served"

# Nothing runs any more: the socket and the registry entry are gone, status and stop say so.
[ ! -e "$TEST_TMP/run/control.sock" ] || fail "control.sock left behind"
[ ! -e "$HOME/.loadctl/run/$(hostname)-$pid" ] || fail "registry entry left behind"
set +e
out=$("$LOADCTL" status)
rc=$?
set -e
assert_eq "$out" "loadctl is not started" "status after the run"
assert_eq "$rc" 1 "status exit when nothing runs"
set +e
"$LOADCTL" stop > /dev/null
rc=$?
set -e
assert_eq "$rc" 1 "stop exit when nothing runs"

# Tsung's debug: start with controller.log at debug level. view (test_view.sh) without a log root
# (no run yet under this HOME's ~/.loadctl/log) is a usage error that names it.
sed 's/duration="30"/duration="1"/; s/to="20"/to="2"/' "$TEST_TMP/s.xml" > "$TEST_TMP/short.xml"
"$LOADCTL" -q -f "$TEST_TMP/short.xml" --run-dir "$TEST_TMP/debug" debug > /dev/null 2>&1 || fail "loadctl debug"
grep -q ' debug: tick: ' "$TEST_TMP/debug/controller.log" || fail "debug: no debug lines in controller.log"
grep -q ' debug: control socket: ' "$TEST_TMP/run/controller.log" && fail "start logged at debug level"
set +e
err=$("$LOADCTL" view 2>&1)
rc=$?
set -e
assert_eq "$rc" 64 "view exit status"
[[ $err == *"no log root $HOME/.loadctl/log"* ]] || fail "view: $err"
