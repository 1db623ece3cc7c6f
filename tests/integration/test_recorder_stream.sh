#!/usr/bin/env bash
# `loadctl record` passes responses on as they arrive: a Server-Sent Events stream (chunked) and a
# long-poll that trickles (delimited by the end of the connection) reach the client while the server
# is still holding them (the server finishes only when the test lets it, after the client has the
# first part); an 80 MiB response (over the old 64 MiB whole-response limit) passes with the
# recorder's peak memory far below its size. The requests are recorded as any other.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recorder_lib.sh"
need_bins loadctl curl python3
private_home
upstream_and_recorder

# stream PATH FIRST REST END: GET PATH through the proxy; FIRST must arrive while the server has not
# finished (its log has no "PATH done"); then the server is let go (LOGFILE.go-PATH) and REST must
# follow, the answer ending with END (the last chunk, or the end of the connection: "eof").
stream() {
  python3 - "$proxy" "$U" "$TEST_TMP/up.log" "$@" <<'PY'
import os, socket, sys, time
proxy, url, log, path, first, rest, end = sys.argv[1:]
s = socket.create_connection(("127.0.0.1", int(proxy)), timeout=10)
s.sendall(f"GET {url}/{path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
got, start = b"", time.time()
while first.encode() not in got:
    b = s.recv(65536)  # socket.timeout (10 s) fails the test: the first part did not come
    assert b, f"connection closed before {first!r}: {got!r}"
    got += b
waited = time.time() - start
assert f"{path} done" not in open(log).read(), "the server had finished: nothing was shown to be live"
open(f"{log}.go-{path}", "w").close()
while not (end == "chunk" and got.endswith(b"\r\n0\r\n\r\n")):
    b = s.recv(65536)
    if not b:
        assert end == "eof", f"closed before the last chunk: {got!r}"
        break
    got += b
text = got.decode("latin-1")
assert text.startswith("HTTP/1.1 200"), text
assert rest in text, f"{rest!r} missing: {text!r}"
if end == "eof":
    assert "connection: close" in text.lower(), text
print(f"{path}: first part after {waited:.2f} s, before the server finished")
PY
}
stream sse "data: one" "data: two" chunk > "$TEST_TMP/sse.out" 2>&1 || fail "SSE: $(cat "$TEST_TMP/sse.out")"
grep -q 'sse done' "$TEST_TMP/up.log" || fail "the SSE server did not finish"
log "$(cat "$TEST_TMP/sse.out")"
stream trickle "first part;" "second part" eof > "$TEST_TMP/trickle.out" 2>&1 || fail "long-poll: $(cat "$TEST_TMP/trickle.out")"
log "$(cat "$TEST_TMP/trickle.out")"

# 80 MiB (Content-Length) through the proxy; the recorder's peak resident memory (VmHWM) grows
# far less than that (its base differs by build: a sanitizer build starts higher).
hwm_before=$(awk '/^VmHWM:/ { print $2 }' "/proc/$REC_PID/status")
size=$((80 << 20))
out=$(curl -s --max-time 60 -x "http://127.0.0.1:$proxy" -o /dev/null -w '%{http_code} %{size_download}' "$U/big?$size")
assert_eq "$out" "200 $size" "80 MiB response"
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$REC_PID/status")
log "the recorder's peak RSS: $hwm_before KiB before 80 MiB passed, $hwm KiB after"
[ $((hwm - hwm_before)) -lt $((24 << 10)) ] || fail "the recorder's peak RSS grew by $((hwm - hwm_before)) KiB: the response was buffered"
# Ordinary requests still work on the same connection after a streamed one.
out=$(curl -s --max-time 10 -x "http://127.0.0.1:$proxy" "$U/big?5" -w ' %{http_code}' "$U/ka" -w ' %{http_code}')
case $out in "xxxxx 200ka conn="*" 200") ;; *) fail "keep-alive after a streamed response: $out" ;; esac

stop_recorder
for path in /sse /trickle "/big?$size" /ka; do
  grep -qF "url=\"$path\"" "$TEST_TMP/rec.xml" || grep -qF "url=\"$U$path\"" "$TEST_TMP/rec.xml" || fail "$path not recorded: $(cat "$TEST_TMP/rec.xml")"
done
echo "PASS: $TEST_NAME"
