/*
 * test_postgres.c - what is PostgreSQL's own in its driver
 * (lib/db/postgres.c), against a real PostgreSQL 15 server. What every
 * driver promises is test_db_conformance.c's.
 *
 * The connection string comes from FERRY_TEST_PG (tests/pg/pg.sh start
 * exports it, with FERRY_TEST_PG_ADMIN for a superuser and
 * FERRY_TEST_PG_PASSWORD); without it every test fails: a driver left
 * untested must not look like a pass. Each test starts from an empty
 * database: the schemas 'ferry' and 'public' are dropped and 'public' made
 * again. psql (postgresql-client-15) runs the admin side.
 */
#include "helpers.h"

#include "db/db.h"
#include "ferry.h"
#include "util/alloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
	char *dir;
	fr_dbconf conf;
	fr_db *db;
	fr_buf err;
} env;

static const char *pg_url(void)
{
	return getenv("FERRY_TEST_PG");
}

static const char *pg_password(void)
{
	const char *p = getenv("FERRY_TEST_PG_PASSWORD");
	return p && *p ? p : "Fy-s3cret-Pw9";
}

static const char *pg_admin(void)
{
	const char *a = getenv("FERRY_TEST_PG_ADMIN");
	return a && *a ? a : pg_url();
}

/* Runs sql as the admin with psql; returns psql's exit status. Output into out when given. */
static int admin_sql(const env *e, const char *sql, char **out)
{
	char *in = t_path(e->dir, "admin.sql"), *res = t_path(e->dir, "admin.out");
	int st;
	t_write(e->dir, "admin.sql", sql);
	st = t_sh("psql '%s' -X -q -A -t -v ON_ERROR_STOP=1 -f '%s' -o '%s' 2>'%s.err'",
	          pg_admin(), in, res, res);
	if (out)
		*out = t_read(e->dir, "admin.out");
	free(in);
	free(res);
	return st;
}

static void admin_ok(const env *e, const char *sql)
{
	char *in = t_path(e->dir, "admin.out.err"), *msg;
	if (admin_sql(e, sql, NULL) != 0) {
		msg = t_read(e->dir, "admin.out.err");
		fail_msg("admin sql failed: %s\n%s", sql, msg ? msg : "");
	}
	free(in);
}

/* The first line of an admin query's output, trimmed (malloc'd). */
static char *admin_value(const env *e, const char *sql)
{
	char *out = NULL;
	size_t n;
	assert_int_equal(admin_sql(e, sql, &out), 0);
	assert_non_null(out);
	n = strcspn(out, "\n");
	out[n] = '\0';
	return out;
}

static int setup(void **state)
{
	env *e;
	/* First, before anything is allocated: a failed setup gets no teardown. */
	if (!pg_url() || !*pg_url())
		fail_msg("FERRY_TEST_PG is not set: start a server with "
		         "'eval \"$(tests/pg/pg.sh start)\"' (tests/run.sh does it)");
	e = calloc(1, sizeof *e);
	assert_non_null(e);
	*state = e;
	e->dir = t_tmpdir();
	fr_buf_init(&e->err);
	e->conf.name = "pg";
	e->conf.url = (char *)pg_url();
	e->conf.driver = "postgres";
	admin_ok(e, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	            "WHERE datname = current_database() AND pid <> pg_backend_pid();\n"
	            "DROP SCHEMA IF EXISTS ferry CASCADE;\n"
	            "DROP SCHEMA IF EXISTS public CASCADE;\n"
	            "DROP SCHEMA IF EXISTS side CASCADE;\n"
	            "CREATE SCHEMA public AUTHORIZATION pg_database_owner;\n"
	            "GRANT USAGE ON SCHEMA public TO PUBLIC;\n");
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	fr_db_close(e->db);
	fr_buf_release(&e->err);
	t_rmrf(e->dir);
	free(e->dir);
	free(e);
	return 0;
}

static fr_db *open_db(env *e)
{
	fr_db_close(e->db);
	e->db = NULL;
	fr_buf_reset(&e->err);
	if (fr_db_open(&e->db, &e->conf, &e->err) != 0)
		fail_msg("open failed: %s", e->err.ptr);
	assert_non_null(e->db);
	assert_string_equal(e->err.ptr, "");
	return e->db;
}

static fr_db *open_other(env *e, const char *url)
{
	fr_dbconf *c = calloc(1, sizeof *c);
	fr_buf err = FR_BUF_INIT;
	fr_db *db = NULL;
	assert_non_null(c);
	c->name = "pg2";
	c->url = (char *)(url ? url : pg_url());
	c->driver = "postgres";
	if (fr_db_open(&db, c, &err) != 0)
		fail_msg("open failed: %s", err.ptr);
	fr_buf_release(&err);
	return db;
}

static void close_other(fr_db *db)
{
	fr_dbconf *c = db ? (fr_dbconf *)db->conf : NULL;
	fr_db_close(db);
	free(c);
}

static fr_record rec(const char *id, int64_t seq)
{
	fr_record r;
	memset(&r, 0, sizeof r);
	r.id = (char *)id;
	r.checksum = "sha256:00";
	r.kind = "sql";
	r.from = "0.1.0";
	r.to = "0.2.0";
	r.status = "applied";
	r.undo = "DROP TABLE x;";
	r.applied_at_ms = 1700000000000;
	r.duration_ms = 12;
	r.run_id = 7;
	r.seq = seq;
	return r;
}

static int packed(const char *s)
{
	int code = 0, i;
	for (i = 0; i < 5; i++)
		code |= ((s[i] - '0') & 0x3F) << (6 * i);
	return code;
}

