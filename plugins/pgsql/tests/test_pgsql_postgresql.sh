#!/usr/bin/env bash
# ts_pgsql against a real PostgreSQL 15 (Debian's postgresql-15), initdb'ed into $TEST_TMP and
# started by this test on a free 127.0.0.1 port with its own pg_hba.conf (unix socket in
# $TEST_TMP), as user nobody when the test runs as root (postgres refuses root). Roles: bench
# (SCRAM-SHA-256, PostgreSQL 15's default), bench_md5 (md5-stored password, "md5" in pg_hba) and
# bench_clear ("password": cleartext), all with the examples' password; each owns its database.
#  1. Tsung's examples /usr/share/doc/tsung/examples/{pgsql,thinks,thinks2}.xml, changed only in
#     the server port, the arrival phases' durations (minutes and hours -> 1-2 s; pgsql.xml's
#     interarrival 30 s -> 0.2 s, so that users arrive within them: ~10 Poisson arrivals in 2 s, fewer than 3 with a chance of 0.3%), pgsql.xml's 20 s thinktime
#     (-> 1 s) and, for thinks/thinks2, the database and user (bench_md5, bench_clear: one
#     authentication method each; pgsql.xml keeps bench, SCRAM). Asserted: requests and users in tsung.log, error_pgsql (pgsql.xml's last query has an
#     unterminated literal: PostgreSQL rejects it), and PostgreSQL's own count of sessions per
#     database and of authentications per method (log_connections).
#  2. plugins/pgsql/examples/pgsql_extended.xml: simple and extended-protocol inserts (parse,
#     bind with parameters, describe, execute, sync) and a failed transaction: the rows inserted
#     = the rows the table holds afterwards (psql), error_pgsql, pgsql_failed_transaction.
#  3. Wrong passwords (cleartext, md5, SCRAM): counted as error_pgsql, the users end, the run
#     ends normally; PostgreSQL logs the three failures.
#  4. A row larger than max_frame_size: error_pgsql_frame_too_large, nothing allocated for it.
#  5. <dyn_variable pgsql_expr>: a row's columns by index and by name and a column's name, read
#     from a SELECT and inserted back: the table holds them.
# Passwords go to psql on stdin, never on a command line.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent
source "$(dirname "$0")/postgres_lib.sh"
start_postgres 'host all bench 127.0.0.1/32 scram-sha-256
host all bench_md5 127.0.0.1/32 md5
host all bench_clear 127.0.0.1/32 password'

sql <<'SQL' || fail "creating the roles failed"
SET password_encryption = 'scram-sha-256';
CREATE ROLE bench LOGIN PASSWORD 'sesame';
CREATE ROLE bench_clear LOGIN PASSWORD 'sesame';
SET password_encryption = 'md5';
CREATE ROLE bench_md5 LOGIN PASSWORD 'sesame';
CREATE DATABASE bench OWNER bench;
CREATE DATABASE bench_md5 OWNER bench_md5;
CREATE DATABASE bench_clear OWNER bench_clear;
SQL
assert_eq "$(echo "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'bench_md5'" | sql)" md5 "bench_md5's stored password"
assert_eq "$(echo "SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = 'bench'" | sql)" SCRAM-SHA-256 "bench's stored password"
sql bench <<'SQL' || fail "creating the tables failed"
CREATE TABLE accounts (id int, name text); INSERT INTO accounts SELECT i, 'a' || i FROM generate_series(1, 50) i;
CREATE TABLE users (id int, login text); INSERT INTO users SELECT i, 'u' || i FROM generate_series(1, 20) i;
CREATE TABLE history (uid int, n int, how text);
ALTER TABLE accounts OWNER TO bench; ALTER TABLE users OWNER TO bench; ALTER TABLE history OWNER TO bench;
SQL

