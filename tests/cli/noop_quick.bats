#!/usr/bin/env bats
# noop_quick.bats - the no-op start decided by the listing alone (lib/noop.c,
# docs/design.md): after a clean no-op, a digest of every entry of the
# migrations folder (name, size, mtime, ctime, inode), ferry.yaml's stat and
# the version. While it holds, `up` and `status` read no catalog; anything
# that changes must still be seen: an applied step edited in place (its size
# and mtime put back), a new step, a removed one, ferry.yaml, the version
# moved by another run, a run killed before it wrote anything.
#
# The digest trusts no entry younger than 2 seconds (git's racy rule, on the
# change time too), so every test waits that long after its last change.

bats_require_minimum_version 1.5.0
load helpers

settle() { sleep 2.2; }

# 0.0.0 -> 0.1.0 (a) -> 0.2.0 (b), applied; files an hour old, then settled.
installed() {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	step 0.1.0 0.2.0 001_b "CREATE TABLE b(x);" "DROP TABLE b;"
	find "$ROOT/migrations" "$ROOT/ferry.yaml" -exec touch -d '-1 hour' {} +
	ferry -q up
	settle
}

check_of() { jq -r '.noop_check // "none"' <<<"$1"; }

# The same command with the listing digest forgotten: what the full check says.
full_check() {
	sqlite3 "$ROOT/.ferry/state.db" "DELETE FROM meta WHERE key = 'quick_fp'"
	run --separate-stderr ferry "$@"
}

@test "a settled no-op is decided by the listing, writes nothing, and says so" {
	installed
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = noop ]
	[ "$(check_of "$output")" != listing ]   # the first clean no-op earns the digest
	[ -n "$(sqlite3 "$ROOT/.ferry/state.db" "SELECT value FROM meta WHERE key = 'quick_fp'")" ]
	before=$(stat -c '%s %.9Y %.9Z' "$ROOT/.ferry/state.db")
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = noop ]
	[ "$(check_of "$output")" = listing ]
	[ "$(jq -r '.from + " " + .to' <<<"$output")" = "0.2.0 0.2.0" ]
	[ "$(stat -c '%s %.9Y %.9Z' "$ROOT/.ferry/state.db")" = "$before" ]
	[ "$(stat -c %s "$ROOT/.ferry/state.db-wal")" -eq 0 ]
	run ferry up
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to do: at 0.2.0"* ]]
}

@test "status from the listing is the full check's status" {
	installed
	ferry -q up
	ferry -q up
	run --separate-stderr ferry --json status
	[ "$status" -eq 0 ]
	quick=$output
	[ "$(jq -r '.current + " " + .latest' <<<"$quick")" = "0.2.0 0.2.0" ]
	[ "$(jq -r .pending_steps <<<"$quick")" -eq 0 ]
	full_check --json status
	[ "$status" -eq 0 ]
	[ "$quick" = "$output" ]
}

@test "an applied step edited in place, its size, mtime and inode kept, is drift (exit 3)" {
	installed
	ferry -q up
	ferry -q up
	f="$ROOT/migrations/v0.0.0_to_v0.1.0/001_a.sql"
	old=$(stat -c '%s %y %i' "$f")   # %y: to the nanosecond
	touch -r "$f" "$BATS_TEST_TMPDIR/times"
	new=$(sed 's/TABLE a(x)/TABLE a(y)/' "$f")
	printf '%s\n' "$new" >"$f"    # in place: the same inode
	touch -r "$BATS_TEST_TMPDIR/times" "$f"
	[ "$(stat -c '%s %y %i' "$f")" = "$old" ]
	# At once (the change time is too young for the digest): the catalog's
	# stat check, the fingerprint and the checksum cache compare it too.
	run ferry up
	[ "$status" -eq 3 ]
	[[ "$output" == *"drifted"* ]]
	settle   # the change time is old enough to trust: the digest differs
	run ferry up
	[ "$status" -eq 3 ]
	[[ "$output" == *"drifted"* ]]
	[[ "$output" == *"001_a.sql"* ]]
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM ferry_steps")" -eq 2 ]
	run --separate-stderr ferry --json status
	[ "$status" -eq 0 ]
	quick=$output
	full_check --json status
	[ "$quick" = "$output" ]
}

@test "a new step, settled, is applied: not a no-op" {
	installed
	ferry -q up
	ferry -q up
	step 0.2.0 0.3.0 001_c "CREATE TABLE c(x);" "DROP TABLE c;"
	find "$ROOT/migrations" -exec touch -d '-1 hour' {} +
	settle
	run --separate-stderr ferry --json status
	[ "$(jq -r '.latest + " " + (.pending_steps | tostring)' <<<"$output")" = "0.3.0 1" ]
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(jq -r '.status + " " + .to' <<<"$output")" = "success 0.3.0" ]
	[ "$(main_tables)" = "a b c" ]
}