/* ---- the tests ---- */

static void test_driver_table(void **state)
{
	const fr_db_driver *pg = fr_db_driver_find("postgres");
	(void)state;
	assert_non_null(pg);
	assert_string_equal(pg->name, "postgres");
	/* A server: everything but files (test_db_conformance holds the members to the bits). */
	assert_int_equal(pg->caps, FR_DB_CAP_SESSION_LOCK | FR_DB_CAP_SHARED_VERSION |
	                           FR_DB_CAP_LOCK_TIMEOUT | FR_DB_CAP_SNAPSHOT | FR_DB_CAP_CLONE);
	assert_string_equal(pg->snapshot_ext, ".dump");
}

static void test_open_uri_and_kv(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	const char *kv = getenv("FERRY_TEST_PG_KV");
	char *url;
	assert_int_equal(t_qbool(db, "SELECT current_user = 'app'"), 1);
	assert_int_equal(t_qbool(db, "SELECT current_setting('application_name') LIKE 'ferry %'"),
	                 1);
	/* key=value with the password as a key */
	assert_non_null(kv);
	assert_true(asprintf(&url, "%s password='%s' application_name=mine", kv,
	                     pg_password()) > 0);
	db = open_other(e, url);
	assert_int_equal(t_qbool(db, "SELECT current_setting('application_name') = 'mine'"), 1);
	close_other(db);
	free(url);
	/* key=value without a password: PGPASSWORD from the environment */
	setenv("PGPASSWORD", pg_password(), 1);
	db = open_other(e, kv);
	assert_int_equal(t_qbool(db, "SELECT 1"), 1);
	close_other(db);
	unsetenv("PGPASSWORD");
}

static void open_fails(env *e, int rc, const char *url, const char *want, const char *secret)
{
	fr_dbconf c = e->conf;
	fr_db *db = (fr_db *)1;
	fr_buf err = FR_BUF_INIT;
	c.url = (char *)url;
	assert_int_equal(fr_db_open(&db, &c, &err), rc);
	assert_null(db);
	if (!strstr(err.ptr, want))
		fail_msg("'%s' not in: %s", want, err.ptr);
	if (secret && strstr(err.ptr, secret))
		fail_msg("the password '%s' is in: %s", secret, err.ptr);
	assert_non_null(strstr(err.ptr, "database 'pg'"));
	fr_buf_release(&err);
}

static void test_open_errors_hide_password(void **state)
{
	env *e = *state;
	char *url, *host = getenv("FERRY_PG_DIR"), *port = getenv("FERRY_PG_PORT");
	assert_non_null(host);
	assert_non_null(port);
	/* wrong password: the user's to fix in ferry.yaml (exit 2) */
	assert_true(asprintf(&url, "postgresql://app:Wr0ngPassw0rd@/ferry_test?host=%s&port=%s",
	                     host, port) > 0);
	open_fails(e, FERRY_EINVALID, url, "password authentication failed", "Wr0ngPassw0rd");
	free(url);
	/* percent-encoded password, as written and decoded */
	assert_true(asprintf(&url, "postgresql://app:Wr0ng%%40Pass@/ferry_test?host=%s&port=%s",
	                     host, port) > 0);
	open_fails(e, FERRY_EINVALID, url, "cannot connect", "Wr0ng%40Pass");
	open_fails(e, FERRY_EINVALID, url, "cannot connect", "Wr0ng@Pass");
	free(url);
	/* bad URIs */
	open_fails(e, FERRY_EINVALID, "postgresql://ferry:Sekr1tXYZ@localhost:notaport/db",
	           "invalid", "Sekr1tXYZ");
	open_fails(e, FERRY_EINVALID, "postgres://ferry:Sekr1tXYZ@/db?nosuchoption=1",
	           "invalid connection string", "Sekr1tXYZ");
	open_fails(e, FERRY_EINVALID, "host=/tmp password=Sekr1tXYZ junk",
	           "invalid connection string", "Sekr1tXYZ");
	open_fails(e, FERRY_EINVALID, "host=/tmp password='Sekr1tXYZ' junk",
	           "invalid connection string", "Sekr1tXYZ");
	open_fails(e, FERRY_EINVALID, "", "no connection string", NULL);
	/* nothing listens there (not the user's input): -1; the target without the password */
	open_fails(e, -1, "postgresql://ferry:Sekr1tXYZ@127.0.0.1:1/db?connect_timeout=2",
	           "cannot connect", "Sekr1tXYZ");
	open_fails(e, -1, "postgresql://ferry:Sekr1tXYZ@127.0.0.1:1/db?connect_timeout=2",
	           "host=127.0.0.1 port=1", NULL);
}

static void test_errcode_and_password_scrubbed(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf err = FR_BUF_INIT;
	char *sql;
	int v;
	assert_true(asprintf(&sql, "SELECT '%s'::int", pg_password()) > 0);
	assert_int_equal(db->drv->query_bool(db, sql, &v, &err), -1);
	assert_null(strstr(err.ptr, pg_password()));
	assert_non_null(strstr(err.ptr, "***"));
	assert_non_null(strstr(err.ptr, "(SQLSTATE 22P02)"));
	assert_int_equal(db->drv->errcode(db), packed("22P02"));
	free(sql);
	fr_buf_release(&err);
}

static void test_commit_of_failed_tx_fails(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf err = FR_BUF_INIT;
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	t_exec_ok(db, "CREATE TABLE c (x int)");
	assert_int_equal(db->drv->exec(db, "SELECT nosuchcolumn FROM c", NULL, &err), -1);
	assert_int_equal(db->in_tx, 1);
	assert_int_equal(db->drv->commit(db, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "rolled back"));
	assert_int_equal(db->in_tx, 0);
	assert_int_equal(t_qbool(db, "SELECT to_regclass('c') IS NULL"), 1);
	fr_buf_release(&err);
}

