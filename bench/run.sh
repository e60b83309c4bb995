#!/usr/bin/env bash
# ferry benchmarks: bash bench/run.sh BUILD_DIR   (or: make bench)
#
# Prints a Markdown table (medians of BENCH_REPS runs, default 7) of:
#   1. no-op `ferry up` / `ferry status` with 1,000 applied steps, checksum
#      cache warm, and `ferry up` after every step file was touched (re-hash);
#   2. applying 1,000 SQL steps in one transaction (transaction: group) vs one
#      sqlite3 process running the same statements between BEGIN and COMMIT;
#   3. applying them with transaction: step vs sqlite3 making 1,000 commits;
#   4. dbmate (installed with npm into bench/.cache/) on the same steps;
#   5. near the floor (issue 14): no-op `up` / `status` over BENCH_STEPS and
#      BENCH_BIG applied flat steps against noop-floor (list, stat, one SQLite
#      row) at the same files, the no-op inside one process (bench-inproc),
#      and the planner over a chain of BENCH_BIG versions with shortcuts.
# Every row gives its target and whether it was met. The published numbers
# come from a release build: unless BUILD_DIR is one (or BENCH_AS_IS=1), the
# script configures and builds build-rel/ (--buildtype=release) and uses it.
# See bench/README.md.
#
# Environment: BENCH_REPS (default 7), BENCH_STEPS (default 1000), BENCH_BIG
# (default 10000; 0 skips the big rows), BENCH_AS_IS=1 (time BUILD_DIR as it is),
# BENCH_TIMER=loop (skip hyperfine, use the date +%s%N loop), BENCH_NO_DBMATE=1,
# DBMATE=/path/to/dbmate (use that binary instead of installing one), TMPDIR.
# Progress goes to stderr; the report to stdout.

set -euo pipefail

