#!/usr/bin/env bash
# Hostile targets: an endless body under <match> is cut at max_capture_size (error_response_too_large,
# agent memory bounded, run goes on); a body dripping 1 byte/s outlives idle_timeout without
# error_timeout (idle = no byte received, as in Tsung); a silent server still times out; a
# request resent on a new connection after its kept-alive one was reset is timed from the resend.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent python3

"$LOADCTL_SRC/tests/integration/hostile_target.py" > "$TEST_TMP/target.out" 2>&1 &
target_pid=$!
on_exit "_stop_pid $target_pid"
wait_until 10 grep -q '^listening ' "$TEST_TMP/target.out" || fail "hostile_target.py did not start"
port=$(awk '/^listening /{print $2; exit}' "$TEST_TMP/target.out")

# scenario FILE USERS IDLE_MS REQUESTS...: one ts_http session doing REQUESTS (XML) in order.
scenario() {
  local file=$1 users=$2 idle=$3
  shift 3
  cat > "$file" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load duration="20" unit="second">
    <arrivalphase phase="1" duration="2" unit="second"><users arrivalrate="20" unit="second" maxnumber="$users"/></arrivalphase>
  </load>
  <options><option name="idle_timeout" value="$idle"/></options>
  <sessions><session name="s" probability="100" type="ts_http">$*</session></sessions>
</tsung>
XML
}

# peak_agent_rss_kb CTL_PID OUT: samples the VmHWM of CTL_PID's loadagent children until it exits.
peak_agent_rss_kb() {
  local peak=0 pid hwm
  while kill -0 "$1" 2>/dev/null; do
    for pid in $(pgrep -P "$1" -x loadagent || true); do
      hwm=$(awk '/^VmHWM:/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
    done
    echo "$peak" > "$2"
    sleep 0.1
  done
}

log "endless body under <match>: cut at 1 MiB"
scenario "$TEST_TMP/endless.xml" 4 10000 \
  '<request><match do="continue" when="match">never-there</match><http url="/endless" method="GET" version="1.1"/></request>'
"$LOADCTL" -q -f "$TEST_TMP/endless.xml" --run-dir "$TEST_TMP/endless" --threads 1 --dump-interval 1 start \
  > "$TEST_TMP/endless.out" 2>&1 &
ctl=$!
peak_agent_rss_kb "$ctl" "$TEST_TMP/peak" &
sampler=$!
rc=0
wait "$ctl" || rc=$?
wait "$sampler" || true
peak=$(cat "$TEST_TMP/peak")
log "agent peak RSS ${peak} kB, loadctl exit $rc"
assert_eq "$rc" 0 "loadctl exit status"
assert_eq "$(tsung_sum error_response_too_large "$TEST_TMP/endless")" 4 "error_response_too_large"
assert_eq "$(tsung_sum error_agent_lost "$TEST_TMP/endless")" 0 "agent lost"
[ "$peak" -gt 0 ] || fail "no agent RSS sample"
[ "$peak" -lt $((256 * 1024)) ] || fail "agent peak RSS ${peak} kB, expected under 256 MiB"

log "1 byte/s for 4 s with idle_timeout 2 s completes; then a silent server times out"
scenario "$TEST_TMP/idle.xml" 1 2000 \
  '<request><http url="/drip" method="GET" version="1.1"/></request>' \
  '<request><http url="/silent" method="GET" version="1.1"/></request>'
start=$SECONDS
"$LOADCTL" -q -f "$TEST_TMP/idle.xml" --run-dir "$TEST_TMP/idle" --threads 1 --dump-interval 1 start \
  > "$TEST_TMP/idle.out" 2>&1 || { cat "$TEST_TMP/idle.out" >&2; fail "loadctl exited with $?"; }
elapsed=$((SECONDS - start))
assert_eq "$(tsung_sum 200 "$TEST_TMP/idle")" 1 "the dripping response completed"
assert_eq "$(tsung_sum error_timeout "$TEST_TMP/idle")" 1 "only the silent request timed out"
[ "$elapsed" -lt 15 ] || fail "the silent request took ${elapsed} s to time out, expected about 2 s"

log "a POST whose kept-alive connection stalls 1.5 s then resets: resent, timed from the resend"
head -c $((16 * 1024 * 1024)) /dev/zero | tr '\0' a > "$TEST_TMP/body"
scenario "$TEST_TMP/resend.xml" 1 10000 \
  '<request><http url="/ka" method="GET" version="1.1"/></request>' \
  "<request><http url=\"/stall-reset\" method=\"POST\" version=\"1.1\" contents_from_file=\"$TEST_TMP/body\"/></request>"
"$LOADCTL" -q -f "$TEST_TMP/resend.xml" --run-dir "$TEST_TMP/resend" --threads 1 --dump-interval 1 start \
  > "$TEST_TMP/resend.out" 2>&1 || { cat "$TEST_TMP/resend.out" >&2; fail "loadctl exited with $?"; }
assert_eq "$(tsung_sum 200 "$TEST_TMP/resend")" 2 "both requests answered (the POST resent once)"
assert_eq "$(awk '$1 == "stats:" && $2 ~ /^error_/' "$TEST_TMP/resend/tsung.log" | wc -l)" 0 "no error counted"
max=$(awk '$1 == "stats:" && $2 == "request" && $6 > m { m = $6 } END { print int(m) }' "$TEST_TMP/resend/tsung.log")
[ "$max" -lt 1000 ] || fail "the resent request took ${max} ms: timed from before the stalled first send"
log ok
