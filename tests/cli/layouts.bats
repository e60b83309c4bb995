#!/usr/bin/env bats
# layouts.bats - other tools' migration folders read as they are (issue 12):
# each tool's fixture (tests/fixtures/layouts/<tool>/) applied by `ferry up`
# on SQLite and undone by `ferry down`; versions.yaml's schema: cutting the
# chain into transitions (plan stops at the mapped version, up 1.0.0 applies
# exactly those steps); no mapping; no version above the current one (schema
# only, the version stays); Flyway's repeatables; placeholders; a foreign
# source beside ferry's own layout; detection and configuration errors.
# Every message and document is held against the database.

bats_require_minimum_version 1.5.0
load helpers

FIX="$BATS_TEST_DIRNAME/../fixtures/layouts"

# install TOOL [LAYOUT]: an installation whose only source is a copy of the tool's fixture.
install() {
	ROOT="$BATS_TEST_TMPDIR/inst"
	mkdir -p "$ROOT/data"
	cp -r "$FIX/$1" "$ROOT/db"
	{
		echo "app: testapp"
		echo "migrations:"
		echo "  - path: db"
		[ -z "${2:-}" ] || echo "    layout: $2"
		echo "databases:"
		echo "  main: sqlite:data/app.db"
	} >"$ROOT/ferry.yaml"
}

# map TOOL [LAYOUT] M2: as install, plus ferry's own folder `upgrade` whose
# versions.yaml says 1.0.0 ships the tool's chain up to M2 (users and the
# placeholder); 2.0.0 has a flat step of its own.
map() {
	install "$1" "${2:-}"
	sed -i 's/^databases:/  - path: upgrade\ndatabases:/' "$ROOT/ferry.yaml"
	mkdir -p "$ROOT/upgrade"
	printf -- '- version: 1.0.0\n  schema: "%s"\n- version: 2.0.0\n' "$3" >"$ROOT/upgrade/versions.yaml"
	printf -- '-- ferry:up\nINSERT INTO tags (id, name) VALUES (2, %s);\n-- ferry:down\nDELETE FROM tags WHERE id = 2;\n' \
		"'blue'" >"$ROOT/upgrade/2.0.0_seed.sql"
}

# The tools' own history tables, which ferry keeps as each tool does (adopt.bats holds them).
HIST="'schema_migrations', 'goose_db_version', 'flyway_schema_history', '__diesel_schema_migrations', '_sqlx_migrations', 'sqlite_sequence'"
HIST_RE='schema_migrations|goose_db_version|flyway_schema_history|__diesel_schema_migrations|_sqlx_migrations'
tables() { sqlite3 "$ROOT/data/app.db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name <> 'ferry_steps' AND name NOT IN ($HIST) ORDER BY name)"; }
# The application's data: the dump without ferry's record and the tools' tables.
appdump() { dump | grep -v -E "$HIST_RE"; }
# What the tool's table lists as applied, read as lib/history/ reads it, on one line.
tool_applied() {
	"${FERRY_BUILD:-$BATS_TEST_DIRNAME/../../build}/tests/unit/history_probe" \
		"sqlite:$ROOT/data/app.db" "$1" read | sort -V | paste -sd ' ' -
}
recorded() { sqlite3 "$ROOT/data/app.db" "SELECT id FROM ferry_steps ORDER BY seq" | paste -sd ' ' -; }
version() { ferry status --json | jq -r .current; }

