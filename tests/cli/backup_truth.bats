#!/usr/bin/env bats
# backup_truth.bats - what ferry reports about a backup is what happened
# (issue 11, points 1 and 2):
#
# - a backup is "written" only when it is whole: a full disk (a small
#   tmpfs) or any single failing write, flush, sync, close or rename
#   (FERRY_FAIL_WRITE_AT=N, the test-only switch of lib/backup/write.c)
#   ends `backup create` with exit 1 and leaves nothing behind: no archive,
#   no temporary file, no row in `backup list`; `--verify` reads the
#   archive back first (FERRY_DROP_WRITE_AT=N loses one write silently);
#   a run never starts on a pre-run backup that failed;
# - `backup verify` applies the rules `backup restore` applies, and an
#   archive copied into the backup folder by hand is listed with its
#   manifest's version and type, and recorded by a passing verify.
#
# The tmpfs tests mount as root (this suite runs as root) and unmount in
# teardown.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	make_install
	BK="$BATS_TEST_TMPDIR/bk"
	mkdir -p "$BK"
	echo "backup: {dir: $BK}" >>"$ROOT/ferry.yaml"
	sqlite3 "$ROOT/data/app.db" "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
		INSERT INTO notes (body) VALUES ('one');"
	ferry version --set 0.1.0 >/dev/null
	MOUNTED=
}

teardown() {
	if [ -n "${MOUNTED:-}" ]; then umount "$MOUNTED" 2>/dev/null || umount -l "$MOUNTED" || true; fi
}

# tmpfs_at DIR SIZE: a tmpfs of SIZE (e.g. 64k, 1m) at DIR.
tmpfs_at() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" tmpfs "$1"
	MOUNTED=$1
}

# nothing_left: the backup folder holds no file at all, and the list is empty.
nothing_left() {
	run ls -A "$BK"
	[ "$status" -eq 0 ]
	[ -z "$output" ] || { echo "left behind: $output"; return 1; }
	run ferry --json backup list
	[ "$status" -eq 0 ]
	[ "$(jq '.backups | length' <<<"$output")" -eq 0 ]
}

# craft SRC OUT OPS: a copy of the uncompressed archive SRC at OUT, changed by
# OPS (JSON): {"add": NAME} adds a file listed in the manifest with its true
# hash, {"dup": NAME} adds an entry a second time, {"dbpath": P} sets the
# first database's path in the manifest. The manifest stays the last entry.
craft() {
	python3 - "$@" <<'PY'
import sys, tarfile, json, hashlib, io
src, out, ops = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
tin = tarfile.open(src)
members = [(m, tin.extractfile(m).read() if m.isfile() else None) for m in tin.getmembers()]
man = json.loads([d for m, d in members if m.name == 'MANIFEST.json'][0])
members = [(m, d) for m, d in members if m.name != 'MANIFEST.json']
for op in ops:
    if 'add' in op:
        data = b'crafted\n'
        ti = tarfile.TarInfo(op['add']); ti.size = len(data); ti.mode = 0o644; ti.mtime = 1
        members.append((ti, data))
        man['entries'].append({'path': op['add'], 'type': 'file', 'size': len(data),
                               'mode': '0644', 'mtime': 1,
                               'sha256': hashlib.sha256(data).hexdigest()})
    if 'dup' in op:
        members.append([x for x in members if x[0].name == op['dup']][0])
    if 'dbpath' in op:
        man['databases'][0]['path'] = op['dbpath']
tout = tarfile.open(out, 'w', format=tarfile.PAX_FORMAT)
for m, d in members:
    tout.addfile(m, io.BytesIO(d) if d is not None else None)
mb = json.dumps(man, indent=2).encode()
ti = tarfile.TarInfo('MANIFEST.json'); ti.size = len(mb); ti.mode = 0o600
tout.addfile(ti, io.BytesIO(mb))
tout.close()
PY
}

# state: the version, the database's rows and the files, to compare before and after.
state() {
	ferry version
	sqlite3 "$ROOT/data/app.db" "SELECT name FROM sqlite_master ORDER BY name; SELECT * FROM notes;"
	(cd "$ROOT" && find . -path ./.ferry -prune -o -type f ! -name 'app.db*' -print0 | sort -z |
		xargs -0 sha256sum)
}

# ---- 1. a backup is written only when it is whole ----

@test "a full disk fails the backup: exit 1, the reason, nothing left (64 KiB and 1 MiB tmpfs)" {
	local size bytes
	for case in 64k:100000 1m:1050000 1m:1080000 1m:1100000; do
		size=${case%%:*} bytes=${case#*:}
		tmpfs_at "$BK" "$size"
		head -c "$bytes" /dev/urandom >"$ROOT/data/random.bin"
		run ferry backup create
		echo "$size $bytes: $output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"cannot write backup '"*"No space left on device; free some space"* ]]
		[[ "$output" != *written* ]]
		nothing_left
		umount "$BK"
		MOUNTED=
	done
	# The same file on a disk large enough: written, and whole.
	run --separate-stderr ferry backup create
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"written ("* ]]
	run ferry backup verify "$output"
	[ "$status" -eq 0 ]
}

