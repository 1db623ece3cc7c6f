# Helpers for the http plugin's integration tests (sourced after tests/integration/lib.sh).

# http_scenario FILE PORT SESSION_TYPE "ARRIVAL_ATTRIBUTES" SESSION_BODY: a one-phase, one-session
# scenario against 127.0.0.1:PORT, e.g. http_scenario s.xml 8080 ts_http 'arrivalrate="5"' "<request>...".
http_scenario() {
  cat > "$1" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$2" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="2" unit="second"><users $4 unit="second"/></arrivalphase></load>
  <sessions>
    <session name="s" probability="100" type="$3">
$5
    </session>
  </sessions>
</tsung>
XML
}

# start_cookie_nginx "LOGIN_HEADERS": nginx whose /c/ requests are logged to $COOKIE_LOG as
# '"<request>" "<Cookie header>"'; /c/login adds LOGIN_HEADERS (add_header lines), /c/logout
# deletes sid, /c/bye closes the connection. Sets NGINX_PORT.
start_cookie_nginx() {
  NGINX_DIR=$TEST_TMP/nginx
  COOKIE_LOG=$NGINX_DIR/cookies.log
  mkdir -p "$NGINX_DIR"
  echo "log_format cookies '\"\$request\" \"\$http_cookie\"';" > "$NGINX_DIR/http.conf"
  cat > "$NGINX_DIR/server.conf" <<CONF
location /c/ {
  access_log $COOKIE_LOG cookies;
  location = /c/login { $1 return 200 "in\n"; }
  location = /c/logout { add_header Set-Cookie "sid=gone; Max-Age=0; Path=/c"; return 200 "out\n"; }
  location = /c/bye { keepalive_timeout 0; return 200 "bye\n"; }
  return 200 "\$http_cookie\n";
}
CONF
  NGINX_PORT=$(free_port)
  start_nginx "$NGINX_PORT"
}
