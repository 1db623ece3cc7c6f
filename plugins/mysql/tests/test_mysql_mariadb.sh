#!/usr/bin/env bash
# ts_mysql against a real MariaDB (Debian's mariadb-server), started by this test on 127.0.0.1 with
# its own data directory, socket and port under $TEST_TMP (mariadb_lib.sh), stopped by its PID.
# The accounts are made through the socket with an SQL file: no password on a command line.
#  1. Tsung's own example, /usr/share/doc/tsung/examples/mysql.xml, changed only in the server
#     (192.168.0.2:3306 -> 127.0.0.1 and the test's port) and its arrival phase's durations
#     (1 minute -> 5 seconds, interarrival 3 s -> 0.25 s); its user test/test, database test and
#     tables gens and te are made here. Asserted: tsung.log's requests, pages and users, no error,
#     and MariaDB's own counters (connections, SELECTs, SHOW TABLES, no client aborted: every
#     connection ended with COM_QUIT).
#  2. (meanwhile) plugins/mysql/examples/mysql_visits.xml: rows inserted = rows the tables hold
#     afterwards (visits, and totals written from a dyn_variable read in a result set), the
#     match on that result set, an SQL syntax error counted as Tsung does (error_mysql_1064) and
#     the user going on.
#  3. (meanwhile) a wrong password: error_mysql_1045, the user ends, the run ends normally;
#     MariaDB counts the denied logins.
#  4. (meanwhile) an account with ed25519 authentication: the server's switch to client_ed25519
#     is refused (error_mysql_unsupported_auth), not answered with something else.
#  5. (meanwhile) a 6 MB row and 500 rows: read whole (streamed: more than the engine's 4 MiB of
#     unconsumed bytes); with max_frame_size 1000 the same row is error_mysql_frame_too_large.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent
source "$(dirname "$0")/mariadb_lib.sh"
start_mariadb

cat > "$TEST_TMP/setup.sql" <<'SQL'
CREATE DATABASE test;
CREATE USER 'test'@'127.0.0.1' IDENTIFIED BY 'test';
GRANT ALL ON test.* TO 'test'@'127.0.0.1';
INSTALL SONAME 'auth_ed25519';
CREATE USER 'ed'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('test');
GRANT ALL ON test.* TO 'ed'@'127.0.0.1';
USE test;
CREATE TABLE gens (id INT PRIMARY KEY, name VARCHAR(32));
INSERT INTO gens VALUES (1, 'alpha'), (2, 'beta'), (3, NULL);
CREATE TABLE te (n INT);
INSERT INTO te SELECT seq FROM seq_1_to_500;
CREATE TABLE visits (user INT, n INT);
CREATE TABLE totals (user INT, visits INT);
SQL
mdb < "$TEST_TMP/setup.sql" || fail "setting up accounts and tables failed"

run() {  # run NAME SCENARIO: loadctl start, log directory $TEST_TMP/NAME
  "$LOADCTL" -q -f "$2" --run-dir "$TEST_TMP/$1" start > "$TEST_TMP/$1.out" 2> "$TEST_TMP/$1.err" ||
    { cat "$TEST_TMP/$1.err" >&2; fail "$1: loadctl exited with $?"; }
}
# counts DIR: every non-zero counter of DIR/tsung.log, for failure messages.
counts() { awk '$1 == "stats:" && $2 !~ /^[{]/ { a[$2] += $3 } END { for (k in a) if (a[k] > 0) printf "%s=%s ", k, a[k] }' "$1/tsung.log"; }
# errors DIR [EXPECTED...]: the error counters of DIR other than EXPECTED ones.
errors() {
  local dir=$1
  shift
  awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 { print $2 }' "$dir/tsung.log" | sort -u | grep -vxF -f <(printf '%s\n' "$@" '') || true
}
scenario() {  # scenario FILE USERNAME PASSWORD REQUESTS [OPTIONS]: 3 users at 0.1 s intervals
  cat > "$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$MARIADB_PORT" type="tcp"/></servers>
  <load><user session="s" start_time="0.1" unit="second"/><user session="s" start_time="0.2" unit="second"/>
    <user session="s" start_time="0.3" unit="second"/></load>
  <options>${5:-}</options>
  <sessions><session name="s" probability="100" type="ts_mysql">
    <request><mysql type="connect"/></request>
    <request><mysql type="authenticate" database="test" username="$2" password="$3"/></request>$4
    <request><mysql type="close"/></request>
  </session></sessions>
</tsung>
XML
}

