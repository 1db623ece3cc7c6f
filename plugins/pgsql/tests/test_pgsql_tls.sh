#!/usr/bin/env bash
# ts_pgsql over TLS against a real PostgreSQL 15 (postgres_lib.sh: initdb'ed into $TEST_TMP, a
# free 127.0.0.1 port) with ssl=on, a self-signed certificate made here with openssl, and
# pg_hba.conf allowing bench only on `hostssl` lines: a login in the clear is refused by the server.
#  1. <server type="ssl">: SSLRequest, TLS, then SCRAM-SHA-256 and queries. Each user inserts the
#     server's view of its own session (pg_stat_ssl: ssl, version) and its user id: the table
#     holds one TLS row per user, and tsung.log has no error.
#  2. The same scenario with type="tcp": PostgreSQL refuses the login (no pg_hba.conf entry, "no
#     encryption"): error_pgsql per user, the users end, no row inserted.
#  3. ssl_verify true: the self-signed certificate is not trusted, the STARTTLS handshake fails
#     (error_starttls per user), no row inserted.
#  4. ssl turned off (ALTER SYSTEM, reload): the server answers 'N' to SSLRequest, counted as
#     error_pgsql_ssl_refused; the user ends without logging in in the clear.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent openssl
source "$(dirname "$0")/postgres_lib.sh"

tls=$TEST_TMP/pg/tls  # under $TEST_TMP/pg: owned by the server's user with the rest
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 -keyout "$tls/server.key" \
  -out "$tls/server.crt" 2>/dev/null || fail "openssl could not make the server certificate"
chmod 600 "$tls/server.key"  # postgres refuses a key others can read
start_postgres 'hostssl all bench 127.0.0.1/32 scram-sha-256' ssl=on "ssl_cert_file='$tls/server.crt'" \
  "ssl_key_file='$tls/server.key'"

sql <<'SQL' || fail "creating the role failed"
SET password_encryption = 'scram-sha-256';
CREATE ROLE bench LOGIN PASSWORD 'sesame';
CREATE DATABASE bench OWNER bench;
SQL
sql bench <<'SQL' || fail "creating the table failed"
CREATE TABLE seen (uid int, ssl bool, version text); ALTER TABLE seen OWNER TO bench;
SQL

scenario() {  # scenario NAME SERVER_TYPE [OPTIONS]: 5 users, each inserts what the server saw of its session
  cat > "$TEST_TMP/$1.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$PGPORT" type="$2"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="5" arrivalrate="50" unit="second"/></arrivalphase></load>
  <options>${3:-}</options>
  <sessions>
    <session name="tls" probability="100" type="ts_pgsql">
      <request><pgsql type="connect" database="bench" username="bench"/></request>
      <request><pgsql type="authenticate" password="sesame"/></request>
      <request subst="true"><pgsql type="sql">INSERT INTO seen SELECT %%_tsung_userid%%, ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()</pgsql></request>
      <request><pgsql type="sql">SELECT count(*) FROM seen</pgsql></request>
      <request><pgsql type="close"/></request>
    </session>
  </sessions>
</tsung>
XML
  "$LOADCTL" -f "$TEST_TMP/$1.xml" check > /dev/null 2> "$TEST_TMP/$1.check" ||
    { cat "$TEST_TMP/$1.check" >&2; fail "check refused $1.xml"; }
  run_loadctl "$TEST_TMP/$1.xml" "$TEST_TMP/$1"
}
counts() { awk '$1 == "stats:" && $2 !~ /^[{]/ { a[$2] += $3 } END { for (k in a) if (a[k] > 0) printf "%s=%s ", k, a[k] }' "$1/tsung.log"; }
errors() { awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 { print $2 }' "$1/tsung.log" | sort -u | tr '\n' ' '; }
rows() { echo "SELECT count(*) FROM seen" | sql bench; }

# --- 1. type="ssl" -------------------------------------------------------------------------
scenario tls ssl
dir=$TEST_TMP/tls
users=$(tsung_sum finish_users_count "$dir")
assert_eq "$users" 5 "tls: users that ended ($(counts "$dir"))"
assert_eq "$(errors "$dir")" "" "tls: errors"
assert_eq "$(tsung_sum request "$dir")" $((5 * users)) "tls: requests answered ($(counts "$dir"))"
assert_eq "$(rows)" "$users" "tls: rows inserted"
assert_eq "$(echo "SELECT count(DISTINCT uid) FROM seen WHERE ssl AND version LIKE 'TLSv1._'" | sql bench)" "$users" \
  "tls: sessions PostgreSQL saw over TLS (pg_stat_ssl)"
log "tls: $users users logged in over $(echo "SELECT DISTINCT version FROM seen" | sql bench), one row each"

# --- 2. type="tcp" against hostssl only ----------------------------------------------------------
scenario plain tcp
dir=$TEST_TMP/plain
assert_eq "$(tsung_sum finish_users_count "$dir")" 5 "plain: users that ended ($(counts "$dir"))"
assert_eq "$(errors "$dir")" "error_pgsql " "plain: errors"
assert_eq "$(tsung_sum error_pgsql "$dir")" 5 "plain: logins PostgreSQL refused (error_pgsql)"
assert_eq "$(rows)" "$users" "plain: no row inserted in the clear"
[ "$(grep -c 'no pg_hba.conf entry for host "127.0.0.1", user "bench", database "bench", no encryption' "$PG_LOG")" -ge 5 ] ||
  fail "plain: PostgreSQL did not log the logins it refused in the clear"

# --- 3. ssl_verify: a self-signed certificate is not trusted ---------------------------------------
scenario verify ssl '<option name="ssl_verify" value="true"/>'
dir=$TEST_TMP/verify
assert_eq "$(tsung_sum finish_users_count "$dir")" 5 "verify: users that ended ($(counts "$dir"))"
assert_eq "$(errors "$dir")" "error_starttls " "verify: errors"
assert_eq "$(tsung_sum error_starttls "$dir")" 5 "verify: handshakes refused (error_starttls)"
assert_eq "$(rows)" "$users" "verify: no row inserted"

# --- 4. a server without TLS answers 'N' -------------------------------------------------------
sql > /dev/null <<'SQL' || fail "turning ssl off failed"
ALTER SYSTEM SET ssl = off;
SELECT pg_reload_conf();
SQL
wait_until 10 [ "$(echo 'SHOW ssl' | sql)" = off ] || fail "ssl is still on after the reload"
scenario refused ssl
dir=$TEST_TMP/refused
assert_eq "$(tsung_sum finish_users_count "$dir")" 5 "refused: users that ended ($(counts "$dir"))"
assert_eq "$(errors "$dir")" "error_pgsql_ssl_refused " "refused: errors"
assert_eq "$(tsung_sum error_pgsql_ssl_refused "$dir")" 5 "refused: SSLRequests answered N"
assert_eq "$(tsung_sum request "$dir")" 0 "refused: requests answered"
assert_eq "$(rows)" "$users" "refused: no row inserted"
log "tcp, ssl_verify and a server without TLS: 5 users each refused, nothing inserted"
