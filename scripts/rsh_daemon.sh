#!/usr/bin/env bash
# rsh_daemon.sh: a tiny remote-exec daemon for loadctl client hosts, the SSH replacement for
# networks where SSH between hosts is not allowed. Needs only bash and ncat.
#
# Usage: rsh_daemon.sh start|stop|status|restart|kill [-a ALLOWED] [-p PORT] [-b BIND]
#                      [-s AGENT_DIR] [-l LOGFILE] [-d RUNDIR]
#   -a ALLOWED   controller addresses allowed to connect (ncat --allow syntax: comma-separated
#                IPs, CIDRs or names); default 127.0.0.1
#   -p PORT      TCP port (default 19999; rsh_client.sh reads LOADCTL_RSH_PORT)
#   -b BIND      listen address (default: all addresses)
#   -s AGENT_DIR directory holding the loadagent binary (default: the build tree next to this
#                script, else the loadagent on PATH)
#   -l LOGFILE   log of every connection, refusal and agent start (default RUNDIR/rsh_daemon.log)
#   -d RUNDIR    pid files and default log (default /tmp/loadctl-rsh-PORT)
# stop ends the listener (agents already running finish their run); kill also kills them.
# status exits 0 when running, 3 when not.
#
# Each connection sends one line. "ping" is answered with "pong". A loadagent command line
#   [AGENT_DIR/]loadagent --controller HOST:PORT --token HEX --id N [--threads N]
# is checked argument by argument and AGENT_DIR/loadagent is run with them; its output streams
# back over the connection, followed by "rsh_daemon: loadagent exited with status N". Anything
# else gets "refused: REASON", is logged, and the connection is closed. The line is never
# evaluated by a shell.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
readonly SELF
readonly MAX_LINE=4096
readonly READ_TIMEOUT=10

die() { echo "rsh_daemon.sh: $*" >&2; exit 2; }
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# ---- per-connection filter (run by ncat --sh-exec; stdin/stdout are the connection) ----

# log_event TEXT: one line in the daemon log, naming the peer.
log_event() {
  printf '%s peer=%s:%s %s\n' "$(stamp)" "${NCAT_REMOTE_ADDR:-?}" "${NCAT_REMOTE_PORT:-?}" "$*" \
    >>"$LOADCTL_RSH_LOG"
}

refuse() {
  log_event "refused: $*"
  printf 'refused: %s\n' "$*"
  exit 1
}

# valid_option NAME VALUE: 0 when VALUE is acceptable for the loadagent option NAME.
valid_option() {
  local name=$1 value=$2
  case "$name" in
    --controller)
      local host=${value%:*} port=${value##*:}
      [[ $value == *:* && $port =~ ^[0-9]{1,5}$ ]] && ((10#$port >= 1 && 10#$port <= 65535)) || return 1
      [[ $host =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$ || $host =~ ^\[?[0-9A-Fa-f:.]{2,45}\]?$ ]]
      ;;
    --token) [[ $value =~ ^[0-9a-f]{16,128}$ ]] ;;
    --id) [[ $value =~ ^[0-9]{1,6}$ ]] ;;
    --threads) [[ $value =~ ^[0-9]{1,4}$ ]] ;;
    *) return 1 ;;
  esac
}

