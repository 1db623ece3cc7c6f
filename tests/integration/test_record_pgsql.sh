#!/usr/bin/env bash
# loadctl record -p pgsql (docs/recorder.md, PostgreSQL): a private PostgreSQL 15 (the pgsql
# plugin's postgres_lib.sh: initdb in $TEST_TMP, a free 127.0.0.1 port, stopped by this test) with
# log_statement=all; the recorder in front of it; through the recorder
#   psql (sslmode=prefer: its SSLRequest is refused, it goes on in plain text) as a SCRAM-SHA-256
#   user: CREATE TABLE, INSERTs, an UPDATE, a SELECT (simple protocol);
#   pgbench -M prepared: Parse of a named statement, then Bind (a parameter)/Describe/Execute/Sync;
#   psql with wrong passwords (SCRAM, md5): PostgreSQL's 28P01 reaches it, only a comment recorded;
#   psql as an md5 user and as a cleartext ("password") user: an INSERT each;
#   psql as a trusted user: a 17 MiB query (passed through unread, a comment);
# a client announcing a 2 GiB startup packet (refused from its header, closed, noted); then
# `loadctl record stop`. Asserted: the file holds connect, authenticate with the cleartext
# password (the proxy answered SCRAM itself) and the console warned about it; the file, included
# with an XML ENTITY as Tsung's manual shows, passes `loadctl check`; the table is dropped and
# `loadctl start` replays the file against the same PostgreSQL: the server logged the same
# statements (with their parameters) for the replay as for the recording, the table holds the
# same rows, tsung.log counts no error. Passwords go through PGPASSWORD, never a command line.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent
source "$LOADCTL_SRC/plugins/pgsql/tests/postgres_lib.sh"
need_bins "$PGBIN/pgbench"
start_postgres 'host all recuser 127.0.0.1/32 scram-sha-256
host all recmd5 127.0.0.1/32 md5
host all recclear 127.0.0.1/32 password
host all recbig 127.0.0.1/32 trust'
sql > /dev/null <<'SQL' || fail "creating the role failed"
SET password_encryption = 'scram-sha-256';
CREATE ROLE recuser LOGIN PASSWORD 'sesame';
CREATE DATABASE recdb OWNER recuser;
SET password_encryption = 'md5';
CREATE ROLE recmd5 LOGIN PASSWORD 'open-sesame';
CREATE ROLE recclear LOGIN PASSWORD 'clear&sesame';
CREATE ROLE recbig LOGIN;
ALTER SYSTEM SET log_statement = 'all';
ALTER SYSTEM SET log_line_prefix = '[%u@%d] ';
SELECT pg_reload_conf();
SQL
wait_until 10 [ "$(echo "SHOW log_statement" | sql recdb)" = all ] || fail "log_statement=all not in effect"

# The statements recuser ran, as PostgreSQL logged them from byte offset $1 of its log on.
statements() {
  tail -c +"$(($1 + 1))" "$PG_LOG" | grep -E '^\[rec(user|md5|clear)@recdb\] (LOG:  (statement|execute [^:]*):|DETAIL:  parameters:)' || true
}
log_size() { stat -c %s "$PG_LOG"; }

# --- recording ---------------------------------------------------------------------------------
private_home  # the recorder's control socket: ~/.loadctl/recorder
RPORT=$(free_port)
REC=$TEST_TMP/rec.xml
"$LOADCTL" record -p pgsql -L "$RPORT" -I 127.0.0.1 -P "$PGPORT" -o "$REC" > "$TEST_TMP/record.out" 2> "$TEST_TMP/record.err" &
REC_PID=$!
on_exit "kill $REC_PID 2>/dev/null || true"
wait_until 10 port_open "$RPORT" || { cat "$TEST_TMP/record.err" >&2; fail "the recorder did not listen on $RPORT"; }

before=$(log_size)
export PGPASSWORD=sesame
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$RPORT" -U recuser -d recdb > "$TEST_TMP/psql.out" 2>&1 <<'SQL' ||
CREATE TABLE items (id int, name text, qty int);
INSERT INTO items VALUES (1, 'apple', 3);
INSERT INTO items VALUES (2, 'pear ]]> <&>', 5), (3, 'plum', 7);
UPDATE items SET qty = qty + 1 WHERE id = 2;
SELECT count(*), sum(qty) FROM items;
GRANT SELECT, INSERT ON items TO recmd5, recclear;
SQL
  { cat "$TEST_TMP/psql.out" "$TEST_TMP/record.err" >&2; fail "psql through the recorder failed"; }
cat > "$TEST_TMP/prepared.sql" <<'SQL'
\set id random(100, 999)
INSERT INTO items VALUES (:id, 'prepared', :id);
SQL
"$PGBIN/pgbench" -n -M prepared -t 3 -f "$TEST_TMP/prepared.sql" -h 127.0.0.1 -p "$RPORT" -U recuser recdb \
  > "$TEST_TMP/pgbench.out" 2>&1 || { cat "$TEST_TMP/pgbench.out" "$TEST_TMP/record.err" >&2; fail "pgbench through the recorder failed"; }
