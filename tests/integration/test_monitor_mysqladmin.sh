#!/usr/bin/env bash
# <monitor type="erlang"><mysqladmin port username password/>: the controller runs
# `mysqladmin status` against Debian's MariaDB, started here with its own data directory and port
# (plugins/mysql/tests/mariadb_lib.sh), the password in MYSQL_PWD (never on a command line).
# Asserted: {mysql_threads,"127.0.0.1"} counts this test's idle connection, {mysql_questions,...}
# grows with the queries a client makes meanwhile (as much as MariaDB's own Questions counter), a
# wrong password is one warning per interval and no sample.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget mysqladmin
source "$LOADCTL_SRC/plugins/mysql/tests/mariadb_lib.sh"
start_mariadb
mdb <<'SQL'
CREATE USER 'mon'@'127.0.0.1' IDENTIFIED BY 'Mon-secret-7';
SQL

# A client holding one more connection open for the whole run, querying every 0.1 s.
(for _ in $(seq 1 120); do echo "SELECT 1;"; sleep 0.1; done) | mdb > /dev/null &
on_exit "_stop_pid $!"

start_loadtarget --http 127.0.0.1:0
monitoring=$(cat <<XML
  <monitoring>
    <monitor host="127.0.0.1" type="erlang"><mysqladmin port="$MARIADB_PORT" username="mon" password="Mon-secret-7"/></monitor>
    <monitor host="localhost" type="erlang"><mysqladmin port="$MARIADB_PORT" username="mon" password="wrong"/></monitor>
  </monitoring>
XML
)
hello_scenario "$TEST_TMP/s.xml" 7 '<client host="localhost" use_controller_vm="true"/>' "$monitoring" 2
# A mysqladmin first in PATH that records what the controller's child holds (its open files and
# its command line), then runs the real one.
mkdir -p "$TEST_TMP/bin" "$TEST_TMP/child"
cat > "$TEST_TMP/bin/mysqladmin" <<SH
#!/bin/sh
for f in /proc/\$\$/fd/*; do readlink "\$f"; done > "$TEST_TMP/child/\$\$.fd"
tr '\\0' ' ' < /proc/\$\$/cmdline > "$TEST_TMP/child/\$\$.cmdline"
exec $(command -v mysqladmin) "\$@"
SH
chmod +x "$TEST_TMP/bin/mysqladmin"
q0=$(mdb_status Questions)
PATH="$TEST_TMP/bin:$PATH" "$LOADCTL" -q -f "$TEST_TMP/s.xml" --run-dir "$TEST_TMP/run" --dump-interval 2 start > /dev/null 2> "$TEST_TMP/err" \
  || { cat "$TEST_TMP/err" >&2; fail "loadctl exited with $?"; }
q1=$(mdb_status Questions)
R=$TEST_TMP/run
threads=$(awk '$1 == "stats:" && $2 == "{mysql_threads,\"127.0.0.1\"}" && $3 > 0 { if ($6 > m) m = $6 } END { print m + 0 }' "$R/tsung.log")
questions=$(awk '$1 == "stats:" && $2 == "{mysql_questions,\"127.0.0.1\"}" && $3 > 0 { s += $3 * $4; c += $3 } END { print s + 0, c + 0 }' "$R/tsung.log")
read -r qsum qcount <<< "$questions"
log "threads max $threads; questions $qsum over $qcount polls; MariaDB counted $((q1 - q0)) meanwhile"
[ "$threads" -ge 2 ] || fail "mysql_threads $threads: the querying client and mysqladmin itself are connected"
[ "$qcount" -ge 2 ] || fail "only $qcount mysql_questions samples in a 7 s run polled every 2 s"
# ~10 queries per second from the client (+1 per poll: the status command itself).
awk -v q="$qsum" -v c="$qcount" 'BEGIN { exit !(q / c >= 10 && q / c <= 40) }' || fail "mysql_questions $qsum over $qcount polls of 2 s"
[ "$qsum" -le "$((q1 - q0))" ] || fail "mysql_questions $qsum > MariaDB's Questions increase $((q1 - q0))"
! grep -q '{mysql_threads,"localhost"}' "$R/tsung.log" || fail "a refused login gave samples"
denied=$(grep -c 'mysqladmin monitor localhost: mysqladmin status said ".*Access denied' "$R/controller.log" || true)
dumps=$(grep -c '^# stats: dump at' "$R/tsung.log")
[ "$denied" -ge 2 ] && [ "$denied" -le "$dumps" ] || fail "wrong password: $denied warnings for $dumps dumps"
grep -q "Mon-secret-7" "$R/controller.log" && fail "the password is in controller.log"
log "ok: $denied warnings for the wrong password"
children=$(ls "$TEST_TMP/child" | grep -c '\.fd$' || true)
[ "$children" -ge 2 ] || fail "the mysqladmin wrapper ran $children times"
! grep -l 'socket:' "$TEST_TMP"/child/*.fd || fail "mysqladmin inherited a controller socket: $(cat "$TEST_TMP"/child/*.fd | sort | uniq -c)"
grep -q -- '--protocol=TCP' "$TEST_TMP"/child/*.cmdline || fail "no mysqladmin command line recorded"
! grep -l -e 'Mon-secret-7' -e 'wrong' "$TEST_TMP"/child/*.cmdline || fail "a password is on mysqladmin's command line"
log "ok: $children mysqladmin runs held no socket and no password in their command line"
