#!/usr/bin/env bats
# backup.bats - `ferry backup create|list|verify|restore|prune` and
# `ferry rollback` (SPEC sections 5 and 8): round trips of unusual trees,
# a large sparse file, a database written to during the backup, GNU tar
# reading every archive, damage caught, crafted archives refused, disk full
# during create and restore, interrupted backups, prune, private modes, the
# progress bar only on a terminal.
#
# Disk full: a 2-8 MiB tmpfs when this user may mount one (root); otherwise
# the same commands run under `ulimit -f` (writes beyond the limit fail with
# EFBIG instead of ENOSPC), which takes the same failure paths.
# FERRY_TEST_NO_TMPFS=1 takes that way as root too.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	make_install
	mkdir -p "$ROOT/config" "$ROOT/data/deep/er/est"
	echo "version_file: config/version.json" >>"$ROOT/ferry.yaml"
	sqlite3 "$ROOT/data/app.db" "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
		INSERT INTO notes (body) VALUES ('one'), ('two');"
	echo '{"name": "app"}' >"$ROOT/config/app.json"
	echo deep >"$ROOT/data/deep/er/est/file.txt"
	: >"$ROOT/data/empty"
	echo spaces >"$ROOT/data/with space.txt"
	echo utf8 >"$ROOT/data/café ✓ ünï.txt"
	printf 'nl\n' >"$ROOT/data/new
line"
	ln -s empty "$ROOT/data/link"
	ln -s deep/er "$ROOT/data/dirlink"
	mkdir "$ROOT/data/emptydir"
	chmod 0640 "$ROOT/config/app.json"
	head -c 200000 /dev/urandom >"$ROOT/data/random.bin"
	ferry version --set 0.1.0 >/dev/null
	SMALL_MOUNT= SMALL_ULIMIT=
}

teardown() {
	if [ -n "${WRITER_PID:-}" ]; then kill "$WRITER_PID" 2>/dev/null || true; wait "$WRITER_PID" 2>/dev/null || true; fi
	if [ -n "${SMALL_MOUNT:-}" ]; then umount "$SMALL_MOUNT" 2>/dev/null || umount -l "$SMALL_MOUNT" || true; fi
}

# Every path (less .ferry and the database), kind, mode, size, link target,
# mtime and content hash; not the times that recording the version changes.
tree() {
	(cd "$ROOT" && {
		find . -path ./.ferry -prune -o -mindepth 1 -printf '%p|%y|%m|%s|%l|%T@\n' |
			grep -v '^./data/app.db' |
			sed -E 's#^(./config/version.json|./config|./data)(\|.*\|)[^|]*$#\1\2#' | sort
		find . -path ./.ferry -prune -o -type f ! -name 'app.db*' -print0 | sort -z | xargs -0 sha256sum
	})
}

last_id() { ferry --json backup list 2>/dev/null | jq -r '.backups[0].id'; }
archive() { ferry --json backup list 2>/dev/null | jq -r --arg id "$1" '.backups[] | select(.id == $id) | .path'; }

# small_disk DIR MB: a filesystem of MB at DIR (tmpfs), or a per-file limit for `limited`.
small_disk() {
	mkdir -p "$1"
	if [ -z "${FERRY_TEST_NO_TMPFS:-}" ] && mount -t tmpfs -o "size=${2}m" tmpfs "$1" 2>/dev/null; then
		SMALL_MOUNT=$1
	else
		SMALL_ULIMIT=$(($2 * 1024))
	fi
}

# limited CMD...: CMD under the small disk's file-size limit, when there is no tmpfs.
limited() {
	if [ -n "$SMALL_ULIMIT" ]; then
		(trap '' XFSZ; ulimit -f "$SMALL_ULIMIT"; "$@")
	else
		"$@"
	fi
}

# ---- create, list ----

