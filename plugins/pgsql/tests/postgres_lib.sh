#!/usr/bin/env bash
# A private PostgreSQL 15 for the pgsql test and benchmark (source after tests/integration/lib.sh).
# start_postgres HBA_LINES: initdb into $TEST_TMP/pg (superuser postgres, trusted on the unix
# socket only), pg_hba.conf = that line plus HBA_LINES, the server on a free 127.0.0.1 port with
# its socket in $TEST_TMP/pg/sock, as user nobody when run as root (postgres refuses root);
# stopped (fast shutdown) at exit. Sets PGDIR, PGPORT, PG_PID, PG_LOG; sql [DB] runs stdin as the
# superuser (rows unaligned, one per line).
PGBIN=/usr/lib/postgresql/15/bin

start_postgres() {
  need_bins psql "$PGBIN/postgres" "$PGBIN/initdb" "$PGBIN/pg_isready"
  PGDIR=$TEST_TMP/pg
  PG_LOG=$PGDIR/server.log
  mkdir -p "$PGDIR/sock"
  if [ "$(id -u)" = 0 ]; then
    chmod 711 "$TEST_TMP"  # nobody must reach $PGDIR
    chown -R nobody:nogroup "$PGDIR"
    as_pg() { (cd "$PGDIR" && HOME=$PGDIR setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"); }
  else
    as_pg() { (cd "$PGDIR" && "$@"); }
  fi
  as_pg "$PGBIN/initdb" -N -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C > "$PGDIR/initdb.log" 2>&1 ||
    { cat "$PGDIR/initdb.log" >&2; fail "initdb failed"; }
  printf 'local all postgres trust\n%s\n' "$1" > "$PGDIR/data/pg_hba.conf"
  PGPORT=$(free_port)
  as_pg "$PGBIN/postgres" -D "$PGDIR/data" -p "$PGPORT" -k "$PGDIR/sock" -c listen_addresses=127.0.0.1 \
    -c fsync=off -c log_connections=on -c logging_collector=off -c max_connections=200 > "$PG_LOG" 2>&1 &
  PG_PID=$!
  on_exit stop_postgres
  wait_until 30 pg_ready || { cat "$PG_LOG" >&2; fail "PostgreSQL did not accept connections"; }
  log "PostgreSQL 15 on 127.0.0.1:$PGPORT (pid $PG_PID)"
}

pg_ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; }

stop_postgres() {
  kill -INT "$PG_PID" 2>/dev/null || return 0
  for _ in $(seq 1 200); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$PG_PID" 2>/dev/null || true
  wait "$PG_PID" 2>/dev/null || true
}

sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGDIR/sock" -p "$PGPORT" -U postgres -d "${1:-postgres}"; }
