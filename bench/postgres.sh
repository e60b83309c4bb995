#!/usr/bin/env bash
# ferry on PostgreSQL: bash bench/postgres.sh BUILD_DIR
#
# Starts a throw-away PostgreSQL 15 server (tests/pg/pg.sh) and prints a
# Markdown table (medians of BENCH_REPS runs, default 5) of:
#   1. applying 1,000 one-statement steps (CREATE TABLE tNNNN(x INTEGER)) with
#      ferry --skip-backup, transaction: group and transaction: step, against
#      one psql process sending the same 1,000 statements as 1,000
#      transactions (BEGIN; ...; COMMIT;) over the same socket; target ratio
#      <= 1.0 grouped (issue 14), <= 1.5 a commit per step; and ferry with its
#      pre-run backup (pg_dump -Fc) for scale;
#   2. a no-op `ferry up` against the 1,000 applied steps (hyperfine, many
#      runs): password (SCRAM) over the Unix socket, target < 10 ms; and
#      trust, target <= 1.25 x pg-floor (issue 14);
#      beside bench/pg-floor, a program that only loads libpq, connects and
#      reads the version row (the floor for any no-op start).
#
# Environment: BENCH_REPS (default 5), BENCH_STEPS (default 1000),
# BENCH_PG_FSYNC (on: a durable server, the default; off), BENCH_TIMER=loop
# (no hyperfine). Needs postgresql-15 and postgresql-client-15.
set -euo pipefail

