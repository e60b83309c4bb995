#!/usr/bin/env bats
# up_down.bats - `ferry up [TARGET]` and `ferry down TARGET` (SPEC §4-§6):
# the database after each, the record table, the version file, --json,
# --dry-run/--only/--rerun/--force/--wait, check and verify sections,
# dbmate/goose markers, no-transaction, grouped and per-step transactions.

bats_require_minimum_version 1.5.0
load helpers

# 0.0.0 -> 0.1.0 (a, a row) -> 0.2.0 (b) -> 0.3.0 (c), with a version file.
three_versions() {
	make_install
	echo "version_file: config/version.json" | add_config
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	step 0.0.0 0.1.0 002_row "INSERT INTO a VALUES (1);" "DELETE FROM a WHERE x = 1;"
	step 0.1.0 0.2.0 001_b "CREATE TABLE b(x);" "DROP TABLE b;"
	step 0.2.0 0.3.0 001_c "CREATE TABLE c(x);" "DROP TABLE c;"
}

ALL_IDS=$'0.1.0/001_a.sql\n0.1.0/002_row.sql\n0.2.0/001_b.sql\n0.3.0/001_c.sql'

version_file() { jq -r .version "$ROOT/config/version.json"; }

# ---- up ----

@test "up: every transition to the latest, recorded, version file rewritten" {
	three_versions
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"0.0.0 -> 0.3.0"* ]]
	[ "$(main_tables)" = "a b c" ]
	[ "$(sql_main 'SELECT x FROM a')" = 1 ]
	[ "$(recorded_ids)" = "$ALL_IDS" ]
	[ "$(ferry version)" = 0.3.0 ]
	[ "$(version_file)" = 0.3.0 ]
}

@test "up TARGET stops at that version" {
	three_versions
	run ferry up 0.2.0
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "a b" ]
	[ "$(recorded_ids)" = $'0.1.0/001_a.sql\n0.1.0/002_row.sql\n0.2.0/001_b.sql' ]
	[ "$(ferry version)" = 0.2.0 ]
	[ "$(version_file)" = 0.2.0 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(recorded_ids)" = "$ALL_IDS" ]
	[ "$(version_file)" = 0.3.0 ]
}

@test "up --json: run_id, status, from, to, backup_id, steps" {
	three_versions
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	for k in run_id status from to backup_id steps; do
		jq -e --arg k "$k" 'has($k)' <<<"$output" >/dev/null
	done
	jq -e '(.status == "success") and (.from == "0.0.0") and (.to == "0.3.0")
		and (.run_id | type == "number")
		and ([.steps[].id] == ["0.1.0/001_a.sql","0.1.0/002_row.sql","0.2.0/001_b.sql","0.3.0/001_c.sql"])
		and ([.steps[].status] | unique == ["applied"])
		and ([.steps[].duration_ms | type] | unique == ["number"])
		and ([.steps[] | has("message")] | all)' <<<"$output"
	# progress went to stderr
	[[ "$stderr" == *"0.1.0/001_a.sql"* ]]
}

@test "up with nothing pending: exit 0, noop" {
	three_versions
	ferry up
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to do"* ]]
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = noop ]
	[ "$(jq '.steps | length' <<<"$output")" -eq 0 ]
}

@test "a no-op up writes nothing: state.db untouched, its WAL left empty" {
	three_versions
	find "$ROOT" -exec touch -h -d '@1700000000' {} +
	ferry up
	ferry up   # stores the no-op fingerprint
	[ -f "$ROOT/.ferry/state.db-wal" ]
	[ "$(stat -c %s "$ROOT/.ferry/state.db-wal")" -eq 0 ]
	before=$(stat -c '%s %Y.%y' "$ROOT/.ferry/state.db")
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to do"* ]]
	[ "$(stat -c '%s %Y.%y' "$ROOT/.ferry/state.db")" = "$before" ]
	[ "$(stat -c %s "$ROOT/.ferry/state.db-wal")" -eq 0 ]
}

@test "up: flat steps (1.2.2_name.sql) form the transition into their version" {
	make_install
	flat 0.1.0_users.sql $'-- ferry:up\nCREATE TABLE users(x);\n-- ferry:down\nDROP TABLE users;'
	flat 0.2.0_posts.sql $'-- ferry:up\nCREATE TABLE posts(x);\n-- ferry:down\nDROP TABLE posts;'
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "posts users" ]
	[ "$(recorded_ids)" = $'0.1.0/0.1.0_users.sql\n0.2.0/0.2.0_posts.sql' ]
	[ "$(ferry version)" = 0.2.0 ]
}

