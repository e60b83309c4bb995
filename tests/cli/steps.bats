#!/usr/bin/env bats
# steps.bats - script and ops steps through the real `ferry up`, `down` and
# `--dry-run` (SPEC section 4): a transition mixing SQL, ops and a script;
# files back byte for byte after down; a failing script undone by its
# backward and the run rolled back; a hanging script killed at its timeout;
# check's exit codes; a symlink out of the root refused; down from the
# recorded undo after the step files are gone.

bats_require_minimum_version 1.5.0
load helpers

# The installation at 0.1.0 with config files; transition 0.1.0 -> 0.2.0 of
# an ops step, an SQL step and a script.
mixed() {
	make_install
	mkdir -p "$ROOT/config" "$ROOT/data/old_index" "$ROOT/data/tmp"
	cat >"$ROOT/config/app.json" <<'JSON'
{
  "name": "demo",
  "ratio": 0.10,
  "legacy": {"flags": 3, "keep": true}
}
JSON
	cat >"$ROOT/config/app.yaml" <<'YAML'
# Database settings
db:
  path: data/app.db   # relative to the root
  timeout: 5
YAML
	printf '# secrets stay here\nexport SECRET=s3cr3t\n' >"$ROOT/.env"
	echo idx >"$ROOT/data/old_index/part1"
	echo scratch >"$ROOT/data/tmp/x"
	step 0.0.0 0.1.0 001_base "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);" \
		"DROP TABLE notes;"
	ferry up 0.1.0 >/dev/null
	local dir="$ROOT/migrations/v0.1.0_to_v0.2.0"
	mkdir -p "$dir"
	cat >"$dir/001_config.yaml" <<'YAML'
description: Privacy settings, the new database key, the index moved
ops:
  - set:    {file: config/app.json, path: privacy.level, value: public_full, if_missing: true}
  - delete: {file: config/app.json, path: legacy.flags}
  - rename: {file: config/app.yaml, from: db.path, to: db.url}
  - env:    {file: .env, key: BACKUP_ENABLED, value: "true", if_missing: true}
  - mkdir:  {path: data/cache, mode: "0750"}
  - move:   {from: data/old_index, to: data/index}
  - copy:   {from: config/app.json, to: config/app.json.orig, if_missing: true}
  - chmod:  {path: data/index, mode: "0700", recursive: true}
  - remove: {path: data/tmp}
YAML
	cat >"$dir/002_privacy.sql" <<'SQL'
-- ferry:up
ALTER TABLE notes ADD COLUMN privacy TEXT NOT NULL DEFAULT 'private';
-- ferry:down
ALTER TABLE notes DROP COLUMN privacy;
SQL
	cat >"$dir/003_reindex.sh" <<'SH'
#!/bin/sh
# ferry:timeout 60
case "$1" in
check) [ -f data/index/built ] && exit 1; exit 0 ;;
forward)
	echo "indexing with $(cat data/index/part1)"
	echo built >data/index/built
	env | grep '^FERRY_' | sort >script.env ;;
backward)
	rm -f data/index/built script.env ;;
esac
SH
	snapshot
}

# Copies of the files the steps touch, to compare byte for byte.
snapshot() {
	rm -rf "$BATS_TEST_TMPDIR/orig"
	mkdir -p "$BATS_TEST_TMPDIR/orig"
	(cd "$ROOT" && cp -a config .env data "$BATS_TEST_TMPDIR/orig/")
	rm -f "$BATS_TEST_TMPDIR/orig/data/app.db"
	MODES=$(cd "$ROOT" && find config data .env ! -name app.db -printf '%p %m\n' | sort)
}

same_as_snapshot() {
	local f
	for f in config/app.json config/app.yaml .env data/old_index/part1 data/tmp/x; do
		cmp "$ROOT/$f" "$BATS_TEST_TMPDIR/orig/$f" || { echo "differs: $f"; return 1; }
	done
	[ ! -e "$ROOT/data/index" ] || { echo "data/index is left"; return 1; }
	[ ! -e "$ROOT/data/cache" ] || { echo "data/cache is left"; return 1; }
	[ ! -e "$ROOT/config/app.json.orig" ] || { echo "the copy is left"; return 1; }
	[ "$(cd "$ROOT" && find config data .env ! -name app.db -printf '%p %m\n' | sort)" = "$MODES" ] ||
		{ echo "modes differ"; return 1; }
}

