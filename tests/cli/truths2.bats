#!/usr/bin/env bats
# More of what ferry reports is what happened (issue 11 point 10): a
# crash-looping `up --keep-going-on-start` reuses the pre-run backup an
# earlier attempt took while nothing changed since (lib/backup/reuse.c).

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	make_install
	GATE="$BATS_TEST_TMPDIR/gate" # outside the installation: opening it changes nothing there
	mkdir -p "$ROOT/migrations/v0.0.0_to_v1.0.0"
	cat >"$ROOT/migrations/v0.0.0_to_v1.0.0/001_gate.sh" <<SH
#!/bin/sh
# ferry:irreversible
case "\$1" in
forward) [ -f '$GATE' ] || { echo "the gate is closed"; exit 3; } ;;
esac
SH
	step 0.0.0 1.0.0 002_notes "CREATE TABLE notes (x);" "DROP TABLE notes;"
}

prerun_ids() { ferry --json backup list | jq -r '[.backups[] | select(.type == "pre-run") | .id] | sort | .[]'; }

@test "reuse: five crash-looping start-ups keep one pre-run backup, each after the first reuses it" {
	local i first
	run ferry up --keep-going-on-start
	[ "$status" -eq 0 ]
	[[ "$output" == *"the gate is closed"* ]]
	[[ "$output" != *"reusing"* ]]
	first=$(prerun_ids)
	[ "$(printf '%s\n' "$first" | grep -c .)" = 1 ]
	# The plan says it will stand for the next run's, in JSON and to a person.
	run ferry --json plan
	[ "$(jq -r '.actions[0].kind + " " + .actions[0].type + " " + .actions[0].reuse' <<<"$output")" = \
		"backup pre-run $first" ]
	run ferry plan
	[[ "$output" == *"backup   pre-run  (reuse backup $first)"* ]]
	for i in 2 3 4 5; do
		run ferry up --keep-going-on-start
		[ "$status" -eq 0 ]
		[[ "$output" == *"reusing the pre-run backup $first"* ]]
		[[ "$output" == *"the gate is closed"* ]]
	done
	[ "$(prerun_ids)" = "$first" ]
	# Each run names the backup, and says it reused it.
	run --separate-stderr ferry --json up --keep-going-on-start
	[ "$(jq -r '.backup_id' <<<"$output")" = "$first" ]
	[ "$(jq -r '.backup_reused' <<<"$output")" = true ]
	[ "$(ferry --json history | jq -r '[.runs[] | .backup_id] | unique | .[]')" = "$first" ]
	[ "$(ferry version)" = 0.0.0 ]
}

