#!/usr/bin/env bash
# Tsung's http_simple.xml and http_distributed.xml (/usr/share/doc/tsung/examples) end to end, with
# their hosts mapped to network-namespace hosts:
#   myserver -> host 1: nginx on its port 80, Debian's snmpd on its port 161 (community public, v1:
#               the example's <monitor type="snmp"> defaults)
#   myhost   -> host 2, myhost2 -> host 3: rsh_daemon.sh in a UTS namespace named lc-myhost /
#               lc-myhost2 (their agents name their samples so); the <ip> source addresses are
#               extra addresses of those hosts
#   the controller (and http_simple's localhost client) stays in the root namespace.
# Changed lines, counted below: host names, ports, source addresses, phase and think durations;
# http_distributed also has %%symbol:new%% (an Erlang function symbol:new that does not exist:
# Tsung's users crash on it) replaced by the built-in %%ts_user_server:get_unique_id%%, its two
# sessions' probabilities 30 + 30 made 50 + 50 (Tsung 1.7.0 refuses the example as shipped:
# bad_sum, ts_config_server:check_config), and its file_server's relative path
# ./src/test/test_file_server.csv is created next to the scenario.
# Asserted: requests counted and answered by nginx, both sessions named http-example run;
# {cpu,H}, {freemem,H} (the controller host's near MemAvailable), {load,H} in tsung.log
# for the snmp-monitored server, the clients' hosts and the controller's host (Tsung monitors
# its controller node: here a monitor-only local agent); Tsung's renderer draws them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_require
need_bins loadctl loadagent ncat unshare perl
[ -x /usr/sbin/snmpd ] || skip "snmpd not installed (scripts/deps.sh)"
EX=/usr/share/doc/tsung/examples

netns_create 3
SERVER=${NETNS_IP[1]} MYHOST=${NETNS_IP[2]} MYHOST2=${NETNS_IP[3]}
netns_add_ip 2 "$NETNS_NET.101"
netns_add_ip 2 "$NETNS_NET.102"
netns_add_ip 3 "$NETNS_NET.103"

# myserver: nginx and snmpd in host 1.
NGINX_DIR=$TEST_TMP/nginx
on_exit "netns_exec 1 '$LOADCTL_SRC/scripts/nginx_target.sh' stop '$NGINX_DIR'"
NGINX_ADDR=$SERVER netns_exec 1 "$LOADCTL_SRC/scripts/nginx_target.sh" start "$NGINX_DIR" 80 >&2 || fail "nginx did not start"
S=$TEST_TMP/snmp
mkdir -p "$S/persist"
echo "rocommunity public $NETNS_NET.0/24" > "$S/snmpd.conf"
SNMP_PERSISTENT_DIR=$S/persist MIBS= ip netns exec "${NETNS_NAME[1]}" /usr/sbin/snmpd -f -Lf "$S/snmpd.log" -C \
  -c "$S/snmpd.conf" -p "$S/snmpd.pid" "udp:$SERVER:161" > "$S/out" 2>&1 &
on_exit "_stop_pid $!"
wait_until 10 grep -qs "NET-SNMP version" "$S/snmpd.log" || { cat "$S/out" "$S/snmpd.log" >&2; fail "snmpd did not start"; }

# myhost, myhost2: rsh daemons, each in its own UTS namespace.
export LOADCTL_RSH_PORT=19999
for i in 2 3; do
  name=lc-myhost; [ "$i" = 3 ] && name=lc-myhost2
  mkdir -p "$TEST_TMP/rsh$i"
  netns_exec "$i" unshare --uts bash -c 'hostname "$1"; shift; exec "$@"' _ "$name" \
    "$LOADCTL_SRC/scripts/rsh_daemon.sh" start -a "$NETNS_ROOT_IP" -p "$LOADCTL_RSH_PORT" -b "${NETNS_IP[i]}" \
    -s "$(dirname "$LOADAGENT")" -d "$TEST_TMP/rsh$i/run" >&2 || fail "rsh_daemon.sh did not start on host $i"
  on_exit "netns_exec $i '$LOADCTL_SRC/scripts/rsh_daemon.sh' kill -p $LOADCTL_RSH_PORT -d '$TEST_TMP/rsh$i/run' >/dev/null"
done

