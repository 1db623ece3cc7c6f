#!/usr/bin/env bash
# A private PostgreSQL 15 for the pgsql test and benchmark (source after tests/integration/lib.sh).
# start_postgres HBA_LINES [SETTINGS...]: initdb into $TEST_TMP/pg (superuser postgres, trusted on the unix
# socket only), pg_hba.conf = that line plus HBA_LINES, SETTINGS (e.g. ssl=on) appended to
# postgresql.conf (so ALTER SYSTEM and a reload can change them; files they name may be put in
# $TEST_TMP/pg beforehand, which the server's user then owns), the server on a free 127.0.0.1 port with
# its socket in $TEST_TMP/pg/sock, as user nobody when run as root (postgres refuses root);
# stopped at exit (pg_ctl stop -m fast, which reads the postmaster's pid from its data directory;
# the postmaster itself is killed if it outlives that). Sets PGDIR, PGPORT, PG_PID (the
# postmaster's, from postmaster.pid), PG_LOG; sql [DB] runs stdin as the superuser (rows
# unaligned, one per line).
PGBIN=/usr/lib/postgresql/15/bin

start_postgres() {
  need_bins psql "$PGBIN/postgres" "$PGBIN/initdb" "$PGBIN/pg_isready" "$PGBIN/pg_ctl"
  PGDIR=$TEST_TMP/pg
  PG_LOG=$PGDIR/server.log
  local hba=$1
  shift
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
  printf 'local all postgres trust\n%s\n' "$hba" > "$PGDIR/data/pg_hba.conf"
  [ $# = 0 ] || printf '%s\n' "$@" >> "$PGDIR/data/postgresql.conf"
  PGPORT=$(free_port)
  as_pg "$PGBIN/postgres" -D "$PGDIR/data" -p "$PGPORT" -k "$PGDIR/sock" -c listen_addresses=127.0.0.1 \
    -c fsync=off -c log_connections=on -c logging_collector=off -c max_connections=200 > "$PG_LOG" 2>&1 &
  PG_SHELL=$!  # the subshell running as_pg, not the postmaster
  on_exit stop_postgres
  wait_until 30 pg_ready || { cat "$PG_LOG" >&2; fail "PostgreSQL did not accept connections"; }
  PG_PID=$(head -1 "$PGDIR/data/postmaster.pid")
  log "PostgreSQL 15 on 127.0.0.1:$PGPORT (pid $PG_PID)"
}

pg_ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; }

stop_postgres() {
  if [ -f "$PGDIR/data/postmaster.pid" ] && ! as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 30 stop > /dev/null 2>&1; then
    [ -n "${PG_PID:-}" ] && kill -KILL "$PG_PID" 2>/dev/null
  fi
  wait "$PG_SHELL" 2>/dev/null || true
}

sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGDIR/sock" -p "$PGPORT" -U postgres -d "${1:-postgres}"; }