usage() { echo "usage: bash bench/run.sh BUILD_DIR" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
[[ -d $1 ]] || { echo "bench: no build directory '$1' (run 'make' first)" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
buildtype_of() { jq -r '.[] | select(.name == "buildtype") | .value' "$1/meson-info/intro-buildoptions.json" 2>/dev/null || echo "?"; }
if [[ -z ${BENCH_AS_IS:-} && $(buildtype_of "$BUILD") != release ]]; then
	# The published numbers are a release build's: a separate one, beside the given.
	REL=$SRC/build-rel
	echo "bench: $(buildtype_of "$BUILD") build given; timing a release build in $REL (BENCH_AS_IS=1: time $BUILD as it is)" >&2
	if [[ ! -f $REL/build.ninja ]]; then
		meson setup "$REL" "$SRC" --buildtype=release >"${TMPDIR:-/tmp}/ferry-bench-setup.log" 2>&1 ||
			{ echo "bench: meson setup $REL failed:" >&2; tail -n 20 "${TMPDIR:-/tmp}/ferry-bench-setup.log" >&2; exit 1; }
	fi
	# Only what is timed: the tool, its library, the floors.
	ninja -C "$REL" ferry bench/noop-floor bench/bench-inproc bench/bench-plan >&2 ||
		{ echo "bench: building $REL failed" >&2; exit 1; }
	BUILD=$REL
fi
FERRY=$BUILD/ferry
[[ -x $FERRY ]] || { echo "bench: $FERRY is missing (run 'make' first)" >&2; exit 2; }
FLOOR=$BUILD/bench/noop-floor
INPROC=$BUILD/bench/bench-inproc
PLANB=$BUILD/bench/bench-plan
for b in "$FLOOR" "$INPROC" "$PLANB"; do
	[[ -x $b ]] || { echo "bench: $b is missing (ninja -C $BUILD)" >&2; exit 2; }
done

REPS=${BENCH_REPS:-7}
STEPS=${BENCH_STEPS:-1000}
BIG=${BENCH_BIG:-10000}
[[ $BIG =~ ^[0-9]+$ ]] || { echo "bench: BENCH_BIG must be a number" >&2; exit 2; }
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_REPS must be a positive integer" >&2; exit 2; }
[[ $STEPS =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_STEPS must be a positive integer" >&2; exit 2; }
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=$BENCH_DIR/.cache

command -v sqlite3 >/dev/null || { echo "bench: the sqlite3 shell is needed (apt-get install sqlite3)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
[[ -n ${BENCH_KEEP:-} ]] || trap 'rm -rf "$WORK"' EXIT   # BENCH_KEEP=1 keeps it
mkdir -p "$WORK/res" "$WORK/prep"

log() { printf 'bench: %s\n' "$*" >&2; }
q() { printf '%q ' "$@"; }                      # a command line, quoted for sh/hyperfine -N
fmt_n() { printf '%d' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }   # 1000 -> 1,000
NS=$(fmt_n "$STEPS")
W=$(( ${#STEPS} > 4 ? ${#STEPS} : 4 ))          # width of step numbers: 0001

# ---- timer: hyperfine, installed if we can, else our own loop ----------------

HF=
if [[ ${BENCH_TIMER:-} != loop ]]; then
	if ! command -v hyperfine >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		log "installing hyperfine with apt-get"
		apt-get install -y hyperfine >/dev/null 2>&1 ||
			{ apt-get update >/dev/null 2>&1 && apt-get install -y hyperfine >/dev/null 2>&1; } || true
	fi
	command -v hyperfine >/dev/null && HF=hyperfine
fi
if [[ -n $HF ]]; then
	TIMER="$(hyperfine --version) (-N, median)"
else
	TIMER="own loop, date +%s%N (median)"
fi

json_get() { # FILE EXPR  (jq expression on hyperfine's export)
	if command -v jq >/dev/null; then
		jq -r "$2" "$1"
	else
		python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))["results"][0]
e=sys.argv[2]
print(d["median"] if "median" in e else d["user"]+d["system"])' "$1" "$2"
	fi
}

# One timed run of CMD (after PREP_SCRIPT, untimed, run with bash; "" for
# none): appends the wall time (ms) to res/KEY.runs and, with hyperfine, the
# user+sys time to res/KEY.cpuruns. On failure res/KEY.err says why.
one_run() { # KEY PREP_SCRIPT CMD
	local key=$1 prep=$2 cmd=$3 out=$WORK/res/$1 t0 t1 rc=0
	if [[ -n $HF ]]; then
		local args=(-N --style none --runs 1 --export-json "$out.1.json")
		[[ -z $prep ]] || args+=(--prepare "bash $prep")
		if ! hyperfine "${args[@]}" -- "$cmd" >"$out.log" 2>&1; then
			{ echo "$cmd: "; grep -v '^\s*$' "$out.log" | tail -n 3; } | tr '\n' ' ' >"$out.err"
			return 1
		fi
		json_get "$out.1.json" '.results[0].times[0] * 1000' >>"$out.runs"
		json_get "$out.1.json" '(.results[0].user + .results[0].system) * 1000' >>"$out.cpuruns"
	else
		[[ -z $prep ]] || bash "$prep" >/dev/null 2>&1
		t0=$(date +%s%N)
		eval "$cmd" >/dev/null 2>"$out.log" || rc=$?
		t1=$(date +%s%N)
		if ((rc)); then
			{ echo "exit $rc from $cmd: "; tail -n 3 "$out.log"; } | tr '\n' ' ' >"$out.err"
			return 1
		fi
		awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f\n", d / 1e6 }' >>"$out.runs"
	fi
}

# measure WARMUP KEY PREP CMD [KEY PREP CMD]...: WARMUP + BENCH_REPS rounds,
# each running every command once, interleaved, so that a change in the
# machine's load or in the disk's fsync latency hits ferry and its baseline
# alike; the first WARMUP rounds are discarded. Writes res/KEY (median wall
# ms), res/KEY.cpu (mean user+sys ms, hyperfine only) and res/KEY.round (which
# call of measure timed it: the keys of one call are paired round by round).
MEASURE_CALL=0
measure() {
	local warm=$1 r i key
	shift
	local -a spec=("$@")
	MEASURE_CALL=$((MEASURE_CALL + 1))
	for ((i = 0; i < ${#spec[@]}; i += 3)); do
		rm -f "$WORK/res/${spec[i]}".*
		echo "$MEASURE_CALL" >"$WORK/res/${spec[i]}.round"
		log "timing ${spec[i]}"
	done
	for ((r = 0; r < warm + REPS; r++)); do
		for ((i = 0; i < ${#spec[@]}; i += 3)); do
			key=${spec[i]}
			[[ ! -f $WORK/res/$key.err ]] || continue
			one_run "$key" "${spec[i + 1]}" "${spec[i + 2]}" || { log "$key failed: $(cat "$WORK/res/$key.err")"; continue; }
			if ((r < warm)); then rm -f "$WORK/res/$key.runs" "$WORK/res/$key.cpuruns"; fi
		done
	done
	for ((i = 0; i < ${#spec[@]}; i += 3)); do
		key=$WORK/res/${spec[i]}
		[[ -f $key.runs && ! -f $key.err ]] || continue
		sort -n "$key.runs" | awk '{ v[NR] = $1 } END { printf "%.3f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }' >"$key"
		[[ ! -f $key.cpuruns ]] || awk '{ t += $1 } END { printf "%.3f\n", t / NR }' "$key.cpuruns" >"$key.cpu"
	done
}

# prep NAME BODY: a preparation script (hyperfine -N runs --prepare without a shell)
prep() { printf '%s\n' "set -e" "$2" >"$WORK/prep/$1.sh"; echo "$WORK/prep/$1.sh"; }

# ---- the steps ---------------------------------------------------------------

# One transition folder, STEPS one-statement steps; files back-dated an hour so
# that the checksum cache may trust them (a file modified in the last 2 s is
# "racy" and never cached, as in git).
gen_ferry_steps() { # DIR
	mkdir -p "$1"
	awk -v dir="$1" -v n="$STEPS" -v w="$W" 'BEGIN {
		for (i = 1; i <= n; i++) {
			k = sprintf("%0" w "d", i); f = dir "/" k "_create_t" k ".sql"
			printf "-- ferry:up\nCREATE TABLE t%s(x INTEGER);\n-- ferry:down\nDROP TABLE t%s;\n", k, k > f
			close(f)
		}
	}'
	find "$1" -type f -exec touch -d "@$(($(date +%s) - 3600))" {} +
}

# dbmate's layout: <14-digit version>_name.sql, -- migrate:up / -- migrate:down.
gen_dbmate_steps() { # DIR
	mkdir -p "$1"
	awk -v dir="$1" -v n="$STEPS" -v w="$W" 'BEGIN {
		for (i = 1; i <= n; i++) {
			k = sprintf("%0" w "d", i)
			v = sprintf("20240101%02d%02d%02d", int(i / 3600) % 24, int(i / 60) % 60, i % 60)
			if (i >= 86400) v = sprintf("2024%02d01%06d", 2 + int(i / 86400), i % 86400)
			f = dir "/" v "_create_t" k ".sql"
			printf "-- migrate:up\nCREATE TABLE t%s(x INTEGER);\n-- migrate:down\nDROP TABLE t%s;\n", k, k > f
			close(f)
		}
	}'
}

gen_sql() { # FILE group|step
	awk -v n="$STEPS" -v w="$W" -v mode="$2" 'BEGIN {
		if (mode == "group") print "BEGIN;"
		for (i = 1; i <= n; i++) { k = sprintf("%0" w "d", i); printf "CREATE TABLE t%s(x INTEGER);\n", k }
		if (mode == "group") print "COMMIT;"
	}' >"$1"
}

# An installation at 0.0.0 with every step pending: ferry.yaml, .ferry/, migrations/.
make_install() { # DIR group|step
	mkdir -p "$1"
	cat >"$1/ferry.yaml" <<EOF
app: bench
migrations: migrations
transaction: $2
databases:
  main: sqlite:data/app.db
EOF
	"$FERRY" -q -C "$1" init >/dev/null
	gen_ferry_steps "$1/migrations/v0.0.0_to_v1.0.0"
}

tables_in() { sqlite3 "$1" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name GLOB 't[0-9]*'"; }

check_tables() { # DB WHAT
	local n
	n=$(tables_in "$1" 2>/dev/null || echo "?")
	[[ $n == "$STEPS" ]] || { log "WARNING: $2 left $n tables, expected $STEPS"; WARNINGS+=("$2 left $n of $STEPS tables"); }
}
WARNINGS=()

log "work dir $WORK; $STEPS steps, $REPS runs each; timer: $TIMER"
gen_sql "$WORK/group.sql" group
gen_sql "$WORK/step.sql" step
make_install "$WORK/tpl_group" group
make_install "$WORK/tpl_step" step
cp -a "$WORK/tpl_group/.ferry" "$WORK/tpl_group/ferry-pristine"   # state.db at 0.0.0, empty cache
cp -a "$WORK/tpl_step/.ferry" "$WORK/tpl_step/ferry-pristine"

# ---- dbmate, installed and set up -------------------------------------------

DBMATE_WHY=""
DBMATE_VERSION=""
find_dbmate() {
	if [[ -n ${DBMATE:-} ]]; then echo "$DBMATE"; return; fi
	# The npm package's native binary (the .bin/dbmate wrapper would add node's start-up).
	local b
	b=$(find "$CACHE/npm/node_modules/@dbmate" -type f -name dbmate -perm -u+x 2>/dev/null | head -n 1)
	[[ -n $b ]] && { echo "$b"; return; }
	[[ ! -x $CACHE/npm/node_modules/.bin/dbmate ]] || echo "$CACHE/npm/node_modules/.bin/dbmate"
}
if [[ -n ${BENCH_NO_DBMATE:-} ]]; then
	DBMATE_WHY="skipped (BENCH_NO_DBMATE is set)"
else
	DBM=$(find_dbmate)
	if [[ -z $DBM ]]; then
		if ! command -v npm >/dev/null; then
			DBMATE_WHY="not run: npm is not installed (apt-get install npm, or set DBMATE=/path/to/dbmate)"
		else
			log "installing dbmate with npm into $CACHE/npm"
			mkdir -p "$CACHE/npm"
			if npm install --prefix "$CACHE/npm" --no-audit --no-fund --no-save dbmate >"$WORK/res/npm.log" 2>&1; then
				DBM=$(find_dbmate)
				[[ -n $DBM ]] || DBMATE_WHY="not run: npm installed dbmate but no binary for $(uname -m) was found"
			else
				DBMATE_WHY="not run: 'npm install dbmate' failed: $(grep -iE 'err' "$WORK/res/npm.log" | head -n 2 | tr '\n' ' ')"
			fi
		fi
	fi
	if [[ -n ${DBM:-} ]]; then
		if DBMATE_VERSION=$("$DBM" --version 2>&1); then
			DBMATE_VERSION=${DBMATE_VERSION##* }
		else
			DBMATE_WHY="not run: '$DBM --version' failed: $(echo "$DBMATE_VERSION" | head -n 1)"
			DBMATE_VERSION=""
		fi
	fi
fi
if [[ -z $DBMATE_WHY ]]; then
	DM=$WORK/dbmate
	gen_dbmate_steps "$DM/migrations"
	dbm() { q "$DBM" --url "sqlite:$DM/$1" --migrations-dir "$DM/migrations" --no-dump-schema "${@:2}"; }
	if ! eval "$(dbm noop.db up)" >"$WORK/res/dbmate-noop.log" 2>&1; then
		DBMATE_WHY="not run: dbmate up failed: $(tail -n 2 "$WORK/res/dbmate-noop.log" | tr '\n' ' ')"
	else
		check_tables "$DM/noop.db" "dbmate up"
	fi
fi

# ---- 1. no-op ----------------------------------------------------------------

NOOP=$WORK/tpl_group        # applied once, then left at 1.0.0
"$FERRY" -q -C "$NOOP" up >/dev/null 2>"$WORK/res/noop-apply.log" || {
	log "the first 'ferry up' failed:"; cat "$WORK/res/noop-apply.log" >&2; exit 1; }
check_tables "$NOOP/data/app.db" "ferry up (no-op set-up)"
# Files changed within the last 2 s are not trusted by the no-op fingerprint
# (git's racy rule); an installation's files are older than that.
find "$NOOP/migrations" "$NOOP/ferry.yaml" -exec touch -d '-1 minute' {} +
sleep 2.2   # ... nor a change time (which back-dating sets to now) younger than 2 s
"$FERRY" -q -C "$NOOP" up >/dev/null 2>&1 || true   # settles the cache and the fingerprint

# The record floor: the same statements, each followed in its transaction by
# the very ferry_steps row ferry wrote (SPEC §2: change and record commit
# together), made by sqlite3 alone. ferry / floor is ferry's own overhead.
make_floor() { # DB OUT group|step
	local cols pre post
	cols=$(sqlite3 "$1" "SELECT group_concat('quote(' || name || ')', ' || '','' || ') FROM pragma_table_info('ferry_steps')")
	[[ -n $cols ]] || return 1
	if [[ $3 == group ]]; then pre="''" post="''"; else pre="'BEGIN; '" post="' COMMIT;'"; fi
	{
		sqlite3 "$1" ".schema ferry_steps"
		[[ $3 == step ]] || echo "BEGIN;"
		sqlite3 "$1" "SELECT $pre || 'CREATE TABLE t' || printf('%0${W}d', row_number() OVER (ORDER BY seq)) ||
			'(x INTEGER); INSERT INTO ferry_steps VALUES(' || $cols || ');' || $post FROM ferry_steps ORDER BY seq"
		[[ $3 == step ]] || echo "COMMIT;"
	} >"$2"
}
HAVE_FLOOR=1
make_floor "$NOOP/data/app.db" "$WORK/floor_group.sql" group &&
	make_floor "$NOOP/data/app.db" "$WORK/floor_step.sql" step || HAVE_FLOOR=

NOOP_SET=(noop_up "" "$(q "$FERRY" -C "$NOOP" up)"
	noop_status "" "$(q "$FERRY" -C "$NOOP" status)"
	noop_base "" "$(q sqlite3 "$NOOP/data/app.db" "SELECT count(*) FROM ferry_steps")")
[[ -n $DBMATE_WHY ]] || NOOP_SET+=(dbmate_noop "" "$(dbm noop.db up)" dbmate_status "" "$(dbm noop.db status)")
measure 3 "${NOOP_SET[@]}"
# Every file gets a new mtime (10 s in the past, nanoseconds distinct per run),
# as after a checkout: each run re-hashes all files and rewrites the cache.
P_TOUCH=$(prep touch "now=\$(date +%s%N); t=\$(( now / 1000000000 - 10 )).\$(printf %09d \$(( now % 1000000000 )))
find $(q "$NOOP/migrations") -type f -exec touch -d \"@\$t\" {} +")
measure 1 noop_touched "$P_TOUCH" "$(q "$FERRY" -C "$NOOP" up)"

# How many step files does a no-op open? (SPEC §2: none when the cache is warm.)
OPENS_WARM="?" OPENS_TOUCHED="?"
if command -v strace >/dev/null; then
	count_opens() { grep -cE '_create_t[0-9]+\.sql"' "$1" || true; }
	sleep 2.2   # the last touch's change times settle: the next up fills the cache
	"$FERRY" -q -C "$NOOP" up >/dev/null 2>&1 || true
	strace -f -e trace=open,openat -o "$WORK/res/strace.warm" "$FERRY" -q -C "$NOOP" up >/dev/null 2>&1 &&
		OPENS_WARM=$(count_opens "$WORK/res/strace.warm")
	bash "$P_TOUCH"
	strace -f -e trace=open,openat -o "$WORK/res/strace.touched" "$FERRY" -q -C "$NOOP" up >/dev/null 2>&1 &&
		OPENS_TOUCHED=$(count_opens "$WORK/res/strace.touched")
	"$FERRY" -q -C "$NOOP" up >/dev/null 2>&1 || true
fi

# ---- 5. near the floor (issue 14) ---------------------------------------------

# A chain of N flat steps, one version each (0.1.0 .. 0.N.0), an hour old.
gen_flat_chain() { # DIR N
	mkdir -p "$1"
	awk -v dir="$1" -v n="$2" 'BEGIN {
		for (i = 1; i <= n; i++) {
			f = sprintf("%s/0.%d.0_create_t%05d.sql", dir, i, i)
			printf "-- ferry:up\nCREATE TABLE t%05d(x INTEGER);\n-- ferry:down\nDROP TABLE t%05d;\n", i, i > f
			close(f)
		}
	}'
}
# An installation with N applied flat steps, files and ferry.yaml an hour old.
make_flat_install() { # DIR N
	mkdir -p "$1"
	printf 'app: bench\nmigrations: migrations\ndatabases:\n  main: sqlite:data/app.db\n' >"$1/ferry.yaml"
	"$FERRY" -q -C "$1" init >/dev/null
	gen_flat_chain "$1/migrations" "$2"
	find "$1/migrations" "$1/ferry.yaml" -exec touch -d '-1 hour' {} +
	"$FERRY" -q -C "$1" up --skip-backup >/dev/null 2>"$WORK/res/flat-apply.log" || {
		log "applying $2 flat steps failed:"; cat "$WORK/res/flat-apply.log" >&2; exit 1; }
	# Files are trusted once their change time (which back-dating sets to now) is 2 s old.
	sleep 2.2
	"$FERRY" -q -C "$1" up >/dev/null 2>&1 || true   # settles the cache and the fingerprints
}
# The floor's one-table SQLite file: one row.
FLOOR_DB=$WORK/floor.db
sqlite3 "$FLOOR_DB" "CREATE TABLE t(v TEXT); INSERT INTO t VALUES('0.$STEPS.0');"
floor_cmd() { q "$FLOOR" "$1/migrations" "$FLOOR_DB" "SELECT v FROM t"; }

log "near the floor: $STEPS applied flat steps"
FLAT=$WORK/flat
make_flat_install "$FLAT" "$STEPS"
FLAT_SET=(flat_up "" "$(q "$FERRY" -C "$FLAT" up)"
	flat_status "" "$(q "$FERRY" -C "$FLAT" status)"
	flat_floor "" "$(floor_cmd "$FLAT")")
[[ -n $DBMATE_WHY ]] || FLAT_SET+=(flat_dbmate_up "" "$(dbm noop.db up)" flat_dbmate_status "" "$(dbm noop.db status)")
# No-ops are cheap and a shared machine is noisy: five times the runs.
SAVED_REPS=$REPS
REPS=$(( REPS * 5 ))
measure 3 "${FLAT_SET[@]}"
REPS=$SAVED_REPS

# The full check of a no-op (the registry read, every applied step's checksum
# looked up), its fingerprints forgotten before each run: with the checksum
# cache as a run leaves it, and with no cache at all (every file hashed, the
# cache rebuilt). Measured at STEPS and at BIG applied steps: linear or not.
full_preps() { # DIR NAME -> the two prepare scripts' paths, warm then cold
	local db
	db=$(q "$1/.ferry/state.db")
	prep "$2_warm" "sqlite3 $db \"DELETE FROM meta WHERE key IN ('noop_fp', 'quick_fp')\""
	prep "$2_cold" "sqlite3 $db \"DELETE FROM checksum_cache; DELETE FROM meta WHERE key IN ('noop_fp', 'quick_fp')\""
}
mapfile -t FULL_P < <(full_preps "$FLAT" flat_full)
measure 1 flat_full_warm "${FULL_P[0]}" "$(q "$FERRY" -C "$FLAT" up)" \
	flat_full_cold "${FULL_P[1]}" "$(q "$FERRY" -C "$FLAT" up)"
"$FERRY" -q -C "$FLAT" up >/dev/null 2>&1 || true   # the fingerprints again
"$FERRY" -q -C "$FLAT" up >/dev/null 2>&1 || true

# In one process: the floor there, open + up + close, the second ferry_up on a handle.
INPROC_REPS=$(( REPS * 10 ))
if "$INPROC" "$FLAT" "$FLOOR_DB" "$INPROC_REPS" >"$WORK/res/inproc.out" 2>"$WORK/res/inproc.err"; then
	rm -f "$WORK/res/inproc_"*
	while read -r k v; do
		case $k in
		*_run) echo "$v" >>"$WORK/res/inproc_${k%_run}.runs"; echo inproc >"$WORK/res/inproc_${k%_run}.round" ;;
		*) echo "$v" >"$WORK/res/inproc_$k" ;;
		esac
	done <"$WORK/res/inproc.out"
else
	log "bench-inproc failed: $(cat "$WORK/res/inproc.err")"
fi

if ((BIG > 0)); then
	NB=$(fmt_n "$BIG")
	log "near the floor: $BIG applied flat steps (applying them takes a while)"
	BIGI=$WORK/flat_big
	make_flat_install "$BIGI" "$BIG"
	REPS=$(( SAVED_REPS * 3 ))
	measure 2 big_up "" "$(q "$FERRY" -C "$BIGI" up)" \
		big_status "" "$(q "$FERRY" -C "$BIGI" status)" \
		big_floor "" "$(floor_cmd "$BIGI")"
	REPS=$SAVED_REPS
	mapfile -t FULL_P < <(full_preps "$BIGI" big_full)
	measure 1 big_full_warm "${FULL_P[0]}" "$(q "$FERRY" -C "$BIGI" up)" \
		big_full_cold "${FULL_P[1]}" "$(q "$FERRY" -C "$BIGI" up)"

	# The planner: a chain of BIG versions and five shortcut folders, not applied.
	log "the planner over $BIG versions"
	PL=$WORK/plan_big
	mkdir -p "$PL"
	printf 'app: bench\nmigrations: migrations\ndatabases:\n  main: sqlite:data/app.db\n' >"$PL/ferry.yaml"
	"$FERRY" -q -C "$PL" init >/dev/null
	gen_flat_chain "$PL/migrations" "$BIG"
	for k in 1 2 3 4 5; do
		a=$(( k * BIG / 6 )) b=$(( k * BIG / 6 + BIG / 10 ))
		mkdir -p "$PL/migrations/v0.$a.0_to_v0.$b.0"
		printf -- '-- ferry:up\nSELECT 1;\n' >"$PL/migrations/v0.$a.0_to_v0.$b.0/001_skip.sql"
	done
	find "$PL/migrations" "$PL/ferry.yaml" -exec touch -d '-1 hour' {} +
	if "$PLANB" "$PL/migrations" "$REPS" >"$WORK/res/plan.out" 2>"$WORK/res/plan.err"; then
		while read -r k v; do echo "$v" >"$WORK/res/planner_$k"; done <"$WORK/res/plan.out"
	else
		log "bench-plan failed: $(cat "$WORK/res/plan.err")"
	fi
	measure 1 plan_cli "" "$(q "$FERRY" -C "$PL" plan)" plan_json "" "$(q "$FERRY" -C "$PL" plan --json)" \
		plan_floor "" "$(q "$FLOOR" --read "$PL/migrations" "$FLOOR_DB" "SELECT v FROM t")"
fi

# ---- 2./3. apply, group and step ----------------------------------------------

for mode in group step; do
	T=$WORK/tpl_$mode
	B=$WORK/base_$mode.db
	P_FERRY=$(prep "apply_$mode" "rm -rf $(q "$T/data") $(q "$T/.ferry")
cp -a $(q "$T/ferry-pristine") $(q "$T/.ferry")
sync")
	P_BASE=$(prep "base_$mode" "rm -f $(q "$B") $(q "$B-journal")
sync")
	# --skip-backup: the statements against the same statements (the pre-run
	# backup of an empty database is measured apart, by bench/backup.sh).
	SET=("apply_$mode" "$P_FERRY" "$(q "$FERRY" -q -C "$T" up --skip-backup)"
		"base_$mode" "$P_BASE" "$(q sqlite3 "$B" ".read $WORK/$mode.sql")")
	[[ -z $HAVE_FLOOR ]] || SET+=("floor_$mode" "$P_BASE" "$(q sqlite3 "$B" ".read $WORK/floor_$mode.sql")")
	if [[ $mode == step && -z $DBMATE_WHY ]]; then
		P_DBM=$(prep dbmate_apply "rm -f $(q "$DM/apply.db") $(q "$DM/apply.db-journal")
sync")
		SET+=(dbmate_apply "$P_DBM" "$(dbm apply.db up)")
	fi
	measure 1 "${SET[@]}"
done
# What the last round left behind must be complete.
for mode in group step; do
	[[ ! -f $WORK/res/apply_$mode ]] || check_tables "$WORK/tpl_$mode/data/app.db" "ferry up (transaction: $mode)"
done
for mode in group step; do
	[[ ! -f $WORK/res/base_$mode ]] || check_tables "$WORK/base_$mode.db" "sqlite3 ($mode)"
done
[[ -n $DBMATE_WHY || ! -f $WORK/res/dbmate_apply ]] || check_tables "$DM/apply.db" "dbmate up"

# ---- report ------------------------------------------------------------------

val() { [[ -f $WORK/res/$1 ]] && cat "$WORK/res/$1"; }
ms() { # KEY -> "12.3 ms" or the error
	local v
	if v=$(val "$1"); then
		awk -v v="$v" 'BEGIN { if (v < 10) printf "%.2f ms", v; else if (v < 100) printf "%.1f ms", v; else printf "%.0f ms", v }'
	elif [[ -f $WORK/res/$1.err ]]; then
		printf 'failed: %s' "$(cut -c1-120 "$WORK/res/$1.err" | tr '|' '/')"
	else
		printf 'n/a'
	fi
}
cpu() { [[ -f $WORK/res/$1.cpu ]] && awk -v v="$(cat "$WORK/res/$1.cpu")" 'BEGIN { printf "%.1f ms", v }' || printf '–'; }
# A / B. Timed in the same rounds of one measure call (every run of A beside
# one of B), it is the median of the rounds' ratios: a change of the machine's
# speed during the call moves both runs of a round, and cancels out. Else
# (A and B timed apart) it is the ratio of the medians.
# The rounds' ratios, sorted, one a line; fails unless A and B were paired.
round_ratios() { # A B
	local ra=$WORK/res/$1 rb=$WORK/res/$2
	[[ -f $ra.round && -f $rb.round && -f $ra.runs && -f $rb.runs ]] && cmp -s "$ra.round" "$rb.round" &&
		[[ $(wc -l <"$ra.runs") == $(wc -l <"$rb.runs") ]] || return 1
	paste "$ra.runs" "$rb.runs" | awk '{ printf "%.6f\n", $1 / $2 }' | sort -n
}
ratio() { # A B -> A/B
	local a b rr
	a=$(val "$1") && b=$(val "$2") || { printf '–'; return; }
	if rr=$(round_ratios "$1" "$2"); then
		awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }' <<<"$rr"
	else
		awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
	fi
}
# The middle half of the rounds' ratios, "Q1 Q3" (the quartiles); fails when
# A and B were not paired or ran fewer than 4 rounds.
ratio_iqr() { # A B
	local rr
	rr=$(round_ratios "$1" "$2") || return 1
	awk '{ v[NR] = $1 } END { if (NR < 4) exit 1; q1 = int((NR + 3) / 4); q3 = NR + 1 - q1
		printf "%.2f %.2f", v[q1], v[q3] }' <<<"$rr"
}
# verdicts
below() { local v; v=$(val "$1") && awk -v v="$v" -v t="$2" 'BEGIN { exit !(v < t) }'; }
ratio_le() { local r; r=$(ratio "$1" "$2") && [[ $r != – ]] && awk -v r="$r" -v t="$3" 'BEGIN { exit !(r <= t) }'; }
verdict() { if "$@"; then echo "met"; else echo "**missed**"; fi; }
# A ratio's verdict; "on the line" when the target falls inside the middle
# half of the rounds' ratios: another run may well give the other verdict.
v_ratio() { # A B TARGET
	local v q
	v=$(verdict ratio_le "$1" "$2" "$3")
	if q=$(ratio_iqr "$1" "$2") && awk -v q="$q" -v t="$3" 'BEGIN { split(q, a, " "); exit !(a[1] <= t && t < a[2]) }'; then
		v="$v (on the line)"
	fi
	echo "$v"
}

SQLITE_V=$(sqlite3 --version | awk '{print $1}')
FS=$(df -PT "$WORK" | awk 'NR == 2 { print $2 " (" $1 ", mounted on " $7 ")" }')
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
BUILDTYPE=$(buildtype_of "$BUILD")

echo "## ferry benchmarks"
echo
echo "$NS one-statement SQL steps (\`CREATE TABLE tNNNN(x INTEGER)\`), median of $REPS runs; ratio = ferry / floor or peer, the median of the rounds' ratios where both ran in the same rounds (interleaved), else of the medians; in brackets, the middle half of the rounds' ratios (quartiles). A verdict is \"on the line\" when its target falls inside that middle half."
echo "The floor (noop-floor) lists and stats the migrations folder and reads one row of a one-table SQLite file: all a no-op must do."
echo
# The ratio column: the ratio and, for rounds paired, the middle half of the rounds' ratios.
ratio_cell() { # A B
	local r q
	r=$(ratio "$1" "$2")
	if q=$(ratio_iqr "$1" "$2"); then r="$r (${q% *}–${q#* })"; fi
	echo "$r"
}
row() { # SCENARIO FERRY_KEY BASE_TEXT BASE_KEY TARGET_TEXT VERDICT CPU_KEY
	echo "| $1 | $(ms "$2") | $3 | $( [[ -n $4 ]] && ratio_cell "$2" "$4" || echo –) | $5 | $6 | $(cpu "$7") |"
}
v_below() { verdict below "$1" "$2"; }
echo "| scenario | ferry | floor / peer | ratio | target | verdict | ferry user+sys |"
echo "|---|---:|---|---:|---|---|---:|"
row "no-op \`ferry up\`, $NS applied flat steps" flat_up "$(ms flat_floor) (noop-floor, $NS files)" flat_floor "≤ 1.3" "$(v_ratio flat_up flat_floor 1.3)" flat_up
row "no-op \`ferry status\`, $NS applied flat steps" flat_status "$(ms flat_floor) (same)" flat_floor "≤ 1.3" "$(v_ratio flat_status flat_floor 1.3)" flat_status
if [[ -z $DBMATE_WHY ]]; then
	row "no-op \`ferry up\` against dbmate $DBMATE_VERSION, $NS applied" flat_up "$(ms flat_dbmate_up) (dbmate up)" flat_dbmate_up "≤ 0.20 (5× faster)" "$(v_ratio flat_up flat_dbmate_up 0.20)" flat_up
	row "\`ferry status\` against dbmate, $NS applied" flat_status "$(ms flat_dbmate_status) (dbmate status)" flat_dbmate_status "≤ 0.20 (5× faster)" "$(v_ratio flat_status flat_dbmate_status 0.20)" flat_status
else
	echo "| no-op \`up\` / \`status\` against dbmate | – | $DBMATE_WHY | – | ≤ 0.20 | not run | – |"
fi
if ((BIG > 0)); then
	row "no-op \`ferry up\`, $NB applied flat steps" big_up "$(ms big_floor) (noop-floor, $NB files)" big_floor "≤ 1.3" "$(v_ratio big_up big_floor 1.3)" big_up
	row "no-op \`ferry status\`, $NB applied flat steps" big_status "$(ms big_floor) (same)" big_floor "≤ 1.3" "$(v_ratio big_status big_floor 1.3)" big_status
fi
row "no-op \`ferry up\`, the full check (fingerprints forgotten), $NS applied, checksum cache as a run leaves it" flat_full_warm "$(ms flat_floor) (noop-floor, $NS files)" flat_floor "–" "–" flat_full_warm
row "the same, no checksum cache (every file hashed, the cache rebuilt)" flat_full_cold "$(ms flat_floor) (same)" flat_floor "–" "–" flat_full_cold
if ((BIG > 0)); then
	row "no-op \`ferry up\`, the full check, $NB applied, cache as a run leaves it" big_full_warm "$(ms flat_full_warm) (the same at $NS)" flat_full_warm "≤ $(( BIG / STEPS * 13 / 10 )) (linear)" "$(v_ratio big_full_warm flat_full_warm $(( BIG / STEPS * 13 / 10 )))" big_full_warm
	row "the same, no checksum cache" big_full_cold "$(ms flat_full_cold) (the same at $NS)" flat_full_cold "≤ $(( BIG / STEPS * 13 / 10 )) (linear)" "$(v_ratio big_full_cold flat_full_cold $(( BIG / STEPS * 13 / 10 )))" big_full_cold
fi
row "in one process: ferry_open + ferry_up + ferry_close, nothing to do ($NS)" inproc_cycle "$(ms inproc_floor) (the floor in the same process)" inproc_floor "≤ 1.5" "$(v_ratio inproc_cycle inproc_floor 1.5)" ""
row "in one process: the second ferry_up() on an open handle (its watch saw nothing change)" inproc_second "–" "" "≤ 0.5 ms" "$(v_below inproc_second 0.5)" ""
row "in one process: each later ferry_up() on the same handle" inproc_again "–" "" "≤ 0.5 ms" "$(v_below inproc_again 0.5)" ""
row "in one process: the second ferry_up() on a handle without a watch (FERRY_OPEN_ONE_SHOT: lists and stats again)" inproc_second_stat "–" "" "–" "–" ""
if ((BIG > 0)); then
	row "the planner: path over $NB versions and 5 shortcuts ($(cat "$WORK/res/planner_hops" 2>/dev/null || echo ?) hops)" planner_path "$(ms planner_load) (reading that catalog)" planner_load "≤ 20 ms" "$(v_below planner_path 20)" ""
	row "\`ferry plan --json\`, the same $NB versions (the whole command, a 3 MB document)" plan_json "$(ms plan_floor) (noop-floor --read: list and read the $NB files)" plan_floor "– (≤ 20 ms is the planner's)" "–" plan_json
	row "\`ferry plan\`, the same, as text (the CLI reads that document back)" plan_cli "$(ms plan_floor) (same)" plan_floor "–" "–" plan_cli
fi
row "no-op \`ferry up\`, $NS steps in one folder, cache warm" noop_up "$(ms noop_base) (sqlite3 reads \`ferry_steps\`)" noop_base "< 5 ms" "$(v_below noop_up 5)" noop_up
row "no-op \`ferry status\`, $NS steps in one folder" noop_status "$(ms noop_base) (same)" noop_base "< 5 ms" "$(v_below noop_status 5)" noop_status
row "no-op \`ferry up\` after \`touch\` of all $NS files (re-hash)" noop_touched "$(ms noop_up) (cache warm)" noop_up "– (shows the cache)" "–" noop_touched
row "apply $NS steps, \`transaction: group\`" apply_group "$(ms base_group) (sqlite3, BEGIN … COMMIT)" base_group "≤ 1.5" "$(v_ratio apply_group base_group 1.5)" apply_group
row "apply $NS steps, \`transaction: step\`" apply_step "$(ms base_step) (sqlite3, $NS commits)" base_step "≤ 1.1" "$(v_ratio apply_step base_step 1.1)" apply_step
if [[ -n $HAVE_FLOOR ]]; then
	row "apply $NS, \`group\`, vs sqlite3 writing the same \`ferry_steps\` rows (record floor)" apply_group "$(ms floor_group) (sqlite3, statements + record)" floor_group "– (ferry's own overhead)" "–" apply_group
	row "apply $NS, \`step\`, vs sqlite3 writing the same \`ferry_steps\` rows (record floor)" apply_step "$(ms floor_step) (sqlite3, $NS commits + record)" floor_step "– (ferry's own overhead)" "–" apply_step
fi
if [[ -z $DBMATE_WHY ]]; then
	row "dbmate $DBMATE_VERSION: apply $NS (a transaction each) vs ferry \`transaction: step\`" apply_step "$(ms dbmate_apply) (dbmate up)" dbmate_apply "–" "–" apply_step
	row "dbmate: no-op \`up\`, $NS applied (ferry: one folder)" noop_up "$(ms dbmate_noop) (dbmate up)" dbmate_noop "–" "–" noop_up
	row "dbmate: \`status\`, $NS applied (ferry: one folder)" noop_status "$(ms dbmate_status) (dbmate status)" dbmate_status "–" "–" noop_status
fi
echo
echo "Step files opened by a no-op \`ferry up\` (strace): $OPENS_WARM with the cache warm, $OPENS_TOUCHED after \`touch\`."
for w in "${WARNINGS[@]+"${WARNINGS[@]}"}"; do echo "WARNING: $w"; done
echo
echo "Machine: $(nproc) CPUs${CPU_MODEL:+ ($CPU_MODEL)}, Linux $(uname -r), sqlite3 $SQLITE_V;" \
	"TMPDIR on $FS; ferry $("$FERRY" --version 2>/dev/null | awk '{print $NF}') ($BUILDTYPE build, $BUILD);" \
	"timer: $TIMER${DBMATE_VERSION:+; dbmate $DBMATE_VERSION}."
