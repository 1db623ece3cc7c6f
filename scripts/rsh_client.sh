#!/usr/bin/env bash
# rsh_client.sh: the client of rsh_daemon.sh, used as loadctl's remote shell:
#   loadctl -r scripts/rsh_client.sh -f scenario.xml start
# runs, for every non-local <client> host,
#   rsh_client.sh HOST /abs/path/loadagent --controller IP:PORT --token-stdin --id N --threads N
# which sends that command as one line to HOST's rsh_daemon.sh, then (with --token-stdin) the
# first line of its own stdin (the agent's token, which is never on a command line), and relays
# the agent's output.
#   rsh_client.sh HOST ping     prints "pong" when the daemon answers (exit 0), else fails.
# Environment: LOADCTL_RSH_PORT (default 19999), LOADCTL_RSH_TIMEOUT (connect timeout in s, default 5).
# Exit status: the agent's own exit status; 1 when refused or unreachable (message on stderr,
# naming the host); 2 for a usage error.
set -euo pipefail

port=${LOADCTL_RSH_PORT:-19999}
timeout=${LOADCTL_RSH_TIMEOUT:-5}

usage() { sed -n '2,12p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
host=$1
shift
[[ $host =~ ^[A-Za-z0-9.:_-]+$ ]] || { echo "rsh_client.sh: bad host name '$host'" >&2; exit 2; }
[[ $port =~ ^[0-9]{1,5}$ ]] || { echo "rsh_client.sh: bad LOADCTL_RSH_PORT '$port'" >&2; exit 2; }
command -v ncat >/dev/null || { echo "rsh_client.sh: ncat not found (apt-get install ncat)" >&2; exit 1; }

# The daemon accepts only these characters; say so here rather than get a remote refusal.
safe='^[]A-Za-z0-9./:_[-]+$'
for arg in "$@"; do
  [[ $arg =~ $safe ]] || { echo "rsh_client.sh: argument '$arg' has characters rsh_daemon.sh refuses" >&2; exit 2; }
done
line="$*"
# --token-stdin: the token is the first line of our stdin; it follows the command line.
token=""
for arg in "$@"; do
  [ "$arg" != --token-stdin ] && continue
  IFS= read -r -t 10 token || [ -n "$token" ] || { echo "rsh_client.sh: --token-stdin but no token on stdin" >&2; exit 2; }
done

errfile=$(mktemp "${TMPDIR:-/tmp}/rsh_client.XXXXXX")
ncat_pid=""
cleanup() {
  [ -z "$ncat_pid" ] || kill -TERM "$ncat_pid" 2>/dev/null || true
  rm -f "$errfile"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# --no-shutdown: keep receiving after our single line is sent, until the daemon closes.
# printf is a builtin: the token is written to ncat's stdin pipe, never on a command line.
exec 3< <(exec ncat --no-shutdown -w "$timeout" "$host" "$port" 2>"$errfile" \
  < <(printf '%s\n' "$line"; [ -z "$token" ] || printf '%s\n' "$token"))
ncat_pid=$!

ncat_failure() {
  local rc=0
  wait "$ncat_pid" 2>/dev/null || rc=$?
  ncat_pid=""
  [ "$rc" -ne 0 ] || return 1
  local why
  why=$(sed -n 's/^Ncat: //; s/\.$//p' "$errfile" | head -n 1)
  echo "rsh_client.sh: $host:$port unreachable: ${why:-ncat exit status $rc}; is rsh_daemon.sh running there (rsh_daemon.sh status -p $port), with this host in its -a list?" >&2
  return 0
}

first=""
rc=0
IFS= read -r -t "$((timeout + 10))" first <&3 || rc=$?
if [ "$rc" -gt 128 ]; then
  echo "rsh_client.sh: $host:$port accepted the connection but sent no answer within $((timeout + 10)) s" >&2
  exit 1
fi
if [ "$rc" -ne 0 ] && [ -z "$first" ]; then
  ncat_failure && exit 1
  echo "rsh_client.sh: $host:$port closed the connection without answering; is this host in the daemon's allowed addresses (rsh_daemon.sh -a)?" >&2
  exit 1
fi
case "$first" in
  "refused: "*)
    echo "rsh_client.sh: $host: $first" >&2
    exit 1
    ;;
esac
if [ "$line" = ping ]; then
  [ "$first" = pong ] || { echo "rsh_client.sh: $host:$port answered '$first' instead of pong" >&2; exit 1; }
  echo pong
  exit 0
fi

printf '%s\n' "$first"
last=""
while IFS= read -r out <&3 || [ -n "$out" ]; do
  printf '%s\n' "$out"
  last=$out
  out=""
done
ncat_failure || true
case "$last" in
  "rsh_daemon: loadagent exited with status "[0-9]*) exit "${last##* }" ;;
esac
echo "rsh_client.sh: $host: connection ended before the agent's exit status arrived" >&2
exit 1
