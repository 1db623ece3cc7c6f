#!/usr/bin/env bash
# Steering a run (docs/dashboard.md), measured on nginx's access log: the arrival rate of the
# current phase changed with `loadctl rate 2x`, `loadctl rate 100/s`, `loadctl pause`/`resume`,
# `loadctl rate 150/s --agent 1`, then one agent and the run stopped through the dashboard's POST
# endpoints. Each user sends one request, so requests/s at nginx = arrivals/s; every window's rate
# must be within 12% of the asked one (Poisson arrivals: 3 standard deviations of the smallest
# window's count; the figures are printed). The changes are events in stats.jsonl, /api/stats and
# controller.log, and the run ends as `loadctl stop` ends it (exit 143, totals = nginx's count).
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent nginx curl python3
PY=$(command -v /usr/bin/python3 || command -v python3)
private_home

start_timed_nginx '$status'
port=$NGINX_PORT
log_file=$TIMED_LOG

one_request_scenario "$TEST_TMP/s.xml" "$port" / 200 60 ' cpu="2"'
run=$TEST_TMP/run
HTTP_TOKEN=$(new_token "$TEST_TMP/http.token")
start_dashboard_run "$run" -q -f "$TEST_TMP/s.xml" --run-dir "$run" --dump-interval 1 --http 127.0.0.1:0 \
  --http-token-file "$TEST_TMP/http.token" start
url=$DASHBOARD_URL
load_started() { [ "$(count_lines "$log_file")" -gt 100 ]; }
wait_until 20 load_started || fail "no load reached nginx"

# Another local user (no token) cannot steer through the loopback dashboard; reads need no token.
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST -H 'X-Loadctl: 1' "${url}api/stop")
assert_eq "$code" 401 "POST api/stop without the token on loopback"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "${url}api/status")
assert_eq "$code" 200 "GET api/status without the token on loopback"
t0=$(date +%s.%N)
sleep 5.5;  steer rate 2x
sleep 5.5;  steer_post "api/rate?value=100%2Fs"  # the page encodes "/" (encodeURIComponent)
sleep 4.5;  steer rate 150/s --agent 1
sleep 4.5;  steer pause
sleep 1.5;  steer rate 1x --agent 0        # asked while paused: held until resume
grep -q '(arrivals paused: from resume on)' "$TEST_TMP/steer.out" || fail "rate while paused: not said held"
curl -sS --max-time 5 "${url}api/status" > "$TEST_TMP/paused.json" || fail "GET api/status"
grep -q '"arrivals_paused": true' "$TEST_TMP/paused.json" || fail "status: not paused after a rate while paused"
sleep 1.5;  steer resume                   # each agent gets its own factor back
sleep 4.5;  steer_post "api/stop?agent=1"
grep -q '^stopping agent 1 on localhost' "$TEST_TMP/post.out" || fail "POST api/stop?agent=1 answer"
sleep 4.5;  steer rate 150/s               # of the planned rate of the agents still starting users
sleep 4.5;  steer_post api/stop
grep -q '^stopping: ' "$TEST_TMP/post.out" || fail "POST api/stop answer"
wait $RUN_PID && st=0 || st=$?
assert_eq "$st" 143 "exit status of a run stopped through the dashboard"
grep -q '"stop_reason": "dashboard POST /api/stop' "$run/run.json" || fail "run.json: the stop is not said to come from the dashboard"

"$PY" - "$log_file" "$t0" "${STEER_MARKS[@]}" <<'PY' || fail "rates at nginx differ from the asked ones"
import sys
log, t0, m = sys.argv[1], float(sys.argv[2]), [float(x) for x in sys.argv[3:]]
times = [float(l.split()[0]) for l in open(log) if l.strip()]
def rate(a, b):
    return sum(1 for t in times if a <= t < b) / (b - a)
# (window, asked rate, allowed deviation): 0.5 s after each change for it to settle, 0.3 s before
# the next; after an agent stop 0.7 s and 30% (its users in flight end over the window).
windows = [("planned 200/s", t0 + 0.5, m[0] - 0.3, 200, 0.12), ("rate 2x", m[0] + 0.5, m[1] - 0.3, 400, 0.12),
           ("rate 100/s", m[1] + 0.5, m[2] - 0.3, 100, 0.12),
           ("agent 1 at 150/s", m[2] + 0.5, m[3] - 0.3, 50 + 150, 0.12),
           ("paused (agent 0 1x held)", m[3] + 0.5, m[5] - 0.3, 0, 0),
           ("resumed: 1x + 150/s", m[5] + 0.5, m[6] - 0.3, 100 + 150, 0.12),
           ("agent 1 stopped", m[6] + 0.7, m[7] - 0.3, 100, 0.3),
           ("rate 150/s, agent 1 stopped", m[7] + 0.5, m[8] - 0.3, 150, 0.12)]
bad = []
for name, a, b, asked, allowed in windows:
    got = rate(a, b)
    dev = (got / asked - 1) if asked else got
    print("%-28s asked %5.0f/s  measured %7.1f/s over %.1f s  (%+.1f%%)" % (name, asked, got, b - a, 100 * dev if asked else got))
    if asked and abs(dev) > allowed:
        bad.append(name)
    if not asked and got > 2:
        bad.append(name)
sys.exit(1 if bad else 0)
PY

# The changes are events: stats.jsonl lines, /api/stats is gone with the run, controller.log lines.
"$PY" - "$run/stats.jsonl" <<'PY' || fail "steering events in stats.jsonl"
import json, sys
events = [json.loads(l)["event"] for l in open(sys.argv[1]) if '"event"' in l]
want = ["rate 2x (all agents)", "rate 100/s (0.5x the planned 200/s) (all agents)",
        "rate 150/s (1.5x the planned 100/s) (agent 1)", "pause (all agents)", "rate 1x (agent 0)", "resume (all agents)",
        "rate 150/s (1.5x the planned 100/s) (all agents)"]
assert events == want, events
PY
[ "$(grep -c 'steering: ' "$run/controller.log")" -eq 7 ] || fail "steering lines in controller.log"
[ "$(tsung_sum steer_rate "$run")" -eq 5 ] || fail "steer_rate counter in tsung.log"
# Every request the run counted reached nginx, and no more than those and the ones a stop cut off.
served_as_recorded "$run" "$log_file"
log "ok"
