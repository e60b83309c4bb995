#!/usr/bin/env bats
# Fault tests: SIGINT/SIGTERM stop a run cleanly and undo it (exit 130,
# SPEC 6.10); kill -9 leaves an interrupted run that `up` refuses and
# `recover` rolls back or `recover --resume` keeps.

load helpers
load fault_helpers

setup() {
	fault_install 0.1.0
}

teardown() {
	fault_teardown
}

# 0.1.0 -> 0.2.0: a fast step, then a slow one; 0.2.0 -> 0.3.0: one fast step.
slow_second() {
	step 0.1.0 0.2.0 001_nick "ALTER TABLE users ADD COLUMN nick TEXT;
UPDATE users SET nick = name || '!';" "ALTER TABLE users DROP COLUMN nick;"
	slow_step 0.1.0 0.2.0 002_slow
	step 0.2.0 0.3.0 001_tags "CREATE TABLE tags (x); INSERT INTO tags VALUES (1);" "DROP TABLE tags;"
}

# 0.1.0 -> 0.2.0: two fast steps; 0.2.0 -> 0.3.0: a slow step, then a fast one.
slow_third() {
	step 0.1.0 0.2.0 001_nick "ALTER TABLE users ADD COLUMN nick TEXT;
UPDATE users SET nick = name || '!';" "ALTER TABLE users DROP COLUMN nick;"
	step 0.1.0 0.2.0 002_index "CREATE INDEX users_name ON users(name);" "DROP INDEX users_name;"
	slow_step 0.2.0 0.3.0 001_slow
	step 0.2.0 0.3.0 002_tags "CREATE TABLE tags (x); INSERT INTO tags VALUES (1);" "DROP TABLE tags;"
}

# signal_during SIG STEP_ID: starts `up`, waits until it holds the lock and
# applies STEP_ID, sends SIG, waits (bounded) for it to end.
signal_during() {
	bg_ferry up up
	wait_lock_line 10
	wait_log 10 "$(applying_re "$2")"
	MID_FILE_VERSION=$(file_version)
	kill -s "$1" "$BG_PID"
	wait_exit "$BG_PID" 30
	output=$(cat "$BATS_TEST_TMPDIR/up.out")
}

assert_clean_interrupt() {
	[ "$WAIT_RC" = 130 ] || { echo "# exit $WAIT_RC: $output" >&2; return 1; }
	[[ "$output" == *interrupt* ]]
	assert_same_data
	"$FERRY" -C "$ROOT" --json status >"$BATS_TEST_TMPDIR/st.json" 2>/dev/null
	# A clean stop is not an interrupted run: nothing for recover to do.
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 0 ]
	[ -z "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by')" ]
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.last_run.status')" != success ]
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.last_run.status')" != running ]
	# Nothing stays applied in the record.
	[ "$(record_count)" = "$1" ]
}

@test "SIGINT during a slow step (grouped): clean stop, undone, exit 130, database identical" {
	slow_second
	snapshot
	signal_during INT 0.2.0/002_slow.sql
	assert_clean_interrupt 0
	[ "$(cur_version)" = 0.1.0 ]
	[ "$(file_version)" = 0.1.0 ]
	# The step in progress was finished or undone, the next one never started.
	run grep -cE "$(applying_re 0.3.0/001_tags.sql)" "$ROOT/.ferry/log/ferry.log"
	[ "$output" = 0 ]
}

@test "SIGTERM during a slow step (grouped): clean stop, undone, exit 130, database identical" {
	slow_second
	snapshot
	signal_during TERM 0.2.0/002_slow.sql
	assert_clean_interrupt 0
	[ "$(cur_version)" = 0.1.0 ]
}

@test "SIGINT with transaction: step: committed steps undone by their downs, exit 130" {
	tx_step
	slow_third
	snapshot
	signal_during INT 0.3.0/001_slow.sql
	assert_clean_interrupt 0
	[ "$(cur_version)" = 0.1.0 ]
	[ "$(file_version)" = 0.1.0 ]
	"$FERRY" -C "$ROOT" --json list >"$BATS_TEST_TMPDIR/list.json" 2>/dev/null
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.2.0/001_nick.sql)" = rolled_back ]
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.2.0/002_index.sql)" = rolled_back ]
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.3.0/002_tags.sql)" = pending ]
}

