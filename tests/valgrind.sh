#!/usr/bin/env bash
# valgrind.sh BUILD_DIR - every unit test, and the tool through a whole
# demo upgrade (status, plan, up, list, verify, down, a failing run), under
# valgrind's memcheck. Definite and indirect leaks and memory errors fail.
# Ends with "N passed, N failed".
set -u
build=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --error-exitcode=99)
pass=0 fail=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The PostgreSQL driver's tests need a server, as in tests/run.sh.
if [ -z "${FERRY_TEST_PG:-}" ] && pgenv=$("$top/tests/pg/pg.sh" start 2>/dev/null); then
	eval "$pgenv"
	trap '"$top/tests/pg/pg.sh" stop "$FERRY_PG_DIR" >/dev/null 2>&1; rm -rf "$out"' EXIT
fi

check() { # name, command...
	local name=$1; shift
	if "$@" >"$out/log" 2>&1; then
		pass=$((pass + 1)); printf '  ok    %s\n' "$name"
	else
		local st=$?
		if [ $st = 99 ] || grep -q '==[0-9]*==' "$out/log"; then
			fail=$((fail + 1)); printf '  FAIL  %s (exit %d)\n' "$name" $st
			grep '==[0-9]*==' "$out/log" | head -30 | sed 's/^/        /'
		else
			# The command's own failure exit is expected for some steps below.
			pass=$((pass + 1)); printf '  ok    %s (exit %d, no memory errors)\n' "$name" $st
		fi
	fi
}

echo "== unit tests under valgrind"
for t in "$build"/tests/unit/test_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	check "$(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP "${vg[@]}" "$t"
done

echo "== the tool under valgrind"
demo=$out/demo
cp -R "$top/examples/demo/." "$demo/"
rm -rf "$demo/.ferry" "$demo/data/"*.db
sqlite3 "$demo/data/notebook.db" <"$demo/seed.sql"
F=("${vg[@]}" "$build/ferry" -C "$demo")
for args in "status" "plan" "plan --dot" "--json plan 1.0.0" "up --dry-run" "up" "list" \
	"history" "history --versions" "verify" "check" "down 0.7.0" "--json status" "up" \
	"version --set 1.0.1" "recover" "unlock"; do
	check "ferry $args" "${F[@]}" $args
done
mkdir -p "$demo/migrations/v1.1.0_to_v1.2.0"
printf -- '-- ferry:up\nCREATE TABLE x(a);\nINSERT INTO nope VALUES (1);\n-- ferry:down\nDROP TABLE x;\n' \
	>"$demo/migrations/v1.1.0_to_v1.2.0/001_fails.sql"
check "ferry up (a failing run, rolled back)" "${F[@]}" up
check "startup-example" "${vg[@]}" "$build/examples/startup-example" "$demo" 1.1.0

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
