#!/usr/bin/env bash
# Usage: scripts/bench_mqtt.sh [--no-build] [--no-tsung] [--no-idle] [--port PORT] [--users N]
# MQTT benchmark (not a test), loadctl vs Tsung 1.7.0 against the same private mosquitto
# (127.0.0.1:PORT, default 18883, own config, no persistence):
#   (a) idle: N (default 10 000) MQTT clients connect (keepalive 10: a PINGREQ every 10 s), hold
#       30 s (waitForMessages), disconnect. Marginal anonymous memory per connection (RssAnon of
#       the tool's process tree, as bench.sh's tree_anon: peak with N connections minus the
#       level before the first one) and CPU to hold them (% of one core over the hold window).
#   (b) publish QoS 0 (20 publishers, static <user>s, x 50 000 messages of 64 bytes) and (c)
#       QoS 1 (20 x 5000), no subscriber: messages/s as mosquitto received them, from the first
#       publisher's connection to the second at which mosquitto's count
#       ($SYS/broker/publish/messages/received, once a second) reached them all, and the tool's
#       CPU (user+sys, /usr/bin/time, start-up included) per message.
# Every step is bounded by `timeout`. Prints a table and the ratios loadctl/Tsung.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1 tsung_wanted=1 idle_wanted=1 port=${BENCH_PORT:-18883} users=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --no-tsung) tsung_wanted=0 ;;
    --no-idle) idle_wanted=0 ;;
    --port) port=$2; shift ;;
    --users) users=$2; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "bench_mqtt.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
publishers=20

loadctl=$PWD/build/src/controller/loadctl
work=$(mktemp -d /tmp/loadctl-bench-mqtt.XXXXXX)
mpid="" sys_pid="" sampler_pid=""
cleanup() {
  local p
  for p in $sampler_pid $sys_pid $mpid; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
note() { echo "bench_mqtt.sh: $*" >&2; }

nofile=65536
hard=$(ulimit -Hn)
[ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ] && nofile=$hard
ulimit -n "$nofile" || true
[ "$nofile" -gt $((users + 200)) ] || note "warning: only $nofile file descriptors allowed for $users connections"

if [ "$build" = 1 ]; then cmake --build build -j2 --target loadctl loadagent >&2; fi
[ -x "$loadctl" ] || { note "loadctl not built ($loadctl)"; exit 1; }
have_tsung=0
if [ "$tsung_wanted" = 1 ] && command -v tsung >/dev/null; then
  if getent hosts "$(hostname)" >/dev/null 2>&1; then have_tsung=1
  else note "Tsung skipped: Erlang needs this host's name to resolve"; fi
fi

# mosquitto, own configuration; $SYS topics every second for the message rate.
cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
user $(id -un)
sys_interval 1
max_connections -1
log_dest file $work/mosquitto.log
log_type error
log_type warning
CONF
/usr/sbin/mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.out" 2>&1 &
mpid=$!
for _ in $(seq 1 100); do timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break; sleep 0.1; done
# "<unix time> <publish messages received so far>" once a second.
mosquitto_sub -h 127.0.0.1 -p "$port" -t '$SYS/broker/publish/messages/received' -F '%U %p' > "$work/sys.log" 2>/dev/null &
sys_pid=$!

# tree_pids PID: PID and its descendants.
tree_pids() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { ppid[$1] = $2 } END { for (p in ppid) { q = p; while (q != "" && q != 0 && q != root) q = ppid[q]; if (q == root) print p } }'
}
# sampler PID OUT: every 200 ms "<time> <established connections to mosquitto> <tree anon KB> <tree CPU ticks>".
sampler() {
  local p anon ticks kb t
  while kill -0 "$1" 2>/dev/null; do
    anon=0 ticks=0
    for p in $(tree_pids "$1"); do
      kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
      anon=$((anon + ${kb:-0}))
      t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true)
      ticks=$((ticks + ${t:-0}))
    done
    echo "$(date +%s.%N) $(ss -Htn state established "( dport = :$port )" 2>/dev/null | wc -l) $anon $ticks" >> "$2"
    sleep 0.2
  done
}