# Wrong passwords (SCRAM, md5): the client reads PostgreSQL's own 28P01 error; nothing of these
# logins is recorded but a comment, and the recorder goes on (the next sessions are recorded).
for user in recuser recmd5; do
  if PGPASSWORD=wrong psql -X -w -h 127.0.0.1 -p "$RPORT" -U "$user" -d recdb -c "SELECT 1" > "$TEST_TMP/psql-wrong.out" 2>&1; then
    fail "psql with a wrong password for $user succeeded through the recorder"
  fi
  grep -q "password authentication failed for user \"$user\"" "$TEST_TMP/psql-wrong.out" ||
    { cat "$TEST_TMP/psql-wrong.out" >&2; fail "psql did not see the server's 28P01 for $user"; }
done
PGPASSWORD=open-sesame psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$RPORT" -U recmd5 -d recdb -c "INSERT INTO items VALUES (50, 'md5', 1)" \
  > "$TEST_TMP/psql-md5.out" 2>&1 || { cat "$TEST_TMP/psql-md5.out" "$TEST_TMP/record.err" >&2; fail "psql (md5) through the recorder failed"; }
PGPASSWORD='clear&sesame' psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$RPORT" -U recclear -d recdb -c "INSERT INTO items VALUES (60, 'clear', 1)" \
  > "$TEST_TMP/psql-clear.out" 2>&1 || { cat "$TEST_TMP/psql-clear.out" "$TEST_TMP/record.err" >&2; fail "psql (cleartext) through the recorder failed"; }
unset PGPASSWORD
# A query over the recorder's 16 MiB: passed through unread (the client gets its answer), a comment.
{ printf "SELECT length('"; head -c $((17 << 20)) /dev/zero | tr '\0' x; printf "');\n"; } > "$TEST_TMP/big.sql"
assert_eq "$(psql -X -q -A -t -w -h 127.0.0.1 -p "$RPORT" -U recbig -d recdb -f "$TEST_TMP/big.sql" 2> "$TEST_TMP/psql-big.err")" \
  $((17 << 20)) "the 17 MiB query's answer through the recorder"
statements "$before" > "$TEST_TMP/recorded.statements"
rows_recorded=$(echo "SELECT id, name, qty FROM items ORDER BY id, qty" | sql recdb)
assert_eq "$(echo "SELECT count(*) FROM items" | sql recdb)" 8 "rows after the recording"

# A client announcing a 2 GiB startup packet: refused from its length, the connection closed, the
# recorder goes on (a comment in the file).
exec 3<>"/dev/tcp/127.0.0.1/$RPORT"
printf '\x7f\xff\xff\xf0' >&3
wait_until 10 grep -q 'startup packet of 2147483632 bytes (the recorder keeps at most 9996)' "$TEST_TMP/record.err" ||
  { cat "$TEST_TMP/record.err" >&2; fail "no note about the oversize startup packet"; }
assert_eq "$(timeout 5 cat <&3 | wc -c)" 0 "bytes the recorder answered the oversize packet with (it closes)"
exec 3<&-
# The file is "$REC.tmp" while recording (renamed when complete, at stop).
grep -q '<!-- the client sent a startup packet of 2147483632 bytes' "$REC.tmp" || fail "no comment about the oversize packet in the file"

"$LOADCTL" record stop > "$TEST_TMP/stop.out" 2>&1 || { cat "$TEST_TMP/stop.out" >&2; fail "record stop failed"; }
wait_until 10 exited "$REC_PID" || fail "the recorder did not exit after record stop"
wait "$REC_PID" || fail "the recorder exited with $?"

