#!/usr/bin/env bash
# `loadctl record` and HTTPS (docs/recorder.md): Tsung's http://- trick (curl asks the proxy for
# http://-localhost:PORT/...; the proxy speaks TLS to nginx, verifying its certificate, records
# https://, rewrites https:// links in the text response to http://- and drops Secure from
# Set-Cookie), a CONNECT tunnelled blindly and noted as a comment, webdav's session type, and the
# replay of the https:// recording reaching nginx's TLS server.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recorder_lib.sh"
need_bins loadctl loadagent curl openssl
private_home
port=$(free_port)
tls12=$(free_port)
tls13=$(free_port)
NGINX_DIR=$TEST_TMP/nginx
mkdir -p "$NGINX_DIR"
# The TLS servers' certificate (CN=localhost) is made by nginx_target.sh; this one adds SAN localhost
# so that host name verification accepts it.
localhost_cert "$NGINX_DIR" DNS:localhost
cat > "$NGINX_DIR/http.conf" <<'CONF'
server {
  listen 127.0.0.1:TLSPORT ssl;
  ssl_certificate NGDIR/server.pem;
  ssl_certificate_key NGDIR/server.key;
  access_log NGDIR/page_access.log simple;
  location = /page { add_header Set-Cookie "sid=42; Path=/; Secure; HttpOnly"; default_type text/html;
                     return 200 '<a href="https://localhost:TLSPORT/next">next</a>'; }
}
CONF
page_port=$(free_port)
sed -i "s|TLSPORT|$page_port|g; s|NGDIR|$NGINX_DIR|g" "$NGINX_DIR/http.conf"
NGINX_TLS_PORTS="$tls12 $tls13" start_nginx "$port"
wait_until 10 port_open "$page_port" || fail "nginx's page server did not listen"

proxy_port=$(free_port)
# The recorder trusts only this nginx's certificate (OpenSSL's SSL_CERT_FILE).
SSL_CERT_FILE=$NGINX_DIR/server.pem start_recorder record "$proxy_port" -o "$TEST_TMP/rec.xml"

curl -s -i --max-time 10 -x "http://127.0.0.1:$proxy_port" "http://-localhost:$page_port/page" > "$TEST_TMP/page.out" \
  || fail "curl http://- through the proxy"
grep -q "href=\"http://-localhost:$page_port/next\"" "$TEST_TMP/page.out" || fail "https:// link not rewritten: $(cat "$TEST_TMP/page.out")"
grep -i '^set-cookie:' "$TEST_TMP/page.out" | grep -qi secure && fail "Secure left in Set-Cookie"
grep -qi '^set-cookie: sid=42' "$TEST_TMP/page.out" || fail "Set-Cookie lost"
# A CONNECT: tunnelled, not recorded (curl checks nginx's certificate itself).
curl -s --max-time 10 --cacert "$NGINX_DIR/server.pem" -x "http://127.0.0.1:$proxy_port" \
  "https://localhost:$page_port/page" > "$TEST_TMP/connect.out" || fail "curl CONNECT through the proxy"
grep -q "href=\"https://localhost:$page_port/next\"" "$TEST_TMP/connect.out" || fail "the tunnel changed the bytes"
stop_recorder
rec=$TEST_TMP/rec.xml
grep -q "url=\"https://localhost:$page_port/page\"" "$rec" || fail "the http://- request was not recorded as https://: $(cat "$rec")"
grep -q "<!-- CONNECT localhost:$page_port tunnelled without recording" "$rec" || fail "no comment for the CONNECT"
[ "$(grep -c '<request>' "$rec")" = 1 ] || fail "the tunnelled request was recorded"
[ "$(wc -l < "$NGINX_DIR/page_access.log")" = 2 ] || fail "nginx did not see both requests"

replay_session "$rec" replay "$port"
[ "$(grep -c '"GET /page HTTP/1.1" 200' "$NGINX_DIR/page_access.log")" = 3 ] || fail "the replay did not reach the TLS server: $(cat "$NGINX_DIR/page_access.log")"

# webdav: its session type, and -I/-P without -u refused.
"$LOADCTL" record -p webdav -L 0 -I 127.0.0.1 -P 3128 2> "$TEST_TMP/nou.err" && fail "-I/-P without -u accepted"
grep -q 'add -u' "$TEST_TMP/nou.err" || fail "-I without -u: $(cat "$TEST_TMP/nou.err")"
# -u -I -P: a parent proxy (a second recorder, with a home of its own) gets the requests in absolute form.
parent_port=$(free_port)
mkdir -p "$TEST_TMP/home2"
HOME=$TEST_TMP/home2 start_recorder parent "$parent_port" -o "$TEST_TMP/parent.xml"
start_recorder child "$proxy_port" -u -I 127.0.0.1 -P "$parent_port" -o "$TEST_TMP/child.xml"
curl -s --max-time 10 -x "http://127.0.0.1:$proxy_port" "http://127.0.0.1:$port/status/404?via=parent" > /dev/null || fail "curl via two proxies"
# A CONNECT with -u goes to the parent, which tunnels it (its file says so) and answers the client.
curl -s --max-time 10 --cacert "$NGINX_DIR/server.pem" -x "http://127.0.0.1:$proxy_port" \
  "https://localhost:$page_port/page" > "$TEST_TMP/connect-u.out" || fail "curl CONNECT via two proxies"
grep -q "href=\"https://localhost:$page_port/next\"" "$TEST_TMP/connect-u.out" || fail "CONNECT via the parent: $(cat "$TEST_TMP/connect-u.out")"
"$LOADCTL" record stop > /dev/null || fail "record stop (child)"
HOME=$TEST_TMP/home2 "$LOADCTL" record stop > /dev/null || fail "record stop (parent)"
for f in child parent; do
  grep -q "url=\"http://127.0.0.1:$port/status/404?via=parent\"" "$TEST_TMP/$f.xml" || fail "$f did not record the request: $(cat "$TEST_TMP/$f.xml")"
done
grep -q "<!-- CONNECT localhost:$page_port tunnelled" "$TEST_TMP/parent.xml" || fail "the CONNECT did not go through the parent"
[ "$(grep -c 'via=parent' "$NGINX_ACCESS_LOG")" = 1 ] || fail "nginx did not get the request once through the parent"
echo "PASS: $TEST_NAME"