@test "backup create writes <app>_<time>_<type>.tar.zst, private, listed with SPEC keys" {
	umask 000
	run --separate-stderr ferry backup create
	[ "$status" -eq 0 ]
	id=$(last_id)
	[ "$output" = "$id" ]    # the id alone on stdout
	[[ "$id" =~ ^testapp_[0-9]{8}_[0-9]{6}_manual$ ]]
	[ "$(stat -c %a "$ROOT/.ferry/backups")" = 700 ]
	[ "$(stat -c %a "$ROOT/.ferry/backups/$id.tar.zst")" = 600 ]
	run --separate-stderr ferry --json backup list
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.backups | length == 1'
	echo "$output" | jq -e '.backups[0] | has("id") and has("version") and has("type") and
		has("size") and has("created_at") and has("path") and has("verified")'
	echo "$output" | jq -e '.backups[0] | .version == "0.1.0" and .type == "manual" and
		.size > 0 and .verified == false and (.created_at | test("^[0-9-]+T[0-9:]+Z$"))'
	run ferry backup list
	[[ "$output" == *"$id"*"0.1.0"*"manual"*"unverified"* ]]
}

@test "backup create --type --name --compression; bad values are usage errors (exit 2)" {
	run --separate-stderr ferry --json backup create --type checkpoint --name before-import --compression gzip
	[ "$status" -eq 0 ]
	id=$(echo "$output" | jq -r .id)
	[[ "$id" == testapp_*_before-import_checkpoint ]]
	[ -f "$ROOT/.ferry/backups/$id.tar.gz" ]
	run ferry backup create --compression lz4
	[ "$status" -eq 2 ]
	[[ "$output" == *"'lz4'"* ]]
	run ferry backup create --name 'a/b'
	[ "$status" -eq 2 ]
	run ferry backup frobnicate
	[ "$status" -eq 2 ]
	run ferry backup create --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--compression"* ]]
}

@test "round trip: nested folders, empty files, spaces, UTF-8, newlines, links, modes, times" {
	before=$(tree)
	ferry backup create
	id=$(last_id)
	echo changed >"$ROOT/data/empty"
	rm -r "$ROOT/data/deep" "$ROOT/data/link" "$ROOT/data/café ✓ ünï.txt"
	mkdir "$ROOT/data/link" "$ROOT/extra"
	echo new >"$ROOT/extra/new.txt"
	chmod 0600 "$ROOT/data/with space.txt"
	sqlite3 "$ROOT/data/app.db" "INSERT INTO notes (body) VALUES ('three'); CREATE TABLE later (x);"
	ferry version --set 0.2.0
	run ferry backup restore "$id"
	[ "$status" -eq 0 ]
	[[ "$output" == *"safety backup"* ]]
	[ "$(tree)" = "$before" ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT group_concat(body) FROM notes')" = "one,two" ]
	[ -z "$(sqlite3 "$ROOT/data/app.db" "SELECT name FROM sqlite_master WHERE name = 'later'")" ]
	[ "$(ferry version)" = 0.1.0 ]
	[ "$(jq -r .version "$ROOT/config/version.json")" = 0.1.0 ]
	# The safety backup holds the state before: at 0.2.0, with extra/.
	ferry --json backup list 2>/dev/null | jq -e '.backups[0].type == "safety" and .backups[0].version == "0.2.0"'
	ferry --json backup list 2>/dev/null | jq -e --arg id "$id" '.backups[] | select(.id == $id) | .verified'
	[ -z "$(ls -A "$(dirname "$ROOT")" | grep ferry-restore)" ]
}

@test "a large sparse file goes and comes back, still sparse" {
	truncate -s 1G "$ROOT/data/sparse.img"
	printf 'head' | dd of="$ROOT/data/sparse.img" conv=notrunc status=none
	printf 'tail' | dd of="$ROOT/data/sparse.img" bs=1 seek=$((1024 * 1024 * 1024 - 4)) conv=notrunc status=none
	sum=$(sha256sum <"$ROOT/data/sparse.img")
	ferry backup create
	id=$(last_id)
	# zstd stores a gigabyte of zeros in a few kilobytes.
	[ "$(stat -c %s "$(archive "$id")")" -lt 1000000 ]
	rm "$ROOT/data/sparse.img"
	run ferry backup restore --no-safety-backup "$id"
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$ROOT/data/sparse.img")" = 1073741824 ]
	[ "$(sha256sum <"$ROOT/data/sparse.img")" = "$sum" ]
	[ "$(du -k "$ROOT/data/sparse.img" | cut -f1)" -lt 10240 ]
}

