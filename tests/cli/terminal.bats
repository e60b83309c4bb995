#!/usr/bin/env bats
# terminal.bats - the conventions of the terminal (issue 13, points 3 and 4):
# colors decided per stream, -q never hides a result, --json for every
# command (unlock too) and for usage errors, history RUN and durations, and
# the shell completion made from the command and option tables.

bats_require_minimum_version 1.5.0
load helpers

# 0.0.0 -> 0.1.0 -> 0.2.0, one step each.
small() {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	step 0.1.0 0.2.0 001_b "CREATE TABLE b(x);" "DROP TABLE b;"
}

has_esc() { [[ "$1" == *$'\033'* ]]; }

# Runs a command line on a pseudo-terminal: stdout and stderr are terminals
# unless the line redirects them.
on_tty() { script -qfc "$1" /dev/null; }

# ---- colors, per stream ----

@test "colors on a terminal; stdout redirected to a file gets none" {
	small
	ferry up >/dev/null 2>&1
	out=$(on_tty "$FERRY -C $ROOT list")
	has_esc "$out"
	[[ "$out" == *"0.1.0/001_a.sql"* ]]
	on_tty "$FERRY -C $ROOT list > $BATS_TEST_TMPDIR/out" >/dev/null
	grep -q "0.1.0/001_a.sql" "$BATS_TEST_TMPDIR/out"
	! grep -q $'\033' "$BATS_TEST_TMPDIR/out" || false
	on_tty "$FERRY -C $ROOT status > $BATS_TEST_TMPDIR/st" >/dev/null
	grep -q "up to date" "$BATS_TEST_TMPDIR/st"
	! grep -q $'\033' "$BATS_TEST_TMPDIR/st" || false
}

@test "stderr is decided by its own terminal: redirected, no codes; stdout still colored" {
	small
	out=$(on_tty "$FERRY -C $ROOT up 2> $BATS_TEST_TMPDIR/err")
	grep -q "0.1.0/001_a.sql" "$BATS_TEST_TMPDIR/err"
	! grep -q $'\033' "$BATS_TEST_TMPDIR/err" || false
	# stdout, a terminal, keeps its colors
	out=$(on_tty "$FERRY -C $ROOT status 2> $BATS_TEST_TMPDIR/err2")
	has_esc "$out"
	# and the other way round: stderr a terminal, stdout a file
	out=$(on_tty "$FERRY -C $ROOT down 0.1.0 > $BATS_TEST_TMPDIR/o")
	has_esc "$out"
	! grep -q $'\033' "$BATS_TEST_TMPDIR/o" || false
}

@test "NO_COLOR and --no-color win on a terminal" {
	small
	out=$(NO_COLOR=1 on_tty "$FERRY -C $ROOT list")
	[[ "$out" == *"0.1.0/001_a.sql"* ]]
	! has_esc "$out" || false
	out=$(on_tty "$FERRY -C $ROOT list --no-color")
	[[ "$out" == *"0.1.0/001_a.sql"* ]]
	! has_esc "$out" || false
	out=$(on_tty "$FERRY -C $ROOT --no-color up")
	[[ "$out" == *"0.1.0/001_a.sql"* ]]
	! has_esc "$out" || false
}

# ---- -q hides chatter, never a result ----

@test "-q: status, list, plan, history and version still print their content" {
	small
	run --separate-stderr ferry -q status
	[ "$status" -eq 0 ]
	[[ "$output" == *"testapp at 0.0.0 (latest 0.2.0)"* ]]
	run --separate-stderr ferry -q list
	[[ "$output" == *"pending"*"0.1.0/001_a.sql"* ]]
	run --separate-stderr ferry -q plan
	[[ "$output" == *"0.0.0 -> 0.2.0"* ]]
	[[ "$output" == *"0.1.0/001_a.sql"* ]]
	run --separate-stderr ferry -q history
	[[ "$output" == *"no runs yet"* ]]
	run --separate-stderr ferry -q version
	[ "$output" = 0.0.0 ]
	run --separate-stderr ferry -q plan --dot
	[[ "$output" == *digraph* ]]
}

