#!/usr/bin/env bash
# ferry backup benchmark: bash bench/backup.sh BUILD_DIR
#
# An installation of 1 GiB of files (512 x 1 MiB of text that compresses
# about 2:1, 64 x 8 MiB of random bytes) and a 200 MiB SQLite database, in
# a temporary folder under /tmp (removed at the end). Measured, as the
# median wall time of BENCH_REPS runs (default 3) after `sync`:
#
#   backup create            vs tar -czf                       target: >= 2x faster
#   backup create            vs tar -I 'zstd -T0 -3' -cf       target: <= 1.3x the time
#   backup restore           vs tar -I zstd -xf                target: <= 1.5x the time
#   (more rows for context: restore with its safety backup, tar -xf plus sync, verify)
#
# and ferry's peak RSS (/usr/bin/time -f %M, target < 64 MiB). Prints a
# Markdown table on stdout, progress on stderr.
#
# What the two sides do differs, and the table says so: ferry hashes every
# byte (SHA-256) and fsyncs the archive on create; on restore it checks every
# entry against the manifest, syncs the filesystem, replaces the database in
# one SQLite transaction (journaled, fsynced) and removes the previous files.
# tar does none of that, so "tar -xf + sync" is given too.
#
# Environment: BENCH_REPS (default 3), BENCH_GZIP_REPS (default 1: tar -czf
# takes about ten times as long), BENCH_KEEP=1 keeps the folder.

set -euo pipefail

usage() { echo "usage: bash bench/backup.sh BUILD_DIR" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
[[ -d $1 ]] || { echo "bench: no build directory '$1' (run 'make' first)" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
FERRY=$BUILD/ferry
[[ -x $FERRY ]] || { echo "bench: $FERRY is missing (run 'make' first)" >&2; exit 2; }
REPS=${BENCH_REPS:-3}
GZIP_REPS=${BENCH_GZIP_REPS:-1}
for tool in sqlite3 zstd tar python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || {
		echo "bench: '$tool' is needed (apt-get install sqlite3 zstd tar python3 time)" >&2
		exit 2
	}
done

WORK=$(mktemp -d /tmp/ferry-bench-backup.XXXXXX)
if [[ -z ${BENCH_KEEP:-} ]]; then trap 'rm -rf "$WORK"' EXIT; else echo "bench: keeping $WORK" >&2; fi
INST=$WORK/inst
log() { printf 'bench: %s\n' "$*" >&2; }

# ---- the installation ----

log "making the installation in $INST"
mkdir -p "$INST/data/text" "$INST/data/blobs"
"$FERRY" init "$INST" >/dev/null 2>&1 || (cd "$INST" && "$FERRY" init >/dev/null 2>&1)
python3 - "$INST/data/text" <<'EOF'
import random, sys
random.seed(7)
words = [''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(2, 10)))
         for _ in range(5000)]
parts, size = [], 0
while size < 24 * 1024 * 1024:
    line = ' '.join(random.choice(words) for _ in range(random.randint(4, 16))) + '\n'
    parts.append(line)
    size += len(line)
text = ''.join(parts).encode()
for i in range(512):
    off = (i * 102953) % (len(text) - 1048576)
    with open('%s/t%03d.txt' % (sys.argv[1], i), 'wb') as f:
        f.write(text[off:off + 1048576])
EOF
for i in $(seq 0 63); do head -c 8388608 /dev/urandom >"$INST/data/blobs/b$i.bin"; done
sqlite3 "$INST/data/app.db" "CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, payload TEXT, note TEXT);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1380000)
	INSERT INTO events (kind, payload, note) SELECT 'kind' || (i % 17), hex(randomblob(40)),
		'the quick brown fox jumps over the lazy dog ' || i FROM n;"
FILES_MB=$(($(du -sm "$INST/data/text" "$INST/data/blobs" | awk '{s += $1} END {print s}')))
DB_MB=$(($(stat -c %s "$INST/data/app.db") / 1048576))
log "files: ${FILES_MB} MiB, database: ${DB_MB} MiB"

# ---- timing ----

# measure NAME REPS PREP CMD...: PREP (untimed, then sync) before each run of
# CMD; sets MED (median seconds) and RSS (largest peak RSS, KiB).
measure() {
	local name=$1 reps=$2 prep=$3 i times=() rss=0 t r
	shift 3
	for ((i = 0; i < reps; i++)); do
		eval "$prep"
		sync
		/usr/bin/time -f '%e %M' -o "$WORK/time.out" "$@" >/dev/null 2>"$WORK/err.out" || {
			echo "bench: '$name' failed:" >&2
			cat "$WORK/err.out" >&2
			exit 1
		}
		read -r t r <"$WORK/time.out"
		times+=("$t")
		((r > rss)) && rss=$r
		log "$name: run $((i + 1))/$reps ${t}s, ${r} KiB"
	done
	MED=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
	RSS=$rss
}