# concurrent_writer MODE: backups while another process commits batches of 100 rows.
concurrent_writer() {
	sqlite3 "$ROOT/data/app.db" "PRAGMA journal_mode = $1" >/dev/null
	sqlite3 "$ROOT/data/app.db" "CREATE TABLE big (batch INTEGER, pad TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
		INSERT INTO big SELECT 0, hex(randomblob(40)) FROM n;"
	# Batches of 100 rows, each in one transaction, for as long as the test runs.
	(
		b=1
		while :; do
			sqlite3 "$ROOT/data/app.db" ".timeout 5000" "BEGIN IMMEDIATE;
				WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
				INSERT INTO big SELECT $b, hex(randomblob(40)) FROM n; COMMIT;" 2>/dev/null
			b=$((b + 1))
		done
	) &
	WRITER_PID=$!
	sleep 0.3
	for i in 1 2 3; do
		run --separate-stderr ferry --json backup create
		[ "$status" -eq 0 ]
	done
	kill "$WRITER_PID"; wait "$WRITER_PID" 2>/dev/null || true; WRITER_PID=
	# Its last sqlite3 may still be finishing a batch: wait for the lock.
	[ "$(sqlite3 -cmd '.timeout 10000' "$ROOT/data/app.db" 'SELECT max(batch) FROM big')" -gt 3 ]
	for id in $(ferry --json backup list 2>/dev/null | jq -r '.backups[].id'); do
		x="$BATS_TEST_TMPDIR/x-$id"
		mkdir "$x"
		tar --zstd -xf "$(archive "$id")" -C "$x"
		[ "$(sqlite3 "$x/databases/main.sqlite" 'PRAGMA integrity_check')" = ok ]
		# Whole batches only: every copy is one transaction's view.
		[ "$(sqlite3 "$x/databases/main.sqlite" 'SELECT count(*) % 100 FROM big WHERE batch > 0')" = 0 ]
		run ferry backup verify "$id"
		[ "$status" -eq 0 ]
	done
}

@test "a database written to by another process during the backup is copied consistently" {
	concurrent_writer delete
}

@test "the same with the database in WAL mode" {
	concurrent_writer wal
}

# ---- interop ----

@test "GNU tar extracts every backup (zstd, gzip, none); sha256sum matches the manifest" {
	ferry backup create
	ferry backup create --compression gzip
	ferry backup create --compression none
	n=0
	for path in $(ferry --json backup list 2>/dev/null | jq -r '.backups[].path'); do
		x="$BATS_TEST_TMPDIR/x$n"; n=$((n + 1))
		mkdir "$x"
		case "$path" in
		*.tar.zst) tar --zstd -xf "$path" -C "$x" ;;
		*.tar.gz) tar -xzf "$path" -C "$x" ;;
		*) tar -xf "$path" -C "$x" ;;
		esac
		jq -e '.app == "testapp" and .version == "0.1.0" and .type == "manual" and
			(.created_at | type == "string") and (.entries | length > 10)' "$x/MANIFEST.json"
		# Every file entry: sha256sum and size as the manifest says.
		jq -r '.entries[] | select(.type == "file") | "\(.sha256)  \(.path)"' "$x/MANIFEST.json" \
			| grep -v 'new$' >"$x.sums"
		(cd "$x" && sha256sum -c --quiet "$x.sums")
		[ "$(sha256sum <"$x/files/data/new
line" | cut -d' ' -f1)" = "$(jq -r '.entries[] | select(.path == "files/data/new\nline") | .sha256' "$x/MANIFEST.json")" ]
		[ -L "$x/files/data/link" ] && [ "$(readlink "$x/files/data/link")" = empty ]
		[ "$(stat -c %a "$x/files/config/app.json")" = 640 ]
		[ -f "$x/files/data/café ✓ ünï.txt" ]
		[ "$(sqlite3 "$x/databases/main.sqlite" 'SELECT count(*) FROM notes')" = 2 ]
		[ ! -e "$x/files/data/app.db" ] && [ ! -e "$x/files/.ferry" ]
	done
	[ "$n" = 3 ]
}

