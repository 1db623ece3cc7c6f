#!/usr/bin/env bash
# Tsung's own renderer (tsung_stats.pl from the Debian package) reads a log directory written by
# a real loadctl run and reports the same request count.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget perl
renderer=/usr/lib/x86_64-linux-gnu/tsung/bin/tsung_stats.pl
[ -f "$renderer" ] || { echo "SKIP: $renderer not installed (apt-get install tsung)"; exit 0; }

start_loadtarget --http 127.0.0.1:0
sed "s/@PORT@/$LOADTARGET_HTTP_PORT/" "$LOADCTL_SRC/tests/fixtures/scenarios/http_nginx.xml" > "$TEST_TMP/s.xml"
run_loadctl "$TEST_TMP/s.xml" "$TEST_TMP/run" --dump-interval 1
requests=$(awk '$1 == "stats:" && $2 == "request" { s += $3 } END { print s + 0 }' "$TEST_TMP/run/tsung.log")
(cd "$TEST_TMP/run" && perl "$renderer" --stats tsung.log > "$TEST_TMP/render.out" 2>&1) \
  || { cat "$TEST_TMP/render.out" >&2; fail "tsung_stats.pl failed"; }
[ -s "$TEST_TMP/run/report.html" ] || fail "tsung_stats.pl wrote no report.html"
# The renderer's count column is the global count before the last dump (with Tsung's own logs
# too, it omits the final interval): the total minus the last dump's interval count. Every dump
# has its own second (the renderer skips a dump stamped like the previous one).
last=$(awk '$1 == "stats:" && $2 == "request" { n = $3 } END { print n + 0 }' "$TEST_TMP/run/tsung.log")
expected=$((requests - last))
grep -A6 '<td class="stats">request</td>' "$TEST_TMP/run/report.html" | grep -Eq ">$expected ?<" \
  || fail "report.html does not show the request count $expected (total $requests)"
stamps=$(grep '^# stats: dump at' "$TEST_TMP/run/tsung.log" | sort | uniq -d)
[ -z "$stamps" ] || fail "two dumps share a timestamp: $stamps"
ls "$TEST_TMP/run"/images/graphes-Perfs-mean.png > /dev/null 2>&1 || ls "$TEST_TMP/run"/images/*.png > /dev/null 2>&1 \
  || fail "no graphs rendered"
log "renderer ok: shows $expected requests ($requests in all)"
