#!/usr/bin/env bash
# Source addresses and ports: <ip> values are used round-robin per connection (several 127.0.0.x
# addresses, as on a host with many IPs), and ports_range bounds the source ports.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget python3

# A server that records the peer address and port of every connection.
python3 - "$TEST_TMP/peers" <<'PY' &
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(128)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
out = open(sys.argv[1], "a", buffering=1)
def serve(c, peer):
    out.write("%s %d\n" % peer)
    data = b""
    while True:
        chunk = c.recv(4096)
        if not chunk: break
        data += chunk
        while b"\r\n\r\n" in data:
            _, data = data.split(b"\r\n\r\n", 1)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    c.close()
s.settimeout(30)
while True:
    try: c, peer = s.accept()
    except socket.timeout: break
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
PY
on_exit "kill $! 2>/dev/null || true"
wait_until 5 test -s "$TEST_TMP/peers.port" || fail "recording server did not start"
port=$(cat "$TEST_TMP/peers.port")
cat > "$TEST_TMP/s.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true">
    <ip value="127.0.0.2"/><ip value="127.0.0.3"/><ip value="127.0.0.4"/>
  </client></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="50" unit="second" maxnumber="10"/></arrivalphase></load>
  <options><option name="ports_range" min="41000" max="41999"/></options>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/a"/></request>
    <request><http url="/b"/></request>
  </session></sessions>
</tsung>
XML
run_loadctl "$TEST_TMP/s.xml" "$TEST_TMP/run"
sleep 0.3
log "$(sort "$TEST_TMP/peers" | awk '{print $1}' | uniq -c | tr '\n' ' ')"
assert_eq "$(count_lines "$TEST_TMP/peers")" 20 "connections (each response closes)"
assert_eq "$(awk '{print $1}' "$TEST_TMP/peers" | sort -u | tr '\n' ' ')" "127.0.0.2 127.0.0.3 127.0.0.4 " "source addresses"
for ip in 127.0.0.2 127.0.0.3 127.0.0.4; do
  n=$(grep -c "^$ip " "$TEST_TMP/peers")
  [ "$n" -ge 5 ] && [ "$n" -le 8 ] || fail "$ip used $n times out of 20 (round-robin)"
done
awk '$2 < 41000 || $2 > 41999 { bad = bad " " $2 } END { if (bad) { print "ports outside the range:" bad; exit 1 } }' "$TEST_TMP/peers" \
  || fail "ports_range not respected"

# Without ports_range the source port is left to connect (IP_BIND_ADDRESS_NO_PORT): the addresses
# are still the <ip>s, round-robin, and the ports the kernel's ephemeral ones. (This passes with a
# bind that searches a port too; the unit test EngineSockets.SourceBindLeavesThePortToConnect
# checks that the port is left to the connect.)
: > "$TEST_TMP/peers"
sed '/ports_range/d' "$TEST_TMP/s.xml" > "$TEST_TMP/noport.xml"
run_loadctl "$TEST_TMP/noport.xml" "$TEST_TMP/run-noport"
sleep 0.3
assert_eq "$(count_lines "$TEST_TMP/peers")" 20 "connections without ports_range"
assert_eq "$(awk '{print $1}' "$TEST_TMP/peers" | sort -u | tr '\n' ' ')" "127.0.0.2 127.0.0.3 127.0.0.4 " "source addresses without ports_range"
read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
awk -v lo="$lo" -v hi="$hi" '$2 < lo || $2 > hi { bad = bad " " $2 } END { if (bad) { print "ports outside the ephemeral range:" bad; exit 1 } }' \
  "$TEST_TMP/peers" || fail "source ports without ports_range"
assert_eq "$(tsung_sum request "$TEST_TMP/run-noport")" 20 "requests without ports_range"
echo "PASS: $TEST_NAME"
