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

# upstream_and_recorder: recorder_upstream.py on a free port (up=PORT, U=http://127.0.0.1:PORT, its
# log $TEST_TMP/up.log) and `loadctl record` on another (proxy=PORT) writing $TEST_TMP/rec.xml.
upstream_and_recorder() {
  up=$(free_port)
  python3 "$LOADCTL_SRC/tests/integration/recorder_upstream.py" "$up" "$TEST_TMP/up.log" 2> "$TEST_TMP/up.err" &
  on_exit "_stop_pid $!"
  proxy=$(free_port)
  start_recorder record "$proxy" -o "$TEST_TMP/rec.xml"
  wait_until 20 port_open "$up" || fail "the upstream did not listen: $(cat "$TEST_TMP/up.err")"
  U=http://127.0.0.1:$up
}

# replay_scenario SESSION NAME PORT: $TEST_TMP/NAME.xml, a scenario including the session file
# SESSION with an ENTITY (as Tsung's manual shows), server 127.0.0.1:PORT, one user.
replay_scenario() {
  cat > "$TEST_TMP/$2.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd" [
  <!ENTITY recorded SYSTEM "$1">
]>
<tsung loglevel="notice">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$3" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="1" arrivalrate="50" unit="second"/></arrivalphase></load>
  <sessions>&recorded;</sessions>
</tsung>
XML
}

# replay_session SESSION NAME PORT: replay_scenario, then `loadctl check` and `loadctl start` it.
# The request lines nginx logged meanwhile, sorted, go to $TEST_TMP/NAME.lines.
replay_session() {
  local session=$1 name=$2 port=$3 before
  replay_scenario "$session" "$name" "$port"
  "$LOADCTL" -f "$TEST_TMP/$name.xml" check > "$TEST_TMP/$name.check" 2>&1 || { cat "$TEST_TMP/$name.check" >&2; fail "loadctl check ($name)"; }
  before=$(wc -l < "$NGINX_ACCESS_LOG")
  "$LOADCTL" -q -f "$TEST_TMP/$name.xml" --run-dir "$TEST_TMP/run-$name" start > /dev/null 2> "$TEST_TMP/$name.err" \
    || { cat "$TEST_TMP/$name.err" >&2; fail "loadctl start ($name)"; }
  tail -n +"$((before + 1))" "$NGINX_ACCESS_LOG" | request_lines > "$TEST_TMP/$name.lines"
}

# request_lines: the "request" field of nginx access log lines on stdin, sorted.
request_lines() { sed 's/^[^"]*"\([^"]*\)".*/\1/' | sort; }

# localhost_cert DIR SAN: a self-signed certificate for CN=localhost (subjectAltName SAN, e.g.
# DNS:localhost), valid 2 days: DIR/server.pem and its key DIR/server.key.
localhost_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext subjectAltName="$2" -days 2 \
    -keyout "$1/server.key" -out "$1/server.pem" 2> /dev/null || fail "openssl req"
}

# start_recorder NAME PORT ARGS...: `loadctl record -L PORT ARGS` in the background, its stderr in
# $TEST_TMP/NAME.err; sets REC_PID (stopped at exit) and fails unless PORT listens within 20 s.
start_recorder() {
  local name=$1 port=$2
  shift 2
  "$LOADCTL" record -L "$port" "$@" > /dev/null 2> "$TEST_TMP/$name.err" &
  REC_PID=$!
  on_exit "_stop_pid $REC_PID"
  wait_until 20 port_open "$port" || { cat "$TEST_TMP/$name.err" >&2; fail "the recorder ($name) did not listen"; }
}

# stop_recorder: `loadctl record stop` (its output in $TEST_TMP/stop.out), then fails unless the
# recorder (REC_PID) exits within 10 s.
stop_recorder() {
  "$LOADCTL" record stop > "$TEST_TMP/stop.out" 2>&1 || { cat "$TEST_TMP/stop.out" >&2; fail "record stop"; }
  wait_until 10 exited "$REC_PID" || fail "the recorder did not exit"
}
