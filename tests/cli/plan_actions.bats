#!/usr/bin/env bats
# The plan is the program (SPEC section 5, `actions`): `plan --json` lists
# every action a run takes, in order; `up --json` lists what it executed;
# for a successful run the two lists are equal (kind, id/hook/version,
# database, transaction, order), and what they say is checked against the
# real state: the hooks' own log, the database dump, the files. A failing
# run executes its actions up to the failing one, then exactly the plan of
# its rollback. `up --plan FILE` runs a saved plan, or refuses (exit 2)
# saying what moved.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	make_install
	cat >>"$ROOT/ferry.yaml" <<'YAML'
hooks:
  stop: echo stop >> hooks.log
  start: echo start >> hooks.log
  health: echo health >> hooks.log
  restart:
    api: echo restart.api >> hooks.log
YAML
	step 0.0.0 1.0.0 001_a "CREATE TABLE a (x);" "DROP TABLE a;"
	ferry up 1.0.0 >/dev/null
	rm -f "$ROOT/hooks.log"
}

# The identity of each action, one line each: what must agree between plan and run.
shape() { jq -r '.actions[] | [.kind, (.id // .hook // .version // .type // ""),
	(.database // "-"), (.transaction // "-")] | join(" ")'; }
hooks_log() { tr '\n' ' ' <"$ROOT/hooks.log" 2>/dev/null; }

# plan_equals_run ARGS...: plan and up with the same arguments; the lists must match.
plan_equals_run() {
	run --separate-stderr ferry --json plan "$@"
	[ "$status" -eq 0 ]
	PLAN=$(echo "$output" | shape)
	run --separate-stderr ferry --json up "$@"
	[ "$status" -eq 0 ]
	RUN=$(echo "$output" | shape)
	if [ "$PLAN" != "$RUN" ]; then
		echo "# plan:"; echo "$PLAN" | sed 's/^/#   /'
		echo "# run:"; echo "$RUN" | sed 's/^/#   /'
		return 1
	fi
	[ "$(echo "$output" | jq -r '[.actions[].status] | map(select(. == "failed")) | length')" = 0 ]
}

@test "actions: a patch release with no steps and a health hook: the plan shows the hook that runs" {
	run --separate-stderr ferry --json plan 1.0.1
	[ "$(echo "$output" | shape | paste -sd ';' -)" = "version 1.0.1 - -;hook health - -" ]
	[ "$(echo "$output" | jq -r '.hooks | join(",")')" = "health" ]
	plan_equals_run 1.0.1
	[ "$(hooks_log)" = "health " ]
	[ "$(ferry version)" = 1.0.1 ]
	# The human plan shows the same list.
	run ferry plan 1.0.2
	[[ "$output" == *"1. version"*"1.0.2"* ]]
	[[ "$output" == *"2. hook"*"health"* ]]
}

@test "actions: a breaking transition with restarts: backup, stop, step, commit, version, restart, start, health" {
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	printf 'breaking_changes: true\nrequires_restart: [api]\n' \
		>"$ROOT/migrations/v1.0.0_to_v2.0.0/transition.yaml"
	run --separate-stderr ferry --json plan
	[ "$(echo "$output" | shape | paste -sd ';' -)" = "backup pre-run - -;hook stop - -;step 2.0.0/001_b.sql main 1;commit  main 1;version 2.0.0 - -;hook restart.api - -;hook start - -;hook health - -" ]
	plan_equals_run
	[ "$(hooks_log)" = "stop restart.api start health " ]
	[ "$(main_tables)" = "a b" ]
	[ "$(ferry version)" = 2.0.0 ]
	[ "$(ls "$ROOT/.ferry/backups" | grep -c pre-run)" = 2 ] # the set-up's, and this run's
}

@test "actions: --no-hooks and --skip-backup shape the plan and the run alike" {
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	plan_equals_run --no-hooks --skip-backup
	[ "$(echo "$PLAN" | paste -sd ';' -)" = "step 2.0.0/001_b.sql main 1;commit  main 1;version 2.0.0 - -" ]
	[ ! -e "$ROOT/hooks.log" ]
	[ "$(ls "$ROOT/.ferry/backups" | grep -c pre-run)" = 1 ] # the set-up's only
}

@test "actions: --only and --rerun are planned as they run" {
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	step 1.0.0 2.0.0 002_c "INSERT INTO a VALUES (1);" "DELETE FROM a;"
	plan_equals_run --only 2.0.0/002_c.sql --no-hooks --skip-backup
	[ "$(echo "$PLAN" | paste -sd ';' -)" = "step 2.0.0/002_c.sql main 1;commit  main 1" ]
	[ "$(sql_main 'SELECT count(*) FROM a')" = 1 ]
	[ "$(main_tables)" = "a" ]
	[ "$(ferry version)" = 1.0.0 ]
	# --rerun of an applied step on the path: in its place, the rest as planned.
	plan_equals_run --rerun 2.0.0/002_c.sql --no-hooks --skip-backup 2.0.0
	[ "$(echo "$PLAN" | paste -sd ';' -)" = "step 2.0.0/001_b.sql main 1;step 2.0.0/002_c.sql main 1;commit  main 1;version 2.0.0 - -" ]
	[ "$(sql_main 'SELECT count(*) FROM a')" = 2 ]
	[ "$(ferry version)" = 2.0.0 ]
	# --rerun of a step the path no longer holds (already passed): it alone.
	plan_equals_run --rerun 2.0.0/002_c.sql --no-hooks --skip-backup
	[ "$(echo "$PLAN" | paste -sd ';' -)" = "step 2.0.0/002_c.sql main 1;commit  main 1" ]
	[ "$(sql_main 'SELECT count(*) FROM a')" = 3 ]
}

@test "actions: --checkpoint-each-version: a commit, a version and a backup after each transition" {
	step 1.0.0 1.1.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	step 1.1.0 1.2.0 001_c "CREATE TABLE c (x);" "DROP TABLE c;"
	plan_equals_run --checkpoint-each-version --no-hooks
	[ "$(echo "$PLAN" | paste -sd ';' -)" = "backup pre-run - -;step 1.1.0/001_b.sql main 1;commit  main 1;version 1.1.0 - -;backup 1.1.0 - -;step 1.2.0/001_c.sql main 2;commit  main 2;version 1.2.0 - -" ]
	[ "$(ls "$ROOT/.ferry/backups" | grep -c checkpoint)" = 1 ]
	[ "$(main_tables)" = "a b c" ]
}

@test "actions: SQL, ops and script steps on two databases: groups end where the database or kind changes" {
	cat >>"$ROOT/ferry.yaml" <<'YAML'
YAML
	sed -i 's|  main: sqlite:data/app.db|  main: sqlite:data/app.db\n  logs: sqlite:data/logs.db|' "$ROOT/ferry.yaml"
	echo '{"a": 1}' >"$ROOT/app.json"
	d="$ROOT/migrations/v1.0.0_to_v2.0.0"
	mkdir -p "$d"
	printf -- '-- ferry:up\nCREATE TABLE m1 (x);\n-- ferry:down\nDROP TABLE m1;\n' >"$d/001_m1.sql"
	printf -- '-- ferry:up\nCREATE TABLE m2 (x);\n-- ferry:down\nDROP TABLE m2;\n' >"$d/002_m2.sql"
	printf -- '-- ferry:database logs\n-- ferry:up\nCREATE TABLE l1 (x);\n-- ferry:down\nDROP TABLE l1;\n' >"$d/003_l1.sql"
	printf 'ops:\n  - set: {file: app.json, path: b, value: 2}\n' >"$d/004_cfg.yaml"
	printf '#!/bin/sh\ncase "$1" in forward) echo done > script.out;; backward) rm -f script.out;; check) exit 0;; esac\n' >"$d/005_s.sh"
	chmod +x "$d/005_s.sh"
	printf -- '-- ferry:up\nCREATE TABLE m3 (x);\n-- ferry:down\nDROP TABLE m3;\n' >"$d/006_m3.sql"
	plan_equals_run --no-hooks --skip-backup
	[ "$(echo "$PLAN" | paste -sd ';' -)" = "step 2.0.0/001_m1.sql main 1;step 2.0.0/002_m2.sql main 1;commit  main 1;step 2.0.0/003_l1.sql logs 2;commit  logs 2;step 2.0.0/004_cfg.yaml - -;step 2.0.0/005_s.sh - -;step 2.0.0/006_m3.sql main 3;commit  main 3;version 2.0.0 - -" ]
	[ "$(main_tables)" = "a m1 m2 m3" ]
	[ "$(sqlite3 "$ROOT/data/logs.db" "SELECT name FROM sqlite_master WHERE name = 'l1'")" = l1 ]
	[ "$(jq -c . "$ROOT/app.json")" = '{"a":1,"b":2}' ]
	[ "$(cat "$ROOT/script.out")" = done ]
}

@test "actions: transaction: step commits after each step, in the plan as in the run" {
	sed -i 's/^app: testapp/app: testapp\ntransaction: step/' "$ROOT/ferry.yaml"
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	step 1.0.0 2.0.0 002_c "CREATE TABLE c (x);" "DROP TABLE c;"
	plan_equals_run --no-hooks --skip-backup
	[ "$(echo "$PLAN" | paste -sd ';' -)" = "step 2.0.0/001_b.sql main 1;commit  main 1;step 2.0.0/002_c.sql main 2;commit  main 2;version 2.0.0 - -" ]
}

@test "actions: a failing run executes up to the failing action, then exactly the plan of its undo" {
	sed -i 's/^app: testapp/app: testapp\ntransaction: step/' "$ROOT/ferry.yaml"
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	step 1.0.0 2.0.0 002_c "CREATE TABLE c (x);" "DROP TABLE c;"
	step 1.0.0 2.0.0 003_bad "INSERT INTO nowhere VALUES (1);"
	BEFORE=$(dump)
	run --separate-stderr ferry --json plan --skip-backup
	PLAN=$(echo "$output" | shape)
	run --separate-stderr ferry --json up --skip-backup
	[ "$status" -eq 1 ]
	doc=$output
	# Executed: the plan's actions up to and with the failing one, which is marked failed.
	n=$(echo "$doc" | jq '[.actions[] | select(.status == "failed")] | length')
	[ "$n" = 1 ]
	k=$(echo "$doc" | jq '[.actions[].status] | index("failed")')
	[ "$(echo "$doc" | jq -r ".actions[$k].id")" = "2.0.0/003_bad.sql" ]
	[ "$(echo "$doc" | jq -r ".actions[:$((k + 1))][] | [.kind, (.id // .hook // .version // .type // \"\"), (.database // \"-\"), (.transaction // \"-\")] | join(\" \")")" = "$(echo "$PLAN" | head -$((k + 1)))" ]
	# Then exactly the undo plan the document carries.
	[ "$(echo "$doc" | jq -c "[.actions[$((k + 1)):][] | {kind, id, database, transaction}]")" = \
	  "$(echo "$doc" | jq -c '[.undo_plan[] | {kind, id, database, transaction}]')" ]
	[ "$(echo "$doc" | jq -r '[.undo_plan[].kind] | join(",")')" = "rollback,undo,commit,undo,commit" ]
	[ "$(echo "$doc" | jq -r '[.undo_plan[] | .id // empty] | join(",")')" = "2.0.0/002_c.sql,2.0.0/001_b.sql" ]
	# And it happened: the database is as before, the record too, the service back up.
	[ "$(dump)" = "$BEFORE" ]
	[ "$(recorded_ids)" = "1.0.0/001_a.sql" ]
	[ "$(ferry version)" = 1.0.0 ]
	[ "$(hooks_log)" = "start health " ] || [ "$(hooks_log)" = "" ]
}

@test "actions: a failing health check stops the service, undoes, starts it and checks again" {
	# Unhealthy while table b (the new version) exists; retried 30 s, then rolled back.
	sed -i 's/  health: echo health >> hooks.log/  health: echo health >> hooks.log; [ -z "$(sqlite3 data\/app.db "SELECT 1 FROM sqlite_master WHERE name = '"'b'"'")" ]/' "$ROOT/ferry.yaml"
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	run --separate-stderr ferry --json up --skip-backup
	[ "$status" -eq 1 ]
	[ "$(echo "$output" | jq -r '[.undo_plan[] | .kind + ":" + (.id // .hook // .version // "")] | join(",")')" = "hook:stop,undo:2.0.0/001_b.sql,commit:,version:1.0.0,hook:start,hook:health" ]
	# health (fails, retried), then stop, undo, start, health again (passes at once).
	[[ "$(hooks_log)" == "health health "*"health stop start health " ]]
	[ "$(main_tables)" = "a" ]
	[ "$(ferry version)" = 1.0.0 ]
}

@test "actions: --dry-run renders the plan's list and changes nothing" {
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	BEFORE=$(dump)
	run --separate-stderr ferry --json plan
	PLAN=$(echo "$output" | shape)
	run --separate-stderr ferry --json up --dry-run
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | shape)" = "$PLAN" ]
	[ "$(dump)" = "$BEFORE" ]
	[ ! -e "$ROOT/hooks.log" ]
	run ferry up --dry-run
	[[ "$output" == *"what the run would do, in order:"* ]]
	[[ "$output" == *"commit"*"main, transaction 1"* ]]
}

@test "actions: up --plan FILE runs exactly the saved plan" {
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	ferry --json plan --no-hooks >"$BATS_TEST_TMPDIR/p.json"
	run --separate-stderr ferry --json up --plan "$BATS_TEST_TMPDIR/p.json"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | shape)" = "$(shape <"$BATS_TEST_TMPDIR/p.json")" ]
	[ ! -e "$ROOT/hooks.log" ]
	[ "$(main_tables)" = "a b" ]
	# Run again: the version moved.
	run ferry up --plan "$BATS_TEST_TMPDIR/p.json"
	[ "$status" -eq 2 ]
	[[ "$output" == *"the version moved"* ]]
	[ "$(main_tables)" = "a b" ]
	# --plan with options that shape a plan is a usage error.
	run ferry up --plan "$BATS_TEST_TMPDIR/p.json" --no-hooks
	[ "$status" -eq 2 ]
}

@test "actions: up --plan refuses when the catalog, the registry or the configuration moved" {
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	ferry --json plan >"$BATS_TEST_TMPDIR/p.json"
	BEFORE=$(dump)
	# The catalog: the step's file changed.
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x, y);" "DROP TABLE b;"
	run ferry up --plan "$BATS_TEST_TMPDIR/p.json"
	[ "$status" -eq 2 ]
	[[ "$output" == *"the catalog moved"* ]]
	[ "$(dump)" = "$BEFORE" ]
	# The registry: a step applied meanwhile (here by --only).
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	step 1.0.0 2.0.0 002_c "CREATE TABLE c (x);" "DROP TABLE c;"
	ferry --json plan >"$BATS_TEST_TMPDIR/p.json"
	ferry up --only 2.0.0/002_c.sql --no-hooks --skip-backup >/dev/null
	run ferry up --plan "$BATS_TEST_TMPDIR/p.json"
	[ "$status" -eq 2 ]
	[[ "$output" == *"the registry moved"* ]]
	# The configuration: the hooks changed.
	ferry --json plan >"$BATS_TEST_TMPDIR/p.json"
	sed -i '/  health:/d' "$ROOT/ferry.yaml"
	run ferry up --plan "$BATS_TEST_TMPDIR/p.json"
	[ "$status" -eq 2 ]
	[[ "$output" == *"configuration moved"* ]]
	[ "$(ferry version)" = 1.0.0 ]
	# Not a plan at all.
	echo '{}' >"$BATS_TEST_TMPDIR/bad.json"
	run ferry up --plan "$BATS_TEST_TMPDIR/bad.json"
	[ "$status" -eq 2 ]
}

@test "actions: down plans and reports its undo actions" {
	step 1.0.0 2.0.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	ferry up --no-hooks --skip-backup >/dev/null
	run --separate-stderr ferry --json down --dry-run 1.0.0
	[ "$(echo "$output" | jq -r '[.actions[] | .kind + ":" + (.id // .version // "")] | join(",")')" = "undo:2.0.0/001_b.sql,commit:,version:1.0.0" ]
	DRY=$(echo "$output" | jq -c '[.actions[] | {kind, id, database, transaction}]')
	run --separate-stderr ferry --json down 1.0.0
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -c '[.actions[] | {kind, id, database, transaction}]')" = "$DRY" ]
	[ "$(main_tables)" = "a" ]
	[ "$(ferry version)" = 1.0.0 ]
}

@test "actions: the plan names the applied steps that drifted, as up then refuses them" {
	step 0.0.0 1.0.0 001_a "CREATE TABLE a (x, y);" "DROP TABLE a;"
	run --separate-stderr ferry --json plan
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.drift | length')" = 1 ]
	[[ "$(echo "$output" | jq -r '.drift[0]')" == "1.0.0/001_a.sql: changed since it was applied"* ]]
	BEFORE=$(dump)
	run ferry up
	[ "$status" -eq 3 ]
	[[ "$output" == *"1.0.0/001_a.sql: changed since it was applied"* ]]
	[ "$(dump)" = "$BEFORE" ]
}