clear_backups() { rm -rf "$INST/.ferry/backups"; sqlite3 "$INST/.ferry/state.db" 'DELETE FROM backups' 2>/dev/null || true; }

measure "ferry backup create" "$REPS" clear_backups "$FERRY" -C "$INST" -q backup create
CREATE=$MED CREATE_RSS=$RSS
ID=$("$FERRY" -C "$INST" --json backup list 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["backups"][0]["id"])')
ARCHIVE_MB=$(($(stat -c %s "$INST/.ferry/backups/$ID.tar.zst") / 1048576))

measure "tar -czf" "$GZIP_REPS" "rm -f '$WORK/ref.tar.gz'" \
	tar -C "$INST" --exclude=./.ferry -czf "$WORK/ref.tar.gz" .
TGZ=$MED
measure "tar zstd -T0 -3" "$REPS" "rm -f '$WORK/ref.tar.zst'" \
	tar -C "$INST" --exclude=./.ferry -I 'zstd -T0 -3' -cf "$WORK/ref.tar.zst" .
TZST=$MED
REF_MB=$(($(stat -c %s "$WORK/ref.tar.zst") / 1048576))

measure "ferry backup verify" "$REPS" ":" "$FERRY" -C "$INST" -q backup verify "$ID"
VERIFY=$MED VERIFY_RSS=$RSS
# Each restore replaces every file and the database of the live installation.
measure "ferry backup restore" "$REPS" ":" "$FERRY" -C "$INST" -q backup restore --no-safety-backup "$ID"
RESTORE=$MED RESTORE_RSS=$RSS
measure "ferry backup restore (safety backup)" 1 ":" "$FERRY" -C "$INST" -q backup restore "$ID"
RESTORE_SAFE=$MED
measure "tar -xf" "$REPS" "rm -rf '$WORK/x'; mkdir '$WORK/x'" \
	tar -I zstd -xf "$WORK/ref.tar.zst" -C "$WORK/x"
TX=$MED
measure "tar -xf + sync" "$REPS" "rm -rf '$WORK/x'; mkdir '$WORK/x'" \
	sh -c "tar -I zstd -xf '$WORK/ref.tar.zst' -C '$WORK/x' && sync"
TXS=$MED
"$FERRY" -C "$INST" -q backup verify "$ID" >/dev/null 2>&1 || { echo "bench: the backup no longer verifies" >&2; exit 1; }

# ---- report ----

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v r="$1" -v lim="$2" -v op="$3" 'BEGIN { ok = op == "<=" ? r <= lim : r >= lim; print ok ? "yes" : "**no**" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

fs=$(df -T "$WORK" | awk 'NR == 2 {print $2}')
echo
echo "Machine: $(nproc) CPUs, $(uname -r), $(zstd -V | grep -o 'v[0-9.]*'), $(tar --version | head -1), $fs on /tmp, build $(basename "$BUILD")"
echo "Installation: ${FILES_MB} MiB of files (half text, half random) + ${DB_MB} MiB SQLite database;"
echo "ferry's archive ${ARCHIVE_MB} MiB, tar+zstd's ${REF_MB} MiB. Median of $REPS runs (tar -czf: $GZIP_REPS)."
echo
echo "| operation | ferry | baseline | ratio | target | met | ferry peak RSS |"
echo "|---|---|---|---|---|---|---|"
r=$(ratio "$TGZ" "$CREATE")
echo "| backup create vs \`tar -czf\` | ${CREATE} s | ${TGZ} s | ${r}x faster | >= 2x faster | $(verdict "$r" 2 '>=') | $(mib "$CREATE_RSS") |"
r=$(ratio "$CREATE" "$TZST")
echo "| backup create vs \`tar -I 'zstd -T0 -3' -cf\` | ${CREATE} s | ${TZST} s | ${r}x the time | <= 1.3x | $(verdict "$r" 1.3 '<=') | $(mib "$CREATE_RSS") |"
r=$(ratio "$RESTORE" "$TX")
echo "| backup restore --no-safety-backup vs \`tar -I zstd -xf\` | ${RESTORE} s | ${TX} s | ${r}x the time | <= 1.5x | $(verdict "$r" 1.5 '<=') | $(mib "$RESTORE_RSS") |"
r=$(ratio "$RESTORE" "$TXS")
echo "| backup restore --no-safety-backup vs \`tar -xf\` + \`sync\` | ${RESTORE} s | ${TXS} s | ${r}x the time | (context) | | |"
echo "| backup restore (with its safety backup) | ${RESTORE_SAFE} s | | | (context) | | |"
echo "| backup verify | ${VERIFY} s | | | (context) | | $(mib "$VERIFY_RSS") |"
worst=$CREATE_RSS
((RESTORE_RSS > worst)) && worst=$RESTORE_RSS
((VERIFY_RSS > worst)) && worst=$VERIFY_RSS
echo "| peak RSS, any ferry command above | $(mib "$worst") | | | < 64 MiB | $( ((worst < 65536)) && echo yes || echo '**no**') | |"