[[ $# -eq 1 && -d $1 ]] || { echo "usage: bash bench/postgres.sh BUILD_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
FERRY=$BUILD/ferry
[[ -x $FERRY ]] || { echo "bench: $FERRY is missing (run 'make' first)" >&2; exit 2; }
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${BENCH_REPS:-5}
STEPS=${BENCH_STEPS:-1000}
W=$(( ${#STEPS} > 4 ? ${#STEPS} : 4 ))
command -v psql >/dev/null || { echo "bench: psql is needed (apt-get install postgresql-client-15)" >&2; exit 2; }

log() { printf 'bench: %s\n' "$*" >&2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pgbench.XXXXXX")
chmod 711 "$WORK"   # the server runs as 'postgres' in a folder below
PG=$WORK/pg
cleanup() { "$TOP/tests/pg/pg.sh" stop "$PG" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
log "starting PostgreSQL (fsync=${BENCH_PG_FSYNC:-on}) in $PG"
eval "$(FERRY_PG_FSYNC=${BENCH_PG_FSYNC:-on} "$TOP/tests/pg/pg.sh" start "$PG")"

HF=
[[ ${BENCH_TIMER:-} == loop ]] || ! command -v hyperfine >/dev/null || HF=hyperfine

admin() { psql "$FERRY_TEST_PG_ADMIN" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
reset_db() {
	admin "DROP SCHEMA IF EXISTS ferry CASCADE; DROP SCHEMA IF EXISTS public CASCADE;
		CREATE SCHEMA public AUTHORIZATION pg_database_owner;
		GRANT USAGE ON SCHEMA public TO PUBLIC; CHECKPOINT;" >/dev/null 2>&1
}
ntables() { admin "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$'"; }

# ---- the steps and the baseline ----

make_install() { # DIR group|step
	mkdir -p "$1/migrations/v0.0.0_to_v1.0.0"
	cat >"$1/ferry.yaml" <<EOF
app: pgbench
transaction: $2
databases:
  main: \${BENCH_PGURL}
EOF
	awk -v dir="$1/migrations/v0.0.0_to_v1.0.0" -v n="$STEPS" -v w="$W" 'BEGIN {
		for (i = 1; i <= n; i++) {
			k = sprintf("%0" w "d", i); f = dir "/" k "_create_t" k ".sql"
			printf "-- ferry:up\nCREATE TABLE t%s(x INTEGER);\n-- ferry:down\nDROP TABLE t%s;\n", k, k > f
			close(f)
		}
	}'
	find "$1/migrations" -type f -exec touch -d "@$(($(date +%s) - 3600))" {} +
}
awk -v n="$STEPS" -v w="$W" 'BEGIN {
	for (i = 1; i <= n; i++) { k = sprintf("%0" w "d", i); printf "BEGIN;\nCREATE TABLE t%s(x INTEGER);\nCOMMIT;\n", k }
}' >"$WORK/psql.sql"
export BENCH_PGURL=$FERRY_TEST_PG
make_install "$WORK/group" group
make_install "$WORK/step" step

ms_now() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timed NAME CMD...: one run after reset_db; appends ms to WORK/NAME.runs
timed() {
	local name=$1 t0 t1
	shift
	reset_db
	t0=$(ms_now)
	"$@" >"$WORK/$name.log" 2>&1 || { log "$name failed:"; tail -5 "$WORK/$name.log" >&2; exit 1; }
	t1=$(ms_now)
	echo "$(( (t1 - t0) / 1000 ))" | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$WORK/$name.runs"
	[[ $(ntables) == "$STEPS" ]] || { log "$name left $(ntables) tables, expected $STEPS"; exit 1; }
}
ferry_apply() { rm -rf "$WORK/$1/.ferry"; "$FERRY" -q -C "$WORK/$1" up "${@:2}"; }
psql_apply() { psql "$FERRY_TEST_PG" -X -q -v ON_ERROR_STOP=1 -f "$WORK/psql.sql"; }

log "applying $STEPS steps, $REPS rounds (ferry group, step, with backup; psql), interleaved"
for ((r = 0; r <= REPS; r++)); do
	timed group ferry_apply group --skip-backup
	timed step ferry_apply step --skip-backup
	timed backup ferry_apply group
	timed psql psql_apply
	if ((r == 0)); then rm -f "$WORK"/*.runs; fi   # the first round warms caches
done
G=$(median <"$WORK/group.runs") S=$(median <"$WORK/step.runs") B=$(median <"$WORK/psql.runs")
K=$(median <"$WORK/backup.runs")

# ---- no-op ----

reset_db
rm -rf "$WORK/group/.ferry"
"$FERRY" -q -C "$WORK/group" up
"$FERRY" -q -C "$WORK/group" up   # settles the checksum cache
# median_ms CMD...: the median wall time of CMD in ms (hyperfine, or a loop).
median_ms() {
	if [[ -n $HF ]]; then
		# hyperfine -N splits its command as a shell would: quote each word.
		hyperfine -N --style none -w 10 -r 200 --export-json "$WORK/noop.json" \
			"$(printf '%q ' "$@")" >/dev/null 2>&1 || { log "hyperfine failed: $*"; exit 1; }
		python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$WORK/noop.json"
	else
		local i t0
		for ((i = 0; i < 100; i++)); do
			t0=$(ms_now)
			"$@" >/dev/null
			echo "$(( ($(ms_now) - t0) / 1000 ))" | awk '{ printf "%.3f\n", $1 / 1000 }'
		done | median
	fi
}
noop() { BENCH_PGURL=$2 median_ms "$FERRY" -q -C "$1" up; } # DIR URL
floor() { median_ms "$BUILD/bench/pg-floor" "$@"; }          # URL [DIR]
log "no-op ferry up, $STEPS applied"
[[ -x $BUILD/bench/pg-floor ]] || { log "$BUILD/bench/pg-floor is missing (run 'make')"; exit 2; }
N_SCRAM=$(noop "$WORK/group" "$FERRY_TEST_PG")
F_SCRAM=$(floor "$FERRY_TEST_PG")
N_TRUST=$(noop "$WORK/group" "$FERRY_TEST_PG_ADMIN")
F_TRUST=$(floor "$FERRY_TEST_PG_ADMIN")
# The same floor with the listing SPEC section 2 also asks of a no-op (list
# and stat the migrations folder), beside the connection as ferry does it.
F_TRUST_LIST=$(floor "$FERRY_TEST_PG_ADMIN" "$WORK/group/migrations")
mkdir -p "$WORK/lite"
cp -R "$WORK/group/migrations" "$WORK/lite/"
printf 'app: lite\ndatabases:\n  main: sqlite:data/app.db\n' >"$WORK/lite/ferry.yaml"
find "$WORK/lite" -exec touch -h -d "@$(($(date +%s) - 3600))" {} +
# touch sets the modification time an hour back, but the change time is now:
# past the 2 s racy window, the no-op after them stores its digest.
sleep 2.1
"$FERRY" -q -C "$WORK/lite" up && "$FERRY" -q -C "$WORK/lite" up
N_LITE=$(noop "$WORK/lite" unused)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ok() { if awk -v v="$1" -v t="$2" 'BEGIN { exit !(v <= t) }'; then echo met; else echo "**missed**"; fi; }

echo "## ferry on PostgreSQL"
echo
echo "$STEPS one-statement steps (\`CREATE TABLE tNNNN(x INTEGER)\`), PostgreSQL $(admin 'SHOW server_version' | awk '{print $1}') over a Unix socket, fsync=${BENCH_PG_FSYNC:-on}; median of $REPS runs."
echo
echo "| scenario | ferry | baseline | ratio | target |"
echo "|---|---:|---|---:|---|"
echo "| apply $STEPS steps, \`transaction: group\` (one commit), \`--skip-backup\` | $G ms | $B ms (psql, $STEPS transactions) | $(ratio "$G" "$B") | ≤ 1.0 (issue 14): $(ok "$(ratio "$G" "$B")" 1.0) |"
echo "| apply $STEPS steps, \`transaction: step\` ($STEPS commits), \`--skip-backup\` | $S ms | $B ms (same) | $(ratio "$S" "$B") | ≤ 1.5: $(ok "$(ratio "$S" "$B")" 1.5) |"
echo "| apply $STEPS steps, \`group\`, with the pre-run backup (pg_dump -Fc) | $K ms | $B ms (same) | $(ratio "$K" "$B") | – |"
echo "| no-op \`ferry up\`, $STEPS applied, password (SCRAM) | $N_SCRAM ms | $F_SCRAM ms (pg-floor) | $(ratio "$N_SCRAM" "$F_SCRAM") | < 10 ms: $(ok "$N_SCRAM" 9.999) |"
echo "| no-op \`ferry up\`, $STEPS applied, trust on the socket | $N_TRUST ms | $F_TRUST ms (pg-floor) | $(ratio "$N_TRUST" "$F_TRUST") | ≤ 1.25 × pg-floor (issue 14): $(ok "$(ratio "$N_TRUST" "$F_TRUST")" 1.25) |"
echo "| the same, against pg-floor listing and stating the $STEPS files beside its connection | $N_TRUST ms | $F_TRUST_LIST ms (pg-floor + listing) | $(ratio "$N_TRUST" "$F_TRUST_LIST") | – (what ferry adds to all a no-op must do) |"
echo "| no-op \`ferry up\`, $STEPS applied, SQLite (for scale) | $N_LITE ms | – | – | – |"
echo
echo "pg-floor (bench/pg_floor.c) is the least a no-op start can do on the database: load libpq as ferry does, connect, read the version row, exit; with the folder, a thread does that while the main thread lists and stats the migrations folder, as ferry's start does."
echo "Machine: $(nproc) CPUs, Linux $(uname -r); timer: ${HF:-date +%s%N loop}."
