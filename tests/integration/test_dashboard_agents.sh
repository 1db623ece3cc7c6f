#!/usr/bin/env bash
# Agents added to and removed from a running test (docs/dashboard.md), measured on nginx's access
# log: a run with one local agent (source 127.0.0.1) at 1000 arrivals/s. The dashboard refuses to
# add an agent on a host that is not one of the run's (POST /api/add-agent host=192.0.2.1); a
# listening agent with another token, added with `loadctl add-agent`, does not join (a warning; the
# shares stay 1/0), nor one started on another host (the controller listens on loopback) or
# named like an option; a listening agent (`loadagent --listen`) added through the dashboard (ip
# 127.0.0.2) takes half of the arrivals (shares 0.5/0.5 in /api/status) while the total stays
# 1000/s; `loadctl remove-agent 0` moves agent 0's arrivals to it (0/1; 127.0.0.1 at 0/s);
# removing the last agent starting users is refused; an agent started by the controller
# (`loadctl add-agent localhost --launch --ip 127.0.0.3`) takes half again (0.5/0.5); `rate 2x`
# doubles the total. Last, an agent that never answers its hello (a socket that never accepts) is
# added shortly before the end: the run still ends on time (exit 0). Each user sends one request,
# so requests/s at nginx = arrivals/s; each window within 4 standard deviations of its Poisson
# count (about 6% over 5 s; the figures are printed); no user late and no arrival missed across
# the joins (the added agents start at the join time, no catch-up burst). Totals of tsung.log =
# nginx's count, and report.html draws the steering events on its charts.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent nginx curl python3
PY=$(command -v /usr/bin/python3 || command -v python3)
private_home

start_timed_nginx '$remote_addr $status'
port=$NGINX_PORT
log_file=$TIMED_LOG

# The listening agent, with the token the controller presents (--token-file on both sides), and
# one with another token (it refuses the controller).
new_token "$TEST_TMP/token" > /dev/null
new_token "$TEST_TMP/other.token" > /dev/null
agent_port=$(free_port)
start_listening_agent "127.0.0.1:$agent_port" "$TEST_TMP/token" "$TEST_TMP/agent.log" --threads 1
other_port=$(free_port)
start_listening_agent "127.0.0.1:$other_port" "$TEST_TMP/other.token" "$TEST_TMP/other.log" --threads 1
# A port that takes connections but never answers a hello (nothing accepts them).
silent_port=$(free_port)
"$PY" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(120)' "$silent_port" &
on_exit "_stop_pid $!"
wait_until 5 port_open "$silent_port" || fail "the silent port does not listen"

duration=38
one_request_scenario "$TEST_TMP/s.xml" "$port" / 1000 "$duration"
run=$TEST_TMP/run
HTTP_TOKEN=$(new_token "$TEST_TMP/http.token")
# A loaded 2-core machine may start a user up to 0.25 s late without it being the steering's fault.
start_dashboard_run "$run" -q -f "$TEST_TMP/s.xml" --run-dir "$run" --dump-interval 1 --http 127.0.0.1:0 --arrival-lag-limit 0.25 \
  --http-token-file "$TEST_TMP/http.token" --token-file "$TEST_TMP/token" start
load_started() { [ "$(count_lines "$log_file")" -gt 500 ]; }
wait_until 20 load_started || fail "no load reached nginx: $(cat "$TEST_TMP/err")"
run_start=$SECONDS