@test "steps: up runs ops, SQL and a script in order; down puts every byte back" {
	mixed
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.2.0 ]
	# ops
	[ "$(jq -r .privacy.level "$ROOT/config/app.json")" = public_full ]
	[ "$(jq -c .legacy "$ROOT/config/app.json")" = '{"keep":true}' ]
	grep -q '"ratio": 0.10,' "$ROOT/config/app.json"    # untouched text stays as written
	[ "$(cat "$ROOT/config/app.yaml")" = "# Database settings
db:
  url: data/app.db   # relative to the root
  timeout: 5" ]
	[ "$(cat "$ROOT/.env")" = "# secrets stay here
export SECRET=s3cr3t
BACKUP_ENABLED=true" ]
	[ "$(stat -c %a "$ROOT/data/cache")" = 750 ]
	[ "$(stat -c %a "$ROOT/data/index/part1")" = 700 ]
	[ ! -e "$ROOT/data/old_index" ] && [ ! -e "$ROOT/data/tmp" ]
	cmp "$ROOT/config/app.json.orig" "$BATS_TEST_TMPDIR/orig/config/app.json" ||
		[ "$(jq -r .privacy.level "$ROOT/config/app.json.orig")" = public_full ]
	# sql, then the script, which saw the moved index
	[ "$(sql_main "SELECT count(*) FROM pragma_table_info('notes') WHERE name = 'privacy'")" = 1 ]
	[ "$(cat "$ROOT/data/index/built")" = built ]
	[ "$(recorded_ids)" = $'0.1.0/001_base.sql\n0.2.0/002_privacy.sql' ]
	run --separate-stderr ferry --json list
	[ "$(jq -r '[.steps[] | select(.to == "0.2.0") | "\(.kind):\(.state)"] | join(" ")' <<<"$output")" = \
		"ops:applied sql:applied script:applied" ]

	run ferry down 0.1.0
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.1.0 ]
	same_as_snapshot
	[ ! -e "$ROOT/script.env" ]
	[ "$(sql_main "SELECT count(*) FROM pragma_table_info('notes') WHERE name = 'privacy'")" = 0 ]

	# and up again: the same result
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(jq -r .privacy.level "$ROOT/config/app.json")" = public_full ]
}

@test "steps: a script gets the root, FERRY_* variables, and its output reaches the log" {
	mixed
	run ferry -v up
	[ "$status" -eq 0 ]
	grep -qx "FERRY_ROOT=$(cd "$ROOT" && pwd -P)" "$ROOT/script.env" ||
		grep -qx "FERRY_ROOT=$ROOT" "$ROOT/script.env"
	grep -qx 'FERRY_FROM=0.1.0' "$ROOT/script.env"
	grep -qx 'FERRY_TO=0.2.0' "$ROOT/script.env"
	grep -qx 'FERRY_STEP=0.2.0/003_reindex.sh' "$ROOT/script.env"
	grep -qx 'FERRY_DRY_RUN=0' "$ROOT/script.env"
	grep -q '^FERRY_DB_MAIN=.*data/app.db$' "$ROOT/script.env"
	[[ "$output" == *"indexing with idx"* ]]
	grep -q 'indexing with idx' "$ROOT/.ferry/log/ferry.log"
}

@test "steps: --dry-run shows each file's diff and the script's command, changes nothing" {
	mixed
	run ferry up --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *"--- a/config/app.json"*"+++ b/config/app.json"* ]]
	[[ "$output" == *'+  "privacy": {'* ]]
	[[ "$output" == *'-  "legacy": {"flags": 3, "keep": true}'* ]]
	[[ "$output" == *"-  path: data/app.db   # relative to the root"* ]]
	[[ "$output" == *"+  url: data/app.db   # relative to the root"* ]]
	[[ "$output" == *"+BACKUP_ENABLED=<redacted>"* ]] # a .env value is never shown
	[[ "$output" == *"move data/old_index to data/index"* ]]
	[[ "$output" == *"FERRY_STEP='0.2.0/003_reindex.sh'"* ]]
	[[ "$output" == *"003_reindex.sh' forward"* ]]
	same_as_snapshot
	[ ! -e "$ROOT/script.env" ]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(recorded_ids)" = "0.1.0/001_base.sql" ]
}

@test "steps: a script that fails half-way is undone by its backward; the run rolls back" {
	mixed
	cat >"$ROOT/migrations/v0.1.0_to_v0.2.0/003_reindex.sh" <<'SH'
#!/bin/sh
case "$1" in
forward)
	echo half >data/index/half
	echo 'out of disk space' >&2
	exit 3 ;;
backward)
	rm -f data/index/half ;;
esac
SH
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"'forward' exited with status 3; its last output: 'out of disk space'; its backward ran and undid what it had done"* ]]
	[[ "$output" == *"rolled back"* ]]
	[ "$(ferry version)" = 0.1.0 ]
	same_as_snapshot
	[ "$(sql_main "SELECT count(*) FROM pragma_table_info('notes') WHERE name = 'privacy'")" = 0 ]
	[ "$(recorded_ids)" = "0.1.0/001_base.sql" ]
}

