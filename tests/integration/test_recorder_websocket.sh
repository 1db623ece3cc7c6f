#!/usr/bin/env bash
# `loadctl record` relays a WebSocket (Debian's websocketd, text mode, a Python script that answers
# "echo: LINE" to every message but "quiet") and records it as a ts_websocket session of its own:
# a raw client through the proxy sees the 101 with the right Sec-WebSocket-Accept, its messages
# (one of them fragmented) reach the server and the answers come back; the file holds connect, the
# three messages (the unanswered one with ack="no_ack") and close; the main file names it; the
# session passes `loadctl check` and replays against the same server, which sees the messages again.
# Then wss in a CONNECT decrypted with --mitm-ca (websocketd --ssl): relayed and recorded the same.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recorder_lib.sh"
need_bins loadctl loadagent websocketd python3
private_home
SERVER_LOG=$TEST_TMP/messages.log
cat > "$TEST_TMP/server.py" <<PY
import sys
log = open("$SERVER_LOG", "a", buffering=1)
for line in sys.stdin:
    line = line.rstrip("\\n")
    log.write(line + "\\n")
    if line != "quiet":
        print("echo: " + line, flush=True)
log.write("closed\\n")
PY
printf '#!/bin/sh\nexec python3 -u "%s"\n' "$TEST_TMP/server.py" > "$TEST_TMP/server.sh"
chmod +x "$TEST_TMP/server.sh"
ws=$(free_port)
websocketd --address=127.0.0.1 --port="$ws" --loglevel=error "$TEST_TMP/server.sh" > "$TEST_TMP/websocketd.log" 2>&1 &
on_exit "_stop_pid $!"
wait_until 10 port_open "$ws" || { cat "$TEST_TMP/websocketd.log" >&2; fail "websocketd did not listen"; }
# ws_client PROXY HOST PORT PATH [CAFILE]: a WebSocket client through the proxy (with CAFILE: wss
# in a CONNECT, trusting only CAFILE): sends "hello" (answered), "quiet" (not), "fragmented" in
# two frames (answered), then a close; fails unless the answers and the server's close come back.
cat > "$TEST_TMP/ws_client.py" <<'PY'
import base64, hashlib, os, socket, ssl, struct, sys
proxy, host, port, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
cafile = sys.argv[5] if len(sys.argv) > 5 else None
s = socket.create_connection(("127.0.0.1", proxy), timeout=10)
buf = b""
target = f"http://{host}:{port}{path}"
if cafile:  # wss through the proxy's CONNECT, decrypted with --mitm-ca: trust only its CA
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    assert buf.startswith(b"HTTP/1.1 200"), buf
    s = ssl.create_default_context(cafile=cafile).wrap_socket(s, server_hostname=host)
    buf, target = b"", path
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           f"Origin: http://{host}:{port}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n").encode())
while b"\r\n\r\n" not in buf:
    b = s.recv(4096)
    assert b, f"closed during the handshake: {buf!r}"
    buf += b
head, buf = buf.split(b"\r\n\r\n", 1)
head = head.decode("latin-1")
assert head.startswith("HTTP/1.1 101"), head
accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
assert f"sec-websocket-accept: {accept.lower()}" in head.lower(), head

