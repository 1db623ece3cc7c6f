#!/usr/bin/env bash
# rsh_daemon.sh hardening, on loopback: a state directory that is a symlink, another user's or
# open to others is refused; a pid file naming a foreign process is never signalled; options
# before the action work (Tsung's order); the log stays under its cap with many refused peers.
source "$(dirname "$0")/lib.sh"
need_bins loadagent ncat ss setsid
RSH_DAEMON=$LOADCTL_SRC/scripts/rsh_daemon.sh
AGENT_DIR=$(dirname "$LOADAGENT")
PORT=$(free_port)

log "unsafe state directories are refused"
mkdir -m 700 "$TEST_TMP/real"
ln -s "$TEST_TMP/real" "$TEST_TMP/link"
err=$("$RSH_DAEMON" status -p "$PORT" -d "$TEST_TMP/link" 2>&1) && fail "a symlinked state dir was accepted"
[[ $err == *"symbolic link"* ]] || fail "unclear symlink refusal: $err"
mkdir -m 755 "$TEST_TMP/open"
err=$("$RSH_DAEMON" status -p "$PORT" -d "$TEST_TMP/open" 2>&1) && fail "a mode-755 state dir was accepted"
[[ $err == *"mode 755"* ]] || fail "unclear mode refusal: $err"
mkdir -m 700 "$TEST_TMP/foreign"
chown 65534 "$TEST_TMP/foreign"
err=$("$RSH_DAEMON" status -p "$PORT" -d "$TEST_TMP/foreign" 2>&1) && fail "another user's state dir was accepted"
[[ $err == *"owned by uid 65534"* ]] || fail "unclear owner refusal: $err"
ln -s /etc/passwd "$TEST_TMP/real/planted.log"
err=$("$RSH_DAEMON" start -p "$PORT" -s "$AGENT_DIR" -d "$TEST_TMP/real" -l "$TEST_TMP/real/planted.log" 2>&1) && fail "a symlinked log was accepted"
[[ $err == *"symbolic link"* ]] || fail "unclear log refusal: $err"

log "options before the action (Tsung's order)"
RUNDIR=$TEST_TMP/rsh
DLOG=$RUNDIR/rsh_daemon.log
on_exit "'$RSH_DAEMON' kill -p $PORT -d '$RUNDIR' >/dev/null 2>&1"
LOADCTL_RSH_LOG_MAX=8192 "$RSH_DAEMON" -a 127.0.0.2 -p "$PORT" -b 127.0.0.1 -s "$AGENT_DIR" -d "$RUNDIR" start >&2 ||
  fail "options-first start failed"
"$RSH_DAEMON" -p "$PORT" -d "$RUNDIR" status >/dev/null || fail "options-first status does not see the daemon"
[ "$(stat -c %a "$RUNDIR")" = 700 ] || fail "the state dir is not mode 700"

log "300 connections from a peer outside -a: the log stays small"
started=$SECONDS
for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || true; done
elapsed=$((SECONDS - started))
wait_until 5 grep -q "refused: not in the allowed addresses" "$DLOG" || fail "refused peers not logged"
refused=$(grep -c "refused: not in the allowed addresses" "$DLOG")
size=$(stat -c %s "$DLOG")
log "log: $refused refused-peer line(s), $size bytes"
# at most 20 per 10 s window
((refused <= 20 * (elapsed / 10 + 2))) || fail "$refused refused-peer lines in ${elapsed} s: not rate-limited"
((size < 8192 + 512)) || fail "log of $size bytes over its cap"

log "a pid file naming a foreign process is not signalled"
"$RSH_DAEMON" -p "$PORT" -d "$RUNDIR" stop >&2
setsid sleep 60 &
VICTIM=$!
on_exit "kill $VICTIM 2>/dev/null"
echo "$VICTIM" >"$RUNDIR/rsh_daemon.pid"
out=$("$RSH_DAEMON" kill -p "$PORT" -d "$RUNDIR" 2>&1)
[[ $out == *"not running"* ]] || fail "kill with a foreign pid file: $out"
out=$("$RSH_DAEMON" stop -p "$PORT" -d "$RUNDIR" 2>&1)
[[ $out == *"not running"* ]] || fail "stop with a foreign pid file: $out"
kill -0 "$VICTIM" 2>/dev/null || fail "the foreign process was signalled"

log "refused commands from an allowed peer: the log rotates at its cap"
LOADCTL_RSH_LOG_MAX=4096 "$RSH_DAEMON" start -a 127.0.0.1 -p "$PORT" -b 127.0.0.1 -s "$AGENT_DIR" -d "$RUNDIR" >&2 ||
  fail "restart failed"
for i in $(seq 1 150); do printf 'ls %s\n' "$i" | ncat --no-shutdown -w 2 127.0.0.1 "$PORT" >/dev/null 2>&1 || true; done
[ -f "$DLOG.1" ] || fail "the log was not rotated"
size=$(stat -c %s "$DLOG")
((size < 4096 + 512)) || fail "log of $size bytes over its 4096-byte cap"
grep -q "refused: not a loadagent command: ls" "$DLOG" "$DLOG.1" || fail "refusals not logged"
"$RSH_DAEMON" stop -p "$PORT" -d "$RUNDIR" >&2
echo "PASS: $TEST_NAME"
