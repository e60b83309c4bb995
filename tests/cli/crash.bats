#!/usr/bin/env bats
# crash.bats - crash safety (issue 10): a child dies with ferry, a half-done
# ops step or script is undone from the crash journal, ferry's temporary files
# are swept, the next up recovers by itself (--no-recover refuses), and a short
# run of the crash campaign (tests/crash/campaign.sh; `make crash-test` is the
# long one) ends with no violation.

load helpers

setup() {
	make_install 0.1.0
	mkdir -p "$ROOT/config"
	echo "version_file: config/version.json" >>"$ROOT/ferry.yaml"
	"$FERRY" -C "$ROOT" version --set 0.1.0 >/dev/null
	printf '{\n  "name": "app"\n}\n' >"$ROOT/config/app.json"
	cp "$ROOT/config/app.json" "$BATS_TEST_TMPDIR/app.json.orig"
	step 0.1.0 0.2.0 001_t "CREATE TABLE t (a);" "DROP TABLE t;"
}

slow_script() {
	local dir="$ROOT/migrations/v0.1.0_to_v0.2.0"
	cat >"$dir/002_slow.sh" <<'SH'
#!/bin/sh
case "$1" in
forward) sleep 1.5; echo done >data/script.out ;;
backward) rm -f data/script.out; echo undone >data/backward.ran ;;
esac
SH
	chmod +x "$dir/002_slow.sh"
}

two_ops() {
	cat >"$ROOT/migrations/v0.1.0_to_v0.2.0/002_cfg.yaml" <<'YAML'
description: two edits
ops:
  - set: {file: config/app.json, path: one, value: "1"}
  - set: {file: config/app.json, path: two, value: "2"}
YAML
}

@test "kill -9 during a script: its process group dies with ferry; recover runs its backward" {
	slow_script
	setsid "$FERRY" -C "$ROOT" up >/dev/null 2>&1 &
	local pid=$!
	wait_until 5 pgrep -f '002_slow.sh forward'
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	# the script would have written its file 1.5 s in: its group is gone
	sleep 2
	[ ! -e "$ROOT/data/script.out" ]
	[ -z "$(pgrep -f '002_slow.sh forward')" ]
	run ferry status
	[[ "$output" == *interrupted* ]]
	run ferry recover
	[ "$status" -eq 0 ]
	[ -e "$ROOT/data/backward.ran" ]
	[ "$(ferry version)" = 0.1.0 ]
	run ferry verify
	[ "$status" -eq 0 ]
}

@test "a crash between two ops: recover puts the file back exactly" {
	two_ops
	run env FERRY_CRASH_AT=op:1 "$FERRY" -C "$ROOT" up
	[ "$status" -ne 0 ]
	grep -q '"one"' "$ROOT/config/app.json"
	run ferry recover
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/app.json.orig" "$ROOT/config/app.json"
	run ferry up
	[ "$status" -eq 0 ]
	grep -q '"two"' "$ROOT/config/app.json"
	run ferry down 0.1.0
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/app.json.orig" "$ROOT/config/app.json"
}

@test "the next up rolls an interrupted run back by itself and goes on; --no-recover refuses, exit 5" {
	two_ops
	run env FERRY_CRASH_AT=op:1 "$FERRY" -C "$ROOT" up
	run ferry up --no-recover
	[ "$status" -eq 5 ]
	[[ "$output" == *"ferry recover"* ]]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"rolling it back first"* ]]
	[ "$(ferry version)" = 0.2.0 ]
	[ "$(grep -c '"one"' "$ROOT/config/app.json")" = 1 ]
	grep -q '"run_id"\|rolled back' "$ROOT/.ferry/log/"* || true
	grep -q 'rolling it back first' "$ROOT/.ferry/log/"*
}

@test "ferry's temporary files are named so that recovery removes them" {
	two_ops
	run env FERRY_CRASH_AT=op:1 "$FERRY" -C "$ROOT" up
	: >"$ROOT/config/.ferry-tmp.app.json.4242"
	: >"$ROOT/config/.ferry-tmp.version.json.4243"
	: >"$ROOT/config/keep.ferry-tmp"
	run ferry recover
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/config/.ferry-tmp.app.json.4242" ]
	[ ! -e "$ROOT/config/.ferry-tmp.version.json.4243" ]
	[ -e "$ROOT/config/keep.ferry-tmp" ]
}

@test "the version file follows the record: a crash between them is repaired by recovery" {
	run ferry up
	[ "$status" -eq 0 ]
	# as a crash after the record and before the file would leave it
	printf '{\n  "version": "0.1.0"\n}\n' >"$ROOT/config/version.json"
	run ferry recover
	[ "$status" -eq 0 ]
	grep -q '"0.2.0"' "$ROOT/config/version.json"
	run ferry verify
	[ "$status" -eq 0 ]
}

@test "the crash campaign, short: every tenth action boundary, a crash between two ops, 12 delays, no violation" {
	run env ROWS=200 bash "$BATS_TEST_DIRNAME/../crash/campaign.sh" "$FERRY" 2 40 10
	echo "$output" | grep -v Killed
	[ "$status" -eq 0 ]
	[[ "$output" == *"violations: 0;"* ]]
}

# one_op OP: an ops step of the one op OP (YAML flow) after the SQL step.
one_op() {
	printf 'description: one op\nops:\n  - %s\n' "$1" \
		>"$ROOT/migrations/v0.1.0_to_v0.2.0/002_op.yaml"
}

