#!/usr/bin/env bash
# <monitor type="munin"> and <monitor type="snmp"> against Debian's munin-node and snmpd, each
# started here in its own network-namespace host (loopback when namespaces are unavailable) with
# its own config; the controller polls them as Tsung does. CPU burners started by the test must
# show in {cpu,...}; memory and load must agree with /proc; snmpd stopped mid-run leaves a gap
# (warned once per interval, no sample, the run goes on); a port where nothing listens is a gap
# from the start; Tsung's renderer draws the host charts.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
need_bins loadctl loadagent loadtarget
[ -x /usr/sbin/munin-node ] || { echo "SKIP: munin-node not installed (scripts/deps.sh)"; exit 0; }
[ -x /usr/sbin/snmpd ] || { echo "SKIP: snmpd not installed (scripts/deps.sh)"; exit 0; }

if [ "$(id -u)" -eq 0 ] && ip netns add "${NETNS_PREFIX}probe" 2>/dev/null; then
  ip netns del "${NETNS_PREFIX}probe"
  netns_create 2
  MUNIN_IP=${NETNS_IP[1]} SNMP_IP=${NETNS_IP[2]} ALLOWED=$NETNS_NET.0/24 MUNIN_PORT=4949 SNMP_PORT=161
  in_host() { local h=$1; shift; netns_exec "$h" "$@"; }
  # For daemons started with `&`: exec, so that $! is the daemon itself (stopped by its PID).
  exec_in_host() { local h=$1; shift; exec ip netns exec "${NETNS_NAME[h]}" "$@"; }
else
  MUNIN_IP=127.0.0.1 SNMP_IP=127.0.0.1 ALLOWED=127.0.0.1/32 MUNIN_PORT=$(free_port) SNMP_PORT=$(free_port)
  in_host() { shift; "$@"; }
  exec_in_host() { shift; exec "$@"; }
fi
log "munin-node on $MUNIN_IP:$MUNIN_PORT, snmpd on $SNMP_IP:$SNMP_PORT"

# munin-node reads its plugins from $MUNIN_CONFDIR/plugins, fixed at build time: this wrapper runs
# the packaged daemon with the test's own directory (cpu, memory, load linked) and state dir.
M=$TEST_TMP/munin
mkdir -p "$M/etc/plugins" "$M/etc/plugin-conf.d" "$M/state"
for p in cpu memory load; do ln -s "/usr/share/munin/plugins/$p" "$M/etc/plugins/$p"; done
printf '[*]\nuser root\ngroup root\n' > "$M/etc/plugin-conf.d/test"  # nobody cannot enter $TEST_TMP
cat > "$M/etc/munin-node.conf" <<CONF
log_level 4
log_file $M/munin-node.log
pid_file $M/munin-node.pid
background 0
setsid 0
user root
group root
host_name munin-host1
cidr_allow $ALLOWED
host $MUNIN_IP
port $MUNIN_PORT
CONF
MUNIN_TEST_CONFDIR=$M/etc MUNIN_TEST_STATE=$M/state exec_in_host 1 perl -e '
  use Munin::Common::Defaults;
  $Munin::Common::Defaults::MUNIN_CONFDIR = $ENV{MUNIN_TEST_CONFDIR};
  $Munin::Common::Defaults::MUNIN_PLUGSTATE = $ENV{MUNIN_TEST_STATE};
  @ARGV = ("--config", "$ENV{MUNIN_TEST_CONFDIR}/munin-node.conf", "--foreground");
  do "/usr/sbin/munin-node" or die "munin-node: $@ $!";
  exit main::main();' > "$M/out.log" 2>&1 &
MUNIN_PID=$!
on_exit "_stop_pid $MUNIN_PID"

S=$TEST_TMP/snmp
mkdir -p "$S/persist"
echo "rocommunity loadctltest $ALLOWED" > "$S/snmpd.conf"
SNMP_PERSISTENT_DIR=$S/persist MIBS= exec_in_host 2 /usr/sbin/snmpd -f -Lf "$S/snmpd.log" -C -c "$S/snmpd.conf" \
  -p "$S/snmpd.pid" "udp:$SNMP_IP:$SNMP_PORT" > "$S/out" 2>&1 &
SNMP_PID=$!
on_exit "_stop_pid $SNMP_PID"

wait_until 15 in_host 1 bash -c "exec 3<>/dev/tcp/$MUNIN_IP/$MUNIN_PORT" 2>/dev/null \
  || { cat "$M/out.log" "$M/munin-node.log" >&2; fail "munin-node does not listen"; }
wait_until 10 grep -q "NET-SNMP version" "$S/snmpd.log" || { cat "$S/out" "$S/snmpd.log" >&2; fail "snmpd did not start"; }
DOWN_PORT=$(free_port)

# Every CPU kept busy for the whole run: the monitored hosts (namespaces share the CPUs) and the
# load agent's host (this one) are saturated.
ncpu=$(nproc)
for ((i = 0; i < ncpu; i++)); do
  timeout 40 bash -c 'while :; do :; done' &
  on_exit "_stop_pid $!"
