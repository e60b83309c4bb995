#!/usr/bin/env bats
# Fault tests: the run lock (SPEC 6.1, `unlock`, exit 4). One run at a time;
# the holder is named; --wait waits; the no-op start-up path takes no lock;
# a lock dies with its holder.

load helpers
load fault_helpers

setup() {
	fault_install 0.1.0
	step 0.1.0 0.2.0 001_nick "ALTER TABLE users ADD COLUMN nick TEXT;" "ALTER TABLE users DROP COLUMN nick;"
	slow_step 0.1.0 0.2.0 002_slow
	step 0.1.0 0.2.0 003_tags "CREATE TABLE tags (x);" "DROP TABLE tags;"
}

teardown() {
	fault_teardown
}

# A first `up` holding the lock, busy with its slow step.
start_holder() {
	bg_ferry first up
	wait_lock_line 10
	wait_log 10 "$(applying_re 0.2.0/002_slow.sql)"
	HOLDER=$BG_PID
}

@test "a second up while one runs: exit 4 naming the holder's pid; the first finishes" {
	start_holder
	run ferry up
	[ "$status" -eq 4 ]
	[[ "$output" == *"pid $HOLDER"* ]]
	[[ "$output" == *--wait* ]]
	wait_exit "$HOLDER" 30
	[ "$WAIT_RC" = 0 ]
	[ "$(cur_version)" = 0.2.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*), count(DISTINCT id) FROM ferry_steps')" = "3|3" ]
}

@test "down and recover while one runs: exit 4 naming the holder's pid" {
	start_holder
	run ferry down 0.1.0
	[ "$status" -eq 4 ]
	[[ "$output" == *"pid $HOLDER"* ]]
	run ferry recover
	[ "$status" -eq 4 ]
	[[ "$output" == *"pid $HOLDER"* ]]
	wait_exit "$HOLDER" 30
	[ "$WAIT_RC" = 0 ]
}

@test "up --wait 30 waits for the running up, then finds nothing to do (exit 0)" {
	start_holder
	run fj second up --wait 30
	[ "$status" -eq 0 ]
	# It ran only once the first run had released the lock with all its work
	# committed: it found nothing to do. (The holder may still be exiting: the
	# lock is released before its process ends, so kill -0 would race.)
	[ "$(jget "$BATS_TEST_TMPDIR/second.json" '$.status')" = noop ]
	wait_exit "$HOLDER" 30
	[ "$WAIT_RC" = 0 ]
	[ "$(cur_version)" = 0.2.0 ]
	# Every step ran once, by the first run.
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*), count(DISTINCT id) FROM ferry_steps')" = "3|3" ]
}

@test "up --wait 1 against a lock held longer: exit 4 after about a second" {
	hold_lock 20
	local t0=$SECONDS
	run ferry up --wait 1
	[ "$status" -eq 4 ]
	[ $((SECONDS - t0)) -le 5 ]
	[[ "$output" == *lock* ]]
	[ "$(cur_version)" = 0.1.0 ]
}

@test "status during a run: exit 0, locked_by names the running pid" {
	start_holder
	run fj st status
	[ "$status" -eq 0 ]
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by.pid')" = "$HOLDER" ]
	[ -n "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by.host')" ]
	[[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by.since')" == 20[0-9][0-9]-* ]]
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 0 ]
	run ferry status
	[ "$status" -eq 0 ]
	[[ "$output" == *"$HOLDER"* ]]
	wait_exit "$HOLDER" 30
	[ "$WAIT_RC" = 0 ]
	run fj st status
	[ -z "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by')" ]
}

@test "fast path: nothing pending, up exits 0 at once while another process holds the lock" {
	run ferry up
	[ "$status" -eq 0 ]
	hold_lock 20
	local t0=$SECONDS
	run timeout 10 "$FERRY" -C "$ROOT" --json up
	[ "$status" -eq 0 ]
	[ $((SECONDS - t0)) -le 3 ]
	[[ "$output" == *'"noop"'* ]]
	# The lock is still the other process's.
	run flock -n "$ROOT/.ferry/lock" true
	[ "$status" -ne 0 ]
}

@test "pending work while another process holds the lock: up exits 4 and changes nothing" {
	snapshot
	echo "424242 otherhost 2026-01-01T00:00:00Z" >"$ROOT/.ferry/lock"
	hold_lock 20
	run ferry up
	[ "$status" -eq 4 ]
	[[ "$output" == *"pid 424242"* ]]
	[[ "$output" == *otherhost* ]]
	assert_unchanged
}

@test "unlock with a live holder: exit 4 naming it; unlock --force: exit 0" {
	echo "424242 otherhost 2026-01-01T00:00:00Z" >"$ROOT/.ferry/lock"
	hold_lock 20
	run ferry unlock
	[ "$status" -eq 4 ]
	[[ "$output" == *424242* ]]
	[[ "$output" == *--force* ]]
	run ferry unlock --force
	[ "$status" -eq 0 ]
	# The lock is cleared: up runs.
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.2.0 ]
}