# crash_then_recover EVENT: up killed at the first EVENT, then recover; both as asked.
crash_then_recover() {
	run env FERRY_CRASH_AT="$1:1" "$FERRY" -C "$ROOT" up
	[ "$status" -ne 0 ]
	run ferry status
	[[ "$output" == *interrupted* ]]
	run ferry recover
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.1.0 ]
	run ferry verify
	[ "$status" -eq 0 ]
}

@test "mkdir is write-ahead: a kill after the folders are made and before the record, recover removes them" {
	one_op 'mkdir: {path: data/new/sub, mode: "0700"}'
	run env FERRY_CRASH_AT=op-acted:1 "$FERRY" -C "$ROOT" up
	[ "$status" -ne 0 ]
	[ -d "$ROOT/data/new/sub" ]
	run ferry recover
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/data/new" ]
	[ "$(ferry version)" = 0.1.0 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ -d "$ROOT/data/new/sub" ]
}

@test "copy is write-ahead: a kill after the copy and before the record, recover puts back what it replaced" {
	printf '{"local": true}\n' >"$ROOT/config/local.json"
	cp "$ROOT/config/local.json" "$BATS_TEST_TMPDIR/local.orig"
	one_op 'copy: {from: config/app.json, to: config/local.json}'
	run env FERRY_CRASH_AT=op-acted:1 "$FERRY" -C "$ROOT" up
	[ "$status" -ne 0 ]
	cmp "$ROOT/config/app.json" "$ROOT/config/local.json"
	run ferry recover
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.1.0 ]
	cmp "$BATS_TEST_TMPDIR/local.orig" "$ROOT/config/local.json"
	run ferry verify
	[ "$status" -eq 0 ]
}

@test "copy is write-ahead: a kill after the journal and before the move aside leaves the target as it was" {
	printf '{"local": true}\n' >"$ROOT/config/local.json"
	cp "$ROOT/config/local.json" "$BATS_TEST_TMPDIR/local.orig"
	one_op 'copy: {from: config/app.json, to: config/local.json}'
	crash_then_recover op-ahead
	cmp "$BATS_TEST_TMPDIR/local.orig" "$ROOT/config/local.json"
	run ferry up
	[ "$status" -eq 0 ]
	cmp "$ROOT/config/app.json" "$ROOT/config/local.json"
	run ferry down 0.1.0
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/local.orig" "$ROOT/config/local.json"
}

@test "copy is write-ahead: a kill after a copy into new folders, recover removes the copy and the folders" {
	one_op 'copy: {from: config/app.json, to: data/c/d/app.json}'
	crash_then_recover op-acted
	[ ! -e "$ROOT/data/c" ]
}

@test "chmod is write-ahead: a kill after the modes change and before the record, recover gives them back" {
	mkdir -p "$ROOT/data/tree/in"
	: >"$ROOT/data/tree/in/f"
	chmod 0644 "$ROOT/data/tree/in/f"
	chmod 0755 "$ROOT/data/tree" "$ROOT/data/tree/in"
	one_op 'chmod: {path: data/tree, mode: "0750", recursive: true}'
	run env FERRY_CRASH_AT=op-acted:1 "$FERRY" -C "$ROOT" up
	[ "$status" -ne 0 ]
	[ "$(stat -c %a "$ROOT/data/tree/in/f")" = 750 ]
	run ferry recover
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$ROOT/data/tree/in/f")" = 644 ]
	[ "$(stat -c %a "$ROOT/data/tree/in")" = 755 ]
	[ "$(stat -c %a "$ROOT/data/tree")" = 755 ]
}

@test "a kill after the run's last version record: the next up, with nothing to do, closes the run as recover does" {
	local n
	n=$(ferry plan | grep -cE '^ *[0-9]+\. ')
	[ "$n" -ge 3 ]
	run env FERRY_CRASH_AT="action:$n" "$FERRY" -C "$ROOT" up
	[ "$status" -ne 0 ]
	# the last action is done: the installation is at the target, its run still open
	[ "$(ferry version)" = 0.2.0 ]
	run ferry status
	[[ "$output" == *interrupted* ]]
	run ferry up --no-recover
	[ "$status" -eq 5 ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"rolling it back first"* ]]
	[[ "$output" == *"going on with 'up'"* ]]
	[ "$(ferry version)" = 0.2.0 ]
	grep -q '"0.2.0"' "$ROOT/config/version.json"
	run ferry status
	[[ "$output" != *interrupted* ]]
	run ferry verify
	[ "$status" -eq 0 ]
	grep -q 'rolling it back first' "$ROOT/.ferry/log/"*
	# and the next up is a plain no-op again
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" != *"rolling"* ]]
}

@test "the crash campaign on PostgreSQL, short: step mode, every tenth boundary, a crash between two ops, a delay, no violation" {
	command -v psql >/dev/null && [ -x "${FERRY_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ]
	run env DB=postgres ROWS=100 MODES=step HOWS=up \
		bash "$BATS_TEST_DIRNAME/../crash/campaign.sh" "$FERRY" 1 30 10
	echo "$output" | grep -v Killed
	[ "$status" -eq 0 ]
	[[ "$output" =~ postgres:\ cases:\ [1-9][0-9]*,\ violations:\ 0\; ]]
}
