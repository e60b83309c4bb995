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
#
# DB=postgres: the main database is PostgreSQL (tests/pg/pg.sh; a server of
# its own unless FERRY_TEST_PG_ADMIN names one), made afresh for each case
# from a template database; aux stays SQLite. It checks besides that the
# steps in ferry.ferry_steps are exactly those whose changes are in the
# data, that ferry.version is the recorded version, and that no connection
# to the case's database is left after the recovery. In both modes no
# process of the case (ferry, a script) may be left once the recovery ended.
# HOWS: the recoveries to try, comma-separated (default: recover,recover
# --resume,up); MODES: the transaction modes (default: "group step").
set -u
FERRY=$(readlink -f "$1")
DELAYS=${2:-50}
BOUNDARY_LIMIT=${3:-1000}
STRIDE=${4:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-crash.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROWS=${ROWS:-2000}
DB=${DB:-sqlite}
IFS=, read -r -a HOWS <<<"${HOWS:-recover,recover --resume,up}"
MODES=${MODES:-group step}
cases=0 bad=0
declare -A per

if [ "$DB" = postgres ]; then
	if [ -z "${FERRY_TEST_PG_ADMIN:-}" ]; then
		PG_SH=$(dirname "$(readlink -f "$0")")/../pg/pg.sh
		chmod 755 "$WORK" # the server's own user (when we are root) reaches its folder
		pgenv=$("$PG_SH" start "$WORK/pg") || { echo "campaign: no PostgreSQL server"; exit 2; }
		eval "$pgenv"
		trap '"$PG_SH" stop "$WORK/pg" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
	else
		trap 'cleanup_dbs; rm -rf "$WORK"' EXIT
	fi
	trap 'exit 3' TERM INT
	admin() { PGOPTIONS='-c client_min_messages=warning' psql "$FERRY_TEST_PG_ADMIN" -X -q -A -t \
		-v ON_ERROR_STOP=1 -c "$1"; }
	pg_url() { echo "postgresql://app:$FERRY_TEST_PG_PASSWORD@/$1?host=$FERRY_PG_DIR&port=$FERRY_PG_PORT"; }
	# the case's database: what ${CRASH_PGURL} in ferry.yaml names
	CASE_DB=crash_case_$$
	export CRASH_PGURL
	CRASH_PGURL=$(pg_url "$CASE_DB")
	pg() { psql "$CRASH_PGURL" -X -q -A -t -c "$1" 2>&1; }
	# fresh_db MODE: the case's database made again from the mode's template (1.0.0)
	fresh_db() {
		admin "DROP DATABASE IF EXISTS $CASE_DB WITH (FORCE)" >/dev/null &&
			admin "CREATE DATABASE $CASE_DB TEMPLATE crash_base_$1_$$ OWNER app" >/dev/null
	}
	cleanup_dbs() {
		local m
		admin "DROP DATABASE IF EXISTS $CASE_DB WITH (FORCE)" >/dev/null 2>&1
		for m in group step; do
			admin "DROP DATABASE IF EXISTS crash_base_${m}_$$ WITH (FORCE)" >/dev/null 2>&1
		done
	}
else
	fresh_db() { :; }
	cleanup_dbs() { :; }
fi

# make_fixture DIR MODE: an installation at 1.0.0 and five transitions to 1.5.0.
make_fixture() {
	local d=$1 mode=$2 v
	local main='sqlite:data/app.db'
	mkdir -p "$d/migrations" "$d/data" "$d/config"
	[ "$DB" = postgres ] && main='${CRASH_PGURL}'
	cat >"$d/ferry.yaml" <<YAML
app: crashapp
migrations: migrations
transaction: $mode
version_file: config/version.json
databases:
  main: $main
  aux: sqlite:data/aux.db
YAML
	printf '{\n  "name": "crashapp"\n}\n' >"$d/config/app.json"
	if [ "$DB" = postgres ]; then
		pg "CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT);
			CREATE TABLE markers(name TEXT);
			INSERT INTO items SELECT x, 'row ' || x FROM generate_series(1, $ROWS) x;" >/dev/null
	else
		sqlite3 "$d/data/app.db" "CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT);
			CREATE TABLE markers(name TEXT);
			WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $ROWS)
			INSERT INTO items SELECT x, 'row ' || x FROM c;"
	fi
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
	"$FERRY" -C "$d" version --set 1.0.0 >/dev/null 2>&1
}

