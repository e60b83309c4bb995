#!/usr/bin/env bats
# postgres.bats - ferry on PostgreSQL 15 through the tool (issue 5): SQL
# steps committed with their record, no-transaction steps, SQLite and
# PostgreSQL in one installation, rollback leaving schema and rows as they
# were, a backend terminated mid-run, bad URIs and wrong passwords, lock
# timeouts naming the blocker, and replicas sharing one database.
#
# setup_file starts a throw-away server with tests/pg/pg.sh (initdb in a
# temporary folder); teardown_file stops it, also when tests fail. Each test
# starts from an empty database.

bats_require_minimum_version 1.5.0
load helpers

PG_SH="$BATS_TEST_DIRNAME/../pg/pg.sh"

setup_file() {
	local envf="$BATS_FILE_TMPDIR/pg.env"
	# A server of our own, whatever the environment points at already.
	unset FERRY_TEST_PG FERRY_PG_DIR
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg.XXXXXX") || return 1
	echo "$dir" >"$BATS_FILE_TMPDIR/pgdir"
	"$PG_SH" start "$dir" >"$envf" || return 1
	# shellcheck disable=SC1090
	. "$envf"
}

teardown_file() {
	# Only the server this file started (also when setup_file failed half-way).
	[ -f "$BATS_FILE_TMPDIR/pgdir" ] && "$PG_SH" stop "$(cat "$BATS_FILE_TMPDIR/pgdir")"
	return 0
}

setup() {
	BG_PIDS=()
	[ -n "${FERRY_TEST_PG:-}" ] || { echo "# no server: tests/pg/pg.sh start failed" >&2; return 1; }
	admin_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid();" >/dev/null
	reset_db
	pg_install
}

teardown() {
	local p
	for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# ---- helpers ----

# admin_sql SQL: as the superuser (over the socket); app_sql SQL: as ferry's role.
admin_sql() { psql "$FERRY_TEST_PG_ADMIN" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
app_sql() { psql "$FERRY_TEST_PG" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
# An empty database: no schema of ferry, an empty public one.
reset_db() {
	admin_sql "DROP SCHEMA IF EXISTS ferry CASCADE; DROP SCHEMA IF EXISTS public CASCADE;
		CREATE SCHEMA public AUTHORIZATION pg_database_owner;
		GRANT USAGE ON SCHEMA public TO PUBLIC;" >/dev/null
}

# pg_install [ROOT]: an installation whose default database is PostgreSQL,
# its URL taken from the environment (${PGURL} expansion in ferry.yaml).
pg_install() {
	ROOT=${1:-$BATS_TEST_TMPDIR/inst}
	mkdir -p "$ROOT/migrations" "$ROOT/data"
	cat >"$ROOT/ferry.yaml" <<'YAML'
app: pgapp
databases:
  main: ${PGURL}
YAML
	export PGURL="$FERRY_TEST_PG"
}

# pstep FROM TO NAME: a step file from stdin.
pstep() {
	local dir="$ROOT/migrations/v$1_to_v$2"
	mkdir -p "$dir"
	cat >"$dir/$3.sql"
}

recorded() { app_sql "SELECT id FROM ferry.ferry_steps ORDER BY id" 2>/dev/null; }
pg_version() { app_sql "SELECT version FROM ferry.version" 2>/dev/null; }
tables() { app_sql "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"; }

# The application's schema (pg_dump --schema-only, ferry's own schema left
# out: its tables may be created by a run that rolls back), every table's
# row count, and ferry's record and version (the same when the run is undone).
pg_state() {
	pg_dump --schema-only --no-owner --exclude-schema=ferry "$FERRY_TEST_PG_ADMIN" |
		grep -v -e '^--' -e '^$' -e '^\\restrict ' -e '^\\unrestrict '
	admin_sql "SELECT format('%I.%I %s', schemaname, tablename,
		(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I',
		schemaname, tablename), false, true, '')))[1]::text)
		FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'ferry')
		ORDER BY 1"
	echo "record: $(recorded | paste -sd ' ' -)"
	echo "version: $(pg_version)"
}

pg_snapshot() { pg_state >"$BATS_TEST_TMPDIR/before.pg"; }
assert_pg_unchanged() {
	pg_state >"$BATS_TEST_TMPDIR/after.pg"
	if ! cmp -s "$BATS_TEST_TMPDIR/before.pg" "$BATS_TEST_TMPDIR/after.pg"; then
		echo "# PostgreSQL changed:" >&2
		diff "$BATS_TEST_TMPDIR/before.pg" "$BATS_TEST_TMPDIR/after.pg" | head -40 >&2
		return 1
	fi
}

# A ferry session of the server running a query that matches the pattern.
ferry_running() {
	[ -n "$(admin_sql "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'ferry %'
		AND state = 'active' AND query LIKE '$1'")" ]
}

# ---- SQL steps: a transaction with the record ----

