#!/usr/bin/env bats
# Fault tests: bad input (SPEC 2-4, exit 2) is reported with its file and
# line and changes nothing; unwritable files fail cleanly; drift (exit 3).

load helpers
load fault_helpers

setup() {
	fault_install 0.1.0
	step 0.1.0 0.2.0 001_nick "ALTER TABLE users ADD COLUMN nick TEXT;
UPDATE users SET nick = name;" "ALTER TABLE users DROP COLUMN nick;"
	step 0.1.0 0.2.0 002_tags "CREATE TABLE tags (x);" "DROP TABLE tags;"
	cp "$ROOT/ferry.yaml" "$BATS_TEST_TMPDIR/ferry.yaml.good"
}

teardown() {
	fault_teardown
}

# snap: snapshot, and a copy of ferry.yaml and migrations/ to put back.
snap() {
	snapshot
	rm -rf "$BATS_TEST_TMPDIR/pristine"
	mkdir "$BATS_TEST_TMPDIR/pristine"
	cp -a "$ROOT/ferry.yaml" "$ROOT/migrations" "$BATS_TEST_TMPDIR/pristine/"
}

# A bad-input run: exit 2; with the input put back, nothing changed and no
# run was recorded. $output is left alone.
assert_rejected() {
	[ "$status" -eq 2 ] || { echo "# exit $status: $output" >&2; return 1; }
	[ "$(record_count)" = 0 ]
	rm -rf "$ROOT/migrations"
	cp -a "$BATS_TEST_TMPDIR/pristine/ferry.yaml" "$BATS_TEST_TMPDIR/pristine/migrations" "$ROOT/"
	assert_unchanged
}

# unpriv CMD...: CMD without root's power over file permissions.
unpriv() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --bounding-set -dac_override,-dac_read_search,-fowner,-linux_immutable -- "$@"
	else
		"$@"
	fi
}

# ---- ferry.yaml ----

@test "broken YAML in ferry.yaml: exit 2, names ferry.yaml:LINE, nothing changed" {
	snap
	cat >"$ROOT/ferry.yaml" <<'YAML'
app: testapp
migrations: migrations
databases:
  main: sqlite:data/app.db
   bad: : x
version_file: config/version.json
YAML
	run ferry status
	[ "$status" -eq 2 ]
	[[ "$output" == *"ferry.yaml:5"* ]]
	run ferry up
	assert_rejected
	[[ "$output" == *"ferry.yaml:5"* ]]
}

@test "unknown key in ferry.yaml: exit 2, names the key and ferry.yaml:LINE" {
	snap
	printf 'transactoin: step\n' >>"$ROOT/ferry.yaml"
	run ferry up
	assert_rejected
	[[ "$output" == *"ferry.yaml:6"* ]]
	[[ "$output" == *transactoin* ]]
}

@test "unknown nested key in ferry.yaml: exit 2, names the key and its line" {
	snap
	cat >"$ROOT/ferry.yaml" <<'YAML'
app: testapp
migrations: migrations
version_file: config/version.json
databases:
  main: sqlite:data/app.db
backup:
  keep: 3
  compresion: gzip
YAML
	run ferry up
	assert_rejected
	[[ "$output" == *"ferry.yaml:8"* ]]
	[[ "$output" == *compresion* ]]
}

@test "wrong type in ferry.yaml: exit 2, names the key and ferry.yaml:LINE" {
	snap
	printf 'transaction: [group, step]\n' >>"$ROOT/ferry.yaml"
	run ferry up
	assert_rejected
	[[ "$output" == *"ferry.yaml:6"* ]]
	[[ "$output" == *transaction* ]]
	sed -i 's/^databases:$/databases: [main]/; /^  main:/d' "$ROOT/ferry.yaml"
	run ferry up
	assert_rejected
	[[ "$output" == *"ferry.yaml:"[0-9]* ]]
	[[ "$output" == *databases* ]]
}

@test "an unset \${VAR} in ferry.yaml: exit 2, names the variable, file and line" {
	snap
	unset FERRY_TEST_UNSET_VAR
	sed -i 's|sqlite:data/app.db|sqlite:${FERRY_TEST_UNSET_VAR}/app.db|' "$ROOT/ferry.yaml"
	run ferry up
	assert_rejected
	[[ "$output" == *FERRY_TEST_UNSET_VAR* ]]
	[[ "$output" == *"ferry.yaml:4"* ]]
}

