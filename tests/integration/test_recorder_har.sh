#!/usr/bin/env bash
# `loadctl har2xml` (docs/recorder.md): tests/data/recorder_site.har, made once from headless
# Chromium's DevTools protocol browsing tests/data/recorder_site (tests/data/make_recorder_har.py
# says how), converts to a session that passes `loadctl check` and, replayed against nginx serving
# the same site, produces the HAR's request lines in nginx's access log; the 2.8 s gap before
# page2.html becomes <thinktime value="3">; --no-static leaves out the stylesheets, image and script.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recorder_lib.sh"
need_bins loadctl loadagent python3
private_home
har=$LOADCTL_SRC/tests/data/recorder_site.har
serve_recorder_site
port=$SITE_PORT

# expected_lines [--no-static]: the HAR's request lines as nginx logs them, sorted.
expected_lines() {
  python3 - "$har" "${1:-}" <<'PY'
import json, sys, urllib.parse
static = {"image", "stylesheet", "script", "font", "media", "manifest"}
for e in json.load(open(sys.argv[1]))["log"]["entries"]:
    if sys.argv[2] == "--no-static" and e["_resourceType"] in static:
        continue
    u = urllib.parse.urlsplit(e["request"]["url"])
    print(f'{e["request"]["method"]} {u.path}{"?" + u.query if u.query else ""} HTTP/1.1')
PY
}

# replay NAME [har2xml options]: converts, checks, replays; the new access log lines in $TEST_TMP/NAME.lines.
replay() {
  local name=$1
  shift
  "$LOADCTL" har2xml "$har" -o "$TEST_TMP/$name.har.xml" "$@" 2> "$TEST_TMP/$name.conv" || { cat "$TEST_TMP/$name.conv" >&2; fail "har2xml $*"; }
  # The fixture was made against nginx on port 18481: this run's nginx is on $port.
  sed -i "s|http://127.0.0.1:18481/|http://127.0.0.1:$port/|" "$TEST_TMP/$name.har.xml"
  replay_session "$TEST_TMP/$name.har.xml" "$name" "$port"
}

replay all
grep -q '<thinktime random="true" value="3"/>' "$TEST_TMP/all.har.xml" || fail "no thinktime for the 2.8 s gap"
grep -q 'contents="item=1&amp;note=&lt;fast &amp; &quot;cheap&quot;&gt;" content_type="application/x-www-form-urlencoded" method="POST"' \
  "$TEST_TMP/all.har.xml" || fail "the POST body was not converted"
[ "$(grep -c '<thinktime' "$TEST_TMP/all.har.xml")" = 1 ] || fail "gaps under 1 s became thinktimes"
expected_lines | sort > "$TEST_TMP/all.expected"
[ "$(wc -l < "$TEST_TMP/all.expected")" = 9 ] || fail "the fixture should hold 9 requests"
diff "$TEST_TMP/all.expected" "$TEST_TMP/all.lines" >&2 || fail "the replay's request lines differ from the HAR's"

replay nostatic --no-static
expected_lines --no-static | sort > "$TEST_TMP/nostatic.expected"
grep -q 'style.css\|app.js\|logo.svg' "$TEST_TMP/nostatic.expected" && fail "the expected lines hold static assets"
diff "$TEST_TMP/nostatic.expected" "$TEST_TMP/nostatic.lines" >&2 || fail "--no-static: the replay's request lines differ"
grep -q 'left out: 4 static' "$TEST_TMP/nostatic.conv" || fail "--no-static did not say what it left out: $(cat "$TEST_TMP/nostatic.conv")"
echo "PASS: $TEST_NAME"
