#!/usr/bin/env bats
# pgbouncer.bats - replicas behind PgBouncer in pool_mode = transaction
# (issue 12.6): 16 copies of an installation run `ferry up --wait 60` at once
# through a pool of 4 server connections, so that consecutive transactions
# of one client land on different server sessions. Every replica exits 0,
# every step is applied once, the settings of the url (search_path) hold in
# every transaction; a holder killed with -9 lets the next run go once its
# lease expired; `ferry check` names the lock. The same 16 replicas straight
# to the server pass too (the session advisory lock).
#
# setup_file starts a server (tests/pg/pg.sh) and PgBouncer in front of it
# (tests/pg/pgbouncer.sh); teardown_file stops both. Each test starts from
# an empty database. FERRY_PG_LEASE_SECONDS keeps the lease short here.

bats_require_minimum_version 1.5.0
load helpers

PG_SH="$BATS_TEST_DIRNAME/../pg/pg.sh"
PGB_SH="$BATS_TEST_DIRNAME/../pg/pgbouncer.sh"

setup_file() {
	local envf="$BATS_FILE_TMPDIR/pg.env" dir
	unset FERRY_TEST_PG FERRY_PG_DIR FERRY_TEST_PGB
	dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg.XXXXXX") || return 1
	echo "$dir" >"$BATS_FILE_TMPDIR/pgdir"
	"$PG_SH" start "$dir" >"$envf" || return 1
	"$PGB_SH" start "$dir" >>"$envf" || return 1
	# shellcheck disable=SC1090
	. "$envf"
}

teardown_file() {
	if [ -f "$BATS_FILE_TMPDIR/pgdir" ]; then
		"$PGB_SH" stop "$(cat "$BATS_FILE_TMPDIR/pgdir")"
		"$PG_SH" stop "$(cat "$BATS_FILE_TMPDIR/pgdir")"
	fi
	return 0
}

setup() {
	BG_PIDS=()
	[ -n "${FERRY_TEST_PGB:-}" ] || { echo "# no PgBouncer: its start failed" >&2; return 1; }
	admin_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()
		AND backend_type = 'client backend' AND usename <> 'postgres';
		DROP SCHEMA IF EXISTS ferry CASCADE; DROP SCHEMA IF EXISTS store CASCADE;
		DROP SCHEMA IF EXISTS public CASCADE;
		CREATE SCHEMA public AUTHORIZATION pg_database_owner;
		GRANT USAGE ON SCHEMA public TO PUBLIC;
		CREATE SCHEMA store AUTHORIZATION app;
		REVOKE CREATE ON SCHEMA public FROM PUBLIC;" >/dev/null
	export FERRY_PG_LEASE_SECONDS=2
}

teardown() {
	local p
	for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

admin_sql() { psql "$FERRY_TEST_PG_ADMIN" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# Ends PgBouncer's server sessions, so that the next ones start with the role's settings.
drop_server_sessions() {
	admin_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'" \
		>/dev/null
	sleep 0.5
}

# The url with the schema the steps create in; PgBouncer drops `options`.
url_of() { # direct|bouncer
	local u=$FERRY_TEST_PG
	[ "$1" = bouncer ] && u=$FERRY_TEST_PGB
	case $u in *\?*) echo "$u&options=-csearch_path%3Dstore" ;; *) echo "$u?options=-csearch_path%3Dstore" ;; esac
}

# install DIR direct|bouncer [SLOW]: four steps, each INSERTs its name into
# marker (in schema store, found through search_path only: the role may
# not create in public); the second one
# sleeps SLOW seconds (default 1), the fourth runs outside a transaction.
install() {
	local root=$1 slow=${3:-1}
	mkdir -p "$root/migrations/v0.0.0_to_v1.0.0"
	cat >"$root/ferry.yaml" <<YAML
app: pgbapp
databases:
  main: $(url_of "$2")
YAML
	cat >"$root/migrations/v0.0.0_to_v1.0.0/001_marker.sql" <<'SQL'
-- ferry:up
CREATE TABLE marker (step text NOT NULL, pid int NOT NULL DEFAULT pg_backend_pid());
INSERT INTO marker (step) VALUES ('001');
-- ferry:down
DROP TABLE marker;
SQL
	cat >"$root/migrations/v0.0.0_to_v1.0.0/002_slow.sql" <<SQL
-- ferry:up
SELECT pg_sleep($slow);
CREATE TABLE slow_t (x int);
INSERT INTO marker (step) VALUES ('002');
-- ferry:down
DROP TABLE slow_t;
SQL
	cat >"$root/migrations/v0.0.0_to_v1.0.0/003_t.sql" <<'SQL'
-- ferry:up
CREATE TABLE t3 (x int);
INSERT INTO marker (step) VALUES ('003');
-- ferry:down
DROP TABLE t3;
-- ferry:verify
SELECT count(*) = 1 FROM marker WHERE step = '003';
SQL
	cat >"$root/migrations/v0.0.0_to_v1.0.0/004_notx.sql" <<'SQL'
-- ferry:up
-- ferry:no-transaction
CREATE TABLE t4 (x int);
INSERT INTO marker (step) VALUES ('004');
-- ferry:down
DROP TABLE t4;
SQL
}

