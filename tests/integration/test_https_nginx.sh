#!/usr/bin/env bash
# TLS against a private nginx with a certificate made here: <server type="ssl"> keeps its
# connections alive (nginx's $connection / $connection_requests), an absolute https:// URL opens
# its own connection with SNI and ALPN http/1.1, later connections resume the TLS session,
# ssl6 reaches nginx over ::1, and a server that requires a client certificate accepts the one
# given by <set_option name="certificate"> and refuses users without it; -L 0 resumes no session.
# Client certificates: sessions are resumed per (certificate, server), and certificate attributes
# take %%_var%% (substituted per user): each user presents its own certificate, resumes only its
# own session (nginx's $ssl_client_s_dn on every line), and a file that is missing counts
# error_certificate. Sessions stay resumable 1 s later, and a user slot's next user presents
# no certificate unless it sets one.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent nginx openssl

dir=$TEST_TMP/nginx
mkdir -p "$dir/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
  -keyout "$dir/server.key" -out "$dir/server.pem" 2>/dev/null || fail "openssl could not make the server certificate"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=loadctl-client -days 1 \
  -keyout "$dir/client.key" -out "$dir/client.pem" 2>/dev/null || fail "openssl could not make the client certificate"
cp "$dir/client.pem" "$dir/clients.pem"
for i in 1 2 3 4; do  # one certificate per user id (CN=userN), all trusted by the second server
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=user$i" -days 1 \
    -keyout "$dir/client$i.key" -out "$dir/client$i.pem" 2>/dev/null || fail "openssl could not make client$i's certificate"
  cat "$dir/client$i.pem" >> "$dir/clients.pem"
done
port=$(free_port)
cport=$(free_port)
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat > "$dir/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
daemon on;
events { worker_connections 1024; }
http {
  # fields: 1 port, 2 connection, 3 its request number, 4 client, 5-7 request, 8 status, 9 SNI,
  # 10 ALPN, 11 session reused (r), 12 client certificate verification, 13 its subject
  log_format tls '\$server_port \$connection \$connection_requests \$remote_addr "\$request" \$status '
                 '\$ssl_server_name \$ssl_alpn_protocol \$ssl_session_reused \$ssl_client_verify \$ssl_client_s_dn';
  access_log $dir/access.log tls;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 1000;
  ssl_certificate $dir/server.pem;
  ssl_certificate_key $dir/server.key;
  ssl_session_cache shared:tls:1m;
  default_type text/plain;
  server {
    listen 127.0.0.1:$port ssl;
    listen [::1]:$port ssl;
    location = / { return 200 "ok\n"; }
    location /status/404 { return 404; }
  }
  server {
    listen 127.0.0.1:$cport ssl;
    ssl_verify_client on;
    ssl_client_certificate $dir/clients.pem;
    location / { return 200 "ok\n"; }
  }
}
CONF
: > "$dir/access.log"
/usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" || fail "nginx did not start"
on_exit "[ -f '$dir/nginx.pid' ] && _stop_pid \$(cat '$dir/nginx.pid')"
wait_until 10 port_open "$port" || fail "nginx does not answer on $port"

# run NAME SCENARIO-BODY: writes and runs a scenario with 4 users; the run dir is $TEST_TMP/NAME.
# One thread: TLS sessions are resumed per worker, so later users on a loaded machine still find
# an earlier user's session (with two threads a worker's two users could both start before a ticket).
run() {
  local name=$1 servers=$2 session=$3
  cat > "$TEST_TMP/$name.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers>$servers</servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="20" unit="second" maxnumber="4"/></arrivalphase></load>
  <sessions><session name="$name" probability="100" type="ts_http">$session</session></sessions>
</tsung>
XML
  "$LOADCTL" -q -f "$TEST_TMP/$name.xml" --run-dir "$TEST_TMP/$name" --threads 1 start > /dev/null 2> "$TEST_TMP/$name.err" \
    || { cat "$TEST_TMP/$name.err" >&2; fail "$name: loadctl exited with $?"; }
}
sum() { tsung_sum "$1" "$TEST_TMP/$2"; }

# 1. keep-alive over TLS, then an absolute https:// URL (another endpoint: its own connection,
#    which the next relative request reuses, as in Tsung an absolute URL changes the server);
#    later connections resume the TLS session of earlier ones.
run keepalive "<server host=\"127.0.0.1\" port=\"$port\" type=\"ssl\"/>" "
  <request><http url=\"/\"/></request><request><http url=\"/\"/></request><request><http url=\"/\"/></request>
  <request><http url=\"/\"/></request><request><http url=\"/\"/></request>
  <request><http url=\"https://localhost:$port/status/404\"/></request>
  <request><http url=\"/\"/></request>"
