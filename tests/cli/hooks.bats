#!/usr/bin/env bats
# Service hooks in a run (SPEC section 6 steps 6 and 9): stop before the
# first step of a breaking or restarting plan, restarts, start, health;
# a hook that fails at any point leaves the installation at the old
# version with the service started again.

setup() {
	load helpers
	make_install
	cat >>"$ROOT/ferry.yaml" <<'YAML'
hooks:
  stop: echo stop >> hooks.log
  start: echo start >> hooks.log
  health: test -f healthy && echo health >> hooks.log
  restart:
    api: echo restart-api >> hooks.log
YAML
	touch "$ROOT/healthy"
	step 0.0.0 0.1.0 001_a "CREATE TABLE a (x);" "DROP TABLE a;"
	ferry up 0.1.0
	rm -f "$ROOT/hooks.log"
	step 0.1.0 0.2.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	cat >"$ROOT/migrations/v0.1.0_to_v0.2.0/transition.yaml" <<'YAML'
breaking_changes: true
requires_restart: [api]
YAML
	BEFORE=$(dump)
}

hooks_log() { tr '\n' ' ' <"$ROOT/hooks.log" 2>/dev/null; }

@test "hooks: stop, steps, restart, start, health in that order; plan lists them" {
	run ferry --json plan
	[ "$(echo "$output" | jq -r '.hooks | join(",")')" = "stop,restart.api,start,health" ]
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(hooks_log)" = "stop restart-api start health " ]
	[ "$(ferry version)" = 0.2.0 ]
}

@test "hooks: --no-hooks runs none" {
	run ferry up --no-hooks
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/hooks.log" ]
	[ "$(ferry version)" = 0.2.0 ]
}

@test "hooks: a plan that is neither breaking nor restarting does not stop the service" {
	rm "$ROOT/migrations/v0.1.0_to_v0.2.0/transition.yaml"
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(hooks_log)" = "health " ]
}

@test "hooks: a failing stop changes nothing and starts the service again (exit 1)" {
	sed -i 's/  stop: echo stop >> hooks.log/  stop: echo stop >> hooks.log; exit 3/' "$ROOT/ferry.yaml"
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"stop"* ]]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(dump)" = "$BEFORE" ]
	[ "$(hooks_log)" = "stop start " ]
}

@test "hooks: a failing restart rolls the run back and starts the service again" {
	sed -i 's/    api: echo restart-api >> hooks.log/    api: echo restart-api >> hooks.log; false/' "$ROOT/ferry.yaml"
	run ferry up
	[ "$status" -eq 1 ]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(dump)" = "$BEFORE" ]
	# The restart may have brought the new version up: stopped before the undo.
	[ "$(hooks_log)" = "stop restart-api stop start health " ]
}

@test "hooks: a failing start rolls the run back and tries to start the old version" {
	sed -i 's/  start: echo start >> hooks.log/  start: echo start >> hooks.log; test -f started-once || { touch started-once; exit 1; }/' "$ROOT/ferry.yaml"
	run ferry up
	[ "$status" -eq 1 ]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(dump)" = "$BEFORE" ]
	[ "$(hooks_log)" = "stop restart-api start stop start health " ]
}

@test "hooks: a failing health check (retried) rolls the run back, the service stopped meanwhile" {
	rm "$ROOT/healthy"
	# The old version is healthy again once the rollback stopped the new one.
	sed -i 's/^  stop: echo stop >> hooks.log$/  stop: echo stop >> hooks.log; if [ -f s1 ]; then touch healthy; fi; touch s1/' "$ROOT/ferry.yaml"
	start=$(date +%s)
	run ferry up
	[ "$status" -eq 1 ]
	[ $(( $(date +%s) - start )) -ge 25 ] # retried for about 30 s
	[[ "$output" == *"health"* ]]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(dump)" = "$BEFORE" ]
	# Stopped before the undo, started and checked again after it.
	[[ "$(hooks_log)" == "stop restart-api start stop start health " ]]
}