@test "up to an unreachable target: exit 1 naming the reachable versions, nothing changed" {
	three_versions
	step 1.0.0 1.1.0 001_far "CREATE TABLE far(x);"
	run ferry up 1.1.0
	[ "$status" -eq 1 ]
	[[ "$output" == *reachable* ]]
	[[ "$output" == *"0.3.0"* ]]
	[ "$(ferry version)" = 0.0.0 ]
	[ -z "$(recorded_ids)" ]
}

@test "up with an invalid target or a target below the current version: exit 2" {
	three_versions
	run ferry up banana
	[ "$status" -eq 2 ]
	ferry up 0.2.0
	run ferry up 0.1.0
	[ "$status" -eq 2 ]
	[ "$(ferry version)" = 0.2.0 ]
}

@test "up 1.0.1: a version in versions.yaml with no steps is reached by recording it" {
	three_versions
	printf 'versions:\n  - version: "0.3.0"\n    notes: c\n  - version: "0.3.1"\n    notes: patch\n' \
		>"$ROOT/migrations/versions.yaml"
	ferry up 0.3.0
	before=$(dump)
	run ferry up 0.3.1
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.3.1 ]
	[ "$(version_file)" = 0.3.1 ]
	[ "$(dump)" = "$before" ]
}

@test "up stops at a required stop (exit 0, saying so); the next up goes on" {
	three_versions
	printf 'versions:\n  - version: "0.2.0"\n    notes: b\n    required_stop: true\n' \
		>"$ROOT/migrations/versions.yaml"
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"required stop"* ]]
	[ "$(ferry version)" = 0.2.0 ]
	[ "$(main_tables)" = "a b" ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.3.0 ]
}

@test "up --keep-going-on-start: a failure is a warning, exit 0, installation as before" {
	three_versions
	ferry up 0.1.0
	step 0.1.0 0.2.0 002_bad "INSERT INTO nowhere VALUES (1);"
	before=$(dump)
	run ferry up --keep-going-on-start
	[ "$status" -eq 0 ]
	[[ "$output" == *warning* ]]
	[[ "$output" == *nowhere* ]]
	[ "$(dump)" = "$before" ]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(recorded_ids)" = $'0.1.0/001_a.sql\n0.1.0/002_row.sql' ]
}

# ---- --dry-run, --only, --rerun, --force, --wait ----

@test "up --dry-run prints every statement and changes nothing" {
	three_versions
	sql_main "CREATE TABLE existing(x); INSERT INTO existing VALUES (42);"
	before=$(dump)
	run ferry up --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *"dry run"* ]]
	[[ "$output" == *"0.1.0/001_a.sql"*"CREATE TABLE a(x);"* ]]
	[[ "$output" == *"INSERT INTO a VALUES (1);"* ]]
	[[ "$output" == *"0.3.0/001_c.sql"*"CREATE TABLE c(x);"* ]]
	[ "$(dump)" = "$before" ]
	[ -z "$(recorded_ids)" ]
	[ "$(ferry version)" = 0.0.0 ]
	[ ! -e "$ROOT/config/version.json" ]
	run --separate-stderr ferry --json history
	[ "$(jq '.runs | length' <<<"$output")" -eq 0 ]
}

@test "up --dry-run --json: status dry_run, the steps pending" {
	three_versions
	run --separate-stderr ferry --json up --dry-run
	[ "$status" -eq 0 ]
	jq -e '(.status == "dry_run") and (.from == "0.0.0") and (.to == "0.3.0")
		and (.steps | length == 4)' <<<"$output"
	[ -z "$(recorded_ids)" ]
	# where the document carries the plan, it is the plan of `ferry --json plan`
	dry=$output
	run --separate-stderr ferry --json plan
	if jq -e 'has("plan")' <<<"$dry" >/dev/null; then
		[ "$(jq -c '.plan.transitions' <<<"$dry")" = "$(jq -c .transitions <<<"$output")" ]
	fi
}

@test "up --only STEP_ID runs just that step" {
	three_versions
	run ferry up --only 0.2.0/001_b.sql
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "b" ]
	[ "$(recorded_ids)" = "0.2.0/001_b.sql" ]
	[ "$(ferry version)" = 0.0.0 ]
}

