#!/usr/bin/env bash
# `loadctl record --mitm-ca DIR` (docs/recorder.md, HTTPS): curl asks for https:// URLs through the
# proxy (CONNECT); the proxy answers with leaf certificates signed by the CA it made in DIR (curl
# trusts only that CA: --cacert), talks TLS to nginx verifying nginx's certificate (the recorder
# trusts only it: SSL_CERT_FILE), and records https:// requests. The file passes `loadctl check` and
# its replay gives nginx the same request lines. Also: the CA's files are owner-only, a second run
# reuses the CA, and a directory others can write to is refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recorder_lib.sh"
need_bins loadctl loadagent curl openssl
private_home
port=$(free_port)
tls_port=$(free_port)
NGINX_DIR=$TEST_TMP/nginx
mkdir -p "$NGINX_DIR"
localhost_cert "$NGINX_DIR" DNS:localhost,IP:127.0.0.1
cat > "$NGINX_DIR/http.conf" <<CONF
server {
  listen 127.0.0.1:$tls_port ssl;
  ssl_certificate $NGINX_DIR/server.pem;
  ssl_certificate_key $NGINX_DIR/server.key;
  access_log $NGINX_DIR/tls_access.log simple;
  location = /page { default_type text/html; return 200 '<a href="https://localhost:$tls_port/next">next</a>'; }
  location = /api/cart { return 200 "added\n"; }
  location = /ip { return 200 "by address\n"; }
}
CONF
start_nginx "$port"
wait_until 10 port_open "$tls_port" || fail "nginx's TLS server did not listen"

ca_dir=$TEST_TMP/ca
proxy_port=$(free_port)
# start_recorder NAME TRUSTED: `loadctl record --mitm-ca $ca_dir` on $proxy_port writing
# $TEST_TMP/NAME.xml (console: NAME.err, pid: REC_PID), trusting only the certificate in the file
# TRUSTED for the servers (OpenSSL's SSL_CERT_FILE).
SSL_CERT_FILE=$NGINX_DIR/server.pem start_recorder rec "$proxy_port" --mitm-ca "$ca_dir" -o "$TEST_TMP/rec.xml"
assert_eq "$(stat -c %a "$ca_dir")" 700 "CA directory mode"
assert_eq "$(stat -c %a "$ca_dir/ca.key")" 600 "CA key mode"
grep -q -- "--cacert $ca_dir/ca.pem" "$TEST_TMP/rec.err" || fail "no curl instructions: $(cat "$TEST_TMP/rec.err")"
grep -q -- "--ignore-certificate-errors-spki-list=[A-Za-z0-9+/]\{43\}=" "$TEST_TMP/rec.err" || fail "no SPKI hash: $(cat "$TEST_TMP/rec.err")"
openssl x509 -in "$ca_dir/ca.pem" -noout -subject | grep -q "loadctl recorder CA (local)" || fail "the CA's name"

through() { curl -s --max-time 10 --proxy "http://127.0.0.1:$proxy_port" --cacert "$ca_dir/ca.pem" "$@"; }
# Not trusting the CA, curl refuses the proxy's certificate: what it gets is made by the proxy.
curl -s --max-time 10 --proxy "http://127.0.0.1:$proxy_port" --cacert "$NGINX_DIR/server.pem" \
  "https://localhost:$tls_port/page" > /dev/null && fail "curl accepted the proxy's leaf without the CA"
through "https://localhost:$tls_port/page" > "$TEST_TMP/page.out" || fail "curl https:// through the proxy"
grep -q "href=\"https://localhost:$tls_port/next\"" "$TEST_TMP/page.out" || fail "the page: $(cat "$TEST_TMP/page.out")"
through -H 'Accept-Language: fr' "https://localhost:$tls_port/page?again=1" > /dev/null || fail "curl, second request"
through -d 'item=1&note=x' "https://localhost:$tls_port/api/cart" | grep -q added || fail "POST through the proxy"
# An IP address: a leaf with SAN IP, and a change of host (absolute URL in the file).
through "https://127.0.0.1:$tls_port/ip" | grep -q "by address" || fail "https://127.0.0.1 through the proxy"
stop_recorder
rec=$TEST_TMP/rec.xml
grep -q "url=\"https://localhost:$tls_port/page\"" "$rec" || fail "not recorded as https://: $(cat "$rec")"
grep -q 'url="/page?again=1"' "$rec" || fail "same host: relative URL expected: $(cat "$rec")"
grep -q 'name="Accept-Language" value="fr"' "$rec" || fail "header not recorded: $(cat "$rec")"
grep -q 'contents="item=1&amp;note=x"' "$rec" || fail "POST body not recorded: $(cat "$rec")"
grep -q "url=\"https://127.0.0.1:$tls_port/ip\"" "$rec" || fail "change of host not absolute: $(cat "$rec")"
grep -q 'tunnelled without recording' "$rec" && fail "a decrypted CONNECT noted as tunnelled"
assert_eq "$(grep -c '<request>' "$rec")" 4 "requests recorded"
request_lines < "$NGINX_DIR/tls_access.log" > "$TEST_TMP/recorded.lines"
assert_eq "$(wc -l < "$TEST_TMP/recorded.lines")" 4 "requests nginx got while recording"

NGINX_ACCESS_LOG=$NGINX_DIR/tls_access.log
replay_session "$rec" replay "$port"
diff "$TEST_TMP/recorded.lines" "$TEST_TMP/replay.lines" > "$TEST_TMP/replay.diff" \
  || fail "the replay's request lines differ: $(cat "$TEST_TMP/replay.diff")"

# A second run reuses the CA (same certificate: curl's handshake with the proxy succeeds), and
# verifies the server: trusting only the CA (not nginx's certificate), it answers 502. A directory
# others can write to is refused.
fingerprint() { openssl x509 -in "$ca_dir/ca.pem" -noout -fingerprint -sha256; }
before=$(fingerprint)
SSL_CERT_FILE=$ca_dir/ca.pem start_recorder rec2 "$proxy_port" --mitm-ca "$ca_dir" -o "$TEST_TMP/rec2.xml"
code=$(through -o /dev/null -w '%{http_code}' "https://localhost:$tls_port/ip") || fail "curl with the CA of the first run"
assert_eq "$code" 502 "an unverifiable server"
"$LOADCTL" record stop > /dev/null || fail "record stop (second)"
grep -q "TLS with localhost: certificate verify failed" "$TEST_TMP/rec2.err" || fail "no verification error: $(cat "$TEST_TMP/rec2.err")"
assert_eq "$(fingerprint)" "$before" "the CA after a second run"
mkdir -m 0777 "$TEST_TMP/open"
timeout 10 "$LOADCTL" record -L 0 --mitm-ca "$TEST_TMP/open" 2> "$TEST_TMP/open.err" && fail "a world-writable --mitm-ca directory accepted"
grep -q "others can reach it" "$TEST_TMP/open.err" || fail "refusal: $(cat "$TEST_TMP/open.err")"
[ -e "$TEST_TMP/open/ca.key" ] && fail "a key was written into a world-writable directory"
echo "PASS: $TEST_NAME"