# The observable state of an installation: schema, rows, files (not ferry's own).
snapshot() {
	local d=$1
	{
		if [ "$DB" = postgres ]; then
			pg "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
				FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'items';"
			pg "SELECT name FROM markers ORDER BY name;"
			pg "SELECT count(*), sum(length(i::text)) FROM items i;"
		else
		sqlite3 "$d/data/app.db" ".schema items" "SELECT name FROM markers ORDER BY name;" \
			"SELECT count(*), sum(length(coalesce(c1,'')||coalesce(c2,'')||coalesce(c3,'')||coalesce(c4,'')||coalesce(c5,''))) FROM items;" 2>&1
		fi
		sqlite3 "$d/data/aux.db" "SELECT name FROM amarkers ORDER BY name;" 2>&1
		cat "$d/config/app.json"
		echo "script.out: $(cat "$d/data/script.out" 2>/dev/null || echo none)"
	}
}

# The reference snapshot of each version: 1.0.0 .. 1.5.0.
REF="$WORK/ref"
for mode in $MODES; do
	if [ "$DB" = postgres ]; then
		# the template of the mode's cases: the tables at 1.0.0, made once
		admin "DROP DATABASE IF EXISTS crash_base_${mode}_$$ WITH (FORCE)" >/dev/null
		admin "CREATE DATABASE crash_base_${mode}_$$ OWNER app" >/dev/null || exit 2
		CRASH_PGURL=$(pg_url "crash_base_${mode}_$$")
		make_fixture "$WORK/base-$mode" "$mode"
		CRASH_PGURL=$(pg_url "$CASE_DB")
		cp -a "$WORK/base-$mode" "$REF/$mode" 2>/dev/null || { mkdir -p "$REF" && cp -a "$WORK/base-$mode" "$REF/$mode"; }
		fresh_db "$mode" || exit 2
	else
		make_fixture "$REF/$mode" "$mode"
	fi
	snapshot "$REF/$mode" >"$REF/$mode.1.0.0"
	for v in 1 2 3 4 5; do
		"$FERRY" -C "$REF/$mode" up "1.$v.0" >"$WORK/ref.out" 2>&1 ||
			{ echo "reference up 1.$v.0 failed: $(tail -3 "$WORK/ref.out")"; exit 2; }
		snapshot "$REF/$mode" >"$REF/$mode.1.$v.0"
	done
done