# ---- migrations layout ----

@test "bad version in a folder name (v0.1_to_v0.2): exit 2, names the folder" {
	snap
	mkdir "$ROOT/migrations/v0.1_to_v0.2"
	printf -- '-- ferry:up\nSELECT 1;\n' >"$ROOT/migrations/v0.1_to_v0.2/001_x.sql"
	run ferry up
	assert_rejected
	[[ "$output" == *"migrations/v0.1_to_v0.2"* ]]
}

@test "two transitions with the same from and to: exit 2, names both folders" {
	snap
	mkdir "$ROOT/migrations/0.1.0_to_0.2.0"
	printf -- '-- ferry:up\nSELECT 1;\n' >"$ROOT/migrations/0.1.0_to_0.2.0/003_x.sql"
	run ferry up
	assert_rejected
	[[ "$output" == *"migrations/0.1.0_to_0.2.0"* ]]
	[[ "$output" == *"migrations/v0.1.0_to_v0.2.0"* ]]
}

@test "a transition whose to is not above its from: exit 2, names the folder" {
	snap
	mkdir "$ROOT/migrations/v0.3.0_to_v0.2.0"
	printf -- '-- ferry:up\nSELECT 1;\n' >"$ROOT/migrations/v0.3.0_to_v0.2.0/001_x.sql"
	run ferry up
	assert_rejected
	[[ "$output" == *"migrations/v0.3.0_to_v0.2.0"* ]]
}

@test "several layout errors are all reported by one run" {
	snap
	local m="$ROOT/migrations"
	mkdir "$m/v0.1_to_v0.2" "$m/v0.5.0_to_v0.4.0" "$m/0.1.0_to_0.2.0" "$m/somefolder"
	for d in v0.1_to_v0.2 v0.5.0_to_v0.4.0 0.1.0_to_0.2.0; do
		printf -- '-- ferry:up\nSELECT 1;\n' >"$m/$d/001_x.sql"
	done
	printf -- '-- ferry:up\nSELECT 1;\n' >"$m/abc_step.sql"
	echo data >"$m/v0.1.0_to_v0.2.0/009_weird.xyz"
	run ferry up
	assert_rejected
	[[ "$output" == *"migrations/v0.1_to_v0.2"* ]]
	[[ "$output" == *"migrations/v0.5.0_to_v0.4.0"* ]]
	[[ "$output" == *"migrations/0.1.0_to_0.2.0"* ]]
	[[ "$output" == *"migrations/somefolder"* ]]
	[[ "$output" == *"migrations/abc_step.sql"* ]]
	[[ "$output" == *"009_weird.xyz"* ]]
}

@test "unknown key in transition.yaml: exit 2, names the file and line" {
	snap
	printf 'description: nicknames\nbreaking_change: true\n' >"$ROOT/migrations/v0.1.0_to_v0.2.0/transition.yaml"
	run ferry up
	assert_rejected
	[[ "$output" == *"v0.1.0_to_v0.2.0/transition.yaml:2"* ]]
	[[ "$output" == *breaking_change* ]]
}

@test "wrong type in transition.yaml: exit 2, names the file and line" {
	snap
	printf 'description: nicknames\nestimated_duration_seconds: soon\n' >"$ROOT/migrations/v0.1.0_to_v0.2.0/transition.yaml"
	run ferry up
	assert_rejected
	[[ "$output" == *"v0.1.0_to_v0.2.0/transition.yaml:2"* ]]
	[[ "$output" == *estimated_duration_seconds* ]]
}

# ---- SQL steps ----

@test "an SQL step with no -- ferry:up: exit 2, names the file" {
	snap
	printf 'CREATE TABLE x (a);\n' >"$ROOT/migrations/v0.1.0_to_v0.2.0/003_noup.sql"
	run ferry up
	assert_rejected
	[[ "$output" == *"v0.1.0_to_v0.2.0/003_noup.sql"* ]]
	[[ "$output" == *"ferry:up"* ]]
}