# --- 1. Tsung's example ----------------------------------------------------------------------
example=/usr/share/doc/tsung/examples/mysql.xml
sed -e "s/host=\"192.168.0.2\" port=\"3306\"/host=\"127.0.0.1\" port=\"$MARIADB_PORT\"/" \
    -e 's/duration="1" unit="minute"/duration="5" unit="second"/' \
    -e 's/interarrival="3" unit="second"/interarrival="0.25" unit="second"/' "$example" > "$TEST_TMP/mysql.xml"
[ "$(diff "$example" "$TEST_TMP/mysql.xml" | grep -c '^>')" = 3 ] ||
  fail "the example changed: its server, phase duration or interarrival were not found"
"$LOADCTL" -f "$TEST_TMP/mysql.xml" check > /dev/null 2> "$TEST_TMP/check.err" || { cat "$TEST_TMP/check.err" >&2; fail "check refused the example"; }
# MariaDB's counters, read in one connection (each reading is a connection of its own).
server_counters() { mdb -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('Connections', 'Com_select', 'Com_show_tables', 'Aborted_clients')" | sort; }
server_counters > "$TEST_TMP/before"
run example "$TEST_TMP/mysql.xml"
server_counters > "$TEST_TMP/after"
delta() { join "$TEST_TMP/before" "$TEST_TMP/after" | awk -v k="$1" '$1 == k { print $3 - $2 }'; }
dir=$TEST_TMP/example
[ -z "$(errors "$dir")" ] || fail "errors in the example's tsung.log: $(counts "$dir")"
users=$(tsung_sum finish_users_count "$dir")
[ "$users" -ge 8 ] || fail "only $users users ended in 5 s at one per 0.25 s ($(counts "$dir"))"
assert_eq "$(tsung_sum users_count "$dir")" "$users" "users started = users ended"
assert_eq "$(tsung_sum request "$dir")" $((6 * users)) "request: connect, authenticate, 3 queries and close per user"
assert_eq "$(tsung_sum page "$dir")" "$users" "page: one per user (no thinktime between its requests: Tsung's rule)"
assert_eq "$(tsung_sum connect "$dir")" "$users" "connect: one connection per user"
assert_eq "$(delta Connections)" $((users + 1)) "MariaDB: connections (the users', and the reading of these counters)"
assert_eq "$(delta Com_select)" $((2 * users)) "MariaDB: SELECTs (gens and te)"
assert_eq "$(delta Com_show_tables)" "$users" "MariaDB: SHOW TABLES"
assert_eq "$(delta Aborted_clients)" 0 "MariaDB: clients gone without COM_QUIT"
log "example: $users users, $((6 * users)) requests, as MariaDB counted them"

# --- 2.-5. at once -----------------------------------------------------------------------------
sed -e "s/port=\"3306\"/port=\"$MARIADB_PORT\"/" "$LOADCTL_SRC/plugins/mysql/examples/mysql_visits.xml" > "$TEST_TMP/visits.xml"
scenario "$TEST_TMP/denied.xml" test not-the-password '
    <request><mysql type="sql">SELECT 1</mysql></request>'
scenario "$TEST_TMP/ed25519.xml" ed test '
    <request><mysql type="sql">SELECT 1</mysql></request>'
big='
    <request><mysql type="sql">SELECT REPEAT(CHAR(65 + id), 6000000) FROM gens WHERE id = 1</mysql></request>
    <request><match do="log" when="nomatch">500</match><mysql type="sql">SELECT n FROM te ORDER BY n</mysql></request>'
scenario "$TEST_TMP/big.xml" test test "$big"
scenario "$TEST_TMP/frame.xml" test test "$big" '<option name="max_frame_size" value="1000"/>'
before_denied=$(mdb_status Access_denied_errors)
# loadctl itself in the background (not `run ... &`, whose $! would be a subshell: stopping it on
# a failure would leave loadctl running).
declare -A pids=()
for name in visits denied ed25519 big frame; do
  "$LOADCTL" -q -f "$TEST_TMP/$name.xml" --run-dir "$TEST_TMP/$name" start > "$TEST_TMP/$name.out" 2> "$TEST_TMP/$name.err" &
  pids[$name]=$!
  on_exit "_stop_pid $!"
done
for name in "${!pids[@]}"; do
  wait "${pids[$name]}" || { cat "$TEST_TMP/$name.err" >&2; fail "$name: loadctl exited with an error"; }
done

dir=$TEST_TMP/visits
users=$(tsung_sum finish_users_count "$dir")
[ "$users" -ge 10 ] || fail "visits: only $users users ($(counts "$dir"))"
assert_eq "$(errors "$dir" error_mysql_1064)" "" "visits: unexpected errors ($(counts "$dir"))"
assert_eq "$(tsung_sum error_mysql_1064 "$dir")" "$users" "visits: syntax errors counted (error_mysql_1064)"
assert_eq "$(tsung_sum request "$dir")" $((16 * users)) "visits: requests (the failed query is timed, as in Tsung)"
assert_eq "$(tsung_sum match "$dir")" "$users" "visits: 'visits=10' found in each user's result set"
assert_eq "$(mdb -e 'SELECT COUNT(*), COUNT(DISTINCT user) FROM test.visits')" "$((10 * users))	$users" "visits: rows MariaDB holds"
assert_eq "$(mdb -e 'SELECT COUNT(*), SUM(visits) FROM test.totals')" "$users	$((10 * users))" "totals: rows written from the dyn_variable"
log "visits: $((10 * users)) rows inserted by $users users, all in the table"

dir=$TEST_TMP/denied
assert_eq "$(errors "$dir" error_mysql_1045)" "" "denied: unexpected errors ($(counts "$dir"))"
assert_eq "$(tsung_sum error_mysql_1045 "$dir")" 3 "denied: wrong passwords (error_mysql_1045)"
assert_eq "$(tsung_sum finish_users_count "$dir")" 3 "denied: users that ended"
assert_eq "$(tsung_sum request "$dir")" 3 "denied: requests (the 3 connects; no query was sent)"
assert_eq $(($(mdb_status Access_denied_errors) - before_denied)) 3 "MariaDB: denied logins"

dir=$TEST_TMP/ed25519
assert_eq "$(errors "$dir" error_mysql_unsupported_auth)" "" "ed25519: unexpected errors ($(counts "$dir"))"
assert_eq "$(tsung_sum error_mysql_unsupported_auth "$dir")" 3 "ed25519: refused authentication switches"
assert_eq "$(tsung_sum finish_users_count "$dir")" 3 "ed25519: users that ended"

dir=$TEST_TMP/big
assert_eq "$(errors "$dir")" "" "big: errors ($(counts "$dir"))"
assert_eq "$(tsung_sum request "$dir")" 15 "big: requests"
assert_eq "$(tsung_sum match "$dir")" 3 "big: the last of te's rows (500) read"
rcv=$(awk '$1 == "stats:" && $2 == "size_rcv" { s += $3 } END { print s + 0 }' "$dir/tsung.log")
[ "$rcv" -gt $((3 * 6000000)) ] || fail "big: $rcv bytes received, less than three 6 MB rows"

dir=$TEST_TMP/frame
assert_eq "$(errors "$dir" error_mysql_frame_too_large)" "" "frame: unexpected errors ($(counts "$dir"))"
assert_eq "$(tsung_sum error_mysql_frame_too_large "$dir")" 3 "frame: rows over max_frame_size"
assert_eq "$(tsung_sum finish_users_count "$dir")" 3 "frame: users that ended"
log "wrong password, ed25519, 6 MB rows and max_frame_size: as expected"
