#!/usr/bin/env bats
# verify_check_version.bats - `ferry verify`, `ferry check`, `ferry version`,
# `ferry unlock` and `ferry recover` with nothing to do (SPEC §5).

bats_require_minimum_version 1.5.0
load helpers

# 0.0.0 -> 0.1.0 -> 0.2.0 with a version file, applied up to 0.2.0 unless
# told otherwise.
applied() {
	make_install
	echo "version_file: config/version.json" | add_config
	step 0.0.0 0.1.0 001_users "CREATE TABLE users(id INTEGER PRIMARY KEY);" "DROP TABLE users;"
	put_step 0.1.0 0.2.0 001_posts <<'SQL'
-- ferry:up
CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));
-- ferry:down
DROP TABLE posts;
-- ferry:verify
SELECT user_id FROM posts LIMIT 0;
SQL
	ferry up "${1:-0.2.0}"
}

# ---- verify ----

@test "verify: a clean installation, exit 0" {
	applied
	run ferry verify
	[ "$status" -eq 0 ]
	[[ "$output" == *ok* ]]
	run --separate-stderr ferry --json verify
	[ "$status" -eq 0 ]
	jq -e '(.ok == true) and (.findings == [])' <<<"$output"
}

@test "verify: a changed step file, exit 3 naming the step" {
	applied
	echo "-- changed" >>"$ROOT/migrations/v0.0.0_to_v0.1.0/001_users.sql"
	run ferry verify
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.1.0/001_users.sql"* ]]
	[[ "$output" == *changed* ]]
	run --separate-stderr ferry --json verify
	[ "$status" -eq 3 ]
	jq -e '(.ok == false) and (.findings | length == 1)
		and (.findings[0].subject == "0.1.0/001_users.sql")
		and (.findings[0] | has("kind") and has("message"))' <<<"$output"
}

@test "verify: a deleted step file, exit 3" {
	applied
	rm "$ROOT/migrations/v0.1.0_to_v0.2.0/001_posts.sql"
	run ferry verify
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.2.0/001_posts.sql"* ]]
	[[ "$output" == *gone* || "$output" == *missing* ]]
	run --separate-stderr ferry --json verify
	jq -e '.findings | map(.subject) | index("0.2.0/001_posts.sql") != null' <<<"$output"
}

@test "verify: a foreign key violation, exit 3" {
	applied
	sql_main "INSERT INTO posts(id, user_id) VALUES (1, 999);"
	run ferry verify
	[ "$status" -eq 3 ]
	[[ "$output" == *posts* ]]
	[[ "$output" == *"foreign key"* ]]
	run --separate-stderr ferry --json verify
	jq -e '.ok == false and (.findings | length >= 1)' <<<"$output"
}

@test "verify: a version file that disagrees with the recorded version, exit 3" {
	applied
	[ "$(jq -r .version "$ROOT/config/version.json")" = 0.2.0 ]
	echo '{"version": "9.9.9"}' >"$ROOT/config/version.json"
	run ferry verify
	[ "$status" -eq 3 ]
	[[ "$output" == *"9.9.9"* ]]
	[[ "$output" == *"0.2.0"* ]]
	run --separate-stderr ferry --json verify
	jq -e '.findings[0].subject | endswith("config/version.json")' <<<"$output"
}

@test "verify runs each applied step's verify query" {
	applied
	sql_main "DROP TABLE posts;"
	run ferry verify
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.2.0/001_posts.sql"* ]]
	[[ "$output" == *posts* ]]
}

@test "verify changes nothing" {
	applied
	sql_main "INSERT INTO posts(id, user_id) VALUES (1, 999);"
	before=$(dump)
	run ferry verify
	[ "$(dump)" = "$before" ]
	[ "$(ferry version)" = 0.2.0 ]
}

# ---- check ----

