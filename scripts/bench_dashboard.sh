#!/usr/bin/env bash
# Usage: LOADCTL_BIN=build scripts/bench_dashboard.sh [AGENTS] [SECONDS]
# The live dashboard's cost to the controller: the same run (AGENTS local agents, default 16, against
# loadtarget, SECONDS long, default 30) twice, once with -n and once with a client fetching the page,
# /api/status, /api/stats?since= and /metrics every second; prints the controller's CPU time
# (utime + stime from /proc, sampled until it exits) and the difference in % of one core. Bounded:
# two runs of SECONDS + a few seconds each; everything on loopback.
set -euo pipefail
AGENTS=${1:-16}
SECONDS_RUN=${2:-30}
BIN=${LOADCTL_BIN:-build}
LOADCTL=$BIN/src/controller/loadctl
LOADTARGET=$BIN/src/target/loadtarget
tmp=$(mktemp -d)
trap 'kill $target 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$LOADTARGET" --http 127.0.0.1:0 --threads 1 > "$tmp/target.out" 2>&1 &
target=$!
for _ in $(seq 50); do grep -q '^listening http' "$tmp/target.out" && break; sleep 0.1; done
port=$(awk '/^listening http /{n = split($3, a, ":"); print a[n]; exit}' "$tmp/target.out")
cat > "$tmp/s.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true" cpu="$AGENTS"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="$SECONDS_RUN" unit="second"><users arrivalrate="20" unit="second"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <for from="1" to="10" incr="1" var="i"><request><http url="/hello"/></request><thinktime value="0.1" random="false"/></for>
  </session></sessions>
</tsung>
XML
tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tck" '{ print ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null; }
measure() {  # measure NAME ARGS...: runs loadctl, prints its CPU seconds
  local name=$1; shift
  "$LOADCTL" -q -f "$tmp/s.xml" --run-dir "$tmp/$name" --threads 1 "$@" start > /dev/null 2>&1 &
  local pid=$! cpu=0 c
  while kill -0 $pid 2>/dev/null; do
    c=$(cpu_of $pid) && [ -n "$c" ] && cpu=$c
    if [ "$name" = polled ] && url=$(awk '/ dashboard on http:/ { for (i = 1; i <= NF; ++i) if ($i ~ /^http:/) { print $i; exit } }' "$tmp/$name/controller.log" 2>/dev/null) && [ -n "$url" ]; then
      curl -s --max-time 2 "$url" "${url}api/status" "${url}api/stats?since=${since:--1}" "${url}metrics" > "$tmp/poll.out" || true
      since=$(grep -o '"t":[0-9.]*' "$tmp/poll.out" | tail -1 | cut -d: -f2 || true)
    fi
    sleep 1
  done
  wait $pid || true
  echo "$cpu"
}
plain=$(measure plain -n)
polled=$(measure polled --http 127.0.0.1:0)
bytes=$(wc -c < "$tmp/poll.out")
python3 - "$plain" "$polled" "$SECONDS_RUN" "$AGENTS" "$bytes" <<'PY'
import sys
plain, polled, secs, agents, size = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
print("agents %s, %.0f s run; one poll (page + status + stats + metrics) = %s bytes" % (agents, secs, size))
print("controller CPU: -n %.2f s, dashboard polled every second %.2f s: %+.2f%% of one core" % (plain, polled, 100 * (polled - plain) / secs))
PY
