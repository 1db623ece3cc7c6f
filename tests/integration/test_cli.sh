#!/usr/bin/env bash
# The command line as Tsung's `tsung` script: every option accepted (its meaning, or a note where
# it has none here), options after the command, -f - from stdin (entities relative to the cwd),
# -x tag exclusion, -m stats file, -6 / -t / -T control socket, -d log level, batch clients from
# SLURM_JOB_NODELIST / PBS_NODEFILE at check time; usage errors exit 64.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --threads 1 --access-log "$access_log"
hello_scenario "$TEST_TMP/hello.xml" 1 '<client host="localhost" use_controller_vm="true"/>'

usage() {  # usage ARGS...: expects exit 64 and an "error:" line
  local st=0
  "$LOADCTL" "$@" >"$TEST_TMP/usage.out" 2>"$TEST_TMP/usage.err" || st=$?
  assert_eq "$st" 64 "exit status of loadctl $*"
  grep -q '^error: ' "$TEST_TMP/usage.err" || fail "no error line for loadctl $*: $(cat "$TEST_TMP/usage.err")"
}
usage --bogus -f "$TEST_TMP/hello.xml" check
usage -f "$TEST_TMP/hello.xml"
usage -f "$TEST_TMP/hello.xml" frobnicate
usage -d 9 -f "$TEST_TMP/hello.xml" check
usage -L -5 -f "$TEST_TMP/hello.xml" check
usage -t 70000 -f "$TEST_TMP/hello.xml" check
usage check
usage -f
# Bad option values found after parsing are usage errors too.
usage --token-file "$TEST_TMP/no-such-token" -f "$TEST_TMP/hello.xml" check
usage -r direct -f "$TEST_TMP/hello.xml" check
usage --direct somehost -f "$TEST_TMP/hello.xml" check
usage -X "$TEST_TMP/no-such-plugin-dir" -f "$TEST_TMP/hello.xml" check
usage --control-port 5000 -t 6000 -T 6010 -f "$TEST_TMP/hello.xml" check
grep -q -- '--control-port and -t/-T' "$TEST_TMP/usage.err" || fail "--control-port with -t: $(cat "$TEST_TMP/usage.err")"
# check accepts start's run options (a start command line can be checked as it is) and validates
# --fail-if: a bad expression is refused by check as by start.
"$LOADCTL" -q -f "$TEST_TMP/hello.xml" check --report --tolerate-agent-loss --fail-if 'errors > 1%' \
  > "$TEST_TMP/check.out" 2>&1 || fail "check with --report/--tolerate-agent-loss/--fail-if: $(cat "$TEST_TMP/check.out")"
grep -q ': ok: ' "$TEST_TMP/check.out" || fail "check with run options printed no plan: $(cat "$TEST_TMP/check.out")"
st=0
"$LOADCTL" -q -f "$TEST_TMP/hello.xml" check --fail-if 'frobs(request) > 2' > /dev/null 2>&1 || st=$?
[ "$st" -ne 0 ] || fail "check accepted a bad --fail-if expression"
"$LOADCTL" -h >"$TEST_TMP/help" || fail "-h exited with $?"
for opt in -f -l -m -r -I -F -6 -t -T -x -d -w -X -n -k -i -s -p -L -v; do
  grep -qE -- "^  (-[^ ]+,)*$opt[ ,]" "$TEST_TMP/help" || fail "-h does not list $opt"
done
"$LOADCTL" -v | grep -q '^loadctl ' || fail "-v"

# Tsung options with no effect here: accepted, one note each; a bare -F is Tsung's (no value).
"$LOADCTL" -i ctl2 -s -p 250000 -F -f "$TEST_TMP/hello.xml" check >"$TEST_TMP/notes.out" 2>"$TEST_TMP/notes.err" ||
  fail "Tsung's no-op options: $(cat "$TEST_TMP/notes.err")"