# The examples, changed in host names, ports, addresses and durations only (see the header).
sed -e "s/host=\"myserver\"/host=\"$SERVER\"/" \
    -e 's/duration="10" unit="minute"/duration="14" unit="second"/' \
    -e 's/<thinktime value="20" random="true">/<thinktime value="1" random="true">/' \
    "$EX/http_simple.xml" > "$TEST_TMP/simple.xml"
assert_eq "$(diff "$EX/http_simple.xml" "$TEST_TMP/simple.xml" | grep -c '^>')" 4 "http_simple.xml: lines changed"
zcat "$EX/http_distributed.xml.gz" > "$TEST_TMP/distributed.orig.xml"
sed -e "s/host=\"myserver\"/host=\"$SERVER\"/" \
    -e "s/host=\"myhost\"/host=\"$MYHOST\"/" \
    -e "s/host=\"myhost2\"/host=\"$MYHOST2\"/" \
    -e "s/192\.168\.2\.223/$NETNS_NET.101/; s/192\.168\.2\.224/$NETNS_NET.102/; s/192\.168\.2\.225/$NETNS_NET.103/" \
    -e 's/duration="1" unit="hour"/duration="7" unit="second"/' \
    -e 's/<thinktime value="\(20\|60\)" random="true">/<thinktime value="1" random="true">/' \
    -e "s|http://linuxit02/|http://$SERVER/|; s|http://localhost:8080/|http://$SERVER:80/|" \
    -e '/&lt;symbol&gt;/s/%%symbol:new%%/%%ts_user_server:get_unique_id%%/' \
    -e 's/name="http-example" probability="30"/name="http-example" probability="50"/' \
    "$TEST_TMP/distributed.orig.xml" > "$TEST_TMP/distributed.xml"
# 1 server + 2 clients + 2 monitors + 3 ips + 2 phases + 3 thinktimes + 2 urls + 1 function + 2 probabilities
assert_eq "$(diff "$TEST_TMP/distributed.orig.xml" "$TEST_TMP/distributed.xml" | grep -c '^>')" 18 \
  "http_distributed.xml: lines changed"
mkdir -p "$TEST_TMP/src/test"  # (relative to the scenario's directory)
printf 'a;b\nc;d\n' > "$TEST_TMP/src/test/test_file_server.csv"

RSH=(-r "$LOADCTL_SRC/scripts/rsh_client.sh" -F "$NETNS_ROOT_IP")
"$LOADCTL" -f "$TEST_TMP/simple.xml" check > "$TEST_TMP/simple.check" || fail "check refused http_simple.xml"
"$LOADCTL" -f "$TEST_TMP/distributed.xml" "${RSH[@]}" check > "$TEST_TMP/distributed.check" \
  || fail "check refused http_distributed.xml"
grep -q "monitor agent .* on $(hostname) (local" "$TEST_TMP/distributed.check" \
  || { cat "$TEST_TMP/distributed.check" >&2; fail "check lists no monitor agent for the controller's host"; }
# Both at once (they share the server), each bounded by the test's timeout.
"$LOADCTL" -q -f "$TEST_TMP/simple.xml" --run-dir "$TEST_TMP/simple" --dump-interval 5 start \
  > /dev/null 2> "$TEST_TMP/simple.err" &
SIMPLE=$!
"$LOADCTL" -q -f "$TEST_TMP/distributed.xml" "${RSH[@]}" --run-dir "$TEST_TMP/distributed" --dump-interval 5 start \
  > /dev/null 2> "$TEST_TMP/distributed.err" || { cat "$TEST_TMP/distributed.err" >&2; fail "http_distributed.xml: loadctl exited with $?"; }
wait "$SIMPLE" || { cat "$TEST_TMP/simple.err" >&2; fail "http_simple.xml: loadctl exited with an error"; }

