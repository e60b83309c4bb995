#!/usr/bin/env bats
# Fault tests: a run that fails part-way through five transitions is undone
# completely (SPEC 6.7-6.8), in the default grouped mode and with
# `transaction: step`; an irreversible committed step makes it exit 5.

load helpers
load fault_helpers

setup() {
	fault_install 0.1.0
}

teardown() {
	fault_teardown
}

# five_hops [FAIL]: 0.1.0 -> 0.6.0, each transition changing schema and data
# (ALTER, UPDATE backfill, CREATE + INSERT, CREATE INDEX, a table rebuild).
# With FAIL=constraint the 4th transition's 2nd step violates a UNIQUE
# constraint at run time; with FAIL=sql it runs a statement on a missing table;
# with FAIL=verify its verify query returns false; with FAIL=none it succeeds.
five_hops() {
	local fail=${1:-constraint} m="$ROOT/migrations"
	step 0.1.0 0.2.0 001_add_full_name \
		"ALTER TABLE users ADD COLUMN full_name TEXT;" \
		"ALTER TABLE users DROP COLUMN full_name;"
	step 0.1.0 0.2.0 002_backfill_full_name \
		"UPDATE users SET full_name = upper(substr(name, 1, 1)) || substr(name, 2);" \
		"UPDATE users SET full_name = NULL;"
	step 0.2.0 0.3.0 001_create_tags \
		"CREATE TABLE tags (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES posts(id), tag TEXT NOT NULL);
INSERT INTO tags (post_id, tag) SELECT id, 'imported' FROM posts;" \
		"DROP TABLE tags;"
	step 0.2.0 0.3.0 002_index_email \
		"CREATE INDEX users_email ON users(email);" \
		"DROP INDEX users_email;"
	step 0.3.0 0.4.0 001_rebuild_posts \
		"CREATE TABLE posts_new (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), title TEXT NOT NULL, body TEXT NOT NULL DEFAULT '', published INTEGER NOT NULL DEFAULT 1);
INSERT INTO posts_new (id, user_id, title, body) SELECT id, user_id, title, coalesce(body, '') FROM posts;
DROP TABLE posts;
ALTER TABLE posts_new RENAME TO posts;" \
		"CREATE TABLE posts_old AS SELECT id, user_id, title, nullif(body, '') AS body FROM posts;
DROP TABLE posts;
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), title TEXT NOT NULL, body TEXT);
INSERT INTO posts SELECT id, user_id, title, body FROM posts_old;
DROP TABLE posts_old;"
	step 0.3.0 0.4.0 002_count_posts \
		"ALTER TABLE users ADD COLUMN post_count INTEGER NOT NULL DEFAULT 0;
UPDATE users SET post_count = (SELECT count(*) FROM posts WHERE posts.user_id = users.id);" \
		"ALTER TABLE users DROP COLUMN post_count;"
	step 0.4.0 0.5.0 001_settings \
		"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO settings VALUES ('theme', 'dark'), ('lang', 'en');" \
		"DROP TABLE settings;"
	case $fail in
	constraint) # bob takes ada's address, then the unique index cannot be built
		step 0.4.0 0.5.0 002_unique_email \
			"UPDATE users SET email = lower(email);
UPDATE users SET email = 'ada@example.org' WHERE id = 2;
CREATE UNIQUE INDEX users_email_unique ON users(email);" \
			"DROP INDEX users_email_unique;" ;;
	sql)
		step 0.4.0 0.5.0 002_unique_email \
			"UPDATE users SET email = lower(email);
INSERT INTO user_settings SELECT id, 'x' FROM users;" \
			"SELECT 1;" ;;
	verify)
		cat >"$m/v0.4.0_to_v0.5.0/002_unique_email.sql" <<'SQL'
-- ferry:up
UPDATE users SET email = 'nobody' WHERE email IS NULL;
-- ferry:down
UPDATE users SET email = NULL WHERE email = 'nobody';
-- ferry:verify
SELECT count(*) = 0 FROM users;
SQL
		;;
	none)
		step 0.4.0 0.5.0 002_unique_email \
			"CREATE UNIQUE INDEX users_email_unique ON users(email);" \
			"DROP INDEX users_email_unique;" ;;
	esac
	step 0.5.0 0.6.0 001_audit \
		"CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT NOT NULL);
INSERT INTO audit (what) VALUES ('upgraded to 0.6.0');" \
		"DROP TABLE audit;"
}

