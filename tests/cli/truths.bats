#!/usr/bin/env bats
# What ferry reports is what happened (issue 11): a target above everything
# catalogued is refused, not recorded; `up --force` with nothing to do
# records no run; `down` refuses up front, naming the first step it would
# reach that cannot be undone.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	make_install
	step 0.0.0 0.3.0 001_a "CREATE TABLE a (x);" "DROP TABLE a;"
	step 0.3.0 0.4.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	ferry up 0.3.0 >/dev/null
}

runs() { ferry --json history | jq '.runs | length'; }

@test "truths: a major version above everything catalogued is refused (exit 2), nothing recorded" {
	n=$(runs)
	run ferry up 3.1.0
	[ "$status" -eq 2 ]
	[[ "$output" == *"'3.1.0'"*"'0.4.0'"* ]]
	[ "$(ferry version)" = 0.3.0 ]
	[ "$(runs)" = "$n" ]
	run ferry plan 3.1.0
	[ "$status" -eq 2 ]
	# A minor or patch release above the catalog is still recorded.
	run ferry up 0.4.1
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.4.1 ]
	[ "$(main_tables)" = "a b" ]
	# --force records it, saying so.
	run ferry up --force 3.1.0
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 3.1.0 ]
}

@test "truths: up --force with nothing pending records no run" {
	ferry up >/dev/null
	n=$(runs)
	run --separate-stderr ferry --json up --force
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .status)" = noop ]
	[ "$(runs)" = "$n" ]
}

@test "truths: down refuses before it changes anything, naming the first irreversible step it reaches" {
	step 0.4.0 0.5.0 001_x "CREATE TABLE x (y);"
	step 0.5.0 0.6.0 001_y "CREATE TABLE y (z);"
	step 0.6.0 0.7.0 001_z "CREATE TABLE z (w);" "DROP TABLE z;"
	ferry up >/dev/null
	BEFORE=$(dump)
	run ferry down 0.3.0
	[ "$status" -eq 1 ]
	[[ "$output" == *"0.6.0/001_y.sql"* ]]
	[[ "$output" != *"0.5.0/001_x.sql"* ]]
	[ "$(dump)" = "$BEFORE" ]
	[ "$(ferry version)" = 0.7.0 ]
}

@test "truths: verify reads the files: an edit that keeps the size and the mtime is found" {
	f="$ROOT/migrations/v0.0.0_to_v0.3.0/001_a.sql"
	touch -d '1 hour ago' "$f"
	ferry verify >/dev/null   # the checksum cache now holds the file, keyed on its stat
	touch -r "$f" "$BATS_TEST_TMPDIR/stamp"
	new=$(sed 's/CREATE TABLE a (x);/CREATE TABLE a (y);/' "$f")
	printf '%s\n' "$new" >"$f"   # in place: the same inode, the same size
	touch -r "$BATS_TEST_TMPDIR/stamp" "$f"
	run ferry verify
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.3.0/001_a.sql"*"changed"* ]]
}
