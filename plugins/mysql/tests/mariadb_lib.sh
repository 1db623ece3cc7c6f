# A private MariaDB server for ts_mysql's test and benchmark; source after tests/integration/lib.sh.
#   start_mariadb [ARGS...]  mariadb-install-db into $TEST_TMP/mariadb/data, then mariadbd with its own
#                  data directory, socket, pid file and error log there, listening on
#                  127.0.0.1:$MARIADB_PORT (a free port); ARGS: more mariadbd options. Waits
#                  (bounded) for its socket, its port and "ready for connections"; stops it at exit
#                  by the PID it started. The OS user running the test administers it through the
#                  socket (unix_socket authentication): no administrator password exists.
#   mdb ARGS...    the mariadb client as that administrator through the socket, bounded (SQL on
#                  stdin: passwords go in SQL, never on a command line)
#   mdb_status NAME  a global status counter (SHOW GLOBAL STATUS)
MARIADBD=/usr/sbin/mariadbd

mdb() { timeout 30 mariadb --no-defaults --socket="$MARIADB_SOCKET" -u "$(id -un)" --batch --skip-column-names "$@"; }
mdb_status() { mdb -e "SHOW GLOBAL STATUS LIKE '$1'" | awk '{ print $2 }'; }

_mariadb_up() {
  kill -0 "$MARIADB_PID" 2>/dev/null || { cat "$MARIADB_DIR/error.log" >&2; fail "mariadbd exited at start-up"; }
  [ -S "$MARIADB_SOCKET" ] && grep -q 'ready for connections' "$MARIADB_DIR/error.log" && port_open "$MARIADB_PORT"
}

start_mariadb() {
  need_bins mariadb mariadb-install-db
  [ -x "$MARIADBD" ] || fail "mariadb-server is not installed (scripts/deps.sh)"
  MARIADB_DIR=$TEST_TMP/mariadb
  MARIADB_SOCKET=$MARIADB_DIR/mysqld.sock
  MARIADB_PORT=$(free_port)
  mkdir -p "$MARIADB_DIR"
  local user
  user=$(id -un)
  # mariadbd refuses to run as root unless told to.
  local as_user=()
  [ "$(id -u)" = 0 ] && as_user=(--user=root)
  timeout 60 mariadb-install-db --no-defaults --datadir="$MARIADB_DIR/data" "${as_user[@]}" --skip-test-db \
    --auth-root-authentication-method=socket --auth-root-socket-user="$user" > "$MARIADB_DIR/install.log" 2>&1 ||
    { tail -20 "$MARIADB_DIR/install.log" >&2; fail "mariadb-install-db failed"; }
  log "starting mariadbd on 127.0.0.1:$MARIADB_PORT"
  "$MARIADBD" --no-defaults --datadir="$MARIADB_DIR/data" --socket="$MARIADB_SOCKET" --port="$MARIADB_PORT" \
    --bind-address=127.0.0.1 --pid-file="$MARIADB_DIR/mariadbd.pid" --log-error="$MARIADB_DIR/error.log" \
    --skip-log-bin --skip-name-resolve --innodb-buffer-pool-size=32M --max-connections=1000 "${as_user[@]}" "$@" \
    > "$MARIADB_DIR/mariadbd.out" 2>&1 &
  MARIADB_PID=$!
  on_exit "_stop_pid $MARIADB_PID"
  wait_until 60 _mariadb_up || { tail -20 "$MARIADB_DIR/error.log" >&2; fail "mariadbd did not start"; }
  log "mariadbd up ($(mdb -e 'SELECT VERSION()'))"
}
