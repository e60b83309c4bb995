#!/usr/bin/env bash
# run.sh BUILD_DIR - runs every unit test (cmocka, TAP) and every
# command-line test (bats, TAP) and ends with "N passed, N failed".
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=$(cd "$top" && cd "$build" && pwd)
export FERRY="$build/ferry"
export FERRY_BUILD="$build"
export CMOCKA_MESSAGE_OUTPUT=TAP
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pass=0 fail=0

# One PostgreSQL server for the whole run (tests/pg/pg.sh), stopped at the
# end even when tests fail. The PostgreSQL tests fail, not skip, without it.
if [ -z "${FERRY_TEST_PG:-}" ]; then
	if pgenv=$("$top/tests/pg/pg.sh" start 2>"$out/pg.err"); then
		eval "$pgenv"
		trap '"$top/tests/pg/pg.sh" stop "$FERRY_PG_DIR" >/dev/null 2>&1; rm -rf "$out"' EXIT
		echo "== PostgreSQL test server on port $FERRY_PG_PORT"
	else
		echo "== PostgreSQL test server could not start:"; sed 's/^/    /' "$out/pg.err"
	fi
fi

count() { # file: adds its TAP results
	local p f
	p=$(grep -cE '^ok ' "$1")
	f=$(grep -cE '^not ok ' "$1")
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -gt 0 ]; then grep -E '^not ok ' "$1" | sed 's/^/    /'; fi
}

echo "== unit tests"
for t in "$build"/tests/unit/test_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=$(basename "$t")
	( cd "$out" && "$t" ) >"$out/$name.tap" 2>"$out/$name.err"
	st=$?
	count "$out/$name.tap"
	n=$(grep -cE '^(not )?ok ' "$out/$name.tap")
	printf '  %-22s %3d tests%s\n' "$name" "$n" "$([ $st = 0 ] || echo "  (exit $st)")"
	if [ $st != 0 ] && ! grep -qE '^not ok ' "$out/$name.tap"; then
		# A crash before any result still counts as a failure.
		fail=$((fail + 1)); tail -20 "$out/$name.err" | sed 's/^/    /'
	fi
done

echo "== command-line tests"
for f in "$top"/tests/cli/*.bats; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .bats)
	# FERRY_SUITE_APART: files that test something other than this build (deb:
	# the package dpkg-buildpackage makes from the sources), run in another pass.
	case " ${FERRY_SUITE_APART:-} " in
	*" $name "*) printf '  %-22s in another pass (%s)\n' "$name" "FERRY_SUITE_APART"; continue ;;
	esac
	bats --tap "$f" >"$out/$name.tap" 2>&1
	count "$out/$name.tap"
	n=$(grep -cE '^(not )?ok ' "$out/$name.tap")
	printf '  %-22s %3d tests\n' "$name" "$n"
	if grep -qE '^not ok ' "$out/$name.tap"; then
		grep -E '^#' "$out/$name.tap" | head -40 | sed 's/^/    /'
	fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
