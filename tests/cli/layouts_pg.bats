#!/usr/bin/env bats
# layouts_pg.bats - other tools' folders on PostgreSQL (issue 12): dbmate's
# and Flyway's fixtures (tests/fixtures/layouts/) applied by `ferry up`, a
# no-transaction migration that PostgreSQL refuses inside a transaction
# (CREATE INDEX CONCURRENTLY), a placeholder, versions.yaml's schema:, and
# `ferry down` back to the mapped version, held against pg_dump.
#
# setup_file starts a throw-away server with tests/pg/pg.sh, as
# postgres.bats does; each test starts from an empty database.

bats_require_minimum_version 1.5.0
load helpers

PG_SH="$BATS_TEST_DIRNAME/../pg/pg.sh"
FIX="$BATS_TEST_DIRNAME/../fixtures/layouts"

setup_file() {
	local envf="$BATS_FILE_TMPDIR/pg.env" dir
	unset FERRY_TEST_PG FERRY_PG_DIR
	dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg.XXXXXX") || return 1
	echo "$dir" >"$BATS_FILE_TMPDIR/pgdir"
	"$PG_SH" start "$dir" >"$envf" || return 1
	# shellcheck disable=SC1090
	. "$envf"
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/pgdir" ] && "$PG_SH" stop "$(cat "$BATS_FILE_TMPDIR/pgdir")"
	return 0
}

