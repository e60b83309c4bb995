#!/usr/bin/env bats
# plan.bats - `ferry plan [TARGET]` (SPEC §5, §6.3): multi-hop paths,
# shortcuts, pure version bumps, unreachable targets, --json, --dot.

bats_require_minimum_version 1.5.0
load helpers

# notebook-like ladder: 0.5.0 -> 0.6.0 -> 0.7.0 -> 0.8.0 -> 0.9.0 -> 1.0.0,
# and 1.0.1 (a patch release, no steps) in versions.yaml.
ladder() {
	make_install 0.5.0
	sql_main "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('hello');"
	step 0.5.0 0.6.0 001_pinned "ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;" \
		"ALTER TABLE notes DROP COLUMN pinned;"
	step 0.6.0 0.7.0 001_tags "CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT);" "DROP TABLE tags;"
	step 0.7.0 0.8.0 001_archived "ALTER TABLE notes ADD COLUMN archived_at TEXT;" \
		"ALTER TABLE notes DROP COLUMN archived_at;"
	step 0.8.0 0.9.0 001_shares "CREATE TABLE shares(id INTEGER PRIMARY KEY, note_id INTEGER);" \
		"DROP TABLE shares;"
	step 0.8.0 0.9.0 002_roles "CREATE TABLE roles(name TEXT);" "DROP TABLE roles;"
	step 0.9.0 1.0.0 001_rename "ALTER TABLE notes RENAME COLUMN body TO content;" \
		"ALTER TABLE notes RENAME COLUMN content TO body;"
	put_meta 0.9.0 1.0.0 <<'YAML'
description: Stable API
breaking_changes: true
notes: [The note field body is now content]
estimated_duration_seconds: 10
requires_restart: [api]
backup_required: true
YAML
	cat >"$ROOT/migrations/versions.yaml" <<'YAML'
versions:
  - version: "0.5.0"
    notes: First release.
  - version: "0.6.0"
    notes: Pinned notes.
  - version: "0.7.0"
    notes: Tags.
  - version: "0.8.0"
    notes: Archive.
  - version: "0.9.0"
    notes: Shares.
  - version: "1.0.0"
    notes: Stable.
  - version: "1.0.1"
    notes: A patch release, no database changes.
YAML
}

# 0.1.0 -> 0.2.0 -> 0.3.0 (10 s each) and the shortcut 0.1.x -> 0.3.0 (COST s).
shortcut() {
	make_install "${2:-0.1.0}"
	step 0.1.0 0.2.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	step 0.2.0 0.3.0 001_b "CREATE TABLE b(x);" "DROP TABLE b;"
	step 0.1.x 0.3.0 001_all "CREATE TABLE ab(x);" "DROP TABLE ab;"
	echo "estimated_duration_seconds: 10" | put_meta 0.1.0 0.2.0
	echo "estimated_duration_seconds: 10" | put_meta 0.2.0 0.3.0
	echo "estimated_duration_seconds: $1" | put_meta 0.1.x 0.3.0
}

@test "plan 1.0.0: the multi-hop path with every step, in words" {
	ladder
	run ferry plan 1.0.0
	[ "$status" -eq 0 ]
	[[ "$output" == *"0.5.0 -> 1.0.0"* ]]
	[[ "$output" == *"0.5.0 0.6.0 0.7.0 0.8.0 0.9.0 1.0.0"* ]]
	for id in 0.6.0/001_pinned.sql 0.7.0/001_tags.sql 0.8.0/001_archived.sql \
		0.9.0/001_shares.sql 0.9.0/002_roles.sql 1.0.0/001_rename.sql; do
		[[ "$output" == *"$id"* ]]
	done
	# steps in order
	[[ "$output" == *"001_pinned"*"001_tags"*"001_archived"*"001_shares"*"002_roles"*"001_rename"* ]]
	[[ "$output" == *"Stable API"* ]]
	[[ "$output" == *"breaking"* ]]
	[[ "$output" == *"body is now content"* ]]
	[[ "$output" == *"restarts: api"* ]]
	[[ "$output" == *"estimated"* ]]
}

