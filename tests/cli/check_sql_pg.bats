#!/usr/bin/env bats
# check_sql_pg.bats - `ferry check` asks PostgreSQL whether pending SQL
# parses (issue 11 point 10), running none of it: each statement compiled
# inside a PL/pgSQL block that returns first, in a transaction rolled back
# (lib/db/postgres.c, pg_parse). A throw-away server of its own
# (tests/pg/pg.sh), as postgres.bats.

bats_require_minimum_version 1.5.0
load helpers

PG_SH="$BATS_TEST_DIRNAME/../pg/pg.sh"

setup_file() {
	local envf="$BATS_FILE_TMPDIR/pg.env"
	unset FERRY_TEST_PG FERRY_PG_DIR
	local dir
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

setup() {
	[ -n "${FERRY_TEST_PG:-}" ] || { echo "# no server: tests/pg/pg.sh start failed" >&2; return 1; }
	admin_sql "DROP SCHEMA IF EXISTS ferry CASCADE; DROP SCHEMA IF EXISTS public CASCADE;
		CREATE SCHEMA public AUTHORIZATION pg_database_owner;
		GRANT USAGE ON SCHEMA public TO PUBLIC;" >/dev/null
	ROOT=$BATS_TEST_TMPDIR/inst
	mkdir -p "$ROOT/migrations"
	cat >"$ROOT/ferry.yaml" <<'YAML'
app: pgapp
databases:
  main: ${PGURL}
YAML
	export PGURL="$FERRY_TEST_PG"
	put_step 0.0.0 1.0.0 001_base <<'SQL'
-- ferry:up
CREATE TABLE base (id serial PRIMARY KEY, x int);
INSERT INTO base (x) VALUES (1);
SQL
	ferry up >/dev/null 2>&1
	# Statements that need the DDL before them, a function body, a DO block.
	put_step 1.0.0 2.0.0 001_tags <<'SQL'
-- ferry:up
CREATE TABLE tags (id serial PRIMARY KEY, name text);
INSERT INTO tags (name) SELECT 'x' FROM base;
CREATE INDEX tags_name ON tags (name);
ALTER TABLE tags ADD COLUMN color text;
UPDATE tags SET color = 'red' WHERE name = 'x';
CREATE FUNCTION tag_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM tags $$;
DO $$ BEGIN PERFORM 1; END $$;
-- ferry:down
DROP TABLE tags;
SQL
}

# The whole database, ferry's schema included, and the sequences' positions.
pg_all() {
	pg_dump --no-owner "$FERRY_TEST_PG_ADMIN" | grep -v -e '^--' -e '^$' -e '^\\restrict ' -e '^\\unrestrict '
	admin_sql "SELECT last_value FROM base_id_seq"
}

@test "check on PostgreSQL: pending SQL that needs the DDL before it is no finding" {
	run ferry check
	[ "$status" -eq 0 ]
	[[ "$output" == *"ready to upgrade"* ]]
}

@test "check on PostgreSQL: SQL that does not parse is a finding with file and line; the database is unchanged" {
	put_step 1.0.0 2.0.0 002_bad <<'SQL'
-- ferry:up
INSERT INTO base (x) VALUES (2);
UPDATE base
   SET x = 3
 WHERE x = = 1;
SQL
	put_step 1.0.0 2.0.0 003_open <<'SQL'
-- ferry:up
CREATE TABLE later (x int;
SQL
	before=$(pg_all)
	run ferry check
	[ "$status" -eq 3 ]
	[[ "$output" == *"migrations/v1.0.0_to_v2.0.0/002_bad.sql:5: syntax error at or near \"=\""* ]]
	[[ "$output" == *"migrations/v1.0.0_to_v2.0.0/003_open.sql:2: syntax error"* ]]
	[[ "$output" != *"001_tags"* ]]
	after=$(pg_all)
	[ "$before" = "$after" ]
	[ "$(admin_sql 'SELECT count(*) FROM base')" = 1 ]
	[ "$(ferry version)" = 1.0.0 ]
}
