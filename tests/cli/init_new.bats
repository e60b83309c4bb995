#!/usr/bin/env bats
# init_new.bats - `ferry init` and `ferry new` (SPEC §5, §3).

bats_require_minimum_version 1.5.0
load helpers

# A folder that is not an installation yet.
setup() {
	DIR="$BATS_TEST_TMPDIR/fresh"
	mkdir -p "$DIR"
}

@test "init writes ferry.yaml, migrations/ and .ferry/ and records 0.0.0" {
	run "$FERRY" -C "$DIR" init
	[ "$status" -eq 0 ]
	[[ "$output" == *"0.0.0"* ]]
	[ -f "$DIR/ferry.yaml" ]
	[ -d "$DIR/migrations" ]
	[ -f "$DIR/.ferry/state.db" ]
	grep -q '^app: fresh$' "$DIR/ferry.yaml"            # the folder's name by default
	grep -q 'main: sqlite:data/app.db' "$DIR/ferry.yaml"
	run "$FERRY" -C "$DIR" version
	[ "$status" -eq 0 ]
	[ "$output" = "0.0.0" ]
}

@test "init in the current folder (no -C)" {
	cd "$DIR"
	run "$FERRY" init
	[ "$status" -eq 0 ]
	[ -f "$DIR/ferry.yaml" ]
	run "$FERRY" status
	[ "$status" -eq 0 ]
	[[ "$output" == *"fresh at 0.0.0"* ]]
}

@test "init --version --database --app are written and recorded" {
	run "$FERRY" -C "$DIR" init --version 1.2.0 --database sqlite:db/x.db --app notebook
	[ "$status" -eq 0 ]
	grep -q '^app: notebook$' "$DIR/ferry.yaml"
	grep -q 'main: sqlite:db/x.db' "$DIR/ferry.yaml"
	run "$FERRY" -C "$DIR" version
	[ "$output" = "1.2.0" ]
	run --separate-stderr "$FERRY" -C "$DIR" --json status
	[ "$status" -eq 0 ]
	[ "$(jq -r .app <<<"$output")" = notebook ]
	[ "$(jq -r .current <<<"$output")" = 1.2.0 ]
}

@test "init --database: steps are applied to that database" {
	"$FERRY" -C "$DIR" init --database sqlite:db/x.db
	mkdir -p "$DIR/db" "$DIR/migrations/v0.0.0_to_v0.1.0"
	printf -- '-- ferry:up\nCREATE TABLE t(x);\n-- ferry:down\nDROP TABLE t;\n' \
		>"$DIR/migrations/v0.0.0_to_v0.1.0/001_t.sql"
	run "$FERRY" -C "$DIR" up
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$DIR/db/x.db" "SELECT name FROM sqlite_master WHERE name = 't'")" = t ]
	[ "$(sqlite3 "$DIR/db/x.db" "SELECT id FROM ferry_steps")" = "0.1.0/001_t.sql" ]
	[ ! -e "$DIR/data/app.db" ]
}

@test "init --json prints one document with the version" {
	run --separate-stderr "$FERRY" -C "$DIR" --json init --version 0.3.0
	[ "$status" -eq 0 ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	[ "$(jq -r .version <<<"$output")" = 0.3.0 ]
}

@test "init --version with an invalid version: exit 2, nothing written" {
	run "$FERRY" -C "$DIR" init --version banana
	[ "$status" -eq 2 ]
	[[ "$output" == *banana* ]]
	[ ! -e "$DIR/ferry.yaml" ]
	[ ! -e "$DIR/.ferry" ]
}

@test "init keeps an existing ferry.yaml" {
	printf 'app: mine\nmigrations: steps\ndatabases:\n  main: sqlite:data/app.db\n' >"$DIR/ferry.yaml"
	mkdir -p "$DIR/steps"
	run "$FERRY" -C "$DIR" init
	[ "$status" -eq 0 ]
	grep -q '^app: mine$' "$DIR/ferry.yaml"
	grep -q '^migrations: steps$' "$DIR/ferry.yaml"
}

@test "init again on an installation with applied steps does not move the version below them" {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	ferry up
	[ "$(ferry version)" = 0.1.0 ]
	run ferry init
	# Re-initialising must not silently record 0.0.0 under applied steps
	# (`version --set 0.0.0` refuses the same thing with exit 2).
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(recorded_ids)" = "0.1.0/001_a.sql" ]
	# and it does not claim to have recorded 0.0.0
	[[ "$output" != *0.0.0* ]]
}

@test "new creates a numbered SQL step in the transition folder; the second is 002" {
	make_install
	run ferry new 0.1.0 add_users
	[ "$status" -eq 0 ]
	f1="$ROOT/migrations/v0.0.0_to_v0.1.0/001_add_users.sql"
	[ -f "$f1" ]
	[[ "$output" == *"001_add_users.sql"* ]]
	grep -q -- '-- ferry:up' "$f1"
	grep -q -- '-- ferry:down' "$f1"
	run ferry new 0.1.0 add_posts
	[ "$status" -eq 0 ]
	[ -f "$ROOT/migrations/v0.0.0_to_v0.1.0/002_add_posts.sql" ]
	[ "$(ls "$ROOT/migrations/v0.0.0_to_v0.1.0" | wc -l)" -eq 2 ]
}

@test "new: the created steps are in the catalog, pending, in order" {
	make_install
	ferry new 0.1.0 first
	ferry new 0.1.0 second
	run --separate-stderr ferry --json list
	[ "$status" -eq 0 ]
	[ "$(jq -r '.steps[].id' <<<"$output" | paste -sd,)" = "0.1.0/001_first.sql,0.1.0/002_second.sql" ]
	[ "$(jq -r '[.steps[].state] | unique | .[]' <<<"$output")" = pending ]
	[ "$(jq -r '.steps[0].kind' <<<"$output")" = sql ]
}

@test "new without --from starts at the greatest catalogued version below" {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);"
	run ferry new 0.2.0 next
	[ "$status" -eq 0 ]
	[ -f "$ROOT/migrations/v0.1.0_to_v0.2.0/001_next.sql" ]
}

