#!/usr/bin/env bash
# `loadctl view` (Tsung's `tsung view`): two runs against nginx under one log root (-l), then the
# view on 127.0.0.1 (port 0: the one it prints): its index lists both runs, newest first, with the
# scenario and status; a run's tsung.log comes back byte for byte; its report is rendered on
# demand (report.html did not exist before) and served; a path out of the root is refused; SIGTERM
# ends it with status 0. Bad uses are usage errors (status 64): -n, a log root that does not exist.
source "$(dirname "$0")/lib.sh"
need_bins loadctl nginx curl
private_home
PORT=$(free_port)
start_nginx "$PORT"
root=$TEST_TMP/logs
mkdir -p "$root"
one_request_scenario "$TEST_TMP/s.xml" "$PORT" /view 20 1
for run in 20261201-1000 20261201-1100; do run_loadctl "$TEST_TMP/s.xml" "$root/$run"; done
[ ! -e "$root/20261201-1000/report.html" ] || fail "a report exists before the view asked for one"

"$LOADCTL" -l "$root" view --http 127.0.0.1:0 2>"$TEST_TMP/view.err" &
view_pid=$!
on_exit "kill $view_pid 2>/dev/null || true"
wait_until 10 grep -q '^view: http://' "$TEST_TMP/view.err" || { cat "$TEST_TMP/view.err" >&2; fail "view did not start"; }
url=$(sed -n 's/^view: \(http:[^ ]*\).*/\1/p' "$TEST_TMP/view.err")
log "view on $url"

curl -sf --max-time 10 "$url" >"$TEST_TMP/index.html" || fail "index not served"
grep -q '2 run(s)' "$TEST_TMP/index.html" || fail "index: $(cat "$TEST_TMP/index.html")"
newer=$(grep -n '/run/20261201-1100/' "$TEST_TMP/index.html" | head -1 | cut -d: -f1)
older=$(grep -n '/run/20261201-1000/' "$TEST_TMP/index.html" | head -1 | cut -d: -f1)
[ -n "$newer" ] && [ -n "$older" ] && [ "$newer" -lt "$older" ] || fail "runs not listed newest first"
grep -q "<td>$TEST_TMP/s.xml</td>" "$TEST_TMP/index.html" || fail "scenario name not shown"
[ "$(grep -c '>ok<' "$TEST_TMP/index.html")" = 2 ] || fail "both runs' status (exit 0) not shown"

curl -sf --max-time 10 "${url}run/20261201-1000/tsung.log" >"$TEST_TMP/tsung.log" || fail "tsung.log not served"
cmp -s "$TEST_TMP/tsung.log" "$root/20261201-1000/tsung.log" || fail "tsung.log served differs from the file"

code=$(curl -s --max-time 60 -o "$TEST_TMP/report.html" -w '%{http_code}' "${url}run/20261201-1000/report")
assert_eq "$code" 200 "report status"
[ -s "$root/20261201-1000/report.html" ] || fail "the report was not rendered into the run"
cmp -s "$TEST_TMP/report.html" "$root/20261201-1000/report.html" || fail "the report served is not the one rendered"
grep -q '<html' "$TEST_TMP/report.html" || fail "report is not HTML"

code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --path-as-is "${url}run/../../etc/passwd")
[ "$code" -ge 400 ] || fail "a path out of the root answered $code"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "${url}run/20261201-1000/..%2F..%2Fs.xml")
[ "$code" -ge 400 ] || fail "an escaped path out of the run answered $code"

kill -TERM "$view_pid"
st=0
wait_until 5 bash -c "! kill -0 $view_pid 2>/dev/null" || fail "view did not stop on SIGTERM"
wait "$view_pid" || st=$?
assert_eq "$st" 0 "view's exit status after SIGTERM"

st=0
"$LOADCTL" -l "$root" -n view 2>"$TEST_TMP/n.err" || st=$?
assert_eq "$st" 64 "view -n exit status (usage error)"
grep -q 'not with -n' "$TEST_TMP/n.err" || fail "view -n: $(cat "$TEST_TMP/n.err")"
st=0
"$LOADCTL" -l "$TEST_TMP/missing" view --http 127.0.0.1:0 2>"$TEST_TMP/missing.err" || st=$?
assert_eq "$st" 64 "view of a missing log root: exit status (usage error)"
grep -q "no log root $TEST_TMP/missing" "$TEST_TMP/missing.err" || fail "missing root: $(cat "$TEST_TMP/missing.err")"
echo "PASS: $TEST_NAME"