run() {  # run NAME SCENARIO: loadctl start, log directory $TEST_TMP/NAME
  local rc=0
  "$LOADCTL" -q -f "$2" --run-dir "$TEST_TMP/$1" start > "$TEST_TMP/$1.out" 2> "$TEST_TMP/$1.err" || rc=$?
  [ "$rc" = 0 ] || { cat "$TEST_TMP/$1.err" >&2; fail "$1: loadctl exited with $rc"; }
}
counts() { awk '$1 == "stats:" && $2 !~ /^[{]/ { a[$2] += $3 } END { for (k in a) if (a[k] > 0) printf "%s=%s ", k, a[k] }' "$1/tsung.log"; }
sessions() { echo "SELECT sessions FROM pg_stat_database WHERE datname = '$1'" | sql; }
# Authentications PostgreSQL logged for a user (log_connections: "connection authenticated:
# identity=\"USER\" method=METHOD").
auth_logged() { grep -c "connection authenticated: identity=\"$1\" method=$2 " "$PG_LOG" || true; }
example() {  # example NAME SED-ARGS...: Tsung's example NAME.xml with the changes given
  local name=$1
  shift
  sed -e "s/port=\"5432\"/port=\"$PGPORT\"/" "$@" "/usr/share/doc/tsung/examples/$name.xml" > "$TEST_TMP/$name.xml"
  "$LOADCTL" -f "$TEST_TMP/$name.xml" check > /dev/null 2> "$TEST_TMP/$name.check" ||
    { cat "$TEST_TMP/$name.check" >&2; fail "check refused $name.xml"; }
}

# --- 1. Tsung's examples (thinks and thinks2 in the background meanwhile) -----------------------
example thinks -e 's/duration="600" unit="second"/duration="2" unit="second"/' \
  -e 's/duration="6" unit="hour"/duration="1" unit="second"/' -e 's/"bench"/"bench_md5"/g'
example thinks2 -e 's/duration="10" unit="minute"/duration="2" unit="second"/' \
  -e 's/duration="600" unit="second"/duration="1" unit="second"/' -e 's/duration="6" unit="hour"/duration="1" unit="second"/' \
  -e 's/"bench"/"bench_clear"/g'
example pgsql -e 's/duration="10" unit="minute"/duration="2" unit="second"/' -e 's/interarrival="30"/interarrival="0.2"/' \
  -e 's/thinktime value="20"/thinktime value="1"/'
for n in thinks thinks2 pgsql; do
  changed=$(diff "/usr/share/doc/tsung/examples/$n.xml" "$TEST_TMP/$n.xml" | grep -c '^>' || true)
  [ "$changed" -ge 2 ] || fail "$n.xml: the lines to change (port, durations) were not found"
done
run thinks "$TEST_TMP/thinks.xml" &
THINKS_PID=$!
run thinks2 "$TEST_TMP/thinks2.xml" &
THINKS2_PID=$!
run pgsql "$TEST_TMP/pgsql.xml"
dir=$TEST_TMP/pgsql
users=$(tsung_sum finish_users_count "$dir")
[ "$users" -ge 3 ] || fail "pgsql.xml: $users users finished, expected at least 3 ($(counts "$dir"))"
assert_eq "$(tsung_sum users_count "$dir")" "$users" "pgsql.xml: users started = users finished"
assert_eq "$(tsung_sum request "$dir")" $((6 * users)) "pgsql.xml: requests (6 per user) ($(counts "$dir"))"
assert_eq "$(tsung_sum tr_select "$dir")" "$users" "pgsql.xml: select transactions"
assert_eq "$(tsung_sum error_pgsql "$dir")" "$users" "pgsql.xml: error_pgsql (the last query's unterminated literal)"
# (+1: the psql session that created the tables)
wait_until 10 [ "$(sessions bench)" = $((users + 1)) ] ||
  fail "PostgreSQL counted $(sessions bench) sessions on bench, loadctl $users users (+1 psql)"
assert_eq "$(auth_logged bench scram-sha-256)" "$users" "SCRAM-SHA-256 authentications PostgreSQL logged for bench"
log "pgsql.xml: $users users, SCRAM-SHA-256"

