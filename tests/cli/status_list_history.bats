#!/usr/bin/env bats
# status_list_history.bats - `ferry status`, `ferry list`, `ferry history`
# (SPEC §5): human text, --json keys, states.

bats_require_minimum_version 1.5.0
load helpers

# Two transitions, three steps: 0.0.0 -> 0.1.0 -> 0.2.0.
two_versions() {
	make_install
	step 0.0.0 0.1.0 001_users "CREATE TABLE users(id INTEGER PRIMARY KEY);" "DROP TABLE users;"
	step 0.0.0 0.1.0 002_posts "CREATE TABLE posts(id INTEGER PRIMARY KEY);" "DROP TABLE posts;"
	step 0.1.0 0.2.0 001_tags "CREATE TABLE tags(id INTEGER PRIMARY KEY);" "DROP TABLE tags;"
}

rfc3339() { [[ "$1" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$ ]]; }

# ---- status ----

@test "status: app, current, latest and the pending transitions in words" {
	two_versions
	run ferry status
	[ "$status" -eq 0 ]
	[[ "$output" == *"testapp at 0.0.0 (latest 0.2.0)"* ]]
	[[ "$output" == *"2 transitions, 3 steps"* ]]
	[[ "$output" == *"0.0.0 -> 0.1.0"* ]]
	[[ "$output" == *"0.1.0 -> 0.2.0"* ]]
}

@test "status --json: every key of SPEC §5 with its type" {
	two_versions
	run --separate-stderr ferry --json status
	[ "$status" -eq 0 ]
	jq -e '
		(.app == "testapp") and (.current == "0.0.0") and (.latest == "0.2.0") and
		(.pending_transitions == [{"from":"0.0.0","to":"0.1.0"},{"from":"0.1.0","to":"0.2.0"}]) and
		(.pending_steps == 3) and (.last_run == null) and (.locked_by == null) and
		(.interrupted == false)' <<<"$output"
	for k in app current latest pending_transitions pending_steps last_run locked_by interrupted; do
		jq -e --arg k "$k" 'has($k)' <<<"$output" >/dev/null
	done
}

@test "status after up: up to date, last_run is the run" {
	two_versions
	ferry up
	run ferry status
	[ "$status" -eq 0 ]
	[[ "$output" == *"at 0.2.0"* ]]
	[[ "$output" == *"up to date"* ]]
	[[ "$output" == *"last run"* ]]
	run --separate-stderr ferry --json status
	jq -e '(.current == "0.2.0") and (.pending_steps == 0) and (.pending_transitions == [])
		and (.last_run | type == "object") and (.last_run.status == "success")
		and (.last_run.from == "0.0.0") and (.last_run.to == "0.2.0")' <<<"$output"
}

@test "status after a failed run: last_run says rolled_back, still pending" {
	two_versions
	step 0.1.0 0.2.0 002_bad "INSERT INTO nowhere VALUES (1);"
	run ferry up
	[ "$status" -eq 1 ]
	run --separate-stderr ferry --json status
	[ "$status" -eq 0 ]
	jq -e '(.current == "0.0.0") and (.pending_steps == 4) and (.last_run.status == "rolled_back")
		and (.interrupted == false)' <<<"$output"
}

@test "status counts only the steps still pending after a partial up" {
	two_versions
	ferry up 0.1.0
	run --separate-stderr ferry --json status
	jq -e '(.current == "0.1.0") and (.pending_steps == 1)
		and (.pending_transitions == [{"from":"0.1.0","to":"0.2.0"}])' <<<"$output"
}

# ---- list ----

@test "list: every step pending before up, applied after, with --json keys" {
	two_versions
	run ferry list
	[ "$status" -eq 0 ]
	[ "$(grep -c '^pending' <<<"$output")" -eq 3 ]
	[[ "$output" == *"0.1.0/001_users.sql"* ]]
	ferry up
	run --separate-stderr ferry --json list
	[ "$status" -eq 0 ]
	[ "$(jq '.steps | length' <<<"$output")" -eq 3 ]
	for k in id from to kind state checksum applied_at duration_ms; do
		[ "$(jq --arg k "$k" '[.steps[] | has($k)] | all' <<<"$output")" = true ]
	done
	[ "$(jq -r '[.steps[].state] | unique | .[]' <<<"$output")" = applied ]
	jq -e '.steps[0] | (.id == "0.1.0/001_users.sql") and (.from == "0.0.0") and (.to == "0.1.0")
		and (.kind == "sql") and (.duration_ms | type == "number")' <<<"$output"
	rfc3339 "$(jq -r '.steps[2].applied_at' <<<"$output")"
}

