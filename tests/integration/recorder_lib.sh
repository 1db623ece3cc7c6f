# Helpers of the recorder's tests (test_recorder_*.sh), sourced after lib.sh.

# serve_recorder_site: nginx serving tests/data/recorder_site at /site/ (POST /site/api/cart answers
# "added", /favicon.ico 404) on a free port: SITE_PORT, NGINX_ACCESS_LOG.
serve_recorder_site() {
  mkdir -p "$TEST_TMP/www"
  cp -r "$LOADCTL_SRC/tests/data/recorder_site" "$TEST_TMP/www/site"
  SITE_PORT=$(free_port)
  NGINX_DIR=$TEST_TMP/nginx
  mkdir -p "$NGINX_DIR"
  cat > "$NGINX_DIR/server.conf" <<CONF
location /site/ { root $TEST_TMP/www; }
location = /site/api/cart { return 200 "added\n"; }
location = /favicon.ico { return 404; }
CONF
  start_nginx "$SITE_PORT"
}

# replay_session SESSION NAME PORT: a scenario including the session file SESSION with an ENTITY (as
# Tsung's manual shows), server 127.0.0.1:PORT, one user; `loadctl check` then `loadctl start` it.
# The request lines nginx logged meanwhile, sorted, go to $TEST_TMP/NAME.lines.
replay_session() {
  local session=$1 name=$2 port=$3 before
  cat > "$TEST_TMP/$name.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd" [
  <!ENTITY recorded SYSTEM "$session">
]>
<tsung loglevel="notice">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="50" unit="second"/></arrivalphase></load>
  <sessions>&recorded;</sessions>
</tsung>
XML
  "$LOADCTL" -f "$TEST_TMP/$name.xml" check > "$TEST_TMP/$name.check" 2>&1 || { cat "$TEST_TMP/$name.check" >&2; fail "loadctl check ($name)"; }
  before=$(wc -l < "$NGINX_ACCESS_LOG")
  "$LOADCTL" -q -f "$TEST_TMP/$name.xml" --run-dir "$TEST_TMP/run-$name" start > /dev/null 2> "$TEST_TMP/$name.err" \
    || { cat "$TEST_TMP/$name.err" >&2; fail "loadctl start ($name)"; }
  tail -n +"$((before + 1))" "$NGINX_ACCESS_LOG" | request_lines > "$TEST_TMP/$name.lines"
}

# request_lines: the "request" field of nginx access log lines on stdin, sorted.
request_lines() { sed 's/^[^"]*"\([^"]*\)".*/\1/' | sort; }
