#!/bin/bash
# tests/crash/campaign.sh - the crash campaign (issue 10): ferry killed at every
# boundary between actions (FERRY_CRASH_AT, deterministic) and at many delays
# spread over a mixed run (SQL grouped and per step, ops, a script, two SQLite
# databases, transition boundaries, a checkpoint); after each kill `status`
# must report the interrupted run, then one of `recover`, `recover --resume`,
# `up` puts it right. Every case is checked: each database and file equals one
# whole version (after `recover --resume` in step mode: a committed prefix),
# no marker missing or doubled, no temporary file, `verify` exit 0, and a
# final `up` reaches the target with every marker once.
#
#   campaign.sh FERRY [DELAYS] [BOUNDARY_LIMIT] [STRIDE]
# DELAYS: how many kill delays per mode and recovery (default 50, so 300 cases
# over two modes and three recoveries); POWER=1 kills the whole session
# (children too) instead of ferry alone. BOUNDARY_LIMIT: how many action
# boundaries (0: none); STRIDE: every how many'th (1: all). Prints one line of counts, and each
# violation; exit 1 when there is one.
set -u
FERRY=$(readlink -f "$1")
DELAYS=${2:-50}
BOUNDARY_LIMIT=${3:-1000}
STRIDE=${4:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-crash.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROWS=${ROWS:-2000}
cases=0 bad=0
declare -A per

# make_fixture DIR MODE: an installation at 1.0.0 and five transitions to 1.5.0.
make_fixture() {
	local d=$1 mode=$2 v
	mkdir -p "$d/migrations" "$d/data" "$d/config"
	cat >"$d/ferry.yaml" <<YAML
app: crashapp
migrations: migrations
transaction: $mode
version_file: config/version.json
databases:
  main: sqlite:data/app.db
  aux: sqlite:data/aux.db
YAML
	printf '{\n  "name": "crashapp"\n}\n' >"$d/config/app.json"
	sqlite3 "$d/data/app.db" "CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE markers(name TEXT);
		WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $ROWS)
		INSERT INTO items SELECT x, 'row ' || x FROM c;"
	sqlite3 "$d/data/aux.db" "CREATE TABLE amarkers(name TEXT);"
	for v in 1 2 3 4 5; do
		local t="$d/migrations/v1.$((v - 1)).0_to_v1.$v.0"
		mkdir -p "$t"
		printf -- '-- ferry:up\nALTER TABLE items ADD COLUMN c%d TEXT;\nUPDATE items SET c%d = v;\nINSERT INTO markers VALUES (%s);\n-- ferry:down\nDELETE FROM markers WHERE name = %s;\nALTER TABLE items DROP COLUMN c%d;\n' \
			"$v" "$v" "'m$v'" "'m$v'" "$v" >"$t/001_col.sql"
		printf -- '-- ferry:database aux\n-- ferry:up\nINSERT INTO amarkers VALUES (%s);\n-- ferry:down\nDELETE FROM amarkers WHERE name = %s;\n' \
			"'a$v'" "'a$v'" >"$t/002_aux.sql"
	done
	cat >"$d/migrations/v1.1.0_to_v1.2.0/003_config.yaml" <<'YAML'
description: two edits of the app's config
ops:
  - set: {file: config/app.json, path: feature.one, value: "on"}
  - set: {file: config/app.json, path: feature.two, value: "on"}
YAML
	cat >"$d/migrations/v1.2.0_to_v1.3.0/003_script.sh" <<'SH'
#!/bin/sh
case "$1" in
forward) sleep 0.05; echo done >data/script.out ;;
backward) rm -f data/script.out ;;
check) [ -e data/script.out ] && exit 1; exit 0 ;;
esac
SH
	chmod +x "$d/migrations/v1.2.0_to_v1.3.0/003_script.sh"
	"$FERRY" -C "$d" version --set 1.0.0 >/dev/null
}

# The observable state of an installation: schema, rows, files (not ferry's own).
snapshot() {
	local d=$1
	{
		sqlite3 "$d/data/app.db" ".schema items" "SELECT name FROM markers ORDER BY name;" \
			"SELECT count(*), sum(length(coalesce(c1,'')||coalesce(c2,'')||coalesce(c3,'')||coalesce(c4,'')||coalesce(c5,''))) FROM items;" 2>&1
		sqlite3 "$d/data/aux.db" "SELECT name FROM amarkers ORDER BY name;" 2>&1
		cat "$d/config/app.json"
		echo "script.out: $(cat "$d/data/script.out" 2>/dev/null || echo none)"
	}
}