@test "postgres: up commits the steps with their record in ferry.ferry_steps; down undoes" {
	pstep 0.0.0 0.1.0 001_users <<'SQL'
-- ferry:up
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO users (name) VALUES ('ada'), ('bob');
-- ferry:down
DROP TABLE users;
-- ferry:verify
SELECT count(*) = 2 FROM users;
SQL
	pstep 0.1.0 0.2.0 001_email <<'SQL'
-- ferry:up
ALTER TABLE users ADD COLUMN email text;
-- ferry:down
ALTER TABLE users DROP COLUMN email;
-- ferry:check
SELECT count(*) = 0 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email';
SQL
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(recorded)" = $'0.1.0/001_users.sql\n0.2.0/001_email.sql' ]
	[ "$(app_sql "SELECT count(*) FROM users WHERE email IS NULL")" = 2 ]
	[ "$(app_sql "SELECT count(DISTINCT run_id) FROM ferry.ferry_steps")" = 1 ]
	[ "$(app_sql "SELECT string_agg(status, ',') FROM ferry.ferry_steps")" = "applied,applied" ]
	run ferry list
	[ "$status" -eq 0 ]
	[[ "$output" == *"applied"*"0.2.0/001_email.sql"* ]]
	run ferry verify
	[ "$status" -eq 0 ]
	run ferry down 0.1.0
	[ "$status" -eq 0 ]
	[ "$(recorded)" = "0.1.0/001_users.sql" ]
	[ "$(app_sql "SELECT count(*) FROM information_schema.columns WHERE column_name = 'email'")" = 0 ]
}

@test "postgres: a failing step rolls back the whole group, record included" {
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
INSERT INTO a VALUES (1);
SQL
	pstep 0.0.0 0.1.0 002_bad <<'SQL'
-- ferry:up
CREATE TABLE b (x int);
INSERT INTO nosuch VALUES (1);
SQL
	pg_snapshot
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"002_bad.sql:3:"*'relation "nosuch" does not exist'*"(SQLSTATE 42P01)"* ]]
	[[ "$output" == *"rolled back"* ]]
	assert_pg_unchanged
	[ -z "$(recorded)" ]
}

@test "postgres: a syntax error is invalid input (exit 2) and names the line" {
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
CREAT TABLE b (x int);
SQL
	run ferry up
	[ "$status" -eq 2 ]
	[[ "$output" == *"001_a.sql:3:"*"syntax error"*"(SQLSTATE 42601)"* ]]
	[ -z "$(tables)" ]
}

# ---- no-transaction ----

@test "postgres: no-transaction runs CREATE INDEX CONCURRENTLY statement by statement" {
	pstep 0.0.0 0.1.0 001_t <<'SQL'
-- ferry:up
CREATE TABLE t (x int, y text);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;
-- ferry:down
DROP TABLE t;
SQL
	pstep 0.1.0 0.2.0 001_idx <<'SQL'
-- ferry:no-transaction
-- ferry:up
CREATE INDEX CONCURRENTLY t_x ON t (x);
CREATE INDEX CONCURRENTLY t_y ON t (y);
-- ferry:down
DROP INDEX CONCURRENTLY t_y;
DROP INDEX CONCURRENTLY t_x;
SQL
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(app_sql "SELECT string_agg(indexrelid::regclass::text || ':' || indisvalid, ' ' ORDER BY 1)
		FROM pg_index WHERE indrelid = 't'::regclass")" = "t_x:true t_y:true" ]
	[ "$(recorded)" = $'0.1.0/001_t.sql\n0.2.0/001_idx.sql' ]
	run ferry down 0.1.0
	[ "$status" -eq 0 ]
	[ "$(app_sql "SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass")" = 0 ]
}

@test "postgres: a failing no-transaction step says exactly which statement failed" {
	pstep 0.0.0 0.1.0 001_t <<'SQL'
-- ferry:up
CREATE TABLE t (x int);
INSERT INTO t VALUES (1), (1), (2);
-- ferry:down
DROP TABLE t;
SQL
	pstep 0.1.0 0.2.0 001_idx <<'SQL'
-- ferry:no-transaction
-- ferry:up
CREATE INDEX CONCURRENTLY t_plain ON t (x);
-- the next one cannot be built: x has duplicates
CREATE UNIQUE INDEX CONCURRENTLY t_x
  ON t (x);
CREATE TABLE never_made (x int);
-- ferry:down
DROP TABLE IF EXISTS never_made;
DROP INDEX CONCURRENTLY IF EXISTS t_x;
DROP INDEX CONCURRENTLY IF EXISTS t_plain;
SQL
	run ferry up 0.1.0
	[ "$status" -eq 0 ]
	run ferry --json up
	[ "$status" -eq 1 ]
	[[ "$output" == *"001_idx.sql:5: statement 2 of 3 ('CREATE UNIQUE INDEX CONCURRENTLY t_x') failed"* ]]
	[[ "$output" == *"(SQLSTATE 23505)"* ]]
	[[ "$output" == *"statement 1 ran and stays applied"* ]]
	# the record of the failure says it too
	msg=$(sqlite3 "$ROOT/.ferry/state.db" "SELECT message FROM registry WHERE id = '0.2.0/001_idx.sql'")
	[[ "$msg" == *"statement 2 of 3 ('CREATE UNIQUE INDEX CONCURRENTLY t_x')"* ]]
	run ferry list
	[[ "$output" == *"failed"*"0.2.0/001_idx.sql"* ]]
	[ "$(recorded)" = "0.1.0/001_t.sql" ]
	[ "$(app_sql "SELECT to_regclass('never_made') IS NULL")" = t ]
}

# ---- several databases ----

