# A private slapd for the ldap plugin's test and benchmark (sourced after tests/integration/lib.sh):
# own slapd.conf (mdb database, schemas from /etc/ldap/schema), data, pid file, log and a
# self-signed certificate for StartTLS, all under $TEST_TMP; listens on a free port of 127.0.0.1;
# stopped by its PID at exit. The rootdn's password is random, kept in a file (mode 600) that
# slappasswd and ldapadd read (-T, -y): never on a command line.
#   start_slapd [DEBUG_LEVEL]   sets SLAPD_PORT, SLAPD_URL, SLAPD_LOG, SUFFIX, ROOTDN, ROOTPW (the
#                               password), ROOTPW_FILE; DEBUG_LEVEL 256 logs every operation
#   slapd_add LDIF_FILE         adds entries as the rootdn
SUFFIX="dc=example,dc=com"
ROOTDN="cn=admin,$SUFFIX"

start_slapd() {
  local level=${1:-0} hash attempt
  ROOTPW="s3cret-$RANDOM$RANDOM"
  ROOTPW_FILE=$TEST_TMP/rootpw
  (umask 077 && printf '%s' "$ROOTPW" > "$ROOTPW_FILE")
  hash=$(/usr/sbin/slappasswd -T "$ROOTPW_FILE" -h '{SSHA}') || fail "slappasswd failed"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -keyout "$TEST_TMP/key.pem" -out "$TEST_TMP/cert.pem" >/dev/null 2>&1 || fail "openssl req failed"
  mkdir -p "$TEST_TMP/db"
  cat > "$TEST_TMP/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $TEST_TMP/slapd.pid
argsfile $TEST_TMP/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $TEST_TMP/cert.pem
TLSCertificateKeyFile $TEST_TMP/key.pem
database mdb
maxsize 67108864
suffix "$SUFFIX"
rootdn "$ROOTDN"
rootpw $hash
directory $TEST_TMP/db
index objectClass eq
index cn eq,sub
CONF
  SLAPD_LOG=$TEST_TMP/slapd.log
  # free_port is racy (another process may take the port first): up to 3 ports.
  for attempt in 1 2 3; do
    SLAPD_PORT=$(free_port)
    # -d: slapd stays in the foreground (its PID is $!) and logs to stderr.
    /usr/sbin/slapd -f "$TEST_TMP/slapd.conf" -h "ldap://127.0.0.1:$SLAPD_PORT/" -d "$level" >"$SLAPD_LOG" 2>&1 &
    _slapd_pid=$!
    on_exit "_stop_pid $_slapd_pid"
    _slapd_up() { port_open "$SLAPD_PORT" || ! kill -0 "$_slapd_pid" 2>/dev/null; }
    wait_until 10 _slapd_up || true
    kill -0 "$_slapd_pid" 2>/dev/null && port_open "$SLAPD_PORT" && break
    [ "$attempt" = 3 ] && { cat "$SLAPD_LOG" >&2; fail "slapd did not listen on $SLAPD_PORT"; }
    _stop_pid "$_slapd_pid"
  done
  SLAPD_URL="ldap://127.0.0.1:$SLAPD_PORT/"
}

slapd_add() {
  ldapadd -x -H "$SLAPD_URL" -D "$ROOTDN" -y "$ROOTPW_FILE" -f "$1" >"$TEST_TMP/ldapadd.out" 2>&1 ||
    { cat "$TEST_TMP/ldapadd.out" >&2; fail "ldapadd $1 failed"; }
}