@test "the archive holds the files, then the databases (copied meanwhile), the manifest last" {
	# 9 MiB: more chunks than the writer's ring holds; the database is copied on a thread.
	head -c 9437184 /dev/urandom >"$ROOT/data/big.bin"
	sqlite3 "$ROOT/data/app.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
		WHERE i < 20000) INSERT INTO notes (body) SELECT hex(randomblob(50)) FROM n;"
	ferry backup create
	path=$(archive "$(last_id)")
	tar --zstd -tf "$path" >"$BATS_TEST_TMPDIR/list"
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/list")" = MANIFEST.json ]
	db=$(grep -n '^databases/main.sqlite$' "$BATS_TEST_TMPDIR/list" | cut -d: -f1)
	lastfile=$(grep -n '^files/' "$BATS_TEST_TMPDIR/list" | tail -n 1 | cut -d: -f1)
	[ -n "$db" ] && [ "$db" -gt "$lastfile" ]
	x="$BATS_TEST_TMPDIR/x"
	mkdir "$x"
	tar --zstd -xf "$path" -C "$x"
	cmp "$x/files/data/big.bin" "$ROOT/data/big.bin"
	[ "$(sqlite3 "$x/databases/main.sqlite" 'SELECT count(*) FROM notes')" = 20002 ]
	[ "$(jq -r '.entries[] | select(.path == "databases/main.sqlite") | .sha256' "$x/MANIFEST.json")" = \
		"$(sha256sum <"$x/databases/main.sqlite" | cut -d' ' -f1)" ]
}

# ---- damage ----

@test "a flipped bit is caught by verify (exit 3, naming the entry) and by restore" {
	head -c 3000000 /dev/urandom >"$ROOT/data/blob.bin"
	ferry backup create
	id=$(last_id)
	path=$(archive "$id")
	run ferry backup verify "$id"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok"* ]]
	# Random bytes are stored as they are inside the zstd frame: flip one of blob.bin's.
	python3 - "$path" "$ROOT/data/blob.bin" <<'EOF'
import sys
arch, blob = sys.argv[1], sys.argv[2]
data = bytearray(open(arch, 'rb').read())
probe = open(blob, 'rb').read()[1000000:1000064]
at = data.find(probe)
assert at > 0, 'probe not found'
data[at + 10] ^= 0x10
open(arch, 'wb').write(data)
EOF
	run ferry backup verify "$id"
	[ "$status" -eq 3 ]
	[[ "$output" == *"files/data/blob.bin"* ]]
	[[ "$output" == *"damaged"* ]]
	run --separate-stderr ferry --json backup verify "$id"
	[ "$status" -eq 3 ]
	echo "$output" | jq -e '.ok == false and any(.findings[]; .subject == "files/data/blob.bin")'
	ferry --json backup list 2>/dev/null | jq -e '.backups[0].status == "damaged"'
	echo after >"$ROOT/data/empty"
	before=$(tree)
	run ferry backup restore "$id"
	[ "$status" -eq 3 ]
	[[ "$output" == *"files/data/blob.bin"* ]]
	[[ "$output" == *"nothing was changed"* ]]
	[ "$(tree)" = "$before" ]
	[ "$(ls "$ROOT/.ferry/backups" | wc -l)" = 1 ]
	# rollback --last skips it: damaged, and nothing else to go back to.
	run ferry rollback --last
	[ "$status" -eq 2 ]
}

@test "each entry's digest reaches its own record: one damaged file among many is the one named" {
	# More entries than the hashing ring's slots, and a file of several chunks among them.
	mkdir "$ROOT/data/many"
	for i in $(seq -w 1 40); do head -c 20000 /dev/urandom >"$ROOT/data/many/f$i.bin"; done
	head -c 5000000 /dev/urandom >"$ROOT/data/many/f20big.bin"
	ferry backup create
	id=$(last_id)
	path=$(archive "$id")
	run ferry backup verify "$id"
	[ "$status" -eq 0 ]
	python3 - "$path" "$ROOT/data/many/f17.bin" <<'EOF'
import sys
arch, blob = sys.argv[1], sys.argv[2]
data = bytearray(open(arch, 'rb').read())
probe = open(blob, 'rb').read()[10000:10064]
at = data.find(probe)
assert at > 0, 'probe not found'
data[at + 10] ^= 0x10
open(arch, 'wb').write(data)
EOF
	run --separate-stderr ferry --json backup verify "$id"
	[ "$status" -eq 3 ]
	echo "$output" | jq -e '[.findings[].subject] == ["files/data/many/f17.bin"]'
}

