#!/usr/bin/env bats
# Backups inside `up` (SPEC section 6 steps 5 and 8): the pre-run backup,
# --skip-backup, restore when a step cannot be undone, checkpoints, the
# disk-space pre-flight, and --rehearse.

setup() {
	load helpers
	make_install
	sqlite3 "$ROOT/data/app.db" "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
		INSERT INTO notes (body) VALUES ('one'), ('two'), ('three');"
	ferry version --set 0.1.0
	step 0.1.0 0.2.0 001_pinned "ALTER TABLE notes ADD COLUMN pinned INTEGER DEFAULT 0;" \
		"ALTER TABLE notes DROP COLUMN pinned;"
	step 0.2.0 0.3.0 001_tags "CREATE TABLE tags (name TEXT);" "DROP TABLE tags;"
	BEFORE=$(dump)
}

backups() { ferry --json backup list | jq -r '.backups[] | "\(.type) \(.version)"' | sort; }

@test "up takes a pre-run backup at the start version and reports its id" {
	out=$(ferry --json up 2>/dev/null)
	id=$(echo "$out" | jq -r .backup_id)
	[[ "$id" == testapp_*_pre-run ]]
	[ "$(backups)" = "pre-run 0.1.0" ]
	[ -f "$ROOT/.ferry/backups/$id.tar.zst" ]
	# The archive holds the database as it was before the run.
	mkdir "$BATS_TEST_TMPDIR/x"
	tar --zstd -xf "$ROOT/.ferry/backups/$id.tar.zst" -C "$BATS_TEST_TMPDIR/x"
	[ "$(sqlite3 "$BATS_TEST_TMPDIR/x/databases/main.sqlite" 'SELECT count(*) FROM notes')" = 3 ]
	run sqlite3 "$BATS_TEST_TMPDIR/x/databases/main.sqlite" 'SELECT pinned FROM notes'
	[ "$status" -ne 0 ]
	[ "$(ferry --json history | jq -r '.runs[0].backup_id')" = "$id" ]
}

@test "up --skip-backup and backup_required: false take none" {
	run ferry up --skip-backup 0.2.0
	[ "$status" -eq 0 ]
	[ -z "$(backups)" ]
	printf 'backup_required: false\n' >"$ROOT/migrations/v0.2.0_to_v0.3.0/transition.yaml"
	run ferry up
	[ "$status" -eq 0 ]
	[ -z "$(backups)" ]
	[ "$(ferry version)" = 0.3.0 ]
}

@test "a failure after a step with no down restores the pre-run backup: exit 1, data as before" {
	printf 'transaction: step\n' >>"$ROOT/ferry.yaml"
	put_irreversible() {
		printf -- '-- ferry:up\nUPDATE notes SET body = upper(body);\n' \
			>"$ROOT/migrations/v0.2.0_to_v0.3.0/000_shout.sql"
	}
	put_irreversible
	printf -- '-- ferry:up\nINSERT INTO nope VALUES (1);\n-- ferry:down\nSELECT 1;\n' \
		>"$ROOT/migrations/v0.2.0_to_v0.3.0/002_fails.sql"
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"restoring backup"* ]]
	[ "$(dump)" = "$BEFORE" ]
	[ "$(ferry version)" = 0.1.0 ]
	run ferry --json list
	[ "$(echo "$output" | jq -r '.steps[] | select(.id == "0.3.0/000_shout.sql") | .state')" = rolled_back ]
	# Without a backup the same run cannot be brought back: exit 5, saying where it is.
	run ferry up --skip-backup
	[ "$status" -eq 5 ]
	[[ "$output" == *"0.3.0/000_shout.sql"* ]]
}

