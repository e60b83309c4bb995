#!/usr/bin/env bats
# global_options.bats - what every command shares (SPEC §5): -C DIR, finding
# the root from a subfolder, --json, -q, -v, --no-color/NO_COLOR, --version,
# --help for the tool and for every command, usage errors (exit 2).

bats_require_minimum_version 1.5.0
load helpers

COMMANDS="init new status list history plan up down verify check version unlock recover"

small() {
	make_install
	echo "version_file: config/version.json" | add_config
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	step 0.1.0 0.2.0 001_b "CREATE TABLE b(x);" "DROP TABLE b;"
}

# The ESC byte anywhere in $1.
has_esc() { [[ "$1" == *$'\033'* ]]; }

# Runs ferry on a pseudo-terminal (util-linux script) so that colors would be on.
on_tty() { script -qec "$*" /dev/null; }

# ---- -C and the root ----

@test "-C DIR works from anywhere, also as -CDIR" {
	small
	cd "$BATS_TEST_TMPDIR"
	run "$FERRY" -C "$ROOT" version
	[ "$status" -eq 0 ]
	[ "$output" = 0.0.0 ]
	run "$FERRY" "-C$ROOT" up
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "a b" ]
}

@test "without -C the root is the nearest folder above holding ferry.yaml" {
	small
	mkdir -p "$ROOT/data/deep/er"
	cd "$ROOT/data/deep/er"
	run "$FERRY" up 0.1.0
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = a ]
	[ "$(jq -r .version "$ROOT/config/version.json")" = 0.1.0 ]
	run "$FERRY" version
	[ "$output" = 0.1.0 ]
}

@test "-C a subfolder of the installation finds the root too" {
	small
	mkdir -p "$ROOT/config/sub"
	run "$FERRY" -C "$ROOT/config/sub" version
	[ "$status" -eq 0 ]
	[ "$output" = 0.0.0 ]
}

@test "no ferry.yaml here or above: exit 2, pointing to ferry init" {
	mkdir -p "$BATS_TEST_TMPDIR/empty"
	cd "$BATS_TEST_TMPDIR/empty"
	run "$FERRY" status
	[ "$status" -eq 2 ]
	[[ "$output" == *ferry.yaml* ]]
	[[ "$output" == *"ferry init"* ]]
}

@test "-C a folder that does not exist: exit 2" {
	run "$FERRY" -C "$BATS_TEST_TMPDIR/nowhere" status
	[ "$status" -eq 2 ]
	[[ "$output" == *nowhere* ]]
	run "$FERRY" -C
	[ "$status" -eq 2 ]
}

# ---- --json ----

@test "--json: exactly one JSON document on stdout for every reading command" {
	small
	ferry up 0.1.0
	for cmd in status list history "history --versions" plan verify check version; do
		run --separate-stderr ferry --json $cmd
		[ "$status" -eq 0 ] || { echo "ferry --json $cmd: exit $status"; false; }
		[ "$(jq -s length <<<"$output")" -eq 1 ] || { echo "ferry --json $cmd: $output"; false; }
		jq -e 'type == "object"' <<<"$output" >/dev/null
	done
}

