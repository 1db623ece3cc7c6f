#!/usr/bin/env bash
# Usage: scripts/bench_websocket.sh [--no-build] [--no-tsung] [--port PORT] [--users N]
# WebSocket benchmark (not a test), loadctl vs Tsung 1.7.0 against loadtarget's WebSocket echo
# (--ws-echo, one thread) on 127.0.0.1:PORT (default 18190):
#   (a) idle: N users (default 10 000) arrive at 1000/s, each connects (handshake), sends one
#       message and waits for its echo, stays connected 30 s, sends one more, closes. Measured
#       over the tool's process tree: peak anonymous RSS (as scripts/bench.sh's tree_anon) per
#       connection, both as peak/N and as the marginal cost (peak minus the run's first sample,
#       taken before any user, divided by N), and the CPU used while all N are held (from 1 s
#       after the arrival phase to 2 s before the first user's thinktime ends).
#   (b) echo: 100 users (arriving at 100/s) x 2000 text messages of 32 bytes, each waiting for
#       its echo: messages/s over the tool's whole run and CPU (user+sys of the whole tool,
#       start-up included) per message.
# Per-connection figures divide by the handshakes made (websocket_succ), which is less than N
# when the machine cannot keep up with the arrivals.
# Messages are counted from each tool's tsung.log (`request`). Every step is time-bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
tsung_wanted=1
port=${BENCH_PORT:-18190}
users=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --no-tsung) tsung_wanted=0 ;;
    --port) port=$2; shift ;;
    --users) users=$2; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "bench_websocket.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

loadctl=$PWD/build/src/controller/loadctl
loadtarget=$PWD/build/src/target/loadtarget
work=$(mktemp -d /tmp/loadctl-bench-ws.XXXXXX)
target_pid=""
cleanup() { [ -n "$target_pid" ] && kill "$target_pid" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
note() { echo "bench_websocket.sh: $*" >&2; }

nofile=65536
hard=$(ulimit -Hn)
[ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ] && nofile=$hard
ulimit -n "$nofile" || true
[ "$nofile" -ge $((users + 500)) ] || note "warning: only $nofile file descriptors allowed"

if [ "$build" = 1 ]; then cmake --build build -j2 --target loadctl loadagent loadtarget >&2; fi
have_tsung=0
if [ "$tsung_wanted" = 1 ] && command -v tsung >/dev/null; then
  if getent hosts "$(hostname)" >/dev/null 2>&1 || getent hosts "$(hostname -s)" >/dev/null 2>&1; then
    have_tsung=1
  else
    note "Tsung skipped: Erlang needs this host's name to resolve"
  fi
fi

"$loadtarget" -q --ws-echo "127.0.0.1:$port" --threads 1 > "$work/target.out" 2>&1 &
target_pid=$!
for _ in $(seq 1 100); do grep -q '^listening ws-echo' "$work/target.out" && break; sleep 0.05; done
grep -q '^listening ws-echo' "$work/target.out" || { cat "$work/target.out" >&2; note "loadtarget did not start"; exit 1; }

# scenario FILE ARRIVAL_SECONDS RATE MAXUSERS BODY
scenario() {
  cat > "$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="30000"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="$2" unit="second"><users maxnumber="$4" arrivalrate="$3" unit="second"/></arrivalphase></load>
  <sessions><session name="ws" probability="100" type="ts_websocket">
    <request><websocket type="connect" path="/bench"/></request>
    $5
    <request><websocket type="close"/></request>
  </session></sessions>
</tsung>
XML
}
# The phase lasts 2 s longer than N/1000 s: it ends when N users have come (Poisson arrivals).
arrival=$(( (users + 999) / 1000 + 2 ))
scenario "$work/idle.xml" "$arrival" 1000 "$users" '
    <request><websocket type="message" frame="text">hello</websocket></request>
    <thinktime value="30" random="false"/>
    <request><websocket type="message" frame="text">again</websocket></request>'
scenario "$work/echo.xml" 5 100 100 '
    <for from="1" to="2000" var="i">
      <request><websocket type="message" frame="text">0123456789abcdef0123456789abcdef</websocket></request>
    </for>'

# tree_pids PID: PID and its descendants.
tree_pids() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { ppid[$1] = $2 } END { for (p in ppid) { q = p; while (q != "" && q != 0 && q != root) q = ppid[q]; if (q == root) print p } }'
}
# sample PID: "<anon KB> <cpu ticks>" summed over PID's tree.
sample() {
  local p anon=0 ticks=0 kb t
  for p in $(tree_pids "$1"); do
    kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || true)
    anon=$((anon + ${kb:-0}))
    ticks=$((ticks + ${t:-0}))
  done
  echo "$anon $ticks"
}

