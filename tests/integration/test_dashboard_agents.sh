#!/usr/bin/env bash
# Agents added to and removed from a running test (docs/dashboard.md), measured on nginx's access
# log: a run with one local agent (source 127.0.0.1) at 100 arrivals/s; a listening agent
# (`loadagent --listen`) added mid-run through the dashboard (POST /api/add-agent, ip 127.0.0.2; an
# unreachable one added with `loadctl add-agent` first does not join, the run goes on) takes half of the
# arrivals (its source address appears at nginx only after the join) while the total stays at
# 100/s; `loadctl remove-agent 0` moves agent 0's arrivals to it (127.0.0.1 goes to 0/s, the total
# stays); removing the last agent starting users is refused; an agent started by the controller
# (`loadctl add-agent localhost --launch --ip 127.0.0.3`) takes half again; `rate 2x` doubles the total.
# Each user sends one request, so requests/s at nginx = arrivals/s; each window within 3 standard
# deviations of its Poisson count (10-18%; the figures are printed). Totals of tsung.log = nginx's count,
# and report.html draws the steering events (agent added, removed, rate) on its charts.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent nginx curl python3
PY=$(command -v /usr/bin/python3 || command -v python3)
export HOME=$TEST_TMP/home
mkdir -p "$HOME"

start_timed_nginx '$remote_addr $status'
port=$NGINX_PORT
log_file=$TIMED_LOG

# The listening agent, with the token the controller presents (--token-file on both sides).
"$PY" -c 'import secrets; print(secrets.token_hex(16))' > "$TEST_TMP/token"
chmod 600 "$TEST_TMP/token"
agent_port=$(free_port)
"$LOADAGENT" --listen "127.0.0.1:$agent_port" --token-file "$TEST_TMP/token" --threads 1 > "$TEST_TMP/agent.log" 2>&1 &
agent_pid=$!
on_exit "_stop_pid $agent_pid"
wait_until 10 grep -q "listening on 127.0.0.1:$agent_port" "$TEST_TMP/agent.log" || fail "the agent does not listen"

cat > "$TEST_TMP/s.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="60" unit="second"><users arrivalrate="100" unit="second"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/"/></request>
  </session></sessions>
</tsung>
XML
run=$TEST_TMP/run
HTTP_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
(umask 077; echo "$HTTP_TOKEN" > "$TEST_TMP/http.token")
"$LOADCTL" -q -f "$TEST_TMP/s.xml" --run-dir "$run" --dump-interval 1 --http 127.0.0.1:0 \
  --http-token-file "$TEST_TMP/http.token" --token-file "$TEST_TMP/token" start > /dev/null 2> "$TEST_TMP/err" &
pid=$!
on_exit "kill -9 $pid 2>/dev/null || true"
wait_dashboard "$run" 20
load_started() { [ "$(count_lines "$log_file")" -gt 50 ]; }
wait_until 20 load_started || fail "no load reached nginx: $(cat "$TEST_TMP/err")"