idle_xml() {  # idle_xml FILE
  cat > "$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="60000"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="20" unit="second">
    <users maxnumber="$users" arrivalrate="1000" unit="second"/></arrivalphase></load>
  <sessions><session name="idle" probability="100" type="ts_mqtt">
    <request><mqtt type="connect" keepalive="10"/></request>
    <request><mqtt type="waitForMessages" timeout="30"/></request>
    <request><mqtt type="disconnect"/></request>
  </session></sessions>
</tsung>
XML
}
messages_for() { if [ "$1" = 0 ]; then echo 50000; else echo 5000; fi; }
publish_xml() {  # publish_xml FILE QOS
  local messages
  messages=$(messages_for "$2")
  cat > "$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="1000"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load>$(for _ in $(seq "$publishers"); do printf '<user session="pub" start_time="0" unit="second"/>'; done)</load>
  <sessions><session name="pub" probability="100" type="ts_mqtt">
    <request><mqtt type="connect" keepalive="60"/></request>
    <for from="1" to="$messages" incr="1" var="i">
      <request><mqtt type="publish" topic="bench/qos$2" qos="$2">0123456789012345678901234567890123456789012345678901234567890123</mqtt></request>
    </for>
    <request><mqtt type="disconnect"/></request>
  </session></sessions>
</tsung>
XML
}
idle_xml "$work/idle.xml"
publish_xml "$work/pub0.xml" 0
publish_xml "$work/pub1.xml" 1

# run TOOL NAME SECONDS SCENARIO: the tool under /usr/bin/time and timeout, sampled; sets CPU_S.
run() {
  local tool=$1 name=$2 limit=$3 xml=$4 rc=0
  : > "$work/$name.samples"
  local cmd=("$loadctl" -q -f "$xml" -l "$work/loadctl-logs" start)
  if [ "$tool" = tsung ]; then
    cmd=(tsung -f "$xml" -l "$work/tsung-logs" start)
    # One tsung_controller node per host: wait (60 s at most) for the previous one to be gone.
    for _ in $(seq 1 120); do epmd -names 2>/dev/null | grep -q tsung_controller || break; sleep 0.5; done
  fi
  /usr/bin/time -f '%e %U %S' -o "$work/$name.time" timeout -k 10 "$limit" "${cmd[@]}" > "$work/$name.out" 2>&1 &
  local pid=$!
  sampler "$pid" "$work/$name.samples" &
  sampler_pid=$!
  wait "$pid" || rc=$?
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
  CPU_S=$(tail -1 "$work/$name.time" | awk '{ print $2 + $3 }')
  [ "$rc" -eq 0 ] || { note "$name exited with status $rc ($work/$name.out)"; tail -5 "$work/$name.out" >&2 || true; }
  return "$rc"
}