@test "up --only runs an applied step again" {
	three_versions
	ferry up 0.1.0
	run ferry up --only 0.1.0/002_row.sql
	[ "$status" -eq 0 ]
	[ "$(sql_main 'SELECT count(*) FROM a')" -eq 2 ]
	[ "$(ferry version)" = 0.1.0 ]
}

@test "up --only with an unknown step: exit 2, nothing changed" {
	three_versions
	run ferry up --only 9.9.9/nope.sql
	[ "$status" -eq 2 ]
	[[ "$output" == *"9.9.9/nope.sql"* ]]
	[ -z "$(recorded_ids)" ]
}

@test "up --rerun runs an applied step again" {
	three_versions
	ferry up 0.1.0
	run ferry up --rerun 0.1.0/002_row.sql
	[ "$status" -eq 0 ]
	[ "$(sql_main 'SELECT count(*) FROM a')" -eq 2 ]
}

@test "up stops on drift (exit 3); --force goes on and says so" {
	three_versions
	ferry up 0.1.0
	echo "-- edited after it was applied" >>"$ROOT/migrations/v0.0.0_to_v0.1.0/001_a.sql"
	run ferry up
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.1.0/001_a.sql"* ]]
	[[ "$output" == *"--force"* ]]
	[ "$(main_tables)" = "a" ]
	[ "$(ferry version)" = 0.1.0 ]
	run ferry up --force
	[ "$status" -eq 0 ]
	[[ "$output" == *"drift"* ]]
	[[ "$output" == *"0.1.0/001_a.sql"* ]]
	[ "$(main_tables)" = "a b c" ]
	[ "$(ferry version)" = 0.3.0 ]
}

@test "up --wait SECONDS waits for a lock that is released" {
	three_versions
	mkdir -p "$ROOT/.ferry"
	flock "$ROOT/.ferry/lock" sleep 1 &
	sleep 0.3
	t0=$(date +%s%N)
	run ferry up --wait 10
	t1=$(date +%s%N)
	wait
	[ "$status" -eq 0 ]
	# it waited for the holder (about 0.7 s) rather than running beside it
	[ $(((t1 - t0) / 1000000)) -ge 400 ]
	[ "$(ferry version)" = 0.3.0 ]
	[ "$(recorded_ids)" = "$ALL_IDS" ]
}

@test "up --wait with a value that is not a number: exit 2" {
	three_versions
	run ferry up --wait soon
	[ "$status" -eq 2 ]
	[[ "$output" == *soon* ]]
	[ -z "$(recorded_ids)" ]
}

# ---- check and verify sections, markers, no-transaction ----

@test "a step whose check returns false is skipped and recorded as skipped" {
	make_install
	sql_main "CREATE TABLE users(id INTEGER PRIMARY KEY, full_name TEXT);"
	put_step 0.0.0 0.1.0 001_full_name <<'SQL'
-- ferry:up
ALTER TABLE users ADD COLUMN full_name TEXT;
-- ferry:down
ALTER TABLE users DROP COLUMN full_name;
-- ferry:check
SELECT count(*) = 0 FROM pragma_table_info('users') WHERE name = 'full_name';
SQL
	put_step 0.0.0 0.1.0 002_needed <<'SQL'
-- ferry:up
CREATE TABLE needed(x);
-- ferry:check
SELECT 1;
SQL
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	jq -e '[.steps[] | {id, status}] == [{"id":"0.1.0/001_full_name.sql","status":"skipped"},
		{"id":"0.1.0/002_needed.sql","status":"applied"}]' <<<"$output"
	[ "$(sql_main "SELECT status FROM ferry_steps WHERE id = '0.1.0/001_full_name.sql'")" = skipped ]
	[ "$(main_tables)" = "needed users" ]
	[ "$(ferry version)" = 0.1.0 ]
}

@test "a failing verify section rolls the run back (exit 1)" {
	make_install
	echo "version_file: config/version.json" | add_config
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	put_step 0.0.0 0.1.0 002_seed <<'SQL'
-- ferry:up
CREATE TABLE settings(k TEXT, v TEXT);
-- ferry:down
DROP TABLE settings;
-- ferry:verify
SELECT count(*) = 1 FROM settings;
SQL
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"0.1.0/002_seed.sql"* || "$output" == *"002_seed.sql"* ]]
	[[ "$output" == *verify* ]]
	[ -z "$(main_tables)" ]
	[ -z "$(recorded_ids)" ]
	[ "$(ferry version)" = 0.0.0 ]
	[ ! -e "$ROOT/config/version.json" ]
	run --separate-stderr ferry --json history
	[ "$(jq -r '.runs[0].status' <<<"$output")" = rolled_back ]
}