# run NAME LIMIT CMD...: runs CMD under time+timeout, sampling every 200 ms into $work/NAME.samples
# ("<seconds since start> <anon KB> <cpu ticks>"); sets R_CPU (user+sys seconds) and R_LOG (its tsung.log).
run() {
  local name=$1 limit=$2 rc=0 t0
  shift 2
  mkdir -p "$work/$name.logs"
  t0=$(date +%s.%N)
  /usr/bin/time -f '%e %U %S' -o "$work/$name.time" timeout -k 10 "$limit" "$@" -l "$work/$name.logs" start \
    > "$work/$name.out" 2>&1 &
  local pid=$!
  : > "$work/$name.samples"
  while kill -0 "$pid" 2>/dev/null; do
    echo "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }') $(sample "$pid")" >> "$work/$name.samples"
    sleep 0.2
  done
  wait "$pid" || rc=$?
  R_CPU=$(tail -1 "$work/$name.time" | awk '{ print $2 + $3 }')
  R_LOG=$(find "$work/$name.logs" -name tsung.log | head -1)
  [ "$rc" -eq 0 ] || { note "$name exited with status $rc ($work/$name.out)"; tail -5 "$work/$name.out" >&2; }
  return "$rc"
}
counter() { [ -n "$2" ] && awk -v name="$1" '$1 == "stats:" && $2 == name { s += $3 } END { print s + 0 }' "$2" || echo 0; }

declare -A IDLE_ANON IDLE_MARG IDLE_CPU IDLE_OK ECHO_RATE ECHO_CPU
hz=$(getconf CLK_TCK)
idle() {  # TOOL CMD...
  local tool=$1
  shift
  note "(a) $tool: $users idle WebSocket users"
  if run "$tool-idle" 180 "$@" -f "$work/idle.xml"; then
    local s=$work/$tool-idle.samples from=$((arrival + 1)) to=28
    IDLE_OK[$tool]=$(counter websocket_succ "$R_LOG")
    local n=${IDLE_OK[$tool]}  # per connection actually made (a loaded machine misses arrivals)
    IDLE_ANON[$tool]=$(awk -v n="$n" '$2 > m { m = $2 } END { if (n > 0) printf "%.2f", m / n; else print "n/a" }' "$s")
    IDLE_MARG[$tool]=$(awk -v n="$n" 'NR == 1 { b = $2 } $2 > m { m = $2 } END { if (n > 0) printf "%.2f", (m - b) / n; else print "n/a" }' "$s")
    IDLE_CPU[$tool]=$(awk -v f="$from" -v t="$to" -v hz="$hz" '
      $1 >= f && c0 == "" { c0 = $3; t0 = $1 } $1 <= t { c1 = $3; t1 = $1 }
      END { if (t1 > t0) printf "%.1f", 100 * (c1 - c0) / hz / (t1 - t0); else print "n/a" }' "$s")
  fi
}
echo_run() {  # TOOL CMD...
  local tool=$1
  shift
  note "(b) $tool: 100 users x 2000 echoed messages"
  if run "$tool-echo" 300 "$@" -f "$work/echo.xml"; then
    local n t
    n=$(counter request "$R_LOG")
    t=$(awk '{ print $1 }' "$work/$tool-echo.time" | tail -1)
    ECHO_RATE[$tool]=$(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", n / t }')
    ECHO_CPU[$tool]=$(awk -v n="$n" -v c="$R_CPU" 'BEGIN { printf "%.1f", c * 1e6 / n }')
    note "$tool: $n requests in ${t}s, ${R_CPU}s CPU"
  fi
}

idle loadctl "$loadctl" -q
[ "$have_tsung" = 1 ] && idle tsung tsung
echo_run loadctl "$loadctl" -q --threads 1
[ "$have_tsung" = 1 ] && echo_run tsung tsung

printf '\n%-8s | %12s | %14s | %16s | %16s | %12s | %14s\n' tool "handshakes" "anon KB/conn" "marginal KB/conn" "CPU % holding" "echo msg/s" "CPU us/msg"
for tool in loadctl tsung; do
  printf '%-8s | %12s | %14s | %16s | %16s | %12s | %14s\n' "$tool" "${IDLE_OK[$tool]:-n/a}" "${IDLE_ANON[$tool]:-n/a}" \
    "${IDLE_MARG[$tool]:-n/a}" "${IDLE_CPU[$tool]:-n/a}" "${ECHO_RATE[$tool]:-n/a}" "${ECHO_CPU[$tool]:-n/a}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "x%.2f", a / b; else print "n/a" }'; }
echo
echo "loadctl/Tsung: marginal memory per connection $(ratio "${IDLE_MARG[loadctl]:-}" "${IDLE_MARG[tsung]:-}"), CPU per echoed message $(ratio "${ECHO_CPU[loadctl]:-}" "${ECHO_CPU[tsung]:-}")"
echo "(work directory: $work)"
