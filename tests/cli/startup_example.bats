#!/usr/bin/env bats
# The start-up example (examples/startup.c): an application that runs its
# pending migrations with ferry_up() when it boots, with a native C step.

setup() {
	load helpers
	EX="$(dirname "$FERRY")/examples/startup-example"
	ROOT="$BATS_TEST_TMPDIR/demo"
	cp -R "$BATS_TEST_DIRNAME/../../examples/demo/." "$ROOT/"
	rm -rf "$ROOT/.ferry" "$ROOT/data/"*.db
	sqlite3 "$ROOT/data/notebook.db" <"$ROOT/seed.sql"
}

@test "start-up: ferry_up brings 0.5.0 to 1.0.1, running the native step last" {
	run "$EX" "$ROOT" 1.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"application starting at version 1.0.1"* ]]
	[ "$(cat "$ROOT/data/cache/notes.idx")" = "notebook search cache v1" ]
	[ "$(sqlite3 "$ROOT/data/notebook.db" 'SELECT count(*) FROM notes')" = 12 ]
	# The native step is recorded like a file step, and the tool (which does
	# not register it) sees it applied, not drifted.
	run "$FERRY" -C "$ROOT" --json list
	[ "$(echo "$output" | jq -r '.steps[] | select(.id == "1.0.1/build_cache") | .state')" = applied ]
	run "$FERRY" -C "$ROOT" verify
	[ "$status" -eq 0 ]
	run "$FERRY" -C "$ROOT" up
	[ "$status" -eq 0 ]
}

@test "start-up: a second boot is a no-op" {
	"$EX" "$ROOT" 1.0.1
	run "$EX" "$ROOT" 1.0.1
	[ "$status" -eq 0 ]
	[[ "$output" != *"applied in"* ]]
	[[ "$output" == *"starting at version 1.0.1"* ]]
}

@test "start-up: --keep-going starts on the old version when a step fails, installation unchanged" {
	mkdir -p "$ROOT/migrations/v1.1.0_to_v1.2.0"
	printf -- '-- ferry:up\nCREATE TABLE x (a);\nINSERT INTO nope VALUES (1);\n-- ferry:down\nDROP TABLE x;\n' \
		>"$ROOT/migrations/v1.1.0_to_v1.2.0/001_fails.sql"
	"$EX" "$ROOT" 1.0.1
	before=$(sqlite3 "$ROOT/data/notebook.db" .dump)
	config_before=$(cat "$ROOT/config/app.json")
	# 1.0.1 -> 1.1.0 (SQL, ops and a script) succeeds, then 1.2.0 fails: all of it is undone.
	run "$EX" "$ROOT" 1.2.0 --keep-going
	[ "$status" -eq 0 ]
	[[ "$output" == *"no such table: nope"* ]]
	[[ "$output" == *"starting at version 1.0.1"* ]]
	[ "$(sqlite3 "$ROOT/data/notebook.db" .dump)" = "$before" ]
	[ "$(cat "$ROOT/config/app.json")" = "$config_before" ]
	[ ! -e "$ROOT/data/search/titles.txt" ]
	# Without --keep-going the same failure stops the application (exit 1).
	run "$EX" "$ROOT" 1.2.0
	[ "$status" -eq 1 ]
}

@test "start-up: the tool's down refuses up front at the native step it cannot undo, changing nothing" {
	"$EX" "$ROOT" 1.0.1 >/dev/null
	before=$(sqlite3 "$ROOT/data/notebook.db" .dump)
	files_before=$(cd "$ROOT" && find config data -type f | sort | xargs sha256sum)
	run "$FERRY" -C "$ROOT" down 1.0.0
	[ "$status" -eq 1 ]
	[[ "$output" == *"1.0.1/build_cache"*"not registered"* ]]
	[[ "$output" == *"nothing was changed"* ]]
	[ "$(sqlite3 "$ROOT/data/notebook.db" .dump)" = "$before" ]
	[ "$(cd "$ROOT" && find config data -type f | sort | xargs sha256sum)" = "$files_before" ]
	[ "$("$FERRY" -C "$ROOT" version)" = 1.0.1 ]
}
