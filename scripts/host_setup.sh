#!/usr/bin/env bash
# host_setup.sh: prepares a Debian/Ubuntu or RHEL-family host as a loadctl load agent, in one
# command, run as root on that host (docs/capacity.md, "Setting up load hosts"):
#   * installs the agent binary given (from this build) as /usr/local/bin/loadagent;
#   * open-files limits in a drop-in, /etc/security/limits.d/90-loadctl.conf, and kernel settings
#     for many connections in /etc/sysctl.d/60-loadctl.conf (ephemeral port range, tcp_tw_reuse);
#   * a systemd unit: a listening agent (loadagent --listen, token file mode 600; the controller
#     runs with -r direct --token-file) or rsh_daemon.sh (the controller runs with
#     -r scripts/rsh_client.sh). The unit runs as a dynamic unprivileged user (DynamicUser=yes)
#     with no capabilities, a read-only system, no /home and a private /tmp; the token reaches
#     it as a systemd credential (LoadCredential, systemd 247+: Debian 11/12, Ubuntu 22.04,
#     RHEL 9). Older systemd is refused (docs/capacity.md gives the manual fallback).
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
#   --port PORT      listen: the agent's port (default 19998); rsh: the daemon's (default 19999);
#                    1024..65535 (the unit has no capability to bind lower ports)
#   --allow ADDRS    rsh only: controller addresses allowed (ncat --allow syntax: IPs, CIDRs,
#                    names, comma-separated; default 127.0.0.1). Listen mode refuses it: the
#                    token authenticates the controller (filter the port with your firewall)
#   --token-file F   listen only: use this token (copied, mode 600) instead of a new random one
#   --nofile N       open files allowed (soft and hard; default 1048576)
#   --root DIR       apply into DIR instead of / (a private root, a chroot, a test); nothing is
#                    started, no package installed, no sysctl applied
#   --dry-run        show the changes, make none
#   --revert         remove what an earlier run added
# Over a fleet, run it with your own tool, in a fresh private directory on each host, e.g.
#   for h in $(cat hosts); do d=$(ssh "$h" mktemp -d) &&
#     scp build/src/agent/loadagent scripts/host_setup.sh scripts/rsh_daemon.sh agent.token "$h:$d/" &&
#     ssh "$h" sudo "$d/host_setup.sh" --agent "$d/loadagent" --token-file "$d/agent.token";
#     ssh "$h" rm -rf "$d"; done
# (docs/capacity.md has the same with pssh and ansible).
# Packages it installs (ncat for rsh mode) are named in the manifest; --revert leaves them.
set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SELF_DIR
readonly MANIFEST_REL=var/lib/loadctl/host_setup.manifest

die() { echo "host_setup.sh: $*" >&2; exit 2; }
say() { echo "host_setup.sh: $*"; }

