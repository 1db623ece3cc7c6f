#!/usr/bin/env bash
# Usage: scripts/bench_jabber.sh [--no-build] [--users N] [--port PORT]
# Benchmark (not a test) of the jabber plugin against a private prosody on 127.0.0.1:PORT
# (default 18522; config, data and log in a temporary directory; stopped at the end):
#   N users (default 200, registered in-band first) each log in (iq:auth plain), send their
#   presence, get their roster, then send 40 chat messages of 64 bytes to online users, one
#   every 0.1 s, and close. The same scenario runs with loadctl (one thread) and Tsung 1.7.0.
# Prints a table: chat messages sent (tr_chat in tsung.log), wall time, client CPU (user+sys
# from /usr/bin/time, children included) and CPU per message, then the ratio loadctl/Tsung.
# Every step is time-bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
users=200
port=${BENCH_PORT:-18522}
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --users) users=$2; shift ;;
    --port) port=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bench_jabber.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

note() { echo "bench_jabber.sh: $*" >&2; }
loadctl=$PWD/build/src/controller/loadctl
work=$(mktemp -d /tmp/loadctl-bench-jabber.XXXXXX)
prosody_pid=""
cleanup() {
  if [ -n "$prosody_pid" ]; then
    kill "$prosody_pid" 2>/dev/null || true
    wait "$prosody_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$build" = 1 ]; then cmake --build build -j2 --target loadctl loadagent >&2; fi
[ -x "$loadctl" ] || { note "loadctl not built ($loadctl)"; exit 1; }
command -v prosody >/dev/null || { note "prosody is missing (scripts/deps.sh installs it)"; exit 1; }
if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then note "port $port is taken (--port)"; exit 1; fi

domain=bench.test
mkdir -p "$work/data"
source plugins/jabber/tests/prosody_config.sh
prosody_config "$work" "$port" "$domain" warn "" ""
prosody --config "$work/prosody.cfg.lua" -F > "$work/prosody.out" 2>&1 &
prosody_pid=$!
for _ in $(seq 1 200); do
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break
  sleep 0.1
done
timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null || { note "prosody did not start ($work/prosody.out)"; exit 1; }

scenario() {  # scenario FILE SESSION_XML
  cat > "$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="10000"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="10" unit="second">
    <users arrivalrate="$((users / 2 > 0 ? users / 2 : 1))" unit="second" maxnumber="$users"/></arrivalphase></load>
  <options>
    <option type="ts_jabber" name="global_number" value="$users"/>
    <option type="ts_jabber" name="userid_max" value="$users"/>
    <option type="ts_jabber" name="domain" value="$domain"/>
    <option type="ts_jabber" name="username" value="bench"/>
    <option type="ts_jabber" name="passwd" value="pw"/>
  </options>
  <sessions><session probability="100" name="s" type="ts_jabber">
$2
  </session></sessions>
</tsung>
XML
}
scenario "$work/register.xml" '    <request> <jabber type="connect" ack="local"/> </request>
    <request> <jabber type="register" ack="local"/> </request>
    <request> <jabber type="close" ack="local"/> </request>'
scenario "$work/bench-jabber.xml" '    <request> <jabber type="connect" ack="local"/> </request>
    <request> <jabber type="auth_get" ack="local"/> </request>
    <request> <jabber type="auth_set_plain" ack="local"/> </request>
    <request> <jabber type="presence:initial" ack="no_ack"/> </request>
    <request> <jabber type="iq:roster:get" ack="local"/> </request>
    <thinktime value="2"/>
    <for from="1" to="40" var="i">
      <transaction name="chat"><request> <jabber type="chat" ack="no_ack" size="64" destination="online"/> </request></transaction>
      <thinktime value="0.1"/>
    </for>
    <thinktime value="1"/>
    <request> <jabber type="close" ack="no_ack"/> </request>'

note "registering $users users"
timeout 120 "$loadctl" -q -f "$work/register.xml" -l "$work/register-logs" start > "$work/register.out" 2>&1 ||
  { note "registration failed ($work/register.out)"; exit 1; }

declare -A MSG WALL CPU PER
# measure NAME LOGDIR CMD...: runs CMD under /usr/bin/time with a bound; fills the table row.
measure() {
  local name=$1 logdir=$2 rc=0
  shift 2
  /usr/bin/time -f '%e %U %S' -o "$work/$name.time" timeout -k 10 300 "$@" > "$work/$name.out" 2>&1 || rc=$?
  local log
  log=$(find "$logdir" -name tsung.log | head -1)
  if [ "$rc" -ne 0 ] || [ -z "$log" ]; then
    note "$name failed (status $rc, $work/$name.out):"
    tail -2 "$work/$name.out" >&2 || true  # e.g. another Tsung controller running on this host
    MSG[$name]=n/a; WALL[$name]=n/a; CPU[$name]=n/a; PER[$name]=n/a
    return
  fi
  MSG[$name]=$(awk '$1 == "stats:" && $2 == "tr_chat" { s += $3 } END { print s + 0 }' "$log")
  WALL[$name]=$(awk '{ print $1 }' "$work/$name.time")
  CPU[$name]=$(awk '{ printf "%.2f", $2 + $3 }' "$work/$name.time")
  PER[$name]=$(awk -v c="${CPU[$name]}" -v n="${MSG[$name]}" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n; else print "n/a" }')
}

note "loadctl"
measure loadctl "$work/loadctl-logs" "$loadctl" -q -f "$work/bench-jabber.xml" -l "$work/loadctl-logs" --threads 1 start
if command -v tsung >/dev/null && { getent hosts "$(hostname)" >/dev/null 2>&1 || getent hosts "$(hostname -s)" >/dev/null 2>&1; }; then
  note "Tsung"
  measure tsung "$work/tsung-logs" tsung -f "$work/bench-jabber.xml" -l "$work/tsung-logs" start
else
  note "Tsung skipped (not installed, or this host's name does not resolve)"
  MSG[tsung]=n/a; WALL[tsung]=n/a; CPU[tsung]=n/a; PER[tsung]=n/a
fi

printf '%-8s %10s %8s %8s %14s\n' tool messages wall_s cpu_s cpu_us/message
for t in loadctl tsung; do
  printf '%-8s %10s %8s %8s %14s\n' "$t" "${MSG[$t]}" "${WALL[$t]}" "${CPU[$t]}" "${PER[$t]}"
done
awk -v a="${PER[loadctl]}" -v b="${PER[tsung]}" 'BEGIN {
  if (a + 0 > 0 && b + 0 > 0) printf "CPU per message, loadctl/Tsung: x%.2f\n", a / b; else print "CPU per message, loadctl/Tsung: n/a" }'
if [ "${CPU[loadctl]}" != n/a ] && [ "${CPU[tsung]}" != n/a ]; then rm -rf "$work"; else note "kept $work"; fi