@test "unlock while an up runs: exit 4 naming the running pid" {
	start_holder
	run ferry unlock
	[ "$status" -eq 4 ]
	[[ "$output" == *"$HOLDER"* ]]
	wait_exit "$HOLDER" 30
	[ "$WAIT_RC" = 0 ]
}

@test "a holder killed with -9 leaves no lock: status shows none, the next up runs" {
	echo "424242 otherhost 2026-01-01T00:00:00Z" >"$ROOT/.ferry/lock"
	hold_lock 20
	run fj st status
	[ -n "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by')" ]
	kill -9 "$HOLD_PID"
	wait_exit "$HOLD_PID" 5
	run fj st status
	[ "$status" -eq 0 ]
	[ -z "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by')" ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.2.0 ]
}

@test "a ferry run killed with -9 leaves no lock: status shows none, unlock needs no --force" {
	start_holder
	kill -9 "$HOLDER"
	wait_exit "$HOLDER" 5
	[ "$WAIT_RC" = 137 ]
	run fj st status
	[ -z "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by')" ]
	run ferry unlock
	[ "$status" -eq 0 ]
	# What is left is an interrupted run, not a lock.
	run ferry up --no-recover
	[ "$status" -eq 5 ]
	[[ "$output" == *recover* ]]
	run ferry recover
	[ "$status" -eq 0 ]
	run ferry up
	[ "$status" -eq 0 ]
}

@test "check while a run holds the lock reports it (exit 3) and changes nothing" {
	start_holder
	run ferry check
	[ "$status" -eq 3 ]
	[[ "$output" == *lock* ]]
	[[ "$output" == *"$HOLDER"* ]]
	wait_exit "$HOLDER" 30
	[ "$WAIT_RC" = 0 ]
}

_has_lock_open() {
	ls -l "/proc/$1/fd" 2>/dev/null | grep -q '\.ferry/lock'
}

@test "SIGINT while up --wait waits for the lock: exit 130 at once, no run started, nothing changed" {
	snapshot
	hold_lock 6
	bg_ferry waiter up --wait 30
	local waiter=$BG_PID
	wait_until 10 _has_lock_open "$waiter"
	sleep 0.2
	local t0=$SECONDS
	kill -INT "$waiter"
	wait_exit "$waiter" 12
	[ "$WAIT_RC" = 130 ]
	[ $((SECONDS - t0)) -le 3 ]
	assert_unchanged
	[ "$(record_count)" = 0 ]
}

# The locked pass of `up` uses the catalog its first pass read only when the
# lock came at once (lib/run.c, lock_for_up); after a wait for the lock it
# looks at the files again, so a step edited meanwhile runs as it is now and
# is recorded so: no drift on the next start.
@test "up --wait: a step edited while it waited for the lock runs as edited, recorded with the new checksum" {
	hold_lock 30
	bg_ferry waiter up --wait 30
	local waiter=$BG_PID
	wait_until 10 _has_lock_open "$waiter"
	sleep 0.3
	step 0.1.0 0.2.0 001_nick "ALTER TABLE users ADD COLUMN nick2 TEXT;" "ALTER TABLE users DROP COLUMN nick2;"
	kill -9 "$HOLD_PID"
	wait_exit "$HOLD_PID" 5
	wait_exit "$waiter" 60
	[ "$WAIT_RC" = 0 ]
	[ "$(cur_version)" = 0.2.0 ]
	# The edited statement ran, not the one read before the wait.
	sqlite3 "$ROOT/data/app.db" "SELECT nick2 FROM users LIMIT 1" >/dev/null
	! sqlite3 "$ROOT/data/app.db" "SELECT nick FROM users LIMIT 1" 2>/dev/null
	# Its record holds the file's checksum as it is now: the next start sees no drift.
	local want
	want=$(sha256sum "$ROOT/migrations/v0.1.0_to_v0.2.0/001_nick.sql" | cut -d' ' -f1)
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT checksum FROM ferry_steps WHERE id = '0.2.0/001_nick.sql'")" = "sha256:$want" ]
	run ferry verify
	[ "$status" -eq 0 ]
}