@test "-q: the progress of up is hidden; the result of the next command is not" {
	small
	run --separate-stderr ferry -q up
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	run --separate-stderr ferry -q history
	[[ "$output" == *"#1"*"0.0.0 -> 0.2.0"*"success"* ]]
	run --separate-stderr ferry status -q
	[[ "$output" == *"at 0.2.0"*"up to date"* ]]
	# chatter stays hidden
	run --separate-stderr ferry -q unlock
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# ---- --json for every command, usage errors as documents ----

@test "--json unlock: a small object saying what was done" {
	small
	ferry up >/dev/null 2>&1
	run --separate-stderr ferry --json unlock
	[ "$status" -eq 0 ]
	jq -e '(.unlocked == true) and (.removed == true) and (.force == false)
		and (.lock_file | endswith(".ferry/lock"))' <<<"$output"
	run --separate-stderr ferry unlock --json --force
	[ "$status" -eq 0 ]
	jq -e '(.unlocked == true) and (.removed == false) and (.force == true)' <<<"$output"
}

@test "a usage error under --json: a JSON object on stdout and the message on stderr" {
	small
	run --separate-stderr ferry --json list --frobnicate
	[ "$status" -eq 2 ]
	jq -e '(.error == "usage") and (.code == 2) and (.message | test("frobnicate"))' <<<"$output"
	[[ "$stderr" == *"ferry: list: unknown option '--frobnicate'"* ]]
	# --json after the bad option counts too
	run --separate-stderr ferry status --bogus --json
	[ "$status" -eq 2 ]
	jq -e '.error == "usage"' <<<"$output"
	run --separate-stderr ferry --json frobnicate
	[ "$status" -eq 2 ]
	jq -e '(.error == "usage") and (.message | test("unknown command"))' <<<"$output"
	run --separate-stderr ferry --json new 1.0.0
	[ "$status" -eq 2 ]
	jq -e '(.error == "usage") and (.message | test("name"))' <<<"$output"
	# without --json: stdout stays empty
	run --separate-stderr ferry list --frobnicate
	[ "$status" -eq 2 ]
	[ -z "$output" ]
}

@test "plan --dot --json is a usage error (exit 2)" {
	small
	run --separate-stderr ferry --json plan --dot
	[ "$status" -eq 2 ]
	jq -e '(.error == "usage") and (.message | test("--dot"))' <<<"$output"
	[[ "$stderr" == *"--dot"*"--json"* ]]
	run --separate-stderr ferry plan --dot --json
	[ "$status" -eq 2 ]
}

@test "--json --version and --json completion print documents" {
	run --separate-stderr "$FERRY" --json --version
	[ "$status" -eq 0 ]
	jq -e '.ferry_version | test("^[0-9]+\\.[0-9]+\\.[0-9]+")' <<<"$output"
	run --separate-stderr "$FERRY" --json completion bash
	[ "$status" -eq 0 ]
	jq -e '(.shell == "bash") and (.script | test("complete -F _ferry ferry"))' <<<"$output"
}

# ---- history RUN, durations ----

@test "history RUN: each step with its outcome, duration and message" {
	small
	step 0.1.0 0.2.0 002_bad "INSERT INTO nowhere VALUES (1);"
	ferry up >/dev/null 2>&1 || true
	run --separate-stderr ferry --json history
	id=$(jq '.runs[0].id' <<<"$output")
	run --separate-stderr ferry --json history "$id"
	[ "$status" -eq 0 ]
	jq -e '(.run.id == '"$id"') and (.run.status == "rolled_back") and (.run.from == "0.0.0")
		and (.steps | length == 3)
		and (.steps[0] | (.id == "0.1.0/001_a.sql") and (.status == "rolled_back")
			and (.duration_ms | type == "number") and (.message == null))
		and ([.steps[] | select(.id == "0.2.0/002_bad.sql" and .status == "failed")
			| .message | test("nowhere")] == [true])' <<<"$output"
	run --separate-stderr ferry history "$id"
	[ "$status" -eq 0 ]
	[[ "$output" == *"#$id"*"rolled_back"* ]]
	[[ "$output" == *"rolled_back"*"ms"*"0.1.0/001_a.sql"* ]]
	[[ "$output" == *"failed"*"0.2.0/002_bad.sql"*"nowhere"* ]]
	# -q: still the result
	run --separate-stderr ferry -q history "#$id"
	[[ "$output" == *"0.2.0/002_bad.sql"* ]]
}

@test "history RUN of no run: exit 2 naming it" {
	small
	run --separate-stderr ferry history 42
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"no run #42"* ]]
	run --separate-stderr ferry history abc
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"'abc'"* ]]
}

