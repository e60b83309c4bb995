# fault_helpers.bash - helpers for the fault tests (fault_*.bats), on top of
# helpers.bash (load that first). Everything here is bounded in time; every
# background process is recorded and ended by fault_teardown.
#
#   fault_install [VERSION]      make_install + version file + seeded tables
#   snapshot                     remembers dump, version, run count
#   assert_unchanged             dump, version (state and file), no new run
#   jget FILE PATH               a value of a JSON document (SQLite json_extract)
#   jstate FILE STEP_ID          a step's state in a `list --json` document
#   fj NAME ARGS...              runs `ferry --json ARGS` into $BATS_TEST_TMPDIR/NAME.json
#   slow_step FROM TO NAME       an SQL step that takes about a second
#   bg_ferry NAME ARGS...        starts ferry in the background; BG_PID, output in NAME.out
#   wait_lock_line TIMEOUT       until .ferry/lock holds a "pid host since" line
#   wait_log TIMEOUT REGEX       until .ferry/log/ferry.log has a line matching REGEX
#   hold_lock SECONDS            another process holds .ferry/lock; HOLD_PID
#   record_count                 rows in data/app.db's ferry_steps (0 without the table)
#   fault_teardown               ends every process these helpers started

BG_PIDS=()
SLOW_N=${FERRY_TEST_SLOW_N:-3000000}

fault_install() {
	make_install
	mkdir -p "$ROOT/config"
	echo "version_file: config/version.json" >>"$ROOT/ferry.yaml"
	sqlite3 "$ROOT/data/app.db" <<'SQL'
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), title TEXT NOT NULL, body TEXT);
INSERT INTO users VALUES (1, 'ada', 'ada@example.org'), (2, 'bob', 'bob@example.org'), (3, 'cy', NULL);
INSERT INTO posts VALUES (1, 1, 'hello', 'first post'), (2, 1, 'again', NULL), (3, 2, 'hi bob', 'x''s');
SQL
	"$FERRY" -C "$ROOT" version --set "${1:-0.1.0}" >/dev/null 2>&1
}

# transaction: step in ferry.yaml
tx_step() {
	echo "transaction: step" >>"$ROOT/ferry.yaml"
}

# The installation's version as status --json reports it.
cur_version() {
	"$FERRY" -C "$ROOT" --json status 2>/dev/null >"$BATS_TEST_TMPDIR/cur.json"
	jget "$BATS_TEST_TMPDIR/cur.json" '$.current'
}

file_version() {
	jget "$ROOT/config/version.json" '$.version'
}

run_count() {
	"$FERRY" -C "$ROOT" --json history 2>/dev/null >"$BATS_TEST_TMPDIR/hist.json"
	sqlite3 :memory: "SELECT json_array_length(readfile('$BATS_TEST_TMPDIR/hist.json'), '\$.runs')"
}

snapshot() {
	dump >"$BATS_TEST_TMPDIR/before.sql"
	SNAP_VERSION=$(cur_version)
	SNAP_FILE_VERSION=$(file_version 2>/dev/null || true)
	SNAP_RUNS=$(run_count)
	[ -s "$BATS_TEST_TMPDIR/before.sql" ]
	[ -n "$SNAP_VERSION" ]
}

# Same dump (byte for byte, ferry_steps left out) and same version.
assert_same_data() {
	dump >"$BATS_TEST_TMPDIR/after.sql"
	if ! cmp -s "$BATS_TEST_TMPDIR/before.sql" "$BATS_TEST_TMPDIR/after.sql"; then
		echo "# database changed:" >&2
		diff "$BATS_TEST_TMPDIR/before.sql" "$BATS_TEST_TMPDIR/after.sql" | head -40 >&2
		return 1
	fi
	local v fv
	v=$(cur_version)
	[ "$v" = "$SNAP_VERSION" ] || { echo "# version $v, was $SNAP_VERSION" >&2; return 1; }
	if [ -n "$SNAP_FILE_VERSION" ]; then
		fv=$(file_version)
		[ "$fv" = "$SNAP_FILE_VERSION" ] || { echo "# version file $fv, was $SNAP_FILE_VERSION" >&2; return 1; }
	fi
}

