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