@test "postgres: SQLite and PostgreSQL in one installation, each step on its own database" {
	cat >"$ROOT/ferry.yaml" <<'YAML'
app: mixed
databases:
  main: ${PGURL}
  cache: sqlite:data/cache.db
YAML
	pstep 0.0.0 0.1.0 001_pg <<'SQL'
-- ferry:up
CREATE TABLE accounts (id int PRIMARY KEY);
INSERT INTO accounts VALUES (1);
-- ferry:down
DROP TABLE accounts;
SQL
	pstep 0.0.0 0.1.0 002_lite <<'SQL'
-- ferry:database cache
-- ferry:up
CREATE TABLE entries (k TEXT PRIMARY KEY, v TEXT);
-- ferry:down
DROP TABLE entries;
SQL
	pstep 0.0.0 0.1.0 003_pg_again <<'SQL'
-- ferry:database main
-- ferry:up
ALTER TABLE accounts ADD COLUMN name text;
-- ferry:down
ALTER TABLE accounts DROP COLUMN name;
SQL
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(recorded)" = $'0.1.0/001_pg.sql\n0.1.0/003_pg_again.sql' ]
	[ "$(sqlite3 "$ROOT/data/cache.db" "SELECT id FROM ferry_steps")" = "0.1.0/002_lite.sql" ]
	[ "$(sqlite3 "$ROOT/data/cache.db" "SELECT name FROM sqlite_master WHERE name = 'entries'")" = entries ]
	[ "$(app_sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts'")" = 2 ]
	run ferry verify
	[ "$status" -eq 0 ]
	run ferry down 0.0.0
	[ "$status" -eq 0 ]
	[ -z "$(recorded)" ]
	[ -z "$(sqlite3 "$ROOT/data/cache.db" "SELECT name FROM sqlite_master WHERE name = 'entries'")" ]
	[ -z "$(tables)" ]
}

@test "postgres: a failure on the SQLite database undoes what PostgreSQL committed" {
	cat >"$ROOT/ferry.yaml" <<'YAML'
app: mixed
databases:
  main: ${PGURL}
  cache: sqlite:data/cache.db
YAML
	pstep 0.0.0 0.1.0 001_pg <<'SQL'
-- ferry:up
CREATE TABLE accounts (id int PRIMARY KEY);
-- ferry:down
DROP TABLE accounts;
SQL
	pstep 0.0.0 0.1.0 002_lite <<'SQL'
-- ferry:database cache
-- ferry:up
CREATE TABLE entries (k TEXT);
INSERT INTO nosuch VALUES (1);
SQL
	pg_snapshot
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"002_lite.sql"*"no such table: nosuch"* ]]
	assert_pg_unchanged
	[ -z "$(sqlite3 "$ROOT/data/cache.db" "SELECT name FROM sqlite_master WHERE name = 'entries'")" ]
}

# ---- a failure in the third of five transitions ----

five_transitions() {
	app_sql "CREATE TABLE orders (id int PRIMARY KEY, total numeric NOT NULL);
		INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 50) g;"
	ferry version --set 0.1.0 >/dev/null
	pstep 0.1.0 0.2.0 001_customers <<'SQL'
-- ferry:up
CREATE TABLE customers (id int PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 20) g;
-- ferry:down
DROP TABLE customers;
SQL
	pstep 0.2.0 0.3.0 001_link <<'SQL'
-- ferry:up
ALTER TABLE orders ADD COLUMN customer_id int REFERENCES customers (id);
UPDATE orders SET customer_id = 1 + id % 20;
CREATE INDEX orders_customer ON orders (customer_id);
-- ferry:down
DROP INDEX orders_customer;
ALTER TABLE orders DROP COLUMN customer_id;
SQL
	pstep 0.3.0 0.4.0 001_ok <<'SQL'
-- ferry:up
CREATE TABLE audit (at timestamptz DEFAULT now(), what text);
INSERT INTO audit (what) VALUES ('0.4.0');
-- ferry:down
DROP TABLE audit;
SQL
	pstep 0.3.0 0.4.0 002_breaks <<'SQL'
-- ferry:up
DELETE FROM orders WHERE id <= 10;
ALTER TABLE orders ALTER COLUMN total TYPE int USING (total / 0)::int;
-- ferry:down
SELECT 1;
SQL
	pstep 0.4.0 0.5.0 001_never <<'SQL'
-- ferry:up
CREATE TABLE never1 (x int);
-- ferry:down
DROP TABLE never1;
SQL
	pstep 0.5.0 0.6.0 001_never <<'SQL'
-- ferry:up
CREATE TABLE never2 (x int);
-- ferry:down
DROP TABLE never2;
SQL
}

@test "postgres: failure in the third of five transitions leaves schema and rows identical (group)" {
	five_transitions
	pg_snapshot
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"002_breaks.sql:3:"*"division by zero"*"(SQLSTATE 22012)"* ]]
	assert_pg_unchanged
	run ferry --json status
	[[ "$output" == *'"current": "0.1.0"'* ]]
}

@test "postgres: failure in the third of five transitions leaves schema and rows identical (transaction: step)" {
	five_transitions
	echo "transaction: step" >>"$ROOT/ferry.yaml"
	pg_snapshot
	run ferry up
	[ "$status" -eq 1 ]
	[[ "$output" == *"division by zero"* ]]
	[[ "$output" == *"rolled back"* ]]
	assert_pg_unchanged
	run ferry --json status
	[[ "$output" == *'"current": "0.1.0"'* ]]
}

# ---- a connection dropped mid-run ----

