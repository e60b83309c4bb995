#!/usr/bin/env bats
# layers.bats - tools/check-layers: the tree keeps the allowed edges between
# modules, and an include that breaks them is found and named.

bats_require_minimum_version 1.5.0

TOP="$BATS_TEST_DIRNAME/../.."

@test "the tree keeps the allowed module edges (tools/check-layers)" {
	run "$TOP/tools/check-layers"
	[ "$output" = "" ]
	[ "$status" -eq 0 ]
}

# A copy of the tree with one bad include of each kind the table forbids.
copy_tree() {
	T="$BATS_TEST_TMPDIR/tree"
	mkdir -p "$T"
	cp -r "$TOP/lib" "$TOP/cli" "$TOP/include" "$T/"
}

@test "util including the engine is found, with the file, the line and the rule" {
	copy_tree
	sed -i '3a #include "../ferry_int.h"' "$T/lib/util/buf.c"
	run "$TOP/tools/check-layers" --root "$T"
	[ "$status" -eq 1 ]
	[ "$output" = "lib/util/buf.c:4: 'lib/util/buf.c' may not include 'lib/ferry_int.h' (util depends on nothing of ours but util)" ]
}

@test "a kind including another kind or the engine, a driver another driver, cli the library" {
	copy_tree
	echo '#include "../catalog.h"' >>"$T/lib/step/script.c"
	printf '/* the ops kind'"'"'s own */\n' >"$T/lib/step/ops_int.h"
	echo '#include "ops_int.h"' >>"$T/lib/step/sql.c"
	echo '#include "ops_int.h"' >>"$T/lib/step/ops_template.c"   # its own: allowed
	: >"$T/lib/db/sqlite_int.h"
	echo '#include "sqlite_int.h"' >>"$T/lib/db/postgres.c"
	echo '#include "../lib/ferry_int.h"' >>"$T/cli/opt.c"
	: >"$T/lib/step/sql.h"
	echo '#include "step/sql.h"' >>"$T/lib/ferry.c"
	run "$TOP/tools/check-layers" --root "$T"
	[ "$status" -eq 1 ]
	[[ "$output" == *"lib/step/script.c:"*": 'lib/step/script.c' may not include 'lib/catalog.h' (a step kind includes only step.h"* ]]
	[[ "$output" == *"'lib/step/sql.c' may not include 'lib/step/ops_int.h'"* ]]
	[[ "$output" != *"'lib/step/ops_template.c' may not"* ]]
	[[ "$output" == *"'lib/db/postgres.c' may not include 'lib/db/sqlite_int.h' (a driver sees db.h, util and the public API, never another driver)"* ]]
	[[ "$output" == *"'cli/opt.c' may not include 'lib/ferry_int.h' (the tool sees include/ferry.h and its own headers only)"* ]]
	[[ "$output" == *"'lib/ferry.c' may not include 'lib/step/sql.h' (the engine sees"* ]]
	[ "$(grep -c 'may not include' <<<"$output")" -eq 5 ]
}
