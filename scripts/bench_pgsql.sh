#!/usr/bin/env bash
# Usage: scripts/bench_pgsql.sh [CONNECTIONS [QUERIES_PER_CONNECTION]]   (default 10 x 20000)
# Benchmark (not a test): `SELECT 1` through PostgreSQL 15, loadctl vs pgbench (PostgreSQL's own
# client: a custom script `SELECT 1`, -n, simple protocol, one thread) vs Tsung 1.7.0, on the same
# private server (plugins/pgsql/tests/postgres_lib.sh; user bench trusted on 127.0.0.1, so no
# tool pays for authentication). Each tool opens CONNECTIONS connections and sends
# QUERIES_PER_CONNECTION queries on each, one at a time. Queries are counted by PostgreSQL
# (pg_stat_database.xact_commit delta of the bench database); CPU is user+sys of the tool's
# process tree (/usr/bin/time); rate = queries / wall time (start-up included). Bounded steps.
export LOADCTL_TEST_TIMEOUT=${LOADCTL_TEST_TIMEOUT:-900}
source "$(dirname "$0")/../tests/integration/lib.sh"
source "$LOADCTL_SRC/plugins/pgsql/tests/postgres_lib.sh"
conns=${1:-10}
per_conn=${2:-20000}
need_bins loadctl loadagent pgbench
start_postgres 'host all bench 127.0.0.1/32 trust'
echo "CREATE ROLE bench LOGIN; CREATE DATABASE bench OWNER bench;" | sql || fail "creating bench failed"

cat > "$TEST_TMP/bench-pgsql.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="10000"/></clients>
  <servers><server host="127.0.0.1" port="$PGPORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second">
    <users maxnumber="$conns" arrivalrate="1000" unit="second"/></arrivalphase></load>
  <sessions><session name="select1" probability="100" type="ts_pgsql">
    <request><pgsql type="connect" database="bench" username="bench"/></request>
    <for from="1" to="$per_conn" incr="1" var="i">
      <request><pgsql type="sql">SELECT 1</pgsql></request>
    </for>
    <request><pgsql type="close"/></request>
  </session></sessions>
</tsung>
XML
echo "SELECT 1" > "$TEST_TMP/select1.sql"

commits() { echo "SELECT pg_stat_force_next_flush(); SELECT xact_commit FROM pg_stat_database WHERE datname = 'bench'" | sql | tail -1; }
settled_commits() {  # backends flush their statistics when they end; wait until the count is stable
  local a b
  a=$(commits)
  for _ in $(seq 1 40); do
    sleep 0.25
    b=$(commits)
    [ "$a" = "$b" ] && break
    a=$b
  done
  echo "$a"
}

declare -A QUERIES CPU_US RATE WALL
measure() {  # measure NAME CMD...
  local name=$1 before after t
  shift
  before=$(settled_commits)
  if ! /usr/bin/time -f '%e %U %S' -o "$TEST_TMP/$name.time" timeout -k 10 600 "$@" > "$TEST_TMP/$name.out" 2>&1; then
    log "$name failed: $(tail -3 "$TEST_TMP/$name.out")"
    QUERIES[$name]=n/a CPU_US[$name]=n/a RATE[$name]=n/a WALL[$name]=n/a
    return
  fi
  after=$(settled_commits)
  t=$(tail -1 "$TEST_TMP/$name.time")
  QUERIES[$name]=$((after - before))
  WALL[$name]=$(awk '{ print $1 }' <<< "$t")
  CPU_US[$name]=$(awk -v n="${QUERIES[$name]}" '{ if (n > 0) printf "%.2f", ($2 + $3) * 1e6 / n; else print "n/a" }' <<< "$t")
  RATE[$name]=$(awk -v n="${QUERIES[$name]}" '{ if ($1 > 0) printf "%.0f", n / $1; else print "n/a" }' <<< "$t")
}

log "loadctl: $conns x $per_conn"
measure loadctl "$LOADCTL" -q -f "$TEST_TMP/bench-pgsql.xml" --run-dir "$TEST_TMP/loadctl-run" --threads 1 start
log "pgbench: $conns x $per_conn"
measure pgbench pgbench -n -f "$TEST_TMP/select1.sql" -c "$conns" -j 1 -t "$per_conn" -h 127.0.0.1 -p "$PGPORT" -U bench bench
if command -v tsung > /dev/null && { getent hosts "$(hostname)" > /dev/null || getent hosts "$(hostname -s)" > /dev/null; }; then
  log "Tsung: $conns x $per_conn"
  measure tsung tsung -f "$TEST_TMP/bench-pgsql.xml" -l "$TEST_TMP/tsung-logs" start
else
  log "Tsung skipped (not installed, or this host's name does not resolve)"
  QUERIES[tsung]=n/a CPU_US[tsung]=n/a RATE[tsung]=n/a WALL[tsung]=n/a
fi

printf '\n%-8s %10s %8s %13s %16s\n' tool queries wall_s queries_per_s cpu_us_per_query
for t in loadctl pgbench tsung; do
  printf '%-8s %10s %8s %13s %16s\n' "$t" "${QUERIES[$t]}" "${WALL[$t]}" "${RATE[$t]}" "${CPU_US[$t]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "loadctl/pgbench: CPU per query x$(ratio "${CPU_US[loadctl]}" "${CPU_US[pgbench]}"), queries/s x$(ratio "${RATE[loadctl]}" "${RATE[pgbench]}")"
echo "loadctl/Tsung:   CPU per query x$(ratio "${CPU_US[loadctl]}" "${CPU_US[tsung]}"), queries/s x$(ratio "${RATE[loadctl]}" "${RATE[tsung]}")"
