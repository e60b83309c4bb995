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

@test "truths: a step added to a version already passed is out of order: list, status, check, verify, up" {
	step 0.0.0 0.3.0 002_late "CREATE TABLE late (x);" "DROP TABLE late;"
	BEFORE=$(dump)
	[ "$(ferry --json list | jq -r '.steps[] | select(.id == "0.3.0/002_late.sql") | .state')" = out_of_order ]
	[ "$(ferry --json status | jq -r '.out_of_order | join(",")')" = "0.3.0/002_late.sql" ]
	run ferry status
	[[ "$output" == *"out of order"*"0.3.0/002_late.sql"* ]]
	run ferry check
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.3.0/002_late.sql"* ]]
	run ferry verify
	[ "$status" -eq 3 ]
	[[ "$output" == *"out_of_order"*"0.3.0/002_late.sql"* ]] || [[ "$output" == *"0.3.0/002_late.sql"*"already passed"* ]]
	# up refuses, naming the step and both ways out, and changes nothing.
	run ferry up
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.3.0/002_late.sql"*"--allow-out-of-order"*"new version"* ]]
	[ "$(dump)" = "$BEFORE" ]
	[ "$(ferry version)" = 0.3.0 ]
	# Even with nothing else pending: a start-up does not report "nothing to do".
	run ferry up 0.3.0
	[ "$status" -eq 3 ]
	# --allow-out-of-order applies it first, then the rest, as planned.
	run --separate-stderr ferry --json plan --allow-out-of-order --no-hooks --skip-backup
	PLAN=$(echo "$output" | jq -r '[.actions[] | .kind + ":" + (.id // .version // "")] | join(",")')
	[ "$PLAN" = "step:0.3.0/002_late.sql,step:0.4.0/001_b.sql,commit:,version:0.4.0" ]
	run --separate-stderr ferry --json up --allow-out-of-order --no-hooks --skip-backup
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '[.actions[] | .kind + ":" + (.id // .version // "")] | join(",")')" = "$PLAN" ]
	[ "$(main_tables)" = "a b late" ]
	[ "$(ferry --json list | jq -r '.steps[] | select(.id == "0.3.0/002_late.sql") | .state')" = applied ]
	run ferry verify
	[ "$status" -eq 0 ]
}

@test "truths: steps below a baseline stay bypassed, and list names the baseline; shortcuts too" {
	rm -rf "$ROOT/.ferry" "$ROOT/data/app.db"
	ferry version --set 0.3.0
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "b" ]
	[ "$(ferry --json list | jq -r '.steps[] | select(.id == "0.3.0/001_a.sql") | .state + " " + .baseline')" = "bypassed 0.3.0" ]
	run ferry list
	[[ "$output" == *"bypassed"*"0.3.0/001_a.sql"*"(below the baseline 0.3.0)"* ]]
	run ferry verify
	[ "$status" -eq 0 ]
	# A transition a shortcut went around keeps its steps bypassed, not out of order.
	step 0.4.0 0.5.0 001_c "CREATE TABLE c (x);" "DROP TABLE c;"
	step 0.4.x 0.6.0 001_d "CREATE TABLE d (x);" "DROP TABLE d;"
	step 0.5.0 0.6.0 001_e "CREATE TABLE e (x);" "DROP TABLE e;"
	printf 'estimated_duration_seconds: 1\n' >"$ROOT/migrations/v0.4.x_to_v0.6.0/transition.yaml"
	printf 'estimated_duration_seconds: 50\n' >"$ROOT/migrations/v0.4.0_to_v0.5.0/transition.yaml"
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(ferry --json list | jq -r '.steps[] | select(.id == "0.5.0/001_c.sql") | .state')" = bypassed ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to do"* ]]
}

@test "truths: no secret reaches the terminal or the log: .env values and secret keys redacted" {
	printf 'SECRET="x y"\nPLAIN=visible-but-env\n' >"$ROOT/.env"
	printf '{"db": {"password": "hunter2", "host": "dbhost"}}\n' >"$ROOT/app.json"
	d="$ROOT/migrations/v0.3.0_to_v0.4.0"
	printf 'ops:\n  - env: {file: .env, key: SECRET, value: "n3w s3cret"}\n  - set: {file: app.json, path: db.password, value: "p4ss-w0rd"}\n  - set: {file: app.json, path: db.host, value: "dbhost2"}\n' >"$d/002_cfg.yaml"
	run ferry up --dry-run
	[ "$status" -eq 0 ]
	for s in 'x y' 'n3w s3cret' hunter2 p4ss-w0rd visible-but-env; do
		[[ "$output" != *"$s"* ]] || { echo "# '$s' shown by up --dry-run"; return 1; }
	done
	[[ "$output" == *"SECRET=<redacted>"* ]]
	[[ "$output" == *'"password": <redacted>'* ]]
	[[ "$output" == *"dbhost2"* ]] # what is not secret is still shown
	ferry up >/dev/null 2>&1
	[ "$(jq -r .db.password "$ROOT/app.json")" = p4ss-w0rd ]
	run ferry down --dry-run 0.3.0
	[ "$status" -eq 0 ]
	for s in 'x y' 'n3w s3cret' hunter2 p4ss-w0rd visible-but-env; do
		[[ "$output" != *"$s"* ]] || { echo "# '$s' shown by down --dry-run"; return 1; }
	done
	[[ "$output" == *"puts back SECRET"* ]]
	run ferry down 0.3.0
	[ "$status" -eq 0 ]
	[ "$(jq -r .db.password "$ROOT/app.json")" = hunter2 ]
	[ "$(head -1 "$ROOT/.env")" = 'SECRET="x y"' ]
	for s in 'x y' 'n3w s3cret' hunter2 p4ss-w0rd; do
		! grep -qF "$s" "$ROOT/.ferry/log/ferry.log" || { echo "# '$s' in the log"; return 1; }
	done
}

@test "truths: ferry new below the installed version warns that the step will be out of order" {
	run ferry new 0.3.0 late
	[ "$status" -eq 0 ]
	[[ "$output" == *"out of order"* ]]
	run ferry new 0.5.0 later
	[ "$status" -eq 0 ]
	[[ "$output" != *"out of order"* ]]
}

@test "truths: recover keeps the interrupted run's real target in history" {
	FERRY_CRASH_AT=action:2 ferry up --skip-backup --no-hooks >/dev/null 2>&1 || true
	[ "$(ferry --json status | jq -r .interrupted)" = true ]
	run ferry recover
	[ "$status" -eq 0 ]
	[ "$(ferry --json history | jq -r '.runs[0] | .from + " " + .to + " " + .status')" = "0.3.0 0.4.0 rolled_back" ]
	[ "$(ferry version)" = 0.3.0 ]
	[ "$(main_tables)" = "a" ]
}