@test "zstd is read on its own thread: several frames pass, a cut-short stream is damaged" {
	head -c 9000000 /dev/urandom >"$ROOT/data/blob.bin"   # more than the reader's ring holds
	seq 1 200000 >"$ROOT/data/lines.txt"
	ferry backup create
	id=$(last_id)
	path=$(archive "$id")
	# The same tar as two zstd frames, one after the other (as zstd -c a b > c makes).
	zstd -q -d -c "$path" >"$BATS_TEST_TMPDIR/plain.tar"
	half=$(( $(stat -c %s "$BATS_TEST_TMPDIR/plain.tar") / 2 ))
	head -c "$half" "$BATS_TEST_TMPDIR/plain.tar" | zstd -q -c >"$BATS_TEST_TMPDIR/two.zst"
	tail -c +"$((half + 1))" "$BATS_TEST_TMPDIR/plain.tar" | zstd -q -c >>"$BATS_TEST_TMPDIR/two.zst"
	cp "$path" "$BATS_TEST_TMPDIR/one.zst"
	cp "$BATS_TEST_TMPDIR/two.zst" "$path"
	run ferry backup verify "$id"
	echo "$output"
	[ "$status" -eq 0 ]
	rm "$ROOT/data/lines.txt"
	ferry backup restore --no-safety-backup "$id"
	[ "$(seq 1 200000)" = "$(cat "$ROOT/data/lines.txt")" ]
	# Cut short in the middle of blob.bin: verify and restore say so, nothing changes.
	head -c "$(( $(stat -c %s "$BATS_TEST_TMPDIR/one.zst") / 2 ))" "$BATS_TEST_TMPDIR/one.zst" >"$path"
	run ferry backup verify "$id"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"damaged"* ]]
	[[ "$output" == *"cut short"* ]]
	echo changed >"$ROOT/data/lines.txt"
	before=$(tree)
	run ferry backup restore "$id"
	[ "$status" -eq 3 ]
	[[ "$output" == *"nothing was changed"* ]]
	[ "$(tree)" = "$before" ]
}

# craft NAME KIND: a tar with one attack and an honest manifest, made with python3's tarfile.
craft() {
	python3 - "$BATS_TEST_TMPDIR/$1.tar" "$2" "$BATS_TEST_TMPDIR/outside" <<'EOF'
import hashlib, io, json, sys, tarfile
out, kind, outside = sys.argv[1:4]
t = tarfile.open(out, 'w', format=tarfile.PAX_FORMAT)
ents = []
def add(name, data=None, **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items(): setattr(ti, k, v)
    if data is not None: ti.size = len(data)
    t.addfile(ti, io.BytesIO(data) if data is not None else None)
    e = {'path': name, 'type': 'file', 'size': ti.size, 'mode': '%04o' % ti.mode}
    if ti.issym(): e.update(type='symlink', target=ti.linkname)
    elif ti.islnk(): e.update(type='hardlink', target=ti.linkname)
    else: e['sha256'] = hashlib.sha256(data or b'').hexdigest()
    ents.append(e)
add('files/ok.txt', b'fine\n')
if kind == 'dotdot': add('../etc/x', b'pwned\n')
if kind == 'abs': add(outside + '/abs', b'pwned\n')
if kind == 'symlink':
    add('files/evil', type=tarfile.SYMTYPE, linkname=outside)
    add('files/evil/x', b'pwned\n')
if kind == 'hardlink': add('files/passwd', type=tarfile.LNKTYPE, linkname='/etc/passwd')
m = {'app': 'testapp', 'version': '0.1.0', 'type': 'manual', 'databases': [], 'entries': ents}
data = json.dumps(m).encode()
ti = tarfile.TarInfo('MANIFEST.json'); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
t.close()
EOF
}

@test "crafted archives are refused with nothing written outside staging" {
	mkdir "$BATS_TEST_TMPDIR/outside"
	passwd=$(sha256sum /etc/passwd)
	before=$(tree)
	for kind in dotdot abs symlink hardlink; do
		craft "$kind" "$kind"
		run ferry backup restore "$BATS_TEST_TMPDIR/$kind.tar"
		[ "$status" -eq 3 ]
		[[ "$output" == *"unsafe"* ]]
		[[ "$output" == *"nothing was changed"* ]]
		[ -z "$(ls -A "$BATS_TEST_TMPDIR/outside")" ]
		[ ! -e "$BATS_TEST_TMPDIR/etc" ] && [ ! -e "$(dirname "$ROOT")/etc" ]
		[ "$(sha256sum /etc/passwd)" = "$passwd" ]
		[ "$(tree)" = "$before" ]
		[ -z "$(ls -A "$(dirname "$ROOT")" | grep ferry-restore)" ]
	done
	# No safety backup was taken for any of them.
	[ ! -d "$ROOT/.ferry/backups" ] || [ -z "$(ls -A "$ROOT/.ferry/backups")" ]
}

# ---- disk full, interruptions ----

@test "disk full during create: exit 1, no archive left, nothing listed" {
	small_disk "$BATS_TEST_TMPDIR/small" 2
	printf 'backup:\n  dir: %s/small/backups\n  compression: none\n' "$BATS_TEST_TMPDIR" >>"$ROOT/ferry.yaml"
	head -c 4000000 /dev/urandom >"$ROOT/data/big.bin"
	run limited "$FERRY" -C "$ROOT" backup create
	[ "$status" -eq 1 ]
	if [ -n "$SMALL_MOUNT" ]; then [[ "$output" == *"No space left on device"* ]]; fi
	[[ "$output" == *"cannot write backup"* ]]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/small/backups")" ]
	[ "$(ferry --json backup list 2>/dev/null | jq '.backups | length')" = 0 ]
	# With room again, it works.
	rm "$ROOT/data/big.bin"
	run limited "$FERRY" -C "$ROOT" backup create
	[ "$status" -eq 0 ]
}

