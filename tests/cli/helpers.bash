# helpers.bash - shared set-up for the command-line tests (bats).
# Each test gets a fresh installation folder $ROOT under $BATS_TEST_TMPDIR.
#
#   make_install [VERSION]       ferry.yaml with one SQLite database 'main'
#   step FROM TO NAME UP [DOWN]   writes migrations/vFROM_to_vTO/NAME.sql
#   flat NAME CONTENT            writes migrations/<NAME> (a flat step)
#   dump                          the main database's schema and rows, without ferry's record
#   ferry ARGS...                 runs the tool under test with -C $ROOT
#   wait_until TIMEOUT CMD...     polls CMD every 50 ms; fails after TIMEOUT seconds
#   wait_exit PID TIMEOUT         waits for a background child; its status in WAIT_RC

FERRY=${FERRY:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build/ferry}

make_install() {
	ROOT="$BATS_TEST_TMPDIR/inst"
	mkdir -p "$ROOT/migrations" "$ROOT/data"
	cat >"$ROOT/ferry.yaml" <<YAML
app: testapp
migrations: migrations
databases:
  main: sqlite:data/app.db
YAML
	if [ -n "${1:-}" ]; then
		"$FERRY" -C "$ROOT" version --set "$1" >/dev/null
	fi
}

# step FROM TO NAME UP [DOWN]: a step in the transition folder vFROM_to_vTO.
step() {
	local from=$1 to=$2 name=$3 up=$4 down=${5:-}
	local dir="$ROOT/migrations/v${from}_to_v${to}"
	mkdir -p "$dir"
	{
		echo "-- ferry:up"
		echo "$up"
		if [ -n "$down" ]; then
			echo "-- ferry:down"
			echo "$down"
		fi
	} >"$dir/$name.sql"
}

flat() {
	printf '%s\n' "$2" >"$ROOT/migrations/$1"
}

dump() {
	sqlite3 "$ROOT/data/app.db" .dump | grep -v -i 'ferry_steps'
}

ferry() {
	"$FERRY" -C "$ROOT" "$@"
}

# ---- added for the command tests (init/new, status/list/history, plan,
# up/down, verify/check/version, global options) ----
#
#   put_step FROM TO NAME         writes migrations/vFROM_to_vTO/NAME.sql from stdin
#   put_meta FROM TO              writes migrations/vFROM_to_vTO/transition.yaml from stdin
#   add_config                    appends stdin to ferry.yaml
#   sql_main SQL...               runs sqlite3 on the main database (data/app.db)
#   recorded_ids                  the ids in the main database's ferry_steps, sorted
#   main_tables                   the application's tables in the main database, sorted

put_step() {
	local dir="$ROOT/migrations/v$1_to_v$2"
	mkdir -p "$dir"
	cat >"$dir/$3.sql"
}

put_meta() {
	local dir="$ROOT/migrations/v$1_to_v$2"
	mkdir -p "$dir"
	cat >"$dir/transition.yaml"
}

add_config() {
	cat >>"$ROOT/ferry.yaml"
}

sql_main() {
	sqlite3 "$ROOT/data/app.db" "$@"
}

recorded_ids() {
	if [ -f "$ROOT/data/app.db" ] &&
		[ -n "$(sqlite3 "$ROOT/data/app.db" "SELECT 1 FROM sqlite_master WHERE name = 'ferry_steps'")" ]; then
		sqlite3 "$ROOT/data/app.db" "SELECT id FROM ferry_steps ORDER BY id"
	fi
}

main_tables() {
	sqlite3 "$ROOT/data/app.db" "SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'ferry%' AND name NOT LIKE 'sqlite%' ORDER BY name" | paste -sd ' ' -
}

# wait_until TIMEOUT CMD...: polls CMD every 50 ms; fails after TIMEOUT seconds.
wait_until() {
	local timeout=$1 i
	shift
	for ((i = 0; i < timeout * 20; i++)); do
		if "$@"; then return 0; fi
		sleep 0.05
	done
	echo "# timed out after ${timeout}s waiting for: $*" >&2
	return 1
}

# wait_exit PID TIMEOUT: waits for a background child; WAIT_RC is its status
# (or "timeout", after which it is killed).
wait_exit() {
	local pid=$1 timeout=$2 i
	WAIT_RC=timeout
	for ((i = 0; i < timeout * 20; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			WAIT_RC=0
			wait "$pid" || WAIT_RC=$?
			return 0
		fi
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	echo "# pid $pid still running after ${timeout}s; killed" >&2
	return 1
}