@test "plan --json: the plan file with every key of SPEC §5" {
	ladder
	run --separate-stderr ferry --json plan 1.0.0
	[ "$status" -eq 0 ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	jq -e '(.from == "0.5.0") and (.to == "1.0.0")
		and (.path == ["0.5.0","0.6.0","0.7.0","0.8.0","0.9.0","1.0.0"])
		and (.transitions | length == 5)
		and (.backup_required | type == "boolean")
		and (.restarts == ["api"])
		and (.estimated_duration_seconds | type == "number")' <<<"$output"
	for k in from to description breaking_changes requires_restart backup_required \
		estimated_duration_seconds steps; do
		[ "$(jq --arg k "$k" '[.transitions[] | has($k)] | all' <<<"$output")" = true ]
	done
	for k in id kind database reversible; do
		[ "$(jq --arg k "$k" '[.transitions[].steps[] | has($k)] | all' <<<"$output")" = true ]
	done
	jq -e '.transitions[4] | (.from == "0.9.0") and (.to == "1.0.0")
		and (.description == "Stable API") and (.breaking_changes == true)
		and (.requires_restart == ["api"]) and (.estimated_duration_seconds == 10)
		and (.steps == [{"id":"1.0.0/001_rename.sql","kind":"sql","database":"main","reversible":true}]
		     or (.steps[0] | (.id == "1.0.0/001_rename.sql") and (.kind == "sql")
		                     and (.database == "main") and (.reversible == true)))' <<<"$output"
	jq -e '.transitions[3].steps | map(.id) == ["0.9.0/001_shares.sql","0.9.0/002_roles.sql"]' <<<"$output"
	# the total covers each transition's estimate
	jq -e '.estimated_duration_seconds >= ([.transitions[].estimated_duration_seconds] | add)' <<<"$output"
}

@test "plan marks a step without down as not reversible" {
	ladder
	step 0.9.0 1.0.0 002_oneway "CREATE TABLE oneway(x);"
	run --separate-stderr ferry --json plan 1.0.0
	jq -e '[.transitions[].steps[] | select(.id == "1.0.0/002_oneway.sql") | .reversible] == [false]' <<<"$output"
	run ferry plan 1.0.0
	[[ "$output" == *"1.0.0/002_oneway.sql"*"irreversible"* ]]
}

@test "plan changes nothing" {
	ladder
	before=$(dump)
	run ferry plan
	[ "$status" -eq 0 ]
	[ "$(dump)" = "$before" ]
	[ "$(ferry version)" = 0.5.0 ]
	[ -z "$(recorded_ids)" ]
	run --separate-stderr ferry --json history
	[ "$(jq '.runs | length' <<<"$output")" -eq 0 ]
}

@test "plan without a target goes to the latest version, a patch release after 1.0.0" {
	ladder
	run --separate-stderr ferry --json plan
	[ "$status" -eq 0 ]
	jq -e '(.from == "0.5.0") and (.to == "1.0.1") and (.transitions | length == 5)' <<<"$output"
}

@test "plan from an intermediate version starts there" {
	ladder
	ferry up 0.7.0
	run --separate-stderr ferry --json plan 1.0.0
	[ "$status" -eq 0 ]
	jq -e '.path == ["0.7.0","0.8.0","0.9.0","1.0.0"]' <<<"$output"
}

@test "plan takes the shortcut v0.1.x_to_v0.3.0 when it is cheaper" {
	shortcut 5
	run --separate-stderr ferry --json plan 0.3.0
	[ "$status" -eq 0 ]
	jq -e '(.path == ["0.1.0","0.3.0"]) and (.transitions | length == 1)
		and (.transitions[0].from == "0.1.x") and (.transitions[0].steps[0].id == "0.3.0/001_all.sql")
		and (.estimated_duration_seconds == 5)' <<<"$output"
	run ferry plan 0.3.0
	[[ "$output" == *"0.3.0/001_all.sql"* ]]
	[[ "$output" != *"0.2.0/001_a.sql"* ]]
}

@test "plan goes the long way when the shortcut is dearer" {
	shortcut 50
	run --separate-stderr ferry --json plan 0.3.0
	[ "$status" -eq 0 ]
	jq -e '(.path == ["0.1.0","0.2.0","0.3.0"]) and (.estimated_duration_seconds == 20)' <<<"$output"
}

@test "plan: the pattern 0.1.x matches any 0.1 version" {
	shortcut 5 0.1.7
	run --separate-stderr ferry --json plan 0.3.0
	[ "$status" -eq 0 ]
	jq -e '(.from == "0.1.7") and (.to == "0.3.0") and (.transitions | length == 1)
		and (.transitions[0].steps[0].id == "0.3.0/001_all.sql")' <<<"$output"
}

@test "plan 1.0.1: a pure version bump listed in versions.yaml, no steps" {
	ladder
	ferry up 1.0.0
	run ferry plan 1.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"1.0.0 -> 1.0.1"* ]]
	[[ "$output" == *"no steps"* ]]
	run --separate-stderr ferry --json plan 1.0.1
	[ "$status" -eq 0 ]
	jq -e '(.from == "1.0.0") and (.to == "1.0.1") and (.transitions == []) and (.path[0] == "1.0.0")' <<<"$output"
}