static void test_exec_error_offset_in_tx(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf err = FR_BUF_INIT;
	const char *script = "CREATE TABLE d (x int);\n"
	                     "INSERT INTO d VALUES (1);\n"
	                     "-- a comment; with a semicolon\n"
	                     "INSERT INTO nosuch VALUES (1);\n"
	                     "SELECT 1;";
	const char *div = "SELECT 1;\nSELECT 'a;b';\n  SELECT 1/0;\nSELECT 2;";
	const char *syn = "SELECT 1;\nSELECT 2;\nSELEC 3;";
	size_t off = 0;

	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->exec(db, script, &off, &err), -1);
	/* the server's position: the table name in the fourth statement */
	assert_int_equal(off, (size_t)(strstr(script, "nosuch") - script));
	assert_non_null(strstr(err.ptr, "relation \"nosuch\" does not exist"));
	assert_non_null(strstr(err.ptr, "(SQLSTATE 42P01)"));
	assert_int_equal(db->drv->errcode(db), packed("42P01"));
	assert_int_equal(db->drv->rollback(db, &e->err), 0);

	/* no position from the server: the results that came back tell the statement */
	fr_buf_reset(&err);
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->exec(db, div, &off, &err), -1);
	assert_int_equal(off, (size_t)(strstr(div, "SELECT 1/0") - div));
	assert_non_null(strstr(err.ptr, "division by zero (SQLSTATE 22012)"));
	assert_int_equal(db->drv->rollback(db, &e->err), 0);

	/* a syntax error fails the whole script before anything runs */
	fr_buf_reset(&err);
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->exec(db, syn, &off, &err), -1);
	assert_int_equal(off, (size_t)(strstr(syn, "SELEC 3") - syn));
	assert_non_null(strstr(err.ptr, "syntax error"));
	assert_int_equal(db->drv->rollback(db, &e->err), 0);

	/* multibyte text before the error: the offset is in bytes */
	fr_buf_reset(&err);
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->exec(db, "SELECT 'é€😀';\nSELECT * FROM gone;", &off, &err),
	                 -1);
	assert_int_equal(off, strlen("SELECT 'é€😀';\nSELECT * FROM "));
	assert_int_equal(db->drv->rollback(db, &e->err), 0);

	/* outside a transaction, with CREATE INDEX CONCURRENTLY refused inside one */
	fr_buf_reset(&err);
	t_exec_ok(db, "CREATE TABLE ci (x int)");
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->exec(db, "CREATE INDEX CONCURRENTLY ci_x ON ci (x)", &off, &err),
	                 -1);
	assert_non_null(strstr(err.ptr, "(SQLSTATE 25001)"));
	assert_non_null(strstr(err.ptr, "ferry:no-transaction"));
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	fr_buf_release(&err);
}

static void test_exec_each_statement_alone(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	/* Every hard case of the splitter in one script, run outside a transaction. */
	const char *script =
		"CREATE TABLE s (x int, t text);\n"
		"/* a block comment; /* nested; */ still comment; */\n"
		"INSERT INTO s VALUES (1, 'semi;colon'), (2, E'it\\'s; escaped'), "
		"(3, 'doubled'';quote');\n"
		"CREATE FUNCTION f1() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$;\n"
		"CREATE FUNCTION f2() RETURNS text LANGUAGE sql AS $body$ SELECT 'a;$$;b' $body$;\n"
		"CREATE FUNCTION f3(a int) RETURNS int LANGUAGE sql\n"
		"BEGIN ATOMIC\n"
		"  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n"
		"  SELECT a + 1;\n"
		"END;\n"
		"CREATE TABLE \"we;ird\" (\"a;b\" int);\n"
		"-- a trailing comment; with a semicolon\n"
		";;\n"
		"CREATE INDEX CONCURRENTLY s_x ON s (x);\n"
		"SELECT 1";
	assert_int_equal(db->in_tx, 0);
	t_exec_ok(db, script);
	assert_int_equal(db->in_tx, 0);
	assert_int_equal(t_qbool(db, "SELECT count(*) = 3 FROM s"), 1);
	assert_int_equal(t_qbool(db, "SELECT t = 'it''s; escaped' FROM s WHERE x = 2"), 1);
	assert_int_equal(t_qbool(db, "SELECT t = 'doubled'';quote' FROM s WHERE x = 3"), 1);
	assert_int_equal(t_qbool(db, "SELECT f1() = 1 AND f2() = 'a;$$;b' AND f3(5) = 6"), 1);
	assert_int_equal(t_qbool(db, "SELECT indisvalid FROM pg_index WHERE indexrelid = "
	                           "'s_x'::regclass"), 1);
	assert_int_equal(t_qbool(db, "SELECT to_regclass('\"we;ird\"') IS NOT NULL"), 1);
	/* nothing but comments is no statement at all */
	t_exec_ok(db, "-- nothing\n/* at all */\n");
}