for n in thinks thinks2; do
  pid_var=${n^^}_PID
  wait "${!pid_var}" || fail "$n.xml: the run failed"
  dir=$TEST_TMP/$n
  users=$(tsung_sum finish_users_count "$dir")
  [ "$users" -ge 1 ] || fail "$n.xml: no user finished ($(counts "$dir"))"
  assert_eq "$(tsung_sum request "$dir")" $((3 * users)) "$n.xml: requests (connect, authenticate, close per user) ($(counts "$dir"))"
  errors=$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 { print $2 "=" $3 }' "$dir/tsung.log" | sort -u)
  [ -z "$errors" ] || fail "$n.xml: errors in tsung.log: $errors"
  db=bench_md5 method=md5
  [ "$n" = thinks2 ] && db=bench_clear method=password
  wait_until 10 [ "$(sessions $db)" = "$users" ] || fail "PostgreSQL counted $(sessions $db) sessions on $db, loadctl $users users"
  assert_eq "$(auth_logged $db $method)" "$users" "$method authentications PostgreSQL logged for $db"
  log "$n.xml: $users users, $method"
done

# --- 2. inserts: simple and extended protocol --------------------------------------------------
sed -e "s/port=\"5432\"/port=\"$PGPORT\"/" "$LOADCTL_SRC/plugins/pgsql/examples/pgsql_extended.xml" > "$TEST_TMP/extended.xml"
run extended "$TEST_TMP/extended.xml"
dir=$TEST_TMP/extended
assert_eq "$(tsung_sum finish_users_count "$dir")" 5 "extended: users"
assert_eq "$(echo "SELECT count(*) FROM history" | sql bench)" 100 "rows in history (5 users x 20 inserts; the rolled-back one is not there)"
assert_eq "$(echo "SELECT count(*) FROM history WHERE how = 'extended'" | sql bench)" 50 "rows inserted with bind/execute"
assert_eq "$(echo "SELECT count(DISTINCT (uid, n, how)) FROM history" | sql bench)" 100 "distinct (user, i, protocol) rows: parameters substituted"
# Per user, answered: connect, authenticate, 10 sql, sync, 10 sync, 2 sql, close. Pages as
# Tsung's ts_config:mark_prev_req makes them (a page ends at a request not followed by another
# one): connect+authenticate, each of the 10 sql (a loop step follows), parse+sync, each of the
# 10 bind..sync, the last three: 23.
assert_eq "$(tsung_sum request "$dir")" $((5 * 26)) "extended: requests ($(counts "$dir"))"
assert_eq "$(tsung_sum page "$dir")" $((5 * 23)) "extended: pages"
assert_eq "$(tsung_sum request_noack "$dir")" $((5 * 31)) "extended: no_ack requests (parse, bind, describe, execute)"
assert_eq "$(tsung_sum error_pgsql "$dir")" 5 "extended: error_pgsql (division by zero)"
assert_eq "$(tsung_sum pgsql_failed_transaction "$dir")" 5 "extended: pgsql_failed_transaction"
log "extended: 100 rows inserted = 100 rows in the table"

# --- 3. wrong passwords, 4. max_frame_size --------------------------------------------------
cat > "$TEST_TMP/wrong.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$PGPORT" type="tcp"/></servers>
  <load><user session="bench" start_time="0.1" unit="second"/><user session="bench_md5" start_time="0.1" unit="second"/>
    <user session="bench_clear" start_time="0.1" unit="second"/><user session="big" start_time="0.1" unit="second"/></load>
  <options><option name="max_frame_size" value="4096"/></options>
  <sessions>
$(for u in bench bench_md5 bench_clear; do cat <<S
    <session name="$u" probability="0" type="ts_pgsql">
      <request><pgsql type="connect" database="$u" username="$u"/></request>
      <request><pgsql type="authenticate" password="not-sesame"/></request>
      <request><pgsql type="sql">SELECT 1;</pgsql></request>
    </session>
S
done)
    <session name="big" probability="0" type="ts_pgsql">
      <request><pgsql type="connect" database="bench" username="bench"/></request>
      <request><pgsql type="authenticate" password="sesame"/></request>
      <request><pgsql type="sql">SELECT repeat('x', 10000);</pgsql></request>
      <request><pgsql type="sql">SELECT 1;</pgsql></request>
    </session>
  </sessions>