@test "list: the checksum is sha256: and the hex SHA-256 of the file" {
	two_versions
	run --separate-stderr ferry --json list
	want="sha256:$(sha256sum "$ROOT/migrations/v0.1.0_to_v0.2.0/001_tags.sql" | cut -d' ' -f1)"
	[ "$(jq -r '.steps[] | select(.id == "0.2.0/001_tags.sql") | .checksum' <<<"$output")" = "$want" ]
}

@test "list: a CRLF checkout has the same checksum as the LF file (no drift)" {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	f="$ROOT/migrations/v0.0.0_to_v0.1.0/001_a.sql"
	want="sha256:$(sha256sum "$f" | cut -d' ' -f1)"
	ferry up
	sed -i 's/$/\r/' "$f"
	run --separate-stderr ferry --json list
	[ "$(jq -r '.steps[0].checksum' <<<"$output")" = "$want" ]
	[ "$(jq -r '.steps[0].state' <<<"$output")" = applied ]
}

@test "list: a step whose check says done is skipped" {
	make_install
	put_step 0.0.0 0.1.0 001_maybe <<'SQL'
-- ferry:up
CREATE TABLE maybe(x);
-- ferry:check
SELECT 0;
SQL
	ferry up
	run ferry list
	[[ "$output" == *"skipped"*"0.1.0/001_maybe.sql"* ]]
	run --separate-stderr ferry --json list
	[ "$(jq -r '.steps[0].state' <<<"$output")" = skipped ]
}

@test "list: rolled_back after down, changed after an edit, missing after a delete" {
	two_versions
	ferry up
	ferry down 0.1.0
	echo "-- an edit" >>"$ROOT/migrations/v0.0.0_to_v0.1.0/001_users.sql"
	rm "$ROOT/migrations/v0.0.0_to_v0.1.0/002_posts.sql"
	run --separate-stderr ferry --json list
	[ "$status" -eq 0 ]
	state() { jq -r --arg id "$1" '.steps[] | select(.id == $id) | .state' <<<"$output"; }
	[ "$(state 0.1.0/001_users.sql)" = changed ]
	[ "$(state 0.1.0/002_posts.sql)" = missing ]
	[ "$(state 0.2.0/001_tags.sql)" = rolled_back ]
	run ferry list
	[[ "$output" == *"changed"*"0.1.0/001_users.sql"* ]]
	[[ "$output" == *"missing"*"0.1.0/002_posts.sql"* ]]
	[[ "$output" == *"rolled_back"*"0.2.0/001_tags.sql"* ]]
}

@test "list: steps of a path not taken are bypassed" {
	make_install 0.1.0
	step 0.1.0 0.2.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	step 0.2.0 0.3.0 001_b "CREATE TABLE b(x);" "DROP TABLE b;"
	step 0.1.x 0.3.0 001_all "CREATE TABLE a(x); CREATE TABLE b(x);" "DROP TABLE b; DROP TABLE a;"
	echo "estimated_duration_seconds: 1" | put_meta 0.1.x 0.3.0
	echo "estimated_duration_seconds: 10" | put_meta 0.1.0 0.2.0
	ferry up
	run --separate-stderr ferry --json list
	state() { jq -r --arg id "$1" '.steps[] | select(.id == $id) | .state' <<<"$output"; }
	[ "$(state 0.3.0/001_all.sql)" = applied ]
	[ "$(state 0.2.0/001_a.sql)" = bypassed ]
	[ "$(state 0.3.0/001_b.sql)" = bypassed ]
}

@test "list with no steps says so" {
	make_install
	run ferry list
	[ "$status" -eq 0 ]
	[[ "$output" == *"no steps"* ]]
	run --separate-stderr ferry --json list
	[ "$(jq -c .steps <<<"$output")" = "[]" ]
}