@test "postgres: the backend terminated mid-run (pg_terminate_backend) leads to a clean rollback" {
	ferry version --set 0.1.0 >/dev/null
	echo "transaction: step" >>"$ROOT/ferry.yaml"
	app_sql "CREATE TABLE base (x int); INSERT INTO base VALUES (1), (2);"
	pstep 0.1.0 0.2.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
INSERT INTO base VALUES (3);
-- ferry:down
DROP TABLE a;
DELETE FROM base WHERE x = 3;
SQL
	pstep 0.2.0 0.3.0 001_slow <<'SQL'
-- ferry:up
CREATE TABLE b (x int);
SELECT pg_sleep(20);
-- ferry:down
DROP TABLE b;
SQL
	pg_snapshot
	"$FERRY" -C "$ROOT" up >"$BATS_TEST_TMPDIR/up.out" 2>&1 3>&- &
	pid=$!
	BG_PIDS+=("$pid")
	wait_until 15 ferry_running '%pg_sleep%'
	admin_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name LIKE 'ferry %' AND query LIKE '%pg_sleep%'" >/dev/null
	wait_exit "$pid" 20
	cat "$BATS_TEST_TMPDIR/up.out"
	[ "$WAIT_RC" = 1 ]
	grep -q "connection" "$BATS_TEST_TMPDIR/up.out"
	grep -q "rolled back" "$BATS_TEST_TMPDIR/up.out"
	assert_pg_unchanged
	run ferry --json status
	[[ "$output" == *'"current": "0.1.0"'* ]]
	# and it runs through afterwards
	admin_sql "SELECT 1" >/dev/null
	sed -i 's/pg_sleep(20)/pg_sleep(0)/' "$ROOT/migrations/v0.2.0_to_v0.3.0/001_slow.sql"
	run ferry up
	[ "$status" -eq 0 ]
}

# ---- bad URIs and wrong passwords ----

bad_url_case() { # URL SECRET
	export PGURL="$1"
	local cmd
	for cmd in "up" "status" "--json up" "--json status" "check" "verify" "list" "plan"; do
		# shellcheck disable=SC2086
		run "$FERRY" -C "$ROOT" $cmd
		if [[ "$output" == *"$2"* ]]; then
			echo "# '$cmd' printed the password: $output" >&2
			return 1
		fi
		if [ -d "$ROOT/.ferry/log" ] && grep -rq -- "$2" "$ROOT/.ferry/log"; then
			echo "# '$cmd' logged the password" >&2
			return 1
		fi
		if [ -f "$ROOT/.ferry/state.db" ] && sqlite3 "$ROOT/.ferry/state.db" .dump | grep -q -- "$2"; then
			echo "# '$cmd' left the password in state.db" >&2
			return 1
		fi
	done
	run ferry up
	echo "# exit $status: $output" >&2
	[ "$status" -eq 2 ]
	[[ "$output" == *"database 'main'"* ]]
}

@test "postgres: a wrong password is exit 2, a clear error, no password anywhere, nothing changed" {
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
SQL
	bad_url_case "postgresql://app:Wr0ng-Pa55word@/ferry_test?host=$FERRY_PG_DIR&port=$FERRY_PG_PORT" \
		"Wr0ng-Pa55word"
	[[ "$output" == *"password authentication failed"* ]]
	[ -z "$(tables)" ]
	[ -z "$(app_sql "SELECT to_regnamespace('ferry')")" ]
}

@test "postgres: bad URIs are exit 2 with the password kept out" {
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
SQL
	bad_url_case "postgresql://app:S3cr3t-In-Url@localhost:notaport/ferry_test" "S3cr3t-In-Url"
	[[ "$output" == *"invalid"* ]]
	bad_url_case "postgres://app:S3cr3t-In-Url@/ferry_test?host=$FERRY_PG_DIR&bogus_option=1" "S3cr3t-In-Url"
	[[ "$output" == *"invalid connection string"* ]]
	bad_url_case "host=$FERRY_PG_DIR password=S3cr3t-In-Url dbname" "S3cr3t-In-Url"
	[[ "$output" == *"invalid connection string"* ]]
	[ -z "$(tables)" ]
}

@test "postgres: the password of a working URL appears in no output, log or state" {
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
SELECT 'Fy-s3cret-Pw9'::int;
SQL
	run ferry --json up
	[ "$status" -ne 0 ]
	[[ "$output" != *"$FERRY_TEST_PG_PASSWORD"* ]]
	[[ "$output" == *"***"* ]]
	run ferry -v up
	[[ "$output" != *"$FERRY_TEST_PG_PASSWORD"* ]]
	for cmd in status list plan history verify check; do
		run "$FERRY" -C "$ROOT" --json $cmd
		[[ "$output" != *"$FERRY_TEST_PG_PASSWORD"* ]]
		run "$FERRY" -C "$ROOT" $cmd
		[[ "$output" != *"$FERRY_TEST_PG_PASSWORD"* ]]
	done
	! grep -rq -- "$FERRY_TEST_PG_PASSWORD" "$ROOT/.ferry/log"
	! sqlite3 "$ROOT/.ferry/state.db" .dump | grep -q -- "$FERRY_TEST_PG_PASSWORD"
}

# ---- lock timeout ----

