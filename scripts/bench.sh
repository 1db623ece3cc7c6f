#!/usr/bin/env bash
# Usage: scripts/bench.sh [--no-build] [--no-tsung] [--no-tls] [--scale | --scale-only] [--build-dir DIR] [--port PORT]
# Benchmark (not a test), against a private nginx (1 worker) on 127.0.0.1:PORT (default 18090):
#   (a) wrk -t1 -c100 -d5s             CPU per request and requests/s of the best C client
#   (b) loadctl, bench-keepalive.xml  100 users x 2000 keep-alive GETs: CPU of loadctl + agents
#                                      (one event-loop thread, like wrk -t1)
#   (b2) loadctl, bench-dynamic.xml   the same load made dynamic: file_server ids, regex
#                                      extraction, substitution, the loop counter in the URL
#   (c) Tsung 1.7.0, same scenario     CPU of its Erlang VM (when `tsung` is installed)
#   (d) loadctl and Tsung, bench-idle.xml: 10 000 connected idle users, peak RSS per user (all
#       resident pages of the tool's processes, and anonymous pages only: without shared libraries)
#   (e) loadctl with 200 local agents (bench-agents.xml; LOADCTL_BENCH_AGENTS=N to change):
#       the controller's CPU share and peak RSS while they all report every 500 ms
#   (f) TLS handshakes (bench-tls.xml): 3000 new connections at 300/s, one GET each, against
#       nginx's TLS 1.2-only and TLS 1.3-only servers (free ports from PORT+353 up): client CPU
#       per handshake, full handshakes and resumed sessions, for h2load --h1 (which never
#       resumes), loadctl and Tsung (--no-tls skips it)
#   (g) --scale, with strace: system calls per keep-alive request (20 users x 1000 GETs) and per
#       new-connection user (2000 one-GET users at 500/s), `strace -c -f` over loadctl's process
#       tree (the controller included), --threads 1
#   (h) --scale: a ramp of $BENCH_RAMP_USERS (100 000) users at $BENCH_RAMP_RATE (5000)/s, each
#       one GET then idle until all have arrived, from one local agent per core (more when the
#       nofile limit cannot be raised to 60 000: 17 000 users each) and source IPs 127.0.0.2-9 to a second nginx (8
#       workers, reuseport, 2 ports): ramp time (first connect to all connected, and to 99 %),
#       the worst whole second of arrivals (users started), stall seconds (seconds of the ramp
#       with fewer than half the planned connects), late users, errors, peak ESTABLISHED (ss),
#       RSS, PSS and anonymous memory per user of loadctl's process tree at its peak
#   (i) --scale: open model, one-GET users (a connection each) at 1000, 2000, 4000/s
#       ($BENCH_OPEN_RATES) for 10 s, loadctl and Tsung: users served, achieved users/s, CPU per
#       user over the window in which nginx logged requests (start-ups left out); loadctl runs
#       $BENCH_OPEN_RUNS (3) times per rate and the median is shown (on a small VM the same work's
#       CPU varies by a third from one run to the next, nginx's moving with loadctl's)
# --scale-only: (a), (b) and the --scale steps (g, h, i) only.
# --build-dir DIR takes loadctl and loadagent from DIR (default build/), e.g. for an A/B run.
# Requests are counted by nginx (access-log line delta); CPU is user+sys from /usr/bin/time,
# children included; RSS is sampled every 200 ms over the tool's process tree.
# Prints a table and the ratios loadctl/wrk and loadctl/Tsung. Every step is time-bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
tsung_wanted=1
tls_wanted=1
scale_wanted=0
base_rows=1
build_dir=$PWD/build
port=${BENCH_PORT:-18090}
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --no-tsung) tsung_wanted=0 ;;
    --no-tls) tls_wanted=0 ;;
    --scale) scale_wanted=1 ;;
    --scale-only) scale_wanted=1; base_rows=0; tls_wanted=0 ;;
    --build-dir) build_dir=$(cd "$2" && pwd); build=0; shift ;;
    --port) port=$2; shift ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