from_2() { grep -c ' 127\.0\.0\.2 ' "$log_file" || true; }
t0=$(date +%s.%N)
# An agent that cannot be reached (nothing listens there) does not join; the run goes on unchanged.
"$LOADCTL" add-agent "127.0.0.1:$(free_port)" > "$TEST_TMP/dead.out" 2>&1 || fail "add-agent (dead port): $(cat "$TEST_TMP/dead.out")"
wait_until 10 grep -q 'agent 1 could not join' "$run/controller.log" || fail "no 'could not join' for an unreachable agent"
sleep 4
[ "$(from_2)" -eq 0 ] || fail "127.0.0.2 at nginx before the agent joined"
steer_post "api/add-agent?host=127.0.0.1%3A$agent_port&ip=127.0.0.2"
grep -q '^adding agent 2: dialing' "$TEST_TMP/post.out" || fail "POST api/add-agent answer"
joined() { grep -q 'joined the running test' "$run/controller.log"; }
wait_until 10 joined || fail "the added agent did not join: $(tail -5 "$run/controller.log")"
STEER_MARKS+=("$(date +%s.%N)")   # m[1]: joined
wait_until 5 bash -c "[ \$(grep -c ' 127\.0\.0\.2 ' '$log_file') -gt 0 ]" || fail "no request from 127.0.0.2 after the join"
sleep 6
steer remove-agent 0
sleep 6
if "$LOADCTL" remove-agent 2 > "$TEST_TMP/refused.out" 2>&1; then fail "removing the last agent starting users was accepted"; fi
grep -q 'only agent starting users' "$TEST_TMP/refused.out" || fail "refusal: $(cat "$TEST_TMP/refused.out")"
# A third agent started by the controller on this host (as `start` launches agents), source 127.0.0.3.
steer add-agent localhost --launch --ip 127.0.0.3
joined3() { grep -q 'agent 3 joined the running test' "$run/controller.log"; }
wait_until 10 joined3 || fail "the launched agent did not join: $(tail -5 "$run/controller.log")"
STEER_MARKS+=("$(date +%s.%N)")   # m[4]: joined
sleep 6
steer rate 2x
sleep 4
steer stop
wait $pid && st=0 || st=$?
assert_eq "$st" 143 "exit status of a stopped run"

"$PY" - "$log_file" "$t0" "${STEER_MARKS[@]}" <<'PY' || fail "rates at nginx differ from the planned ones"
import sys
log, t0, m = sys.argv[1], float(sys.argv[2]), [float(x) for x in sys.argv[3:]]
rows = [l.split() for l in open(log) if l.strip()]
def rate(a, b, src=None):
    return sum(1 for r in rows if a <= float(r[0]) < b and (src is None or r[1] == src)) / (b - a)
# marks: add-agent returned, joined, remove-agent 0 returned, add-agent --launch returned, joined,
# rate 2x returned, stop returned
windows = [("one agent", t0 + 0.5, m[0], None, 100), ("two agents: total", m[1] + 0.5, m[2] - 0.3, None, 100),
           ("two agents: 127.0.0.2", m[1] + 0.5, m[2] - 0.3, "127.0.0.2", 50),
           ("two agents: 127.0.0.1", m[1] + 0.5, m[2] - 0.3, "127.0.0.1", 50),
           ("agent 0 removed: total", m[2] + 0.5, m[3] - 0.3, None, 100),
           ("agent 0 removed: 127.0.0.2", m[2] + 0.5, m[3] - 0.3, "127.0.0.2", 100),
           ("agent 0 removed: 127.0.0.1", m[2] + 0.5, m[3] - 0.3, "127.0.0.1", 0),
           ("launched agent: total", m[4] + 0.5, m[5] - 0.3, None, 100),
           ("launched agent: 127.0.0.3", m[4] + 0.5, m[5] - 0.3, "127.0.0.3", 50),
           ("launched agent: 127.0.0.2", m[4] + 0.5, m[5] - 0.3, "127.0.0.2", 50),
           ("rate 2x", m[5] + 0.5, m[6] - 0.3, None, 200),
           # across the join (its catch-up included): no arrival lost or doubled
           ("across the join: total", m[0] - 1, m[1] + 2, None, 100)]
bad = []
for name, a, b, src, planned in windows:
    got = rate(a, b, src)
    dev = (got / planned - 1) if planned else got
    print("%-28s planned %4.0f/s  measured %6.1f/s over %.1f s  (%s)" % (name, planned, got, b - a,
          "%+.1f%%" % (100 * dev) if planned else "%.1f/s" % got))
    allowed = 3 / (planned * (b - a)) ** 0.5 if planned else 0  # 3 standard deviations of a Poisson count
    if (planned and abs(dev) > allowed) or (not planned and got > 1):
        bad.append(name)
sys.exit(1 if bad else 0)
PY

# Every request the run counted reached nginx, and no more.
total=$("$PY" -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"final\":true" in l][0]["metrics"]["request"]["count"])' "$run/stats.jsonl")
assert_eq "$(count_lines "$log_file")" "$total" "requests at nginx vs stats.jsonl"
assert_eq "$(tsung_sum request "$run")" "$total" "requests in tsung.log vs stats.jsonl"
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