declare -A MEM HOLD PEAK RATE0 CPU0 RATE1 CPU1
hz=$(getconf CLK_TCK)
idle() {  # idle TOOL
  local s=$work/$1-idle.samples
  if ! run "$1" "$1-idle" 240 "$work/idle.xml"; then MEM[$1]=n/a HOLD[$1]=n/a PEAK[$1]=n/a; return; fi
  # Baseline: the last sample before the first connection; peak: the highest with all connected.
  read -r MEM[$1] HOLD[$1] PEAK[$1] < <(awk -v n="$users" -v hz="$hz" '
    $2 == 0 && !started { base = $3 }
    $2 > 0 { started = 1 }
    $2 >= n { if ($3 > peak) peak = $3; if (t0 == "") { t0 = $1; c0 = $4 } t1 = $1; c1 = $4 }
    $2 > maxc { maxc = $2 }
    END {
      if (peak == "" || t1 <= t0) { print "n/a n/a " maxc; exit }
      printf "%.2f %.1f %d\n", (peak - base) / n, (c1 - c0) / hz / (t1 - t0) * 100, maxc
    }' "$s")
  note "$1 idle: ${PEAK[$1]} connections at most, ${MEM[$1]} KB anonymous per connection, holding them: ${HOLD[$1]}% of a core"
}
publish() {  # publish TOOL QOS
  local name=$1-pub$2 before after messages
  messages=$(messages_for "$2")
  before=$(tail -1 "$work/sys.log" | awk '{ print $2 + 0 }')
  if ! run "$1" "$name" 300 "$work/pub$2.xml"; then eval "RATE$2[$1]=n/a CPU$2[$1]=n/a"; return; fi
  local n=$((publishers * messages)) rate t0 t1
  # mosquitto may still be reading what the tool wrote: wait (60 s at most) for its count.
  for _ in $(seq 1 600); do
    [ "$(tail -1 "$work/sys.log" | awk '{ print $2 + 0 }')" -ge $((before + n)) ] && break
    sleep 0.1
  done
  t0=$(awk '$2 > 0 { print $1; exit }' "$work/$name.samples")
  t1=$(awk -v m=$((before + n)) '$2 >= m { print $1; exit }' "$work/sys.log")
  rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { if (a != "" && b > a) printf "%.0f", n / (b - a); else print "n/a" }')
  after=$(tail -1 "$work/sys.log" | awk '{ print $2 + 0 }')
  eval "RATE$2[$1]=$rate"
  eval "CPU$2[$1]=$(awk -v c="$CPU_S" -v n="$n" 'BEGIN { printf "%.1f", c * 1e6 / n }')"
  note "$1 QoS $2: mosquitto received $((after - before)) of $n messages, $rate/s, CPU ${CPU_S}s"
}

tools=(loadctl)
[ "$have_tsung" = 1 ] && tools+=(tsung)
for t in "${tools[@]}"; do
  if [ "$idle_wanted" = 1 ]; then
    note "(a) $t: $users idle MQTT clients (about 60 s)"
    idle "$t"
    sleep 3  # let the broker forget the last clients
  fi
  for q in 0 1; do
    note "($([ $q = 0 ] && echo b || echo c)) $t: $publishers x $(messages_for $q) publishes, QoS $q"
    publish "$t" "$q"
  done
done
for t in loadctl tsung; do : "${MEM[$t]:=n/a}" "${HOLD[$t]:=n/a}" "${RATE0[$t]:=n/a}" "${CPU0[$t]:=n/a}" "${RATE1[$t]:=n/a}" "${CPU1[$t]:=n/a}"; done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '\n%-8s %16s %14s %12s %14s %12s %14s\n' tool "KB/conn (anon)" "hold %core" "QoS0 msg/s" "QoS0 CPU us" "QoS1 msg/s" "QoS1 CPU us"
for t in loadctl tsung; do
  printf '%-8s %16s %14s %12s %14s %12s %14s\n' "$t" "${MEM[$t]}" "${HOLD[$t]}" "${RATE0[$t]}" "${CPU0[$t]}" "${RATE1[$t]}" "${CPU1[$t]}"
done
echo "loadctl/Tsung: memory per connection x$(ratio "${MEM[loadctl]}" "${MEM[tsung]}"), CPU holding x$(ratio "${HOLD[loadctl]}" "${HOLD[tsung]}"), QoS 0 msg/s x$(ratio "${RATE0[loadctl]}" "${RATE0[tsung]}") CPU/msg x$(ratio "${CPU0[loadctl]}" "${CPU0[tsung]}"), QoS 1 msg/s x$(ratio "${RATE1[loadctl]}" "${RATE1[tsung]}") CPU/msg x$(ratio "${CPU1[loadctl]}" "${CPU1[tsung]}")"
echo "(work files: $work)"