# ---- history ----

@test "history: no runs yet" {
	make_install
	run ferry history
	[ "$status" -eq 0 ]
	[[ "$output" == *"no runs"* ]]
	run --separate-stderr ferry --json history
	[ "$(jq -c .runs <<<"$output")" = "[]" ]
}

@test "history: runs newest first with outcome and --json keys" {
	two_versions
	ferry up 0.1.0
	step 0.1.0 0.2.0 002_bad "INSERT INTO nowhere VALUES (1);"
	run ferry up
	[ "$status" -eq 1 ]
	ferry down 0.0.0
	run --separate-stderr ferry --json history
	[ "$status" -eq 0 ]
	[ "$(jq '.runs | length' <<<"$output")" -eq 3 ]
	for k in id started_at finished_at from to status backup_id; do
		[ "$(jq --arg k "$k" '[.runs[] | has($k)] | all' <<<"$output")" = true ]
	done
	# newest first: the down, the failed up, the first up
	jq -e '.runs[0] | (.from == "0.1.0") and (.to == "0.0.0") and (.status == "success")' <<<"$output"
	jq -e '.runs[1] | (.from == "0.1.0") and (.to == "0.2.0") and (.status == "rolled_back")' <<<"$output"
	jq -e '.runs[2] | (.from == "0.0.0") and (.to == "0.1.0") and (.status == "success")' <<<"$output"
	[ "$(jq '.runs[0].id > .runs[2].id' <<<"$output")" = true ]
	rfc3339 "$(jq -r '.runs[1].started_at' <<<"$output")"
	rfc3339 "$(jq -r '.runs[1].finished_at' <<<"$output")"
	run ferry history
	[ "$status" -eq 0 ]
	[[ "$output" == *"0.1.0 -> 0.2.0"*"rolled_back"* ]]
	[[ "$output" == *"0.0.0 -> 0.1.0"*"success"* ]]
	[[ "$output" == *"nowhere"* ]]     # the failure's message
}

@test "history --versions: the notes of versions.yaml, the current one marked" {
	two_versions
	cat >"$ROOT/migrations/versions.yaml" <<'YAML'
versions:
  - version: "0.1.0"
    notes: Users and posts.
  - version: "0.2.0"
    notes: Tags.
  - version: "0.2.1"
    notes: A patch release.
YAML
	ferry up 0.1.0
	run ferry history --versions
	[ "$status" -eq 0 ]
	[[ "$output" == *"0.1.0"*"Users and posts."*"current"* ]]
	[[ "$output" == *"0.2.1"*"A patch release."* ]]
	run --separate-stderr ferry --json history --versions
	[ "$status" -eq 0 ]
	jq -e '[.versions[].version] | index("0.2.1") != null' <<<"$output"
	jq -e '.versions[] | select(.version == "0.2.0") | .notes == "Tags."' <<<"$output"
	[ "$(jq -r '.versions[] | select(.current) | .version' <<<"$output")" = 0.1.0 ]
}

# ---- history RUN ----

@test "history RUN --json: the run as history has it, then its steps in order" {
	two_versions
	ferry up >/dev/null 2>&1
	run --separate-stderr ferry --json history
	entry=$(jq -c '.runs[0]' <<<"$output")
	run --separate-stderr ferry --json history 1
	[ "$status" -eq 0 ]
	[ "$(jq -c '.run' <<<"$output")" = "$entry" ]
	[ "$(jq -r '[.steps[].id] | join(" ")' <<<"$output")" = \
		"0.1.0/001_users.sql 0.1.0/002_posts.sql 0.2.0/001_tags.sql" ]
	jq -e '[.steps[] | (.status == "applied") and (.duration_ms >= 0)
		and has("message")] | all' <<<"$output"
	run ferry history 1
	[ "$status" -eq 0 ]
	[[ "$output" == *"applied"*"0.1.0/001_users.sql"*"applied"*"0.2.0/001_tags.sql"* ]]
}

@test "history RUN and --versions together: exit 2" {
	two_versions
	run ferry history 1 --versions
	[ "$status" -eq 2 ]
}
