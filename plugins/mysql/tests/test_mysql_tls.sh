#!/usr/bin/env bash
# ts_mysql over TLS against a real MariaDB (mariadb_lib.sh: its own data directory, socket and free
# 127.0.0.1 port under $TEST_TMP) with a self-signed certificate made here with openssl and
# require_secure_transport=ON: MariaDB refuses any TCP login in the clear. The account is made
# REQUIRE SSL too.
#  1. <server type="ssl">: the greeting, the SSL Request, TLS, then the handshake response. Each
#     user inserts its id and the cipher and TLS version of its own session (SESSION_STATUS
#     Ssl_cipher, Ssl_version) into a table named without its database (the database of the
#     handshake response applies). Asserted: one row per user with a cipher, no error in
#     tsung.log, MariaDB's Ssl_accepts grew by the number of users.
#  2. The same scenario with type="tcp": MariaDB refuses the login (error_mysql_<code> per user:
#     1045 from MariaDB 10.11, the account requiring SSL), the users end, no row inserted,
#     Ssl_accepts unchanged.
#  3. ssl_verify true: the self-signed certificate is not trusted: error_starttls per user.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent openssl
source "$(dirname "$0")/mariadb_lib.sh"

tls=$TEST_TMP/tls
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 -keyout "$tls/server.key" \
  -out "$tls/server.crt" 2>/dev/null || fail "openssl could not make the server certificate"
start_mariadb --ssl-cert="$tls/server.crt" --ssl-key="$tls/server.key" --require-secure-transport=ON
assert_eq "$(mdb -e "SHOW GLOBAL VARIABLES LIKE 'have_ssl'" | awk '{ print $2 }')" YES "MariaDB's have_ssl"

cat > "$TEST_TMP/setup.sql" <<'SQL'
CREATE DATABASE test;
CREATE USER 'tls'@'127.0.0.1' IDENTIFIED BY 'test' REQUIRE SSL;
GRANT ALL ON test.* TO 'tls'@'127.0.0.1';
CREATE TABLE test.seen (user INT, cipher VARCHAR(64), version VARCHAR(16));
SQL
mdb < "$TEST_TMP/setup.sql" || fail "setting up the account and the table failed"

scenario() {  # scenario NAME SERVER_TYPE [OPTIONS]: 5 users, each inserts what the server saw of its session
  cat > "$TEST_TMP/$1.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$MARIADB_PORT" type="$2"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="5" arrivalrate="50" unit="second"/></arrivalphase></load>
  <options>${3:-}</options>
  <sessions><session name="s" probability="100" type="ts_mysql">
    <request><mysql type="connect"/></request>
    <request><mysql type="authenticate" database="test" username="tls" password="test"/></request>
    <request subst="true"><mysql type="sql">INSERT INTO seen SELECT %%_tsung_userid%%,
      (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'),
      (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version')</mysql></request>
    <request><mysql type="sql">SELECT COUNT(*) FROM seen</mysql></request>
    <request><mysql type="close"/></request>
  </session></sessions>
</tsung>
XML
  "$LOADCTL" -f "$TEST_TMP/$1.xml" check > /dev/null 2> "$TEST_TMP/$1.check" ||
    { cat "$TEST_TMP/$1.check" >&2; fail "check refused $1.xml"; }
  run_loadctl "$TEST_TMP/$1.xml" "$TEST_TMP/$1"
}
counts() { awk '$1 == "stats:" && $2 !~ /^[{]/ { a[$2] += $3 } END { for (k in a) if (a[k] > 0) printf "%s=%s ", k, a[k] }' "$1/tsung.log"; }
errors() { awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 { print $2 }' "$1/tsung.log" | sort -u | tr '\n' ' '; }
rows() { mdb -e 'SELECT COUNT(*) FROM test.seen'; }
# TLS handshakes MariaDB accepted (read without TLS: the client's own socket connection would count).
ssl_accepts() { mdb --skip-ssl -e "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'" | awk '{ print $2 }'; }

# --- 1. type="ssl" -------------------------------------------------------------------------
accepts=$(ssl_accepts)
scenario tls ssl
accepted=$(($(ssl_accepts) - accepts))  # before other readings (the mariadb client uses TLS too)
dir=$TEST_TMP/tls
users=$(tsung_sum finish_users_count "$dir")
assert_eq "$users" 5 "tls: users that ended ($(counts "$dir"))"
assert_eq "$(errors "$dir")" "" "tls: errors"
assert_eq "$(tsung_sum request "$dir")" $((5 * users)) "tls: requests answered ($(counts "$dir"))"
assert_eq "$(rows)" "$users" "tls: rows inserted"
assert_eq "$(mdb -e "SELECT COUNT(DISTINCT user) FROM test.seen WHERE cipher <> '' AND version LIKE 'TLSv1._'")" "$users" \
  "tls: sessions MariaDB saw over TLS (Ssl_cipher, Ssl_version)"
assert_eq "$accepted" "$users" "tls: MariaDB's Ssl_accepts"
log "tls: $users users logged in over $(mdb -e 'SELECT DISTINCT version, cipher FROM test.seen'), one row each"

# --- 2. type="tcp" against require_secure_transport --------------------------------------------
accepts=$(ssl_accepts)
scenario plain tcp
accepted=$(($(ssl_accepts) - accepts))
dir=$TEST_TMP/plain
assert_eq "$(tsung_sum finish_users_count "$dir")" 5 "plain: users that ended ($(counts "$dir"))"
refused=$(errors "$dir")
[[ $refused =~ ^error_mysql_[0-9]+\ $ ]] || fail "plain: expected one server error code, got '$refused'"
assert_eq "$(tsung_sum "${refused% }" "$dir")" 5 "plain: logins MariaDB refused ($refused)"
assert_eq "$(rows)" "$users" "plain: no row inserted in the clear"
assert_eq "$accepted" 0 "plain: MariaDB's Ssl_accepts"

# --- 3. ssl_verify: a self-signed certificate is not trusted ---------------------------------------
scenario verify ssl '<option name="ssl_verify" value="true"/>'
dir=$TEST_TMP/verify
assert_eq "$(tsung_sum finish_users_count "$dir")" 5 "verify: users that ended ($(counts "$dir"))"
assert_eq "$(errors "$dir")" "error_starttls " "verify: errors"
assert_eq "$(rows)" "$users" "verify: no row inserted"
log "tcp (${refused% }) and ssl_verify: 5 users each refused, nothing inserted"
