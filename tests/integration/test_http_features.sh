#!/usr/bin/env bash
# HTTP through the whole engine against loadtarget: an absolute URL switches to another server,
# HEAD and chunked responses complete, a server that closes (/close) makes the next request
# reconnect, HTTP/1.0 works, and headers (custom, basic auth, If-Modified-Since, User-Agent) go out.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --http 127.0.0.1:0 --access-log "$TEST_TMP/a.log"
port_a=$LOADTARGET_HTTP_PORT
start_loadtarget --http 127.0.0.1:0 --access-log "$TEST_TMP/b.log"
port_b=$LOADTARGET_HTTP_PORT
cat > "$TEST_TMP/s.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port_a" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="50" unit="second" maxnumber="5"/></arrivalphase></load>
  <options>
    <option type="ts_http" name="user_agent"><user_agent probability="100">feature-test/1.0</user_agent></option>
  </options>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/hello" method="HEAD"/></request>
    <request><http url="/chunked/5000"/></request>
    <request><http url="/close"/></request>
    <request><http url="/bytes/100000"/></request>
    <request><http url="/hello" version="1.0"/></request>
    <request><http url="/echo" method="POST" contents="payload-123" content_type="text/plain"
                   if_modified_since="Sat, 01 Jan 2000 00:00:00 GMT">
      <www_authenticate userid="alice" passwd="secret"/>
      <http_header name="X-Test" value="yes"/>
    </http></request>
    <request><http url="http://127.0.0.1:$port_b/other"/></request>
    <request><http url="/status/503"/></request>
  </session></sessions>
</tsung>
XML
run_loadctl "$TEST_TMP/s.xml" "$TEST_TMP/run"
sleep 0.3
sum() { tsung_sum "$1" "$TEST_TMP/run"; }
log "requests=$(sum request) 200=$(sum 200) 503=$(sum 503) errors=$(grep -c error_ "$TEST_TMP/run/tsung.log" || true)"
assert_eq "$(sum request)" 40 "every request completed"
assert_eq "$(sum 503)" 5 "503s counted"
assert_eq "$(sum finish_users_count)" 5 "sessions finished"
grep -q '^stats: error_' "$TEST_TMP/run/tsung.log" && fail "errors: $(grep '^stats: error_' "$TEST_TMP/run/tsung.log" | head -3)"
assert_eq "$(grep -c ' HEAD /hello ' "$TEST_TMP/a.log")" 5 "HEAD requests"
assert_eq "$(grep -c ' GET /other ' "$TEST_TMP/b.log")" 5 "absolute URL went to the second server"
assert_eq "$(grep -c ' /other ' "$TEST_TMP/a.log")" 0 "absolute URL not sent to the first server"
# /close closes the connection: each user connects at least twice on server A, then once on B.
[ "$(sum connect)" -ge 15 ] || fail "only $(sum connect) connects: no reconnect after Connection: close"
# The body size matches: 5 x (5000 chunked + 100000) bytes at least.
[ "$(sum size_rcv)" -ge 525000 ] || fail "size_rcv $(sum size_rcv) too small"

# The request head as a server receives it: one more run, against a one-shot python server that
# records the bytes.
cat > "$TEST_TMP/echo.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port_a" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="50" unit="second" maxnumber="1"/></arrivalphase></load>
  <options><option type="ts_http" name="user_agent"><user_agent probability="100">feature-test/1.0</user_agent></option></options>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/echo" method="GET" if_modified_since="Sat, 01 Jan 2000 00:00:00 GMT">
      <www_authenticate userid="alice" passwd="secret"/>
      <http_header name="X-Test" value="yes"/>
    </http></request>
  </session></sessions>
</tsung>
XML
python3 - "$TEST_TMP/head.txt" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
s.settimeout(20)
c, _ = s.accept(); data = b""
while b"\r\n\r\n" not in data: data += c.recv(4096)
open(sys.argv[1], "wb").write(data)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); c.close()
PY
on_exit "kill $! 2>/dev/null || true"
wait_until 5 test -s "$TEST_TMP/head.txt.port" || fail "capture server did not start"
sed -i "s/port=\"$port_a\"/port=\"$(cat "$TEST_TMP/head.txt.port")\"/" "$TEST_TMP/echo.xml"
"$LOADCTL" -q -f "$TEST_TMP/echo.xml" --run-dir "$TEST_TMP/run2" start > /dev/null 2>&1 || fail "second run failed"
wait_until 5 test -s "$TEST_TMP/head.txt" || fail "no request captured"
head=$(cat "$TEST_TMP/head.txt")
grep -q "^GET /echo HTTP/1.1" <<<"$head" || fail "request line: $head"
grep -qi "^Authorization: Basic YWxpY2U6c2VjcmV0" <<<"$head" || fail "basic auth header missing: $head"
grep -qi "^X-Test: yes" <<<"$head" || fail "custom header missing"
grep -qi "^User-Agent: feature-test/1.0" <<<"$head" || fail "user agent missing"
grep -qi "^Host: 127.0.0.1:" <<<"$head" || fail "host header missing"
grep -qi "^If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT" <<<"$head" || fail "If-Modified-Since missing"
