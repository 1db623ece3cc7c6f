#!/usr/bin/env bash
# ts_fs on the agent host: Tsung's example /usr/share/doc/tsung/examples/fs-nfs.xml (a torque
# batch client, its <server type="erlang"> that no request uses, make_dir, open/write_chunk/close,
# open/read_chunk/close) run against a directory under $TEST_TMP. Changed, and only these:
#  - paths: /mnt/bench -> $TEST_TMP/bench; the batch client's node file (PBS_NODEFILE) names
#    localhost; the munin <monitor> of host nef-server is removed (munin: not supported yet);
#  - durations: phases of 10-45 minutes -> 1 second each, the 30-31 s thinktime -> 1-2 s;
#  - sizes: the loops of 100 files x 101 chunks of 64 KB (662 MB per user) -> 3 files x 4
#    chunks written, 3 chunks read back;
#  - the setdynvars sourcetype="eval" (Erlang code choosing another user's id to read from:
#    not supported yet) is removed, and each user reads its own files (previd -> tsung_userid).
# Asserted: one directory per user, 3 files of 4 x 65536 bytes each on disk; tsung.log's
# size_sent = the bytes on disk, size_rcv = 3 x 3 x 65536 per user, no error, every user done.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent

BENCH=$TEST_TMP/bench
mkdir -p "$BENCH"
echo localhost > "$TEST_TMP/nodes"
export PBS_NODEFILE=$TEST_TMP/nodes
python3 - "$BENCH" /usr/share/doc/tsung/examples/fs-nfs.xml > "$TEST_TMP/fs-nfs.xml" <<'PY'
import re, sys
bench, path = sys.argv[1], sys.argv[2]
s = open(path).read()
s = s.replace("/mnt/bench", bench)
s = re.sub(r'\s*<monitor host="nef-server" type="munin"/>', "", s)
s = re.sub(r'duration="\d+" unit="minute"', 'duration="1" unit="second"', s)
s = s.replace('<thinktime min="30" max="31"/>', '<thinktime min="1" max="2"/>')
s = s.replace('to="100"', 'to="3"')
s, n = re.subn(r'<setdynvars sourcetype="eval".*?</setdynvars>', "", s, flags=re.S)
assert n == 1, "the eval setdynvars was not found"
s = s.replace("%%_previd%%", "%%_tsung_userid%%")
print(s, end="")
PY
"$LOADCTL" -q -f "$TEST_TMP/fs-nfs.xml" check > "$TEST_TMP/check.out" 2>&1 || fail "check refused fs-nfs.xml: $(cat "$TEST_TMP/check.out")"
st=0
timeout 50 "$LOADCTL" -q -f "$TEST_TMP/fs-nfs.xml" --run-dir "$TEST_TMP/run" --dump-interval 1 start \
  > "$TEST_TMP/run.out" 2> "$TEST_TMP/run.err" || st=$?
assert_eq "$st" 0 "loadctl exit status ($(tail -5 "$TEST_TMP/run.err"))"
RUN=$TEST_TMP/run

users=$(tsung_sum users_count "$RUN")
finished=$(tsung_sum finish_users_count "$RUN")
log "users started $users, finished $finished"
[ "$users" -gt 0 ] || fail "no user started"
assert_eq "$finished" "$users" "users finished"
assert_eq "$(find "$BENCH" -mindepth 1 -maxdepth 1 -type d | wc -l)" "$users" "directories made (one per user)"
assert_eq "$(find "$BENCH" -type f | wc -l)" "$((users * 3))" "files written"
bad=$(find "$BENCH" -type f ! -size 262144c | head -3)
[ -z "$bad" ] || fail "files not of 4 x 65536 bytes: $bad"
on_disk=$(find "$BENCH" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
assert_eq "$(tsung_sum size_sent "$RUN")" "$on_disk" "size_sent = bytes on disk"
assert_eq "$(tsung_sum size_rcv "$RUN")" "$((users * 3 * 3 * 65536))" "size_rcv (read_chunk sizes)"
errors=$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 { print $2 }' "$RUN/tsung.log" | sort -u)
[ -z "$errors" ] || fail "errors counted: $errors"
# requests: per user 1 mkdir + 3 x (open + 4 chunks + close) + 3 x (open + 3 chunks + close)
assert_eq "$(tsung_sum request "$RUN")" "$((users * (1 + 3 * 6 + 3 * 5)))" "requests"
assert_eq "$(tsung_sum tr_write_file "$RUN")" "$((users * 3))" "write_file transactions"
assert_eq "$(tsung_sum tr_read_file "$RUN")" "$((users * 3))" "read_file transactions"
log "ok: $users users, $on_disk bytes written and counted"