done

start_loadtarget --http 127.0.0.1:0
monitoring=$(cat <<XML
  <monitoring>
    <monitor host="$MUNIN_IP" type="munin"><munin port="$MUNIN_PORT"/></monitor>
    <monitor host="$SNMP_IP" type="snmp">
      <snmp version="v2" community="loadctltest" port="$SNMP_PORT">
        <oid value="1.3.6.1.4.1.2021.4.5.0" name="totalmem" type="sample" eval="fun(X)-> X/1024 end."/>
        <oid value="1.3.6.1.2.1.1.3.0" name="uptime" type="counter" eval="fun(X) -> X / 100 end."/>
        <oid value="1.3.6.1.4.1.2021.4.5.0" name="memsum" type="sum" eval="fun(X)-> X/1024 end."/>
      </snmp>
    </monitor>
    <monitor host="127.0.0.1" type="munin"><munin port="$DOWN_PORT"/></monitor>
  </monitoring>
XML
)
hello_scenario "$TEST_TMP/s.xml" 22 '<client host="localhost" use_controller_vm="true"/>' "$monitoring"
"$LOADCTL" -f "$TEST_TMP/s.xml" check > /dev/null || fail "check refused the monitors"
"$LOADCTL" -f "$TEST_TMP/s.xml" --run-dir "$TEST_TMP/run" --dump-interval 5 start > /dev/null 2> "$TEST_TMP/err" &
RUN=$!
# snmpd goes away after three polls (every 5 s: snmpd refreshes its CPU counters every 5 s; the
# first dump holds two): its later intervals must stay empty.
snmp_samples() { tsung_samples "{freemem,\"$SNMP_IP\"}" "$TEST_TMP/run/tsung.log" 2>/dev/null | wc -l; }
two_snmp_dumps() { [ "$(snmp_samples)" -ge 2 ]; }
wait_until 25 two_snmp_dumps || fail "no snmp samples in two dumps within 25 s"
_stop_pid "$SNMP_PID"
stopped_at=$(grep -c '^# stats: dump at' "$TEST_TMP/run/tsung.log")
wait "$RUN" || { cat "$TEST_TMP/err" >&2; fail "loadctl exited with an error"; }
R=$TEST_TMP/run

# mean of a sample metric over the intervals that have samples (column 3: count, 4: mean).
mean() { awk -v n="$1" '$1 == "stats:" && $2 == n && $3 > 0 { s += $4; c++ } END { if (c) printf "%.2f", s / c; else print "none" }' "$R/tsung.log"; }
samples() { tsung_samples "$1" "$R/tsung.log" | wc -l; }
mu="{cpu,\"munin-host1\"}" sc="{cpu,\"$SNMP_IP\"}"
log "munin cpu $(mean "$mu") % ($(samples "$mu") samples), freemem $(mean '{freemem,"munin-host1"}') MB, load $(mean '{load,"munin-host1"}')"
log "snmp cpu $(mean "$sc") ticks/s, freemem $(mean "{freemem,\"$SNMP_IP\"}") MB, totalmem $(mean "{totalmem,\"$SNMP_IP\"}"), uptime/interval $(mean "{uptime,\"$SNMP_IP\"}")"
total_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
# (up to 105: the plugin reads /proc/stat a little before or after the poll's clock reading)
awk -v v="$(mean "$mu")" 'BEGIN { exit !(v >= 80 && v <= 105) }' || fail "munin cpu $(mean "$mu") % with all $ncpu CPUs busy"
# snmp counts user + system only (Tsung's OIDs), not nice, iowait or irq time of other processes.
awk -v v="$(mean "$sc")" -v n="$ncpu" 'BEGIN { exit !(v >= 50 * n && v <= 105 * n) }' \
  || fail "snmp cpu $(mean "$sc") ticks/s with all $ncpu CPUs busy (100 = one CPU)"
for name in '{freemem,"munin-host1"}' "{freemem,\"$SNMP_IP\"}"; do
  awk -v v="$(mean "$name")" -v t="$total_mb" 'BEGIN { exit !(v > 10 && v < t * 1.1) }' || fail "$name = $(mean "$name") MB (host has $total_mb MB)"
done
awk -v v="$(mean "{totalmem,\"$SNMP_IP\"}")" -v t="$total_mb" 'BEGIN { exit !(v > t * 0.9 && v < t * 1.1) }' \
  || fail "custom oid totalmem (memTotalReal / 1024) = $(mean "{totalmem,\"$SNMP_IP\"}") MB, host has $total_mb MB"
