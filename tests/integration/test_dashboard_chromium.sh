#!/usr/bin/env bash
# The live dashboard page in headless Chromium (no network but loopback, throw-away profiles):
# during a real run it shows the run's numbers and they change from one load to the next while the
# page polls; after the run (-k keeps the dashboard) the values on the page equal stats.jsonl's
# final line and the report is linked. No console errors; a screenshot of each is kept in
# $LOADCTL_BIN/test-artifacts/. Without /usr/bin/chromium (scripts/deps.sh installs it): SKIP.
source "$(dirname "$0")/lib.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "SKIP: $TEST_NAME: $CHROMIUM not installed (scripts/deps.sh installs the chromium package)"
  exit 0
fi
need_bins loadctl loadagent loadtarget python3 curl
PY=$(command -v /usr/bin/python3 || command -v python3)
private_home

start_loadtarget --http 127.0.0.1:0
cat > "$TEST_TMP/s.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="24" unit="second"><users arrivalrate="15" unit="second"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <for from="1" to="4" incr="1" var="i">
      <request><http url="/hello"/></request>
      <thinktime value="0.2" random="false"/>
    </for>
    <request><http url="/missing-page"/></request>
  </session></sessions>
</tsung>
XML
run=$TEST_TMP/run
start_dashboard_run "$run" -q -f "$TEST_TMP/s.xml" --run-dir "$run" --dump-interval 1 --http 127.0.0.1:0 -k start --report
url=$DASHBOARD_URL

artifacts=$LOADCTL_BIN/test-artifacts
mkdir -p "$artifacts"
# chromium ARGS...: the page loaded, its scripts run for 3 s of virtual time (three polls and more).
chromium() {
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-default-apps \
    --user-data-dir="$(mktemp -d "$TEST_TMP/profile.XXXXXX")" --enable-logging=stderr --v=0 \
    --virtual-time-budget=3000 "$@"
}
dom() {  # dom NAME: the DOM as Chromium built it, in $TEST_TMP/NAME.html
  chromium --dump-dom "$url" > "$TEST_TMP/$1.html" 2> "$TEST_TMP/$1.err" || { tail -5 "$TEST_TMP/$1.err" >&2; fail "chromium --dump-dom"; }
  grep -iE 'CONSOLE|Uncaught' "$TEST_TMP/$1.err" && fail "the page logged errors in Chromium ($1)"
  return 0
}
values() {  # values NAME: the page's v-* values as JSON
  "$PY" - "$TEST_TMP/$1.html" <<'PY'
import json, re, sys
dom = open(sys.argv[1]).read()
v = {k: re.sub(r"<[^>]*>", "", t).strip() for k, t in re.findall(r'id="(v-[a-z0-9-]+)"[^>]*>(.*?)</', dom, re.S)}
v["polls"] = int((re.search(r'data-polls="(\d+)"', dom) or [0, 0])[1])
v["chart_points"] = [int(n) for n in re.findall(r'data-points="(\d+)"', dom)]
v["report_link"] = (re.search(r'id="report-link" href="([^"]+)"', dom) or [0, ""])[1]
v["errors_by_name"] = dict(re.findall(r'data-error="([^"]+)">(\d+)<', dom))
v["monitors"] = [h for h in re.findall(r'data-monitor="([^"]+)"', dom) if not h.startswith("${")]  # not the script's template
print(json.dumps(v))
PY
}

running() { curl -s --max-time 3 "${url}api/status" | grep -q '"requests": [1-9]'; }
wait_until 20 running || fail "the run never served requests"
chromium --screenshot="$artifacts/dashboard-running.png" --window-size=1280,1400 "$url" > "$TEST_TMP/shot1.err" 2>&1 \
  || fail "screenshot during the run"
dom during1
values during1 > "$TEST_TMP/during1.json"
sleep 1  # the run's numbers move on between the two page loads
dom during2
values during2 > "$TEST_TMP/during2.json"
"$PY" - "$TEST_TMP/during1.json" "$TEST_TMP/during2.json" <<'PY' || fail "the page during the run"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for v in (a, b):
    assert v["v-state"] == "running", v
    assert v["polls"] >= 2, "the page polled %d times in 3 s" % v["polls"]
    assert int(v["v-requests"].replace(",", "")) > 0 and int(v["v-users"]) > 0, v
    assert v["chart_points"] and min(v["chart_points"]) >= 1, v["chart_points"]
    assert v["v-planned"] == "24", v
assert int(b["v-requests"].replace(",", "")) > int(a["v-requests"].replace(",", "")), (a["v-requests"], b["v-requests"])
assert float(b["v-elapsed"]) > float(a["v-elapsed"]), (a["v-elapsed"], b["v-elapsed"])
assert max(b["chart_points"]) > max(a["chart_points"]), "the charts did not grow"
print("during:", a["v-elapsed"], "s", a["v-requests"], "->", b["v-elapsed"], "s", b["v-requests"])
PY

finished() { curl -s --max-time 3 "${url}api/status" | grep -q '"report": "/report"'; }
wait_until 40 finished || fail "the run did not finish with its report linked"
dom after
values after > "$TEST_TMP/after.json"
chromium --screenshot="$artifacts/dashboard-finished.png" --window-size=1280,1400 "$url" > "$TEST_TMP/shot2.err" 2>&1 \
  || fail "screenshot after the run"
[ -s "$artifacts/dashboard-finished.png" ] && [ -s "$artifacts/dashboard-running.png" ] || fail "no screenshots"
"$PY" - "$TEST_TMP/after.json" "$run/stats.jsonl" "$url" <<'PY' || fail "the finished page differs from stats.jsonl"
import json, sys
v = json.load(open(sys.argv[1]))
final = [json.loads(l) for l in open(sys.argv[2]) if '"final":true' in l][0]["metrics"]
num = lambda s: int(s.replace(",", ""))
assert v["v-state"] == "finished", v
assert num(v["v-requests"]) == final["request"]["count"], (v["v-requests"], final["request"])
assert num(v["v-users-started"]) == final["users_count"]["total"], (v["v-users-started"], final["users_count"])
assert num(v["v-users-finished"]) == final["finish_users_count"]["total"]
assert num(v["v-errors"]) == 0, v["v-errors"]
p95 = final["request"]["p95"]
assert abs(float(v["v-req-p95"].replace(",", "")) - p95) <= 0.05 + 0.001 * p95, (v["v-req-p95"], p95)
assert v["report_link"] == "/report", v["report_link"]  # relative: the bind address may be 0.0.0.0
assert len(v["monitors"]) == 1, v["monitors"]  # this host, monitored by its agent
print("after:", v["v-requests"], "requests,", v["v-users-started"], "users, p95", v["v-req-p95"], "ms")
PY
"$LOADCTL" stop > /dev/null 2>&1 || fail "loadctl stop (-k)"
wait $RUN_PID || fail "exit status of the run"
log "screenshots: $artifacts/dashboard-running.png $artifacts/dashboard-finished.png"
log "ok"