# check and start agree: what ran above also passes check
"$LOADCTL" -q -f "$TEST_TMP/keepalive.xml" check > /dev/null || fail "check refuses a scenario that start ran"
lines=$(awk -v p="$port" '$1 == p' "$dir/access.log")
requests=$(echo "$lines" | grep -c . || true)
connections=$(echo "$lines" | awk '{print $2}' | sort -u | wc -l)
log "keepalive: tsung requests=$(sum request keepalive) nginx requests=$requests connections=$connections"
assert_eq "$(sum request keepalive)" 28 "requests counted by loadctl (4 users x 7)"
assert_eq "$requests" 28 "requests logged by nginx"
assert_eq "$connections" 8 "TLS connections (2 per user: the server, then the absolute URL's)"
assert_eq "$(echo "$lines" | awk '$3 == 5' | wc -l)" 4 "a fifth request on the same connection, once per user"
assert_eq "$(sum 404 keepalive)" 4 "404 from the absolute https:// URL"
assert_eq "$(echo "$lines" | awk '$8 == 404 && $9 == "localhost"' | wc -l)" 4 "SNI localhost on the absolute URL"
assert_eq "$(echo "$lines" | awk '$9 == "localhost" && $3 == 2' | wc -l)" 4 "the request after the absolute URL reuses its connection"
assert_eq "$(echo "$lines" | awk '$10 != "http/1.1"' | wc -l)" 0 "ALPN http/1.1 on every connection"
reused=$(echo "$lines" | awk '$11 == "r"' | wc -l)
[ "$reused" -gt 0 ] || fail "no TLS session was resumed (ssl_reuse_sessions defaults to true)"
[ "$(sum connect keepalive)" = 8 ] || fail "connect samples: got $(sum connect keepalive), expected 8"

# 2. ssl6: the same server over ::1.
run ipv6 "<server host=\"::1\" port=\"$port\" type=\"ssl6\"/>" "<request><http url=\"/\"/></request>"
assert_eq "$(sum 200 ipv6)" 4 "200 over ssl6"
assert_eq "$(awk -v p="$port" '$1 == p && $4 == "::1"' "$dir/access.log" | wc -l)" 4 "nginx saw ::1"

# 3. a client certificate required by the server: given, then missing (nginx answers 400).
run cert "<server host=\"127.0.0.1\" port=\"$cport\" type=\"ssl\"/>" "
  <set_option name=\"certificate\"><certificate certfile=\"$dir/client.pem\" keyfile=\"$dir/client.key\"/></set_option>
  <request><http url=\"/\"/></request>"
assert_eq "$(sum 200 cert)" 4 "200 with the client certificate"
assert_eq "$(awk -v p="$cport" '$1 == p && $8 == 200 && $12 == "SUCCESS"' "$dir/access.log" | wc -l)" 4 "nginx verified the client certificate"
reused=$(awk -v p="$cport" '$1 == p && $11 == "r"' "$dir/access.log" | wc -l)
[ "$reused" -gt 0 ] || fail "no TLS session was resumed with the client certificate"
run nocert "<server host=\"127.0.0.1\" port=\"$cport\" type=\"ssl\"/>" "<request><http url=\"/\"/></request>"
assert_eq "$(sum 400 nocert)" 4 "400 without a client certificate"

# 3b. %%_var%% in the certificate (a path relative to the scenario): each user connects three
#     times (Connection: close) with client<id>.pem; its second and third connections resume its
#     own session, never another user's.
before=$(wc -l < "$dir/access.log")
run dyncert "<server host=\"127.0.0.1\" port=\"$cport\" type=\"ssl\"/>" "
  <set_option name=\"certificate\"><certificate certfile=\"nginx/client%%_tsung_userid%%.pem\" keyfile=\"$dir/client%%_tsung_userid%%.key\"/></set_option>
  <for from=\"1\" to=\"3\" var=\"i\"><request subst=\"true\"><http url=\"/u%%_tsung_userid%%\"><http_header name=\"Connection\" value=\"close\"/></http></request></for>"
"$LOADCTL" -q -f "$TEST_TMP/dyncert.xml" check > /dev/null || fail "check refuses a certificate with %%_var%%"
lines=$(tail -n +$((before + 1)) "$dir/access.log" | awk -v p="$cport" '$1 == p')
assert_eq "$(sum 200 dyncert)" 12 "200 with per-user certificates"
assert_eq "$(echo "$lines" | awk '$8 == 200 && $12 == "SUCCESS"' | wc -l)" 12 "nginx verified each user's certificate"
assert_eq "$(echo "$lines" | awk '{ sub("/u", "", $6) } $13 != "CN=user" $6' | wc -l)" 0 "lines whose certificate is not their user's"
assert_eq "$(echo "$lines" | awk '{print $13}' | sort -u | wc -l)" 4 "distinct client certificates"
# Exactly 8, whatever the timing: nginx sends its tickets with the end of the handshake, so each
# response comes after the user's session is stored, and a cleanly closed stream leaves its
# session resumable however late the next handshake starts (3c).
assert_eq "$(echo "$lines" | awk '$11 == "r"' | wc -l)" 8 "resumed connections (each user's second and third)"
# 3c. the same with 1 s between a user's connections: the closed streams are freed meanwhile
#     (OpenSSL marks the session of a stream freed without a shutdown not resumable).
before=$(wc -l < "$dir/access.log")
run dyncert_think "<server host=\"127.0.0.1\" port=\"$cport\" type=\"ssl\"/>" "
  <set_option name=\"certificate\"><certificate certfile=\"nginx/client%%_tsung_userid%%.pem\" keyfile=\"$dir/client%%_tsung_userid%%.key\"/></set_option>
  <for from=\"1\" to=\"3\" var=\"i\"><request subst=\"true\"><http url=\"/u%%_tsung_userid%%\"><http_header name=\"Connection\" value=\"close\"/></http></request>
  <thinktime value=\"1\" random=\"false\"/></for>"