# sysUpTime counts hundredths: X / 100 per 5 s poll is about 5.
awk -v v="$(mean "{uptime,\"$SNMP_IP\"}")" 'BEGIN { exit !(v > 4 && v < 6) }' || fail "custom counter oid uptime = $(mean "{uptime,\"$SNMP_IP\"}") per 5 s"
# type="sum": Tsung's {sum, Name, X/1024} is a float; its lines print "Delta Total" as floats, the
# total the sum of the polls' values (memTotalReal / 1024 each: the host's MB per poll).
sum_lines=$(awk -v n="{memsum,\"$SNMP_IP\"}" '$1 == "stats:" && $2 == n' "$R/tsung.log")
[ -n "$sum_lines" ] || fail "no {memsum,...} sum lines"
echo "$sum_lines" | awk '$3 !~ /\./ || $4 !~ /\./ { exit 1 }' || fail "sum lines are not floats: $sum_lines"
sum_total=$(echo "$sum_lines" | awk 'END { print $4 }')
awk -v v="$sum_total" -v t="$total_mb" -v n="$(samples "{freemem,\"$SNMP_IP\"}")" \
  'BEGIN { exit !(v > t * 0.9 * n && v < t * 1.1 * (n + 1)) }' || fail "sum total $sum_total for $total_mb MB a poll"
# The console's end-of-run counter table lists the sum counter with tsung.log's total, as a float.
console=$(awk -v n="{memsum,\"$SNMP_IP\"}" '$1 == n { print $2 }' "$TEST_TMP/err")
awk -v c="$console" -v v="$sum_total" 'BEGIN { exit !(c ~ /\.[0-9][0-9]$/ && c - v < 0.01 && v - c < 0.01) }' \
  || { cat "$TEST_TMP/err" >&2; fail "console counter table: {memsum,...} '$console', tsung.log total $sum_total"; }
load=$(mean '{load,"munin-host1"}')
awk -v v="$load" 'BEGIN { exit !(v > 0.3) }' || fail "munin load $load with a CPU burner"
[ "$(samples "$mu")" -ge 3 ] || fail "munin cpu: $(samples "$mu") samples in a 22 s run polled every 5 s"
[ "$(samples "$sc")" -ge 1 ] || fail "snmp cpu: no sample before snmpd stopped"

# The gap: snmp samples only in dumps before the stop (+1 for the interval in flight), none after.
after=$(awk -v n="{freemem,\"$SNMP_IP\"}" -v from="$((stopped_at + 1))" '/^# stats: dump at/ { d++ } $1 == "stats:" && $2 == n && $3 > 0 && d > from { c++ } END { print c + 0 }' "$R/tsung.log")
assert_eq "$after" 0 "snmp samples in dumps after snmpd stopped"
gaps=$(grep -c "snmp monitor $SNMP_IP: .*no sample for this interval" "$R/controller.log" || true)
dumps=$(grep -c '^# stats: dump at' "$R/tsung.log")
[ "$gaps" -ge 2 ] && [ "$gaps" -le "$dumps" ] || fail "snmpd stopped: $gaps gap warnings for $dumps dumps"
down=$(grep -c "munin monitor 127.0.0.1: cannot connect" "$R/controller.log" || true)
[ "$down" -ge 3 ] && [ "$down" -le "$((dumps + 1))" ] || fail "port $DOWN_PORT: $down warnings for $dumps intervals"
! grep -q "{cpu,\"127.0.0.1\"}" "$R/tsung.log" || fail "a host that never answered has samples"
log "gaps: snmp $gaps warnings after the stop, down host $down, over $dumps dumps"

# loadctl's report: a chart per metric with a line per host; the agent's host ran at 100% CPU, so
# the intervals are flagged as the generator's.
"$LOADCTL" report "$R" > /dev/null 2> "$TEST_TMP/report.err" || { cat "$TEST_TMP/report.err" >&2; fail "loadctl report failed"; }
for id in mon-cpu mon-freemem mon-load mon-recvpackets mon-totalmem; do
  grep -q "id=\"$id\"" "$R/report.html" || fail "report.html has no $id chart"
done
grep -q "The load generators were saturated in" "$R/report.html" || fail "report.html does not flag the saturated agent host"
grep -q 'class="alert"' "$R/report.html" || fail "report.html shades no saturated interval"

renderer=/usr/lib/x86_64-linux-gnu/tsung/bin/tsung_stats.pl
if [ -f "$renderer" ]; then
  (cd "$R" && perl "$renderer" --stats tsung.log > "$TEST_TMP/render.out" 2>&1) || { cat "$TEST_TMP/render.out" >&2; fail "tsung_stats.pl failed"; }
  grep -q "cpu:os_mon@munin-host1" "$R/report.html" || fail "Tsung's report has no munin CPU row"
  grep -q "freemem:os_mon@$SNMP_IP" "$R/report.html" || fail "Tsung's report has no snmp memory row"
  grep -q "recvpackets:os_mon@" "$R/report.html" || fail "Tsung's report has no packets row for the agent's host"
  ls "$R"/images/graphes-cpu* > /dev/null 2>&1 || ls "$R"/csv_data/cpu* > /dev/null 2>&1 || grep -q "os_mon_cpu\|cpu:os_mon" "$R/graph.html" \
    || fail "Tsung's renderer drew no CPU chart"
fi