UNDONE=(0.2.0/001_add_full_name.sql 0.2.0/002_backfill_full_name.sql 0.3.0/001_create_tags.sql
	0.3.0/002_index_email.sql 0.4.0/001_rebuild_posts.sql 0.4.0/002_count_posts.sql
	0.5.0/001_settings.sql)
FAILED=0.5.0/002_unique_email.sql

# Everything a failed five-hop run must leave: exit 1, same data, same
# version, the run recorded as rolled back, every step's state.
assert_five_hops_rolled_back() {
	[ "$status" -eq 1 ]
	# The message names the failing step's file and line.
	[[ "$output" == *"v0.4.0_to_v0.5.0/002_unique_email.sql:"[0-9]* ]]
	assert_same_data
	[ "$(cur_version)" = 0.1.0 ]
	[ "$(file_version)" = 0.1.0 ]
	# up --json: rolled back, the failing step failed, every earlier step rolled back.
	[ "$(jget "$BATS_TEST_TMPDIR/up.json" '$.status')" = rolled_back ]
	[ "$(jget "$BATS_TEST_TMPDIR/up.json" '$.from')" = 0.1.0 ]
	[ "$(jstep "$BATS_TEST_TMPDIR/up.json" "$FAILED")" = failed ]
	local id
	for id in "${UNDONE[@]}"; do
		[ "$(jstep "$BATS_TEST_TMPDIR/up.json" "$id")" = rolled_back ] || { echo "# up: $id" >&2; return 1; }
	done
	[ -z "$(jstep "$BATS_TEST_TMPDIR/up.json" 0.6.0/001_audit.sql)" ]
	# history: the run is there, rolled back.
	"$FERRY" -C "$ROOT" --json history >"$BATS_TEST_TMPDIR/h.json" 2>/dev/null
	[ "$(jget "$BATS_TEST_TMPDIR/h.json" '$.runs[0].status')" = rolled_back ]
	# status: nothing applied, nothing interrupted, everything pending.
	"$FERRY" -C "$ROOT" --json status >"$BATS_TEST_TMPDIR/st.json" 2>/dev/null
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 0 ]
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.pending_steps')" = 9 ]
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.last_run.status')" = rolled_back ]
	# list: what ran is rolled back, the failing step failed, the rest pending.
	"$FERRY" -C "$ROOT" --json list >"$BATS_TEST_TMPDIR/list.json" 2>/dev/null
	for id in "${UNDONE[@]}"; do
		[ "$(jstate "$BATS_TEST_TMPDIR/list.json" "$id")" = rolled_back ] || { echo "# list: $id" >&2; return 1; }
	done
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.6.0/001_audit.sql)" = pending ]
	# The record in the database holds nothing.
	[ "$(record_count)" = 0 ]
}

@test "the five hops really change schema and data, and their downs restore the database byte for byte" {
	five_hops none
	snapshot
	run fj up up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.6.0 ]
	[ "$(file_version)" = 0.6.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*) FROM ferry_steps')" = 9 ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT group_concat(full_name || ':' || post_count) FROM users")" = "Ada:2,Bob:1,Cy:0" ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM tags")" = 3 ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT body FROM posts WHERE id = 2")" = "" ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT published FROM posts WHERE id = 2")" = 1 ]
	[ "$(dump | md5sum)" != "$(md5sum <"$BATS_TEST_TMPDIR/before.sql")" ]
	run ferry down 0.1.0
	[ "$status" -eq 0 ]
	assert_same_data
}

@test "grouped: the 4th transition's 2nd step violates a constraint; all five hops are undone (exit 1)" {
	five_hops constraint
	snapshot
	run fj up up
	assert_five_hops_rolled_back
	[[ "$output" == *"UNIQUE constraint failed"* ]]
}

@test "grouped: the failed step is listed as failed" {
	five_hops constraint
	run fj up up
	[ "$status" -eq 1 ]
	"$FERRY" -C "$ROOT" --json list >"$BATS_TEST_TMPDIR/list.json" 2>/dev/null
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" "$FAILED")" = failed ]
}

@test "grouped: a statement on a missing table in the 4th transition undoes all five hops (exit 1)" {
	five_hops sql
	snapshot
	run fj up up
	assert_five_hops_rolled_back
	[[ "$output" == *"user_settings"* ]]
}

@test "grouped: a verify query returning false in the 4th transition undoes all five hops (exit 1)" {
	five_hops verify
	snapshot
	run fj up up
	assert_five_hops_rolled_back
	[[ "$output" == *verify* ]]
}