# The reference snapshot of each version: 1.0.0 .. 1.5.0.
REF="$WORK/ref"
for mode in group step; do
	make_fixture "$REF/$mode" "$mode"
	snapshot "$REF/$mode" >"$REF/$mode.1.0.0"
	for v in 1 2 3 4 5; do
		"$FERRY" -C "$REF/$mode" up "1.$v.0" >/dev/null 2>&1 || { echo "reference up 1.$v.0 failed"; exit 2; }
		snapshot "$REF/$mode" >"$REF/$mode.1.$v.0"
	done
done
cp -a "$REF/group" "$WORK/base-group-done" 2>/dev/null

# prefix_of DIR: one letter per step of the plan, in its order: 1 done, 0 not, ? half.
prefix_of() {
	local d=$1 v col mk am out=""
	for v in 1 2 3 4 5; do
		col=$(sqlite3 "$d/data/app.db" "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'c$v';")
		mk=$(sqlite3 "$d/data/app.db" "SELECT count(*) FROM markers WHERE name = 'm$v';")
		am=$(sqlite3 "$d/data/aux.db" "SELECT count(*) FROM amarkers WHERE name = 'a$v';")
		if [ "$col" = 1 ] && [ "$mk" = 1 ]; then out="${out}1"
		elif [ "$col" = 0 ] && [ "$mk" = 0 ]; then out="${out}0"
		else out="${out}?"; fi
		out="$out$am"
		if [ $v = 2 ]; then
			case "$(grep -c '"on"' "$d/config/app.json")" in
			2) out="${out}1" ;; 0) out="${out}0" ;; *) out="${out}?" ;; esac
		fi
		if [ $v = 3 ]; then
			[ -e "$d/data/script.out" ] && out="${out}1" || out="${out}0"
		fi
	done
	echo "$out"
}

# prefix_ok DIR: the steps done are exactly the first few of the plan.
prefix_ok() {
	[[ "$(prefix_of "$1")" =~ ^1*0*$ ]]
}

violation() {
	bad=$((bad + 1))
	echo "VIOLATION [$1]: $2"
}

# check DIR MODE RECOVERY LABEL: after the recovery, the state is one whole version.
check() {
	local d=$1 mode=$2 how=$3 label=$4 s v recorded filev ok=0
	s=$(snapshot "$d")
	recorded=$("$FERRY" -C "$d" version 2>/dev/null | tr -d '[:space:]')
	filev=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$d/config/version.json")
	for v in 1.0.0 1.1.0 1.2.0 1.3.0 1.4.0 1.5.0; do
		if [ "$s" = "$(cat "$REF/$mode.$v")" ]; then
			ok=1
			[ "$how" = recover ] && [ "$v" != 1.0.0 ] && [ "$v" != "$recorded" ] &&
				violation "$label" "recover left $v, recorded $recorded"
			[ "$v" != "$recorded" ] && violation "$label" "data at $v, recorded $recorded"
			break
		fi
	done
	if [ $ok = 0 ] && [ "$how" = "recover --resume" ]; then
		prefix_ok "$d" || violation "$label" "the state is no committed prefix: $(prefix_of "$d")"
	elif [ $ok = 0 ]; then
		violation "$label" "the state is no whole version: $(diff <(echo "$s") "$REF/$mode.1.0.0" | head -5 | tr '\n' ' ')"
	fi
	[ "$filev" = "$recorded" ] || violation "$label" "version file $filev, recorded $recorded"
	if find "$d" -name '*ferry-tmp*' | grep -q .; then
		violation "$label" "temporary files left: $(find "$d" -name '*ferry-tmp*' | tr '\n' ' ')"
	fi
	"$FERRY" -C "$d" verify >/dev/null 2>&1 || violation "$label" "verify exit $?"
	"$FERRY" -C "$d" up >/dev/null 2>&1 || violation "$label" "the final up failed: $("$FERRY" -C "$d" up 2>&1 | tail -1)"
	[ "$(snapshot "$d")" = "$(cat "$REF/$mode.1.5.0")" ] ||
		violation "$label" "the final up is not 1.5.0: $(diff <(snapshot "$d") "$REF/$mode.1.5.0" | head -4 | tr '\n' ' ')"
}