@test "--checkpoint-each-version: a failure rolls back to the last checkpoint only" {
	printf -- '-- ferry:up\nINSERT INTO nope VALUES (1);\n' \
		>"$ROOT/migrations/v0.2.0_to_v0.3.0/002_fails.sql"
	run ferry up --checkpoint-each-version
	[ "$status" -eq 1 ]
	[[ "$output" == *"checkpoint"* ]]
	[ "$(ferry version)" = 0.2.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(pinned) FROM notes')" = 3 ]
	[ "$(backups)" = "$(printf 'checkpoint 0.2.0\npre-run 0.1.0')" ]
}

@test "the disk-space pre-flight refuses a backup that cannot fit, changing nothing" {
	mkdir -p "$BATS_TEST_TMPDIR/small"
	mount -t tmpfs -o size=64k tmpfs "$BATS_TEST_TMPDIR/small"
	head -c 400000 /dev/urandom >"$ROOT/data/blob.bin"
	printf 'backup:\n  dir: %s/small/b\n' "$BATS_TEST_TMPDIR" >>"$ROOT/ferry.yaml"
	run ferry up
	umount "$BATS_TEST_TMPDIR/small"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not enough disk space"* ]]
	[[ "$output" == *"--skip-backup"* ]]
	[ "$(dump)" = "$BEFORE" ]
	[ "$(ferry version)" = 0.1.0 ]
}

@test "--rehearse runs the plan on a copy, reports each step, leaves the installation as it was" {
	before_state=$(sqlite3 "$ROOT/.ferry/state.db" 'SELECT count(*) FROM runs')
	out=$(ferry --json up --rehearse 2>/dev/null)
	[ "$(echo "$out" | jq -r .rehearsal)" = true ]
	[ "$(echo "$out" | jq -r .status)" = success ]
	[ "$(echo "$out" | jq -r '.steps | length')" = 2 ]
	[ "$(echo "$out" | jq -r '.steps[0].status')" = applied ]
	[ "$(dump)" = "$BEFORE" ]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(sqlite3 "$ROOT/.ferry/state.db" 'SELECT count(*) FROM runs')" = "$before_state" ]
	[ -z "$(ls -d "${TMPDIR:-/tmp}"/ferry-rehearsal-* 2>/dev/null)" ]
	# A rehearsal of a failing plan fails (exit 1), and still changes nothing.
	printf -- '-- ferry:up\nINSERT INTO nope VALUES (1);\n' \
		>"$ROOT/migrations/v0.2.0_to_v0.3.0/002_fails.sql"
	run ferry up --rehearse
	[ "$status" -eq 1 ]
	[[ "$output" == *"rehearsal failed"* ]]
	[ "$(dump)" = "$BEFORE" ]
}

@test "check reports a backup folder without room for the pre-run backup (exit 3)" {
	mkdir -p "$BATS_TEST_TMPDIR/small"
	mount -t tmpfs -o size=64k tmpfs "$BATS_TEST_TMPDIR/small"
	head -c 400000 /dev/urandom >"$ROOT/data/blob.bin"
	printf 'backup:\n  dir: %s/small/b\n' "$BATS_TEST_TMPDIR" >>"$ROOT/ferry.yaml"
	run ferry check
	umount "$BATS_TEST_TMPDIR/small"
	[ "$status" -eq 3 ]
	[[ "$output" == *"disk"*"pre-run backup needs"* ]]
}

@test "rollback to the pre-run backup: the next up runs every step again, ops and scripts too" {
	demo="$BATS_TEST_TMPDIR/demo"
	cp -R "$BATS_TEST_DIRNAME/../../examples/demo/." "$demo/"
	rm -rf "$demo/.ferry" "$demo/data/"*.db
	sqlite3 "$demo/data/notebook.db" <"$demo/seed.sql"
	config_before=$(cat "$demo/config/app.json")
	"$FERRY" -C "$demo" up
	[ -s "$demo/data/search/titles.txt" ]
	run "$FERRY" -C "$demo" rollback --last --no-safety-backup
	[ "$status" -eq 0 ]
	[ "$("$FERRY" -C "$demo" version)" = 0.5.0 ]
	[ "$(cat "$demo/config/app.json")" = "$config_before" ]
	[ ! -e "$demo/data/search/titles.txt" ]
	# status and list already say what is pending: nothing is left 'applied'.
	[ "$("$FERRY" -C "$demo" --json status | jq .pending_steps)" = 10 ]
	run "$FERRY" -C "$demo" up
	[ "$status" -eq 0 ]
	[ -s "$demo/data/search/titles.txt" ]
	[ "$(jq -r .logging.level "$demo/config/app.json")" = info ]
}

@test "--rehearse of a database outside the root runs on its copy; the original is untouched" {
	outside="$BATS_TEST_TMPDIR/elsewhere/app.db"
	mkdir -p "$(dirname "$outside")"
	cp "$ROOT/data/app.db" "$outside"
	sed -i "s|  main: sqlite:data/app.db|  main: sqlite://$outside|" "$ROOT/ferry.yaml"
	before=$(sqlite3 "$outside" .dump)
	out=$(ferry --json up --rehearse 2>/dev/null)
	[ "$(echo "$out" | jq -r .status)" = success ]
	[ "$(echo "$out" | jq -r '[.steps[].status] | join(",")')" = "applied,applied" ]
	[ "$(sqlite3 "$outside" .dump)" = "$before" ]
	[ "$(ferry version)" = 0.1.0 ]
}

@test "--rehearse with nothing to do copies nothing" {
	ferry up >/dev/null
	run ferry up --rehearse
	[ "$status" -eq 0 ]
	[[ "$output" != *"rehearsing on a copy"* ]]
	[[ "$output" == *"nothing to do"* ]]
}