# lt_step NAME TABLE EXPECTED [MARKER]: a step to 0.1.0 whose verify holds
# only while lock_timeout reads EXPECTED (the marker's duration, if given).
lt_step() {
	{
		[ -z "${4:-}" ] || echo "-- ferry:lock-timeout $4"
		printf -- "-- ferry:up\nCREATE TABLE %s (x int);\n-- ferry:verify\n" "$2"
		printf -- "SELECT current_setting('lock_timeout') = '%s';\n" "$3"
	} | pstep 0.0.0 0.1.0 "$1"
}

# The messages one `ferry up` sends the server (a round trip each, as libpq
# sends a query in one write), counted with strace.
pg_sends() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -e trace=sendto -o "$BATS_TEST_TMPDIR/st" "$FERRY" -C "$ROOT" -q up --skip-backup
	grep -c '^[0-9]* *sendto(' "$BATS_TEST_TMPDIR/st"
}

@test "postgres: a step of transaction: step is three round trips, as psql's BEGIN, statement, COMMIT" {
	command -v strace >/dev/null || { echo "strace is needed (apt-get install strace)" >&2; return 1; }
	local n k
	for n in 3 6; do
		reset_db
		pg_install "$BATS_TEST_TMPDIR/inst$n"
		echo "transaction: step" >>"$ROOT/ferry.yaml"
		for ((k = 1; k <= n; k++)); do
			printf -- '-- ferry:up\nCREATE TABLE t%d (x int);\n' "$k" | pstep 0.0.0 0.1.0 "00${k}_t$k"
		done
		eval "sends_$n=\$(pg_sends)"
		# every step applied and recorded, each in its own transaction
		[ "$(recorded | wc -l)" -eq "$n" ]
		[ "$(tables | wc -w)" -eq "$n" ]
		[ "$(app_sql "SELECT count(DISTINCT xmin::text) FROM ferry.ferry_steps")" -eq "$n" ]
	done
	echo "sends: $sends_3 for 3 steps, $sends_6 for 6" >&2
	# BEGIN (with the lock_timeout), the step's SQL, its record with COMMIT
	[ $((sends_6 - sends_3)) -eq 9 ]
}

@test "postgres: with transaction: step, each step still runs with its own lock_timeout" {
	echo "transaction: step" >>"$ROOT/ferry.yaml"
	lt_step 001_default a 10s
	lt_step 002_own b 2min 2m
	lt_step 003_default c 10s
	lt_step 004_default d 10s
	run ferry up
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(recorded | paste -sd ' ' -)" = "0.1.0/001_default.sql 0.1.0/002_own.sql 0.1.0/003_default.sql 0.1.0/004_default.sql" ]
	[ "$(tables)" = "a b c d" ]
	# and the session's own is the server's again
	[ "$(app_sql "SHOW lock_timeout")" = "0" ]
}

@test "postgres: a step's down runs with lock_timeout 10s, in a new process and after other steps alike" {
	# the down refuses to run under any other lock_timeout
	local down="DO \$\$ BEGIN IF current_setting('lock_timeout') <> '10s' THEN RAISE EXCEPTION 'lock_timeout is %', current_setting('lock_timeout'); END IF; END \$\$;"
	pstep 0.0.0 0.1.0 001_a <<SQL
-- ferry:up
CREATE TABLE a (x int);
-- ferry:down
$down
DROP TABLE a;
SQL
	pstep 0.1.0 0.2.0 001_b <<SQL
-- ferry:lock-timeout 0
-- ferry:up
CREATE TABLE b (x int);
-- ferry:down
$down
DROP TABLE b;
SQL
	run ferry up
	[ "$status" -eq 0 ]
	[ "$(tables)" = "a b" ]
	# a new process: nothing set on its connection before the down
	run ferry down 0.1.0
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(tables)" = "a" ]
	# in the run of a step with no limit, committed on its own: the rollback undoes it
	echo "transaction: step" >>"$ROOT/ferry.yaml"
	pstep 0.1.0 0.2.0 002_fails <<'SQL'
-- ferry:lock-timeout 0
-- ferry:up
SELECT 1 / 0;
SQL
	run ferry up
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" != *"lock_timeout is"* ]]
	[[ "$output" == *"001_b.sql"*"undone"* ]]
	[ "$(tables)" = "a" ]
	[ "$(pg_version)" = "0.1.0" ]
}

@test "postgres: each step runs with lock_timeout 10s by default, or its own" {
	lt_step 001_default a 10s
	lt_step 002_own b 2min 2m
	lt_step 003_ms c 500ms 500ms
	run ferry up
	echo "$output"
	[ "$status" -eq 0 ]
	# and back to the server's default once the transaction is over
	pstep 0.1.0 0.2.0 001_bad <<'SQL'
-- ferry:lock-timeout soon
-- ferry:up
SELECT 1;
SQL
	run ferry up
	[ "$status" -eq 2 ]
	[[ "$output" == *"001_bad.sql:1: marker 'ferry:lock-timeout' needs a duration"* ]]
}

reader_waiting() {
	[ -n "$(admin_sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'long-reader'
		AND state = 'active' AND query LIKE '%pg_sleep%'")" ]
}

