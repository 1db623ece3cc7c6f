#!/usr/bin/env bash
# rsh_daemon.sh: a tiny remote-exec daemon for loadctl client hosts, the SSH replacement for
# networks where SSH between hosts is not allowed. Needs only bash and ncat.
#
# Usage: rsh_daemon.sh [OPTIONS] start|stop|status|restart|kill [OPTIONS]   (options before or after)
#   -a ALLOWED   controller addresses allowed to connect (ncat --allow syntax: comma-separated
#                IPs, CIDRs or names); default 127.0.0.1
#   -p PORT      TCP port (default 19999; rsh_client.sh reads LOADCTL_RSH_PORT)
#   -b BIND      listen address (default: all addresses)
#   -s AGENT_DIR directory holding the loadagent binary (default: the build tree next to this
#                script, else the loadagent on PATH)
#   -l LOGFILE   log of every connection, refusal and agent start (default RUNDIR/rsh_daemon.log);
#                rotated to LOGFILE.1 past LOADCTL_RSH_LOG_MAX bytes (default 1048576), and refused
#                peers are logged at most 20 per 10 s (then one line counting the others)
#   -d RUNDIR    pid files and default log: a private directory (mode 700, owned by this user, not
#                a symlink; refused otherwise). Default: /run/loadctl-rsh/PORT as root, else
#                $XDG_RUNTIME_DIR/loadctl-rsh/PORT, else /tmp/loadctl-rsh-UID/PORT
# stop ends the listener (agents already running finish their run); kill also kills them.
# status exits 0 when running, 3 when not.
#
# Each connection sends one line. "ping" is answered with "pong". A loadagent command line
#   [AGENT_DIR/]loadagent --controller HOST:PORT --token-stdin --id N [--threads N]
# followed by a second line holding the agent's token (32-128 hex digits; never on a command
# line) is checked argument by argument and AGENT_DIR/loadagent is run with them, the token on
# its stdin; its output streams
# back over the connection, followed by "rsh_daemon: loadagent exited with status N". Anything
# else gets "refused: REASON", is logged, and the connection is closed. The line is never
# evaluated by a shell.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
readonly SELF
readonly MAX_LINE=4096
readonly READ_TIMEOUT=10
readonly LOG_MAX=${LOADCTL_RSH_LOG_MAX:-1048576}
readonly REFUSED_PER_WINDOW=20 REFUSED_WINDOW=10

die() { echo "rsh_daemon.sh: $*" >&2; exit 2; }
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# ---- per-connection filter (run by ncat --sh-exec; stdin/stdout are the connection) ----

# rotate_log: past LOG_MAX bytes the log becomes LOG.1 (the previous LOG.1 is dropped).
rotate_log() {
  local size
  size=$(stat -c %s -- "$LOADCTL_RSH_LOG" 2>/dev/null) || return 0
  [ "$size" -lt "$LOG_MAX" ] || mv -f -- "$LOADCTL_RSH_LOG" "$LOADCTL_RSH_LOG.1" 2>/dev/null || true
}

# log_event TEXT: one line in the daemon log, naming the peer.
log_event() {
  rotate_log
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
    [ -z "${seen[$name]:-}" ] || refuse "option $name given twice"
    seen[$name]=1
    case "$name" in
      --token-stdin) i=$((i - 1)); continue ;;  # a flag: no value
      --token) refuse "--token on a command line is refused (visible to every local user): the token comes on the line after the command, with --token-stdin" ;;
    esac
    value=${words[i + 1]:-}
    [ -n "$value" ] || refuse "option $name has no value"
    valid_option "$name" "$value" || refuse "invalid option or value: $name $value"
  done
  for name in --controller --token-stdin --id; do
    [ -n "${seen[$name]:-}" ] || refuse "missing option $name"
  done
  local token=""
  IFS= read -r -t "$READ_TIMEOUT" -n 200 token || [ -n "$token" ] || refuse "no token line within ${READ_TIMEOUT} s"
  token=${token%$'\r'}
  [[ $token =~ ^[0-9a-fA-F]{32,128}$ ]] || refuse "the token line is not 32-128 hex digits"
  [ -x "$agent" ] || refuse "no executable $agent on $(hostname)"
  log_event "starting $agent ${words[*]:1}"
  echo "rsh_daemon: running $agent on $(hostname)"
  close_inherited_fds
  local status=0
  # The token reaches the agent through a pipe (printf is a builtin: no command line holds it).
  "$agent" "${words[@]:1}" 2>&1 < <(printf '%s\n' "$token") || status=$?
  log_event "loadagent ${words[*]:1} exited with status $status"
  echo "rsh_daemon: loadagent exited with status $status"
}

