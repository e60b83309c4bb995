#!/usr/bin/env bats
# help_docs.bats - the three places a user reads about an option say the same
# (STYLE: docs move with the code): every option a command's --help lists
# (and each subcommand's, as `backup create`) is in that command's SYNOPSIS
# line of the man page (docs/ferry.1) and in its section of docs/cli.md; the
# man page renders without a groff warning.

bats_require_minimum_version 1.5.0
load helpers

MAN="$BATS_TEST_DIRNAME/../../docs/ferry.1"
CLIMD="$BATS_TEST_DIRNAME/../../docs/cli.md"

commands() { "$FERRY" --help | awk '/^commands:/ { p = 1; next } /^$/ { p = 0 } p { print $1 }'; }
subcommands() { "$FERRY" $1 --help | awk '/^subcommands:/ { p = 1; next } /^$/ { p = 0 } p { print $1 }'; }
# The long options of one command's --help, --help itself left out.
options_of() {
	"$FERRY" $1 --help | grep -oE -- '^ +(-[a-zA-Z], )?--[a-z][a-z-]+' | grep -oE -- '--[a-z-]+' |
		grep -vx -- --help
}
# The man page's SYNOPSIS lines of `ferry CMD`, up to its .br, with \- as -.
synopsis_of() {
	awk -v c="$1" '/^\.SH DESCRIPTION/ { exit } $0 ~ "^\\.B ferry " c "( |$)" { p = 1 }
		p && /^\.br/ { p = 0 } p' "$MAN" | sed 's/\\-/-/g'
}
# The section of docs/cli.md headed `## CMD` (or `## CMD, OTHER`).
section_of() {
	awk -v c="$1" '/^## / { if (p) exit; n = split(substr($0, 4), w, ", ")
		for (i = 1; i <= n; i++) if (w[i] == c) p = 1; next } p' "$CLIMD"
}

@test "every option of every command's --help is in the man page's synopsis and in cli.md" {
	missing=() n=0
	for c in $(commands); do
		[ -n "$(section_of "$c")" ] || missing+=("cli.md has no section '## $c'")
		for s in "" $(subcommands "$c"); do
			cmd="$c${s:+ $s}"
			[ -n "$(synopsis_of "$cmd")" ] || missing+=("ferry.1 has no synopsis for 'ferry $cmd'")
			for o in $(options_of "$cmd"); do
				n=$((n + 1))
				synopsis_of "$cmd" | grep -qe "$o" || missing+=("ferry.1 synopsis: ferry $cmd $o")
				section_of "$c" | grep -qe "$o" || missing+=("cli.md '## $c': ferry $cmd $o")
			done
		done
	done
	printf '%s\n' "${missing[@]}"
	[ "${#missing[@]}" -eq 0 ]
	[ "$n" -ge 40 ]   # the walk saw the options (it reads --help as the tool prints it)
}

@test "the check catches an option left out of the man page" {
	MAN="$BATS_TEST_TMPDIR/ferry.1"
	sed '/^\.RB \[ \\-\\-no\\-recover \]$/d' "$BATS_TEST_DIRNAME/../../docs/ferry.1" >"$MAN"
	run synopsis_of up
	[[ "$output" == *"--rehearse"* ]]
	[[ "$output" != *"--no-recover"* ]]
}

@test "the man page renders without a warning" {
	run --separate-stderr env LC_ALL=C groff -man -ww -z "$MAN"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ -z "$output" ]
}