@test "an unknown marker -- ferry:upp: exit 2, names file and line" {
	snap
	printf -- '-- a step\n\n-- ferry:upp\nCREATE TABLE x (a);\n' >"$ROOT/migrations/v0.1.0_to_v0.2.0/003_upp.sql"
	run ferry up
	assert_rejected
	[[ "$output" == *"v0.1.0_to_v0.2.0/003_upp.sql:3"* ]]
	[[ "$output" == *"ferry:upp"* ]]
}

@test "a second -- ferry:up section: exit 2, names file and line" {
	snap
	printf -- '-- ferry:up\nCREATE TABLE x (a);\n-- ferry:down\nDROP TABLE x;\n-- ferry:up\nSELECT 1;\n' \
		>"$ROOT/migrations/v0.1.0_to_v0.2.0/003_twice.sql"
	run ferry up
	assert_rejected
	[[ "$output" == *"v0.1.0_to_v0.2.0/003_twice.sql:5"* ]]
}

@test "a bad step in a later transition stops the run before the first one changes anything" {
	snap
	mkdir -p "$ROOT/migrations/v0.2.0_to_v0.3.0"
	printf -- '-- ferry:up\nCREATE TABLE x (a);\n-- ferry:dwon\nDROP TABLE x;\n' >"$ROOT/migrations/v0.2.0_to_v0.3.0/001_x.sql"
	run ferry up
	assert_rejected
	[[ "$output" == *"v0.2.0_to_v0.3.0/001_x.sql:3"* ]]
}

@test "an SQL syntax error in a step: exit 2, names file:line, database unchanged" {
	snap
	printf -- '-- ferry:up\nCREATE TABLE x (a);\n\nCREAT TABLE y (b);\n-- ferry:down\nDROP TABLE x;\n' \
		>"$ROOT/migrations/v0.1.0_to_v0.2.0/003_syntax.sql"
	run ferry up
	[ "$status" -eq 2 ]
	[[ "$output" == *"v0.1.0_to_v0.2.0/003_syntax.sql:4"* ]]
	[[ "$output" == *syntax* ]]
	assert_same_data
	[ "$(record_count)" = 0 ]
}

@test "an SQL syntax error after committed steps (transaction: step): exit 2, database unchanged" {
	tx_step
	snap
	mkdir -p "$ROOT/migrations/v0.2.0_to_v0.3.0"
	printf -- '-- ferry:up\nCREATE TABLE x (a);\nINSERT INTO x VALUES (1;\n-- ferry:down\nDROP TABLE x;\n' \
		>"$ROOT/migrations/v0.2.0_to_v0.3.0/001_syntax.sql"
	run ferry up
	[ "$status" -eq 2 ]
	[[ "$output" == *"v0.2.0_to_v0.3.0/001_syntax.sql:3"* ]]
	assert_same_data
	[ "$(file_version)" = 0.1.0 ]
	[ "$(record_count)" = 0 ]
}

@test "a step naming an undefined -- ferry:database: exit 2, names the file and the database" {
	snap
	printf -- '-- ferry:database other\n-- ferry:up\nCREATE TABLE x (a);\n' >"$ROOT/migrations/v0.1.0_to_v0.2.0/003_other.sql"
	run ferry up
	assert_rejected
	[[ "$output" == *"v0.1.0_to_v0.2.0/003_other.sql"* ]]
	[[ "$output" == *other* ]]
	[ ! -e "$ROOT/data/other.db" ]
}

@test "a bad target version (up 1.x.y): exit 2, names it" {
	snap
	run ferry up 1.x.y
	assert_rejected
	[[ "$output" == *"1.x.y"* ]]
	run ferry up banana
	assert_rejected
	[[ "$output" == *banana* ]]
}

# ---- permissions ----

@test "unwritable installation folder: clear message naming the path, nothing changed" {
	snap
	chmod -R a-w "$ROOT"
	run unpriv "$FERRY" -C "$ROOT" up
	chmod -R u+w "$ROOT"
	[ "$status" -eq 1 ] || [ "$status" -eq 2 ]
	[[ "$output" == *"$ROOT/"* ]]
	[[ "$output" == *"ermission denied"* || "$output" == *"not writable"* || "$output" == *"read-only"* ]]
	assert_same_data
	[ "$(record_count)" = 0 ]
}