loadctl=$build_dir/src/controller/loadctl
work=$(mktemp -d /tmp/loadctl-bench.XXXXXX)
access=$work/nginx/access.log
sampler_pid=""
cleanup() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  scripts/nginx_target.sh stop "$work/nginx" || true
  [ -f "$work/nginx-ramp/nginx.pid" ] && scripts/nginx_target.sh stop "$work/nginx-ramp" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

note() { echo "bench.sh: $*" >&2; }

# 10 000 idle users need 10 000 descriptors in the client (and as many in nginx).
nofile=65536
hard=$(ulimit -Hn)
[ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ] && nofile=$hard
ulimit -n "$nofile" || true
[ "$nofile" -ge 12000 ] || note "warning: only $nofile file descriptors allowed; the idle test needs ~10 100"
# Each idle user is one connection from 127.0.0.1 to one port: 10 000 of the ~28 000 ephemeral
# ports (net.ipv4.ip_local_port_range); connections closed by earlier steps sit in TIME_WAIT.
note "ephemeral ports: $(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null | tr '\t' '-'), in TIME_WAIT now: $(ss -tan state time-wait 2>/dev/null | tail -n +2 | wc -l)"

if [ "$build" = 1 ]; then scripts/build.sh; fi
command -v wrk >/dev/null || { note "wrk is missing (scripts/deps.sh installs it)"; exit 1; }

have_tsung=0
if [ "$tsung_wanted" = 1 ] && command -v tsung >/dev/null; then
  if getent hosts "$(hostname)" >/dev/null 2>&1 || getent hosts "$(hostname -s)" >/dev/null 2>&1; then
    have_tsung=1
  else
    note "Tsung skipped: Erlang needs this host's name to resolve; add '127.0.0.1 $(hostname)' to /etc/hosts"
  fi
fi

# Scenario copies pointing at our nginx port.
for f in bench-keepalive bench-idle bench-dynamic; do
  sed "s/port=\"18090\"/port=\"$port\"/" "examples/$f.xml" > "$work/$f.xml"
done
for i in $(seq 1 100); do echo "id$i"; done > "$work/bench-users.csv"

