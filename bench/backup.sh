#!/usr/bin/env bash
# ferry backup benchmark: bash bench/backup.sh BUILD_DIR   (make bench-backup)
#
# An installation of 1 GiB of files (512 x 1 MiB of text that compresses
# about 2:1, 64 x 8 MiB of random bytes) and a 200 MiB SQLite database, in
# a temporary folder under /tmp (removed at the end). Each comparison is
# measured in BENCH_REPS (default 5) interleaved rounds, ferry and its
# baseline one after the other (the order alternating), each after `sync`;
# a row gives the median of each side and the median of the rounds' ratios,
# so a machine that slows down for a while slows both sides of a round.
#
#   backup create   vs tar -I 'zstd -T0 -3' -cf of the same tree   target <= 1.0x
#   backup restore  vs tar -I zstd -xf of the same archive          target <= 1.3x
#                   (ferry's archive: plain tar and zstd), both over the files of a
#                   previous extraction; and tar into an empty folder, for context
#   peak RSS of every ferry command (/usr/bin/time -f %M)           target <= 64 MiB
#
# What the two sides do differs: ferry hashes every byte (SHA-256) and
# fsyncs the archive on create; on restore it checks every entry against
# the manifest, syncs the filesystem, replaces the database in one SQLite
# transaction and removes the previous files. tar does none of that, so
# "tar -xf + sync" is given too.
#
# Environment: BENCH_REPS (default 5), BENCH_GZIP_REPS (default 1; 0 skips
# the tar -czf row, which takes about ten times as long), BENCH_KEEP=1 keeps
# the folder, BENCH_WORK=DIR uses DIR (made once, kept, reused by later runs).

set -euo pipefail