@test "read-only database file: clear message naming the database file, nothing changed" {
	snap
	chmod 0444 "$ROOT/data/app.db"
	chmod 0555 "$ROOT/data"
	run unpriv "$FERRY" -C "$ROOT" up
	chmod 0755 "$ROOT/data"
	chmod 0644 "$ROOT/data/app.db"
	[ "$status" -eq 1 ] || [ "$status" -eq 2 ]
	[[ "$output" == *"data/app.db"* ]]
	[[ "$output" == *"ermission denied"* || "$output" == *"not writable"* || "$output" == *"read"?"only"* ]]
	assert_same_data
	[ "$(record_count)" = 0 ]
}

@test "unwritable version-file folder: the run is refused before any step, even an irreversible one" {
	step 0.1.0 0.2.0 003_drop_body "ALTER TABLE posts DROP COLUMN body;"
	snap
	chmod 0555 "$ROOT/config"
	run unpriv "$FERRY" -C "$ROOT" up
	chmod 0755 "$ROOT/config"
	[ "$status" -eq 1 ] || [ "$status" -eq 2 ]
	[[ "$output" == *"config/version.json"* || "$output" == *"$ROOT/config"* ]]
	assert_same_data
	[ "$(record_count)" = 0 ]
}

# ---- drift ----

# Applies 0.1.0 -> 0.2.0, then adds 0.2.0 -> 0.3.0.
applied_then_more() {
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cur_version)" = 0.2.0 ]
	step 0.2.0 0.3.0 001_more "CREATE TABLE more (x);" "DROP TABLE more;"
}

@test "drift: an applied step's file edited, up to a later version exits 3 listing it; nothing applied" {
	applied_then_more
	snap
	echo "-- a comment added after it was applied" >>"$ROOT/migrations/v0.1.0_to_v0.2.0/001_nick.sql"
	run ferry up
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.2.0/001_nick.sql"* ]]
	[[ "$output" == *--force* ]]
	[[ "$output" != *"0.2.0/002_tags.sql"* ]]
	assert_unchanged
	[ "$(record_count)" = 2 ]
	"$FERRY" -C "$ROOT" --json list >"$BATS_TEST_TMPDIR/list.json" 2>/dev/null
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.2.0/001_nick.sql)" = changed ]
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.3.0/001_more.sql)" = pending ]
}

@test "drift with nothing pending: up does not take the fast path, exits 3" {
	run ferry up
	[ "$status" -eq 0 ]
	snap
	sed -i 's/nick = name/nick = upper(name)/' "$ROOT/migrations/v0.1.0_to_v0.2.0/001_nick.sql"
	run ferry up
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.2.0/001_nick.sql"* ]]
	assert_unchanged
}

@test "drift: an applied step's file deleted, up exits 3 naming it" {
	applied_then_more
	snap
	rm "$ROOT/migrations/v0.1.0_to_v0.2.0/002_tags.sql"
	run ferry up
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.2.0/002_tags.sql"* ]]
	assert_unchanged
}

@test "drift with --force: the run goes on and warns about the step" {
	applied_then_more
	echo "-- edited" >>"$ROOT/migrations/v0.1.0_to_v0.2.0/001_nick.sql"
	run ferry up --force
	[ "$status" -eq 0 ]
	[[ "$output" == *"0.2.0/001_nick.sql"* ]]
	[[ "$output" == *--force* || "$output" == *drift* ]]
	[ "$(cur_version)" = 0.3.0 ]
	[ "$(file_version)" = 0.3.0 ]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM sqlite_master WHERE name = 'more'")" = 1 ]
	# The edited step was not run again.
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*), count(DISTINCT id) FROM ferry_steps')" = "3|3" ]
}

@test "CRLF line endings alone are not drift" {
	applied_then_more
	sed -i 's/$/\r/' "$ROOT/migrations/v0.1.0_to_v0.2.0/001_nick.sql" "$ROOT/migrations/v0.1.0_to_v0.2.0/002_tags.sql"
	grep -q $'\r$' "$ROOT/migrations/v0.1.0_to_v0.2.0/001_nick.sql"
	run ferry verify
	[ "$status" -eq 0 ]
	"$FERRY" -C "$ROOT" --json list >"$BATS_TEST_TMPDIR/list.json" 2>/dev/null
	[ "$(jstate "$BATS_TEST_TMPDIR/list.json" 0.2.0/001_nick.sql)" = applied ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" != *drift* ]]
	[ "$(cur_version)" = 0.3.0 ]
}