@test "SIGTERM with transaction: step: the version recorded mid-run (0.2.0) goes back to 0.1.0, exit 130" {
	tx_step
	slow_third
	snapshot
	signal_during TERM 0.3.0/001_slow.sql
	[ "$MID_FILE_VERSION" = 0.2.0 ]
	assert_clean_interrupt 0
	[ "$(cur_version)" = 0.1.0 ]
	[ "$(file_version)" = 0.1.0 ]
}

@test "SIGINT undoes only the interrupted run: an earlier run's steps stay applied" {
	tx_step
	step 0.1.0 0.2.0 001_nick "ALTER TABLE users ADD COLUMN nick TEXT;" "ALTER TABLE users DROP COLUMN nick;"
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.2.0 ]
	step 0.2.0 0.3.0 001_tags "CREATE TABLE tags (x);" "DROP TABLE tags;"
	slow_step 0.2.0 0.3.0 002_slow
	step 0.2.0 0.3.0 003_more "CREATE TABLE more (x);" "DROP TABLE more;"
	snapshot
	signal_during INT 0.3.0/002_slow.sql
	assert_clean_interrupt 1
	[ "$(cur_version)" = 0.2.0 ]
	[ "$(file_version)" = 0.2.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT id FROM ferry_steps')" = 0.2.0/001_nick.sql ]
}

@test "after a clean SIGINT, up runs again and finishes" {
	slow_second
	signal_during INT 0.2.0/002_slow.sql
	[ "$WAIT_RC" = 130 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.3.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*), count(DISTINCT id) FROM ferry_steps')" = "3|3" ]
}

# crash: kill -9 while the slow step of the second transition runs
# (transaction: step, so the first transition is committed and recorded).
crash_mid_run() {
	tx_step
	slow_third
	snapshot
	bg_ferry up up
	wait_lock_line 10
	wait_log 10 "$(applying_re 0.3.0/001_slow.sql)"
	kill -9 "$BG_PID"
	wait_exit "$BG_PID" 10
	[ "$WAIT_RC" = 137 ]
}

@test "kill -9 mid-run: status says interrupted, the lock died with its holder" {
	crash_mid_run
	run fj st status
	[ "$status" -eq 0 ]
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 1 ]
	[ -z "$(jget "$BATS_TEST_TMPDIR/st.json" '$.locked_by')" ]
	run ferry status
	[ "$status" -eq 0 ]
	[[ "$output" == *recover* ]]
}

@test "kill -9 mid-run: up --no-recover refuses with exit 5 and points to ferry recover; nothing changes" {
	crash_mid_run
	dump >"$BATS_TEST_TMPDIR/crashed.sql"
	run ferry up --no-recover
	[ "$status" -eq 5 ]
	[[ "$output" == *"ferry recover"* ]]
	[[ "$output" == *interrupted* ]]
	cmp "$BATS_TEST_TMPDIR/crashed.sql" <(dump)
	run ferry down 0.1.0
	[ "$status" -eq 5 ]
	[[ "$output" == *"ferry recover"* ]]
}

@test "kill -9 mid-run: the next up rolls the interrupted run back by itself, says so, and goes on" {
	crash_mid_run
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"rolling it back first"* ]]
	[ "$(cur_version)" = 0.3.0 ]
	[ "$(file_version)" = 0.3.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*), count(DISTINCT id) FROM ferry_steps')" = "4|4" ]
	run fj st status
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 0 ]
}

@test "kill -9 mid-run: recover rolls the committed steps back; database identical, version as before, exit 0" {
	crash_mid_run
	# 0.2.0 was whole and committed before the crash.
	[ "$(cur_version)" = 0.2.0 ]
	[ "$(file_version)" = 0.2.0 ]
	run ferry recover
	[ "$status" -eq 0 ]
	assert_same_data
	[ "$(cur_version)" = 0.1.0 ]
	[ "$(file_version)" = 0.1.0 ]
	[ "$(record_count)" = 0 ]
	run fj st status
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 0 ]
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.pending_steps')" = 4 ]
	# A second recover has nothing to do; up then runs the whole plan.
	run ferry recover
	[ "$status" -eq 0 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.3.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*), count(DISTINCT id) FROM ferry_steps')" = "4|4" ]
}