@test "postgres: DDL behind a long reader fails on its lock timeout, rolls back, names the blocker" {
	app_sql "CREATE TABLE busy (x int); INSERT INTO busy VALUES (1);"
	ferry version --set 0.1.0 >/dev/null
	pstep 0.1.0 0.2.0 001_other <<'SQL'
-- ferry:up
CREATE TABLE other (x int);
-- ferry:down
DROP TABLE other;
SQL
	pstep 0.1.0 0.2.0 002_alter <<'SQL'
-- ferry:lock-timeout 700ms
-- ferry:up
ALTER TABLE busy ADD COLUMN y int;
-- ferry:down
ALTER TABLE busy DROP COLUMN y;
SQL
	pg_snapshot
	# the long reader: a transaction that read the table, then sleeps
	PGAPPNAME=long-reader psql "$FERRY_TEST_PG" -X -q -c \
		"BEGIN; SELECT count(*) FROM busy; SELECT pg_sleep(30); COMMIT;" >/dev/null 2>&1 3>&- &
	BG_PIDS+=("$!")
	wait_until 10 reader_waiting
	reader=$(admin_sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'long-reader'")
	start=$(date +%s%N)
	run ferry up
	took=$((($(date +%s%N) - start) / 1000000))
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"002_alter.sql:3:"*"lock timeout"*"(SQLSTATE 55P03)"* ]]
	[[ "$output" == *"blocked by pid $reader (user 'app', application 'long-reader'"* ]]
	[[ "$output" == *"pg_sleep(30)"* ]]
	[[ "$output" == *"rolled back"* ]]
	[ "$took" -lt 10000 ]
	admin_sql "SELECT pg_terminate_backend($reader)" >/dev/null
	assert_pg_unchanged
}

# ---- verify ----

@test "postgres: verify checks checksums, each step's verify, the round trip and the record" {
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
INSERT INTO a VALUES (1);
-- ferry:down
DROP TABLE a;
-- ferry:verify
SELECT count(*) = 1 FROM a;
SQL
	run ferry up
	[ "$status" -eq 0 ]
	run ferry verify
	[ "$status" -eq 0 ]
	# a step's verify fails
	app_sql "INSERT INTO a VALUES (2)"
	run ferry verify
	[ "$status" -eq 3 ]
	[[ "$output" == *"001_a.sql"* ]]
	app_sql "DELETE FROM a WHERE x = 2"
	# the record loses a row the registry has
	app_sql "DELETE FROM ferry.ferry_steps"
	run ferry verify
	[ "$status" -eq 3 ]
}

# ---- backups: pg_dump ----

@test "postgres: a missing pg_dump is an error naming the package to install" {
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
SQL
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	ln -s "$(command -v sqlite3)" "$BATS_TEST_TMPDIR/bin/sqlite3"
	PATH="$BATS_TEST_TMPDIR/bin" run "$FERRY" -C "$ROOT" up
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"pg_dump"*"postgresql-client-15"* ]]
	[ -z "$(tables)" ]
}

# ---- replicas ----

replica_steps() {
	app_sql "CREATE TABLE applied_log (step text)"
	local i
	for i in 1 2 3 4 5; do
		pstep 0.0.0 0.1.0 "00${i}_t" <<SQL
-- ferry:up
CREATE TABLE t$i (x int);
INSERT INTO applied_log VALUES ('t$i');
SELECT pg_sleep(0.05);
-- ferry:down
DROP TABLE t$i;
SQL
	done
	pstep 0.1.0 0.2.0 001_u <<'SQL'
-- ferry:up
CREATE TABLE u (x int);
INSERT INTO applied_log VALUES ('u');
-- ferry:down
DROP TABLE u;
SQL
}

@test "postgres: 16 replicas run 'ferry up --wait 60' at once: each step applied once, all exit 0" {
	pg_install "$BATS_TEST_TMPDIR/r0"
	replica_steps
	local i pids=()
	for i in $(seq 1 15); do
		mkdir -p "$BATS_TEST_TMPDIR/r$i"
		cp -R "$BATS_TEST_TMPDIR/r0/ferry.yaml" "$BATS_TEST_TMPDIR/r0/migrations" "$BATS_TEST_TMPDIR/r$i/"
	done
	for i in $(seq 0 15); do
		"$FERRY" -C "$BATS_TEST_TMPDIR/r$i" up --wait 60 >"$BATS_TEST_TMPDIR/r$i.out" 2>&1 3>&- &
		pids+=("$!")
		BG_PIDS+=("$!")
	done
	for i in $(seq 0 15); do
		wait_exit "${pids[$i]}" 90
		if [ "$WAIT_RC" != 0 ]; then
			echo "# replica $i exited $WAIT_RC:" >&2
			cat "$BATS_TEST_TMPDIR/r$i.out" >&2
			return 1
		fi
	done
	[ "$(app_sql "SELECT count(*) FROM applied_log")" = 6 ]
	[ "$(app_sql "SELECT count(DISTINCT step) FROM applied_log")" = 6 ]
	[ "$(app_sql "SELECT count(*) FROM ferry.ferry_steps")" = 6 ]
	[ "$(pg_version)" = 0.2.0 ]
	for i in $(seq 0 15); do
		run "$FERRY" -C "$BATS_TEST_TMPDIR/r$i" --json status
		[[ "$output" == *'"current": "0.2.0"'* ]]
	done
}