# prefix_of DIR: one letter per step of the plan, in its order: 1 done, 0 not, ? half.
prefix_of() {
	local d=$1 v col mk am out=""
	for v in 1 2 3 4 5; do
		if [ "$DB" = postgres ]; then
			col=$(pg "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'
				AND table_name = 'items' AND column_name = 'c$v';")
			mk=$(pg "SELECT count(*) FROM markers WHERE name = 'm$v';")
		else
		col=$(sqlite3 "$d/data/app.db" "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'c$v';")
		mk=$(sqlite3 "$d/data/app.db" "SELECT count(*) FROM markers WHERE name = 'm$v';")
		fi
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
	if [ "$DB" = postgres ]; then
		local pgv steps want=""
		pgv=$(pg "SELECT version FROM ferry.version;")
		[ "$pgv" = "$recorded" ] || violation "$label" "ferry.version $pgv, recorded $recorded"
		# the steps ferry.ferry_steps holds applied are those whose column is there
		steps=""
		[ "$(pg "SELECT to_regclass('ferry.ferry_steps') IS NULL")" = t ] ||
			steps=$(pg "SELECT string_agg(id, ' ' ORDER BY id) FROM ferry.ferry_steps
				WHERE status = 'applied';")
		for v in 1 2 3 4 5; do
			[ "$(pg "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'
				AND table_name = 'items' AND column_name = 'c$v';")" = 1 ] &&
				want="$want${want:+ }1.$v.0/001_col.sql"
		done
		[ "$steps" = "$want" ] || violation "$label" "ferry.ferry_steps: '$steps', the data: '$want'"
	fi
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
	fresh_db "$mode" || { violation "$label" "cannot make the case's database"; return; }
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
	# nothing of the killed run is left: no process of the case, no connection to its database
	if pgrep -f -- "$d/" >/dev/null; then
		violation "$label" "processes left: $(pgrep -a -f -- "$d/" | head -3 | tr '\n' ' ')"
	fi
	if [ "$DB" = postgres ]; then
		# A backend whose client has exited may take a moment to go (the
		# server notices the closed socket and cleans up): polled for up to
		# 2 s. A connection still there then is held by a live client.
		local left i
		for ((i = 0; i < 40; i++)); do
			left=$(admin "SELECT count(*) FROM pg_stat_activity WHERE datname = '$CASE_DB'")
			[ "$left" != 0 ] || break
			sleep 0.05
		done
		[ "$left" = 0 ] || violation "$label" "$left connection(s) to the database left after 2 s: $(admin "SELECT string_agg(format('pid %s app %L state %s since %s: %s', pid, application_name, state, backend_start, left(query, 60)), '; ') FROM pg_stat_activity WHERE datname = '$CASE_DB'")"
	fi
	check "$d" "$mode" "$how" "$label"
}

if [ "$DB" != postgres ]; then
	for mode in $MODES; do
		make_fixture "$WORK/base-$mode" "$mode"
	done
fi

# (i) every boundary between actions, and between the two ops of the ops step
for mode in $MODES; do
	fresh_db "$mode"
	n=$(FERRY_CRASH_AT=100000 "$FERRY" -C "$WORK/base-$mode" plan --json 2>/dev/null | grep -o '"kind"' | wc -l)
	[ "$n" -gt "$BOUNDARY_LIMIT" ] && n=$BOUNDARY_LIMIT
	i=1
	while [ "$i" -le "$n" ]; do
		for how in "${HOWS[@]}"; do
			one_case "$mode" "$how" "$mode action:$i $how" at "action:$i"
		done
		i=$((i + STRIDE))
	done
	if [ "$BOUNDARY_LIMIT" -gt 0 ]; then
		for how in "${HOWS[@]}"; do
			[ "$how" = "recover --resume" ] && continue
			one_case "$mode" "$how" "$mode op:1 $how" at "op:1"
		done
	fi
done

# (ii) kills at delays spread over the run (its length measured once)
if [ "$DELAYS" -gt 0 ]; then
	for mode in $MODES; do
		rm -rf "$WORK/t" && cp -a "$WORK/base-$mode" "$WORK/t" && fresh_db "$mode"
		t0=$(date +%s%N)
		"$FERRY" -C "$WORK/t" up >/dev/null 2>&1
		span=$(( ($(date +%s%N) - t0) / 1000 ))
		for how in "${HOWS[@]}"; do
			k=0
			while [ "$k" -lt "$DELAYS" ]; do
				us=$(( span * k / DELAYS + span / (2 * DELAYS) ))
				one_case "$mode" "$how" "$mode delay:${us}us $how" delay "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
				k=$((k + 1))
			done
		done
	done
fi

cleanup_dbs
line="$DB: cases: $cases, violations: $bad;"
for k in "${!per[@]}"; do line="$line $k: ${per[$k]};"; done
echo "$line"
[ "$bad" = 0 ]
