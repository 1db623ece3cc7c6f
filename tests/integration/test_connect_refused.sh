#!/usr/bin/env bash
# A target that refuses connections is counted, not fatal: error_connect_econnrefused appears,
# sessions are aborted after max_retries, and loadctl exits 0.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent

port=$(free_port)
cat > "$TEST_TMP/scenario.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="10" unit="second"/></arrivalphase></load>
  <options><option name="max_retries" value="2"/><option name="retry_timeout" value="10"/></options>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/" method="GET"/></request>
  </session></sessions>
</tsung>
XML
timeout 60 "$LOADCTL" -q -f "$TEST_TMP/scenario.xml" --run-dir "$TEST_TMP/run" start > /dev/null 2> "$TEST_TMP/err" \
  || { cat "$TEST_TMP/err" >&2; fail "loadctl exited with $?"; }
sum() { tsung_sum "$1" "$TEST_TMP/run"; }
users=$(sum users_count)
refused=$(sum error_connect_econnrefused)
aborted=$(sum error_abort_max_conn_retries)
log "users=$users refused=$refused aborted=$aborted"
[ "$users" -gt 0 ] || fail "no users started"
assert_eq "$aborted" "$users" "every user gave up after its retries"
assert_eq "$refused" "$((users * 3))" "one refusal per attempt (1 + 2 retries)"
assert_eq "$(sum request)" 0 "no request completed"
