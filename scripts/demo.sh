#!/usr/bin/env bash
# Usage: scripts/demo.sh [LOGROOT]
# End-to-end demo on one machine: installs dependencies, builds, starts loadtarget on
# 127.0.0.1:18080, runs examples/demo.xml (about 30 s) with loadctl, renders the HTML report when
# this loadctl has a `report` command, and prints the log directory. LOGROOT defaults to
# /tmp/loadctl-demo; every run gets its own sub-directory there.
set -euo pipefail
cd "$(dirname "$0")/.."

logroot=${1:-/tmp/loadctl-demo}
port=18080
loadctl=build/src/controller/loadctl
loadtarget=build/src/target/loadtarget

scripts/deps.sh
scripts/build.sh --no-deps

mkdir -p "$logroot"
logroot=$(cd "$logroot" && pwd)
target_out=$(mktemp)
target_pid=""
cleanup() {
  if [ -n "$target_pid" ]; then kill -TERM "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; fi
  rm -f "$target_out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
  echo "demo.sh: port $port is already in use; stop whatever listens there first" >&2
  exit 1
fi
: > "$logroot/loadtarget-access.log"
"$loadtarget" --http "127.0.0.1:$port" --access-log "$logroot/loadtarget-access.log" >"$target_out" 2>&1 &
target_pid=$!
for _ in $(seq 1 50); do
  grep -q '^listening http' "$target_out" && break
  kill -0 "$target_pid" 2>/dev/null || { cat "$target_out" >&2; echo "demo.sh: loadtarget failed to start" >&2; exit 1; }
  sleep 0.1
done
grep -q '^listening http' "$target_out" || { echo "demo.sh: loadtarget did not start listening" >&2; exit 1; }
echo "demo.sh: loadtarget $(grep '^listening http' "$target_out")"

before=$(ls -1 "$logroot")
echo "demo.sh: running examples/demo.xml (about 30 s)"
"$loadctl" -f examples/demo.xml -l "$logroot" start

# The run's directory is the sub-directory of LOGROOT that did not exist before.
logdir=""
for d in $(ls -1t "$logroot"); do
  [ -d "$logroot/$d" ] || continue
  grep -qxF "$d" <<<"$before" && continue
  logdir="$logroot/$d"
  break
done
[ -n "$logdir" ] || logdir=$logroot

if "$loadctl" --help 2>&1 | grep -qw report; then
  "$loadctl" report "$logdir"
  [ -f "$logdir/report.html" ] && echo "demo.sh: report: $logdir/report.html"
else
  echo "demo.sh: this loadctl has no 'report' command yet; skipping the report"
fi
echo "demo.sh: requests seen by loadtarget: $(wc -l < "$logroot/loadtarget-access.log")"
echo "demo.sh: log directory: $logdir"