@test "steps: a hanging script is killed at its timeout and the run rolls back" {
	mixed
	cat >"$ROOT/migrations/v0.1.0_to_v0.2.0/003_reindex.sh" <<'SH'
# ferry:timeout 2
case "$1" in
forward) sleep 60 & echo $! >child.pid; sleep 60 ;;
esac
SH
	SECONDS=0
	run ferry up
	[ "$status" -eq 1 ]
	[ "$SECONDS" -lt 30 ]
	[[ "$output" == *"'forward' timed out after 2 s (its process group was killed)"* ]]
	! kill -0 "$(cat "$ROOT/child.pid")" 2>/dev/null
	[ "$(ferry version)" = 0.1.0 ]
	same_as_snapshot
}

@test "steps: check exit 1 skips a script, anything but 0 or 1 fails the run" {
	mixed
	mkdir -p "$ROOT/data/index" && touch "$ROOT/data/index/built"
	rm -rf "$ROOT/data/old_index"
	run ferry up
	[ "$status" -eq 0 ]
	run --separate-stderr ferry --json list
	[ "$(jq -r '.steps[] | select(.id == "0.2.0/003_reindex.sh") | .state' <<<"$output")" = skipped ]
	[ ! -e "$ROOT/script.env" ]

	ferry down 0.1.0
	printf '#!/bin/sh\nexit 7\n' >"$ROOT/migrations/v0.1.0_to_v0.2.0/003_reindex.sh"
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"'check' exited with status 7 (check exits 0 when the step is needed, 1 when it is done"* ]]
}

@test "steps: an op through a symlink out of the root is refused, nothing outside changes" {
	mixed
	mkdir -p "$BATS_TEST_TMPDIR/outside"
	echo '{"a": 1}' >"$BATS_TEST_TMPDIR/outside/app.json"
	ln -s "$BATS_TEST_TMPDIR/outside" "$ROOT/config/ext"
	cat >>"$ROOT/migrations/v0.1.0_to_v0.2.0/001_config.yaml" <<'YAML'
  - set: {file: config/ext/app.json, path: a, value: 2}
YAML
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"001_config.yaml:12: op 'set': 'config/ext/app.json' leads outside the root through the symlink 'config/ext'"* ]]
	[ "$(cat "$BATS_TEST_TMPDIR/outside/app.json")" = '{"a": 1}' ]
	rm "$ROOT/config/ext"
	same_as_snapshot
	[ "$(ferry version)" = 0.1.0 ]
}

@test "steps: invalid ops files are reported with file and line before anything runs" {
	mixed
	cat >"$ROOT/migrations/v0.1.0_to_v0.2.0/001_config.yaml" <<'YAML'
ops:
  - sett: {file: config/app.json, path: a, value: 1}
  - set: {file: ../x.json, path: a, value: 1}
YAML
	run ferry up
	[ "$status" -eq 2 ]
	[[ "$output" == *"001_config.yaml:2: unknown op 'sett'"* ]]
	[[ "$output" == *"001_config.yaml:3: op 'set': 'file' must be a path inside the root"* ]]
	same_as_snapshot
	[ "$(ferry version)" = 0.1.0 ]
}

@test "steps: down works from the recorded undo after the step files are gone" {
	mixed
	ferry up >/dev/null
	# a later release changed the script and dropped the ops file
	rm "$ROOT/migrations/v0.1.0_to_v0.2.0/001_config.yaml"
	printf '#!/bin/sh\nexit 9\n' >"$ROOT/migrations/v0.1.0_to_v0.2.0/003_reindex.sh"
	run ferry down 0.1.0
	[ "$status" -eq 0 ]
	same_as_snapshot
	[ ! -e "$ROOT/script.env" ]
}

@test "steps: flat scripts, executables of any name and .yml ops are steps" {
	make_install
	printf 'echo flat >flat.txt\n' >"$ROOT/migrations/1.0.0_flat.sh"
	printf '#!/bin/sh\n[ "$1" = forward ] && echo tool >tool.txt\nexit 0\n' >"$ROOT/migrations/1.1.0_tool"
	chmod +x "$ROOT/migrations/1.1.0_tool"
	printf 'ops:\n  - env: {file: .env, key: A, value: "1"}\n' >"$ROOT/migrations/1.2.0_env.yml"
	run --separate-stderr ferry --json plan
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.transitions[].steps[].kind] | join(" ")' <<<"$output")" = "script script ops" ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(cat "$ROOT/flat.txt")" = flat ]
	[ "$(cat "$ROOT/tool.txt")" = tool ]
	[ "$(cat "$ROOT/.env")" = A=1 ]
	echo x >"$ROOT/migrations/1.3.0_notes.txt"
	run ferry plan
	[ "$status" -eq 2 ]
	[[ "$output" == *"cannot tell the step kind of 'migrations/1.3.0_notes.txt' (this build runs SQL steps *.sql, ops steps *.yaml or *.yml, and script steps *.sh or any executable file)"* ]]
}
