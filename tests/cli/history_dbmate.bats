#!/usr/bin/env bats
# history_dbmate.bats - lib/history/'s dbmate table held against the real
# dbmate (npm package dbmate, installed here when missing: CI starts from a
# fresh clone), on SQLite and on PostgreSQL: dbmate migrates half a folder,
# ferry's reader lists exactly those; ferry's writer records the next one
# and `dbmate status` shows it applied, `dbmate rollback` takes it back as
# its own; unrecorded, dbmate shows it pending. The reader and writer run
# through tests/unit/history_probe.

bats_require_minimum_version 1.5.0

DBMATE_VERSION=2.36.0

setup_file() {
	local top dir
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	dir=${FERRY_NPM_CACHE:-$HOME/.cache/ferry-dbmate}
	if ! "$dir/node_modules/.bin/dbmate" --version 2>/dev/null | grep -q "$DBMATE_VERSION"; then
		command -v npm >/dev/null || sh "$top/tools/ensure-packages.sh" npm >&2
		mkdir -p "$dir"
		npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
			"dbmate@$DBMATE_VERSION" >&2
	fi
	export DBMATE="$dir/node_modules/.bin/dbmate"
	export PROBE="${FERRY_BUILD:-$top/build}/tests/unit/history_probe"
}

setup() {
	D="$BATS_TEST_TMPDIR"
	mkdir -p "$D/all" "$D/db/migrations"
	for v in 1 2 3 4; do
		printf -- '-- migrate:up\nCREATE TABLE t%s (x int);\n\n-- migrate:down\nDROP TABLE t%s;\n' \
			"$v" "$v" >"$D/all/2024010${v}000000_t$v.sql"
	done
	# dbmate migrates the first half of the folder.
	cp "$D/all/20240101000000_t1.sql" "$D/all/20240102000000_t2.sql" "$D/db/migrations/"
}

dbmate() {
	"$DBMATE" --url "$DBURL" --migrations-dir "$D/db/migrations" --no-dump-schema "$@"
}

# The same story on the database of $URL (ferry's form) and $DBURL (dbmate's).
story() {
	run -0 dbmate migrate
	cp "$D"/all/*.sql "$D/db/migrations/"
	run -0 "$PROBE" "$URL" dbmate read
	[ "$(sort <<<"$output")" = "$(printf '20240101000000\n20240102000000')" ]
	run -0 dbmate status
	[[ "$output" == *"[ ] 20240103000000_t3.sql"* ]]

	# ferry's writer records the next one, as dbmate would.
	run -0 "$PROBE" "$URL" dbmate record 20240103000000
	run -0 dbmate status
	[[ "$output" == *"[X] 20240101000000_t1.sql"* ]]
	[[ "$output" == *"[X] 20240102000000_t2.sql"* ]]
	[[ "$output" == *"[X] 20240103000000_t3.sql"* ]]
	[[ "$output" == *"[ ] 20240104000000_t4.sql"* ]]
	[[ "$output" == *"Applied: 3"* ]]
	[[ "$output" == *"Pending: 1"* ]]

	# Unrecorded, dbmate shows it pending again.
	run -0 "$PROBE" "$URL" dbmate unrecord 20240103000000
	run -0 dbmate status
	[[ "$output" == *"[ ] 20240103000000_t3.sql"* ]]
	[[ "$output" == *"Applied: 2"* ]]

	# Recorded again, dbmate's rollback takes it as its own latest.
	run -0 "$PROBE" "$URL" dbmate record 20240103000000
	run -0 dbmate migrate                 # applies t4 only: t3 is recorded
	[[ "$output" == *"20240104000000_t4.sql"* ]]
	[[ "$output" != *"20240103000000_t3.sql"* ]]
	run -0 "$PROBE" "$URL" dbmate read
	[ "$(sort <<<"$output" | tr '\n' ' ')" = \
	  "20240101000000 20240102000000 20240103000000 20240104000000 " ]
	run -0 dbmate rollback
	run -0 "$PROBE" "$URL" dbmate read
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "20240101000000 20240102000000 20240103000000 " ]
}

@test "dbmate and ferry's reader and writer agree on SQLite" {
	URL="sqlite:$D/app.db"
	DBURL="sqlite:$D/app.db"
	story
	# The table is dbmate's, not golang-migrate's.
	run -0 "$PROBE" "$URL" golang-migrate read
	[ "$output" = "" ]
	# Made by ferry's writer, the table is the one dbmate makes, to the letter.
	made=$(sqlite3 "$D/app.db" "SELECT sql FROM sqlite_master WHERE name = 'schema_migrations'")
	[ -n "$made" ]
	sqlite3 "$D/app.db" 'DROP TABLE schema_migrations'
	run -0 "$PROBE" "$URL" dbmate record 20240101000000
	[ "$(sqlite3 "$D/app.db" "SELECT sql FROM sqlite_master WHERE name = 'schema_migrations'")" = \
	  "$made" ]
	run -0 dbmate status
	[[ "$output" == *"[X] 20240101000000_t1.sql"* ]]
	[[ "$output" == *"Applied: 1"* ]]
}

@test "dbmate and ferry's reader and writer agree on PostgreSQL" {
	[ -n "${FERRY_TEST_PG:-}" ] || {
		echo "FERRY_TEST_PG is not set: eval \"\$(tests/pg/pg.sh start)\" first" >&2
		return 1
	}
	psql "$FERRY_TEST_PG" -X -q -c 'DROP TABLE IF EXISTS schema_migrations, t1, t2, t3, t4'
	URL="$FERRY_TEST_PG"
	# dbmate's url: the same server, without SSL (lib/pq asks for it by default).
	DBURL="$FERRY_TEST_PG&sslmode=disable"
	story
	# Made by ferry's writer, the table is the one dbmate makes: its columns and keys.
	made=$(pg_desc)
	[ -n "$made" ]
	psql "$FERRY_TEST_PG" -X -q -c 'DROP TABLE IF EXISTS schema_migrations, t1, t2, t3, t4'
	run -0 "$PROBE" "$URL" dbmate record 20240101000000
	[ "$(pg_desc)" = "$made" ]
	run -0 dbmate status
	[[ "$output" == *"[X] 20240101000000_t1.sql"* ]]
	[[ "$output" == *"Applied: 1"* ]]
	psql "$FERRY_TEST_PG" -X -q -c 'DROP TABLE IF EXISTS schema_migrations'
}

# schema_migrations as PostgreSQL describes it: schema, columns, types, keys.
pg_desc() {
	psql "$FERRY_TEST_PG" -X -A -t -c "SELECT table_schema, column_name, data_type, \
coalesce(character_maximum_length, 0), is_nullable FROM information_schema.columns \
WHERE table_name = 'schema_migrations' ORDER BY ordinal_position" -c "SELECT \
pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'schema_migrations'::regclass"
}
