#!/usr/bin/env bash
# bench/foreign.sh BUILD_DIR: the no-op start with another tool's folder
# (issue 12): `ferry up` with nothing to do over N applied migrations of a
# dbmate folder (its history table read on every start, since a
# `dbmate rollback` changes no file) against the same N as ferry's own flat
# steps (the stat fingerprint), and `dbmate status` as the peer, in one
# hyperfine run. Prints a Markdown table of medians and ratios.
# Environment: BENCH_STEPS (default 1000), BENCH_REPS (default 30), DBMATE.
set -euo pipefail
BUILD=$(cd "${1:?usage: bash bench/foreign.sh BUILD_DIR}" && pwd)
FERRY=$BUILD/ferry
N=${BENCH_STEPS:-1000}
REPS=${BENCH_REPS:-30}
DBMATE=${DBMATE:-$HOME/.cache/ferry-dbmate/node_modules/.bin/dbmate}
W=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-foreign.XXXXXX")
trap 'rm -rf "$W"' EXIT

# One installation with N dbmate migrations, one with N flat ferry steps.
mkdir -p "$W/dm/db" "$W/dm/data" "$W/own/migrations" "$W/own/data"
# One table, then one row a migration (as bench/run.sh's steps: a schema of a
# thousand tables would time SQLite reading its schema, not ferry).
for ((i = 1; i <= N; i++)); do
	if ((i == 1)); then up='CREATE TABLE t (x INTEGER)'; down='DROP TABLE t'
	else up="INSERT INTO t VALUES ($i)"; down="DELETE FROM t WHERE x = $i"; fi
	printf -- '-- migrate:up\n%s;\n-- migrate:down\n%s;\n' "$up" "$down" \
		>"$W/dm/db/$(printf '2024%010d' "$i")_t$i.sql"
	printf -- '-- ferry:up\n%s;\n-- ferry:down\n%s;\n' "$up" "$down" \
		>"$W/own/migrations/1.0.$i""_t$i.sql"
done
printf 'app: dm\nmigrations:\n  - path: db\n    layout: dbmate\ndatabases:\n  main: sqlite:data/app.db\n' \
	>"$W/dm/ferry.yaml"
printf 'app: own\nmigrations: migrations\ndatabases:\n  main: sqlite:data/app.db\n' >"$W/own/ferry.yaml"
touch -d '-1 hour' "$W"/dm/db/* "$W"/own/migrations/* "$W/dm/db" "$W/own/migrations"
"$FERRY" -C "$W/dm" up --skip-backup >/dev/null
"$FERRY" -C "$W/own" up --skip-backup >/dev/null
"$FERRY" -C "$W/dm" up >/dev/null
"$FERRY" -C "$W/own" up >/dev/null
cmds=("$FERRY -C $W/own up" "$FERRY -C $W/dm up")
names=("ferry up, own layout" "ferry up, dbmate folder")
if [[ -x $DBMATE ]]; then
	cmds+=("$DBMATE --url sqlite:$W/dm/data/app.db --migrations-dir $W/dm/db status")
	names+=("dbmate status (peer)")
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N -w 5 -r "$REPS" --export-json "$W/h.json" "${args[@]}" >/dev/null 2>&1
echo "| no-op start, $N applied migrations | median | ratio to ferry's own layout |"
echo "|---|---|---|"
jq -r '.results as $r | $r[] | "| \(.command) | \((.median * 1000 * 100 | round) / 100) ms | \(((.median / $r[0].median) * 100 | round) / 100)x |"' "$W/h.json"
