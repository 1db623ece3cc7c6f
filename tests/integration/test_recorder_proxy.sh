#!/usr/bin/env bash
# `loadctl record`'s HTTP proxy against a scripted upstream (recorder_upstream.py) and curl: a reused
# keep-alive connection the server dropped (GET resent on a new one, POST answered 502, never a
# made-up 200), a server's idle close seen before a POST is sent, a chunked request body (sent on with
# a Content-Length), HEAD, 204/304, Connection: close, pipelined requests, 103 Early Hints, Expect:
# 100-continue, an Upgrade other than websocket refused (501), the header limits (431 for the request, 502 for the response)
# a too large Content-Length (413 at once), the cap of 256 connections served at once, another
# user refused on the loopback port, and beyond loopback: --allow-from required, CONNECT to 443 only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recorder_lib.sh"
need_bins loadctl curl python3
private_home
upstream_and_recorder
pc() { curl -s --max-time 10 -x "http://127.0.0.1:$proxy" "$@"; }

# One curl, one client connection: the proxy reuses its upstream connection, which the server drops
# at the second request: the GET is resent on a new connection.
out=$(pc "$U/ka" -w ' %{http_code}\n' "$U/drop" -w ' %{http_code}\n')
assert_eq "$(echo "$out" | tail -1)" "fresh 200" "GET on a dropped keep-alive connection (all: $out)"
grep -q "index=2 GET /drop" "$TEST_TMP/up.log" || fail "the GET did not go on the reused connection: $(cat "$TEST_TMP/up.log")"
# A POST is not sent twice: 502, and the server saw it once.
out=$(pc "$U/ka" -o /dev/null --next -x "http://127.0.0.1:$proxy" -o /dev/null -d x -w '%{http_code}' "$U/drop")
assert_eq "$out" 502 "POST on a dropped keep-alive connection"
[ "$(grep -c 'POST /drop' "$TEST_TMP/up.log")" = 1 ] || fail "the POST was resent: $(cat "$TEST_TMP/up.log")"
# The server closed the idle connection before the POST came: the proxy sees it and opens another.
python3 - "$proxy" "$U" "$TEST_TMP/up.log" > "$TEST_TMP/idle.out" <<'PY' || fail "POST after the server's idle close: $(cat "$TEST_TMP/idle.out")"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(f"GET {sys.argv[2]}/idle-close HTTP/1.1\r\nHost: x\r\n\r\n".encode())
answer = b""
while not answer.endswith(b"ka"):
    answer += s.recv(1000)
deadline = time.time() + 10  # until the server has closed its end
while " closed" not in open(sys.argv[3]).read():
    assert time.time() < deadline, "the server did not close"
    time.sleep(0.05)
s.sendall(f"POST {sys.argv[2]}/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx".encode())
answer = b""
while chunk := s.recv(1000):
    answer += chunk
print(answer.decode())
sys.exit(0 if answer.startswith(b"HTTP/1.1 200") else 1)
PY

# A chunked request body goes on with its length.
head -c 100000 /dev/urandom | base64 -w 0 > "$TEST_TMP/body"
size=$(stat -c %s "$TEST_TMP/body")
out=$(pc -H 'Transfer-Encoding: chunked' -H 'Content-Type: text/plain' --data-binary @"$TEST_TMP/body" "$U/echo")
assert_eq "$out" "len=$size te=- cl=$size" "chunked request body"
# Expect: 100-continue answered by the proxy (curl would wait 10 s for it).
start=$(date +%s)
out=$(pc --expect100-timeout 10 -H 'Expect: 100-continue' --data-binary @"$TEST_TMP/body" "$U/echo")
assert_eq "$out" "len=$size te=- cl=$size" "Expect: 100-continue body"
[ $(($(date +%s) - start)) -lt 5 ] || fail "Expect: 100-continue: the client waited for the 100"

# HEAD, 204, 304 and a keep-alive request after them on the same connections.
out=$(pc -I "$U/head" -w '%{http_code}' -o "$TEST_TMP/head.out" --next -x "http://127.0.0.1:$proxy" "$U/204" -w ' %{http_code}' \
  "$U/304" -w ' %{http_code}' "$U/ka" -w ' %{http_code}')
case $out in "200 204 304ka conn="*" index=4 200") ;; *) fail "HEAD/204/304/keep-alive: $out" ;; esac
grep -qi '^content-length: 5' "$TEST_TMP/head.out" || fail "HEAD's Content-Length: $(cat "$TEST_TMP/head.out")"
# Connection: close (body to the end of the stream), then a request on a new upstream connection.
out=$(pc "$U/close" -w ' %{http_code}\n' "$U/ka" -w ' %{http_code}\n')
assert_eq "$(echo "$out" | head -1)" "until the end 200" "Connection: close response"
# 103 Early Hints is not the answer: the final 200 is.
pc -i "$U/early" > "$TEST_TMP/early.out"
grep -q '^HTTP/1.1 200' "$TEST_TMP/early.out" && grep -q 'final' "$TEST_TMP/early.out" || fail "103: $(cat "$TEST_TMP/early.out")"
grep -q '103' "$TEST_TMP/early.out" && fail "the 103 went to the client as an answer"
# An Upgrade other than WebSocket (test_recorder_websocket.sh): refused, not tunnelled unseen.
assert_eq "$(pc -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: foo/1' "$U/ws")" 501 "Upgrade"
grep -q 'not supported yet: Upgrade: foo/1' "$TEST_TMP/record.err" || fail "no note for the Upgrade"
# Limits: a 70 KiB request header, a 300 KiB response header.
big=$(head -c 70000 /dev/zero | tr '\0' a)
assert_eq "$(pc -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$U/ka")" 431 "request header limit"
assert_eq "$(pc -o /dev/null -w '%{http_code}' "$U/bighead")" 502 "response header limit"
# A 48 KiB header passes (Beast's default limit is 8 KiB).
assert_eq "$(pc -o /dev/null -w '%{http_code}' -H "X-Big: ${big:0:48000}" "$U/ka")" 200 "48 KiB request header"