usage() { echo "usage: bash bench/backup.sh BUILD_DIR" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
[[ -d $1 ]] || { echo "bench: no build directory '$1' (run 'make' first)" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
FERRY=$BUILD/ferry
[[ -x $FERRY ]] || { echo "bench: $FERRY is missing (run 'make' first)" >&2; exit 2; }
REPS=${BENCH_REPS:-5}
GZIP_REPS=${BENCH_GZIP_REPS:-1}
for tool in sqlite3 zstd tar python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || {
		echo "bench: '$tool' is needed (apt-get install sqlite3 zstd tar python3 time)" >&2
		exit 2
	}
done

if [[ -n ${BENCH_WORK:-} ]]; then
	WORK=$BENCH_WORK
	mkdir -p "$WORK"
else
	WORK=$(mktemp -d /tmp/ferry-bench-backup.XXXXXX)
	if [[ -z ${BENCH_KEEP:-} ]]; then trap 'rm -rf "$WORK"' EXIT; else echo "bench: keeping $WORK" >&2; fi
fi
INST=$WORK/inst
log() { printf 'bench: %s\n' "$*" >&2; }

# ---- the installation ----

if [[ ! -f $WORK/.ready ]]; then
	log "making the installation in $INST"
	rm -rf "$INST"
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
	touch "$WORK/.ready"
fi
FILES_MB=$(($(du -sm "$INST/data/text" "$INST/data/blobs" | awk '{s += $1} END {print s}')))
DB_MB=$(($(stat -c %s "$INST/data/app.db") / 1048576))
log "files: ${FILES_MB} MiB, database: ${DB_MB} MiB"

# ---- timing ----

# run NAME PREP CMD...: PREP (untimed), sync, then CMD timed; sets T (seconds)
# and R (peak RSS, KiB).
run() {
	local name=$1 prep=$2
	shift 2
	eval "$prep"
	sync
	/usr/bin/time -f '%e %M' -o "$WORK/time.out" "$@" >/dev/null 2>"$WORK/err.out" || {
		echo "bench: '$name' failed:" >&2
		cat "$WORK/err.out" >&2
		exit 1
	}
	read -r T R <"$WORK/time.out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
PEAK=0
peak() { (($1 > PEAK)) && PEAK=$1; return 0; }

# pairs NAME REPS FPREP FCMD BPREP BCMD [B2PREP B2CMD]: REPS rounds of ferry
# (FCMD) and its baseline (BCMD, and a second one when given), the order
# alternating. Sets FMED, BMED, B2MED (median seconds), RMED, R2MED (median
# of the rounds' ferry/baseline ratios), FRSS (ferry's largest peak RSS).
pairs() {
	local name=$1 reps=$2 fprep=$3 fcmd=$4 bprep=$5 bcmd=$6 b2prep=${7:-} b2cmd=${8:-} i
	local ft=() bt=() b2t=() rs=() r2s=() f b b2=0
	FRSS=0
	for ((i = 0; i < reps; i++)); do
		if ((i % 2 == 0)); then
			run "$name (ferry)" "$fprep" bash -c "$fcmd"; f=$T; ((R > FRSS)) && FRSS=$R
			run "$name (baseline)" "$bprep" bash -c "$bcmd"; b=$T
			[[ -n $b2cmd ]] && { run "$name (baseline 2)" "$b2prep" bash -c "$b2cmd"; b2=$T; }
		else
			[[ -n $b2cmd ]] && { run "$name (baseline 2)" "$b2prep" bash -c "$b2cmd"; b2=$T; }
			run "$name (baseline)" "$bprep" bash -c "$bcmd"; b=$T
			run "$name (ferry)" "$fprep" bash -c "$fcmd"; f=$T; ((R > FRSS)) && FRSS=$R
		fi
		ft+=("$f") bt+=("$b") rs+=("$(ratio "$f" "$b")")
		[[ -n $b2cmd ]] && b2t+=("$b2") r2s+=("$(ratio "$f" "$b2")")
		log "$name: round $((i + 1))/$reps: ferry ${f}s, baseline ${b}s$([[ -n $b2cmd ]] && echo ", baseline 2 ${b2}s"), ferry ${FRSS} KiB"
	done
	FMED=$(median "${ft[@]}") BMED=$(median "${bt[@]}") RMED=$(median "${rs[@]}")
	if [[ -n $b2cmd ]]; then B2MED=$(median "${b2t[@]}") R2MED=$(median "${r2s[@]}"); fi
	peak "$FRSS"
}

# bash -c strings: paths are quoted inside them.
F="'$FERRY' -C '$INST' -q"
clear_backups="rm -rf '$INST/.ferry/backups'; sqlite3 '$INST/.ferry/state.db' 'DELETE FROM backups' 2>/dev/null || true"

pairs "create" "$REPS" "$clear_backups" "$F backup create" \
	"rm -f '$WORK/ref.tar.zst'" "tar -C '$INST' --exclude=./.ferry -I 'zstd -T0 -3' -cf '$WORK/ref.tar.zst' ."
CREATE=$FMED TZST=$BMED CREATE_R=$RMED CREATE_RSS=$FRSS
ID=$("$FERRY" -C "$INST" --json backup list 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["backups"][0]["id"])')
ARCHIVE=$INST/.ferry/backups/$ID.tar.zst
ARCHIVE_MB=$(($(stat -c %s "$ARCHIVE") / 1048576))
REF_MB=$(($(stat -c %s "$WORK/ref.tar.zst") / 1048576))

if ((GZIP_REPS > 0)); then
	TGZS=()
	for ((i = 0; i < GZIP_REPS; i++)); do
		run "tar -czf" "rm -f '$WORK/ref.tar.gz'" tar -C "$INST" --exclude=./.ferry -czf "$WORK/ref.tar.gz" .
		TGZS+=("$T")
		log "tar -czf: ${T}s"
	done
	TGZ=$(median "${TGZS[@]}")
	rm -f "$WORK/ref.tar.gz"
fi

# Restore: ferry replaces the live installation's files (a previous
# restore's); tar extracts the same archive over its own previous
# extraction (x, made once untimed) and into an empty folder (y).
rm -rf "$WORK/x" && mkdir "$WORK/x" && tar -I zstd -xf "$ARCHIVE" -C "$WORK/x"
"$FERRY" -C "$INST" -q backup restore --no-safety-backup "$ID"
pairs "restore" "$REPS" ":" "$F backup restore --no-safety-backup '$ID'" \
	":" "tar -I zstd -xf '$ARCHIVE' -C '$WORK/x'" \
	"rm -rf '$WORK/y'; mkdir '$WORK/y'" "tar -I zstd -xf '$ARCHIVE' -C '$WORK/y'"
RESTORE=$FMED TX=$BMED RESTORE_R=$RMED TXE=$B2MED RESTORE_RE=$R2MED RESTORE_RSS=$FRSS
pairs "restore vs tar + sync" 3 ":" "$F backup restore --no-safety-backup '$ID'" \
	":" "tar -I zstd -xf '$ARCHIVE' -C '$WORK/x' && sync"
TXS=$BMED RESTORE_RS=$RMED
rm -rf "$WORK/y"

VS=()
for ((i = 0; i < 3; i++)); do
	run "verify" ":" bash -c "$F backup verify '$ID'"
	VS+=("$T")
	peak "$R"
	VERIFY_RSS=$R
done
VERIFY=$(median "${VS[@]}")
run "restore (safety backup)" ":" bash -c "$F backup restore '$ID'"
RESTORE_SAFE=$T
peak "$R"
"$FERRY" -C "$INST" -q backup verify "$ID" >/dev/null 2>&1 || { echo "bench: the backup no longer verifies" >&2; exit 1; }

# ---- report ----

verdict() { awk -v r="$1" -v lim="$2" -v op="$3" 'BEGIN { ok = op == "<=" ? r <= lim : r >= lim; print ok ? "met" : "**missed**" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
x() { awk -v r="$1" 'BEGIN { printf "%.2fx", r }'; }

fs=$(df -T "$WORK" | awk 'NR == 2 {print $2}')
echo
echo "Machine: $(nproc) CPUs, $(uname -r), $(zstd -V | grep -o 'v[0-9.]*'), $(tar --version | head -1), $fs on $(dirname "$WORK"), build $(basename "$BUILD")"
echo "Installation: ${FILES_MB} MiB of files (half text, half random) + ${DB_MB} MiB SQLite database;"
echo "ferry's archive ${ARCHIVE_MB} MiB, tar+zstd's ${REF_MB} MiB. Medians of $REPS interleaved rounds; ratio: median of the rounds' ratios."
echo
echo "| operation | ferry | baseline | ratio | target | result | ferry peak RSS |"
echo "|---|---|---|---|---|---|---|"
echo "| backup create vs \`tar -I 'zstd -T0 -3' -cf\` | ${CREATE} s | ${TZST} s | $(x "$CREATE_R") | <= 1.0x | $(verdict "$CREATE_R" 1.0 '<=') | $(mib "$CREATE_RSS") |"
if ((GZIP_REPS > 0)); then
	r=$(ratio "$TGZ" "$CREATE")
	echo "| backup create vs \`tar -czf\` | ${CREATE} s | ${TGZ} s | ${r}x faster | (context) | | |"
fi
echo "| backup restore --no-safety-backup vs \`tar -I zstd -xf\` over its previous extraction | ${RESTORE} s | ${TX} s | $(x "$RESTORE_R") | <= 1.3x | $(verdict "$RESTORE_R" 1.3 '<=') | $(mib "$RESTORE_RSS") |"
echo "| backup restore --no-safety-backup vs \`tar -I zstd -xf\` into an empty folder | ${RESTORE} s | ${TXE} s | $(x "$RESTORE_RE") | (context) | | |"
echo "| backup restore --no-safety-backup vs \`tar -xf\` over its previous extraction + \`sync\` | | ${TXS} s | $(x "$RESTORE_RS") | (context) | | |"
echo "| backup restore (with its safety backup) | ${RESTORE_SAFE} s | | | (context) | | |"
echo "| backup verify | ${VERIFY} s | | | (context) | | $(mib "$VERIFY_RSS") |"
echo "| peak RSS, any ferry command above | $(mib "$PEAK") | | | <= 64 MiB | $( ((PEAK <= 65536)) && echo met || echo '**missed**') | |"