root=/ agent= mode=listen port= allow=127.0.0.1 allow_given=0 token_src= nofile=1048576 dry=0 revert=0
while [ $# -gt 0 ]; do
  case $1 in
    --agent) agent=${2:?--agent PATH}; shift 2 ;;
    --mode) mode=${2:?--mode listen|rsh}; shift 2 ;;
    --port) port=${2:?--port PORT}; shift 2 ;;
    --allow) allow=${2:?--allow ADDRS}; allow_given=1; shift 2 ;;
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
[[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1024 ] && [ "$port" -le 65535 ] ||
  die "--port $port: expected 1024..65535 (the unit runs without the capability to bind lower ports)"
[[ $allow =~ ^[0-9A-Za-z.,:/-]+$ ]] || die "--allow $allow: expected addresses, CIDRs or names, comma-separated"
if [ "$revert" = 0 ]; then
  [ "$mode" = listen ] && [ "$allow_given" = 1 ] &&
    die "--allow is for --mode rsh (ncat filters there); a listening agent authenticates the controller by its token: filter port $port with your firewall"
  [ "$mode" = rsh ] && [ -n "$token_src" ] &&
    die "--token-file is for --mode listen; in rsh mode the controller sends each agent its token"
fi
real_root() { [ -z "$R" ]; }
# Every systemctl call goes through here (the test puts a fake systemctl first on PATH).
sysd() { systemctl "$@"; }

# ---- revert ----
# The units first (stopped and disabled while their files are there), then the files, then the
# directories (deepest first, only if empty).
if [ "$revert" = 1 ]; then
  [ -f "$manifest" ] || die "nothing to revert: $manifest does not exist"
  units=() files_rev=() dirs=()
  while IFS=' ' read -r kind sum path; do
    case $kind in
      unit) units+=("$path") ;;
      file) files_rev+=("$sum $path") ;;
      dir) dirs=("$path" ${dirs[@]+"${dirs[@]}"}) ;;
      package) say "$path was installed by host_setup.sh and stays (remove it with your package manager if unused)" ;;
    esac
  done <"$manifest"
  for u in ${units[@]+"${units[@]}"}; do
    if [ "$dry" = 1 ]; then say "- stop and disable $u"; continue; fi
    if real_root; then
      say "- stop and disable $u"
      sysd disable --now "$u" || die "could not disable the unit $u this script installed: nothing removed (see its status)"
      if sysd is-active --quiet "$u"; then die "$u is still running: nothing removed (see systemctl status $u)"; fi
    elif [ -d "$R/etc/systemd/system" ] && command -v systemctl >/dev/null; then
      say "- disable $u in $R"
      sysd --root="$R" disable "$u" || die "systemctl --root=$R disable $u failed: nothing removed"
    fi
  done
  for entry in ${files_rev[@]+"${files_rev[@]}"}; do
    sum=${entry%% *} path=${entry#* }
    if [ ! -e "$R$path" ]; then say "already gone: $path"; continue; fi
    if [ "$(sha256sum <"$R$path" | cut -d' ' -f1)" != "$sum" ]; then
      say "kept $path: changed since host_setup.sh wrote it (remove it yourself)"; continue
    fi
    say "- remove $path"
    [ "$dry" = 1 ] || rm -f -- "$R$path"
  done
  if real_root && [ "$dry" = 0 ]; then
    sysd daemon-reload
    say "sysctl values stay as they are until the next boot (sysctl --system reloads the others)"
  fi
  [ "$dry" = 1 ] || rm -f -- "$manifest"
  for d in ${dirs[@]+"${dirs[@]}"}; do
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
if real_root && [ "$dry" = 0 ]; then
  sd_version=$(sysd --version | awk 'NR == 1 { print $2 }')
  [[ $sd_version =~ ^[0-9]+$ ]] && [ "$sd_version" -ge 247 ] ||
    die "systemd ${sd_version:-?} is older than 247 (no LoadCredential): set the host up by hand (docs/capacity.md, \"Older systemd\")"
fi

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

# Neither mode needs root: agents dial out or listen on a port >= 1024, bind source IPs that
# are the host's, and write only run-time plugins, in their private /tmp; the open-files limit
# comes from LimitNOFILE.
hardening="DynamicUser=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
CapabilityBoundingSet=
AmbientCapabilities="
# unit_text WHAT DESCRIPTION EXEC_LINES: a unit file, hardened as above (without its last newline).
unit_text() {
  printf '%s\n' "# $1 (scripts/host_setup.sh; --revert removes it)" "[Unit]" "Description=$2" \
    "After=network-online.target" "Wants=network-online.target" "" "[Service]" "Type=simple" "$3" \
    "LimitNOFILE=$nofile" "Restart=on-failure"
  printf '%s\n' "$hardening" "" "[Install]" "WantedBy=multi-user.target"
}
if [ "$mode" = listen ]; then
  unit=loadagent.service
  if [ -n "$token_src" ]; then
    token=$(head -n1 -- "$token_src") || die "--token-file $token_src: cannot read it"
  else
    token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  fi
  [[ $token =~ ^[0-9A-Za-z._-]{16,}$ ]] || die "the token must be 16 or more letters, digits, . _ -"
  plan_file /etc/loadctl/agent.token "$token
" 600
  plan_file /etc/systemd/system/$unit "$(unit_text "loadctl load agent" \
    "loadctl agent listening for a controller (loadctl -r direct)" \
    "ExecStart=/usr/local/bin/loadagent --listen $port --token-file \${CREDENTIALS_DIRECTORY}/token
LoadCredential=token:/etc/loadctl/agent.token")"$'\n' 644
else
  unit=loadctl-rsh.service
  [ -f "$SELF_DIR/rsh_daemon.sh" ] || die "rsh mode needs rsh_daemon.sh next to this script"
  plan_file /usr/local/lib/loadctl/rsh_daemon.sh "@$SELF_DIR/rsh_daemon.sh" 755
  plan_file /etc/systemd/system/$unit "$(unit_text "loadctl rsh daemon" \
    "loadctl rsh_daemon.sh: starts loadagent for the controllers in --allow" \
    "# In the foreground: the daemon's own process (stopping the unit also ends running agents).
ExecStart=/usr/local/lib/loadctl/rsh_daemon.sh _serve -a $allow -p $port -s /usr/local/bin -d /run/loadctl-rsh/$port
RuntimeDirectory=loadctl-rsh
RuntimeDirectoryMode=0700")"$'\n' 644
fi

for f in "${files[@]}" "/$MANIFEST_REL"; do
  [ -e "$R$f" ] || [ -L "$R$f" ] && die "$f exists and was not written by host_setup.sh: not touching it (move it away, or merge by hand)"
done

# ---- apply ----
# The manifest is written first and each entry appended just before its file or directory is
# created: a run that fails partway leaves a manifest --revert can undo.
[ "$dry" = 1 ] && say "dry run: nothing is changed"
record() { [ "$dry" = 1 ] || echo "$*" >>"$manifest"; }
set -E
trap '[ "$dry" = 1 ] || echo "host_setup.sh: failed partway: run host_setup.sh --revert${R:+ --root $R} to remove what was added" >&2' ERR
new_dirs=()
make_dir() {  # mkdir -p, recording each directory it creates
  local d=$1 missing=()
  while [ ! -d "$R$d" ]; do missing=("$d" ${missing[@]+"${missing[@]}"}); d=$(dirname "$d"); done
  for d in ${missing[@]+"${missing[@]}"}; do
    say "+ directory $d"
    if [ -f "$manifest" ]; then record "dir - $d"; else new_dirs+=("$d"); fi
    [ "$dry" = 1 ] || mkdir -m 755 -- "$R$d"
  done
}
make_dir "$(dirname "/$MANIFEST_REL")"
if [ "$dry" = 0 ]; then
  (umask 077 && : >"$manifest")
  for d in ${new_dirs[@]+"${new_dirs[@]}"}; do record "dir - $d"; done
  say "+ /$MANIFEST_REL: what --revert removes"
fi
record "unit - $unit"
for i in "${!files[@]}"; do
  f=${files[$i]} c=${contents[$i]} m=${perms[$i]}
  make_dir "$(dirname "$f")"
  if [[ $c == @* ]]; then
    say "+ $f (mode $m): copy of ${c#@}"
    record "file $(sha256sum <"${c#@}" | cut -d' ' -f1) $f"
    [ "$dry" = 1 ] || install -m "$m" -- "${c#@}" "$R$f"
  else
    say "+ $f (mode $m):"
    if [ "$f" = /etc/loadctl/agent.token ]; then echo "    (the token, not shown)"; else printf '%s' "$c" | sed 's/^/    /'; fi
    record "file $(printf '%s' "$c" | sha256sum | cut -d' ' -f1) $f"
    if [ "$dry" = 0 ]; then
      (umask 077 && printf '%s' "$c" >"$R$f")
      chmod "$m" -- "$R$f"
    fi
  fi
done
trap - ERR

# ---- what only a real host gets: packages, sysctl values now, the service started ----
if ! real_root || [ "$dry" = 1 ]; then
  say "not done here (private root or dry run): packages (ncat for rsh), sysctl -p /etc/sysctl.d/60-loadctl.conf, systemctl enable --now of the unit"
  exit 0
fi
if [ "$mode" = rsh ] && ! command -v ncat >/dev/null; then
  case $family in
    debian) say "installing ncat (apt-get)"; record "package - ncat"; apt-get install -y ncat ;;
    rhel) say "installing nmap-ncat (dnf)"; record "package - nmap-ncat"
      (command -v dnf >/dev/null && dnf install -y nmap-ncat) || yum install -y nmap-ncat ;;
    *) die "install ncat, then run systemctl enable --now loadctl-rsh.service" ;;
  esac
fi
sysctl -p /etc/sysctl.d/60-loadctl.conf
sysd daemon-reload
sysd enable --now "$unit"
say "done: $unit running; new logins get nofile $nofile (limits.d)"
[ "$mode" = listen ] && say "the controller needs the same token: copy /etc/loadctl/agent.token (mode 600) and run loadctl -r direct --token-file FILE"
exit 0