@test "postgres: a replica killed with -9 while holding the advisory lock releases it" {
	pg_install "$BATS_TEST_TMPDIR/a"
	app_sql "CREATE TABLE ctl (slow boolean); INSERT INTO ctl VALUES (true);"
	pstep 0.0.0 0.1.0 001_slow <<'SQL'
-- ferry:up
CREATE TABLE t (x int);
SELECT CASE WHEN slow THEN pg_sleep(60) END FROM ctl;
-- ferry:down
DROP TABLE t;
SQL
	pg_install "$BATS_TEST_TMPDIR/b"
	cp -R "$BATS_TEST_TMPDIR/a/migrations" "$BATS_TEST_TMPDIR/b/"
	"$FERRY" -C "$BATS_TEST_TMPDIR/a" up >"$BATS_TEST_TMPDIR/a.out" 2>&1 3>&- &
	holder=$!
	BG_PIDS+=("$holder")
	wait_until 15 ferry_running '%pg_sleep%'
	[ "$(admin_sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ]
	kill -9 "$holder"
	wait "$holder" 2>/dev/null || true
	app_sql "UPDATE ctl SET slow = false"
	start=$(date +%s)
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" up --wait 30
	echo "$output"
	[ "$status" -eq 0 ]
	[ $(($(date +%s) - start)) -lt 15 ]
	[ "$(recorded)" = "0.1.0/001_slow.sql" ]
}

@test "postgres: 16 threads of one program call ferry_up() at once: each step applied once" {
	pg_install "$BATS_TEST_TMPDIR/t0"
	replica_steps
	local i roots=("$BATS_TEST_TMPDIR/t0")
	for i in $(seq 1 15); do
		mkdir -p "$BATS_TEST_TMPDIR/t$i"
		cp -R "$BATS_TEST_TMPDIR/t0/ferry.yaml" "$BATS_TEST_TMPDIR/t0/migrations" "$BATS_TEST_TMPDIR/t$i/"
		roots+=("$BATS_TEST_TMPDIR/t$i")
	done
	run timeout 120 "$(dirname "$FERRY")/tests/unit/pg-threads" 0.2.0 "${roots[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'rc 0 version 0.2.0' <<<"$output")" = 16 ]
	[ "$(app_sql "SELECT count(*) FROM applied_log")" = 6 ]
	[ "$(app_sql "SELECT count(*) FROM ferry.ferry_steps")" = 6 ]
}

@test "postgres: status on another machine shows who holds the database's lock" {
	pg_install "$BATS_TEST_TMPDIR/a"
	app_sql "CREATE TABLE ctl (slow boolean); INSERT INTO ctl VALUES (true);"
	pstep 0.0.0 0.1.0 001_slow <<'SQL'
-- ferry:up
CREATE TABLE t (x int);
SELECT CASE WHEN slow THEN pg_sleep(60) END FROM ctl;
-- ferry:down
DROP TABLE t;
SQL
	pg_install "$BATS_TEST_TMPDIR/b"
	cp -R "$BATS_TEST_TMPDIR/a/migrations" "$BATS_TEST_TMPDIR/b/"
	"$FERRY" -C "$BATS_TEST_TMPDIR/a" up --skip-backup >"$BATS_TEST_TMPDIR/a.out" 2>&1 3>&- &
	holder=$!
	BG_PIDS+=("$holder")
	wait_until 15 ferry_running '%pg_sleep%'
	# b's own flock is free: the holder is found in the database.
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" --json status
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"holder"'* ]]
	[[ "$output" == *'"database": "main"'* ]]
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" status
	[[ "$output" == *"locked on database 'main' by"* ]]
	kill -9 "$holder"
	wait "$holder" 2>/dev/null || true
}

# statements_by_app CMD...: runs CMD (its output to $BATS_TEST_TMPDIR/cmd.out)
# with the server logging every statement of role app, then prints the
# statements logged meanwhile, one a line; fails when CMD does.
statements_by_app() {
	local log="$FERRY_PG_DIR/server.log" before rc=0
	admin_sql "ALTER ROLE app SET log_statement = 'all'" >/dev/null
	before=$(stat -c %s "$log")
	"$@" >"$BATS_TEST_TMPDIR/cmd.out" 2>&1 || rc=$?
	admin_sql "ALTER ROLE app RESET log_statement" >/dev/null
	cat "$BATS_TEST_TMPDIR/cmd.out" >&2
	tail -c +$((before + 1)) "$log" | sed -n 's/.*LOG:  statement: //p'
	return "$rc"
}

@test "postgres: a no-op up is one connection and one statement, the version's" {
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
SQL
	pstep 0.1.0 0.2.0 001_b <<'SQL'
-- ferry:up
CREATE TABLE b (x int);
SQL
	# Files older than the racy-mtime window, so the no-op takes its fast path.
	find "$ROOT" -exec touch -h -d '@1700000000' {} +
	"$FERRY" -C "$ROOT" up --skip-backup
	"$FERRY" -C "$ROOT" up
	run --separate-stderr statements_by_app "$FERRY" -C "$ROOT" --json up
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '"status": "noop"' "$BATS_TEST_TMPDIR/cmd.out"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "SELECT version FROM ferry.version"* ]]
	# status reads the version once too (then asks who holds the database's lock).
	run --separate-stderr statements_by_app "$FERRY" -C "$ROOT" status
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'ferry.version' <<<"$output")" -eq 1 ]
}

@test "postgres: a bad catalog is reported before a database that does not answer" {
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
CREATE TABLE a (x int);
SQL
	mkdir -p "$ROOT/migrations/not_a_transition"
	export PGURL="postgresql://app@/ferry_test?host=$BATS_TEST_TMPDIR/nowhere&port=1"
	run "$FERRY" -C "$ROOT" up
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"not_a_transition"* ]]
	[[ "$output" != *"nowhere"* ]]
	# With the catalog fixed, the database's error is the one reported.
	rmdir "$ROOT/migrations/not_a_transition"
	run "$FERRY" -C "$ROOT" up
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"nowhere"* ]]
}

