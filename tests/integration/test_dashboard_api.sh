#!/usr/bin/env bash
# The controller's dashboard API (docs/dashboard.md) during and after a real run against
# loadtarget: /api/status shows the running users, the agents' users and req/s; /api/stats has one
# point a second whose requests add up to the run's total; /metrics is valid Prometheus text
# (promtool check metrics when the Debian prometheus package is installed; the unit test
# MetricsExposition parses it strictly in any case) and its counters equal stats.jsonl's final
# line. -k keeps the dashboard after the run and links the report; `loadctl stop` ends it. Then:
# -n runs without a dashboard; a taken default port is a note and the run goes on; a taken
# --http port fails the run (exit 2); a non-loopback bind asks for the printed token.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget curl python3
PY=$(command -v /usr/bin/python3 || command -v python3)
private_home

start_loadtarget --http 127.0.0.1:0
cat > "$TEST_TMP/s.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true" cpu="2"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="6" unit="second"><users arrivalrate="20" unit="second"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <transaction name="t"><for from="1" to="5" incr="1" var="i">
      <request><http url="/hello"/></request>
      <thinktime value="0.2" random="false"/>
    </for></transaction>
  </session></sessions>
</tsung>
XML

run=$TEST_TMP/run
start_dashboard_run "$run" -f "$TEST_TMP/s.xml" --run-dir "$run" --dump-interval 1 --http 127.0.0.1:0 -k start --report
url=$DASHBOARD_URL
grep -q "^dashboard: $url\$" "$TEST_TMP/err" || fail "the dashboard address is not on the console"
log "dashboard at $url"
api() { curl -sS --max-time 5 "$url$1"; }

running() {
  api api/status > "$TEST_TMP/st.json" &&
    "$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["state"]=="running" and s["users"]>5 and s["request_rate"]>0 and all(a["users"]>0 and a["request_rate"]>0 for a in s["agents"]) and any(m["cpu"] is not None and m["load"] is not None for m in s["monitors"]) else 1)' "$TEST_TMP/st.json"
}
wait_until 20 running || { cat "$TEST_TMP/st.json" >&2; fail "/api/status never showed users and requests on both agents, and monitors"; }
"$PY" - "$TEST_TMP/st.json" "$url" <<'PY' || fail "/api/status during the run"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["dashboard"] == sys.argv[2], s["dashboard"]
assert s["phase"] == 1 and s["phases"] == 1 and s["planned"] == 6, s
assert len(s["agents"]) == 2 and all(a["state"] == "running" and a["hostname"] for a in s["agents"]), s["agents"]
assert s["request"] and s["request"]["p50"] <= s["request"]["p95"] <= s["request"]["p99"], s["request"]
# The agents' host (both agents run here) is monitored: cpu %, free memory, load.
hosts = {a["hostname"] for a in s["agents"]}
mons = {m["host"]: m for m in s["monitors"]}
assert hosts <= set(mons), (hosts, s["monitors"])
m = mons[next(iter(hosts))]
assert 0 <= m["cpu"] <= 100 and m["freemem"] > 0 and m["load"] >= 0, m
PY
api "api/stats?since=-1" > "$TEST_TMP/early.json"

# The run ends; -k keeps the dashboard: its status says finished and links the report.
finished() { api api/status > "$TEST_TMP/final.json" && grep -q '"state": "finished"' "$TEST_TMP/final.json" && grep -q '"report": "/report"' "$TEST_TMP/final.json"; }
wait_until 40 finished || { cat "$TEST_TMP/final.json" "$TEST_TMP/err" >&2; fail "the kept dashboard never showed the finished run"; }
kill -0 $RUN_PID 2>/dev/null || fail "-k: the controller exited after the run"
api api/stats > "$TEST_TMP/stats.json"
api metrics > "$TEST_TMP/metrics.txt"
curl -sS --max-time 5 -o "$TEST_TMP/report.html" -w '%{http_code}' "${url}report" | grep -q 200 || fail "/report"
cmp -s "$TEST_TMP/report.html" "$run/report.html" || fail "/report is not report.html"
"$PY" - "$TEST_TMP/final.json" "$TEST_TMP/early.json" "$TEST_TMP/stats.json" "$TEST_TMP/metrics.txt" "$run/stats.jsonl" <<'PY' || fail "API values differ from stats.jsonl"
import json, re, sys
final, early, stats, metrics, jsonl = sys.argv[1:]
s = json.load(open(final))
last = [json.loads(l) for l in open(jsonl) if '"final":true' in l][0]["metrics"]
total = last["request"]["count"]
assert s["requests"] == total, (s["requests"], total)
started = last["users_count"]["total"]
assert s["users_started"] == started and 60 < started < 200, (s["users_started"], started)
# One point a second: the series' requests add up to the run's total, in order, 1 s apart.
pts = json.load(open(stats))["points"]
assert len(pts) >= 6, len(pts)
counted = sum(p["request"]["count"] for p in pts if p["request"])
assert counted == total, (counted, total)
ts = [p["t"] for p in pts]
assert ts == sorted(ts) and all(0.5 < b - a < 1.6 for a, b in zip(ts, ts[1:-1])), ts
assert sum(p["users_started"] for p in pts) == started
# ?since= gives only later points.
e = json.load(open(early))["points"]
assert e and all(p["t"] <= pts[-1]["t"] for p in e)
# /metrics: counters and histogram counts equal stats.jsonl's totals.
def value(name, labels):
    m = re.search(r'^%s\{%s\} (\S+)$' % (re.escape(name), re.escape(labels)), open(metrics).read(), re.M)
    assert m, (name, labels)
    return float(m.group(1))
