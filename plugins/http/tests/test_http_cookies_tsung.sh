#!/usr/bin/env bash
# Side by side with Tsung 1.7.0 (skipped when tsung is not installed): the same cookie scenario
# against the same nginx; both tools must send the same Cookie header on every request
# (Set-Cookie with Path, reconnect after Connection: close, <add_cookie>), user by user.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent nginx
command -v tsung > /dev/null || { echo "SKIP: tsung not installed (apt-get install tsung)"; exit 0; }

NGINX_DIR=$TEST_TMP/nginx
mkdir -p "$NGINX_DIR"
cookie_log=$NGINX_DIR/cookies.log
echo "log_format cookies '\"\$request\" \"\$http_cookie\"';" > "$NGINX_DIR/http.conf"
cat > "$NGINX_DIR/server.conf" <<CONF
location /c/ {
  access_log $cookie_log cookies;
  location = /c/login {
    add_header Set-Cookie "sid=\$arg_u; Path=/c";
    add_header Set-Cookie "scoped=1; Path=/c/app";
    return 200 "in\n";
  }
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
  <load><arrivalphase phase="1" duration="2" unit="second"><users arrivalrate="5" maxnumber="6" unit="second"/></arrivalphase></load>
  <sessions>
    <session name="cookies" probability="100" type="ts_http">
      <request subst="true"><http url="/c/login?u=%%_tsung_userid%%"/></request>
      <request subst="true"><http url="/c/page?u=%%_tsung_userid%%"/></request>
      <request subst="true"><http url="/c/bye?u=%%_tsung_userid%%"/></request>
      <request subst="true"><http url="/c/app/x?u=%%_tsung_userid%%"/></request>
      <request subst="true"><http url="/c/addc?u=%%_tsung_userid%%"><add_cookie key="extra" value="x"/></http></request>
    </session>
  </sessions>
</tsung>
XML
# What the requests carried, with the user id replaced by U: the distinct "request cookie" lines
# (the tools start different numbers of users); every user made its 5 requests.
summary() {
  local users
  users=$(grep -c '"GET /c/login' "$cookie_log" || true)
  [ "$users" -ge 1 ] && assert_eq "$(count_lines "$cookie_log")" "$((users * 5))" "$1: requests of $users users"
  sed -E 's/=[0-9]+/=U/g' "$cookie_log" | sort -u
}

(cd "$TEST_TMP" && tsung -f scenario.xml -l "$TEST_TMP/tsung" start > "$TEST_TMP/tsung.out" 2>&1) ||
  { cat "$TEST_TMP/tsung.out" >&2; fail "tsung exited with $?"; }
tsung_requests=$(count_lines "$cookie_log")
[ "$tsung_requests" -ge 5 ] || fail "tsung made only $tsung_requests requests"
summary tsung > "$TEST_TMP/tsung.summary"
: > "$cookie_log"
"$LOADCTL" -q -f "$TEST_TMP/scenario.xml" --run-dir "$TEST_TMP/run" start > "$TEST_TMP/out" 2> "$TEST_TMP/err" ||
  { cat "$TEST_TMP/err" >&2; fail "loadctl exited with $?"; }
summary loadctl > "$TEST_TMP/loadctl.summary"
diff "$TEST_TMP/tsung.summary" "$TEST_TMP/loadctl.summary" > "$TEST_TMP/diff" ||
  fail "Cookie headers differ (< tsung, > loadctl):
$(head -20 "$TEST_TMP/diff")"
assert_eq "$(grep -vc '" "-"$' "$TEST_TMP/loadctl.summary" || true)" 4 "kinds of request that carried a cookie"
log "ok: tsung and loadctl sent the same Cookie headers: $(tr '\n' ' ' < "$TEST_TMP/loadctl.summary")"
