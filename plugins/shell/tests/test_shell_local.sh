#!/usr/bin/env bash
# ts_shell on the agent host: plugins/shell/examples/shell.xml (its log file moved to $TEST_TMP,
# 3 s of arrivals), run
#  1. by loadctl with its own local agent (started with --allow-shell, as the controller starts
#     agents on its host): every command ran (one line per user in the log file, the dyn_variable
#     from uname's output in it), exit statuses counted (shell_exit_0 = 2 per user, shell_exit_2
#     = 1 per user), the match on the output, size_rcv = the bytes the commands printed;
#  2. through a listening agent (loadagent --listen) started WITHOUT --allow-local: every shell
#     request is refused and counted (error_shell_not_allowed = 3 per user), nothing runs; an fs
#     scenario is refused too (error_fs_not_allowed, no file written);
#  3. through a listening agent started with --allow-shell (the old name of --allow-local): the
#     commands run.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent

OUT=$TEST_TMP/shell-example.log
sed -e "s|/tmp/loadctl-shell-example.log|$OUT|" -e 's/duration="2"/duration="3"/' \
  "$LOADCTL_SRC/plugins/shell/examples/shell.xml" > "$TEST_TMP/shell.xml"
grep -q "$OUT" "$TEST_TMP/shell.xml" && ! grep -q "/tmp/loadctl-shell-example.log" "$TEST_TMP/shell.xml" ||
  fail "the example's log path was not moved into \$TEST_TMP"
"$LOADCTL" -q -f "$TEST_TMP/shell.xml" check > "$TEST_TMP/check.out" 2>&1 || fail "check: $(cat "$TEST_TMP/check.out")"

log "1. local agent"
st=0
timeout 40 "$LOADCTL" -q -f "$TEST_TMP/shell.xml" --run-dir "$TEST_TMP/run1" --dump-interval 1 start \
  > /dev/null 2> "$TEST_TMP/run1.err" || st=$?
assert_eq "$st" 0 "loadctl exit status ($(tail -5 "$TEST_TMP/run1.err"))"
users=$(tsung_sum users_count "$TEST_TMP/run1")
[ "$users" -gt 3 ] || fail "only $users users"
assert_eq "$(tsung_sum finish_users_count "$TEST_TMP/run1")" "$users" "users finished"
assert_eq "$(count_lines "$OUT")" "$users" "lines the echo commands appended"
assert_eq "$(grep -c "^user [0-9]* on $(uname -s)\$" "$OUT")" "$users" "lines with the dyn_variable from uname"
assert_eq "$(sort -u "$OUT" | wc -l)" "$users" "distinct user ids"
assert_eq "$(tsung_sum shell_exit_0 "$TEST_TMP/run1")" "$((2 * users))" "shell_exit_0"
assert_eq "$(tsung_sum shell_exit_2 "$TEST_TMP/run1")" "$users" "shell_exit_2"
assert_eq "$(tsung_sum match "$TEST_TMP/run1")" "$users" "matches on the output"
# printed: "Linux\n" (uname) + "missing\n"; echo's output went to the file
expected=$(( users * ( $(uname -s | wc -c) + 8 ) ))
assert_eq "$(tsung_sum size_rcv "$TEST_TMP/run1")" "$expected" "size_rcv = bytes printed"
assert_eq "$(tsung_sum request "$TEST_TMP/run1")" "$((3 * users))" "requests"

new_token "$TEST_TMP/token" > /dev/null
sed -e 's|<client host="localhost" use_controller_vm="true"/>|<client host="shellagent" hostip="127.0.0.1"/>|' \
  "$TEST_TMP/shell.xml" > "$TEST_TMP/direct.xml"
grep -q 'host="shellagent"' "$TEST_TMP/direct.xml" || fail "client not replaced"
direct_run() {  # direct_run NAME AGENT-FLAGS...: a listening agent with those flags, one run through it
  local name=$1 aport st=0
  shift
  aport=$(free_port)
  start_listening_agent "127.0.0.1:$aport" "$TEST_TMP/token" "$TEST_TMP/$name-agent.log" "$@"
  timeout 40 "$LOADCTL" -q -f "$TEST_TMP/${SCENARIO:-direct}.xml" --run-dir "$TEST_TMP/$name" --direct shellagent --agent-port "$aport" \
    --token-file "$TEST_TMP/token" -F 127.0.0.1 --dump-interval 1 start > /dev/null 2> "$TEST_TMP/$name.err" || st=$?
  assert_eq "$st" 0 "$name: loadctl exit status ($(tail -5 "$TEST_TMP/$name.err"))"
  _stop_pid "$AGENT_PID"
}

log "2. listening agent without --allow-local"
rm -f "$OUT"
direct_run run2
users=$(tsung_sum users_count "$TEST_TMP/run2")
[ "$users" -gt 3 ] || fail "only $users users"
assert_eq "$(tsung_sum error_shell_not_allowed "$TEST_TMP/run2")" "$((3 * users))" "shell requests refused"
assert_eq "$(tsung_sum shell_exit_0 "$TEST_TMP/run2")" 0 "commands run"
[ ! -e "$OUT" ] || fail "a refused command ran: $(cat "$OUT")"
cat > "$TEST_TMP/fs.xml" <<EOF
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="shellagent" hostip="127.0.0.1"/></clients>
  <servers><server host="127.0.0.1" port="1" type="erlang"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="5" unit="second"/></arrivalphase></load>
  <sessions><session name="fs" probability="100" type="ts_fs">
    <request><fs cmd="write" path="$TEST_TMP/fs-must-not-exist" size="100"/></request>
    <request><fs cmd="make_symlink" path="$TEST_TMP/token" dest="$TEST_TMP/fs-link-must-not-exist"/></request>
  </session></sessions>
</tsung>
EOF
SCENARIO=fs direct_run run2fs
users=$(tsung_sum users_count "$TEST_TMP/run2fs")
[ "$users" -gt 1 ] || fail "only $users fs users"
assert_eq "$(tsung_sum error_fs_not_allowed "$TEST_TMP/run2fs")" "$((2 * users))" "fs requests refused"
[ ! -e "$TEST_TMP/fs-must-not-exist" ] && [ ! -L "$TEST_TMP/fs-link-must-not-exist" ] || fail "a refused fs request wrote"

log "3. listening agent with --allow-shell"
direct_run run3 --allow-shell
users=$(tsung_sum users_count "$TEST_TMP/run3")
assert_eq "$(tsung_sum error_shell_not_allowed "$TEST_TMP/run3")" 0 "refusals"
assert_eq "$(count_lines "$OUT")" "$users" "lines the echo commands appended"
assert_eq "$(tsung_sum shell_exit_2 "$TEST_TMP/run3")" "$users" "shell_exit_2"
log "ok"
