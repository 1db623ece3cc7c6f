#!/usr/bin/env bash
# Usage: scripts/compare_tsung.sh [--keep] [--loadctl-only] SCENARIO [DIR]
# Runs SCENARIO with real Tsung (`tsung`) and with loadctl against one private nginx
# (scripts/nginx_target.sh, on 127.0.0.1, a free port, stopped at exit), then prints the tsung.log
# totals of both runs side by side and marks those that differ with '*'.
# In SCENARIO, @PORT@ is replaced by nginx's port (write <server host="127.0.0.1" port="@PORT@">).
# Totals: samples (request, page, session, connect, tr_*) by count, counters by total, `users` by
# its peak. Both logs, the runs and nginx's access log stay in DIR (default: a new temporary
# directory, removed at exit unless --keep). LOADCTL_BIN: the build directory (default build/).
# Exit status: 0 when every total agrees, 1 when some differ, 2 when a run failed.
# --loadctl-only: no Tsung run (the tsung column is '-'); prints loadctl's totals, exit 0 or 2.
set -euo pipefail

keep=false
loadctl_only=false
while [ $# -gt 0 ]; do
  case $1 in
    --keep) keep=true; shift ;;
    --loadctl-only) loadctl_only=true; shift ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { sed -n 2,10p "$0" >&2; exit 2; }
scenario=$1
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${LOADCTL_BIN:-$src/build}
$loadctl_only || command -v tsung >/dev/null || { echo "compare_tsung.sh: tsung is not installed" >&2; exit 2; }
[ -x "$bin/src/controller/loadctl" ] || { echo "compare_tsung.sh: no loadctl in $bin" >&2; exit 2; }

owned=false
if [ $# -ge 2 ]; then
  dir=$2
  mkdir -p "$dir"
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/compare_tsung.XXXXXX")
  $keep || owned=true
fi
dir=$(cd "$dir" && pwd)

port=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-): no outgoing socket holds it
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || { echo "compare_tsung.sh: no free port" >&2; exit 2; }
"$src/scripts/nginx_target.sh" start "$dir/nginx" "$port" >/dev/null
stop_nginx() { "$src/scripts/nginx_target.sh" stop "$dir/nginx" >/dev/null 2>&1 || true; }
trap 'stop_nginx; if $owned; then rm -rf "$dir"; fi' EXIT

sed "s/@PORT@/$port/g" "$scenario" > "$dir/scenario.xml"

if ! $loadctl_only; then
  # Tsung keeps a per-user ~/.tsung; a private HOME keeps runs apart.
  mkdir -p "$dir/home"
  : > "$dir/nginx/access.log"
  if ! (cd "$dir" && HOME=$dir/home timeout 300 tsung -f "$dir/scenario.xml" -l "$dir/tsung" start) \
    > "$dir/tsung.out" 2>&1; then
    cat "$dir/tsung.out" >&2
    echo "compare_tsung.sh: tsung failed" >&2
    exit 2
  fi
  tsung_log=$(ls "$dir"/tsung/*/tsung.log 2>/dev/null | head -1)
  [ -n "$tsung_log" ] || { cat "$dir/tsung.out" >&2; echo "compare_tsung.sh: tsung wrote no tsung.log" >&2; exit 2; }
  grep -q "Config Error" "$dir/tsung.out" && { cat "$dir/tsung.out" >&2; exit 2; }
  cp "$dir/nginx/access.log" "$dir/access-tsung.log"
fi

: > "$dir/nginx/access.log"
st=0
timeout 300 "$bin/src/controller/loadctl" -q -f "$dir/scenario.xml" --run-dir "$dir/loadctl" start \
  > "$dir/loadctl.out" 2>&1 || st=$?
# Exit 3 is a failed --fail-if threshold; anything else but 0 is a failed run.
if [ "$st" -ne 0 ] && [ "$st" -ne 3 ]; then
  cat "$dir/loadctl.out" >&2
  echo "compare_tsung.sh: loadctl exited with $st" >&2
  exit 2
fi
cp "$dir/nginx/access.log" "$dir/access-loadctl.log"

# totals LOG: "name total" lines. Field 3 is the interval's count (samples) or delta (counters),
# so their sum over the blocks is the run's total; `users` is its highest peak; levels and
# Tsung's monitoring of its own host are left out.
totals() {
  awk '$1 == "stats:" && $2 == "users" { if ($4 > peak) peak = $4; seen = 1; next }
       $1 == "stats:" && $2 !~ /^\{/ && $2 != "connected" { t[$2] += $3 }
       END { if (seen) print "users", peak + 0; for (k in t) print k, t[k] }' "$1" | sort
}
totals "$dir/loadctl/tsung.log" > "$dir/totals-loadctl.txt"
last_users() { awk '$1 == "stats:" && $2 == "users" { u = $3 } END { print u + 0 }' "$1"; }
{ echo "users_at_end $(last_users "$dir/loadctl/tsung.log")"; cat "$dir/totals-loadctl.txt"; } | sort > "$dir/l.txt"
if $loadctl_only; then
  echo "served by nginx: loadctl $(wc -l < "$dir/access-loadctl.log") (no Tsung run)"
  awk 'BEGIN { printf "%-28s %12s %12s\n", "metric", "tsung", "loadctl" }
       { printf "%-28s %12s %12s\n", $1, "-", $2 }' "$dir/l.txt"
  exit 0
fi
totals "$tsung_log" > "$dir/totals-tsung.txt"
echo "served by nginx: tsung $(wc -l < "$dir/access-tsung.log"), loadctl $(wc -l < "$dir/access-loadctl.log")"
# Counters only loadctl has (docs/stats.md) are shown but are not differences; the last `users`
# line (users still running at the end) is compared too.
{ echo "users_at_end $(last_users "$tsung_log")"; cat "$dir/totals-tsung.txt"; } | sort > "$dir/t.txt"
join -a1 -a2 -e - -o 0,1.2,2.2 "$dir/t.txt" "$dir/l.txt" |
  awk 'BEGIN { printf "%-28s %12s %12s\n", "metric", "tsung", "loadctl"; d = 0
               split("users_cut_off error_abort_inflight error_arrivals_missed error_agent_lost", o, " ")
               for (i in o) only[o[i]] = 1 }
       { mark = ($2 == $3) ? "" : ($2 == "-" && ($1 in only)) ? " (loadctl only)" : " *"
         if (mark == " *") d = 1
         printf "%-28s %12s %12s%s\n", $1, $2, $3, mark }
       END { exit d }'