@test "a passing verify section lets the step stand" {
	make_install
	put_step 0.0.0 0.1.0 001_seed <<'SQL'
-- ferry:up
CREATE TABLE settings(k TEXT, v TEXT);
INSERT INTO settings VALUES ('theme', 'dark');
-- ferry:down
DROP TABLE settings;
-- ferry:verify
SELECT count(*) = 1 FROM settings;
SQL
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(sql_main 'SELECT v FROM settings')" = dark ]
}

@test "dbmate markers (-- migrate:up / -- migrate:down) work up and down" {
	make_install
	put_step 0.0.0 0.1.0 001_dbmate <<'SQL'
-- migrate:up
CREATE TABLE from_dbmate(x);
-- migrate:down
DROP TABLE from_dbmate;
SQL
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "from_dbmate" ]
	run ferry down 0.0.0
	[ "$status" -eq 0 ]
	[ -z "$(main_tables)" ]
}

@test "goose markers (-- +goose Up / -- +goose Down) work up and down" {
	make_install
	put_step 0.0.0 0.1.0 001_goose <<'SQL'
-- +goose Up
CREATE TABLE from_goose(x);
-- +goose Down
DROP TABLE from_goose;
SQL
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "from_goose" ]
	run ferry down 0.0.0
	[ "$status" -eq 0 ]
	[ -z "$(main_tables)" ]
}

@test "-- ferry:no-transaction runs what cannot run in a transaction (VACUUM)" {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	put_step 0.0.0 0.1.0 002_vacuum <<'SQL'
-- ferry:no-transaction
-- ferry:up
VACUUM;
SQL
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(recorded_ids)" = $'0.1.0/001_a.sql\n0.1.0/002_vacuum.sql' ]
	[ "$(ferry version)" = 0.1.0 ]
}

@test "without no-transaction the same VACUUM fails and the run rolls back" {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	put_step 0.0.0 0.1.0 002_vacuum <<'SQL'
-- ferry:up
VACUUM;
SQL
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"002_vacuum.sql"* ]]
	[ -z "$(main_tables)" ]
	[ -z "$(recorded_ids)" ]
}

# ---- failures: grouped and per-step transactions ----

# Steps 1 and 2 log their down into undo_log; step 3 fails.
failing_third() {
	make_install
	echo "version_file: config/version.json" | add_config
	sql_main "CREATE TABLE undo_log(n INTEGER);"
	step 0.0.0 0.1.0 001_one "CREATE TABLE one(x);" "DROP TABLE one; INSERT INTO undo_log VALUES (1);"
	step 0.0.0 0.1.0 002_two "CREATE TABLE two(x);" "DROP TABLE two; INSERT INTO undo_log VALUES (2);"
	step 0.0.0 0.1.0 003_bad "INSERT INTO no_such_table VALUES (3);" "SELECT 1;"
}

@test "grouped (default): a failing step rolls the whole run back at once" {
	failing_third
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"003_bad.sql"* ]]
	[[ "$output" == *"no_such_table"* ]]
	[ "$(main_tables)" = "undo_log" ]
	# one transaction: nothing was committed, so no down ran
	[ "$(sql_main 'SELECT count(*) FROM undo_log')" -eq 0 ]
	[ -z "$(recorded_ids)" ]
	[ "$(ferry version)" = 0.0.0 ]
	[ ! -e "$ROOT/config/version.json" ]
}

@test "transaction: step commits each step; a failing 3rd step undoes 1-2 through their downs" {
	failing_third
	echo "transaction: step" | add_config
	run ferry -v up
	[ "$status" -eq 1 ]
	[[ "$output" == *"003_bad.sql"* ]]
	# steps 1 and 2 were committed, then undone newest first by their down
	[ "$(sql_main 'SELECT group_concat(n) FROM (SELECT n FROM undo_log ORDER BY rowid)')" = "2,1" ]
	[ "$(main_tables)" = "undo_log" ]
	[ -z "$(recorded_ids)" ]
	[ "$(ferry version)" = 0.0.0 ]
	run --separate-stderr ferry --json history
	[ "$(jq -r '.runs[0].status' <<<"$output")" = rolled_back ]
}

