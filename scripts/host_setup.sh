#!/usr/bin/env bash
# host_setup.sh: prepares a Debian/Ubuntu or RHEL-family host as a loadctl load agent, in one
# command, run as root on that host (docs/capacity.md, "Setting up load hosts"):
#   * installs the agent binary given (from this build) as /usr/local/bin/loadagent;
#   * open-files limits in a drop-in, /etc/security/limits.d/90-loadctl.conf, and kernel settings
#     for many connections in /etc/sysctl.d/60-loadctl.conf (ephemeral port range, tcp_tw_reuse);
#   * a systemd unit: a listening agent (loadagent --listen, token file mode 600; the controller
#     runs with -r direct --token-file) or rsh_daemon.sh (the controller runs with
#     -r scripts/rsh_client.sh).
# Each change is shown. Files that exist and were not written by this script are never touched:
# the run stops before changing anything. What it adds is listed, with checksums, in
# /var/lib/loadctl/host_setup.manifest; --revert removes exactly that (a file changed since is
# kept and named).
#
# Usage: host_setup.sh --agent PATH [OPTIONS]        (set up)
#        host_setup.sh --revert [--root DIR] [--dry-run]
#   --agent PATH     the loadagent binary to install (e.g. build/loadagent)
#   --mode MODE      listen (default): `loadagent --listen PORT --token-file ...` as loadagent.service;
#                    rsh: rsh_daemon.sh as loadctl-rsh.service (needs ncat, installed if missing)
#   --port PORT      listen: the agent's port (default 19998); rsh: the daemon's (default 19999)
#   --allow ADDRS    rsh: controller addresses allowed (ncat --allow syntax; default 127.0.0.1)
#   --token-file F   listen: use this token (copied, mode 600) instead of a new random one
#   --nofile N       open files allowed (soft and hard; default 1048576)
#   --root DIR       apply into DIR instead of / (a private root, a chroot, a test); nothing is
#                    started, no package installed, no sysctl applied
#   --dry-run        show the changes, make none
#   --revert         remove what an earlier run added
# Over a fleet, run it with your own tool, e.g.
#   for h in $(cat hosts); do scp build/loadagent scripts/host_setup.sh scripts/rsh_daemon.sh "$h":/tmp/ &&
#     ssh "$h" sudo /tmp/host_setup.sh --agent /tmp/loadagent --token-file /tmp/agent.token; done
#   pssh -h hosts -i 'sudo /tmp/host_setup.sh --agent /tmp/loadagent --mode rsh --allow 10.0.0.5'
#   ansible all -b -m script -a 'scripts/host_setup.sh --agent /tmp/loadagent' (after a copy task)
set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SELF_DIR
readonly MANIFEST_REL=var/lib/loadctl/host_setup.manifest

die() { echo "host_setup.sh: $*" >&2; exit 2; }
say() { echo "host_setup.sh: $*"; }

root=/ agent= mode=listen port= allow=127.0.0.1 token_src= nofile=1048576 dry=0 revert=0
while [ $# -gt 0 ]; do
  case $1 in
    --agent) agent=${2:?--agent PATH}; shift 2 ;;
    --mode) mode=${2:?--mode listen|rsh}; shift 2 ;;
    --port) port=${2:?--port PORT}; shift 2 ;;
    --allow) allow=${2:?--allow ADDRS}; shift 2 ;;
    --token-file) token_src=${2:?--token-file FILE}; shift 2 ;;
    --nofile) nofile=${2:?--nofile N}; shift 2 ;;
    --root) root=${2:?--root DIR}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --revert) revert=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--help lists them)" ;;
  esac
