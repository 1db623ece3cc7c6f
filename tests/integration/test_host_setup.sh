#!/usr/bin/env bash
# scripts/host_setup.sh applied into a private root (a fake Debian host with the admin's own
# limits.conf and sysctl drop-in) in both modes, then reverted: the drop-ins and units are there
# with the right modes and values, the admin's files are untouched, an admin file at one of its
# paths stops it before any change, and --revert leaves the tree exactly as before (listing,
# modes, sizes and checksums compared). The units are hardened (unprivileged dynamic user, token
# as a credential; `systemd-analyze verify` finds nothing when it is installed); --revert
# disables a unit before removing its file (a fake systemctl first on PATH logs the calls); a
# run that fails partway leaves a manifest --revert undoes; misplaced options are refused; the rsh
# unit's command works as an unprivileged user.
source "$(dirname "$0")/lib.sh"
need_bins loadagent
SETUP=$LOADCTL_SRC/scripts/host_setup.sh
ROOT=$TEST_TMP/root
mkdir -p "$ROOT/etc/security" "$ROOT/etc/sysctl.d" "$ROOT/usr/local"
printf 'ID=debian\nVERSION_ID="12"\n' >"$ROOT/etc/os-release"
printf '* soft nofile 4096\n' >"$ROOT/etc/security/limits.conf"
printf 'net.ipv4.ip_local_port_range = 20000 30000\n' >"$ROOT/etc/sysctl.d/99-admin.conf"

snapshot() { (cd "$ROOT" && find . -printf '%p %m %s %u\n' | sort && find . -type f -exec sha256sum {} + | sort); }
snapshot >"$TEST_TMP/before"

