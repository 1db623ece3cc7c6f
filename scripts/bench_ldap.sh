#!/usr/bin/env bash
# Usage: scripts/bench_ldap.sh [USERS [SEARCHES_PER_USER]]   (default 10 x 5000)
# Benchmark (not a test): LDAP searches, loadctl vs Tsung 1.7.0, on the same private slapd
# (plugins/ldap/tests/slapd_lib.sh: own config, mdb database and port on 127.0.0.1, stopped at
# the end; no operation log). Each tool runs the same ts_ldap scenario: USERS connections, each
# binds as the rootdn, then runs SEARCHES_PER_USER subtree searches for (cn=user2) (one entry),
# then unbinds. Searches are counted from the tool's tsung.log (`request` samples, minus the
# bind); CPU is user+sys of the tool's process tree (/usr/bin/time, children included); rate =
# searches / wall time of the run (start-up included: Tsung's Erlang VM boot weighs on short
# runs). Every step is time-bounded. Needs a built tree (build/) and, for the Tsung row, `tsung`
# and a resolvable host name.
export LOADCTL_TEST_TIMEOUT=${LOADCTL_TEST_TIMEOUT:-900}
source "$(dirname "$0")/../tests/integration/lib.sh"
source "$LOADCTL_SRC/plugins/ldap/tests/slapd_lib.sh"
users=${1:-10}
per_user=${2:-5000}
need_bins loadctl loadagent /usr/sbin/slapd /usr/sbin/slappasswd ldapadd
start_slapd 0
cat > "$TEST_TMP/base.ldif" <<LDIF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: example

dn: cn=user2,$SUFFIX
objectClass: person
cn: user2
sn: two
LDIF
slapd_add "$TEST_TMP/base.ldif"

# Static users, all at 0 s (with an arrival phase of maxnumber="$users" Tsung started one).
static_users=""
for _ in $(seq "$users"); do static_users+='<user session="searcher" start_time="0" unit="second"/>'; done
(umask 077 && cat > "$TEST_TMP/bench-ldap.xml") <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="10000"/></clients>
  <servers><server host="127.0.0.1" port="$SLAPD_PORT" type="tcp"/></servers>
  <load>$static_users</load>
  <sessions><session name="searcher" probability="100" type="ts_ldap">
    <request><ldap type="bind" user="$ROOTDN" password="$ROOTPW"/></request>
    <for from="1" to="$per_user" incr="1" var="i">
      <request><ldap type="search" base="$SUFFIX" filter="(cn=user2)" scope="wholeSubtree"/></request>
    </for>
    <request><ldap type="unbind"/></request>
  </session></sessions>
</tsung>
XML

# measure NAME LOGDIR CMD...: runs CMD bounded; sets REQS, CPU_US (per search), RATE (searches/s).
declare -A REQS CPU_US RATE WALL
measure() {
  local name=$1 logdir=$2 t log
  shift 2
  if ! /usr/bin/time -f '%e %U %S' -o "$TEST_TMP/$name.time" timeout -k 10 300 "$@" > "$TEST_TMP/$name.out" 2>&1; then
    log "$name failed: $(tail -3 "$TEST_TMP/$name.out")"
    REQS[$name]=n/a CPU_US[$name]=n/a RATE[$name]=n/a WALL[$name]=n/a
    return
  fi
  log=$(find "$logdir" -name tsung.log | head -1)
  REQS[$name]=$(( $(tsung_sum request "$(dirname "$log")") - users ))  # the binds are requests too
  t=$(tail -1 "$TEST_TMP/$name.time")
  WALL[$name]=$(awk '{ print $1 }' <<< "$t")
  CPU_US[$name]=$(awk -v n="${REQS[$name]}" '{ if (n > 0) printf "%.1f", ($2 + $3) * 1e6 / n; else print "n/a" }' <<< "$t")
  RATE[$name]=$(awk -v n="${REQS[$name]}" '{ if ($1 > 0) printf "%.0f", n / $1; else print "n/a" }' <<< "$t")
}

log "loadctl: $users x $per_user searches"
measure loadctl "$TEST_TMP/loadctl-run" "$LOADCTL" -q -f "$TEST_TMP/bench-ldap.xml" --run-dir "$TEST_TMP/loadctl-run" --threads 1 start
if command -v tsung > /dev/null && { getent hosts "$(hostname)" > /dev/null || getent hosts "$(hostname -s)" > /dev/null; }; then
  log "Tsung: $users x $per_user searches"
  measure tsung "$TEST_TMP/tsung-logs" tsung -f "$TEST_TMP/bench-ldap.xml" -l "$TEST_TMP/tsung-logs" start
else
  log "Tsung skipped (not installed, or this host's name does not resolve)"
  REQS[tsung]=n/a CPU_US[tsung]=n/a RATE[tsung]=n/a WALL[tsung]=n/a
fi

printf '\n%-8s %10s %8s %14s %16s\n' tool searches wall_s searches_per_s cpu_us_per_search
for t in loadctl tsung; do
  printf '%-8s %10s %8s %14s %16s\n' "$t" "${REQS[$t]}" "${WALL[$t]}" "${RATE[$t]}" "${CPU_US[$t]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "loadctl/Tsung: CPU per search x$(ratio "${CPU_US[loadctl]}" "${CPU_US[tsung]}"), searches/s x$(ratio "${RATE[loadctl]}" "${RATE[tsung]}")"