@test "--json up and down: one document on stdout, the progress on stderr" {
	small
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	[ "$(jq -r .status <<<"$output")" = success ]
	[[ "$stderr" == *"0.1.0/001_a.sql"* ]]
	[[ "$output" != *"version 0.2.0 recorded"* ]]
	run --separate-stderr ferry --json down 0.0.0
	[ "$status" -eq 0 ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	[ "$(jq -r .to <<<"$output")" = 0.0.0 ]
	[ -n "$stderr" ]
}

@test "--json on a failure: still one document on stdout, the error on stderr" {
	small
	step 0.1.0 0.2.0 002_bad "INSERT INTO nowhere VALUES (1);"
	run --separate-stderr ferry --json up
	[ "$status" -eq 1 ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	[ "$(jq -r .status <<<"$output")" = rolled_back ]
	[ "$(jq -r '.steps[] | select(.id == "0.2.0/002_bad.sql") | .status' <<<"$output")" = failed ]
	[[ "$(jq -r '.steps[] | select(.id == "0.2.0/002_bad.sql") | .message' <<<"$output")" == *nowhere* ]]
	[[ "$stderr" == *"ferry:"*nowhere* ]]
}

@test "--json verify with findings: one document on stdout, exit 3" {
	small
	ferry up
	echo "-- changed" >>"$ROOT/migrations/v0.0.0_to_v0.1.0/001_a.sql"
	run --separate-stderr ferry --json verify
	[ "$status" -eq 3 ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	[ "$(jq -r .ok <<<"$output")" = false ]
	# errors always name the step concerned; with --json the human text is on stderr
	[[ "$stderr" == *"0.1.0/001_a.sql"* ]]
}

@test "--json: versions are strings and times RFC 3339 UTC" {
	small
	ferry up
	run --separate-stderr ferry --json history
	jq -e '.runs[0] | (.from | type == "string") and (.to | type == "string")
		and (.started_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))' <<<"$output"
	run --separate-stderr ferry --json list
	jq -e '[.steps[].applied_at | test("Z$")] | all' <<<"$output"
}

# ---- -q, -v ----

@test "-q: a successful up prints nothing" {
	small
	run --separate-stderr ferry -q up
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(ferry version)" = 0.2.0 ]
}

@test "-q: errors are still printed" {
	small
	step 0.1.0 0.2.0 002_bad "INSERT INTO nowhere VALUES (1);"
	run --separate-stderr ferry -q up
	[ "$status" -eq 1 ]
	[[ "$stderr" == *nowhere* ]]
	[ -z "$output" ]
}

@test "-v: every event, including each step starting and each commit" {
	small
	run ferry up
	[[ "$output" != *applying* ]]
	ferry down 0.0.0
	run ferry -v up
	[ "$status" -eq 0 ]
	[[ "$output" == *"0.1.0/001_a.sql applying"* ]]
	[[ "$output" == *commit* ]]
	run ferry --verbose down 0.0.0
	[ "$status" -eq 0 ]
	[[ "$output" == *undoing* ]]
}

# ---- colors ----

@test "no escape codes when output is not a terminal" {
	small
	run ferry status
	! has_esc "$output" || false
	run ferry up
	! has_esc "$output" || false
}

@test "a terminal gets colors; --no-color and NO_COLOR turn them off" {
	small
	out=$(on_tty "$FERRY" -C "$ROOT" status)
	has_esc "$out"
	out=$(on_tty "$FERRY" -C "$ROOT" --no-color status)
	[[ "$out" == *"testapp at 0.0.0"* ]]
	! has_esc "$out" || false
	out=$(NO_COLOR=1 on_tty "$FERRY" -C "$ROOT" status)
	[[ "$out" == *"testapp at 0.0.0"* ]]
	! has_esc "$out" || false
	out=$(NO_COLOR=1 on_tty "$FERRY" -C "$ROOT" up)
	[[ "$out" == *"0.1.0/001_a.sql"* ]]
	! has_esc "$out" || false
}

# ---- --version, --help ----

@test "--version prints ferry's version, exit 0" {
	run "$FERRY" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^ferry\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

@test "--help and -h: usage, every command, exit 0, no installation needed" {
	cd "$BATS_TEST_TMPDIR"
	for h in --help -h; do
		run --separate-stderr "$FERRY" $h
		[ "$status" -eq 0 ]
		[[ "$output" == *usage* ]]
		for c in $COMMANDS; do
			[[ "$output" == *" $c "* ]] || { echo "--help does not list $c"; false; }
		done
	done
}

@test "<command> --help for every command: exit 0, usage on stdout" {
	cd "$BATS_TEST_TMPDIR"     # not an installation: help needs none
	for c in $COMMANDS; do
		run --separate-stderr "$FERRY" $c --help
		[ "$status" -eq 0 ] || { echo "ferry $c --help: exit $status"; false; }
		[[ "$output" == *"usage: ferry $c"* ]] || { echo "ferry $c --help: $output"; false; }
		run --separate-stderr "$FERRY" $c -h
		[ "$status" -eq 0 ]
		[[ "$output" == *"usage: ferry $c"* ]]
	done
}

@test "command help shows its options" {
	run "$FERRY" up --help
	for o in --dry-run --force --wait --only --rerun TARGET; do [[ "$output" == *"$o"* ]]; done
	run "$FERRY" init --help
	for o in --version --database --app; do [[ "$output" == *"$o"* ]]; done
	run "$FERRY" version --help
	for o in --set --force; do [[ "$output" == *"$o"* ]]; done
	run "$FERRY" plan --help
	[[ "$output" == *--dot* ]]
	run "$FERRY" history --help
	[[ "$output" == *--versions* ]]
}

# ---- usage errors ----

@test "an unknown command: exit 2" {
	small
	run ferry frobnicate
	[ "$status" -eq 2 ]
	[[ "$output" == *frobnicate* ]]
}

@test "an unknown global option: exit 2" {
	small
	run ferry --frobnicate status
	[ "$status" -eq 2 ]
	[[ "$output" == *--frobnicate* ]]
}

@test "an unknown command option: exit 2, nothing done" {
	small
	for c in status list history plan up down verify check version unlock recover new init; do
		run ferry $c --frobnicate
		[ "$status" -eq 2 ] || { echo "ferry $c --frobnicate: exit $status"; false; }
		[[ "$output" == *--frobnicate* ]]
	done
	[ "$(ferry version)" = 0.0.0 ]
	[ -z "$(recorded_ids)" ]
}

@test "no command, or an extra argument: exit 2" {
	small
	run ferry
	[ "$status" -eq 2 ]
	[[ "$output" == *usage* ]]
	run ferry status extra
	[ "$status" -eq 2 ]
	run ferry up 0.1.0 0.2.0
	[ "$status" -eq 2 ]
	[ "$(ferry version)" = 0.0.0 ]
}

@test "an option missing its value: exit 2" {
	small
	run ferry up --only
	[ "$status" -eq 2 ]
	run ferry version --set
	[ "$status" -eq 2 ]
	[ "$(ferry version)" = 0.0.0 ]
}

@test "global options may also follow the command" {
	small
	run --separate-stderr ferry status --json
	[ "$status" -eq 0 ]
	[ "$(jq -r .current <<<"$output")" = 0.0.0 ]
	run --separate-stderr ferry up -q
	[ "$status" -eq 0 ]
	[ -z "$output$stderr" ]
}