done
[ -d "$root" ] || die "--root $root: not a directory"
root=$(cd "$root" && pwd)
R=${root%/}  # prefix of every path written: "" for the real root
manifest=$R/$MANIFEST_REL
[[ $mode == listen || $mode == rsh ]] || die "--mode $mode: expected listen or rsh"
[[ $nofile =~ ^[0-9]+$ ]] && [ "$nofile" -ge 1024 ] || die "--nofile $nofile: expected a number >= 1024"
[ -n "$port" ] || { [ "$mode" = listen ] && port=19998 || port=19999; }
[[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "--port $port: expected 1..65535"
real_root() { [ -z "$R" ]; }

# ---- revert ----
if [ "$revert" = 1 ]; then
  [ -f "$manifest" ] || die "nothing to revert: $manifest does not exist"
  dirs=()
  while IFS=' ' read -r kind sum path; do
    case $kind in
      file)
        if [ ! -e "$R$path" ]; then say "already gone: $path"; continue; fi
        if [ "$(sha256sum <"$R$path" | cut -d' ' -f1)" != "$sum" ]; then
          say "kept $path: changed since host_setup.sh wrote it (remove it yourself)"; continue
        fi
        say "- remove $path"
        [ "$dry" = 1 ] || rm -f -- "$R$path" ;;
      dir) dirs=("$path" "${dirs[@]}") ;;
    esac
  done <"$manifest"
  if real_root && [ "$dry" = 0 ]; then
    systemctl disable --now loadagent.service loadctl-rsh.service 2>/dev/null || true
    systemctl daemon-reload 2>/dev/null || true
    say "sysctl values stay as they are until the next boot (sysctl --system reloads the others)"
  fi
  [ "$dry" = 1 ] || rm -f -- "$manifest"
  for d in "${dirs[@]}"; do  # deepest first; only if empty (something else may live there now)
    if [ "$dry" = 1 ]; then say "- remove directory $d (if empty)"; continue; fi
    rmdir -- "$R$d" 2>/dev/null && say "- remove directory $d" || true
  done
  exit 0
fi

# ---- set up: plan every change, refuse before touching anything ----
[ -n "$agent" ] || die "--agent PATH (the loadagent binary of this build) is required"
[ -f "$agent" ] && [ -x "$agent" ] || die "--agent $agent: not an executable file"
[ -f "$manifest" ] && die "already set up ($manifest exists): run --revert first"
if real_root && [ "$dry" = 0 ] && [ "$(id -u)" -ne 0 ]; then die "run as root (or with --root DIR / --dry-run)"; fi

os_id=$( (. "$R/etc/os-release" 2>/dev/null && echo "${ID:-} ${ID_LIKE:-}") || true)
case " $os_id " in
  *" debian "*|*" ubuntu "*) family=debian ;;
  *" rhel "*|*" fedora "*|*" centos "*|*" rocky "*|*" almalinux "*) family=rhel ;;
  *) family=unknown ;;
esac
say "host family: $family${os_id:+ ($os_id)}; root: ${R:-/}; mode: $mode"

files=() contents=() perms=()
plan_file() { files+=("$1"); contents+=("$2"); perms+=("$3"); }

plan_file /usr/local/bin/loadagent "@$agent" 755
plan_file /etc/security/limits.d/90-loadctl.conf "# loadctl load agent (scripts/host_setup.sh; --revert removes it)
* soft nofile $nofile
* hard nofile $nofile
root soft nofile $nofile
root hard nofile $nofile
" 644
sysctl_text="# loadctl load agent (scripts/host_setup.sh; --revert removes it)
# ephemeral ports per (source IP, destination): 64512 instead of the default 28232
net.ipv4.ip_local_port_range = 1024 65535
# connect() may take back ports of connections in TIME_WAIT (timestamps on)
net.ipv4.tcp_tw_reuse = 1
"
[ "$nofile" -gt 1048576 ] && sysctl_text+="# open files a process may be allowed (the default 1048576 is below --nofile)
fs.nr_open = $nofile
"
plan_file /etc/sysctl.d/60-loadctl.conf "$sysctl_text" 644

if [ "$mode" = listen ]; then
  if [ -n "$token_src" ]; then
    token=$(head -n1 -- "$token_src") || die "--token-file $token_src: cannot read it"
  else
    token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  fi
  [[ $token =~ ^[0-9A-Za-z._-]{16,}$ ]] || die "the token must be 16 or more letters, digits, . _ -"
  plan_file /etc/loadctl/agent.token "$token
" 600
  plan_file /etc/systemd/system/loadagent.service "# loadctl load agent (scripts/host_setup.sh; --revert removes it)
[Unit]
Description=loadctl agent listening for a controller (loadctl -r direct)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/loadagent --listen $port --token-file /etc/loadctl/agent.token
LimitNOFILE=$nofile
Restart=on-failure

