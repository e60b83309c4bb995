#!/usr/bin/env bats
# ferry pause / ferry resume (lib/pause.c): a run in progress, started by
# another process, waits at its next safe point holding the lock, and goes
# on when resumed; while paused a signal still stops it cleanly, and a kill
# leaves an interrupted run that recover rolls back.

load helpers
load fault_helpers

setup() {
	fault_install 0.1.0
	tx_step # each step commits on its own: a safe point after every one
	slow_step 0.1.0 0.2.0 001_a
	slow_step 0.1.0 0.2.0 002_b
	slow_step 0.2.0 0.3.0 001_c
	slow_step 0.2.0 0.3.0 002_d
}

teardown() {
	fault_teardown
}

_paused() {
	"$FERRY" -C "$ROOT" --json status >"$BATS_TEST_TMPDIR/ps.json" 2>/dev/null
	[ -n "$(jget "$BATS_TEST_TMPDIR/ps.json" '$.paused.since')" ]
}

# Starts `up` in the background, pauses it once it has the lock, waits until it says paused.
up_then_pause() {
	bg_ferry up up
	wait_lock_line 10
	wait_log 10 "$(applying_re 0.2.0/001_a.sql)"
	run "$FERRY" -C "$ROOT" pause
	[ "$status" -eq 0 ] || { echo "# $output" >&2; return 1; }
	[[ "$output" == *"pause requested"* ]]
	wait_until 20 _paused
}

@test "pause mid-run: the process waits, no step starts, the lock is held; resume: it completes" {
	up_then_pause
	kill -0 "$BG_PID"
	[[ "$(jget "$BATS_TEST_TMPDIR/ps.json" '$.paused.by')" == "ferry pause (pid "* ]]
	[ "$(jget "$BATS_TEST_TMPDIR/ps.json" '$.locked_by.pid')" = "$BG_PID" ]
	# Nothing moves while it waits: the record and the registry stay still.
	local n0 r0
	n0=$(record_count)
	r0=$(sqlite3 "$ROOT/.ferry/state.db" 'SELECT count(*), max(seq) FROM registry')
	[ "$n0" -lt 4 ]
	sleep 1.2
	[ "$(record_count)" = "$n0" ]
	[ "$(sqlite3 "$ROOT/.ferry/state.db" 'SELECT count(*), max(seq) FROM registry')" = "$r0" ]
	kill -0 "$BG_PID"
	# The human status says so.
	run "$FERRY" -C "$ROOT" status
	[[ "$output" == *"paused since "*" by ferry pause (pid "* ]]
	# The lock is held: a second run is refused as locked.
	run "$FERRY" -C "$ROOT" up --wait 0
	[ "$status" -eq 4 ]
	run "$FERRY" -C "$ROOT" --json resume
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .resume)" = requested ]
	wait_exit "$BG_PID" 60
	[ "$WAIT_RC" = 0 ] || { cat "$BATS_TEST_TMPDIR/up.out" >&2; return 1; }
	grep -q "paused by ferry pause" "$BATS_TEST_TMPDIR/up.out"
	grep -q "resumed after" "$BATS_TEST_TMPDIR/up.out"
	[ "$(cur_version)" = 0.3.0 ]
	[ "$(record_count)" = 4 ]
	"$FERRY" -C "$ROOT" --json status >"$BATS_TEST_TMPDIR/st.json"
	[ -z "$(jget "$BATS_TEST_TMPDIR/st.json" '$.paused')" ]
	[ -z "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by')" ]
	[ ! -e "$ROOT/.ferry/pause" ]
}

@test "pause and resume with no run in progress: exit 1, saying so; --json prints nothing on stdout" {
	run "$FERRY" -C "$ROOT" pause
	[ "$status" -eq 1 ]
	[[ "$output" == *"no run in progress"* ]]
	run "$FERRY" -C "$ROOT" resume
	[ "$status" -eq 1 ]
	[[ "$output" == *"no run in progress"* ]]
	run fj p pause
	[ "$status" -eq 1 ]
	[ ! -s "$BATS_TEST_TMPDIR/p.json" ]
	[ ! -e "$ROOT/.ferry/pause" ]
	# An up afterwards runs through: no pause waits for it.
	run "$FERRY" -C "$ROOT" up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.3.0 ]
}

@test "pause --json: a document; resume of a run not paused: exit 1" {
	bg_ferry up up
	wait_lock_line 10
	run "$FERRY" -C "$ROOT" resume
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not paused"* ]]
	run "$FERRY" -C "$ROOT" --json pause
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .pause)" = requested ]
	wait_until 20 _paused
	"$FERRY" -C "$ROOT" resume
	wait_exit "$BG_PID" 60
	[ "$WAIT_RC" = 0 ]
	[ "$(cur_version)" = 0.3.0 ]
}

@test "SIGTERM while paused: a clean stop, undone, exit 130" {
	snapshot
	up_then_pause
	kill -TERM "$BG_PID"
	wait_exit "$BG_PID" 30
	[ "$WAIT_RC" = 130 ] || { cat "$BATS_TEST_TMPDIR/up.out" >&2; return 1; }
	assert_same_data
	[ "$(record_count)" = 0 ]
	"$FERRY" -C "$ROOT" --json status >"$BATS_TEST_TMPDIR/st.json"
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 0 ]
	[ -z "$(jget "$BATS_TEST_TMPDIR/st.json" '$.paused')" ]
	[ ! -e "$ROOT/.ferry/pause" ]
}

@test "a paused run killed -9: status says interrupted (not paused), recover rolls it back" {
	snapshot
	up_then_pause
	kill -9 "$BG_PID"
	wait_exit "$BG_PID" 10
	"$FERRY" -C "$ROOT" --json status >"$BATS_TEST_TMPDIR/st.json"
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 1 ]
	[ -z "$(jget "$BATS_TEST_TMPDIR/st.json" '$.paused')" ]
	run "$FERRY" -C "$ROOT" recover
	[ "$status" -eq 0 ]
	assert_same_data
	[ "$(record_count)" = 0 ]
	# The request the dead run left is not the next run's: up runs through.
	run "$FERRY" -C "$ROOT" up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.3.0 ]
}

@test "pause during a down: exit 1, only up pauses; the down runs through" {
	"$FERRY" -C "$ROOT" up >/dev/null 2>&1
	[ "$(cur_version)" = 0.3.0 ]
	# A down whose undo takes a while.
	step 0.2.0 0.3.0 003_slowdown "CREATE TABLE z (x);" \
		"DROP TABLE z; CREATE TABLE slowz AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $SLOW_N) SELECT count(*) AS n FROM c; DROP TABLE slowz;"
	"$FERRY" -C "$ROOT" up --allow-out-of-order >/dev/null 2>&1
	bg_ferry down down 0.2.0
	wait_lock_line 10
	wait_until 10 sh -c "sqlite3 '$ROOT/.ferry/state.db' \"SELECT 1 FROM runs WHERE kind = 'down' AND status = 'running'\" | grep -q 1"
	run "$FERRY" -C "$ROOT" pause
	[ "$status" -eq 1 ]
	[[ "$output" == *"is a 'down', which does not pause"* ]]
	[ ! -e "$ROOT/.ferry/pause" ]
	wait_exit "$BG_PID" 60
	[ "$WAIT_RC" = 0 ]
	[ "$(cur_version)" = 0.2.0 ]
}