# shares "ID=SHARE ...": the load agents' shares in /api/status, exactly.
shares() {
  curl -sS --max-time 5 -H "Authorization: Bearer $HTTP_TOKEN" "${DASHBOARD_URL}api/status" > "$TEST_TMP/status.json" ||
    fail "GET api/status"
  local got
  got=$("$PY" -c 'import json, sys
print(" ".join("%d=%g" % (a["id"], a["share"]) for a in json.load(open(sys.argv[1]))["agents"]))' "$TEST_TMP/status.json")
  assert_eq "$got" "$1" "shares in /api/status"
}

from_2() { grep -c ' 127\.0\.0\.2 ' "$log_file" || true; }
t0=$(date +%s.%N)
# The dashboard adds agents only on the hosts of the run (it would send them the agents' token).
code=$(curl -sS --max-time 5 -D "$TEST_TMP/refused.head" -o "$TEST_TMP/refused.post" -w '%{http_code}' -X POST -H 'X-Loadctl: 1' \
  -H "Authorization: Bearer $HTTP_TOKEN" "${DASHBOARD_URL}api/add-agent?host=192.0.2.1%3A19998&ip=")
assert_eq "$code" 409 "POST api/add-agent of a host not of the run ($(cat "$TEST_TMP/refused.head" "$TEST_TMP/refused.post"))"
grep -q 'not a host of this run' "$TEST_TMP/refused.post" || fail "refusal: $(cat "$TEST_TMP/refused.post")"
# A listening agent with another token does not join: a warning, and agent 0 keeps its whole share.
"$LOADCTL" add-agent "127.0.0.1:$other_port" > "$TEST_TMP/other.out" 2>&1 || fail "add-agent (other token): $(cat "$TEST_TMP/other.out")"
wait_until 10 grep -q 'agent 1 could not join' "$run/controller.log" || fail "no 'could not join' for an agent with another token"
shares "0=1 1=0"
# This controller listens for its agents on loopback: one started on another host could not dial back.
if "$LOADCTL" add-agent 192.0.2.1 --launch > "$TEST_TMP/loopback.out" 2>&1; then fail "add-agent --launch of a remote host on loopback accepted"; fi
grep -q '(loopback): an agent on another host cannot dial back' "$TEST_TMP/loopback.out" || fail "refusal: $(cat "$TEST_TMP/loopback.out")"
# Nor is a host name an option of the remote shell.
if "$LOADCTL" add-agent --launch -- -oProxyCommand=x > "$TEST_TMP/dash.out" 2>&1; then fail "a host starting with '-' accepted"; fi
grep -q "not starting with '-'" "$TEST_TMP/dash.out" || fail "refusal: $(cat "$TEST_TMP/dash.out")"
[ "$(from_2)" -eq 0 ] || fail "127.0.0.2 at nginx before the agent joined"
steer_post "api/add-agent?host=127.0.0.1%3A$agent_port&ip=127.0.0.2"
grep -q '^adding agent 2: dialing' "$TEST_TMP/post.out" || fail "POST api/add-agent answer"
joined() { grep -q "agent $1 joined the running test" "$run/controller.log"; }
wait_until 10 joined 2 || fail "the added agent did not join: $(tail -5 "$run/controller.log")"
STEER_MARKS+=("$(date +%s.%N)")   # m[1]: joined
shares "0=0.5 1=0 2=0.5"
sleep 5
steer remove-agent 0
shares "0=0 1=0 2=1"
sleep 5
if "$LOADCTL" remove-agent 2 > "$TEST_TMP/refused.out" 2>&1; then fail "removing the last agent starting users was accepted"; fi
grep -q 'only agent starting users' "$TEST_TMP/refused.out" || fail "refusal: $(cat "$TEST_TMP/refused.out")"
# A third agent started by the controller on this host (as `start` launches agents), source 127.0.0.3.
steer add-agent localhost --launch --ip 127.0.0.3
wait_until 10 joined 3 || fail "the launched agent did not join: $(tail -5 "$run/controller.log")"
STEER_MARKS+=("$(date +%s.%N)")   # m[4]: joined
shares "0=0 1=0 2=0.5 3=0.5"
sleep 5
steer rate 2x
sleep 4
# An agent that never answers, added shortly before the end, does not hold the end back.
steer add-agent "127.0.0.1:$silent_port"
left=$((duration - (SECONDS - run_start)))
[ "$left" -gt 0 ] || fail "the steps took longer than the run ($duration s): the last add-agent came too late"
wait_until $((left + 15)) exited "$RUN_PID" || fail "the run did not end within 15 s of its planned end (agent 4 still joining)"
wait $RUN_PID && st=0 || st=$?
assert_eq "$st" 0 "exit status of a run that ended with an agent still joining"
grep -q 'agent 4 could not join: the load ended before it joined' "$run/controller.log" || fail "no drop of agent 4 at the end"

"$PY" - "$log_file" "$t0" "${STEER_MARKS[@]}" <<'PY' || fail "rates at nginx differ from the planned ones"
import sys
log, t0, m = sys.argv[1], float(sys.argv[2]), [float(x) for x in sys.argv[3:]]
rows = [l.split() for l in open(log) if l.strip()]
def rate(a, b, src=None):
    return sum(1 for r in rows if a <= float(r[0]) < b and (src is None or r[1] == src)) / (b - a)
# marks: add-agent POST returned, joined, remove-agent 0 returned, add-agent --launch returned,
# joined, rate 2x returned, add-agent (silent) returned
windows = [("one agent", t0 + 0.5, m[0], None, 1000), ("two agents: total", m[1] + 0.5, m[2] - 0.3, None, 1000),
           ("two agents: 127.0.0.2", m[1] + 0.5, m[2] - 0.3, "127.0.0.2", 500),
           ("two agents: 127.0.0.1", m[1] + 0.5, m[2] - 0.3, "127.0.0.1", 500),
           ("agent 0 removed: total", m[2] + 0.5, m[3] - 0.3, None, 1000),
           ("agent 0 removed: 127.0.0.2", m[2] + 0.5, m[3] - 0.3, "127.0.0.2", 1000),
           ("agent 0 removed: 127.0.0.1", m[2] + 0.5, m[3] - 0.3, "127.0.0.1", 0),
           ("launched agent: total", m[4] + 0.5, m[5] - 0.3, None, 1000),
           ("launched agent: 127.0.0.3", m[4] + 0.5, m[5] - 0.3, "127.0.0.3", 500),
           ("launched agent: 127.0.0.2", m[4] + 0.5, m[5] - 0.3, "127.0.0.2", 500),
           ("rate 2x", m[5] + 0.5, m[6] - 0.3, None, 2000),
           # across the joins: no arrival lost or doubled, no burst
           ("across the join of 2: total", m[0] - 1, m[1] + 2, None, 1000),
           ("across the join of 3: total", m[3] - 1, m[4] + 2, None, 1000)]
bad = []
for name, a, b, src, planned in windows:
    got = rate(a, b, src)
    dev = (got / planned - 1) if planned else got
    print("%-28s planned %4.0f/s  measured %7.1f/s over %.1f s  (%s)" % (name, planned, got, b - a,
          "%+.1f%%" % (100 * dev) if planned else "%.1f/s" % got))
    # 4 standard deviations of a Poisson count (a 1 in 16000 chance per window), plus 2% for the
    # window edges (a request reaches nginx a few ms after its arrival)
    allowed = 4 / (planned * (b - a)) ** 0.5 + 0.02 if planned else 0
    if (planned and abs(dev) > allowed) or (not planned and got > 1):
        bad.append(name)
sys.exit(1 if bad else 0)
PY
for counter in users_late error_arrivals_missed; do
  assert_eq "$(tsung_sum $counter "$run")" 0 "$counter in tsung.log"
done

# Every request the run counted reached nginx, and no more than those and the ones the removed agent's stop cut off.
served_as_recorded "$run" "$log_file"
assert_eq "$(tsung_sum request "$run")" "$RECORDED_REQUESTS" "requests in tsung.log vs stats.jsonl"
[ "$(tsung_sum steer_add_agent "$run")" -eq 2 ] || fail "steer_add_agent counter in tsung.log"
[ "$(tsung_sum steer_remove_agent "$run")" -eq 1 ] || fail "steer_remove_agent counter in tsung.log"
grep -q 'agent 2 added (127.0.0.1, ' "$run/controller.log" || fail "no 'agent 2 added' line in controller.log"

# The report draws the steering events on its charts.
"$LOADCTL" report "$run" > /dev/null 2>&1 || fail "loadctl report"
"$PY" - "$run/report.html" <<'PY' || fail "steering events missing from report.html"
import re, sys
html = open(sys.argv[1]).read()
labels = re.findall(r'<g class="event"><title>[0-9.]+ s: ([^<]*)</title><line [^>]*/><text [^>]*>([^<]*)</text></g>', html)
texts = {t for t, _ in labels}
for want in ("agent 2 added", "agent 0 removed", "agent 3 added", "rate 2x (all agents)"):
    assert any(t.startswith(want) for t in texts), (want, texts)
charts = html.count('<figure class="chart"')
print("%d event markers in %d charts" % (len(labels), charts))
assert len(labels) >= 3 * 2, len(labels)
PY
log "ok"
