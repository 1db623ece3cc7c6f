#!/usr/bin/env bash
# Tsung's own examples/websocket.xml against websocketd (Debian's websocketd), run unchanged
# except the server's port (and type="ssl" for the wss run), the phase duration (120 s -> 10 s:
# the one user arrives after an exponential gap, so 2 s would miss it one run in seven)
# and a DOCTYPE-less copy. websocketd runs a small Python script per connection: it answers the login
# message with {"uid":"u42"}, a message carrying that uid with {"status":"ok"}, and echoes the
# rest; it logs every message it got. So the dyn_variable (jsonpath="uid") must have been taken
# from the first answer's payload for the match ("ok") to hit, and the no_ack message and the
# close frame must reach the server.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent websocketd openssl python3

SERVER_LOG=$TEST_TMP/messages.log
# websocketd --binary: each message the client sends arrives on stdin as one write, each write
# to stdout leaves as one binary message (the example sends binary frames: Tsung's default).
cat > "$TEST_TMP/server.py" <<PY
import os, sys
log = open("$SERVER_LOG", "a", buffering=1)
while True:
    data = os.read(0, 65536)
    if not data:
        log.write("closed\\n")
        break
    text = data.decode()
    log.write(text + "\\n")
    if '"password"' in text:
        reply = '{"uid":"u42"}'
    elif '"uid":"u42"' in text:
        reply = '{"status":"ok"}'
    else:
        reply = text
    os.write(1, reply.encode())
PY
printf '#!/bin/sh\nexec python3 -u "%s"\n' "$TEST_TMP/server.py" > "$TEST_TMP/server.sh"
chmod +x "$TEST_TMP/server.sh"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 \
  -keyout "$TEST_TMP/key.pem" -out "$TEST_TMP/cert.pem" 2>/dev/null

# start_websocketd PORT [--ssl ...]: in the background, waits for the port.
start_websocketd() {
  local port=$1
  shift
  websocketd --address=127.0.0.1 --port="$port" --loglevel=error --binary "$@" "$TEST_TMP/server.sh" \
    >>"$TEST_TMP/websocketd.log" 2>&1 &
  local pid=$!
  on_exit "_stop_pid $pid"
  wait_until 10 port_open "$port" || { cat "$TEST_TMP/websocketd.log" >&2; fail "websocketd did not listen on $port"; }
}

# run_example TYPE PORT RUN_DIR
run_example() {
  sed -e '/<!DOCTYPE/d' -e "s/port=\"8080\" type=\"tcp\"/port=\"$2\" type=\"$1\"/" \
    -e 's/duration="120"/duration="10"/' /usr/share/doc/tsung/examples/websocket.xml > "$TEST_TMP/ws_$1.xml"
  grep -q "port=\"$2\" type=\"$1\"" "$TEST_TMP/ws_$1.xml" || fail "the example's server line changed"
  run_loadctl "$TEST_TMP/ws_$1.xml" "$3"
}

# check_run RUN_DIR LABEL: the example's one user did everything, as the server saw it.
check_run() {
  local run=$1 label=$2
  assert_eq "$(tsung_sum websocket_succ "$run")" 1 "$label: handshakes (websocket_succ)"
  assert_eq "$(tsung_sum websocket_fail "$run")" 0 "$label: websocket_fail"
  assert_eq "$(tsung_sum match "$run")" 1 "$label: the match on the answer to the uid from the dyn_variable"
  assert_eq "$(tsung_sum nomatch "$run")" 0 "$label: nomatch"
  # connect, 2 messages and close; the no_ack message is a request_noack (Tsung's counter)
  assert_eq "$(tsung_sum request "$run")" 4 "$label: requests"
  assert_eq "$(tsung_sum request_noack "$run")" 1 "$label: no_ack requests"
  assert_eq "$(tsung_sum finish_users_count "$run")" 1 "$label: users finished"
  local errors
  errors=$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 {print $2}' "$run/tsung.log" | sort -u | tr '\n' ' ')
  assert_eq "$errors" "" "$label: errors"
  wait_until 5 grep -q closed "$SERVER_LOG" || fail "$label: the server's script did not see the close"
  assert_eq "$(grep -c password "$SERVER_LOG")" 1 "$label: login messages the server got"
  assert_eq "$(grep -c '"uid":"u42", "data":"data"' "$SERVER_LOG")" 1 "$label: substituted uid messages the server got"
  assert_eq "$(grep -c '"key":"value"' "$SERVER_LOG")" 1 "$label: no_ack messages the server got"
  assert_eq "$(wc -l < "$SERVER_LOG")" 4 "$label: lines in the server's log (3 messages + close)"
  rm -f "$SERVER_LOG"
}

port=$(free_port)
start_websocketd "$port"
run_example tcp "$port" "$TEST_TMP/run_ws"
check_run "$TEST_TMP/run_ws" ws

sport=$(free_port)
start_websocketd "$sport" --ssl --sslcert="$TEST_TMP/cert.pem" --sslkey="$TEST_TMP/key.pem"
run_example ssl "$sport" "$TEST_TMP/run_wss"
check_run "$TEST_TMP/run_wss" wss
log "ok: Tsung's websocket example against websocketd over ws and wss"