@test "plan at the latest version: nothing to do" {
	ladder
	ferry version --set 1.0.1 --force
	run ferry plan
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to do"* ]]
}

@test "plan to an unreachable version: exit 1 with the reachable versions" {
	ladder
	step 2.0.0 2.1.0 001_far "CREATE TABLE far(x);"
	run ferry plan 2.1.0
	[ "$status" -eq 1 ]
	[[ "$output" == *"2.1.0"* ]]
	[[ "$output" == *reachable* ]]
	[[ "$output" == *"0.6.0"* ]]
	[[ "$output" == *"1.0.0"* ]]
	run --separate-stderr ferry --json plan 2.1.0
	[ "$status" -eq 1 ]
	[[ "$stderr" == *reachable* ]]
}

@test "plan with a bad target: exit 2" {
	ladder
	run ferry plan banana
	[ "$status" -eq 2 ]
	[[ "$output" == *banana* ]]
}

@test "plan --dot: a Graphviz digraph of every version, the path in bold" {
	shortcut 5
	run --separate-stderr ferry plan --dot 0.3.0
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "digraph"* ]]
	[[ "$output" == *"}" ]]
	for v in 0.1.0 0.2.0 0.3.0; do [[ "$output" == *"\"$v\""* ]]; done
	# the shortcut edge is the path: bold; the long way is not
	grep -E '"0\.1\.x" -> "0\.3\.0".*bold' <<<"$output"
	grep -E '"0\.1\.0" -> "0\.2\.0"' <<<"$output"
	! grep -E '"0\.1\.0" -> "0\.2\.0".*bold' <<<"$output" || false
	! grep -E '"0\.2\.0" -> "0\.3\.0".*bold' <<<"$output" || false
}

@test "plan --dot: every hop of a multi-hop path is bold" {
	ladder
	run --separate-stderr ferry plan --dot 1.0.0
	[ "$status" -eq 0 ]
	[ "$(grep -cE -- '->.*bold' <<<"$output")" -eq 5 ]
	grep -E '"0\.9\.0" -> "1\.0\.0".*bold' <<<"$output"
}

@test "plan stops at a required stop in versions.yaml" {
	ladder
	sed -i 's/    notes: Tags./    notes: Tags.\n    required_stop: true/' "$ROOT/migrations/versions.yaml"
	run --separate-stderr ferry --json plan 1.0.0
	[ "$status" -eq 0 ]
	jq -e '(.to == "0.7.0") and (.path == ["0.5.0","0.6.0","0.7.0"])' <<<"$output"
	run ferry plan 1.0.0
	[[ "$output" == *"required stop"* ]]
}

@test "up follows the multi-hop plan 0.5.0 -> 1.0.0; the rows survive" {
	ladder
	echo "version_file: config/version.json" | add_config
	run ferry up 1.0.0
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = "notes roles shares tags" ]
	[ "$(sql_main 'SELECT content || pinned FROM notes')" = hello0 ]
	[ "$(recorded_ids | wc -l)" -eq 6 ]
	[ "$(ferry version)" = 1.0.0 ]
	[ "$(jq -r .version "$ROOT/config/version.json")" = 1.0.0 ]
	run --separate-stderr ferry --json history
	jq -e '.runs[0] | (.from == "0.5.0") and (.to == "1.0.0") and (.status == "success")' <<<"$output"
}

@test "up takes the same shortcut as plan" {
	shortcut 5
	run ferry up 0.3.0
	[ "$status" -eq 0 ]
	[ "$(main_tables)" = ab ]
	[ "$(recorded_ids)" = "0.3.0/001_all.sql" ]
	[ "$(ferry version)" = 0.3.0 ]
}

@test "up then down the whole ladder brings the schema back" {
	ladder
	before=$(dump)
	ferry up 1.0.0
	run ferry down 0.5.0
	[ "$status" -eq 0 ]
	[ "$(dump)" = "$before" ]
	[ "$(ferry version)" = 0.5.0 ]
	[ -z "$(recorded_ids)" ]
}