@test "check: ready to upgrade, exit 0, nothing changed" {
	applied 0.1.0
	before=$(dump)
	run ferry check
	[ "$status" -eq 0 ]
	[[ "$output" == *ready* ]]
	run --separate-stderr ferry --json check
	[ "$status" -eq 0 ]
	jq -e '(.ok == true) and (.findings == [])' <<<"$output"
	[ "$(dump)" = "$before" ]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(recorded_ids)" = "0.1.0/001_users.sql" ]
}

@test "check: an applied step drifted, exit 3" {
	applied 0.1.0
	echo "-- changed" >>"$ROOT/migrations/v0.0.0_to_v0.1.0/001_users.sql"
	run ferry check
	[ "$status" -eq 3 ]
	[[ "$output" == *"0.1.0/001_users.sql"* ]]
	run --separate-stderr ferry --json check
	[ "$status" -eq 3 ]
	jq -e '(.ok == false) and (.findings[0].subject == "0.1.0/001_users.sql")' <<<"$output"
}

@test "check TARGET with no path to it reports it (exit 3)" {
	applied 0.1.0
	step 3.0.0 3.1.0 001_far "CREATE TABLE far(x);"
	run ferry check 3.1.0
	[ "$status" -eq 3 ]
	[[ "$output" == *"3.1.0"* ]]
}

# ---- version ----

@test "version prints the current version" {
	applied 0.1.0
	run ferry version
	[ "$status" -eq 0 ]
	[ "$output" = 0.1.0 ]
	run --separate-stderr ferry --json version
	[ "$(jq -r .version <<<"$output")" = 0.1.0 ]
}

@test "version --set V records a baseline and runs nothing" {
	make_install
	step 1.0.0 1.1.0 001_x "CREATE TABLE x(y);" "DROP TABLE x;"
	run ferry version --set 1.0.0
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 1.0.0 ]
	[ -z "$(main_tables)" ]
	[ -z "$(recorded_ids)" ]
	# from the baseline on, 1.1.0's steps are pending (as in Flyway)
	run --separate-stderr ferry --json status
	jq -e '(.current == "1.0.0") and (.pending_steps == 1)' <<<"$output"
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = x ]
}

@test "version --set accepts a leading v" {
	make_install
	run ferry version --set v2.3.4
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 2.3.4 ]
}

@test "version --set below applied steps: exit 2 unless --force" {
	applied
	run ferry version --set 0.1.0
	[ "$status" -eq 2 ]
	[[ "$output" == *"0.2.0/001_posts.sql"* ]]
	[[ "$output" == *"--force"* ]]
	[ "$(ferry version)" = 0.2.0 ]
	run ferry version --set 0.1.0 --force
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.1.0 ]
	# --force records the version only; the database is untouched
	[ "$(main_tables)" = "posts users" ]
}

@test "version --set above the current version is a plain stamp" {
	applied
	run ferry version --set 0.5.0
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.5.0 ]
}

@test "version --set with an invalid version: exit 2, unchanged" {
	applied
	run ferry version --set 1.2
	[ "$status" -eq 2 ]
	run ferry version --set banana
	[ "$status" -eq 2 ]
	[[ "$output" == *banana* ]]
	[ "$(ferry version)" = 0.2.0 ]
}

# ---- unlock, recover ----

@test "unlock with no holder: exit 0" {
	applied
	run ferry unlock
	[ "$status" -eq 0 ]
	[[ "$output" == *unlocked* ]]
	run --separate-stderr ferry --json status
	jq -e '.locked_by == null' <<<"$output"
	run ferry up
	[ "$status" -eq 0 ]
}

@test "recover with nothing interrupted: exit 0, nothing changed" {
	applied
	before=$(dump)
	run ferry recover
	[ "$status" -eq 0 ]
	[[ "$output" == *"no interrupted run"* ]]
	[ "$(dump)" = "$before" ]
	[ "$(ferry version)" = 0.2.0 ]
	run --separate-stderr ferry --json recover
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = noop ]
}