has_series() {  # has_series RUN HOST: cpu, freemem and load samples of HOST in RUN's tsung.log
  local m
  for m in cpu freemem load; do
    [ "$(tsung_samples "{$m,\"$2\"}" "$TEST_TMP/$1/tsung.log" | wc -l)" -ge 1 ] || fail "$1: no {$m,\"$2\"} samples"
  done
}
renders() {  # renders RUN MODE HOST...: Tsung's renderer (MODE: gnuplot's images, or --dygraph's
  # data files) draws the hosts' CPU, memory and load
  local run=$1 mode=$2 h m renderer=/usr/lib/x86_64-linux-gnu/tsung/bin/tsung_stats.pl
  shift 2
  [ -f "$renderer" ] || return 0
  (cd "$TEST_TMP/$run" && perl "$renderer" ${mode:+"$mode"} --stats tsung.log > render.out 2>&1) \
    || { cat "$TEST_TMP/$run/render.out" >&2; fail "$run: tsung_stats.pl failed"; }
  for h in "$@"; do
    for m in cpu freemem load; do
      grep -q "$m:os_mon@$h" "$TEST_TMP/$run/report.html" || fail "$run: Tsung's report has no $m row for $h"
    done
    if [ -z "$mode" ]; then
      grep -qF "$h" "$TEST_TMP/$run/gnuplot_scripts/graphes-cpu.gplot" || fail "$run: no gnuplot CPU line for $h"
    else
      head -1 "$TEST_TMP/$run/csv_data/graphes-cpu-mean.csv" | grep -qF "cpu@$h" || fail "$run: no CPU data column for $h"
    fi
  done
  [ -n "$mode" ] || ls "$TEST_TMP/$run"/images/graphes-cpu* > /dev/null 2>&1 || fail "$run: Tsung's renderer drew no CPU chart"
}
for run in simple distributed; do
  requests=$(tsung_sum request "$TEST_TMP/$run")
  log "$run: $requests requests, $(grep -c '^# stats: dump at' "$TEST_TMP/$run/tsung.log") dumps"
  # At least one whole session (5 requests in http_simple.xml): its users arrive at random, 7 expected
  # in the 14 s phase at one per 2 s, so two or more were not seen in 0.7 % of runs; none in 0.09 %.
  [ "$requests" -ge 5 ] || fail "$run: only $requests requests counted"
  grep -q '"state": "lost"' "$TEST_TMP/$run/run.json" && fail "$run: an agent was lost"
  has_series "$run" "$SERVER"
done
has_series simple "$(hostname)"
has_series distributed lc-myhost
has_series distributed lc-myhost2
has_series distributed "$(hostname)"
# Every request the two runs counted reached nginx (from the root namespace or the clients' <ip>s).
total=$(($(tsung_sum request "$TEST_TMP/simple") + $(tsung_sum request "$TEST_TMP/distributed")))
served=$(wc -l < "$NGINX_DIR/access.log")
assert_eq "$served" "$total" "requests nginx logged"
for ip in "$NETNS_NET.101" "$NETNS_NET.102" "$NETNS_NET.103"; do
  grep -q "^$ip " "$NGINX_DIR/access.log" || fail "no request from source address $ip"
done
# Both sessions named http-example ran: /images/icon1.gif is the second one's only (about 11 users
# at 50 %: none of them in the second session is a 1 in 2000 chance).
icons=$(grep -c ' /images/icon1.gif ' "$NGINX_DIR/access.log" || true)
log "requests for the second http-example's /images/icon1.gif: $icons"
[ "$icons" -ge 1 ] || fail "the second session named http-example never ran"
# The controller host's free memory (MemAvailable, MB), as read here now, within 25 %.
avail=$(awk '$1 == "MemAvailable:" { print $2 / 1024 }' /proc/meminfo)
for run in simple distributed; do
  mean=$(tsung_samples "{freemem,\"$(hostname)\"}" "$TEST_TMP/$run/tsung.log" | awk '{ s += $3 * $4; n += $3 } END { if (n) printf "%.1f", s / n }')
  log "$run: {freemem,\"$(hostname)\"} mean $mean MB, MemAvailable now $avail MB"
  awk -v m="$mean" -v a="$avail" 'BEGIN { exit !(m != "" && m >= 0.75 * a && m <= 1.25 * a) }' \
    || fail "$run: {freemem,\"$(hostname)\"} mean $mean MB is not MemAvailable $avail MB +-25%"
done
# (--dygraph: the charts' data and pages without gnuplot's ~50 images a run, which take a minute
# on a busy machine; test_monitor_munin_snmp.sh checks gnuplot's monitor images)
renders simple --dygraph "$SERVER" "$(hostname)"
renders distributed --dygraph "$SERVER" lc-myhost lc-myhost2 "$(hostname)"
log "ok"