@test "human list and history show durations" {
	small
	ferry up >/dev/null 2>&1
	run --separate-stderr ferry list
	[ "$status" -eq 0 ]
	[[ "$(grep 0.1.0/001_a.sql <<<"$output")" =~ [0-9]+(ms|\.[0-9]s)$ ]]
	run --separate-stderr ferry history
	[[ "$(grep '^#1' <<<"$output")" =~ success\ +[0-9.]+(ms|s)\ + ]]
}

# ---- completion ----

# Loads the bash completion script and completes the words given ("" last:
# a new word). Sets COMPREPLY.
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_ferry
}

@test "bash completion: 'ferry ba' -> backup, 'ferry backup ' -> its subcommands" {
	"$FERRY" completion bash >"$BATS_TEST_TMPDIR/ferry.bash"
	bash -n "$BATS_TEST_TMPDIR/ferry.bash"
	source "$BATS_TEST_TMPDIR/ferry.bash"
	complete_words ferry ba
	[ "${COMPREPLY[*]}" = backup ]
	complete_words ferry backup ""
	[ "${COMPREPLY[*]}" = "create list verify restore prune" ]
	complete_words ferry -C /tmp backup cr
	[ "${COMPREPLY[*]}" = create ]
	complete_words ferry completion ""
	[ "${COMPREPLY[*]}" = "bash zsh fish" ]
}

@test "bash completion: each command's options come from its declarations" {
	source <("$FERRY" completion bash)
	complete_words ferry up --dr
	[ "${COMPREPLY[*]}" = --dry-run ]
	complete_words ferry backup create --comp
	[ "${COMPREPLY[*]}" = --compression ]
	complete_words ferry plan --d
	[ "${COMPREPLY[*]}" = --dot ]
	complete_words ferry --no
	[ "${COMPREPLY[*]}" = --no-color ]
	complete_words ferry list --js
	[ "${COMPREPLY[*]}" = --json ]
	# every option of `up --help` is offered
	complete_words ferry up -
	for o in $("$FERRY" up --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		[[ " ${COMPREPLY[*]} " == *" $o "* ]] || { echo "missing $o"; false; }
	done
}

@test "zsh and fish scripts name every command; the build made all three" {
	run "$FERRY" completion zsh
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "#compdef ferry" ]]
	[[ "$output" == *"'backup create'"* ]]
	[[ "$output" == *"'--dry-run:print every"* ]]
	run "$FERRY" completion fish
	[ "$status" -eq 0 ]
	[[ "$output" == *"-a recover"* ]]
	[[ "$output" == *"__ferry_is \"backup create\""*"-l compression"* ]]
	run "$FERRY" completion tcsh
	[ "$status" -eq 2 ]
	if [ -n "${FERRY_BUILD:-}" ]; then
		cmp "$FERRY_BUILD/cli/ferry" <("$FERRY" --no-color completion bash)
		cmp "$FERRY_BUILD/cli/_ferry" <("$FERRY" --no-color completion zsh)
		cmp "$FERRY_BUILD/cli/ferry.fish" <("$FERRY" --no-color completion fish)
	fi
}
