#!/usr/bin/env bash
# The out-of-tree Qmsg plugin (examples/plugins/qmsg): `cmake --install` into a temporary prefix,
# build the example against it with find_package(loadctl), then with the installed executables:
#   - `check` without -X refuses <qmsg>; with -X DIR or LOADCTL_PLUGIN_PATH it accepts it;
#   - a copy whose ABI tag is wrong is refused by name, without a crash;
#   - a run with a local agent: loadtarget --qmsg answered exactly what tsung.log counts;
#   - a listening agent without --allow-local refuses the shipped plugin: the run fails, saying
#     why (docs/security.md);
#   - a run with an agent listening on a network-namespace host with --allow-local, which gets
#     the plugin shipped by the controller (it has no plugin directory of its own).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
need_bins loadctl loadagent loadtarget cmake perl

PREFIX=$TEST_TMP/prefix
log "cmake --install into $PREFIX"
cmake --install "$LOADCTL_BIN" --prefix "$PREFIX" >"$TEST_TMP/install.log" 2>&1 ||
  { cat "$TEST_TMP/install.log" >&2; fail "cmake --install failed"; }
[ -f "$PREFIX/lib/cmake/loadctl/loadctlConfig.cmake" ] || [ -f "$PREFIX"/lib/*/cmake/loadctl/loadctlConfig.cmake ] ||
  fail "no CMake package installed"
LC=$PREFIX/bin/loadctl
AGENT=$PREFIX/bin/loadagent

log "build examples/plugins/qmsg out of tree"
# ccache keyed on paths relative to the build directory, so every run of this test hits.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR=/ CCACHE_NOHASHDIR=1
start=$SECONDS
{ cmake -S "$LOADCTL_SRC/examples/plugins/qmsg" -B "$TEST_TMP/qmsg-build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX" "${launcher[@]}" && cmake --build "$TEST_TMP/qmsg-build"; } \
  >"$TEST_TMP/qmsg-build.log" 2>&1 || { cat "$TEST_TMP/qmsg-build.log" >&2; fail "the example plugin did not build"; }
log "plugin built in $((SECONDS - start)) s"
mkdir "$TEST_TMP/plugins"
cp "$TEST_TMP/qmsg-build/qmsg.so" "$TEST_TMP/plugins/"

# scenario FILE HOST PORT CLIENT...: the example scenario aimed at HOST:PORT, run by CLIENT lines.
scenario() {
  local file=$1 host=$2 port=$3 client=$4
  sed -e "s|<server host=\"127.0.0.1\" port=\"5678\"|<server host=\"$host\" port=\"$port\"|" \
      -e "s|<client host=\"localhost\" use_controller_vm=\"true\"/>|$client|" \
      "$LOADCTL_SRC/examples/plugins/qmsg/qmsg.xml" >"$file"
  grep -q "port=\"$port\"" "$file" || fail "could not retarget the example scenario"
}
scenario "$TEST_TMP/local.xml" 127.0.0.1 5678 '<client host="localhost" use_controller_vm="true"/>'

log "check: <qmsg> is unknown without the plugin, known with -X or LOADCTL_PLUGIN_PATH"
st=0
"$LC" -f "$TEST_TMP/local.xml" check >/dev/null 2>"$TEST_TMP/noplugin.err" || st=$?
assert_eq "$st" 1 "check without the plugin"
grep -q "qmsg" "$TEST_TMP/noplugin.err" || fail "unclear error without the plugin: $(cat "$TEST_TMP/noplugin.err")"
"$LC" -X "$TEST_TMP/plugins" -f "$TEST_TMP/local.xml" check >/dev/null 2>"$TEST_TMP/check.err" ||
  { cat "$TEST_TMP/check.err" >&2; fail "check with -X failed"; }
LOADCTL_PLUGIN_PATH="$TEST_TMP/nowhere-else:$TEST_TMP/plugins" "$LC" -f "$TEST_TMP/local.xml" check >/dev/null 2>&1 &&
  fail "a missing LOADCTL_PLUGIN_PATH directory was accepted"
LOADCTL_PLUGIN_PATH="$TEST_TMP/plugins" "$LC" -f "$TEST_TMP/local.xml" check >/dev/null 2>"$TEST_TMP/env.err" ||
  { cat "$TEST_TMP/env.err" >&2; fail "check with LOADCTL_PLUGIN_PATH failed"; }

log "a plugin built for another ABI is refused by name"
mkdir "$TEST_TMP/bad"
# Revision N -> as many zeros (the .so keeps its size: a shorter tag would shift the ELF).
perl -pe 's/(loadctl-plugin-abi-)(\d+)\//$1 . ("0" x length($2)) . "\/"/ge' "$TEST_TMP/plugins/qmsg.so" >"$TEST_TMP/bad/qmsg.so"
cmp -s "$TEST_TMP/plugins/qmsg.so" "$TEST_TMP/bad/qmsg.so" && fail "could not patch the ABI tag"
st=0
"$LC" -X "$TEST_TMP/bad" -f "$TEST_TMP/local.xml" check >/dev/null 2>"$TEST_TMP/bad.err" || st=$?
assert_eq "$st" 64 "exit status with a wrong ABI tag (a -X plugin that cannot be loaded: usage error, README)"
grep -Eq "plugin $TEST_TMP/bad/qmsg.so: ABI mismatch: built for loadctl-plugin-abi-0+/" "$TEST_TMP/bad.err" ||
  fail "unclear ABI mismatch error: $(cat "$TEST_TMP/bad.err")"

# run NAME SCENARIO ARGS...: one run; the Qmsg server's count must equal tsung.log's (20 users x 3).
run() {
  local name=$1 file=$2
  shift 2
  "$LC" -q -X "$TEST_TMP/plugins" -f "$file" --run-dir "$TEST_TMP/run-$name" --dump-interval 1 "$@" start \
    >/dev/null 2>"$TEST_TMP/$name.err" ||
    { cat "$TEST_TMP/$name.err" "$TEST_TMP/run-$name"/*.log >&2; fail "the $name run failed"; }
  _stop_pid "$LOADTARGET_PID"
  local served requests
  served=$(awk '/served .* qmsg requests/ {print $(NF - 2)}' "$LOADTARGET_OUT")
  requests=$(tsung_sum request "$TEST_TMP/run-$name")
  log "$name: tsung.log requests=$requests loadtarget=$served"
  assert_eq "$(tsung_sum users_count "$TEST_TMP/run-$name")" 20 "$name: users"
  assert_eq "$requests" 60 "$name: requests in tsung.log"
  assert_eq "$served" 60 "$name: requests answered by loadtarget --qmsg"
  assert_eq "$(tsung_sum tr_chat "$TEST_TMP/run-$name")" 20 "$name: chat transactions"
  ! grep -q "error" "$TEST_TMP/run-$name/tsung.log" || fail "$name: errors in tsung.log: $(grep error "$TEST_TMP/run-$name/tsung.log")"
}

qmsg_port() { awk '/^listening qmsg /{n = split($3, a, ":"); print a[n]; exit}' "$LOADTARGET_OUT"; }
start_qmsg() {
  start_loadtarget --qmsg "$1"
  wait_until 5 grep -q '^listening qmsg ' "$LOADTARGET_OUT" || fail "loadtarget --qmsg did not listen"
}

log "run with a local agent"
start_qmsg 127.0.0.1:0
scenario "$TEST_TMP/local.xml" 127.0.0.1 "$(qmsg_port)" '<client host="localhost" use_controller_vm="true"/>'
run local "$TEST_TMP/local.xml"

log "run with an agent listening on a network-namespace host"
netns_require
netns_create 1
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$TEST_TMP/token"
chmod 600 "$TEST_TMP/token"
netns_exec 1 "$AGENT" --listen "${NETNS_IP[1]}:19997" --token-file "$TEST_TMP/token" >"$TEST_TMP/refuse.log" 2>&1 &
REFUSE_PID=$!
on_exit "_stop_pid $REFUSE_PID"
wait_until 10 grep -q "listening on ${NETNS_IP[1]}:19997" "$TEST_TMP/refuse.log" || fail "the listening agent did not start"
scenario "$TEST_TMP/refused.xml" "$NETNS_ROOT_IP" 1 "<client host=\"qhost\" hostip=\"${NETNS_IP[1]}\"/>"
st=0
timeout 40 "$LC" -q -X "$TEST_TMP/plugins" -f "$TEST_TMP/refused.xml" --run-dir "$TEST_TMP/run-refused" -r direct \
  --agent-port 19997 --token-file "$TEST_TMP/token" -F "$NETNS_ROOT_IP" start >/dev/null 2>"$TEST_TMP/refused.err" || st=$?
[ "$st" -ne 0 ] || fail "a run shipping a plugin to an agent without --allow-local succeeded"
grep -q "plugin qmsg.so shipped by the controller refused: this agent was started without --allow-local" \
  "$TEST_TMP/refused.err" || fail "unclear refusal: $(tail -5 "$TEST_TMP/refused.err")"
grep -q "shipped by the controller: loaded" "$TEST_TMP/refuse.log" && fail "the agent loaded the plugin anyway"
_stop_pid "$REFUSE_PID"
netns_exec 1 "$AGENT" --listen "${NETNS_IP[1]}:19998" --token-file "$TEST_TMP/token" --allow-local >"$TEST_TMP/listen.log" 2>&1 &
LISTEN_PID=$!
on_exit "_stop_pid $LISTEN_PID"
wait_until 10 grep -q "listening on ${NETNS_IP[1]}:19998" "$TEST_TMP/listen.log" || fail "the listening agent did not start"
start_qmsg "$NETNS_ROOT_IP:0"
scenario "$TEST_TMP/remote.xml" "$NETNS_ROOT_IP" "$(qmsg_port)" "<client host=\"qhost\" hostip=\"${NETNS_IP[1]}\"/>"
run remote "$TEST_TMP/remote.xml" -r direct --token-file "$TEST_TMP/token" -F "$NETNS_ROOT_IP"
grep -q "plugin qmsg.so (.* bytes) shipped by the controller: loaded" "$TEST_TMP/listen.log" ||
  fail "the remote agent did not log the shipped plugin"
echo "PASS: $TEST_NAME"
