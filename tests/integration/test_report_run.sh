#!/usr/bin/env bash
# Usage: LOADCTL_BIN=build bash tests/integration/test_report_run.sh
# Runs a 3 s scenario against loadtarget with `start --report --fail-if`, checks report.html and
# summary.json against tsung.log, then `loadctl report` with thresholds (exit 3 when crossed,
# exit 1 for a bad expression) and a two-run comparison.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget python3

start_loadtarget --http 127.0.0.1:0 --threads 1
sed "s/PORT/$LOADTARGET_HTTP_PORT/" "$LOADCTL_SRC/tests/integration/report_scenario.xml" > "$TEST_TMP/report.xml"

run1=$TEST_TMP/run1
log "run 1 with --report and a threshold that is not crossed"
status=0
"$LOADCTL" -q -f "$TEST_TMP/report.xml" --run-dir "$run1" --dump-interval 1 start --report \
  --fail-if 'count(404) > 1000000' --fail-if 'errors > 50%' > "$TEST_TMP/out1" 2> "$TEST_TMP/err1" || status=$?
[ "$status" -eq 0 ] || { cat "$TEST_TMP/err1" >&2; fail "run 1 exited $status"; }
[ -s "$run1/report.html" ] || fail "no report.html after start --report"
[ -s "$run1/summary.json" ] || fail "no summary.json after start --report"
grep -q 'threshold ok: count(404) = ' "$TEST_TMP/err1" || fail "threshold result not printed"

# summary.json numbers = tsung.log numbers, recomputed here.
python3 - "$run1" <<'PY' || fail "summary.json does not match tsung.log"
import json, re, sys
d = sys.argv[1]
s = json.load(open(d + "/summary.json"))
log = open(d + "/tsung.log").read()
req = [(int(n), float(m)) for n, m in re.findall(r"^stats: request (\d+) (\S+) ", log, re.M)]
count = sum(n for n, _ in req)
mean = sum(n * m for n, m in req) / count
r = s["metrics"]["request"]
assert r["count"] == count, (r["count"], count)
assert abs(r["mean"] - mean) < 1e-9 * max(1, mean), (r["mean"], mean)
last404 = re.findall(r"^stats: 404 -?\d+ (\d+)$", log, re.M)[-1]
assert s["metrics"]["404"]["total"] == int(last404)
assert s["metrics"]["404"]["total"] > 0
final = [json.loads(l) for l in open(d + "/stats.jsonl") if '"final":true' in l][0]
assert r["p99"] == final["metrics"]["request"]["p99"], (r["p99"], final["metrics"]["request"]["p99"])
assert s["sources"]["percentiles"] is True and s["passed"] is True
assert [t["failed"] for t in s["thresholds"]] == [False, False]
assert "tr_pair" in s["metrics"]
PY

html=$run1/report.html
for section in 'id="main"' 'id="percentiles"' 'id="transactions"' 'id="network"' 'id="counters"' 'id="codes"' \
               'id="users"' 'id="arrival"' 'id="rt-request"' 'id="rt-page"' 'id="rt-tr_pair"' 'id="rate"' \
               'id="codes"' 'id="thresholds"' 'class="marker"' 'class="band"'; do
  grep -q "$section" "$html" || fail "report.html lacks $section"
done
grep -q '<script' "$html" && fail "report.html contains a script"
grep -Eq '(src|href)="https?:' "$html" && fail "report.html references a remote resource"
n=$(grep -o '<polyline class="series" data-points="[1-9]' "$html" | wc -l)
[ "$n" -ge 8 ] || fail "only $n non-empty series in report.html"

log "loadctl report with a crossed threshold: exit 3"
status=0
"$LOADCTL" report "$run1" --fail-if 'count(404) > 0' --fail-if 'p99(request) > 3600s' 2> "$TEST_TMP/err2" || status=$?
assert_eq "$status" 3 "exit status with a crossed threshold"
grep -q 'threshold FAILED: count(404) = ' "$TEST_TMP/err2" || fail "failed threshold not named"
python3 -c "
import json,sys; s=json.load(open('$run1/summary.json'))
assert s['passed'] is False
assert [t['failed'] for t in s['thresholds']] == [True, False], s['thresholds']
assert s['thresholds'][0]['value'] > 0" || fail "summary.json does not record the failed threshold"
grep -q 'FAILED' "$html" || fail "report.html does not say the thresholds failed"

log "bad expression: exit 1, named"
status=0
"$LOADCTL" report "$run1" --fail-if 'p99(request) >> 2' 2> "$TEST_TMP/err3" || status=$?
assert_eq "$status" 1 "exit status for a bad expression"
grep -q "bad threshold 'p99(request) >> 2'" "$TEST_TMP/err3" || fail "bad expression not named: $(cat "$TEST_TMP/err3")"

log "start --fail-if crossed: exit 3"
status=0
"$LOADCTL" -q -f "$TEST_TMP/report.xml" --run-dir "$TEST_TMP/run2" --dump-interval 1 start \
  --fail-if 'rate(request) < 1000000' > /dev/null 2> "$TEST_TMP/err4" || status=$?
assert_eq "$status" 3 "start exit status with a crossed threshold"
[ -s "$TEST_TMP/run2/report.html" ] || fail "no report.html after start --fail-if"

log "comparison"
"$LOADCTL" -q report "$run1" "$TEST_TMP/run2" || fail "report A B failed"
cmp=$run1/compare.html
[ -s "$cmp" ] || fail "no compare.html"
grep -q 'B: run2' "$cmp" || fail "compare.html lacks run B's column"
grep -q 'stroke-dasharray="6,3"' "$cmp" || fail "compare.html has no overlaid (dashed) run"
log "ok"
