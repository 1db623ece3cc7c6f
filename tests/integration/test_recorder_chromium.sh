#!/usr/bin/env bash
# `loadctl record` (docs/recorder.md) with a real browser: headless Chromium browses a small site
# served by nginx through the recording proxy (a page, its stylesheet, image and script, the
# script's GET and POST), a second page after a pause inside a `record tag` transaction. The
# recorded file, included with an ENTITY as Tsung's manual shows, passes `loadctl check`, and
# `loadctl start` replays it: nginx logs the same request lines as during the recording. The file
# has the tagged transaction, a thinktime for the pause, the POST body, and is owner-only.
# Without /usr/bin/chromium: SKIP.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recorder_lib.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "SKIP: $TEST_NAME: $CHROMIUM not installed (scripts/deps.sh installs the chromium package)"
  exit 0
fi
need_bins loadctl loadagent
private_home

# The site (tests/data/recorder_site, also behind tests/data/recorder_site.har).
serve_recorder_site
port=$SITE_PORT

# The recorder.
proxy_port=$(free_port)
# --only-host: Chromium's own background requests (clients2.google.com ...) are proxied, not recorded.
start_recorder record "$proxy_port" --only-host 127.0.0.1
[ "$(stat -c %a "$HOME/.loadctl/recorder/control.sock")" = 600 ] || fail "the control socket is not 0600"
[ "$(stat -c %a "$HOME/.loadctl/recorder")" = 700 ] || fail "the control directory is not 0700"

chromium() {  # chromium URL: the page loaded through the proxy, its scripts run
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-default-apps \
    --user-data-dir="$(mktemp -d "$TEST_TMP/profile.XXXXXX")" \
    --proxy-server="http://127.0.0.1:$proxy_port" --proxy-bypass-list='<-loopback>' \
    --virtual-time-budget=3000 --dump-dom "$1"
}
chromium "http://127.0.0.1:$port/site/index.html" > "$TEST_TMP/dom1.html" 2> "$TEST_TMP/chromium1.err" \
  || { tail -5 "$TEST_TMP/chromium1.err" >&2; fail "chromium"; }
grep -q 'widget added' "$TEST_TMP/dom1.html" || fail "the page's script did not run through the proxy: $(grep out "$TEST_TMP/dom1.html")"
"$LOADCTL" record tag '<transaction name="cart">' | grep -q 'tag recorded' || fail "record tag"
"$LOADCTL" record tag '</oops>' 2> "$TEST_TMP/badtag.err" && fail "a mismatched end tag was accepted"
sleep 1.6  # a pause the recorder writes as a thinktime (>= 1 s, as Tsung's recorder)
chromium "http://127.0.0.1:$port/site/page2.html" > "$TEST_TMP/dom2.html" 2> "$TEST_TMP/chromium2.err" \
  || { tail -5 "$TEST_TMP/chromium2.err" >&2; fail "chromium (page 2)"; }
"$LOADCTL" record tag '</transaction>' > /dev/null || fail "record tag </transaction>"
stop_recorder
rec=$(ls "$HOME"/.loadctl/recorder-*.xml)
[ "$(stat -c %a "$rec")" = 600 ] || fail "the recording is not owner-only"
grep -q "recorded in $rec" "$TEST_TMP/stop.out" || fail "record stop did not name the file: $(cat "$TEST_TMP/stop.out")"
request_lines < "$NGINX_ACCESS_LOG" > "$TEST_TMP/recorded.lines"

mkdir -p "$LOADCTL_BIN/test-artifacts"
cp "$rec" "$LOADCTL_BIN/test-artifacts/recorder-chromium.xml"  # for a failure's post-mortem
grep -q '<session name="rec[0-9]\{8\}-[0-9]\{4\}" probability="100" type="ts_http">' "$rec" || fail "no session start tag"
grep -q '<transaction name="cart">' "$rec" || fail "the tag was not recorded"
grep -q '<thinktime random="true" value="[1-9][0-9]*"/>' "$rec" || fail "no thinktime for the pause (>= 1.6 s)"
grep -q 'contents="item=1&amp;note=&lt;fast &amp; &quot;cheap&quot;&gt;"' "$rec" || fail "the POST body was not recorded, escaped"
grep -q "url=\"http://127.0.0.1:$port/site/index.html\"" "$rec" || fail "the first URL is not absolute"
grep -q 'url="/site/data.json?item=1&amp;kind=a%20b"' "$rec" || fail "a later URL on the same host is not relative"
grep -qi 'cookie' "$rec" && fail "a cookie header was recorded"
tail -1 "$rec" | grep -q '^</session>$' || fail "the file does not end with </session>"

# Replay, as the manual shows: the recorded session included with an ENTITY.
replay_session "$rec" replay "$port"
[ "$(wc -l < "$TEST_TMP/recorded.lines")" -ge 7 ] || fail "too few requests recorded: $(cat "$TEST_TMP/recorded.lines")"
diff "$TEST_TMP/recorded.lines" "$TEST_TMP/replay.lines" >&2 || { tail -3 "$TEST_TMP/run-replay/controller.log" >&2; grep -E "stats: (request|error)" "$TEST_TMP/run-replay/tsung.log" >&2; fail "the replay's request lines differ from the recording's"; }
tsung_sum tr_cart "$TEST_TMP/run-replay" | grep -qv '^0$' || fail "the replay did not count transaction cart"
echo "PASS: $TEST_NAME ($(wc -l < "$TEST_TMP/recorded.lines") requests recorded and replayed)"