@test "disk full during restore: exit 1, the installation as it was, no staging left" {
	small_disk "$BATS_TEST_TMPDIR/small" 8
	# The installation on the small disk, its backups elsewhere.
	cp -a "$ROOT" "$BATS_TEST_TMPDIR/small/inst"
	ROOT=$BATS_TEST_TMPDIR/small/inst
	printf 'backup:\n  dir: %s/backups\n' "$BATS_TEST_TMPDIR" >>"$ROOT/ferry.yaml"
	head -c 3000000 /dev/urandom >"$ROOT/data/big.bin"
	ferry backup create
	id=$(last_id)
	echo changed >"$ROOT/data/empty"
	if [ -n "$SMALL_MOUNT" ]; then
		# Leave about 1 MiB free: the 3 MB file cannot be staged.
		free=$(df -B1 --output=avail "$SMALL_MOUNT" | tail -1)
		head -c $((free - 1048576)) /dev/zero >"$SMALL_MOUNT/filler"
	else
		SMALL_ULIMIT=1024
	fi
	before=$(tree)
	run limited "$FERRY" -C "$ROOT" backup restore --no-safety-backup "$id"
	[ "$status" -eq 1 ]
	[[ "$output" == *"nothing was changed"* ]]
	[ "$(tree)" = "$before" ]
	[ "$(ferry version)" = 0.1.0 ]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/small" | grep ferry-restore)" ]
	[ -z "$(ls -A "$ROOT/.ferry" | grep restore)" ]
	rm -f "$BATS_TEST_TMPDIR/small/filler"
	SMALL_ULIMIT=
	run ferry backup restore --no-safety-backup "$id"
	[ "$status" -eq 0 ]
	[ ! -s "$ROOT/data/empty" ]
}

@test "an interrupted backup leaves nothing that list shows; the next one cleans up" {
	head -c 300000000 /dev/urandom >"$ROOT/data/big.bin"
	"$FERRY" -C "$ROOT" backup create --compression gzip &
	pid=$!
	for i in $(seq 100); do
		ls -A "$ROOT/.ferry/backups" 2>/dev/null | grep -q tmp && break
		sleep 0.05
	done
	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 130 ]
	[ -z "$(ls -A "$ROOT/.ferry/backups")" ]
	# kill -9 leaves a hidden temporary file, which nothing lists and the next backup removes.
	"$FERRY" -C "$ROOT" backup create --compression gzip &
	pid=$!
	for i in $(seq 100); do
		ls -A "$ROOT/.ferry/backups" 2>/dev/null | grep -q tmp && break
		sleep 0.05
	done
	kill -KILL "$pid"
	wait "$pid" || true
	[ -n "$(ls -A "$ROOT/.ferry/backups" | grep '^\..*tmp-')" ]
	[ "$(ferry --json backup list 2>/dev/null | jq '.backups | length')" = 0 ]
	rm "$ROOT/data/big.bin"
	ferry backup create
	[ "$(ls -A "$ROOT/.ferry/backups" | wc -l)" = 1 ]
}