for opt in -i -s -p -F; do
  grep -q "^note: $opt: " "$TEST_TMP/notes.err" || fail "no note for $opt: $(cat "$TEST_TMP/notes.err")"
done
grep -q ': ok: ' "$TEST_TMP/notes.out" || fail "check output: $(cat "$TEST_TMP/notes.out")"
# -n and -k work (the live dashboard, docs/dashboard.md): no note; -n with -k or --http is a contradiction.
"$LOADCTL" -n -f "$TEST_TMP/hello.xml" check 2>"$TEST_TMP/n.err" >/dev/null || fail "-n check: $(cat "$TEST_TMP/n.err")"
grep -q '^note: -n' "$TEST_TMP/n.err" && fail "-n is still a no-op note"
# A bad --http is refused by check as by start (usage error).
for bad in "-n -k" "-n --http 127.0.0.1:0" "--http nonsense" "--http 127.0.0.1:99999" "--http host.example:80"; do
  st=0
  "$LOADCTL" $bad -f "$TEST_TMP/hello.xml" check >/dev/null 2>&1 || st=$?
  assert_eq "$st" 64 "exit status of $bad"
done

# Batch clients: check takes the hosts from the scheduler's variables (one agent per node).
sed 's|<client host="localhost" use_controller_vm="true"/>|<client type="batch" batch="slurm" maxusers="10"/>|' \
  "$TEST_TMP/hello.xml" >"$TEST_TMP/slurm.xml"
SLURM_JOB_NODELIST='node[01-03,7],gpu5' "$LOADCTL" -f "$TEST_TMP/slurm.xml" check >"$TEST_TMP/slurm.out" ||
  fail "batch slurm check failed"
grep -q ' 5 agent(s)' "$TEST_TMP/slurm.out" || fail "slurm: $(cat "$TEST_TMP/slurm.out")"
printf 'n1.cluster\nn1.cluster\nn2.cluster\n' >"$TEST_TMP/nodefile"
sed 's/batch="slurm"/batch="pbs"/' "$TEST_TMP/slurm.xml" >"$TEST_TMP/pbs.xml"
PBS_NODEFILE=$TEST_TMP/nodefile "$LOADCTL" -f "$TEST_TMP/pbs.xml" check >"$TEST_TMP/pbs.out" || fail "batch pbs check failed"
grep -q ' 3 agent(s)' "$TEST_TMP/pbs.out" || fail "pbs: $(cat "$TEST_TMP/pbs.out")"
st=0
env -u SLURM_JOB_NODELIST -u SLURM_NODELIST "$LOADCTL" -f "$TEST_TMP/slurm.xml" check >/dev/null 2>"$TEST_TMP/slurm.err" || st=$?
assert_eq "$st" 1 "batch slurm without SLURM_JOB_NODELIST"
grep -q "no nodes (SLURM_JOB_NODELIST is unset or empty)" "$TEST_TMP/slurm.err" || fail "slurm error: $(cat "$TEST_TMP/slurm.err")"

# A run: the scenario on stdin, its session in an entity file relative to the cwd, options after
# `start`; requests tagged "skip" are left out; statistics in mystats.log; control socket on ::1.
mkdir "$TEST_TMP/cwd"
cat >"$TEST_TMP/cwd/session.xml" <<XML
<session name="s" probability="100" type="ts_http">
  <request tag="skip"><http url="/skipped" method="GET" version="1.1"/></request>
  <request tag="keep"><http url="/hello" method="GET" version="1.1"/></request>
</session>
XML
cat >"$TEST_TMP/stdin.xml" <<XML
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd" [ <!ENTITY sess SYSTEM "session.xml"> ]>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><user session="s" start_time="0" unit="second"/><user session="s" start_time="0.1" unit="second"/></load>
  <sessions>&sess;</sessions>