admin_sql() { psql "$FERRY_TEST_PG_ADMIN" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
app_sql() { psql "$FERRY_TEST_PG" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

setup() {
	[ -n "${FERRY_TEST_PG:-}" ] || { echo "# no server: tests/pg/pg.sh start failed" >&2; return 1; }
	admin_sql "DROP SCHEMA IF EXISTS ferry CASCADE; DROP SCHEMA IF EXISTS public CASCADE;
		CREATE SCHEMA public AUTHORIZATION pg_database_owner;
		GRANT USAGE ON SCHEMA public TO PUBLIC;" >/dev/null
	export PGURL="$FERRY_TEST_PG"
}

# install TOOL M2: the tool's fixture as a source, ferry's own `upgrade` folder
# whose versions.yaml says 1.0.0 ships the chain up to M2.
install() {
	ROOT="$BATS_TEST_TMPDIR/inst"
	mkdir -p "$ROOT/upgrade"
	cp -r "$FIX/$1" "$ROOT/db"
	cat >"$ROOT/ferry.yaml" <<'YAML'
app: pgapp
migrations:
  - path: db
  - path: upgrade
databases:
  main: ${PGURL}
YAML
	printf -- '- version: 1.0.0\n  schema: "%s"\n- version: 2.0.0\n' "$2" >"$ROOT/upgrade/versions.yaml"
	mkdir -p "$ROOT/upgrade/v1.0.0_to_v2.0.0"
	printf -- '-- ferry:up\nINSERT INTO tags (id, name) VALUES (2, %s);\n-- ferry:down\nDELETE FROM tags WHERE id = 2;\n' \
		"'blue'" >"$ROOT/upgrade/v1.0.0_to_v2.0.0/001_seed.sql"
}

pg_state() {
	pg_dump --schema-only --no-owner --exclude-schema=ferry "$FERRY_TEST_PG_ADMIN" \
		--exclude-table=schema_migrations --exclude-table=flyway_schema_history |
		grep -v -e '^--' -e '^$' -e '^\\restrict ' -e '^\\unrestrict '
	app_sql "SELECT 'users', count(*) FROM users"
}
# The application's tables, without the tools' history tables ferry keeps (adopt.bats holds them).
tables() { app_sql "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('schema_migrations', 'flyway_schema_history')"; }
# What the tool's table lists as applied, as lib/history/ reads it, on one line.
tool_applied() {
	"${FERRY_BUILD:-$BATS_TEST_DIRNAME/../../build}/tests/unit/history_probe" "$PGURL" "$1" read |
		sort -V | paste -sd ' ' -
}
recorded() { app_sql "SELECT id FROM ferry.ferry_steps ORDER BY seq" | paste -sd ' ' -; }

# mapped FIRST_TWO NREST IDS TOOL: up 1.0.0 (the first two of the chain), then up
# (NREST steps), then down 1.0.0 back to the same dump; TOOL's own table
# lists what is applied at each end, as the tool writes it.
mapped() {
	run ferry plan 1.0.0 --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.transitions[0].steps | map(.tool_version) | join(" ")' <<<"$output")" = "$1" ]
	[ "$(jq -r '.transitions[0].steps[1].empty' <<<"$output")" = true ]
	run ferry up 1.0.0
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 0.0.0 -> 1.0.0 (2 steps)"* ]]
	[ "$(tables)" = users ]
	[ "$(app_sql "SELECT version FROM ferry.version")" = 1.0.0 ]
	[ "$(tool_applied "$4")" = "$1" ]
	pg_state >"$BATS_TEST_TMPDIR/at1"
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 1.0.0 -> 2.0.0 ($2 steps)"* ]]
	[ "$(app_sql "SELECT version FROM ferry.version")" = 2.0.0 ]
	[ "$(app_sql "SELECT string_agg(name, ' ' ORDER BY id) FROM tags")" = "red blue" ]
	[ "$(app_sql "SELECT name FROM users")" = ada ]
	[ "$(app_sql "SELECT count(*) FROM posts")" = 2 ]
	# the concurrent index was built outside a transaction, as the tool's rule says
	[ "$(app_sql "SELECT indexname FROM pg_indexes WHERE indexname = 'posts_user'")" = posts_user ]
	[ "$(recorded)" = "$3" ]
	run ferry down 1.0.0
	[ "$status" -eq 0 ]
	[ "$(app_sql "SELECT version FROM ferry.version")" = 1.0.0 ]
	pg_state | diff "$BATS_TEST_TMPDIR/at1" -
	[ "$(tables)" = users ]
	[ "$(tool_applied "$4")" = "$1" ]
}

@test "postgres: dbmate's folder by versions; a transaction:false index built concurrently; down" {
	install dbmate 20240102000000
	printf -- '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY posts_user ON posts (user_id);\n-- migrate:down\nDROP INDEX CONCURRENTLY posts_user;\n' \
		>"$ROOT/db/20240106000000_posts_user.sql"
	mapped "20240101000000 20240102000000" 5 "dbmate:db/20240101000000_create_users.sql dbmate:db/20240102000000_placeholder.sql dbmate:db/20240103000000_create_posts.sql dbmate:db/20240104000000_create_audit.sql dbmate:db/20240105000000_create_tags.sql dbmate:db/20240106000000_posts_user.sql 2.0.0/001_seed.sql" dbmate
}

@test "postgres: Flyway's folder by versions; executeInTransaction=false; the repeatable; down" {
	install flyway 1.1
	rm "$ROOT/db/R__user_names_view.sql" # a repeatable has no undo: down would refuse
	printf 'CREATE INDEX CONCURRENTLY posts_user ON posts (user_id);\n' >"$ROOT/db/V11__posts_user.sql"
	printf 'DROP INDEX CONCURRENTLY posts_user;\n' >"$ROOT/db/U11__posts_user.sql"
	printf 'executeInTransaction=false\n' >"$ROOT/db/V11__posts_user.sql.conf"
	mapped "1 1.1" 5 "flyway:db/V1__create_users.sql flyway:db/V1_1__placeholder.sql flyway:db/V1.2__create_posts.sql flyway:db/V2__create_audit.sql flyway:db/V10__create_tags.sql flyway:db/V11__posts_user.sql 2.0.0/001_seed.sql" flyway
	# the repeatable runs after every versioned one, and again when it changes
	cp "$FIX/flyway/R__user_names_view.sql" "$ROOT/db/"
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 1.0.0 -> 2.0.0 (6 steps)"* ]]
	[ "$(app_sql "SELECT name FROM user_names")" = ada ]
	printf 'DROP VIEW IF EXISTS user_names;\nCREATE VIEW user_names AS SELECT upper(name) AS name FROM users;\n' \
		>"$ROOT/db/R__user_names_view.sql"
	touch -d '-5 seconds' "$ROOT/db/R__user_names_view.sql"
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done at 2.0.0, the version stays (1 step)"* ]]
	[ "$(app_sql "SELECT name FROM user_names")" = ADA ]
}
