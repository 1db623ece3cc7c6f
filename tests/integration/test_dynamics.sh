#!/usr/bin/env bash
# Scenario dynamics against loadtarget, asserted on what the server saw (its access log):
# file_server ids substituted, a token extracted from /json echoed back, for/repeat/if counts,
# an aborted session never sending its later requests, and order="iter" lines used exactly once
# across two agents (cpu="2"); <abort type="session"> counted as Tsung's abort_session.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --threads 1 --access-log "$access_log"

# run CPU USERS LINES: runs the fixture with USERS users and a users.csv of LINES lines.
run() {
  local dir=$TEST_TMP/run-$1-$2
  mkdir -p "$dir"
  : > "$access_log"
  for i in $(seq 1 "$3"); do echo "user$i;pw$i"; done > "$dir/users.csv"
  sed "s/@PORT@/$LOADTARGET_HTTP_PORT/; s/@CPU@/$1/; s/@USERS@/$2/" \
    "$LOADCTL_SRC/tests/fixtures/scenarios/dynamics.xml" > "$dir/scenario.xml"
  run_loadctl "$dir/scenario.xml" "$dir/run" --threads 1 --dump-interval 1
  RUN=$dir/run
  # loadtarget writes its log as it answers; the last line may trail the run by a moment.
  wait_until 5 bash -c "[ \$(grep -c ' /status/503 ' '$access_log') -ge $2 ]" || fail "not every user reached /status/503"
}
sum() { tsung_sum "$1" "$RUN"; }
count() { grep -c -- "$1" "$access_log" || true; }

log "one agent, 3 users, 3 lines"
run 1 3 3
for i in 1 2 3; do
  assert_eq "$(count " GET /hello?user=user$i&pass=pw$i&uid=[0-9]*&rnd=[567]&c=v1&nope= ")" 1 "user$i substituted once"
done
assert_eq "$(count " GET /hello?h=127.0.0.1&p=$LOADTARGET_HTTP_PORT&rs=[b-z]\{7\}&us=qxv ")" 3 \
  "server host/port and random strings (Tsung's: b to z; urandom the fixed qxvmv... cut)"
# The token of each user's /json response came back in its /echo, by jsonpath and by regex.
assert_eq "$(count ' GET /echo?t=tok[0-9a-f]*&r=tok[0-9a-f]*&b=2&ct=application/json ')" 3 "extracted values echoed"
awk '$3 ~ /^\/echo/ { split($3, q, /[?&=]/); if (q[3] != q[5]) bad = 1 } END { exit bad }' "$access_log" ||
  fail "jsonpath and regex extracted different tokens"
for i in 1 2 3; do assert_eq "$(count " GET /hello?i=$i ")" 3 "for loop iteration $i"; done
assert_eq "$(count ' GET /hello?k=2 ')" 3 "for with %%_var%% bounds (2 to 2)"
assert_eq "$(count ' GET /hello?k=' )" 3 "for with %%_var%% bounds: one iteration"
assert_eq "$(count ' GET /hello?n=alpha ')" 3 "foreach over a jsonpath list"
assert_eq "$(count ' GET /hello?n=beta ')" 3 "foreach over a jsonpath list"
assert_eq "$(count ' GET /hello?n=gamma ')" 0 "foreach exclude"
assert_eq "$(count ' GET /hello?second=beta ')" 3 "if var=\"names[2]\": the second element of the list"
assert_eq "$(count ' GET /hello?first=beta ')" 0 "if var=\"names[1]\": the first element is not beta"
assert_eq "$(grep -o ' GET /hello?uid=[0-9]* ' "$access_log" | sort -u | wc -l)" 3 "%%ts_user_server:get_unique_id%%: one id per user"
assert_eq "$(count ' GET /hello?rep ')" 15 "repeat while: max_repeat=4 then one more pass per user (Tsung)"
assert_eq "$(count ' GET /hello?until ')" 3 "repeat until: once per user"
assert_eq "$(count ' GET /hello?if=yes ')" 3 "if eq taken"
assert_eq "$(count ' GET /hello?if=no ')" 0 "if gt not taken"
assert_eq "$(count ' GET /hello?after_abort ')" 0 "aborted sessions send nothing after the abort"
assert_eq "$(sum match_stop)" 3 "match_stop counted"
assert_eq "$(count ' GET /hello?loop ')" 9 "match do=loop: the request and 2 loops per user"
assert_eq "$(sum match_loop)" 9 "match_loop counted on every try, the last one too (Tsung)"
assert_eq "$(sum max_repeat)" 3 "max_repeat counted (Tsung's name)"
assert_eq "$(sum error_unknown_var)" 6 "unknown variables counted (nope, and thinktime before set)"
assert_eq "$(sum nomatch)" 3 "nomatch counter"
assert_eq "$(sum match)" 18 "match counter"
assert_eq "$(grep -c 'match.log: .*name=never' "$RUN/agent-0.log")" 3 "do=log lines in the agent log"
assert_eq "$(grep -c 'match.log: .*name=never' "$RUN/match.log")" 3 "do=log lines gathered in match.log"

log "two agents (cpu=2), 8 users, 8 lines: every line used exactly once"
run 2 8 8
[ -s "$RUN/agent-1.log" ] || fail "second agent did not run"
seen=$(grep -o ' GET /hello?user=user[0-9]*&' "$access_log" | sort)
assert_eq "$(echo "$seen" | wc -l)" 8 "users seen"
assert_eq "$(echo "$seen" | sort -u | wc -l)" 8 "no line used twice"

log "two agents, 8 users, 4 lines: two passes, each line exactly twice"
run 2 8 4
for i in 1 2 3 4; do assert_eq "$(count " GET /hello?user=user$i&")" 2 "line $i used once per pass"; done
log "<abort type=\"session\">: the user ends, counted in abort_session and finish_users_count"
: > "$access_log"
cat > "$TEST_TMP/abort.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="20" unit="second" maxnumber="2"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <request><http url="/hello?before_abort"/></request>
    <abort type="session"/>
    <request><http url="/hello?after_session_abort"/></request>
  </session></sessions>
</tsung>
XML
run_loadctl "$TEST_TMP/abort.xml" "$TEST_TMP/abort" --threads 1
RUN=$TEST_TMP/abort
wait_until 5 bash -c "[ \$(grep -c 'before_abort' '$access_log') -ge 2 ]" || fail "the users did not run"
assert_eq "$(count ' GET /hello?after_session_abort ')" 0 "nothing sent after <abort type=\"session\">"
assert_eq "$(sum abort_session)" 2 "abort_session counted (Tsung's ts_client)"
assert_eq "$(sum finish_users_count)" 2 "aborted users finish"
log "ok"