</tsung>
XML
port=$(free_port)
(cd "$TEST_TMP/cwd" && "$LOADCTL" start -f - --run-dir "$TEST_TMP/run" -6 -t "$port" -T $((port + 20)) -d 3 \
  -m mystats.log -x skip,other --dump-interval 1 -q <"$TEST_TMP/stdin.xml" >"$TEST_TMP/run.out" 2>"$TEST_TMP/run.err") ||
  fail "run exited with $?: $(cat "$TEST_TMP/run.err")"
hello=$(grep -c ' GET /hello ' "$access_log" || true)
[ "$hello" -ge 2 ] || fail "only $hello /hello requests"
assert_eq "$(grep -c ' GET /skipped ' "$access_log" || true)" 0 "requests tagged skip"
[ -s "$TEST_TMP/run/mystats.log" ] || fail "no mystats.log (-m)"
[ ! -e "$TEST_TMP/run/tsung.log" ] || fail "tsung.log written despite -m"
grep -q '^stats: request ' "$TEST_TMP/run/mystats.log" || fail "mystats.log has no request line"
grep -q '/hello' "$TEST_TMP/run/tsung_stdin.xml" || fail "tsung_stdin.xml lacks the expanded entity"
! grep -q ' info: ' "$TEST_TMP/run/controller.log" || fail "-d 3: info lines in controller.log"

# -m - : statistics on standard output; default -d: the control socket line shows ::1 and the port range.
: >"$access_log"
"$LOADCTL" -f "$TEST_TMP/hello.xml" -6 -t "$port" -T $((port + 20)) start --run-dir "$TEST_TMP/run2" -m - -q \
  --dump-interval 1 >"$TEST_TMP/run2.out" 2>"$TEST_TMP/run2.err" || fail "-m - run: $(cat "$TEST_TMP/run2.err")"
grep -q '^# stats: dump at ' "$TEST_TMP/run2.out" || fail "-m -: no statistics on stdout"
sock=$(grep -o 'control socket on .*' "$TEST_TMP/run2/controller.log")
[[ $sock =~ ^control\ socket\ on\ ::1:([0-9]+)$ ]] || fail "control socket: $sock"
p=${BASH_REMATCH[1]}
[ "$p" -ge "$port" ] && [ "$p" -le $((port + 20)) ] || fail "control port $p outside $port-$((port + 20))"

# dumptraffic (Tsung's tsung.dump): "true" writes every message, "light" its first 44 characters,
# "protocol" a line per completed request; "protocol_local" is refused at check time.
for mode in true light; do
  # two static users: a phase's random arrivals can be one on a loaded machine
  sed -e "s/<tsung loglevel=\"notice\"/<tsung dumptraffic=\"$mode\" loglevel=\"notice\"/" \
    -e 's|<arrivalphase .*</arrivalphase>|<user session="s" start_time="0" unit="second"/><user session="s" start_time="0.1" unit="second"/>|' \
    "$TEST_TMP/hello.xml" >"$TEST_TMP/dump-$mode.xml"
  "$LOADCTL" -q -f "$TEST_TMP/dump-$mode.xml" --run-dir "$TEST_TMP/dump-$mode" start >/dev/null 2>"$TEST_TMP/dump.err" ||
    fail "dumptraffic=$mode run: $(cat "$TEST_TMP/dump.err")"
done
dump=$TEST_TMP/dump-true/tsung.dump
[ "$(grep -c '^Send:[0-9.]*:[0-9]*:GET /hello HTTP/1.1' "$dump")" -ge 2 ] || fail "tsung.dump Send lines: $(head -5 "$dump")"
[ "$(grep -c '^Recv:[0-9.]*:[0-9]*:HTTP/1.1 200' "$dump")" -ge 2 ] || fail "tsung.dump Recv lines: $(head -5 "$dump")"
grep -q '^Host: 127.0.0.1' "$dump" || fail "tsung.dump lacks the request headers (true keeps whole messages)"
light=$TEST_TMP/dump-light/tsung.dump
[ "$(grep -c '^Send:' "$light")" -ge 2 ] || fail "light: no Send lines"
grep -q '^User-Agent: ' "$light" && fail "light keeps more than 44 characters"
grep -q '^User-Agent: Tsung' "$dump" || fail "true: no User-Agent line (whole messages)"