@test "a removed applied step is seen as the full check sees it" {
	installed
	ferry -q up
	ferry -q up
	rm "$ROOT/migrations/v0.1.0_to_v0.2.0/001_b.sql"
	rmdir "$ROOT/migrations/v0.1.0_to_v0.2.0"
	settle
	run --separate-stderr ferry --json up
	quick_rc=$status quick=$output
	[ "$(check_of "$quick")" != listing ]
	full_check --json up
	[ "$status" -eq "$quick_rc" ]
	[ "$(jq -S 'del(.noop_check)' <<<"$output")" = "$(jq -S 'del(.noop_check)' <<<"$quick")" ]
}

@test "ferry.yaml changed: the full check runs" {
	installed
	ferry -q up
	ferry -q up
	echo "transaction: step" | add_config
	touch -d '-1 hour' "$ROOT/ferry.yaml"
	settle
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = noop ]
	[ "$(check_of "$output")" != listing ]
}

@test "a young file turns the digest off; it comes back once the file settles" {
	installed
	ferry -q up
	ferry -q up
	touch "$ROOT/migrations/v0.0.0_to_v0.1.0/001_a.sql"
	run --separate-stderr ferry --json up
	[ "$(check_of "$output")" != listing ]
	settle
	ferry -q up    # a new digest for the new stat
	run --separate-stderr ferry --json up
	[ "$(check_of "$output")" = listing ]
}

@test "the version moved by another run: up goes where it should" {
	installed
	ferry -q up
	ferry -q up
	ferry -q down 0.1.0
	[ "$(main_tables)" = "a" ]
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(jq -r '.status + " " + .from + " " + .to' <<<"$output")" = "success 0.1.0 0.2.0" ]
	[ "$(main_tables)" = "a b" ]
}

@test "another target than the digest's: not decided by the listing" {
	installed
	ferry -q up
	ferry -q up
	run --separate-stderr ferry --json up 0.2.0
	[ "$(jq -r .status <<<"$output")" = noop ]
	[ "$(check_of "$output")" != listing ]
}

@test "a run killed before it changed anything is healed, not passed over" {
	installed
	ferry -q up
	ferry -q up
	before=$(dump)
	run env FERRY_CRASH_AT=undo:1 "$FERRY" -C "$ROOT" down 0.1.0
	[ "$status" -eq 137 ]
	run --separate-stderr ferry --json status
	[ "$(jq -r .interrupted <<<"$output")" = true ]
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(check_of "$output")" != listing ]
	run --separate-stderr ferry --json status
	[ "$(jq -r '.interrupted' <<<"$output")" = false ]
	[ "$(jq -r '.current' <<<"$output")" = 0.2.0 ]
	[ "$(dump)" = "$before" ]
}

# The entries of the checksum cache (the blob's u32 count, little-endian).
cache_entries() {
	local hex
	hex=$(sqlite3 "$ROOT/.ferry/state.db" \
		"SELECT coalesce((SELECT hex(substr(data, 5, 4)) FROM checksum_cache), '00000000')")
	echo $(( 16#${hex:6:2}${hex:4:2}${hex:2:2}${hex:0:2} ))
}

@test "the run that applies steps remembers their checksums for the next full check" {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	step 0.1.0 0.2.0 001_b "CREATE TABLE b(x);" "DROP TABLE b;"
	find "$ROOT/migrations" "$ROOT/ferry.yaml" -exec touch -d '-1 hour' {} +
	settle
	ferry -q up
	# What the loads hashed is kept: the next full check reads no step file.
	[ "$(cache_entries)" -eq 2 ]
	full_check --json up
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = noop ]
	# A step changed after it was applied is not taken from the cache: drift, exit 3.
	printf -- '-- ferry:up\nCREATE TABLE a(y, z);\n-- ferry:down\nDROP TABLE a;\n' \
		>"$ROOT/migrations/v0.0.0_to_v0.1.0/001_a.sql"
	touch -d '-1 hour' "$ROOT/migrations/v0.0.0_to_v0.1.0/001_a.sql"
	settle
	full_check up
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"001_a.sql"* ]]
}

