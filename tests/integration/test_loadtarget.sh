#!/usr/bin/env bash
# Usage: LOADCTL_BIN=build bash tests/integration/test_loadtarget.sh
# Checks loadtarget: every HTTP route, keep-alive reuse, pipelining, HTTP/1.0, chunked bodies both
# ways, non-blocking /delay, bad requests, the access log's line count, TCP echo, clean SIGTERM.
source "$(dirname "$0")/lib.sh"
need_bins loadtarget python3

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --tcp-echo 127.0.0.1:0 --threads 1 --access-log "$access_log"
log "loadtarget pid $LOADTARGET_PID, http $LOADTARGET_HTTP_PORT, echo $LOADTARGET_ECHO_PORT"

# The client prints the number of HTTP requests it sent (every one must appear in the access log).
requests=$(python3 - "$LOADTARGET_HTTP_PORT" "$LOADTARGET_ECHO_PORT" <<'PY'
import http.client, json, socket, sys, threading, time

port, echo_port = int(sys.argv[1]), int(sys.argv[2])
sent = 0

def check(cond, msg):
    if not cond:
        print("check failed: " + msg, file=sys.stderr)
        sys.exit(1)

def request(conn, method, path, body=None, headers=None):
    global sent
    conn.request(method, path, body=body, headers=headers or {})
    sent += 1
    r = conn.getresponse()
    return r, r.read()

def read_all(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk

c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
r, b = request(c, "GET", "/")
check(r.status == 200 and b.startswith(b"<!DOCTYPE html>"), "GET /")
check(r.getheader("Content-Type") == "text/html", "GET / content type")
sock = c.sock
local = sock.getsockname()
r, b = request(c, "GET", "/hello")
check(r.status == 200 and b == b"hello", "GET /hello")
r, b = request(c, "GET", "/status/503")
check(r.status == 503, "GET /status/503")
r, b = request(c, "GET", "/status/204")
check(r.status == 204 and b == b"", "GET /status/204 has no body")
r, b = request(c, "GET", "/bytes/100000")
check(r.status == 200 and len(b) == 100000 and r.getheader("Content-Length") == "100000", "GET /bytes/100000")
r, b = request(c, "GET", "/bytes/0")
check(r.status == 200 and b == b"", "GET /bytes/0")
r, b = request(c, "GET", "/chunked/5000")
check(r.status == 200 and len(b) == 5000 and r.getheader("Transfer-Encoding") == "chunked", "GET /chunked/5000")
r, b = request(c, "GET", "/json")
doc = json.loads(b)
check(r.status == 200 and isinstance(doc.get("token"), str) and doc["token"], "GET /json token")
r, b = request(c, "GET", "/nope")
check(r.status == 404, "GET /nope is 404")
r, b = request(c, "HEAD", "/bytes/123")
check(r.status == 200 and b == b"" and r.getheader("Content-Length") == "123", "HEAD /bytes/123")
r, b = request(c, "POST", "/echo", body=b"x" * 70000, headers={"Content-Type": "text/x-test"})
check(r.status == 200 and b == b"x" * 70000 and r.getheader("Content-Type") == "text/x-test", "POST /echo")
r, b = request(c, "POST", "/echo", body=iter([b"abc", b"defgh", b"ij"]))
check(r.status == 200 and b == b"abcdefghij", "POST /echo chunked: %r" % b)
r, b = request(c, "GET", "/echo?q=1", headers={"X-Probe": "yes"})
check(b.startswith(b"GET /echo?q=1 HTTP/1.1\r\n") and b"X-Probe: yes\r\n" in b, "GET /echo shows the request")
t0 = time.monotonic()
r, b = request(c, "GET", "/delay/200")
elapsed = time.monotonic() - t0
check(r.status == 200 and 0.19 <= elapsed < 3, "GET /delay/200 took %.3f s" % elapsed)
check(c.sock is sock and c.sock.getsockname() == local, "keep-alive: one connection for all requests")
c.close()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"GET /close HTTP/1.1\r\nHost: t\r\n\r\n")
sent += 1
reply = read_all(s)  # returns only once the server has closed
check(reply.startswith(b"HTTP/1.1 200") and b"Connection: close\r\n" in reply, "GET /close: %r" % reply)
s.close()

# /delay must not block the (single) I/O thread: /hello on another connection answers at once.
slow = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
result = {}
def slow_request():
    result["r"] = request(slow, "GET", "/delay/800")
th = threading.Thread(target=slow_request)
th.start()
time.sleep(0.1)
fast = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
t0 = time.monotonic()
r, b = request(fast, "GET", "/hello")
check(r.status == 200 and time.monotonic() - t0 < 0.5, "/hello answered while /delay pending")
th.join()
check(result["r"][0].status == 200, "/delay/800 answered")
fast.close(); slow.close()

# Pipelining: three requests in one write, answered in order; the HTTP/1.0 one closes.
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
          b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n12345"
          b"GET /status/404 HTTP/1.0\r\n\r\n")
sent += 3
data = read_all(s)
s.close()
parts = data.split(b"HTTP/1.")
check(len(parts) == 4, "pipelined: three responses, got %r" % data)
check(parts[1].startswith(b"1 200") and parts[1].endswith(b"hello"), "pipelined #1")
check(parts[2].startswith(b"1 200") and parts[2].endswith(b"12345"), "pipelined #2")
check(parts[3].startswith(b"0 404") and b"Connection: close" in parts[3], "pipelined #3 (HTTP/1.0)")

# HTTP/1.0 with keep-alive stays open.
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
sent += 1
reply = b""
while not reply.endswith(b"hello"):
    reply += s.recv(4096)
check(b"Connection: keep-alive" in reply, "HTTP/1.0 keep-alive")
s.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
sent += 1
check(read_all(s).endswith(b"hello"), "second request on HTTP/1.0 keep-alive connection")
s.close()

# Expect: 100-continue gets the interim response before the body is sent.
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
sent += 1
interim = b""
while not interim.endswith(b"\r\n\r\n"):
    interim += s.recv(1)
check(interim == b"HTTP/1.1 100 Continue\r\n\r\n", "100 Continue: %r" % interim)
s.sendall(b"xyz")
reply = read_all(s)
check(reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"xyz"), "body after 100 Continue: %r" % reply)
s.close()

# A malformed request gets 400 and a close (logged too).
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
sent += 1
reply = read_all(s)
check(reply.startswith(b"HTTP/1.1 400") and b"Connection: close" in reply, "bad request: %r" % reply)
s.close()

# TCP echo: 200 KB round trip with a half-close at the end.
e = socket.create_connection(("127.0.0.1", echo_port), timeout=10)
payload = bytes(range(256)) * 800
e.sendall(payload)
e.shutdown(socket.SHUT_WR)
check(read_all(e) == payload, "tcp echo round trip")
e.close()

print(sent)
PY
) || fail "HTTP/TCP checks failed"
log "client sent $requests requests"

log_complete() { [ "$(count_lines "$access_log")" -ge "$requests" ]; }
wait_until 5 log_complete || true
assert_eq "$(count_lines "$access_log")" "$requests" "access log line count"
grep -q '^127\.0\.0\.1 GET /status/503 503$' "$access_log" || fail "access log line format"

stops_on_sigterm "$LOADTARGET_PID" loadtarget
log "PASS"