# protocol: one line per request, after its matches, with the URL as sent, the open transaction
# and the request's tag. Each user: /hello (200, match logged), /status/404 (tagged), /json.
cat >"$TEST_TMP/dump-protocol.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0" dumptraffic="protocol">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><user session="s" start_time="0" unit="second"/><user session="s" start_time="0.1" unit="second"/>
    <user session="s" start_time="0.2" unit="second"/></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <setdynvars sourcetype="value" value="json"><var name="page"/></setdynvars>
    <transaction name="first">
      <request><match do="log" when="match">hello</match><http url="/hello"/></request>
      <request tag="missing"><http url="/status/404"/></request>
    </transaction>
    <request subst="true"><http url="/%%_page%%"/></request>
  </session></sessions>
</tsung>
XML
"$LOADCTL" -q -f "$TEST_TMP/dump-protocol.xml" --run-dir "$TEST_TMP/dump-protocol" start >/dev/null 2>"$TEST_TMP/dump.err" ||
  fail "dumptraffic=protocol run: $(cat "$TEST_TMP/dump.err")"
pdump=$TEST_TMP/dump-protocol/tsung.dump
assert_eq "$(head -1 "$pdump")" "#date;pid;id;http method;host;URL;HTTP status;size;duration;transaction;match;error;tag" "protocol dump header"
assert_eq "$(tail -n +2 "$pdump" | wc -l)" 9 "protocol dump lines (3 users x 3 requests)"
num='[0-9]+'
grep -Eq "^$num\.$num;$num;$num;get;127\.0\.0\.1;/hello;200;$num;$num\.[0-9]{3};tr_first;match;;\$" "$pdump" || fail "/hello line: $(cat "$pdump")"
assert_eq "$(grep -Ec ";get;127\.0\.0\.1;/hello;200;$num;[0-9.]+;tr_first;match;;\$" "$pdump")" 3 "/hello lines"
assert_eq "$(grep -Ec ";get;127\.0\.0\.1;/status/404;404;$num;[0-9.]+;tr_first;;;missing\$" "$pdump")" 3 "/status/404 lines"
assert_eq "$(grep -Ec ";get;127\.0\.0\.1;/json;200;$num;[0-9.]+;-;;;\$" "$pdump")" 3 "substituted URL, no transaction open"
# size: the bytes of the whole response (status line and headers included)
awk -F';' 'NR > 1 && $8 < 20 { bad = 1 } END { exit bad }' "$pdump" || fail "protocol dump sizes: $(cat "$pdump")"
# protocol_local: the same lines, without the header, in one tsung-<agent>.dump per agent.
sed 's/dumptraffic="protocol"/dumptraffic="protocol_local"/' "$TEST_TMP/dump-protocol.xml" >"$TEST_TMP/dump-local.xml"
"$LOADCTL" -q -f "$TEST_TMP/dump-local.xml" --run-dir "$TEST_TMP/dump-local" start >/dev/null 2>"$TEST_TMP/dump.err" ||
  fail "dumptraffic=protocol_local run: $(cat "$TEST_TMP/dump.err")"
[ -e "$TEST_TMP/dump-local/tsung.dump" ] && fail "protocol_local wrote tsung.dump"
locals=("$TEST_TMP"/dump-local/tsung-*.dump)
assert_eq "${#locals[@]}" 1 "protocol_local dump files (one agent)"
assert_eq "$(wc -l <"${locals[0]}")" 9 "protocol_local lines (no header)"
assert_eq "$(grep -Ec ";get;127\.0\.0\.1;/status/404;404;$num;[0-9.]+;tr_first;;;missing\$" "${locals[0]}")" 3 "protocol_local /status/404 lines"
echo "PASS: $TEST_NAME"