# close_inherited_fds: ncat's listening socket leaks into the filter; an agent must not keep it
# (else the port stays open after "stop" and new connections hang unanswered).
close_inherited_fds() {
  local path fd
  for path in "/proc/$BASHPID/fd/"*; do
    fd=${path##*/}
    [[ $fd =~ ^[0-9]+$ ]] && [ "$fd" -gt 2 ] || continue
    exec {fd}>&- 2>/dev/null || true
  done
}

filter() {
  local line words agent="$LOADCTL_RSH_AGENT_DIR/loadagent"
  IFS= read -r -t "$READ_TIMEOUT" -n "$MAX_LINE" line || [ -n "${line:-}" ] || refuse "no command line within ${READ_TIMEOUT} s"
  line=${line%$'\r'}
  [ -n "${line// /}" ] || refuse "empty command line"
  [ "${#line}" -lt "$MAX_LINE" ] || refuse "command line longer than $MAX_LINE bytes"
  local safe='^[]A-Za-z0-9 ./:_[-]+$'
  [[ $line =~ $safe ]] || refuse "characters outside [A-Za-z0-9 ./:_[]-]"
  read -r -a words <<<"$line"
  [ "${#words[@]}" -gt 0 ] || refuse "empty command line"
  if [ "${#words[@]}" -eq 1 ] && [ "${words[0]}" = ping ]; then
    log_event "ping"
    echo pong
    exit 0
  fi
  case "${words[0]}" in
    loadagent | "$agent") ;;
    */loadagent) refuse "only $agent may run (asked for ${words[0]}; start the daemon with -s DIR)" ;;
    *) refuse "not a loadagent command: ${words[0]}" ;;
  esac
  local -A seen=()
  local i name value
  for ((i = 1; i < ${#words[@]}; i += 2)); do
    name=${words[i]}
    value=${words[i + 1]:-}
    [ -n "$value" ] || refuse "option $name has no value"
    [ -z "${seen[$name]:-}" ] || refuse "option $name given twice"
    valid_option "$name" "$value" || refuse "invalid option or value: $name $value"
    seen[$name]=1
  done
  for name in --controller --token --id; do
    [ -n "${seen[$name]:-}" ] || refuse "missing option $name"
  done
  [ -x "$agent" ] || refuse "no executable $agent on $(hostname)"
  local shown=() previous=""
  for value in "${words[@]:1}"; do
    if [ "$previous" = --token ]; then shown+=("${value:0:4}..."); else shown+=("$value"); fi
    previous=$value
  done
  log_event "starting $agent ${shown[*]}"
  echo "rsh_daemon: running $agent on $(hostname)"
  close_inherited_fds
  local status=0
  "$agent" "${words[@]:1}" 2>&1 </dev/null || status=$?
  log_event "loadagent ${shown[*]} exited with status $status"
  echo "rsh_daemon: loadagent exited with status $status"
}

# ---- daemon control ----

# ncat_log: turns ncat's verbose lines into daemon log lines, naming refused peers.
ncat_log() {
  local line peer='?'
  while IFS= read -r line; do
    case "$line" in
      "Ncat: Connection from "*:*.) peer=${line#Ncat: Connection from }; peer=${peer%.} ;;
      "Ncat: Connection from "*) ;;
      *denied*) printf '%s peer=%s refused: not in the allowed addresses (-a)\n' "$(stamp)" "$peer" ;;
      *) printf '%s %s\n' "$(stamp)" "$line" ;;
    esac
  done >>"$LOADCTL_RSH_LOG"
}

# serve: runs in its own session (the pid file names the session leader).
serve() {
  echo "$BASHPID" >"$rundir/rsh_daemon.pid"
  local listen=(-l -p "$port")
  [ -z "$bind" ] || listen=(-l "$bind" "$port")
  ncat -v -k "${listen[@]}" --allow "$allow" --sh-exec 'exec "$LOADCTL_RSH_SELF" _filter' \
    </dev/null >/dev/null 2> >(ncat_log) &
  local ncat_pid=$!
  echo "$ncat_pid" >"$rundir/ncat.pid"
  trap 'kill -TERM "$ncat_pid" 2>/dev/null || true' TERM INT
  local rc=0
  wait "$ncat_pid" || rc=$?
  wait "$ncat_pid" 2>/dev/null || true
  rm -f "$rundir/rsh_daemon.pid" "$rundir/ncat.pid"
  printf '%s daemon stopped\n' "$(stamp)" >>"$LOADCTL_RSH_LOG"
  exit "$rc"
}

