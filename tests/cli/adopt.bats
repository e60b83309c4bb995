#!/usr/bin/env bats
# adopt.bats - other tools' history tables adopted and kept current (issue
# 12 points 3, 4 and 7; lib/adopt.c on lib/history/):
#   - with the real dbmate (npm) on SQLite and PostgreSQL: dbmate migrates
#     half a folder, ferry applies only the rest, `dbmate status` lists
#     every migration applied; `ferry down` is seen by dbmate as its own
#     rollback, `dbmate migrate` takes it back up; `dbmate rollback` after
#     ferry applied a step makes it pending in ferry, and the next `up`
#     applies it again;
#   - for each other tool, its first migration applied "by the tool" (its up
#     run by hand, its row written as the tool writes it, by history_probe):
#     ferry adopts it, applies only the rest, and the tool's table then
#     lists them all;
#   - a migration the tool marks failed or dirty stops `up` (exit 3, naming
#     it), nothing changed; a checksum the tool keeps that no longer fits
#     the file is drift for `verify` and `up`.
# Every message is held against the database and the tool's own table.

bats_require_minimum_version 1.5.0
load helpers

DBMATE_VERSION=2.36.0
FIX="$BATS_TEST_DIRNAME/../fixtures/layouts"
PROBE="${FERRY_BUILD:-$BATS_TEST_DIRNAME/../../build}/tests/unit/history_probe"

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
}

# install TOOL LAYOUT URL M2 LAST: the tool's fixture as the folder db/,
# beside ferry's own folder upgrade/ whose versions.yaml says 1.0.0 ships
# the chain up to its second migration (M2) and 2.0.0 the rest (to LAST).
install() {
	ROOT="$BATS_TEST_TMPDIR/inst"
	mkdir -p "$ROOT/data" "$ROOT/upgrade"
	cp -r "$FIX/$1" "$ROOT/db"
	rm -f "$ROOT/db/R__user_names_view.sql" # a repeatable has no undo (layouts.bats has it)
	{
		echo "app: testapp"
		echo "migrations:"
		echo "  - path: db"
		[ -z "$2" ] || echo "    layout: $2"
		echo "  - path: upgrade"
		echo "databases:"
		echo "  main: $3"
	} >"$ROOT/ferry.yaml"
	printf -- '- version: 1.0.0\n  schema: "%s"\n- version: 2.0.0\n  schema: "%s"\n' "$4" "$5" \
		>"$ROOT/upgrade/versions.yaml"
}

db() { sqlite3 "$ROOT/data/app.db" "$@"; }
tool_applied() { "$PROBE" "$URL" "$1" read | sort -V | paste -sd ' ' -; }
states() { ferry list --json | jq -r '.steps[] | select(.layout != null) | .state' | paste -sd ' ' -; }
dbmate() { "$DBMATE" --url "$DBURL" --migrations-dir "$ROOT/db" --no-dump-schema "$@"; }

