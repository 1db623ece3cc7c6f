#!/usr/bin/env bash
# Multi-host helpers for integration tests, sourced after lib.sh:
#   source "$(dirname "$0")/lib.sh"; source "$(dirname "$0")/netns.sh"
#   netns_require            # SKIP (exit 0) unless root with a working `ip netns`
#   netns_create 3           # hosts 1..3: NETNS_NAME[i], NETNS_IP[i]; the root namespace is NETNS_ROOT_IP
#   netns_exec 2 CMD ARGS... # runs CMD inside host 2
#   netns_start_rsh_daemon   # scripts/rsh_daemon.sh on host 1 (for -r scripts/rsh_client.sh)
#   netns_start_agent_hosts  # that, and a listening agent on host 2 (for -r direct)
#
# Topology: one bridge in the root namespace holding $NETNS_NET.1/24 (NETNS_NET is one /24 of
# 198.18.0.0/15; the root is the "controller" machine, also where nginx listens), and per host a
# namespace with `lo` up and eth0 = $NETNS_NET.(i+1)/24,
# joined to the bridge by a veth pair. Hosts reach each other and the root over the bridge, and
# nothing else (no default route). Names carry the test's pid so parallel tests never clash;
# netns_cleanup (registered with on_exit) kills what runs inside and removes everything.

NETNS_PREFIX="lc$$"
NETNS_BRIDGE="${NETNS_PREFIX}br"
# One /24 of 198.18.0.0/15 per test run (picked by pid), so parallel tests' bridges (almost) never share
# an address in the root namespace.
_netns_index=$(($$ % 512))
NETNS_NET=198.$((18 + _netns_index / 256)).$((_netns_index % 256))
NETNS_ROOT_IP=$NETNS_NET.1
NETNS_NAME=()
NETNS_IP=()

# skip MSG: the test cannot run here; exits 0 so the suite stays green.
skip() { echo "SKIP: $TEST_NAME: $*"; exit 0; }

netns_require() {
  [ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
  command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
  local probe="${NETNS_PREFIX}probe"
  ip netns add "$probe" 2>/dev/null || skip "'ip netns add' does not work here"
  ip netns del "$probe" 2>/dev/null || true
  ip link add "${NETNS_PREFIX}pb" type bridge 2>/dev/null || skip "cannot create a bridge interface"
  ip link del "${NETNS_PREFIX}pb" 2>/dev/null || true
}

# netns_create N: creates the bridge and hosts 1..N (call once per test).
netns_create() {
  local n=$1 i ns veth
  on_exit netns_cleanup
  ip link add "$NETNS_BRIDGE" type bridge || fail "cannot create bridge $NETNS_BRIDGE"
  ip addr add "$NETNS_ROOT_IP/24" dev "$NETNS_BRIDGE"
  ip link set "$NETNS_BRIDGE" up
  for ((i = 1; i <= n; i++)); do
    ns="${NETNS_PREFIX}h$i"
    veth="${NETNS_PREFIX}v$i"
    ip netns add "$ns" || fail "cannot create namespace $ns"
    NETNS_NAME[i]=$ns
    NETNS_IP[i]=$NETNS_NET.$((i + 1))
    ip link add "$veth" type veth peer name "${veth}p"
    ip link set "${veth}p" netns "$ns"
    ip link set "$veth" master "$NETNS_BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "${veth}p" name eth0
    ip -n "$ns" addr add "${NETNS_IP[i]}/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  for ((i = 1; i <= n; i++)); do
    wait_until 5 _netns_reaches_root "$i" || fail "host $i cannot reach $NETNS_ROOT_IP over the bridge"
  done
  log "namespaces ${NETNS_NAME[*]} on bridge $NETNS_BRIDGE ($NETNS_ROOT_IP/24)"
}

# _netns_reaches_root I: a TCP connect from host I to the root on a closed port is refused
# (not timed out), so the path works.
_netns_reaches_root() {
  local out
  out=$(netns_exec "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$NETNS_ROOT_IP/9" 2>&1 || true)
  [[ $out == *refused* ]]
}

# netns_exec I CMD ARGS...: CMD inside host I.
netns_exec() {
  local i=$1
  shift
  ip netns exec "${NETNS_NAME[i]}" "$@"
}

# rsh_daemon start|status|stop|kill: scripts/rsh_daemon.sh on host 1, bound to its address and port
# $LOADCTL_RSH_PORT, taking only the root namespace as a peer, starting LOADCTL_BIN's loadagent,
# its files in $TEST_TMP/rsh.
rsh_daemon() {
  netns_exec 1 "$LOADCTL_SRC/scripts/rsh_daemon.sh" "$1" -a "$NETNS_ROOT_IP" -p "$LOADCTL_RSH_PORT" \
    -b "${NETNS_IP[1]}" -s "$(dirname "$LOADAGENT")" -d "$TEST_TMP/rsh"
}

# netns_start_rsh_daemon: rsh_daemon on port 19999 (exported as LOADCTL_RSH_PORT, for
# rsh_client.sh), killed at exit.
netns_start_rsh_daemon() {
  export LOADCTL_RSH_PORT=19999
  on_exit "rsh_daemon kill >/dev/null"
  rsh_daemon start >&2 || fail "rsh_daemon.sh did not start on host 1"
}

# netns_start_agent_hosts: the two ways to reach an agent's host (after netns_create 2): host 1
# runs rsh_daemon (netns_start_rsh_daemon, for -r scripts/rsh_client.sh), host 2 a listening agent
# on its address, port 19998, taking the token in $TEST_TMP/token (-r direct), logging to
# $TEST_TMP/listen.log.
netns_start_agent_hosts() {
  netns_start_rsh_daemon
  new_token "$TEST_TMP/token" > /dev/null
  AGENT_VIA="netns_exec 2" start_listening_agent "${NETNS_IP[2]}:19998" "$TEST_TMP/token" "$TEST_TMP/listen.log"
}

# netns_add_ip I ADDR: an extra address on host I's eth0 (for <ip> source address lists); use
# $NETNS_NET.N with N above 100 to stay clear of the hosts' own addresses.
netns_add_ip() { ip -n "${NETNS_NAME[$1]}" addr add "$2/24" dev eth0; }

# netns_cleanup: kills every process left in the test's namespaces (all started by this test)
# and removes the namespaces, veths and the bridge. Safe to call twice.
netns_cleanup() {
  local ns pid
  for ns in "${NETNS_NAME[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$NETNS_BRIDGE" 2>/dev/null || true
  NETNS_NAME=()
}