# next_free_port FROM: the first port from FROM up that nobody listens on.
next_free_port() {
  local p=$1
  while timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
tls12_port=$(next_free_port $((port + 353)))
tls13_port=$(next_free_port $((tls12_port + 1)))
NGINX_TLS_PORTS="$tls12_port $tls13_port" scripts/nginx_target.sh start "$work/nginx" "$port" 1 >&2

# lines: requests nginx logged so far, in $count_log (the plain-HTTP log but for step f).
count_log=$access
lines() { wc -l < "$count_log" | tr -d ' '; }

# sampler PID OUT: every 200 ms appends "<time> <nginx lines> <tree RSS KB> <tree anon KB>
# <tree CPU ticks>" while PID lives (scripts/bench_sampler.pl: one process, no fork per sample).
sampler() { perl scripts/bench_sampler.pl "$1" "$count_log" "$2" 0.2; }

# run_measured NAME SECONDS CMD...: runs CMD under /usr/bin/time and `timeout`, sampling as it
# goes; sets R_REQ, R_RATE, R_CPU_US (per request) and R_RSS_KB (peak). Returns CMD's status.
run_measured() {
  local name=$1 limit=$2 rc=0 start samples=$work/$1.samples timefile=$work/$1.time
  shift 2
  : > "$samples"
  start=$(lines)
  /usr/bin/time -f '%e %U %S' -o "$timefile" timeout -k 10 "$limit" "$@" > "$work/$name.out" 2>&1 &
  local pid=$!
  sampler "$pid" "$samples" &
  sampler_pid=$!
  wait "$pid" || rc=$?
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
  sleep 0.3   # nginx writes its log line right after the response
  R_REQ=$(( $(lines) - start ))
  local cpu
  cpu=$(tail -1 "$timefile" | awk '{ print $2 + $3 }')
  R_CPU_US=$(awk -v c="$cpu" -v n="$R_REQ" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n; else print "n/a" }')
  # Rate over the window in which nginx saw requests (start-up and shutdown excluded).
  R_RATE=$(awk -v s="$start" '
    $2 > s && first == "" { first = $1; firstn = $2 }
    $2 > lastn { last = $1; lastn = $2 }
    END { if (last > first) printf "%.0f", (lastn - firstn) / (last - first); else print "n/a" }' "$samples")
  # CPU per request within that window only (R_CPU_WINDOW_US: start-up and shutdown left out).
  # (Samples taken once the tree is gone say 0 ticks: the window ends at the last one before.)
  R_CPU_WINDOW_US=$(awk -v s="$start" -v hz="$(getconf CLK_TCK)" '
    $2 > s && $5 > 0 && first == "" { first = $2; c0 = $5 }
    $2 > s && $5 > 0 && $2 > lastn { lastn = $2; c1 = $5 }
    END { if (lastn > first) printf "%.1f", (c1 - c0) / hz * 1e6 / (lastn - first); else print "n/a" }' "$samples")
  R_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
  R_RSS_KB=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$samples")
  R_ANON_KB=$(awk '$4 > m { m = $4 } END { print m + 0 }' "$samples")
  [ "$rc" -eq 0 ] || { note "$name exited with status $rc (output: $work/$name.out)"; tail -5 "$work/$name.out" >&2 || true; }
  return "$rc"
}

declare -A REQ RATE CPU RSSU ANONU
row() { REQ[$1]=$R_REQ; RATE[$1]=$R_RATE; CPU[$1]=$R_CPU_US; RSSU[$1]=${2:-n/a}; ANONU[$1]=n/a; }
na_row() { REQ[$1]=n/a; RATE[$1]=n/a; CPU[$1]=n/a; RSSU[$1]=n/a; ANONU[$1]=n/a; }
per_user() { awk -v kb="$1" 'BEGIN { printf "%.2f KB", kb / 10000 }'; }

note "(a) wrk -t1 -c100 -d5s"
if run_measured wrk 30 wrk -t1 -c100 -d5s "http://127.0.0.1:$port/"; then row wrk; else na_row wrk; fi

note "(b) loadctl, 100 users x 2000 keep-alive GETs"
if [ -x "$loadctl" ] && run_measured loadctl 300 "$loadctl" -q -f "$work/bench-keepalive.xml" -l "$work/loadctl-logs" --threads 1 start; then
  row loadctl
else
  [ -x "$loadctl" ] || note "loadctl not built ($loadctl)"
  na_row loadctl
fi

note "(b2) loadctl, the same load with dynamics (file ids, regex extraction, substitution)"
if [ "$base_rows" = 1 ] && [ -x "$loadctl" ] && run_measured loadctl-dyn 300 "$loadctl" -q -f "$work/bench-dynamic.xml" -l "$work/loadctl-logs" --threads 1 start; then
  row loadctl-dyn
else
  na_row loadctl-dyn
fi

if [ "$have_tsung" = 1 ] && [ "$base_rows" = 1 ]; then
  note "(c) Tsung, same scenario"
  if run_measured tsung 300 tsung -f "$work/bench-keepalive.xml" -l "$work/tsung-logs" start; then row tsung; else na_row tsung; fi
else
  na_row tsung
fi

[ "$base_rows" = 1 ] && note "(d) 10 000 idle users (about 35 s per tool)"
if [ "$base_rows" = 1 ] && [ -x "$loadctl" ] && run_measured loadctl-idle 180 "$loadctl" -q -f "$work/bench-idle.xml" -l "$work/loadctl-logs" start; then
  note "loadctl idle: $R_REQ requests, peak RSS $R_RSS_KB KB, peak anonymous $R_ANON_KB KB"
  RSSU[loadctl]=$(per_user "$R_RSS_KB")
  ANONU[loadctl]=$(per_user "$R_ANON_KB")
fi
if [ "$have_tsung" = 1 ] && [ "$base_rows" = 1 ] && run_measured tsung-idle 180 tsung -f "$work/bench-idle.xml" -l "$work/tsung-logs" start; then
  note "Tsung idle: $R_REQ requests, peak RSS $R_RSS_KB KB, peak anonymous $R_ANON_KB KB"
  RSSU[tsung]=$(per_user "$R_RSS_KB")
  ANONU[tsung]=$(per_user "$R_ANON_KB")
fi

# (e) Controller scale: many local agents, each with a trickle of users, all reporting at 2 Hz.
# The controller's own CPU share over a steady window, and its peak RSS.
scale_agents=${LOADCTL_BENCH_AGENTS:-200}
[ "$base_rows" = 1 ] || scale_agents=0
scale_line="n/a"
if [ -x "$loadctl" ] && [ "$scale_agents" -gt 0 ]; then
  note "(e) controller with $scale_agents local agents (about 40 s)"
  sed "s/cpu=\"200\"/cpu=\"$scale_agents\"/; s/port=\"18090\"/port=\"$port\"/" examples/bench-agents.xml > "$work/bench-agents.xml"
  timeout -k 10 240 "$loadctl" -q -f "$work/bench-agents.xml" -l "$work/loadctl-logs" --threads 1 --setup-timeout 120 start \
    > "$work/scale.out" 2>&1 &
  scale_wrapper=$!
  sleep 1
  ctl=$(pgrep -n -x loadctl || true)
  # Wait until every agent runs (the controller logs "load starts"), then measure 20 s.
  for _ in $(seq 1 240); do
    d=$(ls -1td "$work"/loadctl-logs/*/ 2>/dev/null | head -1)
    [ -n "$d" ] && grep -q "agents ready" "$d/controller.log" 2>/dev/null && break
    sleep 0.5
  done
  if [ -n "$ctl" ] && [ -r "/proc/$ctl/stat" ]; then
    sleep 5
    t0=$(awk '{ print $14 + $15 }' "/proc/$ctl/stat")
    sleep 20
    t1=$(awk '{ print $14 + $15 }' "/proc/$ctl/stat" 2>/dev/null || echo "$t0")
    hz=$(getconf CLK_TCK)
    rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$ctl/status" 2>/dev/null || echo 0)
    agents_seen=$(pgrep -c -P "$ctl" || true)
    scale_line=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v rss="$rss" -v n="$agents_seen" \
      'BEGIN { printf "%d agents: controller CPU %.2f%% of one core, peak RSS %.1f MB", n, (b - a) / hz / 20 * 100, rss / 1024 }')
  fi
  wait "$scale_wrapper" 2>/dev/null || true
fi
note "controller scale: $scale_line"

# (f) TLS handshakes. Every connection is one user (one request), so requests = handshakes; nginx
# logs whether each session was resumed.
tls_table=()
tls_row() {  # TOOL VERSION MODE: appends a line from the last run_measured, and the reuse count
  local reused
  reused=$(tail -n "$R_REQ" "$count_log" | grep -c ' r$' || true)
  tls_table+=("$(printf '%-8s %-7s %-8s %8s %8s %10s %16s' "$1" "$2" "$3" "$R_REQ" "$reused" "$R_RATE" "$R_CPU_US")")
}
if [ "$tls_wanted" = 1 ]; then
  note "(f) TLS handshakes, 3000 connections at 300/s per row (about 3 minutes)"
  count_log=$work/nginx/tls_access.log
  for version in 1.2 1.3; do
    tport=$tls12_port; [ "$version" = 1.3 ] && tport=$tls13_port
    if command -v h2load >/dev/null && run_measured "h2load-tls$version" 60 \
        h2load --h1 -n 3000 -c 3000 -r 300 "https://127.0.0.1:$tport/"; then
      tls_row h2load "$version" full
    fi
    for reuse in false true; do
      mode=full; [ "$reuse" = true ] && mode=resumed
      sed "s/port=\"18443\"/port=\"$tport\"/; s/'tlsv1.2'/'tlsv$version'/;
           s/name=\"ssl_reuse_sessions\" value=\"false\"/name=\"ssl_reuse_sessions\" value=\"$reuse\"/" \
        examples/bench-tls.xml > "$work/bench-tls-$version-$reuse.xml"
      if [ -x "$loadctl" ] && run_measured "loadctl-tls$version-$reuse" 120 "$loadctl" -q \
          -f "$work/bench-tls-$version-$reuse.xml" -l "$work/loadctl-logs" --threads 1 start; then
        tls_row loadctl "$version" "$mode"
      fi
      if [ "$have_tsung" = 1 ] && run_measured "tsung-tls$version-$reuse" 180 \
          tsung -f "$work/bench-tls-$version-$reuse.xml" -l "$work/tsung-logs" start; then
        tls_row tsung "$version" "$mode"
      fi
    done
  done
  count_log=$access
fi

# (g) System calls per request and per user: strace -c -f over the whole run, divided by the
# requests tsung.log counts (g1) or by the users (g2).
sys_lines=()
# syscalls NAME SCENARIO UNITS: appends "NAME: total per unit (the main calls)" to sys_lines.
syscalls() {
  local name=$1 scen=$2 units=$3 out=$work/$1.strace n
  rm -rf "$work/$name-run"
  timeout -k 10 300 strace -c -f -o "$out" "$loadctl" -q -f "$scen" --threads 1 --run-dir "$work/$name-run" start \
    > "$work/$name.out" 2>&1 || { note "$name: loadctl failed under strace"; return 0; }
  n=$units
  [ "$units" = requests ] && n=$(awk '$1 == "stats:" && $2 == "request" { s += $3 } END { print s + 0 }' "$work/$name-run/tsung.log")
  sys_lines+=("$(awk -v n="$n" -v name="$name" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { c[$NF] = $4; t += $4 }
    END { if (n <= 0) { print name ": n/a"; exit } line = sprintf("%-16s %6.2f per %s:", name, t / n, name ~ /request/ ? "request" : "user")
          for (k in c) if (c[k] / n >= 0.05) line = line sprintf(" %s %.2f", k, c[k] / n); print line }' "$out")")
}
if [ "$scale_wanted" = 1 ] && [ -x "$loadctl" ]; then
  if command -v strace >/dev/null; then
    note "(g) system calls per request and per user (strace -c -f, about 1 minute)"
    cat > "$work/sys-keepalive.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="20" arrivalrate="100" unit="second"/></arrivalphase></load>
  <sessions><session name="ka" probability="100" type="ts_http">
    <for from="1" to="1000" var="i"><request><http url="/" method="GET" version="1.1"/></request></for>
  </session></sessions>
</tsung>
XML
    sed -e 's/maxnumber="20" arrivalrate="100"/maxnumber="2000" arrivalrate="500"/' -e 's/duration="1"/duration="5"/' \
        -e 's/to="1000"/to="1"/' "$work/sys-keepalive.xml" > "$work/sys-users.xml"
    syscalls sys-request "$work/sys-keepalive.xml" requests
    syscalls sys-user "$work/sys-users.xml" 2000
  else
    note "(g) skipped: strace is missing"
  fi
fi

# (h) Ramp: BENCH_RAMP_USERS (100 000) idle users at BENCH_RAMP_RATE (5000) arrivals/s, from one
# local agent per core (cpu="N", as Tsung advises), or more when a process may not hold its share:
# the ramp runs with a nofile limit of 60 000 when this shell may raise it (root; what
# scripts/host_setup.sh gives a load host), else under the current hard limit (~20 000 in this
# container: agents of at most 17 000 users). Source IPs 127.0.0.2-9 (<ip>, round-robin; ~28 000
# ephemeral ports each) to nginx with 8 workers, reuseport, on two ports.
# Connects and users started per second from tsung.log (1 s dumps); memory of loadctl's tree at
# its peak, sampled every second: RSS (every process counts the shared libraries it maps), PSS
# (shared pages divided among the processes mapping them) and anonymous.
ramp_line="n/a"
ramp_users=${BENCH_RAMP_USERS:-100000}
ramp_rate=${BENCH_RAMP_RATE:-5000}
if [ "$scale_wanted" = 1 ] && [ -x "$loadctl" ]; then
  ramp_nofile=$(ulimit -Hn)
  if [ "$ramp_nofile" != unlimited ] && [ "$ramp_nofile" -lt 60000 ] && (ulimit -n 60000) 2>/dev/null; then ramp_nofile=60000; fi
  [ "$ramp_nofile" = unlimited ] && ramp_nofile=1048576
  ramp_per_agent=$(( ramp_nofile - 3000 ))
  ramp_agents=$(( (ramp_users + ramp_per_agent - 1) / ramp_per_agent ))
  [ "$ramp_agents" -lt "$(nproc)" ] && ramp_agents=$(nproc)
  ramp_secs=$(( (ramp_users + ramp_rate - 1) / ramp_rate ))
  ramp_think=$(( ramp_secs + 8 ))
  note "(h) ramp: $ramp_users users at $ramp_rate/s, $ramp_agents agents (nofile $ramp_nofile), source IPs 127.0.0.2-9 (about $((ramp_secs + ramp_think + 10)) s)"
  rport=$(next_free_port $((port + 400)))
  rport2=$(next_free_port $((rport + 1)))
  mkdir -p "$work/nginx-ramp"
  echo "listen 127.0.0.1:$rport2 backlog=8192 reuseport;" > "$work/nginx-ramp/server.conf"
  NGINX_REUSEPORT=1 scripts/nginx_target.sh start "$work/nginx-ramp" "$rport" 8 >&2
  ips=""
  for i in 2 3 4 5 6 7 8 9; do ips="$ips<ip value=\"127.0.0.$i\"/>"; done
  cat > "$work/ramp.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" cpu="$ramp_agents" maxusers="$((ramp_per_agent + 1000))">$ips</client></clients>
  <servers><server host="127.0.0.1" port="$rport" type="tcp"/><server host="127.0.0.1" port="$rport2" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="$((ramp_secs + 3))" unit="second"><users maxnumber="$ramp_users" arrivalrate="$ramp_rate" unit="second"/></arrivalphase></load>
  <sessions><session name="idle" probability="100" type="ts_http">
    <request><http url="/" method="GET" version="1.1"/></request>
    <thinktime value="$ramp_think" random="false"/>
  </session></sessions>
</tsung>
XML
  rm -rf "$work/ramp-run"
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  { ulimit -n "$ramp_nofile" && exec timeout -k 10 $((ramp_secs + ramp_think + 90)) "$loadctl" -q -f "$work/ramp.xml" \
      --run-dir "$work/ramp-run" --dump-interval 1 start; } > "$work/ramp.out" 2>&1 &
  ramp_pid=$!
  perl scripts/bench_sampler.pl "$ramp_pid" /dev/null "$work/ramp.samples" 1 pss &
  sampler_pid=$!
  peak_est=0
  while kill -0 "$ramp_pid" 2>/dev/null; do
    e=$(ss -Htn state established "( dport = :$rport or dport = :$rport2 )" 2>/dev/null | wc -l)
    [ "$e" -gt "$peak_est" ] && peak_est=$e
    sleep 1
  done
  wait "$ramp_pid" || note "ramp: loadctl exited with status $? (output: $work/ramp.out)"
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
  # The users idle until the end: each figure's peak is at the plateau of all of them connected.
  read -r peak_rss peak_anon peak_pss < <(awk '$3 > r { r = $3 } $4 > a { a = $4 } $6 > p { p = $6 }
    END { print r + 0, a + 0, p + 0 }' "$work/ramp.samples")
  ramp_line=$(awk -v n="$ramp_users" -v rate="$ramp_rate" -v dur="$ramp_secs" -v rss="$peak_rss" -v pss="$peak_pss" \
      -v anon="$peak_anon" -v est="$peak_est" -v loadavg="$load_before" '
    /^# stats: dump at/ { t++ }
    $1 == "stats:" && $2 == "connect" { c[t] += $3; total += $3 }
    $1 == "stats:" && $2 == "users_count" { u[t] += $3 }
    $1 == "stats:" && $2 == "users_late" { late += $3 }
    $1 == "stats:" && $2 ~ /^error_/ { errors += $3 }
    END {
      for (i = 1; i <= t; i++) if (c[i] > 0 && first == "") first = i
      cum = 0; stall = 0; ramp = "never"; ramp99 = "never"; last = t
      for (i = first; i <= t && i < first + dur + 30; i++) {
        if (i > first && cum + c[i] < 0.99 * n && c[i] < 0.5 * rate) stall++
        cum += c[i]
        if (cum >= 0.99 * n && ramp99 == "never") ramp99 = (i - first + 1) " s"
        if (cum >= n) { ramp = (i - first + 1) " s"; last = i; break }
      }
      # The worst whole second of arrivals: users started, first and last (partial) seconds left out.
      if (ramp == "never") for (i = first; i <= t; i++) if (u[i] > 0) last = i
      worst = ""
      for (i = first + 1; i < last; i++) if (worst == "" || u[i] < worst) worst = u[i]
      printf "%d of %d connected, ramp %s (99%%: %s), worst second %s arrivals, %d stall s, %d late, %d errors, " \
             "peak ESTABLISHED %d, per user: RSS %.2f KB, PSS %.2f KB, anon %.2f KB; load before %s",
             total, n, ramp, ramp99, (worst == "" ? "n/a" : worst), stall, late, errors, est,
             (total > 0 ? rss / total : 0), (total > 0 ? pss / total : 0), (total > 0 ? anon / total : 0), loadavg }' "$work/ramp-run/tsung.log")
  ramp_line="$ramp_line; users started/s:$(awk '/^# stats: dump at/ { t++ } $1 == "stats:" && $2 == "users_count" { c[t] += $3 }
    END { for (i = 1; i <= t; i++) if (c[i] > 0) printf " %d", c[i] }' "$work/ramp-run/tsung.log")"
  scripts/nginx_target.sh stop "$work/nginx-ramp" || true
fi

# (i) Open model: users of one GET each (a new connection per user) arriving at 1000, 2000 and
# 4000/s for 10 s, loadctl then Tsung at each rate. CPU per user is the tool's process tree's
# user+sys over the window in which nginx logged requests (start-up and shutdown left out, as
# both tools' start-ups differ: Tsung boots an Erlang VM), divided by the requests logged in it;
# the rate is those requests per second.
open_table=()
open_rates=${BENCH_OPEN_RATES:-1000 2000 4000}
open_runs=${BENCH_OPEN_RUNS:-3}  # loadctl's runs per rate: the machine's own cost for the same work varies
if [ "$scale_wanted" = 1 ] && [ -x "$loadctl" ]; then
  for rate in $open_rates; do
    sed "s/RATE/$rate/" > "$work/open-$rate.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="100000"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="10" unit="second"><users arrivalrate="RATE" unit="second"/></arrivalphase></load>
  <sessions><session name="one" probability="100" type="ts_http">
    <request><http url="/" method="GET" version="1.1"/></request>
  </session></sessions>
</tsung>
XML
    note "(i) open model, $rate users/s for 10 s: loadctl$([ "$have_tsung" = 1 ] && echo ", Tsung")"
    cpus=()
    for run in $(seq 1 "$open_runs"); do
      if run_measured "open-loadctl-$rate-$run" 60 "$loadctl" -q -f "$work/open-$rate.xml" -l "$work/loadctl-logs" start; then
        open_table+=("$(printf '%-8s %8s %10s %10s %18s   load %s' loadctl "$rate" "$R_REQ" "$R_RATE" "$R_CPU_WINDOW_US" "$R_LOAD")")
        cpus+=("$R_CPU_WINDOW_US")
      fi
    done
    if [ "${#cpus[@]}" -gt 1 ]; then
      open_table+=("$(printf '%s\n' "${cpus[@]}" | sort -g | awk -v rate="$rate" '{ v[NR] = $1 }
        END { printf "%-8s %8s %10s %10s %18s   of %d runs (%s-%s)", "median", rate, "", "", v[int((NR + 1) / 2)], NR, v[1], v[NR] }')")
    fi
    if [ "$have_tsung" = 1 ] && run_measured "open-tsung-$rate" 90 tsung -f "$work/open-$rate.xml" -l "$work/tsung-logs" start; then
      open_table+=("$(printf '%-8s %8s %10s %10s %18s   load %s' tsung "$rate" "$R_REQ" "$R_RATE" "$R_CPU_WINDOW_US" "$R_LOAD")")
    fi
  done
fi

ratio() {  # A B -> A/B or n/a
  awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}

echo
printf '%-11s %10s %10s %14s %16s %16s\n' tool requests req/s "CPU us/req" "peak RSS/user" "anon RSS/user"
for t in wrk loadctl loadctl-dyn tsung; do
  printf '%-11s %10s %10s %14s %16s %16s\n' "$t" "${REQ[$t]}" "${RATE[$t]}" "${CPU[$t]}" "${RSSU[$t]}" "${ANONU[$t]}"
done
echo
echo "dynamic/static loadctl: CPU per request x$(ratio "${CPU[loadctl-dyn]}" "${CPU[loadctl]}") (target <= 1.5)"
echo "loadctl/wrk:   CPU per request x$(ratio "${CPU[loadctl]}" "${CPU[wrk]}"), req/s x$(ratio "${RATE[loadctl]}" "${RATE[wrk]}")"
echo "loadctl/Tsung: CPU per request x$(ratio "${CPU[loadctl]}" "${CPU[tsung]}"), req/s x$(ratio "${RATE[loadctl]}" "${RATE[tsung]}"), RSS per user x$(ratio "${RSSU[loadctl]%% KB}" "${RSSU[tsung]%% KB}")"
echo "controller scale: $scale_line"
if [ ${#tls_table[@]} -gt 0 ]; then
  echo
  printf '%-8s %-7s %-8s %8s %8s %10s %16s\n' tool TLS mode conns resumed conn/s "CPU us/conn"
  printf '%s\n' "${tls_table[@]}"
fi
if [ ${#sys_lines[@]} -gt 0 ]; then
  echo
  echo "system calls (strace -c -f, whole process tree):"
  printf '  %s\n' "${sys_lines[@]}"
fi
[ "$scale_wanted" = 1 ] && echo "ramp ($ramp_users users, $ramp_rate/s): $ramp_line"
if [ ${#open_table[@]} -gt 0 ]; then
  echo
  echo "open model, one GET per user (CPU over the window nginx logged requests in):"
  printf '%-8s %8s %10s %10s %18s\n' tool "users/s" users "achieved/s" "CPU us/user"
  printf '%s\n' "${open_table[@]}"
fi
echo "(work files: $work)"