</tsung>
XML
run wrong "$TEST_TMP/wrong.xml"
dir=$TEST_TMP/wrong
assert_eq "$(tsung_sum error_pgsql "$dir")" 3 "wrong passwords counted as error_pgsql ($(counts "$dir"))"
assert_eq "$(tsung_sum error_pgsql_frame_too_large "$dir")" 1 "a 10 kB row with max_frame_size 4096"
assert_eq "$(tsung_sum finish_users_count "$dir")" 4 "users that ended"
# Requests answered: 4 connects, the big session's authenticate; no SELECT 1 anywhere.
assert_eq "$(tsung_sum request "$dir")" 5 "requests answered ($(counts "$dir"))"
for u in bench bench_md5 bench_clear; do
  assert_eq "$(grep -c "password authentication failed for user \"$u\"" "$PG_LOG" || true)" 1 "PostgreSQL's failures for $u"
done
# --- 5. <dyn_variable pgsql_expr>: values from a SELECT's rows, inserted back -----------------
sql bench <<'SQL' || fail "creating picks failed"
CREATE TABLE picks (uid int, name text, id int, col text); ALTER TABLE picks OWNER TO bench;
SQL
cat > "$TEST_TMP/expr.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$PGPORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="5" arrivalrate="10" unit="second"/></arrivalphase></load>
  <sessions>
    <session name="expr" probability="100" type="ts_pgsql">
      <request><pgsql type="connect" database="bench" username="bench"/></request>
      <request><pgsql type="authenticate" password="sesame"/></request>
      <request>
        <dyn_variable name="third_name" pgsql_expr="data_row[3].name"/>
        <dyn_variable name="third_id" pgsql_expr="data_row[3][1]"/>
        <dyn_variable name="col" pgsql_expr="row_description[1][2][1]"/>
        <pgsql type="sql">SELECT id, name FROM accounts WHERE id &gt; 10 ORDER BY id</pgsql>
      </request>
      <request subst="true"><pgsql type="sql">INSERT INTO picks VALUES (%%_tsung_userid%%, '%%_third_name%%', %%_third_id%%, '%%_col%%')</pgsql></request>
      <request><pgsql type="close"/></request>
    </session>
  </sessions>
</tsung>
XML
run expr "$TEST_TMP/expr.xml"
users=$(tsung_sum finish_users_count "$TEST_TMP/expr")
[ "$users" -ge 1 ] || fail "expr: no user finished ($(counts "$TEST_TMP/expr"))"
assert_eq "$(tsung_sum error_pgsql "$TEST_TMP/expr")" 0 "expr: error_pgsql"
assert_eq "$(echo "SELECT count(*) FROM picks" | sql bench)" "$users" "expr: rows inserted"
assert_eq "$(echo "SELECT count(*) FROM picks WHERE name = 'a13' AND id = 13 AND col = 'name'" | sql bench)" "$users" \
  "expr: rows with the third row's name and id and the second column's name ($(echo "SELECT * FROM picks LIMIT 1" | sql bench))"
log "expr: $users users inserted the values pgsql_expr read"

# Everything loadctl wrote (its output, tsung.log, tsung.dump, stats.jsonl, ...) but the copy of
# the scenario in each run directory.
leaks=$(find "$TEST_TMP"/{thinks,thinks2,pgsql,extended,wrong} "$TEST_TMP"/*.out "$TEST_TMP"/*.err -type f ! -name '*.xml' \
  -exec grep -l "sesame" {} + || true)
[ -z "$leaks" ] || fail "a password appears in loadctl's output: $leaks"
[ -n "$(find "$TEST_TMP/wrong" -name stats.jsonl)" ] || fail "no stats.jsonl in the run directory: the leak check looks at the wrong files"
log "ok"