@test "kill -9 mid-run: recover --resume keeps the committed steps, up finishes with every step applied once" {
	crash_mid_run
	run ferry recover --resume
	[ "$status" -eq 0 ]
	run fj st status
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 0 ]
	# The committed steps stay: 0.2.0 is whole.
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'nick'")" = 1 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.3.0 ]
	[ "$(file_version)" = 0.3.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*), count(DISTINCT id) FROM ferry_steps')" = "4|4" ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT n FROM slow_001_slow')" = "$SLOW_N" ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*) FROM tags')" = 1 ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT group_concat(nick) FROM users")" = 'ada!,bob!,cy!' ]
	"$FERRY" -C "$ROOT" --json list >"$BATS_TEST_TMPDIR/list.json" 2>/dev/null
	local id
	for id in 0.2.0/001_nick.sql 0.2.0/002_index.sql 0.3.0/001_slow.sql 0.3.0/002_tags.sql; do
		[ "$(jstate "$BATS_TEST_TMPDIR/list.json" "$id")" = applied ]
	done
}

@test "kill -9 in grouped mode: nothing was committed; recover leaves the database as before" {
	slow_second
	snapshot
	bg_ferry up up
	wait_lock_line 10
	wait_log 10 "$(applying_re 0.2.0/002_slow.sql)"
	kill -9 "$BG_PID"
	wait_exit "$BG_PID" 10
	[ "$WAIT_RC" = 137 ]
	run fj st status
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 1 ]
	run ferry recover
	[ "$status" -eq 0 ]
	assert_same_data
	[ "$(record_count)" = 0 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.3.0 ]
}

@test "SIGTERM during a grouped down: nothing undone, exit 130, database as before the down" {
	step 0.1.0 0.2.0 001_nick "ALTER TABLE users ADD COLUMN nick TEXT;" "ALTER TABLE users DROP COLUMN nick;"
	cat >"$ROOT/migrations/v0.1.0_to_v0.2.0/002_slow_down.sql" <<SQL
-- ferry:up
CREATE TABLE counts (n INTEGER);
-- ferry:down
INSERT INTO counts SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $SLOW_N) SELECT x FROM c);
DROP TABLE counts;
SQL
	run ferry up
	[ "$status" -eq 0 ]
	snapshot
	[ "$SNAP_VERSION" = 0.2.0 ]
	bg_ferry down down 0.1.0
	wait_lock_line 10
	wait_log 10 '"step":"0\.2\.0/002_slow_down\.sql".*"undoing"'
	kill -TERM "$BG_PID"
	wait_exit "$BG_PID" 30
	[ "$WAIT_RC" = 130 ]
	assert_same_data
	[ "$(cur_version)" = 0.2.0 ]
	[ "$(file_version)" = 0.2.0 ]
	[ "$(record_count)" = 2 ]
}

@test "kill -9 after an irreversible step committed: recover exits 5 naming it and changes nothing; --resume keeps it" {
	tx_step
	step 0.1.0 0.2.0 001_nick "ALTER TABLE users ADD COLUMN nick TEXT;" "ALTER TABLE users DROP COLUMN nick;"
	step 0.1.0 0.2.0 002_drop_body "ALTER TABLE posts DROP COLUMN body;"
	slow_step 0.1.0 0.2.0 003_slow
	bg_ferry up up
	wait_lock_line 10
	wait_log 10 "$(applying_re 0.2.0/003_slow.sql)"
	kill -9 "$BG_PID"
	wait_exit "$BG_PID" 10
	[ "$WAIT_RC" = 137 ]
	dump >"$BATS_TEST_TMPDIR/crashed.sql"
	run ferry recover
	[ "$status" -eq 5 ]
	[[ "$output" == *"0.2.0/002_drop_body.sql"* ]]
	cmp "$BATS_TEST_TMPDIR/crashed.sql" <(dump)
	run fj st status
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 1 ]
	run ferry recover --resume
	[ "$status" -eq 0 ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.2.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*), count(DISTINCT id) FROM ferry_steps')" = "3|3" ]
}