@test "each write, flush, sync, close and rename failing in turn: exit 1, nothing left" {
	head -c 3000000 /dev/urandom >"$ROOT/data/random.bin"
	local comp n points
	for comp in zstd gzip none; do
		n=1
		while :; do
			run --separate-stderr env FERRY_FAIL_WRITE_AT=$n "$FERRY" -C "$ROOT" backup create \
				--compression "$comp"
			[ "$status" -ne 0 ] || break
			echo "$comp #$n: $stderr"
			[ "$status" -eq 1 ]
			[[ "$stderr" == *"cannot write backup '"*"No space left on device; free some space"* ]]
			[[ "$stderr" != *"written ("* ]]
			nothing_left
			n=$((n + 1))
			[ "$n" -lt 200 ]
		done
		points=$((n - 1))
		echo "$comp: $points I/O calls failed in turn"
		# At least a write of data, the manifest's flush, fsync, close, rename, the folder's sync.
		[ "$points" -ge 6 ]
		# Past the last call the backup is written, and whole.
		run ferry backup verify "$output"
		[ "$status" -eq 0 ]
		rm -f "$BK"/*
		sqlite3 "$ROOT/.ferry/state.db" "DELETE FROM backups"
	done
}

@test "backup create --verify reads the archive back: a lost write is caught, nothing left" {
	head -c 3000000 /dev/urandom >"$ROOT/data/random.bin"
	# A write that the disk loses: without --verify the archive is said written...
	run --separate-stderr env FERRY_DROP_WRITE_AT=2 "$FERRY" -C "$ROOT" backup create \
		--compression none
	[ "$status" -eq 0 ]
	run ferry backup verify "$output"
	[ "$status" -eq 3 ]
	rm -f "$BK"/*
	sqlite3 "$ROOT/.ferry/state.db" "DELETE FROM backups"
	# ...with it, the create fails and leaves nothing.
	for comp in none zstd gzip; do
		run env FERRY_DROP_WRITE_AT=2 "$FERRY" -C "$ROOT" backup create --verify --compression "$comp"
		echo "$comp: $output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"cannot write backup '"*"reading it back found it damaged: "* ]]
		nothing_left
	done
	# A good one is written, read back, and listed verified.
	run --separate-stderr ferry backup create --verify
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"written ("*"), read back whole"* ]]
	id=$output
	[ -f "$BK/$id.tar.zst" ]
	run ferry --json backup list
	[ "$(jq -r '.backups[0].status' <<<"$output")" = verified ]
	[ "$(jq -r '.backups[0].id' <<<"$output")" = "$id" ]
}

@test "a full disk during the database copy leaves no journal or copy in the backup folder" {
	sqlite3 "$ROOT/data/app.db" "CREATE TABLE big (b BLOB);
		INSERT INTO big SELECT randomblob(4000) FROM generate_series(1, 100);" 2>/dev/null ||
		sqlite3 "$ROOT/data/app.db" "CREATE TABLE big (b BLOB);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100)
		INSERT INTO big SELECT randomblob(4000) FROM c;"
	[ "$(stat -c %s "$ROOT/data/app.db")" -gt 300000 ]
	tmpfs_at "$BK" 64k
	run ferry backup create
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot write backup '"* ]]
	nothing_left
}

@test "a pre-run backup that fails ends the run refused, exit 1, nothing changed" {
	step 0.1.0 0.2.0 001_add "CREATE TABLE added (x);" "DROP TABLE added;"
	before=$(state)
	for n in 1 2 3; do
		run env FERRY_FAIL_WRITE_AT=$n "$FERRY" -C "$ROOT" up
		echo "#$n: $output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"cannot take the pre-run backup: cannot write backup '"* ]]
		[[ "$output" == *"nothing was changed"* ]]
		[ "$(state)" = "$before" ]
		nothing_left
	done
	# On a full disk as well.
	head -c 100000 /dev/urandom >"$ROOT/data/random.bin"
	before=$(state)
	tmpfs_at "$BK" 64k
	run ferry up
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"pre-run backup"* ]]
	[ "$(state)" = "$before" ]
	nothing_left
}

@test "a checkpoint backup that fails stops the run: no partial checkpoint is left" {
	step 0.1.0 0.2.0 001_a "CREATE TABLE a (x);" "DROP TABLE a;"
	step 0.2.0 0.3.0 001_b "CREATE TABLE b (x);" "DROP TABLE b;"
	run env FERRY_FAIL_WRITE_AT=1 "$FERRY" -C "$ROOT" up --skip-backup --checkpoint-each-version
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot take the checkpoint backup: cannot write backup '"* ]]
	[ "$(ferry version)" != 0.3.0 ]
	nothing_left
}

# ---- 2. verify applies the rules restore applies ----

@test "verify refuses what restore refuses: .ferry/, a database file, a database path with .." {
	echo keep >"$ROOT/data/keep.txt"
	id=$(ferry backup create --compression none)
	for ops in '[{"add":"files/.ferry/evil"}]' '[{"add":"files/data/app.db"}]' \
		'[{"dbpath":"../../outside.db"}]' '[{"dbpath":"data/../../x.db"}]'; do
		craft "$BK/$id.tar" "$BATS_TEST_TMPDIR/crafted.tar" "$ops"
		tar -tf "$BATS_TEST_TMPDIR/crafted.tar" >/dev/null
		run ferry backup verify "$BATS_TEST_TMPDIR/crafted.tar"
		echo "$ops verify: $output"
		[ "$status" -eq 3 ]
		[[ "$output" == *unsafe* ]]
		before=$(state)
		run ferry backup restore --no-safety-backup "$BATS_TEST_TMPDIR/crafted.tar"
		echo "$ops restore: $output"
		[ "$status" -eq 3 ]
		[[ "$output" == *"nothing was changed: unsafe '"* ]]
		[ "$(state)" = "$before" ]
		[ ! -e "$ROOT/.ferry/evil" ]
	done
	# The archive as ferry wrote it passes both.
	run ferry backup verify "$id"
	[ "$status" -eq 0 ]
}

@test "restore of an archive with a duplicate entry says so, as verify does" {
	echo keep >"$ROOT/data/keep.txt"
	id=$(ferry backup create --compression none)
	craft "$BK/$id.tar" "$BATS_TEST_TMPDIR/dup.tar" '[{"dup":"files/data/keep.txt"}]'
	[ "$(tar -tf "$BATS_TEST_TMPDIR/dup.tar" | grep -c '^files/data/keep.txt$')" -eq 2 ]
	run ferry backup verify "$BATS_TEST_TMPDIR/dup.tar"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"duplicate  files/data/keep.txt: in the archive twice"* ]]
	before=$(state)
	run ferry backup restore --no-safety-backup "$BATS_TEST_TMPDIR/dup.tar"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"nothing was changed: duplicate 'files/data/keep.txt': in the archive twice"* ]]
	[[ "$output" != *"disk full"* ]]
	[ "$(state)" = "$before" ]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep ferry-restore || true)" ]
}

@test "an archive copied into the backup folder shows its manifest's version and type; verify records it" {
	# Taken elsewhere (another installation of the app, at 0.3.0, a pre-run backup).
	other="$BATS_TEST_TMPDIR/other"
	cp -a "$ROOT" "$other"
	sed -i "s#dir: $BK#dir: $BATS_TEST_TMPDIR/otherbk#" "$other/ferry.yaml"
	"$FERRY" -C "$other" version --set 0.3.0 >/dev/null
	oid=$("$FERRY" -C "$other" backup create --type pre-run)
	# Copied in by hand under a name whose type part says otherwise.
	cp "$BATS_TEST_TMPDIR/otherbk/$oid.tar.zst" "$BK/testapp_20260101_000000_manual.tar.zst"
	run ferry --json backup list
	echo "$output"
	[ "$(jq '.backups | length' <<<"$output")" -eq 1 ]
	[ "$(jq -r '.backups[0].version' <<<"$output")" = 0.3.0 ]
	[ "$(jq -r '.backups[0].type' <<<"$output")" = pre-run ]
	[ "$(jq -r '.backups[0].status' <<<"$output")" = unverified ]
	[ "$(jq -r '.backups[0].tracked' <<<"$output")" = false ]
	run ferry backup verify testapp_20260101_000000_manual
	[ "$status" -eq 0 ]
	run ferry --json backup list
	echo "$output"
	[ "$(jq -r '.backups[0].status' <<<"$output")" = verified ]
	[ "$(jq -r '.backups[0].tracked' <<<"$output")" = true ]
	[ "$(jq -r '.backups[0].version' <<<"$output")" = 0.3.0 ]
	[ "$(sqlite3 "$ROOT/.ferry/state.db" \
		"SELECT version, type, verified FROM backups WHERE id = 'testapp_20260101_000000_manual'")" = "0.3.0|pre-run|1" ]
	# Named by its path in the folder: the same backup.
	run ferry backup verify "$BK/testapp_20260101_000000_manual.tar.zst"
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$ROOT/.ferry/state.db" "SELECT count(*) FROM backups")" -eq 1 ]
}