@test "new --from V makes that transition (a shortcut), also with a pattern" {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);"
	run ferry new 0.3.0 jump --from 0.1.0
	[ "$status" -eq 0 ]
	[ -f "$ROOT/migrations/v0.1.0_to_v0.3.0/001_jump.sql" ]
	run ferry new 0.4.0 all_in_one --from 0.1.x
	[ "$status" -eq 0 ]
	[ -f "$ROOT/migrations/v0.1.x_to_v0.4.0/001_all_in_one.sql" ]
}

@test "new --json prints the new file's path" {
	make_install
	run --separate-stderr ferry --json new 0.1.0 thing
	[ "$status" -eq 0 ]
	p=$(jq -r .path <<<"$output")
	[[ "$p" == *"/migrations/v0.0.0_to_v0.1.0/001_thing.sql" ]]
	[ -f "$p" ]
}

@test "new with a bad version, a from not below, or missing arguments: exit 2, no file" {
	make_install
	run ferry new banana x
	[ "$status" -eq 2 ]
	[[ "$output" == *banana* ]]
	run ferry new 0.1.0 x --from 0.2.0
	[ "$status" -eq 2 ]
	run ferry new 0.1.0
	[ "$status" -eq 2 ]
	[[ "$output" == *usage* || "$output" == *name* ]]
	[ -z "$(ls -A "$ROOT/migrations")" ]
}

@test "new refuses a name that is not letters, digits, _ and - (exit 2)" {
	make_install
	run ferry new 0.1.0 'bad name!'
	[ "$status" -eq 2 ]
	[ -z "$(find "$ROOT/migrations" -name '*.sql')" ]
}

@test "new outside an installation: exit 2, pointing to ferry init" {
	run "$FERRY" -C "$DIR" new 0.1.0 x
	[ "$status" -eq 2 ]
	[[ "$output" == *"ferry init"* ]]
}

@test "new refuses an untouched SQL template at plan, naming the file (exit 2)" {
	make_install
	ferry new 0.1.0 add_pins
	f="migrations/v0.0.0_to_v0.1.0/001_add_pins.sql"
	run ferry plan
	[ "$status" -eq 2 ]
	[[ "$output" == *"$f: still the untouched template of 'ferry new'"* ]]
	printf -- '-- ferry:up\nCREATE TABLE pins(x);\n' >"$ROOT/$f"
	run ferry plan
	[ "$status" -eq 0 ]
}

@test "new --kind sh: an executable script from the template, refused untouched, run once edited" {
	make_install
	run ferry new 0.1.0 reindex --kind sh
	[ "$status" -eq 0 ]
	f="migrations/v0.0.0_to_v0.1.0/001_reindex.sh"
	[[ "$output" == *"$f"* ]]
	[ -x "$ROOT/$f" ]
	head -1 "$ROOT/$f" | grep -qx '#!/bin/sh'
	grep -q 'forward)' "$ROOT/$f"
	grep -q 'backward)' "$ROOT/$f"
	grep -q 'check)' "$ROOT/$f"
	grep -q "'# ferry:irreversible'" "$ROOT/$f"
	run --separate-stderr ferry --json list
	[ "$(jq -r '.steps[0].kind' <<<"$output")" = script ]
	# untouched: plan and up refuse it, naming the file
	run ferry plan
	[ "$status" -eq 2 ]
	[[ "$output" == *"$f: still the untouched template of 'ferry new'"* ]]
	run ferry up
	[ "$status" -eq 2 ]
	[[ "$output" == *"$f"* ]]
	[ ! -e "$ROOT/ran" ]
	# edited: accepted and run
	sed -i 's|# Write the change here.|touch ran|' "$ROOT/$f"
	run ferry plan
	[ "$status" -eq 0 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ -e "$ROOT/ran" ]
	# --kind script names the same kind
	run ferry new 0.1.0 again --kind script
	[ "$status" -eq 0 ]
	[ -x "$ROOT/migrations/v0.0.0_to_v0.1.0/002_again.sh" ]
}

@test "new --kind ops: a commented op list from the template, refused untouched, run once edited" {
	make_install
	run ferry new 0.1.0 settings --kind ops
	[ "$status" -eq 0 ]
	f="migrations/v0.0.0_to_v0.1.0/001_settings.yaml"
	[ -f "$ROOT/$f" ]
	[ ! -x "$ROOT/$f" ]
	grep -q '^ops:$' "$ROOT/$f"
	grep -q '^#  - mkdir:' "$ROOT/$f"
	run ferry plan
	[ "$status" -eq 2 ]
	[[ "$output" == *"$f: still the untouched template of 'ferry new'"* ]]
	sed -i 's|^#  - mkdir:  {path: data/search, mode: "0750"}|  - mkdir: {path: data/search}|' \
		"$ROOT/$f"
	run ferry plan
	[ "$status" -eq 0 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ -d "$ROOT/data/search" ]
}

@test "new --kind with a kind it cannot make: exit 2, naming the kinds it can, no file" {
	make_install
	run ferry new 0.1.0 x --kind native
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown step kind 'native' (this build makes: sql, ops (*.yaml), script (*.sh))"* ]]
	run ferry new 0.1.0 x --kind py
	[ "$status" -eq 2 ]
	[ -z "$(ls -A "$ROOT/migrations")" ]
}
