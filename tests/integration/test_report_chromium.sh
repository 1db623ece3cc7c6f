#!/usr/bin/env bash
# Usage: LOADCTL_BIN=build bash tests/integration/test_report_chromium.sh
# Opens report.html of a short real run in headless Chromium (no network, throw-away profile):
# the page must load without console errors and every chart must have an <svg> with data points.
# Keeps a screenshot in $LOADCTL_BIN/test-artifacts/. Installs nothing: without /usr/bin/chromium
# (scripts/deps.sh installs it) the test prints SKIP and passes.
source "$(dirname "$0")/lib.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "SKIP: $TEST_NAME: $CHROMIUM not installed (scripts/deps.sh installs the chromium package)"
  exit 0
fi
need_bins loadctl loadagent loadtarget python3

start_loadtarget --http 127.0.0.1:0 --threads 1
sed "s/PORT/$LOADTARGET_HTTP_PORT/" "$LOADCTL_SRC/tests/integration/report_scenario.xml" > "$TEST_TMP/report.xml"
run=$TEST_TMP/run
"$LOADCTL" -q -f "$TEST_TMP/report.xml" --run-dir "$run" --dump-interval 1 start --report > /dev/null \
  || fail "loadctl run failed"

chromium() {
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-default-apps \
    --user-data-dir="$(mktemp -d "$TEST_TMP/profile.XXXXXX")" --enable-logging=stderr --v=0 "$@"
}

artifacts=$LOADCTL_BIN/test-artifacts
mkdir -p "$artifacts"
shot=$artifacts/report-screenshot.png
rm -f "$shot"
chromium --screenshot="$shot" --window-size=1280,4000 "file://$run/report.html" > "$TEST_TMP/shot.out" 2>&1 \
  || { tail -20 "$TEST_TMP/shot.out" >&2; fail "chromium --screenshot failed"; }
[ -s "$shot" ] || fail "no screenshot written"
chromium --dump-dom "file://$run/report.html" > "$TEST_TMP/dom.html" 2> "$TEST_TMP/dom.err" \
  || { tail -20 "$TEST_TMP/dom.err" >&2; fail "chromium --dump-dom failed"; }
grep -iE 'CONSOLE|Uncaught|Failed to load' "$TEST_TMP/dom.err" "$TEST_TMP/shot.out" \
  && fail "the page logged errors in Chromium"

# The DOM as Chromium built it: every chart has an svg and a series with data points, and the
# page was parsed to its end.
python3 - "$TEST_TMP/dom.html" <<'PY' || fail "charts missing in Chromium's DOM"
import re, sys
dom = open(sys.argv[1]).read()
assert "Rendered by loadctl report" in dom, "page not fully loaded"
charts = re.findall(r'<figure class="chart" id="([^"]+)">(.*?)</figure>', dom, re.S)
ids = [c[0] for c in charts]
for want in ["users", "arrival", "rt-request", "rate", "network", "codes"]:
    assert want in ids, "chart %s missing (have %s)" % (want, ids)
for cid, body in charts:
    assert "<svg" in body, "chart %s has no svg" % cid
    points = [int(n) for n in re.findall(r'class="series" data-points="(\d+)"', body)]
    assert points and max(points) > 0, "chart %s has no data points" % cid
print("charts:", len(charts))
PY
log "screenshot: $shot ($(stat -c %s "$shot") bytes)"
log "ok"