# ---- daemon control ----

# ncat_log: turns ncat's verbose lines into daemon log lines, naming refused peers. Refused
# peers are logged at most REFUSED_PER_WINDOW times per REFUSED_WINDOW seconds, then counted.
ncat_log() {
  local line peer='?' rc window_start=$SECONDS logged=0 dropped=0
  while true; do
    rc=0
    IFS= read -r -t "$REFUSED_WINDOW" line || rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -gt 128 ] || break  # EOF: ncat is gone
    if ((SECONDS - window_start >= REFUSED_WINDOW)); then
      ((dropped == 0)) || printf '%s %s more refused connection(s) not logged in the last %s s\n' \
        "$(stamp)" "$dropped" "$((SECONDS - window_start))" >>"$LOADCTL_RSH_LOG"
      window_start=$SECONDS logged=0 dropped=0
    fi
    [ "$rc" -eq 0 ] || continue  # read timeout: only the summary above
    rotate_log
    case "$line" in
      "Ncat: Connection from "*:*.) peer=${line#Ncat: Connection from }; peer=${peer%.} ;;
      "Ncat: Connection from "*) ;;
      *denied*)
        if ((logged < REFUSED_PER_WINDOW)); then
          ((logged += 1))
          printf '%s peer=%s refused: not in the allowed addresses (-a)\n' "$(stamp)" "$peer" >>"$LOADCTL_RSH_LOG"
        else
          ((dropped += 1))
        fi
        ;;
      *) printf '%s %s\n' "$(stamp)" "$line" >>"$LOADCTL_RSH_LOG" ;;
    esac
  done
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

# is_our_daemon PID: 0 when PID is this daemon's session leader: its command line is
# "bash SELF _serve -p PORT ..." and it leads its own session (kill -- -PID reaches only it).
is_our_daemon() {
  local pid=$1 args=() stat
  [ -r "/proc/$pid/cmdline" ] || return 1
  mapfile -d '' -t args <"/proc/$pid/cmdline" 2>/dev/null || return 1
  [ "${#args[@]}" -ge 4 ] && [ "${args[1]}" = "$SELF" ] && [ "${args[2]}" = _serve ] &&
    [ "${args[3]}" = -p ] && [ "${args[4]:-}" = "$port" ] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }  # fields after "(comm) ": state ppid pgrp session ...
  read -r _ _ _ session _ <<<"$stat"
  [ "$session" = "$pid" ]
}