assert value("loadctl_count_total", 'metric="200"') == last["200"]["total"]
assert value("loadctl_count_total", 'metric="users_count"') == started
assert value("loadctl_duration_seconds_count", 'metric="request"') == total
assert value("loadctl_duration_seconds_bucket", 'metric="request",le="+Inf"') == total
assert value("loadctl_duration_seconds_count", 'metric="tr_t"') == last["tr_t"]["count"] == started
assert value("loadctl_run_state", 'state="finished"') == 1
print("requests", total, "points", len(pts))
PY
if command -v promtool > /dev/null; then
  promtool check metrics < "$TEST_TMP/metrics.txt" > "$TEST_TMP/promtool.out" 2>&1 || { cat "$TEST_TMP/promtool.out" >&2; fail "promtool check metrics"; }
  log "promtool check metrics: ok"
else
  log "promtool not installed: /metrics checked by the unit test's strict parser only"
fi
"$LOADCTL" stop > "$TEST_TMP/stop.out" 2>&1 || { cat "$TEST_TMP/stop.out" >&2; fail "loadctl stop of the kept dashboard"; }
wait_until 10 exited "$RUN_PID" || fail "the controller did not exit after loadctl stop (-k)"
wait $RUN_PID; assert_eq "$?" 0 "exit status of the -k run"
port_open "${url##*:}" && fail "the dashboard still listens"
log "API and -k ok"

# -n: no dashboard at all.
"$LOADCTL" -q -n -f "$TEST_TMP/s.xml" --run-dir "$TEST_TMP/run-n" -w 0 start > /dev/null 2>&1 || fail "-n run"
grep -q "dashboard on\|dashboard:" "$TEST_TMP/run-n/controller.log" && fail "-n: controller.log mentions a dashboard"

# A taken port: the default one is a note (the run goes on), an explicit one fails the run.
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", 8091)); s.listen(1)
except OSError: pass   # held by someone else: taken all the same
print("held", flush=True); time.sleep(30)' > "$TEST_TMP/hold.out" &
hold=$!
on_exit "kill $hold 2>/dev/null || true"
wait_until 5 grep -q held "$TEST_TMP/hold.out" || fail "could not hold port 8091"
held=$("$PY" -c 'import socket; s=socket.socket(); print(s.connect_ex(("127.0.0.1", 8091)))')
if [ "$held" = 0 ]; then
  "$LOADCTL_REAL" -f "$TEST_TMP/s.xml" --run-dir "$TEST_TMP/run-busy" -w 0 start > /dev/null 2> "$TEST_TMP/busy.err" \
    || { cat "$TEST_TMP/busy.err" >&2; fail "a taken default dashboard port failed the run"; }
  grep -q '^note: dashboard: cannot listen on 127.0.0.1:8091: .*the run goes on without a dashboard' "$TEST_TMP/busy.err" \
    || { cat "$TEST_TMP/busy.err" >&2; fail "no clear note about the taken port"; }
  set +e
  "$LOADCTL" -q -f "$TEST_TMP/s.xml" --run-dir "$TEST_TMP/run-busy2" --http 127.0.0.1:8091 start > /dev/null 2> "$TEST_TMP/busy2.err"
  st=$?
  set -e
  assert_eq "$st" 2 "exit status with a taken --http port"
  grep -q '^error: dashboard: cannot listen on 127.0.0.1:8091' "$TEST_TMP/busy2.err" || fail "no error for the taken --http port"
  grep -q 'users_count' "$TEST_TMP/run-busy2/tsung.log" 2>/dev/null && fail "the run started despite its taken --http port"
else
  log "port 8091 could not be held (nothing listens there): busy-port checks skipped"
fi
kill $hold 2>/dev/null || true

# Any address but loopback: a token is required; a random one is printed when none is given.
"$LOADCTL" -f "$TEST_TMP/s.xml" --run-dir "$TEST_TMP/run-token" -w 0 --http 0.0.0.0:0 start > /dev/null 2> "$TEST_TMP/token.err" &
tpid=$!
on_exit "kill -9 $tpid 2>/dev/null || true"
wait_until 20 grep -q '^dashboard token: ' "$TEST_TMP/token.err" || { cat "$TEST_TMP/token.err" >&2; fail "no token printed"; }
token=$(awk '/^dashboard token: /{print $3; exit}' "$TEST_TMP/token.err")
tport=$(awk '/^dashboard: http:/ { n = split($2, a, ":"); sub("/", "", a[n]); print a[n]; exit }' "$TEST_TMP/token.err")
grep -q "$token" "$TEST_TMP/run-token/controller.log" && fail "the token is in controller.log"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tport/api/status")" 401 "no token"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$tport/api/status")" 200 "bearer token"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tport/?token=$token")" 303 "?token= redirect"
wait $tpid || fail "token run failed"
log "ok"