def send(opcode, payload, fin=True):
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([(0x80 if fin else 0) | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    s.sendall(header + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))

def need(n):
    global buf
    while len(buf) < n:
        b = s.recv(4096)
        assert b, f"closed: {buf!r}"
        buf += b

def receive():
    global buf
    need(2)
    opcode, n = buf[0] & 0x0f, buf[1] & 0x7f
    at = 2
    if n == 126:
        need(4)
        n, at = struct.unpack("!H", buf[2:4])[0], 4
    need(at + n)
    payload, buf = buf[at:at + n], buf[at + n:]
    return opcode, payload

send(1, b"hello")
assert receive() == (1, b"echo: hello")
send(1, b"quiet")
send(1, b"frag", fin=False)
send(0, b"mented")
assert receive() == (1, b"echo: fragmented")
send(8, struct.pack("!H", 1000))
assert receive()[0] == 8, "no close frame from the server"
print("frames went both ways")
PY
ws_client() { python3 "$TEST_TMP/ws_client.py" "$@"; }
proxy=$(free_port)
start_recorder record "$proxy" -o "$TEST_TMP/rec.xml"

ws_client "$proxy" 127.0.0.1 "$ws" /chat?room=1 > "$TEST_TMP/client.out" 2>&1 || fail "WebSocket client: $(cat "$TEST_TMP/client.out")"
wait_until 5 grep -q closed "$SERVER_LOG" || fail "the server did not see the connection end: $(cat "$SERVER_LOG")"
assert_eq "$(grep -vc closed "$SERVER_LOG")" 3 "messages the server got through the proxy"
grep -qx fragmented "$SERVER_LOG" || fail "the fragmented message: $(cat "$SERVER_LOG")"
# An Upgrade other than websocket is still refused.
code=$(curl -s --max-time 10 -x "http://127.0.0.1:$proxy" -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: foo' "http://127.0.0.1:$ws/")
assert_eq "$code" 501 "Upgrade: foo"
# The session file is complete (renamed from .tmp) when the WebSocket ends, before the recording does.
session=$TEST_TMP/rec-ws1.xml
wait_until 5 test -f "$session" || fail "no ts_websocket session file: $(ls "$TEST_TMP"; cat "$TEST_TMP/record.err")"
stop_recorder
grep -q "rec-ws1.xml" "$TEST_TMP/rec.xml" || fail "the main file does not name the WebSocket session: $(cat "$TEST_TMP/rec.xml")"
expected='<request><websocket type="connect" path="/chat?room=1"></websocket></request>
<request><websocket type="message" frame="text">hello</websocket></request>
<request><websocket type="message" frame="text" ack="no_ack">quiet</websocket></request>
<request><websocket type="message" frame="text">fragmented</websocket></request>
<request><websocket type="close"></websocket></request>'
assert_eq "$(grep '<request>' "$session")" "$expected" "the recorded WebSocket session"
grep -q 'type="ts_websocket"' "$session" || fail "session type: $(head -1 "$session")"

# Replay: the recorded session against the same server.
rm -f "$SERVER_LOG"
replay_scenario "$session" replay "$ws"
"$LOADCTL" -f "$TEST_TMP/replay.xml" check > "$TEST_TMP/check.out" 2>&1 || fail "loadctl check: $(cat "$TEST_TMP/check.out")"
run_loadctl "$TEST_TMP/replay.xml" "$TEST_TMP/run"
assert_eq "$(tsung_sum websocket_succ "$TEST_TMP/run")" 1 "replay: handshakes"
# connect, 2 answered messages and close; the no_ack message is a request_noack (Tsung's counter)
assert_eq "$(tsung_sum request "$TEST_TMP/run")" 4 "replay: requests"
assert_eq "$(tsung_sum request_noack "$TEST_TMP/run")" 1 "replay: no_ack requests"
errors=$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 {print $2}' "$TEST_TMP/run/tsung.log" | sort -u | tr '\n' ' ')
assert_eq "$errors" "" "replay: errors"
wait_until 5 grep -q closed "$SERVER_LOG" || fail "replay: the server did not see the close"
assert_eq "$(grep -v closed "$SERVER_LOG" | tr '\n' ' ')" "hello quiet fragmented " "replay: messages the server got"

# wss in a CONNECT decrypted with --mitm-ca: websocketd with TLS (a localhost certificate the
# recorder trusts through SSL_CERT_FILE), the client trusting only the recorder's CA.
rm -f "$SERVER_LOG"
localhost_cert "$TEST_TMP" DNS:localhost,IP:127.0.0.1
wss=$(free_port)
websocketd --address=127.0.0.1 --port="$wss" --loglevel=error --ssl --sslcert="$TEST_TMP/server.pem" \
  --sslkey="$TEST_TMP/server.key" "$TEST_TMP/server.sh" >> "$TEST_TMP/websocketd.log" 2>&1 &
on_exit "_stop_pid $!"
wait_until 10 port_open "$wss" || { cat "$TEST_TMP/websocketd.log" >&2; fail "websocketd (TLS) did not listen"; }
SSL_CERT_FILE=$TEST_TMP/server.pem start_recorder mitm "$proxy" --mitm-ca "$TEST_TMP/ca" -o "$TEST_TMP/mitm.xml"
ws_client "$proxy" localhost "$wss" /tls "$TEST_TMP/ca/ca.pem" > "$TEST_TMP/tls_client.out" 2>&1 \
  || fail "wss client: $(cat "$TEST_TMP/tls_client.out"; cat "$TEST_TMP/mitm.err")"
wait_until 5 test -f "$TEST_TMP/mitm-ws1.xml" || fail "no wss session file: $(cat "$TEST_TMP/mitm.err")"
stop_recorder
assert_eq "$(grep '<request>' "$TEST_TMP/mitm-ws1.xml")" "${expected/chat?room=1/tls}" "the recorded wss session"
grep -q "WebSocket wss://localhost:$wss/tls recorded" "$TEST_TMP/mitm.xml" || fail "the main file's comment: $(cat "$TEST_TMP/mitm.xml")"
echo "PASS: $TEST_NAME"