daemon_pid() {
  local pid
  pid=$(cat "$rundir/rsh_daemon.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

listening() { ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; }

start() {
  command -v ncat >/dev/null || die "ncat not found (apt-get install ncat)"
  [ -x "$agent_dir/loadagent" ] || echo "rsh_daemon.sh: warning: no executable $agent_dir/loadagent yet" >&2
  if pid=$(daemon_pid); then echo "rsh_daemon.sh: already running (pid $pid, port $port)"; return 0; fi
  mkdir -p "$rundir"
  touch "$LOADCTL_RSH_LOG"
  printf '%s daemon starting: port %s, allowed %s, agent %s/loadagent\n' "$(stamp)" "$port" "$allow" \
    "$agent_dir" >>"$LOADCTL_RSH_LOG"
  setsid "$SELF" _serve "${passthrough[@]}" </dev/null >/dev/null 2>>"$LOADCTL_RSH_LOG" &
  local _
  for _ in $(seq 1 100); do
    if daemon_pid >/dev/null && listening; then
      echo "rsh_daemon.sh: listening on ${bind:-*}:$port (allowed: $allow; pid $(daemon_pid); log $LOADCTL_RSH_LOG)"
      return 0
    fi
    sleep 0.05
  done
  tail -n 5 "$LOADCTL_RSH_LOG" >&2
  die "did not start listening on port $port (see $LOADCTL_RSH_LOG)"
}

stop() {
  local pid signal=${1:-TERM}
  if ! pid=$(daemon_pid); then echo "rsh_daemon.sh: not running (port $port)"; return 0; fi
  if [ "$signal" = KILL ]; then
    kill -KILL -- "-$pid" 2>/dev/null || true   # the whole session: listener, filters, agents
    rm -f "$rundir/rsh_daemon.pid" "$rundir/ncat.pid"
  else
    kill -TERM "$pid"
  fi
  local _
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { echo "rsh_daemon.sh: stopped (port $port)"; return 0; }
    sleep 0.05
  done
  die "pid $pid did not stop; try: rsh_daemon.sh kill -p $port"
}

status() {
  local pid
  if pid=$(daemon_pid); then
    echo "rsh_daemon.sh: running (pid $pid, port $port, log $LOADCTL_RSH_LOG)"
  else
    echo "rsh_daemon.sh: not running (port $port)"
    return 3
  fi
}

default_agent_dir() {
  local built
  built=$(dirname "$(dirname "$SELF")")/build/src/agent
  if [ -x "$built/loadagent" ]; then echo "$built"
  elif command -v loadagent >/dev/null; then dirname "$(command -v loadagent)"
  else echo "$built"; fi
}

main() {
  [ $# -ge 1 ] || { sed -n '2,24p' "$SELF"; exit 2; }
  local action=$1
  shift
  allow=127.0.0.1 port=19999 bind="" agent_dir="" logfile="" rundir=""
  passthrough=("$@")
  while getopts "a:p:b:s:l:d:" opt; do
    case "$opt" in
      a) allow=$OPTARG ;;
      p) port=$OPTARG ;;
      b) bind=$OPTARG ;;
      s) agent_dir=$OPTARG ;;
      l) logfile=$OPTARG ;;
      d) rundir=$OPTARG ;;
      *) die "unknown option (see: rsh_daemon.sh with no arguments)" ;;
    esac
  done
  [ "$OPTIND" -gt $# ] || die "unexpected argument: ${!OPTIND}"
  [[ $port =~ ^[0-9]{1,5}$ ]] || die "bad port: $port"
  [ -n "$agent_dir" ] || agent_dir=$(default_agent_dir)
  agent_dir=$(cd "$agent_dir" 2>/dev/null && pwd) || die "no such agent directory: $agent_dir"
  [ -n "$rundir" ] || rundir=/tmp/loadctl-rsh-$port
  [ -n "$logfile" ] || logfile=$rundir/rsh_daemon.log
  mkdir -p "$rundir" "$(dirname "$logfile")"
  logfile=$(cd "$(dirname "$logfile")" && pwd)/$(basename "$logfile")
  export LOADCTL_RSH_SELF=$SELF LOADCTL_RSH_LOG=$logfile LOADCTL_RSH_AGENT_DIR=$agent_dir
  case "$action" in
    start) start ;;
    stop) stop TERM ;;
    kill) stop KILL ;;
    restart) stop TERM && start ;;
    status) status ;;
    _serve) serve ;;
    *) die "unknown action '$action': start|stop|status|restart|kill" ;;
  esac
}

if [ "${1:-}" = _filter ]; then
  filter
else
  main "$@"
fi