# up_all TOOL LAYOUT N: the whole folder applied schema only (nothing
# is catalogued but 0.0.0), recorded in the tool's order, then nothing to do.
up_all() {
	local tool=$1 layout=$2 n=$3
	install "$tool" "$layout"
	run ferry plan --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.transitions | length' <<<"$output")" = 0 ]
	[ "$(jq -r '.schema_only.version' <<<"$output")" = 0.0.0 ]
	[ "$(jq -r '.schema_only.steps | length' <<<"$output")" = "$n" ]
	[ "$(jq -r '[.actions[] | select(.kind == "version")] | length' <<<"$output")" = 0 ]
	[ "$(jq -r '[.actions[] | select(.empty)] | map(.id) | join(" ")' <<<"$output")" = \
	  "$(jq -r '[.schema_only.steps[] | select(.empty)] | map(.id) | join(" ")' <<<"$output")" ]
	order=$(jq -r '[.schema_only.steps[].id] | join(" ")' <<<"$output")
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done at 0.0.0, the version stays ($n steps)"* ]]
	[ "$(recorded)" = "$order" ]
	[ "$(version)" = 0.0.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT name FROM users; SELECT count(*) FROM posts; SELECT name FROM tags")" = "ada
2
red" ]
	sqlite3 "$ROOT/data/app.db" "SELECT 1 FROM audit LIMIT 0; SELECT 1 FROM sqlite_master WHERE name = 'users_name'" | grep -q 1
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to do: at 0.0.0"* ]]
	run ferry status
	[[ "$output" == *"up to date"* ]]
}

@test "dbmate: up applies the folder in its order, schema only, the version stays" {
	up_all dbmate "" 5
	[ "$order" = "dbmate:db/20240101000000_create_users.sql dbmate:db/20240102000000_placeholder.sql dbmate:db/20240103000000_create_posts.sql dbmate:db/20240104000000_create_audit.sql dbmate:db/20240105000000_create_tags.sql" ]
}

@test "goose: up applies the folder in numeric order (10 after 4)" {
	up_all goose "" 5
	[ "$order" = "goose:db/00001_create_users.sql goose:db/00002_placeholder.sql goose:db/00003_create_posts.sql goose:db/00004_create_audit.sql goose:db/00010_create_tags.sql" ]
}

@test "golang-migrate: up applies the .up.sql files in numeric order" {
	up_all golang-migrate "" 5
	[ "$order" = "golang-migrate:db/000001_create_users.up.sql golang-migrate:db/000002_placeholder.up.sql golang-migrate:db/000003_create_posts.up.sql golang-migrate:db/000004_create_audit.up.sql golang-migrate:db/000010_create_tags.up.sql" ]
}

@test "flyway: up applies V files in version order, then the repeatable" {
	up_all flyway "" 6
	[ "$order" = "flyway:db/V1__create_users.sql flyway:db/V1_1__placeholder.sql flyway:db/V1.2__create_posts.sql flyway:db/V2__create_audit.sql flyway:db/V10__create_tags.sql flyway:db/R__user_names_view.sql" ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT name FROM user_names")" = ada ]
}

@test "diesel: up applies the folders in version order" {
	up_all diesel "" 5
	[ "$order" = "diesel:db/2024-01-01-000000_create_users diesel:db/2024-01-02-000000_placeholder diesel:db/2024-01-03-000000_create_posts diesel:db/2024-01-04-000000_create_audit diesel:db/2024-01-10-000000_create_tags" ]
}

@test "sqlx: up applies the folder in numeric order (layout given)" {
	up_all sqlx sqlx 5
	[ "$order" = "sqlx:db/1_create_users.up.sql sqlx:db/2_placeholder.up.sql sqlx:db/3_create_posts.up.sql sqlx:db/4_create_audit.up.sql sqlx:db/10_create_tags.up.sql" ]
}

@test "the plan says which steps run outside a transaction, as each tool's rule says" {
	for t in dbmate goose flyway diesel sqlx; do
		install $t "$([ $t = sqlx ] && echo sqlx)"
		run ferry plan --json
		[ "$status" -eq 0 ]
		# the audit step (the 4th of the chain) alone has no transaction
		[ "$(jq -r '[.actions[] | select(.kind == "step" and .transaction == null) | .id] | join(" ")' <<<"$output")" = \
		  "$(jq -r '.schema_only.steps[3].id' <<<"$output")" ]
		rm -rf "$ROOT"
	done
}

# mapped TOOL LAYOUT M2: plan and up stop at 1.0.0; then the rest; down back to 1.0.0.
mapped() {
	map "$1" "$2" "$3"
	[ "$1" != flyway ] || rm "$ROOT/db/R__user_names_view.sql" # a repeatable has no undo
	run ferry plan 1.0.0 --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.path | join(" ")' <<<"$output")" = "0.0.0 1.0.0" ]
	[ "$(jq -r '.transitions[0].steps | map(.tool_version) | join(" ")' <<<"$output")" = "$4" ]
	[ "$(jq -r '.schema_only' <<<"$output")" = null ]
	run ferry up 1.0.0
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 0.0.0 -> 1.0.0 (2 steps)"* ]]
	[ "$(tables)" = users ]
	[ "$(version)" = 1.0.0 ]
	appdump >"$BATS_TEST_TMPDIR/at1"
	# the tool's own table says what ferry applied, as the tool would write it
	local want="$4"
	[ "$1" != golang-migrate ] || want="upto ${4##* }"
	[ "$(tool_applied "$1")" = "$want" ]
	# the rest runs in the transition into 2.0.0, before its own step
	run ferry plan --json
	[ "$(jq -r '.transitions[0].steps | map(.id) | .[-1]' <<<"$output")" = "2.0.0/2.0.0_seed.sql" ]
	[ "$(jq -r '.transitions[0].steps | length' <<<"$output")" = 4 ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 1.0.0 -> 2.0.0 (4 steps)"* ]]
	[ "$(tables)" = "audit posts tags users" ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT group_concat(name, ' ') FROM tags")" = "red blue" ]
	[ "$(tool_applied "$1" | wc -w)" = "$([ "$1" = golang-migrate ] && echo 2 || echo 5)" ]
	run ferry down 1.0.0
	[ "$status" -eq 0 ]
	[ "$(version)" = 1.0.0 ]
	appdump | diff "$BATS_TEST_TMPDIR/at1" -
	[ "$(tool_applied "$1")" = "$want" ]
	# the placeholder has an empty down: irreversible, and down says so before changing anything
	run ferry down 0.0.0
	[ "$status" -eq 1 ]
	[[ "$output" == *"has no down section (irreversible); nothing was changed"* ]]
	appdump | diff "$BATS_TEST_TMPDIR/at1" -
	[ "$(tool_applied "$1")" = "$want" ]
}

@test "dbmate: schema: ties the chain to versions; up 1.0.0 stops there; down undoes" {
	mapped dbmate "" 20240102000000 "20240101000000 20240102000000"
}

@test "goose: schema: ties the chain to versions; up 1.0.0 stops there; down undoes" {
	mapped goose "" 2 "1 2"
}

@test "golang-migrate: schema: ties the chain to versions; down undoes from the .down.sql" {
	mapped golang-migrate "" 2 "1 2"
}

@test "flyway: schema: names a version with dots; down undoes from the U files" {
	mapped flyway "" 1.1 "1 1.1"
}

@test "diesel: schema: names the folder's version without dashes; down undoes" {
	mapped diesel "" 20240102000000 "20240101000000 20240102000000"
}

@test "sqlx: schema: ties the chain to versions; down undoes from the .down.sql" {
	mapped sqlx sqlx 2 "1 2"
}

@test "at the latest version, a new migration of the folder runs schema only; the version stays" {
	map dbmate "" 20240102000000
	ferry up >/dev/null
	[ "$(version)" = 2.0.0 ]
	printf -- '-- migrate:up\nCREATE TABLE late (x INTEGER);\n-- migrate:down\nDROP TABLE late;\n' \
		>"$ROOT/db/20240201000000_late.sql"
	touch -d '-5 seconds' "$ROOT/db/20240201000000_late.sql" "$ROOT/db"
	run ferry status
	[[ "$output" == *"pending: 1 step schema only (other tools' migrations; the version stays 2.0.0)"* ]]
	run ferry status --json
	[ "$(jq -r '.pending_steps, .schema_only_steps, (.pending_transitions | length)' <<<"$output" | paste -sd ' ' -)" = "1 1 0" ]
	run ferry plan
	[[ "$output" == *"schema only at 2.0.0"* ]]
	[[ "$output" == *"dbmate:db/20240201000000_late.sql"* ]]
	run ferry plan --json
	[ "$(jq -r '.from, .to, (.transitions | length), .schema_only.version' <<<"$output" | paste -sd ' ' -)" = "2.0.0 2.0.0 0 2.0.0" ]
	[ "$(jq -r '[.actions[] | select(.kind == "version")] | length' <<<"$output")" = 0 ]
	run ferry list --json
	[ "$(jq -r '.steps[] | select(.id == "dbmate:db/20240201000000_late.sql") | .state, .layout, .tool_version' <<<"$output" | paste -sd ' ' -)" = "pending dbmate 20240201000000" ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done at 2.0.0, the version stays (1 step)"* ]]
	[ "$(version)" = 2.0.0 ]
	[ "$(tables)" = "audit late posts tags users" ]
	[[ "$(recorded)" == *"dbmate:db/20240201000000_late.sql" ]]
	run ferry status
	[[ "$output" == *"up to date"* ]]
}

@test "without any mapping, the folder's steps run in the transition into the latest version" {
	install dbmate
	sed -i 's/^databases:/  - path: upgrade\ndatabases:/' "$ROOT/ferry.yaml"
	mkdir -p "$ROOT/upgrade/v0.0.0_to_v1.0.0"
	printf -- '-- ferry:up\nINSERT INTO users (id, name) VALUES (2, %s);\n' "'bob'" \
		>"$ROOT/upgrade/v0.0.0_to_v1.0.0/001_bob.sql"
	run ferry plan --json
	[ "$(jq -r '.transitions | length' <<<"$output")" = 1 ]
	[ "$(jq -r '.transitions[0].steps | map(.id) | join(" ")' <<<"$output")" = "dbmate:db/20240101000000_create_users.sql dbmate:db/20240102000000_placeholder.sql dbmate:db/20240103000000_create_posts.sql dbmate:db/20240104000000_create_audit.sql dbmate:db/20240105000000_create_tags.sql 1.0.0/001_bob.sql" ]
	# foreign: after puts ferry's own steps of the transition first
	printf 'foreign: after\n' >"$ROOT/upgrade/v0.0.0_to_v1.0.0/transition.yaml"
	run ferry plan --json
	[ "$(jq -r '.transitions[0].steps[0].id' <<<"$output")" = "1.0.0/001_bob.sql" ]
	rm "$ROOT/upgrade/v0.0.0_to_v1.0.0/transition.yaml"
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 0.0.0 -> 1.0.0 (6 steps)"* ]]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT group_concat(name, ' ') FROM users")" = "ada bob" ]
	[ "$(recorded | awk '{print $NF}')" = "1.0.0/001_bob.sql" ]
}

@test "flyway: a repeatable migration runs again when its file changes, never drift" {
	install flyway
	ferry up >/dev/null
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM ferry_steps")" = 6 ]
	printf 'DROP VIEW IF EXISTS user_names;\nCREATE VIEW user_names AS SELECT upper(name) AS name FROM users;\n' \
		>"$ROOT/db/R__user_names_view.sql"
	touch -d '-5 seconds' "$ROOT/db/R__user_names_view.sql"
	run ferry plan --json
	[ "$(jq -r '.drift | length' <<<"$output")" = 0 ]
	[ "$(jq -r '[.actions[] | select(.kind == "step") | .id, .rerun] | join(" ")' <<<"$output")" = "flyway:db/R__user_names_view.sql true" ]
	[ "$(jq -r '.schema_only.steps | map(.id) | join(" ")' <<<"$output")" = "flyway:db/R__user_names_view.sql" ]
	run ferry list --json
	[ "$(jq -r '.steps[] | select(.id == "flyway:db/R__user_names_view.sql") | .state, .tool_version' <<<"$output" | paste -sd ' ' -)" = "pending null" ]
	run ferry verify
	[ "$status" -eq 0 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT name FROM user_names")" = ADA ]
	run ferry up
	[[ "$output" == *"nothing to do"* ]]
}

@test "placeholders: an up of only comments is applied as a no-op and recorded; the plan says empty" {
	make_install
	flat 1.0.0_keep_in_step.sql "-- ferry:up
-- nothing here: the PostgreSQL history has a step at this place
-- ferry:down
-- nothing either"
	flat 1.0.0_real.sql "-- ferry:up
CREATE TABLE t (x INTEGER);"
	run ferry plan
	[ "$status" -eq 0 ]
	[[ "$output" == *"1.0.0/1.0.0_keep_in_step.sql  on main  (empty)  (irreversible)"* ]]
	run ferry plan --json
	[ "$(jq -r '[.actions[] | select(.kind == "step") | "\(.id)=\(.empty // false)"] | join(" ")' <<<"$output")" = "1.0.0/1.0.0_keep_in_step.sql=true 1.0.0/1.0.0_real.sql=false" ]
	[ "$(jq -r '.transitions[0].steps[0].empty' <<<"$output")" = true ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 0.0.0 -> 1.0.0 (2 steps)"* ]]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT id, status FROM ferry_steps ORDER BY seq" | paste -sd ' ' -)" = "1.0.0/1.0.0_keep_in_step.sql|applied 1.0.0/1.0.0_real.sql|applied" ]
	# an untouched `ferry new` template is still refused
	ferry new 2.0.0 later >/dev/null
	run ferry plan
	[ "$status" -eq 2 ]
	[[ "$output" == *"still the untouched template of 'ferry new'"* ]]
}

@test "detection: a folder whose names fit several tools asks for layout:" {
	install dbmate
	rm "$ROOT"/db/*
	printf 'CREATE TABLE a (x INTEGER);\n' >"$ROOT/db/1_a.sql"
	run ferry plan
	[ "$status" -eq 2 ]
	[[ "$output" == *"db: cannot tell its layout from the file names (they fit dbmate, goose and sqlx) nor from markers in the files; set 'layout:' for it in ferry.yaml"* ]]
	sed -i 's/^  - path: db$/  - path: db\n    layout: sqlx/' "$ROOT/ferry.yaml"
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(tables)" = a ]
	[ "$(recorded)" = "sqlx:db/1_a.sql" ]
}

@test "ferry.yaml: an unknown layout or database of a source is named with the file and line" {
	install dbmate
	sed -i 's/^  - path: db$/  - path: db\n    layout: liquibase/' "$ROOT/ferry.yaml"
	run ferry status
	[ "$status" -eq 2 ]
	[[ "$output" == *"ferry.yaml:4: unknown layout 'liquibase' in 'migrations' (expected one of: ferry, dbmate, goose, golang-migrate, flyway, diesel, sqlx)"* ]]
	install dbmate
	sed -i 's/^  - path: db$/  - path: db\n    database: reports/' "$ROOT/ferry.yaml"
	run ferry status
	[ "$status" -eq 2 ]
	[[ "$output" == *"ferry.yaml:4: source 'db' names database 'reports', which 'databases' does not list"* ]]
}

@test "a source's database: its steps run there, the record too" {
	install dbmate
	printf '  reports: sqlite:data/reports.db\n' >>"$ROOT/ferry.yaml"
	sed -i 's/^  - path: db$/  - path: db\n    database: reports/' "$ROOT/ferry.yaml"
	run ferry plan --json
	[ "$(jq -r '[.actions[] | select(.kind == "step") | .database] | unique | join(" ")' <<<"$output")" = reports ]
	ferry up >/dev/null
	[ "$(sqlite3 "$ROOT/data/reports.db" "SELECT name FROM users")" = ada ]
	[ "$(sqlite3 "$ROOT/data/reports.db" "SELECT count(*) FROM ferry_steps")" = 5 ]
	[ ! -s "$ROOT/data/app.db" ] || [ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM sqlite_master WHERE name = 'users'")" = 0 ]
}

@test "a shortcut past a version that ships migrations still runs them, in the transition it takes" {
	map dbmate "" 20240102000000
	rm "$ROOT/upgrade/2.0.0_seed.sql"
	mkdir -p "$ROOT/upgrade/v1.0.0_to_v2.0.0" "$ROOT/upgrade/v0.0.0_to_v2.0.0"
	printf -- '-- ferry:up\nSELECT 1;\n' >"$ROOT/upgrade/v1.0.0_to_v2.0.0/001_step.sql"
	printf -- '-- ferry:up\nINSERT INTO tags (id, name) VALUES (3, %s);\n' "'green'" \
		>"$ROOT/upgrade/v0.0.0_to_v2.0.0/001_all_in_one.sql"
	printf 'estimated_duration_seconds: 0.1\n' >"$ROOT/upgrade/v0.0.0_to_v2.0.0/transition.yaml"
	run ferry plan --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.path | join(" ")' <<<"$output")" = "0.0.0 2.0.0" ]
	[ "$(jq -r '.transitions[0].steps | map(.tool_version // .id) | join(" ")' <<<"$output")" = "20240101000000 20240102000000 20240103000000 20240104000000 20240105000000 2.0.0/001_all_in_one.sql" ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 0.0.0 -> 2.0.0 (6 steps)"* ]]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT group_concat(name, ' ') FROM tags")" = "red green" ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM ferry_steps")" = 6 ]
}

@test "the migrations after the last schema: ship with the latest version, even one with no steps of its own" {
	install dbmate
	sed -i 's/^databases:/  - path: upgrade\ndatabases:/' "$ROOT/ferry.yaml"
	mkdir -p "$ROOT/upgrade"
	printf -- '- version: 1.0.0\n  schema: "20240102000000"\n- version: 2.0.0\n' >"$ROOT/upgrade/versions.yaml"
	run ferry plan --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.path | join(" ")' <<<"$output")" = "0.0.0 1.0.0 2.0.0" ]
	[ "$(jq -r '.transitions[1].steps | map(.tool_version) | join(" ")' <<<"$output")" = \
	  "20240103000000 20240104000000 20240105000000" ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 0.0.0 -> 2.0.0 (5 steps)"* ]]
	run ferry list --json
	[ "$(jq -r '.steps[] | select(.tool_version == "20240105000000") | .to' <<<"$output")" = 2.0.0 ]
	run ferry down 1.0.0
	[ "$status" -eq 0 ]
	[[ "$output" == *"done 2.0.0 -> 1.0.0 (3 steps)"* ]]
	[ "$(tables)" = users ]
	[ "$(tool_applied dbmate)" = "20240101000000 20240102000000" ]
}