static void test_exec_each_failure_names_statement(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf err = FR_BUF_INIT;
	const char *script = "CREATE TABLE u (x int);\n"
	                     "INSERT INTO u VALUES (1), (1);\n"
	                     "CREATE UNIQUE INDEX CONCURRENTLY u_x\n  ON u (x);\n"
	                     "CREATE TABLE never (x int);";
	size_t off = 0;
	assert_int_equal(db->drv->exec(db, script, &off, &err), -1);
	assert_int_equal(off, (size_t)(strstr(script, "CREATE UNIQUE") - script));
	if (!strstr(err.ptr, "statement 3 of 4 ('CREATE UNIQUE INDEX CONCURRENTLY u_x') failed: "))
		fail_msg("%s", err.ptr);
	assert_non_null(strstr(err.ptr, "(SQLSTATE 23505)"));
	assert_non_null(strstr(err.ptr, "statements 1-2 ran and stay applied"));
	assert_int_equal(db->in_tx, 0);
	/* 1 and 2 stay, 4 never ran */
	assert_int_equal(t_qbool(db, "SELECT count(*) = 2 FROM u"), 1);
	assert_int_equal(t_qbool(db, "SELECT to_regclass('never') IS NULL"), 1);

	fr_buf_reset(&err);
	assert_int_equal(db->drv->exec(db, "SELEC 1;\nSELECT 2;", &off, &err), -1);
	assert_int_equal(off, 0);
	assert_non_null(strstr(err.ptr, "statement 1 of 2 ('SELEC 1') failed: syntax error"));
	assert_non_null(strstr(err.ptr, "no statement of the step ran"));
	fr_buf_release(&err);
}

static void test_query_bool(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf err = FR_BUF_INIT;
	int v = 5;
	assert_int_equal(t_qbool(db, "SELECT 1"), 1);
	assert_int_equal(t_qbool(db, "SELECT 0::bigint"), 0);
	assert_int_equal(t_qbool(db, "SELECT 0.0::numeric"), 0);
	assert_int_equal(t_qbool(db, "SELECT 0.5::float8"), 1);
	assert_int_equal(t_qbool(db, "SELECT 'yes'"), 1);
	assert_int_equal(t_qbool(db, "SELECT 'off'"), 0);
	assert_int_equal(t_qbool(db, "SELECT ''"), 0);
	assert_int_equal(t_qbool(db, "SELECT count(*) = 0 FROM pg_class WHERE relname = 'zz'"), 1);
	/* one query only: *out is -1 (no row) besides the error */
	assert_int_equal(db->drv->query_bool(db, "SELECT 1; SELECT 2", &v, &err), -1);
	assert_int_equal(v, -1);
	fr_buf_reset(&err);
	assert_int_equal(db->drv->query_bool(db, "SELECT * FROM nosuch", &v, &err), -1);
	assert_non_null(strstr(err.ptr, "(SQLSTATE 42P01)"));
	fr_buf_release(&err);
}

/* The record lives in schema ferry, with SQLite's columns, made by the first put only. */
static void test_record_table(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_record a = rec("0.2.0/001_a.sql", 0), *out = NULL;
	size_t n = 5;
	char *cols;

	assert_int_equal(db->drv->record_read(db, &out, &n, &e->err), 0);
	assert_int_equal(db->drv->record_delete(db, "x", &e->err), 0);
	assert_int_equal(t_qbool(db, "SELECT to_regnamespace('ferry') IS NULL"), 1);
	assert_int_equal(db->drv->record_put(db, &a, &e->err), 0);
	cols = admin_value(e, "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) "
	                      "FROM information_schema.columns WHERE table_schema = 'ferry' "
	                      "AND table_name = 'ferry_steps'");
	assert_string_equal(cols, "id,seq,checksum,kind,from_version,to_version,status,undo,"
	                          "applied_at_ms,duration_ms,run_id");
	free(cols);

	/* a second connection sees the same record */
	{
		fr_db *o = open_other(e, NULL);
		assert_int_equal(o->drv->record_read(o, &out, &n, &e->err), 0);
		assert_int_equal(n, 1);
		assert_string_equal(out[0].id, "0.2.0/001_a.sql");
		fr_records_free(out, n);
		close_other(o);
	}
	assert_string_equal(e->err.ptr, "");
}

static void test_records_in_tx_sent_together(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e), *other = open_other(e, NULL);
	fr_record a = rec("0.2.0/a.sql", 1), b = rec("0.2.0/b \"quoted\" {x,y}.sql", 2), *out = NULL;
	size_t n = 0;
	const char *odd = "DROP TABLE \"x\";\n-- back\\slash, comma, {brace}, 'quote' NULL é\t";

	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &a, &e->err), 0);
	b.undo = (char *)odd;
	b.checksum = NULL;
	assert_int_equal(db->drv->record_put(db, &b, &e->err), 0);
	a.status = "skipped"; /* the same id again: the last put wins */
	assert_int_equal(db->drv->record_put(db, &a, &e->err), 0);
	/* this transaction reads its own records */
	assert_int_equal(db->drv->record_read(db, &out, &n, &e->err), 0);
	assert_int_equal(n, 2);
	fr_records_free(out, n);
	a.id = "0.2.0/c.sql";
	a.seq = 3;
	assert_int_equal(db->drv->record_put(db, &a, &e->err), 0);
	/* nobody else sees any before the commit */
	assert_int_equal(other->drv->record_read(other, &out, &n, &e->err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(db->drv->commit(db, &e->err), 0);
	assert_int_equal(other->drv->record_read(other, &out, &n, &e->err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].id, "0.2.0/a.sql");
	assert_string_equal(out[0].status, "skipped");
	assert_string_equal(out[1].id, "0.2.0/b \"quoted\" {x,y}.sql");
	assert_string_equal(out[1].undo, odd);
	assert_null(out[1].checksum);
	assert_int_equal(out[1].seq, 2);
	assert_string_equal(out[2].id, "0.2.0/c.sql");
	fr_records_free(out, n);

	/* rolled back: the pending ones go too */
	a.id = "0.3.0/d.sql";
	a.seq = 4;
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &a, &e->err), 0);
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	assert_int_equal(db->drv->record_read(db, &out, &n, &e->err), 0);
	assert_int_equal(n, 3);
	fr_records_free(out, n);
	close_other(other);
}