@test "a failed run leaves the record of earlier runs and none of its own steps" {
	three_versions
	ferry up 0.1.0
	step 0.1.0 0.2.0 002_bad "INSERT INTO no_such_table VALUES (1);"
	run --separate-stderr ferry --json up
	[ "$status" -eq 1 ]
	[ "$(jq -r .status <<<"$output")" = rolled_back ]
	[ "$(recorded_ids)" = $'0.1.0/001_a.sql\n0.1.0/002_row.sql' ]
	[ "$(main_tables)" = "a" ]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(version_file)" = 0.1.0 ]
}

@test "a completed step without down and a later failure: exit 5 naming the step" {
	failing_third
	echo "transaction: step" | add_config
	step 0.0.0 0.1.0 002_two "CREATE TABLE two(x);"      # no down now
	# Without a backup to restore (with one, the run ends restored: run_backups.bats).
	run ferry up --skip-backup
	[ "$status" -eq 5 ]
	[[ "$output" == *"0.1.0/002_two.sql"* ]]
	[[ "$output" == *"down"* ]]
	run --separate-stderr ferry --json history
	[ "$(jq -r '.runs[0].status' <<<"$output")" = failed ]
}

# ---- down ----

@test "down TARGET undoes the steps above it, newest first" {
	three_versions
	ferry up
	run ferry down 0.1.0
	[ "$status" -eq 0 ]
	[[ "$output" == *"0.3.0 -> 0.1.0"* ]]
	[ "$(main_tables)" = "a" ]
	[ "$(recorded_ids)" = $'0.1.0/001_a.sql\n0.1.0/002_row.sql' ]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(version_file)" = 0.1.0 ]
}

@test "down --json: the run document, steps rolled_back" {
	three_versions
	ferry up
	run --separate-stderr ferry --json down 0.0.0
	[ "$status" -eq 0 ]
	jq -e '(.status == "success") and (.from == "0.3.0") and (.to == "0.0.0")
		and (.run_id | type == "number") and has("backup_id")
		and ([.steps[].id] == ["0.3.0/001_c.sql","0.2.0/001_b.sql","0.1.0/002_row.sql","0.1.0/001_a.sql"])
		and ([.steps[].status] | unique == ["rolled_back"])' <<<"$output"
	[ -z "$(main_tables)" ]
	[ -z "$(recorded_ids)" ]
	[ "$(version_file)" = 0.0.0 ]
}

@test "down uses the recorded down even after the step file changed" {
	three_versions
	ferry up
	# a newer release changed the file: its down now drops something else
	step 0.2.0 0.3.0 001_c "CREATE TABLE c(x);" "DROP TABLE a;"
	run ferry down 0.2.0
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "a b" ]
	[ "$(ferry version)" = 0.2.0 ]
}

@test "down uses the recorded down after the step file was deleted" {
	three_versions
	ferry up
	rm -r "$ROOT/migrations/v0.2.0_to_v0.3.0" "$ROOT/migrations/v0.1.0_to_v0.2.0"
	run ferry down 0.1.0
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "a" ]
	[ "$(recorded_ids)" = $'0.1.0/001_a.sql\n0.1.0/002_row.sql' ]
	[ "$(ferry version)" = 0.1.0 ]
}

@test "down refuses when a step has no down: exit 1, nothing changed" {
	three_versions
	step 0.1.0 0.2.0 002_oneway "CREATE TABLE oneway(x);"
	ferry up
	before=$(dump)
	run ferry down 0.0.0
	[ "$status" -eq 1 ]
	[[ "$output" == *"0.2.0/002_oneway.sql"* ]]
	[ "$(dump)" = "$before" ]
	[ "$(ferry version)" = 0.3.0 ]
	[ "$(version_file)" = 0.3.0 ]
	[ "$(recorded_ids | wc -l)" -eq 5 ]
	# going down to just above it still works
	run ferry down 0.2.0
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.2.0 ]
}

@test "down needs a TARGET, not above the current version (exit 2)" {
	three_versions
	ferry up 0.1.0
	run ferry down
	[ "$status" -eq 2 ]
	[[ "$output" == *TARGET* ]]
	run ferry down 0.3.0
	[ "$status" -eq 2 ]
	[ "$(ferry version)" = 0.1.0 ]
}

@test "down --dry-run changes nothing" {
	three_versions
	ferry up
	before=$(dump)
	run ferry down --dry-run 0.0.0
	[ "$status" -eq 0 ]
	[[ "$output" == *"DROP TABLE c;"* ]]
	[ "$(dump)" = "$before" ]
	[ "$(ferry version)" = 0.3.0 ]
	[ "$(recorded_ids)" = "$ALL_IDS" ]
}