# --- the file ----------------------------------------------------------------------------------
count() { grep -c -- "$1" "$REC" || true; }
# psql's connection, then pgbench's two (it opens one, closes it, and opens the one it runs on),
# then psql's as recmd5 (md5: answered by the recorder too)
assert_eq "$(count '<pgsql type="connect" database="recdb" username="recuser"/>')" 3 "connects recorded (psql, pgbench x2)"
assert_eq "$(count '<pgsql type="authenticate" password="sesame"/>')" 3 "authenticates recorded with the cleartext password"
assert_eq "$(count '<pgsql type="connect" database="recdb" username="recmd5"/>')" 1 "the md5 user's connect"
assert_eq "$(count '<pgsql type="authenticate" password="open-sesame"/>')" 1 "the md5 user's authenticate (cleartext)"
assert_eq "$(count '<pgsql type="authenticate" password="clear&amp;sesame"/>')" 1 "the cleartext user's authenticate (passed through)"
assert_eq "$(count '<pgsql type="close"/>')" 6 "closes recorded"
# the message: type, length, "SELECT length('", the 17 MiB, "');" and a NUL
assert_eq "$(count "<!-- a 'Q' message of $(((17 << 20) + 24)) bytes (over the recorder's 16 MiB): forwarded unread")" 1 \
  "the comment about the 17 MiB query"
assert_eq "$(count "<!-- a login of user 'rec\(user\|md5\)' that did not complete (not recorded) -->")" 2 "comments for the wrong passwords"
assert_eq "$(count '<pgsql type="sql"><!\[CDATA\[CREATE TABLE items')" 1 "CREATE TABLE recorded"
assert_eq "$(count 'pear ]]\]\]><!\[CDATA\[> <&>')" 1 "a query with ]]> recorded in two CDATA sections"
assert_eq "$(count '<pgsql type="parse" name_prepared="P_0"')" 1 "pgbench's prepared statement (Parse) recorded once"
assert_eq "$(count '<pgsql type="bind" name_prepared="P_0"')" 3 "Binds recorded"
assert_eq "$(count '<pgsql type="describe" name_portal=""/>')" 3 "Describes recorded"
assert_eq "$(count '<pgsql type="execute"/>')" 3 "Executes recorded"
assert_eq "$(count '<pgsql type="sync"/>')" 4 "Syncs recorded (after the Parse, after each Execute)"
grep -q 'holds the password of user .recuser. in clear' "$TEST_TMP/record.err" || fail "no warning about the password on the console"
grep -q 'asked for TLS' "$TEST_TMP/record.err" || fail "psql's SSLRequest was not noted"
assert_eq "$(stat -c %a "$REC")" 600 "the recording's mode (it holds a password)"

session=$(sed -n 's/^<session name="\([^"]*\)".*type="ts_pgsql".*/\1/p' "$REC")
[ -n "$session" ] || fail "no <session type=\"ts_pgsql\"> in $REC"
cat > "$TEST_TMP/replay.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd" [
  <!ENTITY recorded SYSTEM "$REC">
]>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$PGPORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="10" unit="second"/></arrivalphase></load>
  <sessions>
    &recorded;
  </sessions>
</tsung>
XML
"$LOADCTL" -f "$TEST_TMP/replay.xml" check > "$TEST_TMP/check.out" 2>&1 || { cat "$TEST_TMP/check.out" "$REC" >&2; fail "check refused the recording"; }

# --- replay ------------------------------------------------------------------------------------
echo "DROP TABLE items" | sql recdb || fail "dropping the table failed"
before=$(log_size)
"$LOADCTL" -q -f "$TEST_TMP/replay.xml" --run-dir "$TEST_TMP/run" start > "$TEST_TMP/start.out" 2> "$TEST_TMP/start.err" ||
  { cat "$TEST_TMP/start.err" >&2; fail "loadctl start failed"; }
assert_eq "$(tsung_sum finish_users_count "$TEST_TMP/run")" 1 "users that ran the recording"
requests=$(grep -c '<request>' "$REC")
assert_eq "$(($(tsung_sum request "$TEST_TMP/run") + $(tsung_sum request_noack "$TEST_TMP/run")))" "$requests" "requests replayed (answered + no_ack) = requests recorded"
errors=$(awk '$1 == "stats:" && $2 ~ /^error/ && $3 > 0 { print $2 "=" $3 }' "$TEST_TMP/run/tsung.log" | sort -u)
[ -z "$errors" ] || fail "errors in the replay: $errors"
wait_until 10 [ "$(statements "$before" | wc -l)" -ge "$(wc -l < "$TEST_TMP/recorded.statements")" ] || true
statements "$before" > "$TEST_TMP/replayed.statements"
[ "$(wc -l < "$TEST_TMP/recorded.statements")" -ge 14 ] || fail "too few statements logged for the recording: $(cat "$TEST_TMP/recorded.statements")"
diff <(sort "$TEST_TMP/recorded.statements") <(sort "$TEST_TMP/replayed.statements") > "$TEST_TMP/statements.diff" ||
  { cat "$TEST_TMP/statements.diff" >&2; fail "the replay's statements differ from the recording's"; }
assert_eq "$(echo "SELECT id, name, qty FROM items ORDER BY id, qty" | sql recdb)" "$rows_recorded" "the table's rows after the replay"
# PostgreSQL's log_connections: the methods the server asked for, answered by the recorder while
# recording and by loadctl while replaying.
authenticated() { grep -c "connection authenticated: identity=\"$1\" method=$2 " "$PG_LOG" || true; }
assert_eq "$(authenticated recuser scram-sha-256)" 6 "SCRAM-SHA-256 authentications of recuser (3 recorded, 3 replayed)"
assert_eq "$(authenticated recmd5 md5)" 2 "md5 authentications of recmd5 (1 recorded, 1 replayed)"
assert_eq "$(authenticated recclear password)" 2 "cleartext authentications of recclear (1 recorded, 1 replayed)"
log "ok: $(wc -l < "$TEST_TMP/recorded.statements") statement log lines recorded and replayed alike"