/*
 * The records go in COMMIT's round trip. When their INSERT fails (here a
 * trigger refuses it), nothing after it runs: commit() says so, the
 * transaction stays open and failed, and the rollback leaves neither the
 * step's table nor its record.
 */
static void test_record_refused_at_commit(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e), *other = open_other(e, NULL);
	fr_record a = rec("0.2.0/a.sql", 1), b = rec("0.2.0/b.sql", 2), *out = NULL;
	size_t n = 0;

	/* a committed record first: the table exists, with a trigger that refuses b */
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &a, &e->err), 0);
	assert_int_equal(db->drv->commit(db, &e->err), 0);
	t_exec_ok(db, "CREATE FUNCTION public.no_b() RETURNS trigger LANGUAGE plpgsql AS "
	              "$$ BEGIN IF NEW.id = '0.2.0/b.sql' THEN RAISE EXCEPTION 'b is refused'; "
	              "END IF; RETURN NEW; END $$");
	t_exec_ok(db, "CREATE TRIGGER no_b BEFORE INSERT OR UPDATE ON ferry.ferry_steps "
	              "FOR EACH ROW EXECUTE FUNCTION public.no_b()");

	assert_int_equal(db->drv->begin(db, &e->err), 0);
	t_exec_ok(db, "CREATE TABLE public.step_b (x int)");
	assert_int_equal(db->drv->record_put(db, &b, &e->err), 0);
	assert_int_equal(db->drv->commit(db, &e->err), -1);
	if (!strstr(e->err.ptr, "cannot record the steps") || !strstr(e->err.ptr, "b is refused"))
		fail_msg("commit: %s", e->err.ptr);
	assert_true(db->in_tx); /* open and failed: the caller rolls back */
	fr_buf_reset(&e->err);
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	assert_false(db->in_tx);
	assert_int_equal(t_qbool(other, "SELECT to_regclass('public.step_b') IS NULL"), 1);
	assert_int_equal(other->drv->record_read(other, &out, &n, &e->err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].id, "0.2.0/a.sql");
	fr_records_free(out, n);
	/* the connection serves the next transaction */
	t_exec_ok(db, "DROP TRIGGER no_b ON ferry.ferry_steps");
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &b, &e->err), 0);
	assert_int_equal(db->drv->commit(db, &e->err), 0);
	assert_int_equal(other->drv->record_read(other, &out, &n, &e->err), 0);
	assert_int_equal(n, 2);
	fr_records_free(out, n);
	t_exec_ok(db, "DROP FUNCTION public.no_b()");
	close_other(other);
	assert_string_equal(e->err.ptr, "");
}

/*
 * A transaction begins with the lock_timeout the last step asked for, in
 * BEGIN's round trip; a step that asks another still gets its own, and the
 * session's is untouched.
 */