[Install]
WantedBy=multi-user.target
" 644
else
  [ -f "$SELF_DIR/rsh_daemon.sh" ] || die "rsh mode needs rsh_daemon.sh next to this script"
  plan_file /usr/local/lib/loadctl/rsh_daemon.sh "@$SELF_DIR/rsh_daemon.sh" 755
  plan_file /etc/systemd/system/loadctl-rsh.service "# loadctl rsh daemon (scripts/host_setup.sh; --revert removes it)
[Unit]
Description=loadctl rsh_daemon.sh: starts loadagent for the controllers in --allow
After=network-online.target
Wants=network-online.target

[Service]
Type=forking
ExecStart=/usr/local/lib/loadctl/rsh_daemon.sh -a $allow -p $port -s /usr/local/bin start
ExecStop=/usr/local/lib/loadctl/rsh_daemon.sh -p $port stop
LimitNOFILE=$nofile

[Install]
WantedBy=multi-user.target
" 644
fi

for f in "${files[@]}" "/$MANIFEST_REL"; do
  [ -e "$R$f" ] || [ -L "$R$f" ] && die "$f exists and was not written by host_setup.sh: not touching it (move it away, or merge by hand)"
done

# ---- apply ----
[ "$dry" = 1 ] && say "dry run: nothing is changed"
new_dirs=()
make_dir() {  # mkdir -p, remembering each directory it creates
  local d=$1 missing=()
  while [ ! -d "$R$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do
    say "+ directory $d"
    [ "$dry" = 1 ] || mkdir -m 755 -- "$R$d"
    new_dirs+=("$d")
  done
}
make_dir "$(dirname "/$MANIFEST_REL")"
entries=()
for i in "${!files[@]}"; do
  f=${files[$i]} c=${contents[$i]} m=${perms[$i]}
  make_dir "$(dirname "$f")"
  if [[ $c == @* ]]; then
    say "+ $f (mode $m): copy of ${c#@}"
    [ "$dry" = 1 ] || install -m "$m" -- "${c#@}" "$R$f"
  else
    say "+ $f (mode $m):"
    if [ "$f" = /etc/loadctl/agent.token ]; then echo "    (the token, not shown)"; else printf '%s' "$c" | sed 's/^/    /'; fi
    if [ "$dry" = 0 ]; then
      (umask 077 && printf '%s' "$c" >"$R$f")
      chmod "$m" -- "$R$f"
    fi
  fi
  [ "$dry" = 1 ] || entries+=("file $(sha256sum <"$R$f" | cut -d' ' -f1) $f")
done
if [ "$dry" = 0 ]; then
  {
    for d in "${new_dirs[@]}"; do echo "dir - $d"; done
    printf '%s\n' "${entries[@]}"
  } >"$manifest"
  chmod 600 "$manifest"
  say "+ /$MANIFEST_REL: what --revert removes"
fi

# ---- what only a real host gets: packages, sysctl values now, the service started ----
if ! real_root || [ "$dry" = 1 ]; then
  say "not done here (private root or dry run): packages (ncat for rsh), sysctl -p /etc/sysctl.d/60-loadctl.conf, systemctl enable --now of the unit"
  exit 0
fi
if [ "$mode" = rsh ] && ! command -v ncat >/dev/null; then
  case $family in
    debian) say "installing ncat (apt-get)"; apt-get install -y ncat ;;
    rhel) say "installing nmap-ncat (dnf)"; (command -v dnf >/dev/null && dnf install -y nmap-ncat) || yum install -y nmap-ncat ;;
    *) die "install ncat, then run systemctl enable --now loadctl-rsh.service" ;;
  esac
fi
sysctl -p /etc/sysctl.d/60-loadctl.conf
systemctl daemon-reload
unit=loadagent.service
[ "$mode" = rsh ] && unit=loadctl-rsh.service
systemctl enable --now "$unit"
say "done: $unit running; new logins get nofile $nofile (limits.d)"
[ "$mode" = listen ] && say "the controller needs the same token: copy /etc/loadctl/agent.token (mode 600) and run loadctl -r direct --token-file FILE"
exit 0
