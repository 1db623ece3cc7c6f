#!/usr/bin/env bash
# Usage: LOADCTL_BIN=build bash tests/integration/test_report_tsung.sh
# Renders the log written by Tsung 1.7.0 itself (no stats.jsonl: no percentiles), and a truncated
# copy of it (the report says how many lines it skipped).
source "$(dirname "$0")/lib.sh"
need_bins loadctl python3

dir=$TEST_TMP/tsung
mkdir -p "$dir"
cp "$LOADCTL_SRC/tests/fixtures/tsung/tsung-1.7.0.log" "$dir/tsung.log"
cp "$LOADCTL_SRC/tests/fixtures/tsung/tsung-1.7.0-scenario.xml" "$dir/"
"$LOADCTL" -q report "$dir" || fail "report of Tsung's log failed"
grep -q 'percentiles come from stats.jsonl' "$dir/report.html" || fail "missing 'no percentiles' note"
grep -q 'id="mon-cpu"' "$dir/report.html" || fail "no cpu chart for the monitored host"
grep -q 'tsung_controller@vm' "$dir/report.html" || fail "monitored host not named"
python3 - "$dir" <<'PY' || fail "summary.json of Tsung's log is wrong"
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["metrics"]["request"]["count"] == 91 + 103 + 22
assert s["metrics"]["200"]["total"] == 144
assert s["sources"]["percentiles"] is False
assert "p99" not in s["metrics"]["request"]
assert s["errors"]["total"] == 68 + 17
PY

status=0
"$LOADCTL" -q report "$dir" --fail-if 'p99(request) > 1s' 2> "$TEST_TMP/err" || status=$?
assert_eq "$status" 3 "a percentile threshold without stats.jsonl cannot pass"
grep -q 'not evaluable' "$TEST_TMP/err" || fail "not-evaluable threshold not explained"
"$LOADCTL" -q report "$dir" --fail-if 'mean(request) > 1s' --fail-if 'count(500) > 0' || fail "passing thresholds failed"

log "truncated log"
cut=$TEST_TMP/cut
mkdir -p "$cut"
head -c 2600 "$LOADCTL_SRC/tests/fixtures/tsung/tsung-1.7.0.log" > "$cut/tsung.log"
"$LOADCTL" -q report "$cut" || fail "report of a truncated log failed"
grep -q 'line(s) skipped' "$cut/report.html" || fail "truncated log: skipped lines not reported"
python3 -c "import json; s=json.load(open('$cut/summary.json')); assert s['sources']['skipped_lines'] >= 1" \
  || fail "summary.json does not count skipped lines"

status=0
"$LOADCTL" report "$TEST_TMP/nowhere" 2> "$TEST_TMP/err" || status=$?
assert_eq "$status" 2 "exit status for a directory without tsung.log"
log "ok"