# Pipelining (two requests in one write), then a Content-Length over the limit: 413 at once.
python3 - "$proxy" "$U" > "$TEST_TMP/raw.out" <<'PY' || fail "raw client: $(cat "$TEST_TMP/raw.out")"
import socket, sys
def exchange(data):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(data)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out.decode("latin-1")
        out += b
u = sys.argv[2]
print(exchange(f"GET {u}/ka?1 HTTP/1.1\r\nHost: x\r\n\r\nGET {u}/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc".encode()))
print(exchange(f"POST {u}/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500000000\r\n\r\nabc".encode()))
PY
grep -q 'ka conn=.*len=3 te=- cl=3' <(tr -d '\r\n' < "$TEST_TMP/raw.out") || fail "pipelined requests: $(cat "$TEST_TMP/raw.out")"
grep -q '^HTTP/1.1 413' "$TEST_TMP/raw.out" || fail "Content-Length over the limit: $(cat "$TEST_TMP/raw.out")"

# 256 connections at once: the 257th waits (not served) until one of them ends.
python3 - "$proxy" "$U" > "$TEST_TMP/cap.out" 2>&1 <<'PY' || fail "connection cap: $(cat "$TEST_TMP/cap.out")"
import socket, sys, time
held = []
for _ in range(256):
    held.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10))
time.sleep(0.5)  # held: accepted by now (a check below would pass early otherwise: then it fails)
extra = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1.5)
extra.sendall(f"GET {sys.argv[2]}/ka HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
try:
    print("answered while 256 were open:", extra.recv(100))
    sys.exit(1)
except socket.timeout:
    pass
held.pop().close()
extra.settimeout(5)
answer = extra.recv(100)
if not answer.startswith(b"HTTP/1.1 200"):
    print("after one closed:", answer)
    sys.exit(1)
PY

# Another user of this machine cannot use the loopback proxy (the recording is its owner's).
if [ "$(id -u)" = 0 ] && command -v runuser > /dev/null; then
  code=$(runuser -u nobody -- curl -s --max-time 10 -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$proxy" "$U/ka?nobody" || true)
  assert_eq "$code" 000 "a request from user nobody"
  grep -q 'connection from user [0-9]* refused' "$TEST_TMP/record.err" || fail "no note for nobody's connection"
  grep -q 'nobody' "$TEST_TMP/up.log" && fail "nobody's request reached the server"
  assert_eq "$(pc -o /dev/null -w '%{http_code}' "$U/ka")" 200 "the owner's request after nobody's"
else
  log "not root: the other-user check is not run"
fi

stop_recorder
grep -q "url=\"/echo\".*contents=\"$(head -c 20 "$TEST_TMP/body" | sed 's/[+/]/./g')" "$TEST_TMP/rec.xml" || fail "chunked body not recorded"
grep -q '<request><http url="/ws"' "$TEST_TMP/rec.xml" && fail "the refused Upgrade was recorded"
# Beyond loopback: --allow-from required; clients outside it refused; CONNECT to port 443 only.
"$LOADCTL" record -L 0 --listen-address 0.0.0.0 -o "$TEST_TMP/any.xml" 2> "$TEST_TMP/any.err" && fail "0.0.0.0 without --allow-from accepted"
grep -q 'allow-from' "$TEST_TMP/any.err" || fail "0.0.0.0 without --allow-from: $(cat "$TEST_TMP/any.err")"
start_recorder wide "$proxy" --listen-address 0.0.0.0 --allow-from 127.0.0.0/8 -o "$TEST_TMP/wide.xml"
grep -q 'warning: listening on 0.0.0.0' "$TEST_TMP/wide.err" || fail "no warning for 0.0.0.0"
assert_eq "$(pc -o /dev/null -w '%{http_code}' "$U/ka")" 200 "a client in --allow-from"
assert_eq "$(pc -o /dev/null -w '%{http_connect}' -p "$U/x")" 403 "CONNECT to a port other than 443"
grep -q "CONNECT 127.0.0.1:$up: refused" "$TEST_TMP/wide.err" || fail "no note for the CONNECT"
"$LOADCTL" record stop > /dev/null || fail "record stop (wide)"
# stop and tag take no options of a recording; --only-host is a host, not host:port.
"$LOADCTL" record stop -o "$TEST_TMP/x.xml" 2> "$TEST_TMP/opt.err" && fail "record stop -o accepted"
grep -q 'takes no options' "$TEST_TMP/opt.err" || fail "record stop -o: $(cat "$TEST_TMP/opt.err")"
"$LOADCTL" record tag '<x/>' -L 1 2> "$TEST_TMP/opt.err" && fail "record tag -L accepted"
"$LOADCTL" record --only-host "127.0.0.1:$up" -L 0 2> "$TEST_TMP/opt.err" && fail "--only-host host:port accepted"
grep -q 'without port' "$TEST_TMP/opt.err" || fail "--only-host host:port: $(cat "$TEST_TMP/opt.err")"
echo "PASS: $TEST_NAME"