# daemon_pid: prints the daemon's pid when the pid file names a live process that is this
# daemon (a stale or foreign pid is never signalled).
daemon_pid() {
  local pid
  [ -f "$rundir/rsh_daemon.pid" ] && [ ! -L "$rundir/rsh_daemon.pid" ] || return 1
  pid=$(head -c 32 "$rundir/rsh_daemon.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && is_our_daemon "$pid" && echo "$pid"
}

listening() { ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; }

start() {
  command -v ncat >/dev/null || die "ncat not found (apt-get install ncat)"
  [ -x "$agent_dir/loadagent" ] || echo "rsh_daemon.sh: warning: no executable $agent_dir/loadagent yet" >&2
  if pid=$(daemon_pid); then echo "rsh_daemon.sh: already running (pid $pid, port $port)"; return 0; fi
  check_log_file "$LOADCTL_RSH_LOG"
  printf '%s daemon starting: port %s, allowed %s, agent %s/loadagent\n' "$(stamp)" "$port" "$allow" \
    "$agent_dir" >>"$LOADCTL_RSH_LOG"
  # -p again, explicitly: daemon_pid recognises the daemon by "_serve -p PORT" in its cmdline.
  setsid "$SELF" _serve -p "$port" "${passthrough[@]}" </dev/null >/dev/null 2>>"$LOADCTL_RSH_LOG" &
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

# private_dir DIR: creates DIR (mode 700) when missing; refuses a DIR that is a symbolic link,
# not owned by this user or accessible to group/others: another local user must not be able to
# pre-create it and plant links or pid files in it.
private_dir() {
  local dir=$1 owner mode
  [ -e "$dir" ] || [ -L "$dir" ] || (umask 077 && mkdir -p -- "$dir") || die "cannot create $dir"
  [ ! -L "$dir" ] || die "refusing $dir: it is a symbolic link"
  [ -d "$dir" ] || die "refusing $dir: not a directory"
  owner=$(stat -c %u -- "$dir") mode=$(stat -c %a -- "$dir")
  [ "$owner" = "$EUID" ] || die "refusing $dir: owned by uid $owner, not by uid $EUID (created by another user?)"
  ((8#$mode & 8#077)) && die "refusing $dir: mode $mode lets group/others in (chmod 700 $dir)"
  return 0
}

# check_log_file FILE: refuses a symbolic link or a file of another user (no appending to a
# planted link).
check_log_file() {
  local file=$1 owner
  [ ! -L "$file" ] || die "refusing the log $file: it is a symbolic link"
  if [ -e "$file" ]; then
    [ -f "$file" ] || die "refusing the log $file: not a regular file"
    owner=$(stat -c %u -- "$file")
    [ "$owner" = "$EUID" ] || die "refusing the log $file: owned by uid $owner, not by uid $EUID"
  else
    (umask 077 && : >>"$file") || die "cannot create the log $file"
  fi
}

default_rundir() {
  if [ "$EUID" = 0 ]; then
    private_dir /run/loadctl-rsh
    echo "/run/loadctl-rsh/$port"
  elif [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -d "$XDG_RUNTIME_DIR" ] && [ "$(stat -c %u -- "$XDG_RUNTIME_DIR")" = "$EUID" ]; then
    echo "$XDG_RUNTIME_DIR/loadctl-rsh/$port"
  else
    private_dir "/tmp/loadctl-rsh-$EUID"
    echo "/tmp/loadctl-rsh-$EUID/$port"
  fi
}

main() {
  [ $# -ge 1 ] || { sed -n '2,28p' "$SELF"; exit 2; }
  local action="" arg
  allow=127.0.0.1 port=19999 bind="" agent_dir="" logfile="" rundir=""
  passthrough=()
  # Options and the action in any order (Tsung's notes put options first).
  while [ $# -gt 0 ]; do
    arg=$1
    case "$arg" in
      -[apbsld])
        [ $# -ge 2 ] || die "option $arg needs a value"
        case "$arg" in
          -a) allow=$2 ;; -p) port=$2 ;; -b) bind=$2 ;; -s) agent_dir=$2 ;; -l) logfile=$2 ;; -d) rundir=$2 ;;
        esac
        passthrough+=("$arg" "$2")
        shift 2
        continue
        ;;
      -*) die "unknown option $arg (see: rsh_daemon.sh with no arguments)" ;;
    esac
    [ -z "$action" ] || die "unexpected argument: $arg (the action is already '$action')"
    action=$arg
    shift
  done
  [ -n "$action" ] || die "no action: start|stop|status|restart|kill"
  [[ $port =~ ^[0-9]{1,5}$ ]] || die "bad port: $port"
  # Only the actions that run agents need their directory (status/stop work without a build).
  case "$action" in
    start|restart|_serve)
      [ -n "$agent_dir" ] || agent_dir=$(default_agent_dir)
      local resolved
      resolved=$(cd "$agent_dir" 2>/dev/null && pwd) || die "no such agent directory: $agent_dir"
      agent_dir=$resolved ;;
  esac
  [ -n "$rundir" ] || rundir=$(default_rundir)
  private_dir "$rundir"
  [ -n "$logfile" ] || logfile=$rundir/rsh_daemon.log
  [ -d "$(dirname "$logfile")" ] || die "no directory for the log $logfile"
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
