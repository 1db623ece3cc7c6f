#!/usr/bin/env bash
# Usage: scripts/bench_mysql.sh [CONNECTIONS [QUERIES_PER_CONNECTION]]   (default 10 x 10000)
# Benchmark (not a test): `SELECT 1` through MySQL's protocol, loadctl vs Tsung 1.7.0 vs mysqlslap
# (MariaDB's own load client, package mariadb-client), on the same private MariaDB
# (plugins/mysql/tests/mariadb_lib.sh: own data directory, socket and port on 127.0.0.1, stopped
# at the end). Each tool opens CONNECTIONS connections at once, logs in as bench (a
# mysql_native_password account) and sends QUERIES_PER_CONNECTION `SELECT 1` one after the other
# on each. Queries are counted by MariaDB (Com_select delta); CPU is user+sys of the tool's
# process tree (/usr/bin/time, children included); rate = queries / wall time of the run
# (start-up included: Tsung's Erlang VM boot weighs on short runs). The server runs on the same
# machine: its CPU is not counted, but it competes with the client. Every step is time-bounded.
# The bench password reaches mysqlslap through a defaults file (mode 600), not its command line.
# LOADCTL_THREADS: loadctl's --threads (default 1; mysqlslap runs a thread per connection, so on a
# loaded machine it gets a larger share of the CPU than one thread).
# Needs a built tree (build/) and, for the Tsung row, `tsung` and a resolvable host name.
export LOADCTL_TEST_TIMEOUT=${LOADCTL_TEST_TIMEOUT:-900}
source "$(dirname "$0")/../tests/integration/lib.sh"
source "$LOADCTL_SRC/plugins/mysql/tests/mariadb_lib.sh"
conns=${1:-10}
per_conn=${2:-10000}
need_bins loadctl loadagent
start_mariadb
password=bench-$RANDOM$RANDOM
umask 077
printf "CREATE DATABASE bench;\nCREATE USER 'bench'@'127.0.0.1' IDENTIFIED BY '%s';\nGRANT ALL ON bench.* TO 'bench'@'127.0.0.1';\n" \
  "$password" > "$TEST_TMP/setup.sql"
mdb < "$TEST_TMP/setup.sql" || fail "creating the bench account failed"
printf '[client]\nuser=bench\npassword=%s\nhost=127.0.0.1\nport=%s\n' "$password" "$MARIADB_PORT" > "$TEST_TMP/client.cnf"

cat > "$TEST_TMP/bench-mysql.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="10000"/></clients>
  <servers><server host="127.0.0.1" port="$MARIADB_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second">
    <users maxnumber="$conns" arrivalrate="1000" unit="second"/></arrivalphase></load>
  <sessions><session name="select1" probability="100" type="ts_mysql">
    <request><mysql type="connect"/></request>
    <request><mysql type="authenticate" database="bench" username="bench" password="$password"/></request>
    <for from="1" to="$per_conn" incr="1" var="i">
      <request><mysql type="sql">SELECT 1</mysql></request>
    </for>
    <request><mysql type="close"/></request>
  </session></sessions>
</tsung>
XML

# measure NAME CMD...: runs CMD bounded; sets QUERIES, CPU_US (per query), RATE (queries/s).
declare -A QUERIES CPU_US RATE WALL
measure() {
  local name=$1 before after t
  shift
  before=$(mdb_status Com_select)
  if ! /usr/bin/time -f '%e %U %S' -o "$TEST_TMP/$name.time" timeout -k 10 300 "$@" > "$TEST_TMP/$name.out" 2>&1; then
    log "$name failed: $(tail -3 "$TEST_TMP/$name.out")"
    QUERIES[$name]=n/a CPU_US[$name]=n/a RATE[$name]=n/a WALL[$name]=n/a
    return
  fi
  after=$(mdb_status Com_select)
  t=$(tail -1 "$TEST_TMP/$name.time")
  QUERIES[$name]=$((after - before))
  WALL[$name]=$(awk '{ print $1 }' <<< "$t")
  CPU_US[$name]=$(awk -v n="${QUERIES[$name]}" '{ if (n > 0) printf "%.1f", ($2 + $3) * 1e6 / n; else print "n/a" }' <<< "$t")
  RATE[$name]=$(awk -v n="${QUERIES[$name]}" '{ if ($1 > 0) printf "%.0f", n / $1; else print "n/a" }' <<< "$t")
}

log "loadctl: $conns x $per_conn SELECT 1, ${LOADCTL_THREADS:-1} thread(s)"
measure loadctl "$LOADCTL" -q -f "$TEST_TMP/bench-mysql.xml" --run-dir "$TEST_TMP/loadctl-run" --threads "${LOADCTL_THREADS:-1}" start
if command -v tsung > /dev/null && { getent hosts "$(hostname)" > /dev/null || getent hosts "$(hostname -s)" > /dev/null; }; then
  log "Tsung: $conns x $per_conn SELECT 1"
  measure tsung tsung -f "$TEST_TMP/bench-mysql.xml" -l "$TEST_TMP/tsung-logs" start
else
  log "Tsung skipped (not installed, or this host's name does not resolve)"
  QUERIES[tsung]=n/a CPU_US[tsung]=n/a RATE[tsung]=n/a WALL[tsung]=n/a
fi
if command -v mysqlslap > /dev/null; then
  log "mysqlslap: $conns x $per_conn SELECT 1"
  measure mysqlslap mysqlslap --defaults-file="$TEST_TMP/client.cnf" --protocol=tcp --create-schema=bench \
    --concurrency="$conns" --number-of-queries=$((conns * per_conn)) --iterations=1 --query="SELECT 1"
else
  QUERIES[mysqlslap]=n/a CPU_US[mysqlslap]=n/a RATE[mysqlslap]=n/a WALL[mysqlslap]=n/a
fi

printf '\n%-10s %10s %8s %12s %16s\n' tool queries wall_s queries_per_s cpu_us_per_query
for t in loadctl tsung mysqlslap; do
  printf '%-10s %10s %8s %12s %16s\n' "$t" "${QUERIES[$t]}" "${WALL[$t]}" "${RATE[$t]}" "${CPU_US[$t]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "loadctl/Tsung: CPU per query x$(ratio "${CPU_US[loadctl]}" "${CPU_US[tsung]}"), queries/s x$(ratio "${RATE[loadctl]}" "${RATE[tsung]}")"
echo "loadctl/mysqlslap: CPU per query x$(ratio "${CPU_US[loadctl]}" "${CPU_US[mysqlslap]}"), queries/s x$(ratio "${RATE[loadctl]}" "${RATE[mysqlslap]}")"