# one_case MODE RECOVERY LABEL KILLER...: a fresh copy, the killed up, the recovery, the check.
one_case() {
	local mode=$1 how=$2 label=$3 kind=$4 arg=$5 d="$WORK/case" pid
	rm -rf "$d"
	cp -a "$WORK/base-$mode" "$d"
	if [ "$kind" = at ]; then
		(FERRY_CRASH_AT=$arg exec "$FERRY" -C "$d" up >/dev/null 2>&1)
	else
		setsid "$FERRY" -C "$d" up >/dev/null 2>&1 &
		pid=$!
		sleep "$arg"
		if [ "${POWER:-0}" = 1 ]; then
			# a power loss: every process of ferry's session (it, its supervisors,
			# its children in their own groups) dies at the same moment
			kill -9 $(ps -o pid= -s "$pid") 2>/dev/null
		else
			kill -9 "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
		[ "${POWER:-0}" = 1 ] && sleep 0.1
	fi
	cases=$((cases + 1))
	per["$mode $how"]=$(( ${per["$mode $how"]:-0} + 1 ))
	if "$FERRY" -C "$d" status 2>/dev/null | grep -qi 'interrupted\|running'; then
		:
	elif [ "$("$FERRY" -C "$d" version 2>/dev/null | tr -d '[:space:]')" != 1.5.0 ]; then
		# killed before the run began, or after it ended: status has nothing to say
		"$FERRY" -C "$d" status >/dev/null 2>&1 || violation "$label" "status failed"
	fi
	case "$how" in
	recover) "$FERRY" -C "$d" recover >/dev/null 2>&1 || violation "$label" "recover exit $?" ;;
	"recover --resume") "$FERRY" -C "$d" recover --resume >/dev/null 2>&1 ||
		violation "$label" "recover --resume exit $?" ;;
	up) "$FERRY" -C "$d" up >/dev/null 2>&1 || violation "$label" "up exit $?" ;; # recovers by itself
	esac
	check "$d" "$mode" "$how" "$label"
}

for mode in group step; do
	make_fixture "$WORK/base-$mode" "$mode"
done

# (i) every boundary between actions, and between the two ops of the ops step
for mode in group step; do
	n=$(FERRY_CRASH_AT=100000 "$FERRY" -C "$WORK/base-$mode" plan --json 2>/dev/null | grep -o '"kind"' | wc -l)
	[ "$n" -gt "$BOUNDARY_LIMIT" ] && n=$BOUNDARY_LIMIT
	i=1
	while [ "$i" -le "$n" ]; do
		for how in recover "recover --resume" up; do
			one_case "$mode" "$how" "$mode action:$i $how" at "action:$i"
		done
		i=$((i + STRIDE))
	done
	if [ "$BOUNDARY_LIMIT" -gt 0 ]; then
		one_case "$mode" recover "$mode op:1 recover" at "op:1"
		one_case "$mode" up "$mode op:1 up" at "op:1"
	fi
done

# (ii) kills at delays spread over the run (its length measured once)
if [ "$DELAYS" -gt 0 ]; then
	for mode in group step; do
		rm -rf "$WORK/t" && cp -a "$WORK/base-$mode" "$WORK/t"
		t0=$(date +%s%N)
		"$FERRY" -C "$WORK/t" up >/dev/null 2>&1
		span=$(( ($(date +%s%N) - t0) / 1000 ))
		for how in recover "recover --resume" up; do
			k=0
			while [ "$k" -lt "$DELAYS" ]; do
				us=$(( span * k / DELAYS + span / (2 * DELAYS) ))
				one_case "$mode" "$how" "$mode delay:${us}us $how" delay "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
				k=$((k + 1))
			done
		done
	done
fi

line="cases: $cases, violations: $bad;"
for k in "${!per[@]}"; do line="$line $k: ${per[$k]};"; done
echo "$line"
[ "$bad" = 0 ]