# replicas N direct|bouncer: N copies of one installation, all at once with
# `up --wait 60`; fails naming the first replica that did not exit 0.
replicas() {
	local n=$1 i pids=()
	install "$BATS_TEST_TMPDIR/r0" "$2"
	for ((i = 1; i < n; i++)); do
		mkdir -p "$BATS_TEST_TMPDIR/r$i"
		cp -R "$BATS_TEST_TMPDIR/r0/ferry.yaml" "$BATS_TEST_TMPDIR/r0/migrations" \
			"$BATS_TEST_TMPDIR/r$i/"
	done
	for ((i = 0; i < n; i++)); do
		"$FERRY" -C "$BATS_TEST_TMPDIR/r$i" up --wait 60 --skip-backup \
			>"$BATS_TEST_TMPDIR/r$i.out" 2>&1 3>&- &
		pids+=("$!")
		BG_PIDS+=("$!")
	done
	for ((i = 0; i < n; i++)); do
		wait_exit "${pids[$i]}" 120
		if [ "$WAIT_RC" != 0 ]; then
			echo "# replica $i exited $WAIT_RC:" >&2
			cat "$BATS_TEST_TMPDIR/r$i.out" >&2
			return 1
		fi
	done
}

# Each step applied once, in schema store, recorded once; the version recorded.
applied_once() {
	[ "$(admin_sql "SELECT string_agg(step || ':' || n, ' ' ORDER BY step) FROM
		(SELECT step, count(*) n FROM store.marker GROUP BY step) s")" = "001:1 002:1 003:1 004:1" ]
	[ "$(admin_sql "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables
		WHERE schemaname = 'store'")" = "marker slow_t t3 t4" ]
	[ "$(admin_sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ]
	[ "$(admin_sql "SELECT count(*) || ' ' || count(DISTINCT id) FROM ferry.ferry_steps")" = "4 4" ]
	[ "$(admin_sql "SELECT version FROM ferry.version")" = 1.0.0 ]
}

@test "pgbouncer: six clients at once share at most four server sessions, in transaction mode" {
	grep -q '^pool_mode = transaction$' "$FERRY_PGB_DIR/pgbouncer.ini"
	run psql "$FERRY_TEST_PGB" -X -q -A -t -c "SELECT 1"
	[ "$status" -eq 0 ]
	local pids
	pids=$(for _ in 1 2 3 4 5 6; do
		psql "$FERRY_TEST_PGB" -X -q -A -t -c "SELECT pg_backend_pid(), pg_sleep(0.3)" &
	done; wait)
	[ "$(cut -d'|' -f1 <<<"$pids" | sort -u | wc -l)" -le 4 ]
	[ "$(admin_sql "SHOW max_connections")" -ge 40 ]
}

@test "pgbouncer: 16 replicas run 'ferry up --wait 60' at once: each step once, all exit 0" {
	replicas 16 bouncer
	applied_once
	# Nothing is left behind: the lease is given back at the end.
	[ "$(admin_sql "SELECT count(*) FROM ferry.lock")" = 0 ]
	[ "$(admin_sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 0 ]
	# The steps' transactions ran in more than one server session.
	run "$FERRY" -C "$BATS_TEST_TMPDIR/r7" --json status
	[[ "$output" == *'"current": "1.0.0"'* ]]
	# verify's queries outside any run get the url's search_path too.
	run "$FERRY" -C "$BATS_TEST_TMPDIR/r3" verify
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "pgbouncer: the same 16 replicas straight to the server (session advisory lock)" {
	replicas 16 direct
	applied_once
	[ "$(admin_sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'ferry' AND
		tablename = 'lock'")" = 0 ]
}

@test "pgbouncer: replicas both ways at once take turns (8 through PgBouncer, 8 direct)" {
	local i pids=()
	install "$BATS_TEST_TMPDIR/r0" bouncer
	install "$BATS_TEST_TMPDIR/r1" direct
	for ((i = 2; i < 16; i++)); do
		mkdir -p "$BATS_TEST_TMPDIR/r$i"
		cp -R "$BATS_TEST_TMPDIR/r$((i % 2))/ferry.yaml" "$BATS_TEST_TMPDIR/r0/migrations" \
			"$BATS_TEST_TMPDIR/r$i/"
	done
	for ((i = 0; i < 16; i++)); do
		"$FERRY" -C "$BATS_TEST_TMPDIR/r$i" up --wait 60 --skip-backup \
			>"$BATS_TEST_TMPDIR/r$i.out" 2>&1 3>&- &
		pids+=("$!")
		BG_PIDS+=("$!")
	done
	for ((i = 0; i < 16; i++)); do
		wait_exit "${pids[$i]}" 120
		[ "$WAIT_RC" = 0 ] || { cat "$BATS_TEST_TMPDIR/r$i.out" >&2; return 1; }
	done
	applied_once
}

@test "pgbouncer: a holder killed with -9 in its slow step: the next run goes once the lease expired" {
	install "$BATS_TEST_TMPDIR/a" bouncer 4
	mkdir -p "$BATS_TEST_TMPDIR/b"
	cp -R "$BATS_TEST_TMPDIR/a/ferry.yaml" "$BATS_TEST_TMPDIR/a/migrations" "$BATS_TEST_TMPDIR/b/"
	"$FERRY" -C "$BATS_TEST_TMPDIR/a" up --skip-backup >"$BATS_TEST_TMPDIR/a.out" 2>&1 3>&- &
	holder=$!
	BG_PIDS+=("$holder")
	wait_until 15 sleeping
	[ "$(admin_sql "SELECT pid FROM ferry.lock")" = "$holder" ]
	# Another machine sees who holds it, and waits no longer than it is told.
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" --json status
	[[ "$output" == *"lease of 'ferry $holder@"* ]]
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" up --wait 0 --skip-backup
	[ "$status" -eq 4 ]
	[[ "$output" == *"lease in ferry.lock"*"ferry $holder@"* ]]
	kill -9 "$holder"
	wait "$holder" 2>/dev/null || true
	start=$(date +%s)
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" up --wait 60 --skip-backup
	echo "$output"
	[ "$status" -eq 0 ]
	# The dead run's transaction ends within its step (4 s), its lease 2 s later.
	[ $(($(date +%s) - start)) -lt 20 ]
	applied_once
}

sleeping() {
	[ -n "$(admin_sql "SELECT pid FROM pg_stat_activity WHERE state = 'active'
		AND query LIKE '%pg_sleep(4)%' AND pid <> pg_backend_pid()")" ]
}

@test "pgbouncer: check names the lock: a lease behind PgBouncer, the advisory lock direct" {
	install "$BATS_TEST_TMPDIR/a" bouncer
	run "$FERRY" -C "$BATS_TEST_TMPDIR/a" check
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"lock main: lease, a lease in ferry.lock (2 s"*"pooler"* ]]
	run --separate-stderr "$FERRY" -C "$BATS_TEST_TMPDIR/a" --json check
	[ "$status" -eq 0 ]
	jq -e '.locks == [.locks[0]] and .locks[0].database == "main" and .locks[0].lock == "lease"' \
		<<<"$output"
	install "$BATS_TEST_TMPDIR/d" direct
	run "$FERRY" -C "$BATS_TEST_TMPDIR/d" check
	[ "$status" -eq 0 ]
	[[ "$output" == *"lock main: session, a session advisory lock"*"directly"* ]]
	FERRY_PG_LOCK=lease run "$FERRY" -C "$BATS_TEST_TMPDIR/d" check
	[[ "$output" == *"lock main: lease"*"FERRY_PG_LOCK=lease"* ]]
	FERRY_PG_LOCK=bogus run "$FERRY" -C "$BATS_TEST_TMPDIR/d" check
	[ "$status" -eq 3 ]
	[[ "$output" == *"FERRY_PG_LOCK is 'bogus'"* ]]
}

@test "pgbouncer: FERRY_PG_LOCK=lease straight to the server: every step once, settings held" {
	export FERRY_PG_LOCK=lease
	replicas 6 direct
	applied_once
	[ "$(admin_sql "SELECT count(*) FROM ferry.lock")" = 0 ]
}

@test "pgbouncer: a statement that refuses any transaction runs bare, unless the url has options" {
	install "$BATS_TEST_TMPDIR/a" bouncer
	cat >"$BATS_TEST_TMPDIR/a/migrations/v0.0.0_to_v1.0.0/005_index.sql" <<'SQL'
-- ferry:up
-- ferry:no-transaction
CREATE INDEX CONCURRENTLY t3_x ON store.t3 (x);
-- ferry:down
DROP INDEX store.t3_x;
SQL
	# search_path would be lost for it: refused, naming what to do, all rolled back.
	run "$FERRY" -C "$BATS_TEST_TMPDIR/a" up --skip-backup
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"refuses any transaction"*"ALTER ROLE"* ]]
	[ "$(admin_sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'store'")" = 0 ]
	# With the setting on the role instead, the url needs none: it runs.
	admin_sql "ALTER ROLE app SET search_path = store" >/dev/null
	drop_server_sessions
	sed -i 's/?options=.*$//; s/&options=.*$//' "$BATS_TEST_TMPDIR/a/ferry.yaml"
	run "$FERRY" -C "$BATS_TEST_TMPDIR/a" up --skip-backup
	admin_sql "ALTER ROLE app RESET search_path" >/dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(admin_sql "SELECT count(*) FROM pg_indexes WHERE indexname = 't3_x'")" = 1 ]
	[ "$(admin_sql "SELECT count(*) FROM ferry.ferry_steps")" = 5 ]
}