lines=$(tail -n +$((before + 1)) "$dir/access.log" | awk -v p="$cport" '$1 == p')
assert_eq "$(echo "$lines" | awk '$8 == 200 && $12 == "SUCCESS"' | wc -l)" 12 "1 s apart: nginx verified each user's certificate"
assert_eq "$(echo "$lines" | awk '$11 == "r"' | wc -l)" 8 "1 s apart: resumed connections (each user's second and third)"
# 3d. a user slot reused (one thread, the first user has ended) by a session without a
#     certificate: the new user presents none (nginx answers 400), not the previous user's.
cat > "$TEST_TMP/slot.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$cport" type="ssl"/></servers>
  <load><user session="cert" start_time="0" unit="second"/><user session="plain" start_time="1" unit="second"/></load>
  <sessions>
    <session name="cert" probability="0" type="ts_http">
      <set_option name="certificate"><certificate certfile="$dir/client.pem" keyfile="$dir/client.key"/></set_option>
      <request><http url="/cert"/></request>
    </session>
    <session name="plain" probability="100" type="ts_http">
      <set_option name="connect_timeout" value="5000"/>
      <request><http url="/plain"/></request>
    </session>
  </sessions>
</tsung>
XML
"$LOADCTL" -q -f "$TEST_TMP/slot.xml" --run-dir "$TEST_TMP/slot" --threads 1 start > /dev/null 2> "$TEST_TMP/slot.err" \
  || { cat "$TEST_TMP/slot.err" >&2; fail "slot: loadctl exited with $?"; }
assert_eq "$(sum 200 slot)" 1 "200 for the user with a certificate"
assert_eq "$(sum 400 slot)" 1 "400 for the next user in its slot, without a certificate"
assert_eq "$(awk -v p="$cport" '$1 == p && $6 == "/plain" && $12 == "NONE"' "$dir/access.log" | wc -l)" 1 "no certificate presented by the second user"
run badcert "<server host=\"127.0.0.1\" port=\"$cport\" type=\"ssl\"/>" "
  <set_option name=\"certificate\"><certificate certfile=\"nginx/missing%%_tsung_userid%%.pem\" keyfile=\"nginx/client1.key\"/></set_option>
  <request><http url=\"/\"/></request>"
assert_eq "$(sum error_certificate badcert)" 4 "users whose certificate file is missing"
assert_eq "$(sum request badcert)" 0 "requests of users without their certificate"
# a certificate made only of variables not set yet is no certificate: refused, naming the variable
run emptycert "<server host=\"127.0.0.1\" port=\"$cport\" type=\"ssl\"/>" "
  <set_option name=\"certificate\"><certificate certfile=\"%%_later%%\" keyfile=\"%%_later%%\"/></set_option>
  <setdynvars sourcetype=\"random_string\" length=\"4\"><var name=\"later\"/></setdynvars>
  <request><http url=\"/\"/></request>"
assert_eq "$(sum error_certificate emptycert)" 4 "users whose certificate renders empty"
assert_eq "$(sum request emptycert)" 0 "requests of users with an empty certificate"
grep -q '%%_later%% is not set' "$TEST_TMP"/emptycert/agent-*.log || fail "the warning does not name the unset variable"

# 4. ssl_verify: the self-signed server certificate is refused, as a connection error.
run verify "<server host=\"127.0.0.1\" port=\"$port\" type=\"ssl\"/>" "<request><http url=\"/\"/></request>"
sed -i 's|<sessions>|<options><option name="ssl_verify" value="true"/><option name="max_retries" value="0"/></options><sessions>|' "$TEST_TMP/verify.xml"
"$LOADCTL" -q -f "$TEST_TMP/verify.xml" --run-dir "$TEST_TMP/verify2" start > /dev/null 2>&1 || true
assert_eq "$(sum error_connect_ssl verify2)" 4 "ssl_verify refuses a self-signed certificate"
# 5. -L 0 (Tsung's TLS session lifetime): no session is young enough to be resumed.
before=$(wc -l < "$dir/access.log")
"$LOADCTL" -q -f "$TEST_TMP/keepalive.xml" --run-dir "$TEST_TMP/nolife" -L 0 start > /dev/null 2> "$TEST_TMP/nolife.err" ||
  { cat "$TEST_TMP/nolife.err" >&2; fail "-L 0: loadctl exited with $?"; }
lines=$(tail -n +$((before + 1)) "$dir/access.log" | awk -v p="$port" '$1 == p')
assert_eq "$(echo "$lines" | grep -c . || true)" 28 "requests logged by nginx with -L 0"
assert_eq "$(echo "$lines" | awk '$11 == "r"' | wc -l)" 0 "-L 0: no TLS session resumed"
log "ok"