@test "a database file gone while steps are recorded on it is never up to date" {
	installed
	ferry -q up
	run --separate-stderr ferry --json up
	[ "$(check_of "$output")" = listing ]
	mv "$ROOT/data/app.db" "$BATS_TEST_TMPDIR/app.db"   # a volume not mounted, say
	# Not passed over by the listing digest, nor by the fingerprint, nor by the full check.
	for how in listing fingerprint full; do
		case $how in
		fingerprint) sqlite3 "$ROOT/.ferry/state.db" "DELETE FROM meta WHERE key = 'quick_fp'" ;;
		full) sqlite3 "$ROOT/.ferry/state.db" "DELETE FROM meta WHERE key IN ('quick_fp', 'noop_fp')" ;;
		esac
		run --separate-stderr ferry --json up
		[ "$status" -eq 3 ]
		[ "$(jq -r .status <<<"$output")" = refused ]
		[[ "$stderr" == *"database 'main': '$ROOT/data/app.db' does not exist, but 2 steps are recorded as applied to it"* ]]
		[[ "$stderr" == *"nothing was changed"* ]]
		[ ! -e "$ROOT/data/app.db" ]   # not made again, empty
	done
	run --separate-stderr ferry --json status
	[ "$status" -eq 0 ]
	[ "$(jq -c '.missing_databases' <<<"$output")" = '[{"database":"main","path":"'"$ROOT"'/data/app.db","applied_steps":2}]' ]
	run ferry status
	[[ "$output" == *"database 'main' is missing"* ]]
	[[ "$output" != *"up to date"* ]]
	# The pre-flight says what up would refuse.
	run --separate-stderr ferry --json check
	[ "$status" -eq 3 ]
	[ "$(jq -r '.findings[] | select(.kind == "database") | .subject' <<<"$output")" = main ]
	[ ! -e "$ROOT/data/app.db" ]
	# Put back: up to date again, from the full check, then the listing.
	mv "$BATS_TEST_TMPDIR/app.db" "$ROOT/data/app.db"
	run ferry check
	[ "$status" -eq 0 ]
	run --separate-stderr ferry --json up
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = noop ]
	run ferry status
	[[ "$output" == *"up to date"* ]]
	run --separate-stderr ferry --json status
	[ "$(jq -c '.missing_databases' <<<"$output")" = '[]' ]
}

@test "a database not made yet, with nothing applied to it, is no finding" {
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	find "$ROOT/migrations" "$ROOT/ferry.yaml" -exec touch -d '-1 hour' {} +
	rm -f "$ROOT/data/app.db"
	run --separate-stderr ferry --json status
	[ "$status" -eq 0 ]
	[ "$(jq -c '.missing_databases' <<<"$output")" = '[]' ]
	ferry -q up
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM sqlite_master WHERE name = 'a'")" -eq 1 ]
}

# An up that applies: the listing stats each step file, and the catalog read
# right after it takes those stats (lib/util/statmemo.h) rather than its own;
# the locked pass, its lock taken at once, uses the catalog the first pass
# read (lib/ferry.c, fr_load_catalog). Each pending file is read once. The
# full check of a no-op (the listing digest forgotten) stats each file once
# too, and still sees an edit.
stat_count() { grep -E 'stat' "$BATS_TEST_TMPDIR/st" | grep -c "/$1\"\|\"$1\""; }
# Under strace: LeakSanitizer cannot run under ptrace (the sanitizer build's suite).
traced() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -e trace=stat,lstat,newfstatat,statx,open,openat -o "$BATS_TEST_TMPDIR/st" "$@"
}
open_count() { grep -E 'open' "$BATS_TEST_TMPDIR/st" | grep -c "$1"; }

@test "an apply stats each step file once and reads it once; so does the full check of a no-op" {
	command -v strace >/dev/null || { echo "strace is needed (apt-get install strace)" >&2; return 1; }
	make_install
	step 0.0.0 0.1.0 001_a "CREATE TABLE a(x);" "DROP TABLE a;"
	step 0.1.0 0.2.0 001_b "CREATE TABLE b(x);" "DROP TABLE b;"
	find "$ROOT/migrations" "$ROOT/ferry.yaml" -exec touch -d '-1 hour' {} +
	settle   # so that the listing walks every file (no change time younger than 2 s)
	traced "$FERRY" -q -C "$ROOT" up --skip-backup
	[ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM ferry_steps")" = 2 ]
	local f
	for f in 001_a.sql 001_b.sql; do
		[ "$(stat_count "$f")" = 1 ]
		[ "$(open_count "$f")" = 1 ]
	done
	# The full check: one stat a file, the files read from the checksum cache (no open).
	sqlite3 "$ROOT/.ferry/state.db" "DELETE FROM meta WHERE key = 'quick_fp'"
	traced "$FERRY" -C "$ROOT" --json up >"$BATS_TEST_TMPDIR/up.json"
	[ "$(jq -r .noop_check "$BATS_TEST_TMPDIR/up.json")" != listing ]
	for f in 001_a.sql 001_b.sql; do
		[ "$(stat_count "$f")" = 1 ]
		[ "$(open_count "$f")" = 0 ]
	done
	# And an edit is still seen by it (size and mtime changed): drift, exit 3.
	step 0.1.0 0.2.0 001_b "CREATE TABLE b(x, y);" "DROP TABLE b;"
	touch -d '-1 hour' "$ROOT/migrations/v0.1.0_to_v0.2.0/001_b.sql"
	settle
	sqlite3 "$ROOT/.ferry/state.db" "DELETE FROM meta WHERE key = 'quick_fp'"
	run ferry up
	[ "$status" -eq 3 ]
	[[ "$output" == *"001_b.sql"* ]]
}