# ---- prune, rollback ----

@test "prune keeps the newest N and removes by age, never the newest verified backup" {
	for i in 1 2 3 4; do ferry backup create >/dev/null; done
	ids=($(ferry --json backup list 2>/dev/null | jq -r '.backups[].id'))   # newest first
	ferry backup verify "${ids[3]}"
	# The verified one is the oldest, 40 days old; the others are younger, unverified.
	sqlite3 "$ROOT/.ferry/state.db" "UPDATE backups SET created_at_ms = created_at_ms - 40 * 86400000
		WHERE id = '${ids[3]}'"
	run --separate-stderr ferry --json backup prune --keep 1
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg v "${ids[3]}" --arg n "${ids[0]}" \
		'(.kept | sort) == ([$v, $n] | sort) and (.removed | length) == 2'
	run ferry backup prune --keep 0 --older-than 30d
	[ "$status" -eq 0 ]
	ferry --json backup list 2>/dev/null | jq -e --arg v "${ids[3]}" '[.backups[].id] == [$v]'
	[ "$(ls "$ROOT/.ferry/backups" | wc -l)" = 1 ]
	run ferry backup prune --older-than soon
	[ "$status" -eq 2 ]
}

@test "rollback [ID|--last] restores the backup and its version" {
	ferry backup create
	first=$(last_id)
	ferry version --set 0.2.0
	echo 0.2.0 >"$ROOT/data/empty"
	sqlite3 "$ROOT/data/app.db" "INSERT INTO notes (body) VALUES ('three')"
	ferry backup create --type pre-run
	ferry version --set 0.3.0
	echo 0.3.0 >"$ROOT/data/empty"
	run ferry rollback --last
	[ "$status" -eq 0 ]
	[ "$(ferry version)" = 0.2.0 ]
	[ "$(cat "$ROOT/data/empty")" = 0.2.0 ]
	run --separate-stderr ferry --json rollback --no-safety-backup "$first"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg id "$first" '.restored == $id and .version == "0.1.0" and .safety_backup == null'
	[ "$(ferry version)" = 0.1.0 ]
	[ ! -s "$ROOT/data/empty" ]
	[ "$(sqlite3 "$ROOT/data/app.db" 'SELECT count(*) FROM notes')" = 2 ]
	run ferry rollback "$first" --last
	[ "$status" -eq 2 ]
	run ferry rollback nope
	[ "$status" -eq 2 ]
	[[ "$output" == *"'nope'"* ]]
}

@test "restore takes the lock: exit 4 while another run holds it" {
	ferry backup create
	id=$(last_id)
	# The holder keeps the lock until told to let go (a loaded machine may be slow to start it).
	python3 -c "
import fcntl, os, time
f = open('$ROOT/.ferry/lock', 'a+'); fcntl.flock(f, fcntl.LOCK_EX)
open('$BATS_TEST_TMPDIR/held', 'w').close()
for _ in range(600):
    if os.path.exists('$BATS_TEST_TMPDIR/release'): break
    time.sleep(0.1)" &
	holder=$!
	wait_until 30 test -e "$BATS_TEST_TMPDIR/held"
	run ferry backup restore "$id"
	touch "$BATS_TEST_TMPDIR/release"
	wait "$holder"
	[ "$status" -eq 4 ]
}

# ---- progress ----

@test "a progress bar on a terminal only" {
	head -c 20000000 /dev/urandom >"$ROOT/data/big.bin"
	run ferry backup create
	[ "$status" -eq 0 ]
	[[ "$output" != *"MiB/s"* ]]
	script -qec "$FERRY -C '$ROOT' backup create" /dev/null >"$BATS_TEST_TMPDIR/tty.out"
	grep -q 'backup' "$BATS_TEST_TMPDIR/tty.out"
	grep -q 'MiB/s' "$BATS_TEST_TMPDIR/tty.out"
}
