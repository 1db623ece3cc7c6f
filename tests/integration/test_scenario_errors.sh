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

# check_fails_fast WHAT PATTERN ARGS...: `loadctl ARGS` exits 1 within 10 s naming PATTERN.
check_fails_fast() {
  local what=$1 pattern=$2 rc=0
  shift 2
  timeout 10 "$LOADCTL" "$@" > "$TEST_TMP/out" 2>&1 || rc=$?
  assert_eq "$rc" 1 "exit status for $what (124 = hung, 134/86 = crash or sanitizer report)"
  grep -q -- "$pattern" "$TEST_TMP/out" || { cat "$TEST_TMP/out" >&2; fail "$what: no '$pattern' in the message"; }
}

# 10,000 nested <transaction>s and 50,000 nested <for>s: refused at the first level past the limit.
for kind in transaction for; do
  python3 - "$kind" > "$TEST_TMP/deep-$kind.xml" <<'PY'
import sys
kind = sys.argv[1]
n, open_, close = (10000, '<transaction name="t">', '</transaction>') if kind == "transaction" else \
    (50000, '<for from="1" to="2" incr="1" var="i">', '</for>')
print('<?xml version="1.0"?>\n<tsung>\n<clients><client host="localhost" use_controller_vm="true"/></clients>')
print('<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>')
print('<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>')
print('<sessions><session name="s" probability="100" type="ts_http">')
print(open_ * n + '<request><http url="/"/></request>' + close * n)
print('</session></sessions>\n</tsung>')
PY
  check_fails_fast "deeply nested <$kind>" "deep-$kind.xml:7:[0-9]*: .*nested more than 100 levels" -f "$TEST_TMP/deep-$kind.xml" check
done

# Devices, FIFOs and data files that are not regular files fail at once, not at a memory limit.
check_fails_fast "-f /dev/zero" "/dev/zero is not a regular file" -f /dev/zero check
mkfifo "$TEST_TMP/fifo.xml"
check_fails_fast "-f FIFO" "fifo.xml is not a regular file" -f "$TEST_TMP/fifo.xml" check
sed 's|</load>|</load><options><option name="file_server" id="users" value="/dev/zero"/></options>|; s|interarrival="1" ||' \
  "$TEST_TMP/bad.xml" > "$TEST_TMP/zero-data.xml"
check_fails_fast "file_server /dev/zero" "file_server 'users': /dev/zero is not a regular file" -f "$TEST_TMP/zero-data.xml" check
truncate -s 17M "$TEST_TMP/huge.xml"
check_fails_fast "a 17 MiB scenario" "larger than the limit of 16 MiB" -f "$TEST_TMP/huge.xml" check
log ok