# assert_same_data, and no run was recorded.
assert_unchanged() {
	assert_same_data || return 1
	local n
	n=$(run_count)
	[ "$n" = "$SNAP_RUNS" ] || { echo "# runs: $n, were $SNAP_RUNS" >&2; return 1; }
}

# jget FILE PATH: the value at PATH ('$.a.b[0]'); true/false print 1/0, null prints nothing.
jget() {
	sqlite3 :memory: "SELECT json_extract(readfile('$1'), '$2')"
}

# jstate FILE STEP_ID: the state of a step in a `list --json` document.
jstate() {
	sqlite3 :memory: "SELECT json_extract(value, '$.state') FROM json_each(readfile('$1'), '$.steps') WHERE json_extract(value, '$.id') = '$2'"
}

# jstep FILE STEP_ID: the status of a step in an `up --json` document.
jstep() {
	sqlite3 :memory: "SELECT json_extract(value, '$.status') FROM json_each(readfile('$1'), '$.steps') WHERE json_extract(value, '$.id') = '$2'"
}

# fj NAME ARGS...: ferry --json ARGS; stdout in $BATS_TEST_TMPDIR/NAME.json, stderr in NAME.err.
# Use with `run fj ...`: $output is the human text (stderr).
fj() {
	local name=$1
	shift
	"$FERRY" -C "$ROOT" --json "$@" >"$BATS_TEST_TMPDIR/$name.json" 2>"$BATS_TEST_TMPDIR/$name.err"
	local rc=$?
	cat "$BATS_TEST_TMPDIR/$name.err"
	return $rc
}

# slow_step FROM TO NAME: creates a table from a recursive count (about a second).
slow_step() {
	step "$1" "$2" "$3" \
		"CREATE TABLE slow_$3 AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $SLOW_N) SELECT count(*) AS n FROM c;" \
		"DROP TABLE slow_$3;"
}

# bg_ferry NAME ARGS...: ferry ARGS in the background (fd 3 closed for bats).
bg_ferry() {
	local name=$1
	shift
	"$FERRY" -C "$ROOT" "$@" >"$BATS_TEST_TMPDIR/$name.out" 2>&1 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

_lock_line() {
	grep -qE '^[0-9]+ ' "$ROOT/.ferry/lock" 2>/dev/null
}

wait_lock_line() {
	wait_until "$1" _lock_line
}

_log_has() {
	grep -qE "$1" "$ROOT/.ferry/log/ferry.log" 2>/dev/null
}

wait_log() {
	wait_until "$1" _log_has "$2"
}

# The log line saying a step is being applied ("step":"ID" ... "applying").
applying_re() {
	printf '"step":"%s".*"applying"' "${1//./\\.}"
}

# hold_lock SECONDS: another process holds .ferry/lock (flock -o: the held
# descriptor is not passed on to the command, so killing HOLD_PID frees it).
hold_lock() {
	mkdir -p "$ROOT/.ferry"
	local pf="$BATS_TEST_TMPDIR/hold.$RANDOM"
	flock -o "$ROOT/.ferry/lock" sh -c "echo \$\$ >'$pf'; exec sleep $1" 3>&- &
	HOLD_PID=$!
	BG_PIDS+=("$HOLD_PID")
	wait_until 5 test -s "$pf" || return 1
	BG_PIDS+=("$(cat "$pf")")
	# The lock must really be held before the test goes on.
	wait_until 5 _held || return 1
}

_held() {
	! flock -n "$ROOT/.ferry/lock" true
}

fault_teardown() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	for p in "${BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	BG_PIDS=()
	# Permission tests: give everything back so that bats can clean up.
	if [ -n "${ROOT:-}" ] && [ -d "$ROOT" ]; then
		chmod -R u+rwX "$ROOT" 2>/dev/null || true
	fi
}

# record_count: rows in the main database's ferry_steps (0 when it has none).
record_count() {
	if [ "$(sqlite3 "$ROOT/data/app.db" "SELECT count(*) FROM sqlite_master WHERE name = 'ferry_steps'")" = 1 ]; then
		sqlite3 "$ROOT/data/app.db" 'SELECT count(*) FROM ferry_steps'
	else
		echo 0
	fi
}