static void test_lock_timeout_with_begin(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf err = FR_BUF_INIT;
	assert_int_equal(db->drv->begin(db, &err), 0);
	assert_int_equal(db->drv->set_lock_timeout(db, 700, &err), 0);
	assert_int_equal(db->drv->commit(db, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '0'"), 1);
	assert_int_equal(db->drv->begin(db, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '700ms'"), 1);
	assert_int_equal(db->drv->set_lock_timeout(db, 700, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '700ms'"), 1);
	assert_int_equal(db->drv->set_lock_timeout(db, 3000, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '3s'"), 1);
	assert_int_equal(db->drv->rollback(db, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '0'"), 1);
	/* the next begins with 3 s, the last asked for */
	assert_int_equal(db->drv->begin(db, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '3s'"), 1);
	assert_int_equal(db->drv->commit(db, &err), 0);
	assert_string_equal(err.ptr, "");
	fr_buf_release(&err);
}

static void test_integrity(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf findings = FR_BUF_INIT;
	fr_record r = rec("0.2.0/a.sql", 1);
	assert_int_equal(db->drv->integrity(db, &findings, &e->err), 0);
	assert_string_equal(findings.ptr, "");
	assert_int_equal(db->drv->record_put(db, &r, &e->err), 0);
	assert_int_equal(db->drv->version_set(db, "1.0.0", &e->err), 0);
	assert_int_equal(db->drv->integrity(db, &findings, &e->err), 0);
	assert_string_equal(findings.ptr, "");
	/* the record table becomes unreadable for ferry's role */
	admin_ok(e, "ALTER TABLE ferry.ferry_steps OWNER TO postgres;\n"
	            "REVOKE ALL ON ferry.ferry_steps FROM app;");
	assert_int_equal(db->drv->integrity(db, &findings, &e->err), 0);
	assert_non_null(strstr(findings.ptr, "ferry.ferry_steps cannot be read"));
	assert_non_null(strstr(findings.ptr, "(SQLSTATE 42501)"));
	fr_buf_release(&findings);
}

static void test_version(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf v = FR_BUF_INIT;
	char *rows;
	assert_int_equal(db->drv->version_get(db, &v, &e->err), 0);
	assert_string_equal(v.ptr, "");
	assert_int_equal(t_qbool(db, "SELECT to_regnamespace('ferry') IS NULL"), 1);
	assert_int_equal(db->drv->version_set(db, "1.2.3", &e->err), 0);
	assert_int_equal(db->drv->version_set(db, "1.3.0-rc.1", &e->err), 0);
	assert_int_equal(db->drv->version_get(db, &v, &e->err), 0);
	assert_string_equal(v.ptr, "1.3.0-rc.1");
	rows = admin_value(e, "SELECT count(*) FROM ferry.version");
	assert_string_equal(rows, "1");
	free(rows);
	/* inside a transaction, and rolled back with it */
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->version_set(db, "2.0.0", &e->err), 0);
	fr_buf_reset(&v);
	assert_int_equal(db->drv->version_get(db, &v, &e->err), 0);
	assert_string_equal(v.ptr, "2.0.0");
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	fr_buf_reset(&v);
	assert_int_equal(db->drv->version_get(db, &v, &e->err), 0);
	assert_string_equal(v.ptr, "1.3.0-rc.1");
	fr_buf_release(&v);
}

static void test_advisory_lock(void **state)
{
	env *e = *state;
	fr_db *a = open_db(e), *b = open_other(e, NULL);
	fr_buf err = FR_BUF_INIT, who = FR_BUF_INIT;
	volatile sig_atomic_t stop = 0;
	char *apid;

	assert_int_equal(a->drv->lock(a, 0, NULL, &err), 0);
	assert_int_equal(a->drv->lock(a, 0, NULL, &err), 0); /* held already: fine */
	apid = admin_value(e, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
	                      "AND classid = 102 AND objid = 1701999225 AND objsubid = 1");
	assert_true(atoi(apid) > 0);
	/* the other session waits, then names the holder */
	assert_int_equal(b->drv->lock(b, 0, &stop, &err), FERRY_ELOCKED);
	if (!strstr(err.ptr, apid) || !strstr(err.ptr, "application 'ferry "))
		fail_msg("holder pid %s not named: %s", apid, err.ptr);
	assert_non_null(strstr(err.ptr, "--wait"));
	assert_int_equal(b->drv->lock_holder(b, &who, &err), 0);
	assert_non_null(strstr(who.ptr, apid));
	fr_buf_reset(&who);
	assert_int_equal(a->drv->lock_holder(a, &who, &err), 0);
	assert_string_equal(who.ptr, ""); /* its own lock is nobody else's */
	/* waiting ends on *stop */
	stop = 1;
	fr_buf_reset(&err);
	assert_int_equal(b->drv->lock(b, 5, &stop, &err), FERRY_EINTERRUPTED);
	stop = 0;
	/* released by unlock */
	a->drv->unlock(a);
	fr_buf_reset(&err);
	assert_int_equal(b->drv->lock(b, 2, &stop, &err), 0);
	/* released when the holding session ends */
	close_other(b);
	fr_buf_reset(&err);
	assert_int_equal(a->drv->lock(a, 2, &stop, &err), 0);
	a->drv->unlock(a);
	a->drv->unlock(a); /* twice: harmless */
	free(apid);
	fr_buf_release(&err);
	fr_buf_release(&who);
}

static void test_lock_wait_gets_it(void **state)
{
	env *e = *state;
	fr_db *a = open_db(e);
	fr_buf err = FR_BUF_INIT;
	pid_t pid;
	/* a child holds the lock for half a second; the parent's wait outlasts it */
	assert_int_equal(a->drv->lock(a, 0, NULL, &err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fr_db *b = open_other(e, NULL);
		int rc = b->drv->lock(b, 10, NULL, &err);
		/* Its own connection only: the parent's inherited one must stay untouched. */
		close_other(b);
		fr_buf_release(&err);
		_exit(rc == 0 ? 0 : 1);
	}
	usleep(500000);
	a->drv->unlock(a);
	{
		int st = 0;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	fr_buf_release(&err);
}

static void test_lock_timeout_names_blocker(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e), *reader = open_other(e, NULL);
	fr_buf err = FR_BUF_INIT;
	char *rpid;
	size_t off = 9;

	t_exec_ok(db, "CREATE TABLE lt (x int); INSERT INTO lt VALUES (1)");
	/* a long reader: a transaction that read the table and stays open */
	assert_int_equal(reader->drv->begin(reader, &err), 0);
	t_exec_ok(reader, "SELECT count(*) FROM lt");
	rpid = admin_value(e, "SELECT pid FROM pg_stat_activity WHERE state = "
	                      "'idle in transaction' AND query LIKE 'SELECT count(*) FROM lt%'");
	assert_true(atoi(rpid) > 0);

	assert_int_equal(db->drv->begin(db, &err), 0);
	assert_int_equal(db->drv->set_lock_timeout(db, 400, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '400ms'"), 1);
	assert_int_equal(db->drv->exec(db, "SELECT 1;\nALTER TABLE lt ADD COLUMN y int;", &off,
	                               &err), -1);
	if (!strstr(err.ptr, "lock timeout") || !strstr(err.ptr, "(SQLSTATE 55P03)") ||
	    !strstr(err.ptr, rpid) || !strstr(err.ptr, "SELECT count(*) FROM lt"))
		fail_msg("blocker pid %s not named: %s", rpid, err.ptr);
	assert_non_null(strstr(err.ptr, "ferry:lock-timeout"));
	assert_int_equal(off, strlen("SELECT 1;\n")); /* no position: the statement */
	assert_int_equal(db->drv->errcode(db), packed("55P03"));
	assert_int_equal(db->drv->rollback(db, &err), 0);
	/* a wait too short to look at: the sessions holding table locks, said as a guess */
	fr_buf_reset(&err);
	assert_int_equal(db->drv->begin(db, &err), 0);
	assert_int_equal(db->drv->set_lock_timeout(db, 1, &err), 0);
	assert_int_equal(db->drv->exec(db, "ALTER TABLE lt ADD COLUMN y int;", &off, &err), -1);
	if (!strstr(err.ptr, "probably blocked by pid ") || !strstr(err.ptr, rpid))
		fail_msg("no guess naming pid %s: %s", rpid, err.ptr);
	assert_int_equal(db->drv->rollback(db, &err), 0);
	/* SET LOCAL ended with the transaction */
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '0'"), 1);

	/* outside a transaction (no-transaction steps) it holds for the session */
	fr_buf_reset(&err);
	assert_int_equal(db->drv->set_lock_timeout(db, 300, &err), 0);
	assert_int_equal(db->drv->exec(db, "ALTER TABLE lt ADD COLUMN y int;", &off, &err), -1);
	assert_non_null(strstr(err.ptr, "statement 1 of 1"));
	assert_non_null(strstr(err.ptr, rpid));
	assert_int_equal(reader->drv->rollback(reader, &err), 0);
	close_other(reader);
	free(rpid);
	fr_buf_release(&err);
}

static void test_lock_timeout_set_once(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf err = FR_BUF_INIT;
	/* set for the session outside a transaction, in force inside one */
	assert_int_equal(db->drv->set_lock_timeout(db, 300, &err), 0);
	assert_int_equal(db->drv->begin(db, &err), 0);
	assert_int_equal(db->drv->set_lock_timeout(db, 300, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '300ms'"), 1);
	assert_int_equal(db->drv->set_lock_timeout(db, 2000, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '2s'"), 1);
	/* a step that changes it itself: the next step's own value is set again */
	t_exec_ok(db, "SET LOCAL lock_timeout = 0");
	assert_int_equal(db->drv->set_lock_timeout(db, 2000, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '2s'"), 1);
	t_exec_ok(db, "RESET ALL");
	assert_int_equal(db->drv->set_lock_timeout(db, 2000, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '2s'"), 1);
	assert_int_equal(db->drv->commit(db, &err), 0);
	/* RESET ALL reset the session's too */
	assert_int_equal(db->drv->set_lock_timeout(db, 300, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT current_setting('lock_timeout') = '300ms'"), 1);
	assert_string_equal(err.ptr, "");
	fr_buf_release(&err);
}

static void test_connection_lost(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf err = FR_BUF_INIT;
	fr_record r = rec("0.2.0/a.sql", 1);
	assert_int_equal(db->drv->lock(db, 0, NULL, &err), 0);
	assert_int_equal(db->drv->begin(db, &err), 0);
	t_exec_ok(db, "CREATE TABLE gone (x int)");
	admin_ok(e, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	            "application_name LIKE 'ferry %'");
	assert_int_equal(db->drv->exec(db, "INSERT INTO gone VALUES (1)", NULL, &err), -1);
	if (!strstr(err.ptr, "connection"))
		fail_msg("%s", err.ptr);
	/* the server rolled it back; rollback says so without an error */
	assert_int_equal(db->drv->rollback(db, &err), 0);
	assert_int_equal(db->in_tx, 0);
	/* the next transaction re-connects, and the advisory lock is held again */
	fr_buf_reset(&err);
	assert_int_equal(db->drv->begin(db, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT to_regclass('gone') IS NULL"), 1);
	assert_int_equal(db->drv->record_put(db, &r, &err), 0);
	assert_int_equal(db->drv->commit(db, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT count(*) = 1 FROM pg_locks WHERE locktype = "
	                           "'advisory' AND pid = pg_backend_pid()"), 1);
	/*
	 * Gone before the commit, its records still to send: they go with
	 * COMMIT, so the answer cannot say whether it committed, and says so.
	 */
	r.id = "0.2.0/b.sql";
	assert_int_equal(db->drv->begin(db, &err), 0);
	t_exec_ok(db, "CREATE TABLE gone2 (x int)");
	assert_int_equal(db->drv->record_put(db, &r, &err), 0);
	admin_ok(e, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	            "application_name LIKE 'ferry %'");
	assert_int_equal(db->drv->commit(db, &err), -1);
	if (!strstr(err.ptr, "cannot record the steps") ||
	    !strstr(err.ptr, "whether the transaction committed is unknown; run 'ferry verify'"))
		fail_msg("%s", err.ptr);
	assert_int_equal(db->drv->rollback(db, &err), 0);
	assert_int_equal(db->in_tx, 0);
	fr_buf_reset(&err);
	/* it did not: the server rolled it back with the connection */
	assert_int_equal(db->drv->begin(db, &err), 0);
	assert_int_equal(t_qbool(db, "SELECT to_regclass('gone2') IS NULL"), 1);
	assert_int_equal(t_qbool(db, "SELECT count(*) = 1 FROM ferry.ferry_steps"), 1);
	assert_int_equal(db->drv->commit(db, &err), 0);
	db->drv->unlock(db);
	fr_buf_release(&err);
}

static void test_snapshot_restore(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	char *dump = t_path(e->dir, "main.dump"), *before, *after, *rows;
	fr_record r = rec("0.2.0/a.sql", 1);
	struct stat sb;
	const char *schema_sql =
		"SELECT string_agg(format('%s.%s:%s', table_schema, table_name, column_name), ',' "
		"ORDER BY table_schema, table_name, ordinal_position) FROM information_schema.columns "
		"WHERE table_schema IN ('public', 'side', 'ferry')";

	t_exec_ok(db, "CREATE TABLE users (id serial PRIMARY KEY, name text);\n"
	            "INSERT INTO users (name) VALUES ('ada'), ('bob');\n"
	            "CREATE VIEW names AS SELECT name FROM users;\n"
	            "CREATE TYPE mood AS ENUM ('ok');\n");
	assert_int_equal(db->drv->record_put(db, &r, &e->err), 0);
	assert_int_equal(db->drv->snapshot(db, NULL, &e->err), 0); /* the pre-flight */
	assert_int_equal(db->drv->snapshot(db, dump, &e->err), 0);
	assert_int_equal(stat(dump, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_true(sb.st_size > 0);
	before = admin_value(e, schema_sql);

	/* what a half-done upgrade leaves: new schema, table, function, column, rows */
	t_exec_ok(db, "CREATE SCHEMA side; CREATE TABLE side.t (x int);\n"
	            "CREATE TABLE extra (x int);\n"
	            "CREATE FUNCTION fx() RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
	            "CREATE TYPE mood2 AS ENUM ('meh');\n"
	            "ALTER TABLE users ADD COLUMN email text;\n"
	            "INSERT INTO users (name) VALUES ('cy');\n"
	            "DROP VIEW names;\n"
	            "DELETE FROM ferry.ferry_steps;\n");
	assert_int_equal(db->drv->restore(db, dump, &e->err), 0);
	after = admin_value(e, schema_sql);
	assert_string_equal(before, after);
	rows = admin_value(e, "SELECT (SELECT count(*) FROM users) || ',' || "
	                      "(SELECT count(*) FROM ferry.ferry_steps) || ',' || "
	                      "(to_regclass('extra') IS NULL) || ',' || "
	                      "(to_regprocedure('fx()') IS NULL) || ',' || "
	                      "(to_regtype('mood2') IS NULL) || ',' || "
	                      "(to_regtype('mood') IS NOT NULL) || ',' || "
	                      "(to_regclass('names') IS NOT NULL)");
	assert_string_equal(rows, "2,1,true,true,true,true,true");
	/* the driver still records after the tables were made again */
	r.id = "0.3.0/b.sql";
	r.seq = 2;
	assert_int_equal(db->drv->record_put(db, &r, &e->err), 0);
	assert_string_equal(e->err.ptr, "");

	/* a snapshot that is not one: an error, the database untouched */
	t_write(e->dir, "bad.dump", "not a dump");
	{
		char *bad = t_path(e->dir, "bad.dump");
		assert_int_equal(db->drv->restore(db, bad, &e->err), -1);
		assert_non_null(strstr(e->err.ptr, "pg_restore"));
		free(bad);
	}
	assert_int_equal(t_qbool(db, "SELECT count(*) = 2 FROM users"), 1);
	free(before);
	free(after);
	free(rows);
	free(dump);
}

static void test_snapshot_without_pg_dump(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	char *dump = t_path(e->dir, "x.dump"), *path = strdup(getenv("PATH") ? getenv("PATH") : "");
	setenv("PATH", e->dir, 1);
	assert_int_equal(db->drv->snapshot(db, NULL, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "'pg_dump' is not installed"));
	assert_non_null(strstr(e->err.ptr, "postgresql-client-15"));
	fr_buf_reset(&e->err);
	assert_int_equal(db->drv->snapshot(db, dump, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "postgresql-client-15"));
	fr_buf_reset(&e->err);
	assert_int_equal(db->drv->restore(db, dump, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "'pg_restore' is not installed"));
	setenv("PATH", path, 1);
	assert_int_equal(access(dump, F_OK), -1);
	free(path);
	free(dump);
}

static void test_snapshot_password_not_in_argv(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	char *dump = t_path(e->dir, "p.dump"), *bin = t_path(e->dir, "bin");
	char *path = strdup(getenv("PATH") ? getenv("PATH") : ""), *np, *seen;
	/* a pg_dump that writes down its argv and what PGPASSWORD held */
	t_write(e->dir, "bin/pg_dump", "#!/bin/sh\n"
	                               "printf '%s\\n' \"$@\" > \"$(dirname \"$0\")/argv\"\n"
	                               "printf '%s' \"$PGPASSWORD\" > \"$(dirname \"$0\")/pw\"\n"
	                               "echo 'pg_dump: error: simulated failure' >&2\n"
	                               "exit 1\n");
	assert_int_equal(t_sh("chmod +x '%s/pg_dump'", bin), 0);
	assert_true(asprintf(&np, "%s:%s", bin, path) > 0);
	setenv("PATH", np, 1);
	assert_int_equal(db->drv->snapshot(db, dump, &e->err), -1);
	setenv("PATH", path, 1);
	assert_non_null(strstr(e->err.ptr, "simulated failure"));
	assert_non_null(strstr(e->err.ptr, "exit 1"));
	seen = t_read(bin, "argv");
	assert_non_null(seen);
	assert_null(strstr(seen, pg_password()));
	assert_non_null(strstr(seen, "--format=custom"));
	assert_non_null(strstr(seen, "dbname='ferry_test'"));
	free(seen);
	seen = t_read(bin, "pw");
	assert_string_equal(seen, pg_password());
	free(seen);
	free(np);
	free(path);
	free(bin);
	free(dump);
}

static void test_close_null(void **state)
{
	(void)state;
	fr_db_close(NULL);
	fr_db_driver_find("postgres")->close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_driver_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_uri_and_kv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors_hide_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errcode_and_password_scrubbed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_of_failed_tx_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_error_offset_in_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_each_statement_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_each_failure_names_statement, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_query_bool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_in_tx_sent_together, setup, teardown),
		cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_advisory_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_wait_gets_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_timeout_names_blocker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_timeout_set_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_without_pg_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_password_not_in_argv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_refused_at_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_timeout_with_begin, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
