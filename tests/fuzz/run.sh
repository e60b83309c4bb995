#!/usr/bin/env bash
# tests/fuzz/run.sh - runs every libFuzzer target of a fuzz build, one at a
# time, for FUZZ_SECONDS each (default 30) on a copy of its seed corpus
# (tests/fuzz/corpus/<target>, the regression inputs among them, all run
# first), with its dictionary when there is one. Prints per target the
# executions, the coverage of libFuzzer's final line (cov, ft) and the
# crashes; a crash's reproducer goes to tests/fuzz/crashes/. The last line
# is "N passed, N failed" (a target is one test); exits 1 on any crash.
#
#   bash tests/fuzz/run.sh [BUILD]        BUILD: a -Dfuzz=true build (build-fuzz)
#   FUZZ_SECONDS=600 FUZZ_TARGETS="edit ops" bash tests/fuzz/run.sh
#   FUZZ_TIMEOUT: libFuzzer's -timeout, seconds an input may take (default 10;
#   it counts wall time, so a long campaign at nice 19 beside a busy machine
#   wants more: a starved process is not a slow input)
#
# `make fuzz` configures and builds build-fuzz with clang, then calls this.
set -u
src=$(cd "$(dirname "$0")" && pwd)
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-30}
work=$build/fuzz-work
crashes=$src/crashes
mkdir -p "$work" "$crashes"
targets=${FUZZ_TARGETS:-$(find "$build/tests/fuzz" -maxdepth 1 -type f -name 'fuzz_*' \
	-perm -u+x 2>/dev/null | sed 's|.*/fuzz_||' | sort)}
if [ -z "$targets" ]; then
	echo "fuzz: no targets in $build/tests/fuzz (configure with CC=clang -Dfuzz=true)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
# config, catalog and ops write their input to a folder: in memory when there is one
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
pass=0
fail=0
rows=()
for t in $targets; do
	exe=$build/tests/fuzz/fuzz_$t
	log=$work/$t.log
	if [ ! -x "$exe" ]; then
		rows+=("$(printf '%-10s %12s %9s %7s %7s  %s' "$t" - - - - "not built")")
		fail=$((fail + 1))
		continue
	fi
	# A fresh copy of the seed corpus each time: what a run adds stays out of the next
	# (a seeded run then tries exactly the inputs it tried on a fresh clone).
	rm -rf "$work/corpus-$t"
	mkdir -p "$work/corpus-$t"
	[ -d "$src/corpus/$t" ] && cp -p "$src/corpus/$t"/* "$work/corpus-$t"/ 2>/dev/null
	args=(-max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -max_len=8192
	      -print_final_stats=1 -artifact_prefix="$crashes/$t-")
	[ -f "$src/$t.dict" ] && args+=(-dict="$src/$t.dict")
	# A seeded campaign is the same inputs in the same order: CI repeats one
	# that passed (a run cut short by the time limit tries a prefix of them).
	[ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
	[ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
	echo "== fuzz_$t: ${secs}s"
	"$exe" "${args[@]}" "$work/corpus-$t" >"$log" 2>&1
	rc=$?
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	[ -n "$execs" ] || execs=$(printf '%s' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(printf '%s' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	if [ "$rc" = 0 ]; then
		what=0
		pass=$((pass + 1))
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		what="1: ${art:-exit $rc} (log: $log)"
		fail=$((fail + 1))
		grep -E 'ERROR|property failed|SUMMARY' "$log" | head -5 | sed 's/^/   /'
	fi
	rows+=("$(printf '%-10s %12s %9s %7s %7s  %s' "$t" "${execs:-?}" "${speed:-?}" \
		"${cov:-?}" "${ft:-?}" "$what")")
done
printf '%-10s %12s %9s %7s %7s  %s\n' target executions exec/s cov ft crashes
printf '%s\n' "${rows[@]}"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
