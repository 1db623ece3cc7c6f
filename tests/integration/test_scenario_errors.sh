#!/usr/bin/env bash
# Scenario errors: exit status 1 and a message naming file:line:column and what was expected.
source "$(dirname "$0")/lib.sh"
need_bins loadctl

cat > "$TEST_TMP/bad.xml" <<'XML'
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="80" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second">
    <users arrivalrate="10" interarrival="1" unit="second"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/"/></request></session></sessions>
</tsung>
XML
set +e
"$LOADCTL" -f "$TEST_TMP/bad.xml" check > "$TEST_TMP/out" 2>&1
rc=$?
set -e
assert_eq "$rc" 1 "exit status of check on a bad scenario"
grep -q "bad.xml:6:" "$TEST_TMP/out" || { cat "$TEST_TMP/out" >&2; fail "no file:line in the message"; }

set +e
"$LOADCTL" -f "$TEST_TMP/missing.xml" start > "$TEST_TMP/out" 2>&1
rc=$?
set -e
assert_eq "$rc" 1 "exit status for a missing file"
grep -q "missing.xml" "$TEST_TMP/out" || fail "missing file not named"
log ok