@test "transaction: step: committed steps are undone by their downs; database identical, version 0.1.0 (exit 1)" {
	tx_step
	five_hops constraint
	snapshot
	run fj up up
	assert_five_hops_rolled_back
	[[ "$output" == *"UNIQUE constraint failed"* ]]
	# Each committed step was undone on its own (by its down), newest first.
	local id
	for id in "${UNDONE[@]}"; do
		grep -qE "\"step\":\"${id//./\\.}\".*undo" "$ROOT/.ferry/log/ferry.log" ||
			{ echo "# no undo of $id in the log" >&2; return 1; }
	done
}

@test "transaction: step: after the failure is fixed, up applies every step exactly once" {
	tx_step
	five_hops constraint
	run ferry up
	[ "$status" -eq 1 ]
	rm "$ROOT/migrations/v0.4.0_to_v0.5.0/002_unique_email.sql"
	step 0.4.0 0.5.0 002_unique_email \
		"CREATE UNIQUE INDEX users_email_unique ON users(email);" \
		"DROP INDEX users_email_unique;"
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.6.0 ]
	[ "$(file_version)" = 0.6.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*), count(DISTINCT id) FROM ferry_steps')" = "9|9" ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM settings")" = 2 ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM audit")" = 1 ]
}

@test "grouped: an irreversible step earlier in the run is undone by the transaction (exit 1)" {
	# One transaction holds the whole all-SQL run: no down is needed.
	step 0.1.0 0.2.0 001_drop_body "ALTER TABLE posts DROP COLUMN body;"
	step 0.2.0 0.3.0 001_ok "CREATE TABLE t2 (x);" "DROP TABLE t2;"
	step 0.2.0 0.3.0 002_fail "INSERT INTO posts (id, user_id, title) VALUES (1, 1, 'dup');"
	snapshot
	run fj up up
	[ "$status" -eq 1 ]
	[[ "$output" == *"002_fail.sql:"[0-9]* ]]
	assert_same_data
	[ "$(cur_version)" = 0.1.0 ]
	[ "$(file_version)" = 0.1.0 ]
}

@test "transaction: step: a committed step without a down, then a failure: exit 5 naming the step and the state left" {
	tx_step
	step 0.1.0 0.2.0 001_add_column \
		"ALTER TABLE users ADD COLUMN nick TEXT;" \
		"ALTER TABLE users DROP COLUMN nick;"
	step 0.1.0 0.2.0 002_drop_body "ALTER TABLE posts DROP COLUMN body;"
	step 0.1.0 0.2.0 003_tags "CREATE TABLE tags (x);" "DROP TABLE tags;"
	step 0.2.0 0.3.0 001_fail "INSERT INTO users (id, name) VALUES (1, 'dup');"
	snapshot
	run fj up up --skip-backup # no backup to restore: see run_backups.bats
	[ "$status" -eq 5 ]
	# The message names the step that cannot be undone...
	[[ "$output" == *"0.2.0/002_drop_body.sql"* ]]
	[[ "$output" == *irreversible* || "$output" == *"no down"* ]]
	# ... and says what is left applied (the steps up to it).
	[[ "$output" == *"0.2.0/001_add_column.sql"* ]]
	[[ "$output" == *"applied"* ]]
	[ "$(jget "$BATS_TEST_TMPDIR/up.json" '$.status')" = failed ]
	# What the message says is what is there: 003 was undone, 001 and 002 stay.
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM sqlite_master WHERE name = 'tags'")" = 0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'nick'")" = 1 ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM pragma_table_info('posts') WHERE name = 'body'")" = 0 ]
	"$FERRY" -C "$ROOT" --json list >"$BATS_TEST_TMPDIR/list.json" 2>/dev/null
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.2.0/001_add_column.sql)" = applied ]
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.2.0/002_drop_body.sql)" = applied ]
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.2.0/003_tags.sql)" = rolled_back ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT group_concat(id) FROM (SELECT id FROM ferry_steps ORDER BY id)')" = \
		"0.2.0/001_add_column.sql,0.2.0/002_drop_body.sql" ]
	# The version stays the start one (0.2.0 is not whole), in state and file.
	[ "$(cur_version)" = 0.1.0 ]
	[ "$(file_version)" = 0.1.0 ]
	"$FERRY" -C "$ROOT" --json history >"$BATS_TEST_TMPDIR/h.json" 2>/dev/null
	[ "$(jget "$BATS_TEST_TMPDIR/h.json" '$.runs[0].status')" = failed ]
}