# systemctl: a fake that logs its calls and whether the unit's file was there at each call.
cat >"$TEST_TMP/bin/systemctl" <<FAKE
#!/bin/bash
unit=\${!#}
state=absent
[ -e "$ROOT/etc/systemd/system/\$unit" ] && state=present
echo "\$* (unit file \$state)" >>"$TEST_TMP/systemctl.log"
FAKE
chmod +x "$TEST_TMP/bin/systemctl"
export PATH=$TEST_TMP/bin:$PATH

# verify_unit FILE BINARY_PATH REAL_PATH: systemd-analyze verify prints nothing for the unit (the
# installed path replaced by this build's, which exists).
verify_unit() {
  command -v systemd-analyze >/dev/null || { log "systemd-analyze not installed: verify skipped"; return 0; }
  sed "s|$2|$3|" "$1" >"$TEST_TMP/$(basename "$1")"
  local out
  out=$(systemd-analyze verify "$TEST_TMP/$(basename "$1")" 2>&1) || fail "systemd-analyze verify $1: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $1: $out"
}
HARDENING=(DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= Type=simple)

# A dry run changes nothing.
"$SETUP" --agent "$LOADAGENT" --root "$ROOT" --dry-run >"$TEST_TMP/dry.out" || fail "dry run failed"
grep -q '+ /etc/sysctl.d/60-loadctl.conf' "$TEST_TMP/dry.out" || fail "the dry run does not show the sysctl drop-in"
snapshot | diff "$TEST_TMP/before" - >/dev/null || fail "the dry run changed the tree"

# listen mode
"$SETUP" --agent "$LOADAGENT" --root "$ROOT" --nofile 200000 --port 19990 >"$TEST_TMP/listen.out" || { cat "$TEST_TMP/listen.out"; fail "set-up failed"; }
grep -q 'net.ipv4.ip_local_port_range = 1024 65535' "$TEST_TMP/listen.out" || fail "the sysctl change is not shown"
cmp -s "$LOADAGENT" "$ROOT/usr/local/bin/loadagent" || fail "the agent binary is not installed"
"$ROOT/usr/local/bin/loadagent" --version >/dev/null || fail "the installed agent does not run"
grep -qx '\* hard nofile 200000' "$ROOT/etc/security/limits.d/90-loadctl.conf" || fail "limits.d drop-in without the nofile line"
grep -qx 'net.ipv4.tcp_tw_reuse = 1' "$ROOT/etc/sysctl.d/60-loadctl.conf" || fail "sysctl drop-in without tcp_tw_reuse"
assert_eq "$(stat -c %a "$ROOT/etc/loadctl/agent.token")" 600 "token file mode"
[ "$(wc -c <"$ROOT/etc/loadctl/agent.token")" -ge 33 ] || fail "token too short"
UNIT=$ROOT/etc/systemd/system/loadagent.service
grep -qx 'ExecStart=/usr/local/bin/loadagent --listen 19990 --token-file ${CREDENTIALS_DIRECTORY}/token' "$UNIT" ||
  fail "unit without the listening agent"
grep -qx 'LoadCredential=token:/etc/loadctl/agent.token' "$UNIT" || fail "unit without the token credential"
grep -qx 'LimitNOFILE=200000' "$UNIT" || fail "unit without LimitNOFILE"
for d in "${HARDENING[@]}"; do grep -qx -- "$d" "$UNIT" || fail "listen unit without $d"; done
verify_unit "$UNIT" /usr/local/bin/loadagent "$LOADAGENT"
grep -qx 'unit - loadagent.service' "$ROOT/var/lib/loadctl/host_setup.manifest" || fail "manifest without the unit"
grep -q "nothing is changed" "$TEST_TMP/listen.out" && fail "a real set-up called itself a dry run"
printf '* soft nofile 4096\n' | cmp -s - "$ROOT/etc/security/limits.conf" || fail "the admin's limits.conf changed"
# Set up twice: refused, nothing changed.
snapshot >"$TEST_TMP/applied"
"$SETUP" --agent "$LOADAGENT" --root "$ROOT" >"$TEST_TMP/twice.out" 2>&1 && fail "a second set-up was not refused"
snapshot | diff "$TEST_TMP/applied" - >/dev/null || fail "the refused second set-up changed the tree"
"$SETUP" --revert --root "$ROOT" >"$TEST_TMP/revert.out" || fail "revert failed"
snapshot | diff "$TEST_TMP/before" - || fail "listen mode: the tree after --revert differs from before"
# The unit was disabled while its file was still there.
assert_eq "$(cat "$TEST_TMP/systemctl.log")" "--root=$ROOT disable loadagent.service (unit file present)" "systemctl calls of --revert"
rm "$TEST_TMP/systemctl.log"

# rsh mode
"$SETUP" --agent "$LOADAGENT" --root "$ROOT" --mode rsh --allow 198.18.0.1 >"$TEST_TMP/rsh.out" || { cat "$TEST_TMP/rsh.out"; fail "rsh set-up failed"; }
cmp -s "$LOADCTL_SRC/scripts/rsh_daemon.sh" "$ROOT/usr/local/lib/loadctl/rsh_daemon.sh" || fail "rsh_daemon.sh not installed"
RSH_UNIT=$ROOT/etc/systemd/system/loadctl-rsh.service
grep -qx 'ExecStart=/usr/local/lib/loadctl/rsh_daemon.sh _serve -a 198.18.0.1 -p 19999 -s /usr/local/bin -d /run/loadctl-rsh/19999' \
  "$RSH_UNIT" || fail "rsh unit wrong"
for d in "${HARDENING[@]}" RuntimeDirectory=loadctl-rsh; do grep -qx -- "$d" "$RSH_UNIT" || fail "rsh unit without $d"; done
verify_unit "$RSH_UNIT" /usr/local/lib/loadctl/rsh_daemon.sh "$LOADCTL_SRC/scripts/rsh_daemon.sh"
[ -e "$ROOT/etc/loadctl/agent.token" ] && fail "rsh mode wrote a token"
# A file changed since is kept by --revert (and named); the rest goes.
echo "# admin edit" >>"$ROOT/etc/sysctl.d/60-loadctl.conf"
"$SETUP" --revert --root "$ROOT" >"$TEST_TMP/revert2.out" || fail "revert failed"
grep -q 'kept /etc/sysctl.d/60-loadctl.conf' "$TEST_TMP/revert2.out" || fail "a changed file was not reported as kept"
[ -e "$ROOT/etc/systemd/system/loadctl-rsh.service" ] && fail "the unit was not removed"
rm "$ROOT/etc/sysctl.d/60-loadctl.conf"
snapshot | diff "$TEST_TMP/before" - || fail "rsh mode: the tree after --revert differs from before"
assert_eq "$(cat "$TEST_TMP/systemctl.log")" "--root=$ROOT disable loadctl-rsh.service (unit file present)" "systemctl calls of the rsh --revert"

# A run that fails partway (/etc/systemd is a file: the unit's directory cannot be made) leaves
# a manifest of what it added; --revert removes exactly that.
echo "not a directory" >"$ROOT/etc/systemd"
snapshot >"$TEST_TMP/before_partial"
"$SETUP" --agent "$LOADAGENT" --root "$ROOT" >"$TEST_TMP/partial.out" 2>&1 && fail "the set-up did not fail"
grep -q 'failed partway: run host_setup.sh --revert' "$TEST_TMP/partial.out" || fail "$(cat "$TEST_TMP/partial.out")"
[ -e "$ROOT/etc/loadctl/agent.token" ] || fail "the failure came before the token: not partway"
"$SETUP" --revert --root "$ROOT" >"$TEST_TMP/revert3.out" || fail "revert after a partial run failed"
snapshot | diff "$TEST_TMP/before_partial" - || fail "the tree after reverting a partial run differs from before"
rm "$ROOT/etc/systemd"

# Options that would do nothing in a mode, and an --allow that is not an address list, are refused.
expect_refused() {
  local pattern=$1; shift
  "$SETUP" --agent "$LOADAGENT" --root "$ROOT" "$@" >"$TEST_TMP/refused.out" 2>&1 && fail "not refused: $*"
  grep -q -- "$pattern" "$TEST_TMP/refused.out" || fail "$*: $(cat "$TEST_TMP/refused.out")"
}
expect_refused "--allow is for --mode rsh" --allow 10.0.0.5
expect_refused "--token-file is for --mode listen" --mode rsh --token-file "$TEST_TMP/before"
expect_refused "--allow 10.0.0.5;id: expected" --mode rsh --allow '10.0.0.5;id'
expect_refused "--port 80: expected 1024..65535" --port 80
snapshot | diff "$TEST_TMP/before" - || fail "a refused set-up changed the tree"

# The rsh unit's command as an unprivileged user (what DynamicUser gives it; needs root to switch):
# the daemon answers and starts loadagent, which runs (and fails only on the controller it
# cannot reach).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v ncat >/dev/null; then
  chmod 711 "$TEST_TMP"
  mkdir -m 700 "$TEST_TMP/nobody" && chown 65534:65534 "$TEST_TMP/nobody"
  RSH_PORT=$(free_port)
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    "$LOADCTL_SRC/scripts/rsh_daemon.sh" _serve -a 127.0.0.1 -p "$RSH_PORT" -s "$(dirname "$LOADAGENT")" \
    -d "$TEST_TMP/nobody/$RSH_PORT" 2>"$TEST_TMP/nobody.err" &
  RSH_PID=$!
  on_exit "kill $RSH_PID 2>/dev/null || true"
  wait_until 10 port_open "$RSH_PORT" || fail "the unprivileged rsh daemon does not listen: $(cat "$TEST_TMP/nobody.err")"
  assert_eq "$(LOADCTL_RSH_PORT=$RSH_PORT "$LOADCTL_SRC/scripts/rsh_client.sh" 127.0.0.1 ping)" pong "ping of the unprivileged daemon"
  out=$(printf '%064d\n' 7 | LOADCTL_RSH_PORT=$RSH_PORT timeout 20 "$LOADCTL_SRC/scripts/rsh_client.sh" 127.0.0.1 \
    "$LOADAGENT" --controller 127.0.0.1:9 --token-stdin --id 1 2>&1) && fail "the agent should fail: nothing listens on port 9"
  [[ $out == *"cannot reach the controller"* ]] || fail "loadagent did not run as the unprivileged user: $out"
  assert_eq "$(stat -c %u "$TEST_TMP/nobody/$RSH_PORT/rsh_daemon.log")" 65534 "owner of the daemon's log"
  kill "$RSH_PID"
else
  log "not root (or no setpriv/ncat): the unprivileged rsh daemon is not tried"
fi

# An admin's file at one of its paths: refused before any change.
mkdir -p "$ROOT/etc/security/limits.d"
echo "admin" >"$ROOT/etc/security/limits.d/90-loadctl.conf"
snapshot >"$TEST_TMP/admin"
"$SETUP" --agent "$LOADAGENT" --root "$ROOT" >"$TEST_TMP/admin.out" 2>&1 && fail "an admin's file was not protected"
grep -q 'limits.d/90-loadctl.conf exists and was not written by host_setup.sh' "$TEST_TMP/admin.out" || fail "$(cat "$TEST_TMP/admin.out")"
snapshot | diff "$TEST_TMP/admin" - >/dev/null || fail "the refused set-up changed the tree"
log "ok"