@test "postgres: up --rehearse clones the database, runs the plan there, drops the clone" {
	admin_sql "ALTER ROLE app CREATEDB" >/dev/null
	app_sql "CREATE TABLE notes (id int); INSERT INTO notes VALUES (1), (2);"
	pstep 0.0.0 0.1.0 001_a <<'SQL'
-- ferry:up
ALTER TABLE notes ADD COLUMN pinned boolean DEFAULT false;
-- ferry:down
ALTER TABLE notes DROP COLUMN pinned;
SQL
	before=$(app_sql "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'notes'")
	out=$("$FERRY" -C "$ROOT" --json up --rehearse 2>"$BATS_TEST_TMPDIR/err")
	cat "$BATS_TEST_TMPDIR/err"
	[ "$(jq -r .rehearsal <<<"$out")" = true ]
	[ "$(jq -r .status <<<"$out")" = success ]
	[ "$(jq -r '.steps[0].status' <<<"$out")" = applied ]
	[ "$(app_sql "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'notes'")" = "$before" ]
	[ -z "$(recorded)" ]
	[ "$(admin_sql "SELECT count(*) FROM pg_database WHERE datname LIKE 'ferry_rehearsal_%'")" = 0 ]
	# With another session on the source (TEMPLATE refused), by dump and restore; a failing plan.
	pstep 0.1.0 0.2.0 001_bad <<'SQL'
-- ferry:up
INSERT INTO nope VALUES (1);
SQL
	psql "$FERRY_TEST_PG" -X -q -c "SELECT pg_sleep(20)" >/dev/null 2>&1 &
	BG_PIDS+=("$!")
	sleep 0.5
	run "$FERRY" -C "$ROOT" up --rehearse
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"rehearsal failed"* ]]
	[ -z "$(recorded)" ]
	[ "$(admin_sql "SELECT count(*) FROM pg_database WHERE datname LIKE 'ferry_rehearsal_%'")" = 0 ]
}

# t_and_u: 0.0.0 -> 0.1.0 (table t) -> 0.2.0 (table u), in $ROOT.
t_and_u() {
	pstep 0.0.0 0.1.0 001_t <<'SQL'
-- ferry:up
CREATE TABLE t (x int);
-- ferry:down
DROP TABLE t;
SQL
	pstep 0.1.0 0.2.0 001_u <<'SQL'
-- ferry:up
CREATE TABLE u (x int);
-- ferry:down
DROP TABLE u;
SQL
}

@test "postgres: a replica sees what another applied: list, status and verify without the lock" {
	pg_install "$BATS_TEST_TMPDIR/a"
	t_and_u
	pg_install "$BATS_TEST_TMPDIR/b"
	cp -R "$BATS_TEST_TMPDIR/a/migrations" "$BATS_TEST_TMPDIR/b/"
	"$FERRY" -C "$BATS_TEST_TMPDIR/b" status >/dev/null # b has looked once, before a runs
	"$FERRY" -C "$BATS_TEST_TMPDIR/a" up --skip-backup >/dev/null
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" --json list
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '[.steps[].state] | join(",")')" = "applied,applied" ]
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" --json status
	[ "$(echo "$output" | jq -r '.current + " " + (.pending_steps | tostring)')" = "0.2.0 0" ]
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" verify
	echo "$output"
	[ "$status" -eq 0 ]
	run "$FERRY" -C "$BATS_TEST_TMPDIR/b" up
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to do"* ]]
}

@test "postgres: a settled replica's no-op by the listing still sees the version another moved" {
	pg_install "$BATS_TEST_TMPDIR/a"
	t_and_u
	pg_install "$BATS_TEST_TMPDIR/b"
	cp -R "$BATS_TEST_TMPDIR/a/migrations" "$BATS_TEST_TMPDIR/b/"
	"$FERRY" -C "$BATS_TEST_TMPDIR/a" up --skip-backup >/dev/null
	find "$BATS_TEST_TMPDIR/b/migrations" "$BATS_TEST_TMPDIR/b/ferry.yaml" -exec touch -d '-1 hour' {} +
	sleep 2.2 # change times old enough to trust (lib/noop.c)
	"$FERRY" -C "$BATS_TEST_TMPDIR/b" up >/dev/null   # b's first clean no-op earns the digest
	run --separate-stderr "$FERRY" -C "$BATS_TEST_TMPDIR/b" --json up
	[ "$status" -eq 0 ]
	[ "$(jq -r '.status + " " + .noop_check' <<<"$output")" = "noop listing" ]
	# a goes back to 0.1.0: the shared version moves, b's files do not
	"$FERRY" -C "$BATS_TEST_TMPDIR/a" down 0.1.0 >/dev/null
	[ "$(app_sql "SELECT count(*) FROM information_schema.tables WHERE table_name = 'u'")" -eq 0 ]
	run --separate-stderr "$FERRY" -C "$BATS_TEST_TMPDIR/b" --json up --skip-backup
	[ "$status" -eq 0 ]
	[ "$(jq -r '.status + " " + .from + " " + .to' <<<"$output")" = "success 0.1.0 0.2.0" ]
	[ "$(app_sql "SELECT count(*) FROM information_schema.tables WHERE table_name = 'u'")" -eq 1 ]
}
