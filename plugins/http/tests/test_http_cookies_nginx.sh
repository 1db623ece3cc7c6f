#!/usr/bin/env bash
# Cookies against a real nginx: each user gets its own cookies (Set-Cookie from /c/login) and
# sends them back on later requests, also after the server closed the connection; Path, Domain,
# Secure and Max-Age=0 are honoured; <add_cookie> adds one to a request; a new user starts with
# an empty jar. Asserted on nginx's log of the Cookie header each request carried.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent nginx

NGINX_DIR=$TEST_TMP/nginx
mkdir -p "$NGINX_DIR"
cookie_log=$NGINX_DIR/cookies.log
cat > "$NGINX_DIR/http.conf" <<CONF
log_format cookies '"\$request" "\$http_cookie"';
CONF
cat > "$NGINX_DIR/server.conf" <<CONF
location /c/ {
  access_log $cookie_log cookies;
  location = /c/login {
    add_header Set-Cookie "sid=\$arg_u; Path=/c";
    add_header Set-Cookie "scoped=1; Path=/c/app";
    add_header Set-Cookie "foreign=1; Domain=example.org";
    add_header Set-Cookie "sec=1; Secure";
    return 200 "in\n";
  }
  location = /c/logout { add_header Set-Cookie "sid=gone; Max-Age=0; Path=/c"; return 200 "out\n"; }
  location = /c/bye { keepalive_timeout 0; return 200 "bye\n"; }
  return 200 "\$http_cookie\n";
}
CONF
port=$(free_port)
start_nginx "$port"

cat > "$TEST_TMP/scenario.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="2" unit="second"><users arrivalrate="10" unit="second"/></arrivalphase></load>
  <sessions>
    <session name="cookies" probability="100" type="ts_http">
      <request subst="true"><http url="/c/login?u=%%_tsung_userid%%"/></request>
      <request subst="true"><http url="/c/page?u=%%_tsung_userid%%"/></request>
      <request subst="true"><http url="/c/bye?u=%%_tsung_userid%%"/></request>
      <thinktime value="0.05"/>
      <request subst="true"><http url="/c/app/x?u=%%_tsung_userid%%"/></request>
      <request subst="true"><http url="/c/addc?u=%%_tsung_userid%%"><add_cookie key="extra" value="x%%_tsung_userid%%"/></http></request>
      <request subst="true"><http url="/c/logout?u=%%_tsung_userid%%"/></request>
      <request subst="true"><http url="/c/after?u=%%_tsung_userid%%"/></request>
    </session>
  </sessions>
</tsung>
XML
"$LOADCTL" -q -f "$TEST_TMP/scenario.xml" --run-dir "$TEST_TMP/run" start > "$TEST_TMP/out" 2> "$TEST_TMP/err" ||
  { cat "$TEST_TMP/err" >&2; fail "loadctl exited with $?"; }

users=$(grep -c '"GET /c/login' "$cookie_log" || true)
[ "$users" -ge 5 ] || fail "only $users users logged in"
assert_eq "$(count_lines "$cookie_log")" "$((users * 7))" "requests logged"
# Expected Cookie header per request, from the user id in the query ("-": none).
bad=$(awk -F'"' '{
    split($2, r, " "); path = r[2]; u = path; sub(/.*u=/, "", u); sub(/\?.*/, "", path)
    want["/c/login"] = "-"; want["/c/page"] = "sid=" u; want["/c/bye"] = "sid=" u
    want["/c/app/x"] = "scoped=1; sid=" u; want["/c/addc"] = "sid=" u "; extra=x" u
    want["/c/logout"] = "sid=" u; want["/c/after"] = "-"
    if (!(path in want) || $4 != want[path]) print $0 " (want " want[path] ")" }' "$cookie_log")
[ -z "$bad" ] || fail "wrong Cookie headers:
$(echo "$bad" | head -5)"
carried=$(grep -vc '" "-"$' "$cookie_log" || true)
assert_eq "$carried" "$((users * 5))" "requests that carried a cookie"
log "ok: $users users, $carried requests carried their cookies"