# The dbmate story on the database of $URL (ferry's form) and $DBURL (dbmate's).
dbmate_story() {
	# dbmate migrates the first two (users, the placeholder); the rest is added later.
	mkdir -p "$BATS_TEST_TMPDIR/later"
	mv "$ROOT"/db/2024010[345]* "$BATS_TEST_TMPDIR/later/"
	run -0 dbmate migrate
	mv "$BATS_TEST_TMPDIR"/later/* "$ROOT/db/"
	ferry version --set 1.0.0 >/dev/null

	# ferry counts only what dbmate has not applied.
	run -0 ferry status --json
	[ "$(jq -r '.current, .pending_steps' <<<"$output" | paste -sd ' ' -)" = "1.0.0 3" ]
	[ "$(states)" = "adopted adopted pending pending pending" ]
	run -0 ferry list --json
	[ "$(jq -r '.steps[0].message' <<<"$output")" = "applied by dbmate (schema_migrations)" ]
	run -0 ferry plan --json
	[ "$(jq -r '[.actions[] | select(.kind == "step") | .id] | length' <<<"$output")" = 3 ]

	# ferry applies only the rest: no "table already exists", and dbmate sees them all.
	run -0 ferry up
	[[ "$output" == *"done 1.0.0 -> 2.0.0 (3 steps)"* ]]
	run -0 dbmate status
	[[ "$output" == *"Applied: 5"* && "$output" == *"Pending: 0"* ]]
	[ "$(states)" = "adopted adopted applied applied applied" ]

	# ferry's down is dbmate's rollback: dbmate sees the three pending, and takes them up again.
	run -0 ferry down 1.0.0
	run -0 dbmate status
	[[ "$output" == *"Applied: 2"* && "$output" == *"Pending: 3"* ]]
	run -0 dbmate migrate
	[[ "$output" == *"Applied: 20240105000000_create_tags.sql"* ]]
	# ferry sees what dbmate applied: nothing of it runs again; only the version is recorded.
	run -0 ferry up
	[[ "$output" == *"done 1.0.0 -> 2.0.0 (0 steps)"* ]]
	[ "$(states)" = "adopted adopted adopted adopted adopted" ]

	# dbmate rolls back the last one: for its folder dbmate's table is the truth.
	run -0 dbmate rollback
	run -0 ferry status --json
	[ "$(jq -r '.pending_steps' <<<"$output")" = 1 ]
	[ "$(states)" = "adopted adopted adopted adopted pending" ]
	run -0 ferry up
	[[ "$output" == *"1 step"* ]]
	run -0 dbmate status
	[[ "$output" == *"Applied: 5"* && "$output" == *"Pending: 0"* ]]
	run -0 ferry status
	[[ "$output" == *"up to date"* ]]
}

@test "dbmate (the real one) on SQLite: half migrated by dbmate, the rest by ferry, and back" {
	install dbmate dbmate sqlite:data/app.db 20240102000000 20240105000000
	URL="sqlite:$ROOT/data/app.db"
	DBURL="sqlite:$ROOT/data/app.db"
	dbmate_story
	[ "$(db "SELECT count(*) FROM tags")" = 1 ]
	# exactly dbmate's table, as dbmate would have left it
	[ "$(db "SELECT group_concat(version, ' ') FROM (SELECT version FROM schema_migrations ORDER BY version)")" = \
	  "20240101000000 20240102000000 20240103000000 20240104000000 20240105000000" ]
}

@test "dbmate (the real one) on PostgreSQL: half migrated by dbmate, the rest by ferry, and back" {
	[ -n "${FERRY_TEST_PG:-}" ] || {
		echo "FERRY_TEST_PG is not set: eval \"\$(tests/pg/pg.sh start)\" first" >&2
		return 1
	}
	psql "$FERRY_TEST_PG_ADMIN" -X -q -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS ferry CASCADE;
		DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public AUTHORIZATION pg_database_owner;
		GRANT USAGE, CREATE ON SCHEMA public TO PUBLIC;" >/dev/null
	URL="$FERRY_TEST_PG"
	DBURL="$FERRY_TEST_PG&sslmode=disable"
	install dbmate dbmate "$URL" 20240102000000 20240105000000
	dbmate_story
	[ "$(psql "$URL" -X -tA -c "SELECT count(*) FROM schema_migrations")" = 5 ]
	[ "$(psql "$URL" -X -tA -c "SELECT count(*) FROM tags")" = 1 ]
}

# by_tool TOOL LAYOUT M1 FILE [NAME]: the tool applied its first migration:
# its up run by hand, its row written as the tool writes it.
by_tool() {
	db <"$2"
	"$PROBE" "$URL" "$1" record "$3" "${5:-}" "$4" >/dev/null
}

# other_tool TOOL LAYOUT M1 M2 UPFILE NAME WANT LAST: the first migration was the tool's;
# ferry adopts it, applies the rest, and the tool's table lists every one (WANT).
other_tool() {
	install "$1" "$2" sqlite:data/app.db "$4" "$8"
	URL="sqlite:$ROOT/data/app.db"
	by_tool "$1" "$ROOT/db/$5" "$3" "$ROOT/db/$5" "$6"
	run -0 ferry status --json
	[ "$(jq -r '.pending_steps' <<<"$output")" = 4 ]
	[ "$(states | cut -d' ' -f1)" = adopted ]
	run -0 ferry up
	[[ "$output" == *"done 0.0.0 -> 2.0.0 (4 steps)"* ]]
	[ "$(db "SELECT name FROM users")" = ada ] # the adopted one did not run again
	[ "$(tool_applied "$1")" = "$7" ]
	run -0 ferry status
	[[ "$output" == *"up to date"* ]]
	# and back down to 1.0.0: the tool's table says so too
	run -0 ferry down 1.0.0
	[ "$(db "SELECT count(*) FROM sqlite_master WHERE name = 'posts'")" = 0 ]
}

@test "goose: its table adopted, then written as goose writes it" {
	sed '/+goose Down/,$d' "$FIX/goose/00001_create_users.sql" >"$BATS_TEST_TMPDIR/up1.sql"
	install goose "" sqlite:data/app.db 2 10
	URL="sqlite:$ROOT/data/app.db"
	by_tool goose "$BATS_TEST_TMPDIR/up1.sql" 1 "$BATS_TEST_TMPDIR/up1.sql"
	run -0 ferry up
	[[ "$output" == *"done 0.0.0 -> 2.0.0 (4 steps)"* ]]
	[ "$(db "SELECT count(*) FROM users")" = 1 ]
	[ "$(tool_applied goose)" = "1 2 3 4 10" ]
	# goose's own rule: the latest row of each version, is_applied
	[ "$(db "SELECT group_concat(version_id, ' ') FROM (SELECT version_id FROM goose_db_version WHERE is_applied ORDER BY id)")" = "0 1 2 3 4 10" ]
	run -0 ferry down 1.0.0
	[ "$(tool_applied goose)" = "1 2" ]
}

@test "golang-migrate: its one row adopted as a watermark, then moved as migrate moves it" {
	other_tool golang-migrate "" 1 2 000001_create_users.up.sql "" "upto 10" 10
	[ "$(db "SELECT version || ' ' || dirty FROM schema_migrations")" = "2 0" ]
}

@test "flyway: its table adopted with its checksum, then written as Flyway writes it" {
	other_tool flyway "" 1 1.1 V1__create_users.sql "create users" "1 1.1 1.2 2 10" 10
	# the undo of 1.2, 2 and 10 is Flyway's UNDO_SQL row for each
	[ "$(db "SELECT group_concat(version, ' ') FROM flyway_schema_history WHERE type = 'UNDO_SQL'")" = "10 2 1.2" ]
}

@test "diesel: its table adopted, then written as diesel writes it" {
	other_tool diesel "" 20240101000000 20240102000000 2024-01-01-000000_create_users/up.sql "" \
		"20240101000000 20240102000000 20240103000000 20240104000000 20240110000000" 20240110000000
}

@test "sqlx: its table adopted with its SHA-384, then written as sqlx writes it" {
	other_tool sqlx sqlx 1 2 1_create_users.up.sql "create users" "1 2 3 4 10" 10
	[ "$(db "SELECT hex(checksum) FROM _sqlx_migrations WHERE version = 2" | tr A-F a-f)" = \
	  "$(sha384sum "$ROOT/db/2_placeholder.up.sql" | cut -d' ' -f1)" ]
}

@test "a migration the tool marks failed or dirty stops up (exit 3, naming it); nothing changes" {
	# golang-migrate: dirty at 1
	install golang-migrate "" sqlite:data/app.db 2 10
	URL="sqlite:$ROOT/data/app.db"
	by_tool golang-migrate "$ROOT/db/000001_create_users.up.sql" 1 "$ROOT/db/000001_create_users.up.sql"
	db "UPDATE schema_migrations SET dirty = 1"
	dump >"$BATS_TEST_TMPDIR/before"
	run -3 ferry up
	[[ "$output" == *"schema_migrations in database 'main' is dirty at version 1"* ]]
	[[ "$output" == *"nothing was changed"* ]]
	dump | diff "$BATS_TEST_TMPDIR/before" -
	rm -rf "$ROOT"

	# sqlx: success = false
	install sqlx sqlx sqlite:data/app.db 2 10
	by_tool sqlx "$ROOT/db/1_create_users.up.sql" 1 "$ROOT/db/1_create_users.up.sql" "create users"
	db "UPDATE _sqlx_migrations SET success = 0"
	dump >"$BATS_TEST_TMPDIR/before"
	run -3 ferry up
	[[ "$output" == *"db/1_create_users.up.sql: marked failed in _sqlx_migrations"* ]]
	dump | diff "$BATS_TEST_TMPDIR/before" -
}

@test "flyway: a file changed since Flyway applied it is drift (its CRC-32), for verify and up" {
	install flyway "" sqlite:data/app.db 1.1 10
	URL="sqlite:$ROOT/data/app.db"
	by_tool flyway "$ROOT/db/V1__create_users.sql" 1 "$ROOT/db/V1__create_users.sql" "create users"
	printf -- '-- a comment added later\n' >>"$ROOT/db/V1__create_users.sql"
	touch -d '-5 seconds' "$ROOT/db/V1__create_users.sql"
	run -0 ferry list --json
	[ "$(jq -r '.steps[] | select(.id == "flyway:db/V1__create_users.sql") | .state' <<<"$output")" = changed ]
	run -3 ferry verify
	[[ "$output" == *"flyway:db/V1__create_users.sql"* ]]
	dump >"$BATS_TEST_TMPDIR/before"
	run -3 ferry up
	[[ "$output" == *"drifted"* ]]
	dump | diff "$BATS_TEST_TMPDIR/before" -
}

@test "the no-op start sees the tool's table: a dbmate rollback after a clean no-op is pending at the next up" {
	install dbmate dbmate sqlite:data/app.db 20240102000000 20240105000000
	URL="sqlite:$ROOT/data/app.db"
	DBURL="sqlite:$ROOT/data/app.db"
	# files old enough for the stat fingerprint to be trusted (git's racy rule)
	find "$ROOT" -path "$ROOT/.ferry" -prune -o -exec touch -d '-1 hour' {} +
	run -0 ferry up
	run -0 ferry up
	[[ "$output" == *"nothing to do"* ]]
	run -0 ferry up
	[[ "$output" == *"nothing to do"* ]]
	# only the tool's table changes: no file a stat can see
	run -0 dbmate rollback
	run -0 ferry up
	[[ "$output" == *"1 step"* ]]
	[[ "$output" == *"schema_migrations no longer lists dbmate:db/20240105000000_create_tags.sql: pending again"* ]]
	[ "$(db "SELECT count(*) FROM schema_migrations")" = 5 ]
	[ "$(db "SELECT count(*) FROM sqlite_master WHERE name = 'tags'")" = 1 ]
}

@test "a dbmate rollback seen first by status: the next up still says it applies the step again" {
	install dbmate dbmate sqlite:data/app.db 20240102000000 20240105000000
	URL="sqlite:$ROOT/data/app.db"
	DBURL="sqlite:$ROOT/data/app.db"
	run -0 ferry up
	run -0 dbmate rollback
	# a look first: it shows the step pending, and changes nothing in the database
	dump >"$BATS_TEST_TMPDIR/before"
	run -0 ferry list --json
	[ "$(jq -r '.steps[] | select(.id == "dbmate:db/20240105000000_create_tags.sql") | .state' <<<"$output")" = pending ]
	run -0 ferry status
	dump | diff "$BATS_TEST_TMPDIR/before" -
	run -0 ferry up
	[[ "$output" == *"schema_migrations no longer lists dbmate:db/20240105000000_create_tags.sql: pending again"* ]]
	[ "$(db "SELECT count(*) FROM schema_migrations")" = 5 ]
	[ "$(db "SELECT count(*) FROM sqlite_master WHERE name = 'tags'")" = 1 ]
	[ "$(db "SELECT count(*) FROM ferry_steps WHERE id = 'dbmate:db/20240105000000_create_tags.sql'")" = 1 ]
	run -0 ferry verify
}

@test "a foreign step whose file is gone is undone from its record; the tool's row is left, and ferry says so" {
	install dbmate dbmate sqlite:data/app.db 20240102000000 20240105000000
	URL="sqlite:$ROOT/data/app.db"
	run -0 ferry up
	rm "$ROOT/db/20240104000000_create_audit.sql"
	run -0 ferry down 1.0.0
	[[ "$output" == *"dbmate:db/20240104000000_create_audit.sql: its file is gone: dbmate's history table is left as it is"* ]]
	[ "$(grep -c "its file is gone" <<<"$output")" = 1 ]
	# all three undone from their records; only the one whose file is gone keeps its row
	[ "$(db "SELECT count(*) FROM sqlite_master WHERE name IN ('posts', 'audit', 'tags')")" = 0 ]
	[ "$(db "SELECT group_concat(version, ' ') FROM (SELECT version FROM schema_migrations ORDER BY version)")" = \
	  "20240101000000 20240102000000 20240104000000" ]
}