@test "reuse: the fix that changes nothing in the installation runs on the same backup; the next run takes a new one" {
	local first second
	ferry up --keep-going-on-start >/dev/null 2>&1
	ferry up --keep-going-on-start >/dev/null 2>&1
	first=$(prerun_ids)
	touch "$GATE"
	run ferry up --keep-going-on-start
	[ "$status" -eq 0 ]
	[[ "$output" == *"reusing the pre-run backup $first"* ]]
	[ "$(ferry version)" = 1.0.0 ]
	[ "$(prerun_ids)" = "$first" ]
	# The state changed (steps applied, a version): the backup is stale, a new run takes its own.
	step 1.0.0 1.1.0 001_tags "CREATE TABLE tags (x);" "DROP TABLE tags;"
	run ferry --json plan
	[ "$(jq -r '.actions[0].reuse // "none"' <<<"$output")" = none ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" != *"reusing"* ]]
	[ "$(prerun_ids | grep -c .)" = 2 ]
	second=$(prerun_ids | grep -vx "$first")
	[ -n "$second" ]
}

@test "reuse: a file changed in the installation between attempts means a new backup" {
	local first
	ferry up --keep-going-on-start >/dev/null 2>&1
	first=$(prerun_ids)
	echo "uploaded" >"$ROOT/data/upload.txt"
	run ferry up --keep-going-on-start
	[[ "$output" != *"reusing"* ]]
	[ "$(prerun_ids | grep -c .)" = 2 ]
	# And a change to the database outside ferry too.
	second=$(prerun_ids | grep -vx "$first")
	run ferry up --keep-going-on-start
	[[ "$output" == *"reusing the pre-run backup $second"* ]]
	sql_main "CREATE TABLE app_wrote (x); INSERT INTO app_wrote VALUES (1);"
	run ferry up --keep-going-on-start
	[[ "$output" != *"reusing"* ]]
	[ "$(prerun_ids | grep -c .)" = 3 ]
}

@test "reuse: a backup whose archive was removed is not reused" {
	local first
	ferry up --keep-going-on-start >/dev/null 2>&1
	first=$(prerun_ids)
	run ferry --json plan
	[ "$(jq -r '.actions[0].reuse' <<<"$output")" = "$first" ]
	rm "$ROOT/.ferry/backups/$first.tar.zst"
	run ferry --json plan
	[ "$(jq -r '.actions[0].reuse // "none"' <<<"$output")" = none ]
	run ferry up --keep-going-on-start
	[[ "$output" != *"reusing"* ]]
}

# ---- `ferry check` asks the database whether pending SQL parses ----

sql_steps() {
	rm -rf "$ROOT/migrations"/*
	put_step 0.0.0 1.0.0 001_base <<'SQL'
-- ferry:up
CREATE TABLE base (x INTEGER);
INSERT INTO base VALUES (1);
SQL
	ferry up >/dev/null 2>&1
	# Statements that need the DDL before them: no false error.
	put_step 1.0.0 2.0.0 001_tags <<'SQL'
-- ferry:up
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO tags (name) SELECT 'x' FROM base;
CREATE INDEX tags_name ON tags (name);
ALTER TABLE tags ADD COLUMN color TEXT;
UPDATE tags SET color = 'red' WHERE name = 'x';
-- ferry:down
DROP TABLE tags;
SQL
}

@test "check: pending SQL whose statements need the DDL before them is no finding" {
	sql_steps
	run ferry check
	[ "$status" -eq 0 ]
	[[ "$output" == *"ready to upgrade"* ]]
}

@test "check: SQL that does not parse is a finding with its file and line (exit 3); the database is unchanged" {
	sql_steps
	put_step 1.0.0 2.0.0 002_bad <<'SQL'
-- a comment first
-- ferry:up
CREATE TABLE later (x INTEGER);

INSERT INTO later
  VALUES (1));
-- ferry:down
DROP TABLE later;
SQL
	before=$(sqlite3 "$ROOT/data/app.db" .dump; ls -l --time-style=full-iso "$ROOT/data")
	run ferry check
	[ "$status" -eq 3 ]
	[[ "$output" == *"migrations/v1.0.0_to_v2.0.0/002_bad.sql:6: syntax error near \")\""* ]]
	[[ "$output" != *"001_tags"* ]]
	run --separate-stderr ferry --json check
	[ "$status" -eq 3 ]
	[ "$(jq -r '[.findings[] | select(.kind == "syntax")] | length' <<<"$output")" = 1 ]
	[ "$(jq -r '.findings[] | select(.kind == "syntax") | .subject' <<<"$output")" = 2.0.0/002_bad.sql ]
	after=$(sqlite3 "$ROOT/data/app.db" .dump; ls -l --time-style=full-iso "$ROOT/data")
	[ "$before" = "$after" ]
	[ "$(ferry version)" = 1.0.0 ]
	# An applied step is not asked again; the pending one is what up then refuses.
	run ferry up
	[ "$status" -eq 2 ]
	[[ "$output" == *"002_bad.sql:"*"syntax error"* ]]
}

@test "check: the steps of a database not made yet are parsed in a stand-in, and none is made" {
	rm -rf "$ROOT/migrations"/* "$ROOT/data"
	put_step 0.0.0 1.0.0 001_base <<'SQL'
-- ferry:up
CREATE TABLE base (x INTEGER);
INSERT INTO base VALUES (1);
SELEC x FROM base;
SQL
	mkdir "$BATS_TEST_TMPDIR/tmp"
	TMPDIR="$BATS_TEST_TMPDIR/tmp" run ferry check
	[ "$status" -eq 3 ]
	[[ "$output" == *"001_base.sql:4: syntax error near \"SELEC\""* ]]
	[ ! -e "$ROOT/data/app.db" ]
	# The stand-in was made in TMPDIR and is gone.
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ]
}

# ---- --dry-run: a script's real environment, and its check told it is a dry run ----

dry_script() {
	rm -rf "$ROOT/migrations"/*
	mkdir -p "$ROOT/migrations/v0.0.0_to_v1.0.0"
	cat >"$ROOT/migrations/v0.0.0_to_v1.0.0/001_index.sh" <<SH
#!/bin/sh
case "\$1" in
check) printf '%s\n' "\$FERRY_DRY_RUN" >'$BATS_TEST_TMPDIR/dry.txt'; [ -f data/built ] && exit 1; exit 0 ;;
forward) echo built >data/built ;;
backward) rm -f data/built ;;
esac
SH
}

@test "dry-run: a script's FERRY_DB_<NAME> is the database's real path, passwords hidden" {
	dry_script
	add_config <<'YAML'
  remote: postgres://app:s3cret-pw@db.example:5432/app
YAML
	run --separate-stderr ferry up --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *"FERRY_DB_MAIN='$ROOT/data/app.db'"* ]]
	[[ "$output" == *"FERRY_DB_REMOTE='postgres://app:***@db.example:5432/app'"* ]]
	[[ "$output" != *"s3cret-pw"* ]]
	[[ "$output" != *"<each database"* ]]
	run --separate-stderr ferry --json up --dry-run
	[ "$status" -eq 0 ]
	jq -e --arg p "FERRY_DB_MAIN='$ROOT/data/app.db'" \
		'.dry_run_steps[0].statements | contains($p)' <<<"$output"
	[[ "$output" != *"s3cret-pw"* ]]
	[ ! -e "$ROOT/data/built" ]
	[ ! -e "$ROOT/data/app.db" ] # nothing was made
}

@test "dry-run: a script's check runs with FERRY_DRY_RUN=1, and one that says done shows the step skipped" {
	dry_script
	run ferry up --dry-run
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/dry.txt")" = 1 ]
	[ ! -e "$ROOT/data/built" ]
	run --separate-stderr ferry --json up --dry-run
	[ "$(jq -r '.dry_run_steps[0].needed // true' <<<"$output")" = true ]
	[ "$(jq -r '.steps[0].status' <<<"$output")" = pending ]
	# Its check says done: the dry run says the run would skip it.
	echo built >"$ROOT/data/built"
	run --separate-stderr ferry --json up --dry-run
	[ "$status" -eq 0 ]
	[ "$(jq -r '.dry_run_steps[0].needed' <<<"$output")" = false ]
	[ "$(jq -r '.steps[0].status' <<<"$output")" = skipped ]
	run ferry up --dry-run
	[[ "$output" == *"== 1.0.0/001_index.sh"*"-- skipped: its check says it is done"* ]]
	rm "$ROOT/data/built"
	# A real run gives its check 0.
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/dry.txt")" = 0 ]
	[ -f "$ROOT/data/built" ]
}
