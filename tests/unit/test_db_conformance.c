/*
 * test_db_conformance.c - one suite, run against every compiled database
 * driver: SQLite (a file in a temporary folder), PostgreSQL (the server of
 * FERRY_TEST_PG, from tests/pg/pg.sh; missing, its group fails) and the
 * mock of mock_db.c. Each driver brings a dialect (the statements that mean
 * the same in its language, and the capabilities it claims); the cases are
 * the interface's promises in db.h: transactions, exec errors and their
 * offsets, the query_bool truth table, query() with typed values, the record's order and round trip,
 * capabilities against members, urls, exists/prepare/writable/
 * script_value/describe, snapshot/restore, and clone/drop_clone for the
 * drivers that clone (PostgreSQL, the mock).
 *
 * Last, the engine through the mock alone, by the public API, with nothing
 * about the mock known outside mock_db.c and its slot in the driver table:
 * ferry_up, ferry_down and ferry_verify; backups (create, verify, restore,
 * rollback) whose only database is the mock; and up --rehearse on a clone.
 */
#include "helpers.h"
#include "mock_db.h"

#include "db/db.h"
#include "ferry.h"
#include "util/alloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
	const char *driver;
	const char *create_a, *create_b; /* make objects a and b */
	const char *has_a, *has_b;       /* queries: true when it exists */
	const char *has_records;         /* true when the record table exists */
	const char *fails;               /* a statement that fails */
	const char *q_true, *q_false, *q_null, *q_none; /* the truth table */
	const char *reset;               /* run first (outside a transaction) */
	unsigned caps;                   /* the FR_DB_CAP_* the driver claims */
	const char *q_table;             /* a table of every value type; NULL: no query() */
	const char *x_schema;            /* tables xp and xc (xc.p references xp); NULL: no export */
	const char *x_tz;                /* what convert() makes of a timestamptz text */
} dialect;

static const dialect dialects[] = {
	{ "sqlite", "CREATE TABLE a (x)", "CREATE TABLE b (x)",
	  "SELECT count(*) FROM sqlite_master WHERE name = 'a'",
	  "SELECT count(*) FROM sqlite_master WHERE name = 'b'",
	  "SELECT count(*) FROM sqlite_master WHERE name = 'ferry_steps'",
	  "INSERT INTO nope VALUES (1)", "SELECT 1", "SELECT 0", "SELECT NULL",
	  "SELECT 1 WHERE 0", "", FR_DB_CAP_SNAPSHOT | FR_DB_CAP_FILES,
	  "CREATE TABLE q (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)",
	  "CREATE TABLE xp (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
	  "CREATE TABLE xc (id INTEGER PRIMARY KEY, p INTEGER REFERENCES xp(id), at TIMESTAMP)",
	  "2024-01-02 01:04:05.5" },
	{ "postgres", "CREATE TABLE a (x int)", "CREATE TABLE b (x int)",
	  "SELECT to_regclass('a') IS NOT NULL", "SELECT to_regclass('b') IS NOT NULL",
	  "SELECT to_regclass('ferry.ferry_steps') IS NOT NULL",
	  "INSERT INTO nope VALUES (1)", "SELECT true", "SELECT false", "SELECT NULL",
	  "SELECT 1 WHERE false",
	  "DROP SCHEMA IF EXISTS ferry CASCADE; DROP TABLE IF EXISTS a, b, q, xc, xp",
	  FR_DB_CAP_SESSION_LOCK | FR_DB_CAP_SHARED_VERSION | FR_DB_CAP_LOCK_TIMEOUT |
	  FR_DB_CAP_SNAPSHOT | FR_DB_CAP_CLONE,
	  "CREATE TABLE q (i bigint, r double precision, s text, b bytea, n text)",
	  "CREATE TABLE xp (id serial PRIMARY KEY, name text NOT NULL);"
	  "CREATE TABLE xc (id bigint PRIMARY KEY, p int REFERENCES xp(id), at timestamptz)",
	  "2024-01-02 03:04:05.5+02" },
	{ "mock", "CREATE a", "CREATE b", "EXISTS a", "EXISTS b", "EXISTS ferry_steps", "FAIL",
	  "TRUE", "FALSE", "NULL", "NONE", "", FR_DB_CAP_SNAPSHOT | FR_DB_CAP_CLONE, NULL, NULL,
	  NULL },
};

typedef struct {
	const dialect *d;
	char *dir;
	fr_dbconf conf;
	fr_db *db;
	fr_buf err;
} env;

/* ---- set-up: a fresh database of the group's driver ---- */

static const dialect *dialect_of(const char *driver)
{
	size_t i;
	for (i = 0; i < sizeof dialects / sizeof dialects[0]; i++)
		if (!strcmp(dialects[i].driver, driver))
			return &dialects[i];
	return NULL;
}

static int mock_counter;

/* The url of a fresh database of driver: a new file, a new mock, the test server. */
static char *fresh_url(const char *driver, const char *dir)
{
	char buf[64];
	if (!strcmp(driver, "sqlite"))
		return strdup("sqlite:app.db"); /* in dir, the root */
	if (!strcmp(driver, "mock")) {
		snprintf(buf, sizeof buf, "mock:conf%d", ++mock_counter);
		return strdup(buf);
	}
	return strdup(getenv("FERRY_TEST_PG"));
}

static fr_db *open_db(env *e)
{
	fr_db_close(e->db);
	e->db = NULL;
	fr_buf_reset(&e->err);
	if (fr_db_open(&e->db, &e->conf, &e->err))
		fail_msg("open failed: %s", e->err.ptr);
	return e->db;
}

static int setup_driver(void **state, const char *driver)
{
	env *e;
	char *url;
	/* First, before anything is allocated: a failed setup gets no teardown. */
	if (!strcmp(driver, "postgres") && (!getenv("FERRY_TEST_PG") || !*getenv("FERRY_TEST_PG")))
		fail_msg("FERRY_TEST_PG is not set: start a server with "
		         "'eval \"$(tests/pg/pg.sh start)\"' (tests/run.sh does it)");
	e = calloc(1, sizeof *e);
	assert_non_null(e);
	*state = e;
	e->d = dialect_of(driver);
	e->dir = t_tmpdir();
	fr_buf_init(&e->err);
	url = fresh_url(driver, e->dir);
	if (fr_db_url_parse(&e->conf, url, e->dir, &e->err))
		fail_msg("url '%s': %s", url, e->err.ptr);
	e->conf.name = fr_strdup("main");
	e->conf.url = fr_strdup(url);
	free(url);
	assert_string_equal(e->conf.driver, driver);
	if (*e->d->reset)
		t_exec_ok(open_db(e), e->d->reset);
	fr_db_close(e->db);
	e->db = NULL;
	return 0;
}

static int setup_sqlite(void **state)
{
	return setup_driver(state, "sqlite");
}

#ifdef FR_HAVE_PQ
static int setup_postgres(void **state)
{
	return setup_driver(state, "postgres");
}
#endif

static int setup_mock(void **state)
{
	return setup_driver(state, "mock");
}

static int teardown(void **state)
{
	env *e = *state;
	if (!e)
		return 0;
	fr_db_close(e->db);
	fr_dbconf_clear(&e->conf);
	fr_buf_release(&e->err);
	t_rmrf(e->dir);
	free(e->dir);
	free(e);
	return 0;
}

#ifdef FR_HAVE_PQ
/* A clone is a new database: the role needs CREATEDB for it, given here and taken back. */
static int pg_had_createdb;

static int setup_postgres_clone(void **state)
{
	pg_had_createdb = t_sh("psql \"$FERRY_TEST_PG_ADMIN\" -X -q -A -t -c \"SELECT rolcreatedb "
	                       "FROM pg_roles WHERE rolname = 'app'\" | grep -qx t") == 0;
	if (t_sh("psql \"$FERRY_TEST_PG_ADMIN\" -X -q -v ON_ERROR_STOP=1 "
	         "-c 'ALTER ROLE app CREATEDB' >/dev/null"))
		fail_msg("cannot give role 'app' CREATEDB through FERRY_TEST_PG_ADMIN");
	return setup_driver(state, "postgres");
}

static int teardown_postgres_clone(void **state)
{
	if (!pg_had_createdb)
		t_sh("psql \"$FERRY_TEST_PG_ADMIN\" -X -q -c 'ALTER ROLE app NOCREATEDB' >/dev/null");
	return teardown(state);
}
#endif

/* ---- the cases ---- */

/* begin/commit/rollback: what commits stays, what rolls back goes, misuse is refused. */
static void test_transactions(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);

	assert_int_equal(db->in_tx, 0);
	assert_int_equal(db->drv->commit(db, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "no transaction to commit"));
	fr_buf_reset(&e->err);
	assert_int_equal(db->drv->rollback(db, &e->err), 0); /* nothing open: a no-op */

	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->in_tx, 1);
	assert_int_equal(db->drv->begin(db, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "a transaction is already open"));
	assert_int_equal(db->in_tx, 1);
	fr_buf_reset(&e->err);
	t_exec_ok(db, e->d->create_a);
	assert_int_equal(db->drv->commit(db, &e->err), 0);
	assert_int_equal(db->in_tx, 0);

	assert_int_equal(db->drv->begin(db, &e->err), 0);
	t_exec_ok(db, e->d->create_b);
	assert_int_equal(t_qbool(db, e->d->has_b), 1); /* the transaction sees its own work */
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	assert_int_equal(db->in_tx, 0);
	assert_int_equal(t_qbool(db, e->d->has_b), 0);

	/* A fresh connection sees what was committed, and only that. */
	db = open_db(e);
	assert_int_equal(t_qbool(db, e->d->has_a), 1);
	assert_int_equal(t_qbool(db, e->d->has_b), 0);

	/* Closing with a transaction open rolls it back. */
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	t_exec_ok(db, e->d->create_b);
	db = open_db(e);
	assert_int_equal(t_qbool(db, e->d->has_b), 0);
	assert_string_equal(e->err.ptr, "");
}

/* A script: the failing statement's offset, the driver's code, what stays outside a tx. */
static void test_exec_errors(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf sql = FR_BUF_INIT;
	size_t off = 12345, want;

	fr_buf_printf(&sql, "%s;\n  -- the next one fails\n  ", e->d->create_a);
	want = sql.len;
	fr_buf_printf(&sql, "%s;\n%s;\n", e->d->fails, e->d->create_b);
	assert_int_equal(db->drv->exec(db, sql.ptr, &off, &e->err), -1);
	assert_true(off >= want && off < want + strlen(e->d->fails));
	assert_true(e->err.len > 0);
	assert_int_not_equal(db->drv->errcode(db), 0);
	assert_int_equal(db->in_tx, 0);
	/* Outside a transaction the first statement stayed, the last never ran. */
	assert_int_equal(t_qbool(db, e->d->has_a), 1);
	assert_int_equal(t_qbool(db, e->d->has_b), 0);
	fr_buf_reset(&e->err);

	/* Inside one, the failure leaves it for the caller to roll back: nothing stays. */
	fr_buf_reset(&sql);
	fr_buf_printf(&sql, "%s;\n%s;", e->d->create_b, e->d->fails);
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->exec(db, sql.ptr, NULL, &e->err), -1);
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	assert_int_equal(t_qbool(db, e->d->has_b), 0);
	fr_buf_reset(&e->err);

	/* Nothing but comments and blanks is no work and no error. */
	assert_int_equal(db->drv->exec(db, "  -- nothing\n\n", &off, &e->err), 0);
	assert_int_equal(db->drv->exec(db, "", &off, &e->err), 0);
	assert_string_equal(e->err.ptr, "");
	fr_buf_release(&sql);
}

/* parse (`ferry check`): tells syntax errors, runs nothing, leaves a transaction usable. */
static void test_parse(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf sql = FR_BUF_INIT;
	size_t off = 12345, want;

	if (!db->drv->parse) {
		/* Optional: the sql kind then says nothing. The mock has none. */
		assert_string_equal(e->d->driver, "mock");
		return;
	}
	/* A statement that needs the DDL before it is no error, and neither ran. */
	fr_buf_printf(&sql, "%s;\nINSERT INTO a VALUES (1);\n", e->d->create_a);
	assert_int_equal(db->drv->parse(db, sql.ptr, &off, &e->err), 0);
	assert_string_equal(e->err.ptr, "");
	assert_int_equal(t_qbool(db, e->d->has_a), 0);
	assert_int_equal(db->in_tx, 0);

	fr_buf_reset(&sql);
	fr_buf_printf(&sql, "%s;\n  -- the next one does not parse\n  ", e->d->create_a);
	want = sql.len;
	fr_buf_puts(&sql, "SELEC 1;\nSELECT 1;\n");
	assert_int_equal(db->drv->parse(db, sql.ptr, &off, &e->err), 1);
	assert_true(off >= want && off < want + 5);
	assert_non_null(strstr(e->err.ptr, "syntax error"));
	assert_int_equal(t_qbool(db, e->d->has_a), 0);
	fr_buf_reset(&e->err);

	/* Inside a transaction: what it did so far stays, and it goes on. */
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	fr_buf_reset(&sql);
	fr_buf_printf(&sql, "%s;", e->d->create_b);
	assert_int_equal(db->drv->exec(db, sql.ptr, NULL, &e->err), 0);
	assert_int_equal(db->drv->parse(db, "SELECT (1;", &off, &e->err), 1);
	fr_buf_reset(&e->err);
	assert_int_equal(db->in_tx, 1);
	assert_int_equal(t_qbool(db, e->d->has_b), 1);
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	assert_int_equal(t_qbool(db, e->d->has_b), 0);
	fr_buf_release(&sql);
}

static void test_query_bool(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_buf two = FR_BUF_INIT;
	int v = 7;

	assert_int_equal(t_qbool(db, e->d->q_true), 1);
	assert_int_equal(t_qbool(db, e->d->q_false), 0);
	assert_int_equal(t_qbool(db, e->d->q_null), 0);
	assert_int_equal(t_qbool(db, e->d->q_none), -1);
	assert_int_equal(t_qbool(db, e->d->has_a), 0);
	t_exec_ok(db, e->d->create_a);
	assert_int_equal(t_qbool(db, e->d->has_a), 1);
	/* One query only. */
	fr_buf_printf(&two, "%s; %s", e->d->q_true, e->d->q_false);
	assert_int_equal(db->drv->query_bool(db, two.ptr, &v, &e->err), -1);
	assert_true(e->err.len > 0);
	fr_buf_reset(&e->err);
	/* A query that fails is an error, not false. */
	assert_int_equal(db->drv->query_bool(db, e->d->fails, &v, &e->err), -1);
	assert_true(e->err.len > 0);
	fr_buf_release(&two);
}

static fr_record *read_all(env *e, size_t *n)
{
	fr_record *out = (fr_record *)&e; /* must be reset */
	*n = 99;
	if (e->db->drv->record_read(e->db, &out, n, &e->err))
		fail_msg("record_read: %s", e->err.ptr);
	return out;
}

/* record_put/read/delete: order of application, every field back, replace, delete. */
static void test_records(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_record a = t_record("0.2.0/001_a.sql", "DROP a;"), b = t_record("0.2.0/002_b.sql", NULL);
	fr_record c = t_record("0.3.0/001_c.sql", "-- quote ' back\\slash {x,y} é");
	fr_record *out;
	size_t n;

	/* No table: no records, no error, and nothing created by reading. */
	out = read_all(e, &n);
	assert_int_equal(n, 0);
	assert_null(out);
	assert_int_equal(db->drv->record_delete(db, "nothing", &e->err), 0);
	assert_int_equal(t_qbool(db, e->d->has_records), 0);

	assert_int_equal(db->drv->record_put(db, &a, &e->err), 0);
	assert_int_equal(t_qbool(db, e->d->has_records), 1);
	assert_int_equal(db->drv->record_put(db, &b, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &c, &e->err), 0);
	db = open_db(e);
	out = read_all(e, &n);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].id, a.id);
	assert_string_equal(out[1].id, b.id);
	assert_string_equal(out[2].id, c.id);
	assert_true(out[0].seq > 0 && out[0].seq < out[1].seq && out[1].seq < out[2].seq);
	assert_string_equal(out[0].checksum, "sha256:abc");
	assert_string_equal(out[0].kind, "sql");
	assert_string_equal(out[0].from, "0.1.x");
	assert_string_equal(out[0].to, "0.2.0");
	assert_string_equal(out[0].status, "applied");
	assert_string_equal(out[0].undo, "DROP a;");
	assert_null(out[1].undo);
	assert_string_equal(out[2].undo, c.undo);
	assert_int_equal(out[0].applied_at_ms, 1700000000123LL);
	assert_int_equal(out[0].duration_ms, 17);
	assert_int_equal(out[0].run_id, 5);
	fr_records_free(out, n);

	/* The same id again replaces it; a seq given is kept, so it sorts last. */
	a.status = "skipped";
	a.seq = 100;
	assert_int_equal(db->drv->record_put(db, &a, &e->err), 0);
	out = read_all(e, &n);
	assert_int_equal(n, 3);
	assert_string_equal(out[2].id, a.id);
	assert_string_equal(out[2].status, "skipped");
	assert_int_equal(out[2].seq, 100);
	fr_records_free(out, n);
	/* With seq 0 a replaced id takes the next one: it moves to the end. */
	c.seq = 0;
	c.undo = "";
	assert_int_equal(db->drv->record_put(db, &c, &e->err), 0);
	out = read_all(e, &n);
	assert_int_equal(n, 3);
	assert_string_equal(out[2].id, c.id);
	assert_int_equal(out[2].seq, 101);
	assert_string_equal(out[2].undo, ""); /* empty is not NULL */
	fr_records_free(out, n);

	assert_int_equal(db->drv->record_delete(db, b.id, &e->err), 0);
	out = read_all(e, &n);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].id, a.id);
	assert_string_equal(out[1].id, c.id);
	fr_records_free(out, n);

	/* A record goes with its transaction. */
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &b, &e->err), 0);
	assert_int_equal(db->drv->record_delete(db, c.id, &e->err), 0);
	out = read_all(e, &n);
	assert_int_equal(n, 2); /* the transaction reads its own */
	fr_records_free(out, n);
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	out = read_all(e, &n);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].id, a.id);
	assert_string_equal(out[1].id, c.id);
	fr_records_free(out, n);
	assert_string_equal(e->err.ptr, "");
}

/*
 * Records put in a transaction are written with its commit (PostgreSQL's
 * driver sends them in COMMIT's round trip), every byte as it was given:
 * quotes of every kind, backslashes, braces and commas of an array, the
 * word NULL, newlines and tabs, UTF-8.
 */
static void test_records_with_commit(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_record h = t_record("0.4.0/001_\"odd\" {name}, \\ 'x'.sql",
	                       "SELECT 'it''s', E'a\\nb', $$x$$, \"q\";\n\t\\ {a,b} \xc3\xa9 E'\\''");
	fr_record nul = t_record("0.4.0/002_null.sql", "NULL");
	fr_record none = t_record("0.4.0/003_none.sql", NULL);
	fr_record *out;
	size_t n, i;

	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &h, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &nul, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &none, &e->err), 0);
	assert_int_equal(db->drv->commit(db, &e->err), 0);
	db = open_db(e);
	out = read_all(e, &n);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		const fr_record *want = i == 0 ? &h : i == 1 ? &nul : &none;
		assert_string_equal(out[i].id, want->id);
		assert_string_equal(out[i].checksum, want->checksum);
		assert_string_equal(out[i].status, want->status);
		if (want->undo)
			assert_string_equal(out[i].undo, want->undo);
		else
			assert_null(out[i].undo);
		assert_int_equal(out[i].applied_at_ms, want->applied_at_ms);
	}
	fr_records_free(out, n);
	assert_string_equal(e->err.ptr, "");
}

/* The record table made in a transaction that rolls back is gone; the next put makes it again. */
static void test_record_table_rollback(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_record r = t_record("1.0.0/a.sql", NULL), *out;
	size_t n;

	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->drv->record_put(db, &r, &e->err), 0);
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	assert_int_equal(t_qbool(db, e->d->has_records), 0);
	out = read_all(e, &n);
	assert_int_equal(n, 0);
	/* The driver must not trust what it cached: this put makes the table again. */
	assert_int_equal(db->drv->record_put(db, &r, &e->err), 0);
	out = read_all(e, &n);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].seq, 1);
	fr_records_free(out, n);
	assert_string_equal(e->err.ptr, "");
}

/* Each capability comes with its members, and only then; the driver passes the check. */
static void test_caps_and_members(void **state)
{
	env *e = *state;
	const fr_db_driver *d = fr_db_driver_find(e->d->driver);
	unsigned caps;
	assert_non_null(d);
	caps = d->caps;
	assert_int_equal(caps, e->d->caps); /* what the driver says it can, and no more */
	assert_int_equal(fr_db_caps(&e->conf), caps);
	assert_int_equal(fr_db_driver_check(d, &e->err), 0);
	assert_int_equal(!!(caps & FR_DB_CAP_SESSION_LOCK),
	                 d->lock && d->unlock && d->lock_holder);
	assert_int_equal(!!(caps & FR_DB_CAP_SESSION_LOCK), !!d->lock);
	assert_int_equal(!!(caps & FR_DB_CAP_SHARED_VERSION), d->version_get && d->version_set);
	assert_int_equal(!!(caps & FR_DB_CAP_SHARED_VERSION), !!d->version_get);
	assert_int_equal(!!(caps & FR_DB_CAP_LOCK_TIMEOUT), !!d->set_lock_timeout);
	assert_int_equal(!!(caps & FR_DB_CAP_SNAPSHOT), d->snapshot && d->restore && d->snapshot_ext);
	assert_int_equal(!!(caps & FR_DB_CAP_SNAPSHOT), !!d->snapshot);
	assert_int_equal(!!(caps & FR_DB_CAP_CLONE), d->clone && d->drop_clone);
	assert_int_equal(!!(caps & FR_DB_CAP_CLONE), !!d->clone);
	/* A database is files here, or a server that can clone it for a rehearsal: not both. */
	assert_false((caps & FR_DB_CAP_FILES) && (caps & FR_DB_CAP_CLONE));
	assert_int_equal(fr_db_can(&e->conf, caps), caps != 0);
	assert_int_equal(fr_db_can(&e->conf, 0), 0);
	assert_string_equal(e->err.ptr, "");
}

/* The driver claims its own url most, and reads it back the same way. */
static void test_urls(void **state)
{
	env *e = *state;
	const fr_db_driver *d = fr_db_driver_find(e->d->driver);
	fr_dbconf again;
	assert_int_equal(d->url_claims(e->conf.url), 2);
	assert_int_equal(d->url_claims("nosuch://x"), 0);
	memset(&again, 0, sizeof again);
	assert_int_equal(fr_db_url_parse(&again, e->conf.url, e->dir, &e->err), 0);
	assert_string_equal(again.driver, e->d->driver);
	again.name = fr_strdup("main");
	again.url = fr_strdup(e->conf.url);
	assert_string_equal(fr_db_where(&again), fr_db_where(&e->conf));
	fr_dbconf_clear(&again);
	assert_null(again.driver);
	/* Nobody claims an unknown scheme: the message says what would do. */
	assert_int_equal(fr_db_url_parse(&again, "nosuch://x", e->dir, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "unknown database url 'nosuch://x' (expected "));
	assert_null(again.driver);
}

/* exists/prepare/writable/script_value/describe, before the database is made and after. */
static void test_location(void **state)
{
	env *e = *state;
	const char *where = fr_db_where(&e->conf), *sv = fr_db_script_value(&e->conf);
	int before = fr_db_exists(&e->conf);

	assert_non_null(where);
	assert_non_null(sv);
	assert_true(*where && *sv);
	assert_int_equal(fr_db_prepare(&e->conf, &e->err), 0);
	assert_int_equal(fr_db_writable(&e->conf, &e->err), 0);
	open_db(e);
	t_exec_ok(e->db, e->d->create_a);
	/* A server always may hold a record; a file or a mock once it is made. */
	assert_int_equal(fr_db_exists(&e->conf), 1);
	if (fr_db_can(&e->conf, FR_DB_CAP_FILES)) {
		assert_int_equal(before, 0);
		assert_int_equal(access(sv, F_OK), 0); /* the file a script is given */
	}
	assert_int_equal(fr_db_writable(&e->conf, &e->err), 0);
	assert_string_equal(e->err.ptr, "");
}

/* snapshot/restore: the pre-flight takes nothing; a copy puts objects and record back. */
static void test_snapshot(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_record a = t_record("0.2.0/001_a.sql", "DROP a;"), b = t_record("0.3.0/001_b.sql", NULL);
	fr_record *out;
	fr_buf name = FR_BUF_INIT;
	char *file, *junk;
	size_t n;
	if (!fr_db_can(&e->conf, FR_DB_CAP_SNAPSHOT)) {
		assert_null(db->drv->snapshot);
		return;
	}
	fr_buf_printf(&name, "copy%s", db->drv->snapshot_ext);
	file = t_path(e->dir, name.ptr);
	junk = t_path(e->dir, "junk");
	assert_int_equal(db->drv->snapshot(db, NULL, &e->err), 0);
	assert_int_not_equal(access(file, F_OK), 0); /* the pre-flight wrote nothing */
	t_exec_ok(db, e->d->create_a);
	assert_int_equal(db->drv->record_put(db, &a, &e->err), 0);
	assert_int_equal(db->drv->snapshot(db, file, &e->err), 0);
	assert_int_equal(access(file, R_OK), 0);

	/* Changed after the copy, then put back: objects and record as they were. */
	t_exec_ok(db, e->d->create_b);
	assert_int_equal(db->drv->record_put(db, &b, &e->err), 0);
	assert_int_equal(db->drv->record_delete(db, a.id, &e->err), 0);
	assert_int_equal(db->drv->restore(db, file, &e->err), 0);
	db = open_db(e);
	assert_int_equal(t_qbool(db, e->d->has_a), 1);
	assert_int_equal(t_qbool(db, e->d->has_b), 0);
	out = read_all(e, &n);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].id, a.id);
	assert_string_equal(out[0].undo, "DROP a;");
	fr_records_free(out, n);

	/* What is not a copy is refused, and the database stays as it was. */
	t_write(e->dir, "junk", "not a copy\n");
	assert_int_equal(db->drv->restore(db, junk, &e->err), -1);
	assert_true(e->err.len > 0);
	fr_buf_reset(&e->err);
	db = open_db(e);
	assert_int_equal(t_qbool(db, e->d->has_a), 1);
	assert_string_equal(e->err.ptr, "");
	fr_buf_release(&name);
	free(file);
	free(junk);
}

/* clone/drop_clone (FR_DB_CAP_CLONE drivers): a copy under another name, then gone. */
static void test_clone(void **state)
{
	env *e = *state;
	const char *name = "ferry_conformance_clone";
	fr_dbconf cc;
	fr_db *cdb = NULL;
	char *url = NULL;
	assert_true(fr_db_can(&e->conf, FR_DB_CAP_CLONE));
	t_exec_ok(open_db(e), e->d->create_a);
	fr_db_close(e->db);
	e->db = NULL;
	assert_int_equal(fr_db_clone(&e->conf, name, &url, &e->err), 0);
	assert_non_null(url);
	memset(&cc, 0, sizeof cc);
	assert_int_equal(fr_db_url_parse(&cc, url, e->dir, &e->err), 0);
	assert_string_equal(cc.driver, e->d->driver);
	cc.name = fr_strdup("clone");
	cc.url = url;
	assert_int_equal(fr_db_open(&cdb, &cc, &e->err), 0);
	assert_int_equal(t_qbool(cdb, e->d->has_a), 1);
	t_exec_ok(cdb, e->d->create_b);
	fr_db_close(cdb);
	cdb = NULL;
	/* The original did not see the clone's change. */
	assert_int_equal(t_qbool(open_db(e), e->d->has_b), 0);
	fr_db_close(e->db);
	e->db = NULL;
	assert_int_equal(fr_db_drop_clone(&e->conf, name, &e->err), 0);
	/* Gone: it cannot be opened, or opening makes a new, empty one (dropped again). */
	if (fr_db_open(&cdb, &cc, &e->err) == 0) {
		assert_int_equal(t_qbool(cdb, e->d->has_a), 0);
		fr_db_close(cdb);
		assert_int_equal(fr_db_drop_clone(&e->conf, name, &e->err), 0);
	}
	fr_dbconf_clear(&cc);
}

/* ---- driver-specific corners of the same members ---- */

static void test_sqlite_location(void **state)
{
	env *e = *state;
	fr_dbconf c;
	char *dir = t_path(e->dir, "deep/er"), *file = t_path(e->dir, "deep/er/x.sqlite3");

	memset(&c, 0, sizeof c);
	assert_int_equal(fr_db_url_parse(&c, "deep/er/x.sqlite3", e->dir, &e->err), 0);
	c.name = fr_strdup("x");
	assert_string_equal(fr_db_script_value(&c), file);
	assert_string_equal(fr_db_where(&c), file);
	assert_int_equal(fr_db_exists(&c), 0);
	assert_int_equal(fr_db_writable(&c, &e->err), 0); /* its nearest folder is */
	assert_int_equal(fr_db_prepare(&c, &e->err), 0);
	assert_int_equal(access(dir, W_OK), 0);
	if (geteuid() != 0) {
		/* Not writable: the run's pre-flight message, naming the database. */
		assert_int_equal(chmod(dir, 0555), 0);
		assert_int_equal(fr_db_writable(&c, &e->err), FERRY_EINVALID);
		chmod(dir, 0755);
		assert_non_null(strstr(e->err.ptr, "the database 'x' '"));
		assert_non_null(strstr(e->err.ptr, "' is not writable by this user: "));
	}
	fr_dbconf_clear(&c);
	free(dir);
	free(file);
}

#ifdef FR_HAVE_PQ
static void test_postgres_location(void **state)
{
	env *e = *state;
	fr_dbconf c;
	memset(&c, 0, sizeof c);
	assert_int_equal(fr_db_url_parse(&c, "postgres://app:s3cr%t@db.example/app", NULL,
	                                 &e->err), 0);
	c.name = fr_strdup("pg");
	c.url = fr_strdup("postgres://app:s3cr%t@db.example/app");
	assert_string_equal(fr_db_where(&c), "postgres://app:***@db.example/app");
	assert_string_equal(fr_db_script_value(&c), c.url);
	assert_int_equal(fr_db_exists(&c), 1);
	fr_dbconf_clear(&c);
	assert_int_equal(fr_db_url_parse(&c, "host=h dbname=d password='p w'", NULL, &e->err), 0);
	assert_null(strstr(fr_db_where(&c), "p w"));
	fr_dbconf_clear(&c);
	assert_string_equal(e->err.ptr, "");
}

#endif

static void test_mock_location(void **state)
{
	env *e = *state;
	fr_dbconf c;
	memset(&c, 0, sizeof c);
	assert_int_equal(fr_db_url_parse(&c, "mock:ro?readonly", NULL, &e->err), 0);
	c.name = fr_strdup("ro");
	assert_int_equal(fr_db_writable(&c, &e->err), FERRY_EINVALID);
	assert_non_null(strstr(e->err.ptr, "the database 'ro' 'mock:ro?readonly' is not writable"));
	fr_dbconf_clear(&c);
	fr_buf_reset(&e->err);
	assert_int_equal(fr_db_url_parse(&c, "mock:", NULL, &e->err), -1);
	assert_string_equal(e->err.ptr, "database url 'mock:' has no name (expected mock:NAME)");
}

/* ---- the table refuses an incomplete driver ---- */

static void refused(fr_db_driver *d, const char *want)
{
	fr_dbconf c;
	fr_buf err = FR_BUF_INIT;
	fr_db *db = (fr_db *)&c;
	memset(&c, 0, sizeof c);
	fr_db_test_register(d);
	assert_int_equal(fr_db_url_parse(&c, "mock:x", NULL, &err), 0);
	c.name = fr_strdup("x");
	assert_int_equal(fr_db_open(&db, &c, &err), -1);
	assert_null(db);
	assert_string_equal(err.ptr, want);
	fr_dbconf_clear(&c);
	fr_buf_release(&err);
	fr_db_test_register(&mock_db_driver);
}

static void test_incomplete_driver_refused(void **state)
{
	fr_db_driver d = mock_db_driver;
	(void)state;
	d.record_put = NULL;
	refused(&d, "database driver 'mock' is incomplete: it lacks record_put()");
	d = mock_db_driver;
	d.caps = FR_DB_CAP_SESSION_LOCK;
	refused(&d, "database driver 'mock' claims the session lock but lacks a member of it");
	d = mock_db_driver;
	d.caps &= ~FR_DB_CAP_SNAPSHOT;
	refused(&d, "database driver 'mock' has members of snapshots but does not claim it");
	d = mock_db_driver;
	d.snapshot_ext = NULL;
	refused(&d, "database driver 'mock' claims snapshots but lacks a member of it");
	d = mock_db_driver;
	d.drop_clone = NULL;
	refused(&d, "database driver 'mock' claims clones but lacks a member of it");
}

/* ---- the engine through the mock, by the public API ---- */

#define STEP_A "-- ferry:up\nCREATE a;\n-- ferry:down\nDROP a;\n-- ferry:verify\nEXISTS a\n"
#define STEP_B "-- ferry:up\nCREATE b;\nFAIL;\n-- ferry:down\nDROP b;\n"

static void install(const char *root, const char *url)
{
	char yaml[256];
	snprintf(yaml, sizeof yaml,
	         "app: demo\nversion_file: version.json\ndatabases:\n  main: %s\n", url);
	t_write(root, "ferry.yaml", yaml);
	t_write(root, "migrations/versions.yaml",
	        "versions:\n  - version: 0.1.0\n");
	t_write(root, "migrations/v0.0.0_to_v0.1.0/001_a.sql", STEP_A);
	t_write(root, "migrations/v0.0.0_to_v0.1.0/transition.yaml", "backup_required: false\n");
}

/*
 * Closes *f and opens root again, as a new process would; its version must
 * be want and verify find nothing (once there is a version file).
 */
static void reopen_at(ferry **f, const char *root, const char *want)
{
	char *v = NULL, *doc = NULL;
	ferry_close(*f);
	*f = NULL;
	assert_int_equal(ferry_open(f, root, NULL), 0);
	assert_int_equal(ferry_current_version(&v, *f), 0);
	assert_string_equal(v, want);
	ferry_free(v);
	/* The database's record is what verify holds the registry to. */
	if (t_sh("test -f '%s/version.json'", root) == 0)
		assert_int_equal(ferry_verify(&doc, *f), 0);
	ferry_free(doc);
}

static void test_engine_through_mock(void **state)
{
	char *root = t_tmpdir();
	ferry *f = NULL;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	(void)state;
	o.skip_backup = 1;
	install(root, "mock:engine");

	reopen_at(&f, root, "0.0.0");
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	assert_int_equal(mock_db_has("engine", "a"), 1);
	assert_int_equal(mock_db_has("engine", "ferry_steps"), 1);
	reopen_at(&f, root, "0.1.0");

	/* A failing step: the run undoes itself, b and its record never stay. */
	t_write(root, "migrations/versions.yaml",
	        "versions:\n  - version: 0.1.0\n  - version: 0.2.0\n");
	t_write(root, "migrations/v0.1.0_to_v0.2.0/001_b.sql", STEP_B);
	t_write(root, "migrations/v0.1.0_to_v0.2.0/transition.yaml", "backup_required: false\n");
	reopen_at(&f, root, "0.1.0");
	assert_int_equal(ferry_up(f, NULL, &o), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(f), "FAIL: the statement says so"));
	assert_int_equal(mock_db_has("engine", "b"), 0);
	reopen_at(&f, root, "0.1.0");

	assert_int_equal(ferry_down(f, "0.0.0", &o), 0);
	assert_int_equal(mock_db_has("engine", "a"), 0);
	reopen_at(&f, root, "0.0.0");

	ferry_close(f);
	t_rmrf(root);
	free(root);
}

/* ---- backups and rehearsals through the mock, by the public API ---- */

#define STEP_C "-- ferry:up\nCREATE c;\n-- ferry:down\nDROP c;\n"

/* A transition 0.1.0 -> 0.2.0 whose one step makes object c. */
static void add_step_c(const char *root)
{
	t_write(root, "migrations/versions.yaml",
	        "versions:\n  - version: 0.1.0\n  - version: 0.2.0\n");
	t_write(root, "migrations/v0.1.0_to_v0.2.0/001_c.sql", STEP_C);
	t_write(root, "migrations/v0.1.0_to_v0.2.0/transition.yaml", "backup_required: false\n");
}

/* 1 when text has line as one of its lines. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;
	for (p = text; (p = strstr(p, line)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return 1;
	return 0;
}

/* The text of entry in archive (tar --zstd), through the tar tool; the caller frees it. */
static char *archive_entry(const char *archive, const char *entry, const char *out)
{
	assert_int_equal(t_sh("tar --zstd -xOf '%s' '%s' > '%s/entry'", archive, entry, out), 0);
	return t_read(out, "entry");
}

/*
 * A backup of an installation whose only database is the mock: the
 * archive holds the mock's snapshot under databases/ and a manifest
 * naming it; verify passes; a restore (and a rollback) after a step puts
 * the mock's objects and records, and the version, back as they were.
 */
static void test_backup_through_mock(void **state)
{
	char *root = t_tmpdir(), *out = t_tmpdir(), *id = NULL, *doc = NULL, *text;
	ferry *f = NULL;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	ferry_restore_options ro = FERRY_RESTORE_OPTIONS_INIT;
	fr_buf at_backup = FR_BUF_INIT, now = FR_BUF_INIT, archive = FR_BUF_INIT;
	json_t *man, *db;
	(void)state;
	o.skip_backup = 1;
	install(root, "mock:bk");
	reopen_at(&f, root, "0.0.0");
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	assert_int_equal(mock_db_has("bk", "a"), 1);
	assert_int_equal(mock_db_dump("bk", &at_backup), 0);
	assert_non_null(strstr(at_backup.ptr, "record\t=0.1.0/001_a.sql\t"));

	assert_int_equal(ferry_backup_create(&id, f, NULL), 0);
	fr_buf_printf(&archive, "%s/.ferry/backups/%s.tar.zst", root, id);
	assert_int_equal(t_sh("tar --zstd -tf '%s' > '%s/list'", archive.ptr, out), 0);
	text = t_read(out, "list");
	assert_true(has_line(text, "databases/main.mock"));
	assert_true(has_line(text, "MANIFEST.json"));
	free(text);
	/* The entry is the mock's own snapshot; the manifest names its driver and entry. */
	text = archive_entry(archive.ptr, "databases/main.mock", out);
	assert_string_equal(text, at_backup.ptr);
	free(text);
	text = archive_entry(archive.ptr, "MANIFEST.json", out);
	man = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(man);
	assert_string_equal(json_string_value(json_object_get(man, "version")), "0.1.0");
	db = json_array_get(json_object_get(man, "databases"), 0);
	assert_string_equal(json_string_value(json_object_get(db, "name")), "main");
	assert_string_equal(json_string_value(json_object_get(db, "driver")), "mock");
	assert_string_equal(json_string_value(json_object_get(db, "entry")), "databases/main.mock");
	assert_true(json_is_null(json_object_get(db, "path"))); /* no file here */
	assert_int_equal(json_array_size(json_object_get(man, "databases")), 1);
	json_decref(man);
	assert_int_equal(ferry_backup_verify(&doc, f, id), 0);
	ferry_free(doc);

	/* A step further, then the backup restored: the mock as it was, at its version. */
	add_step_c(root);
	reopen_at(&f, root, "0.1.0");
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	assert_int_equal(mock_db_has("bk", "c"), 1);
	reopen_at(&f, root, "0.2.0");
	assert_int_equal(ferry_backup_restore(f, id, NULL), 0); /* a safety backup first */
	assert_int_equal(mock_db_has("bk", "c"), 0);
	assert_int_equal(mock_db_has("bk", "a"), 1);
	assert_int_equal(mock_db_dump("bk", &now), 0);
	assert_string_equal(now.ptr, at_backup.ptr); /* the objects and the records */
	reopen_at(&f, root, "0.1.0");

	/* The files came back too: the new transition is gone with them. */
	assert_int_not_equal(t_sh("test -e '%s/migrations/v0.1.0_to_v0.2.0'", root), 0);

	/* The same again by rollback: the newest backup that is not a safety one is this one. */
	add_step_c(root);
	reopen_at(&f, root, "0.1.0");
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	assert_int_equal(mock_db_has("bk", "c"), 1);
	reopen_at(&f, root, "0.2.0");
	ro.no_safety_backup = 1;
	assert_int_equal(ferry_rollback(f, NULL, &ro), 0);
	fr_buf_reset(&now);
	assert_int_equal(mock_db_dump("bk", &now), 0);
	assert_string_equal(now.ptr, at_backup.ptr);
	reopen_at(&f, root, "0.1.0");

	ferry_free(id);
	ferry_close(f);
	fr_buf_release(&at_backup);
	fr_buf_release(&now);
	fr_buf_release(&archive);
	t_rmrf(root);
	t_rmrf(out);
	free(root);
	free(out);
}

/*
 * A backup before the mock is made (nothing ran yet) takes no copy of it
 * and does not make it: the driver's exists() says there is nothing.
 */
static void test_backup_of_unmade_mock(void **state)
{
	char *root = t_tmpdir(), *out = t_tmpdir(), *id = NULL, *text;
	ferry *f = NULL;
	fr_buf archive = FR_BUF_INIT;
	json_t *man, *db;
	(void)state;
	install(root, "mock:unmade");
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	assert_int_equal(ferry_backup_create(&id, f, NULL), 0);
	assert_int_equal(mock_db_exists("unmade"), 0);
	fr_buf_printf(&archive, "%s/.ferry/backups/%s.tar.zst", root, id);
	assert_int_equal(t_sh("tar --zstd -tf '%s' > '%s/list'", archive.ptr, out), 0);
	text = t_read(out, "list");
	assert_false(has_line(text, "databases/unmade.mock"));
	assert_false(has_line(text, "databases/main.mock"));
	free(text);
	text = archive_entry(archive.ptr, "MANIFEST.json", out);
	man = json_loads(text, 0, NULL);
	free(text);
	db = json_array_get(json_object_get(man, "databases"), 0);
	assert_string_equal(json_string_value(json_object_get(db, "driver")), "mock");
	assert_true(json_is_null(json_object_get(db, "entry")));
	json_decref(man);
	ferry_free(id);
	ferry_close(f);
	fr_buf_release(&archive);
	t_rmrf(root);
	t_rmrf(out);
	free(root);
	free(out);
}

/* What a rehearsal's log shows of its clone of database 'main'. */
typedef struct {
	char clone[64]; /* the scratch database it named */
	int held_c;     /* the clone existed and held c while the run went on */
} rehearsal_watch;

static void watch_log(void *ctx, ferry_log_level level, const char *step_id, const char *msg)
{
	rehearsal_watch *w = ctx;
	const char *into = strstr(msg, "' into '");
	(void)level;
	(void)step_id;
	if (!w->clone[0] && into && strstr(msg, "cloning database 'main'"))
		snprintf(w->clone, sizeof w->clone, "%.*s", (int)strcspn(into + 8, "'"), into + 8);
	if (w->clone[0] && mock_db_has(w->clone, "c") == 1)
		w->held_c = 1;
}

/*
 * up --rehearse on the mock alone: the plan runs on a clone of the store,
 * the report says the step applied, the clone is dropped after, and the
 * original store is unchanged (then the real run does what was rehearsed);
 * a rehearsal that fails drops its clone too.
 */
static void test_rehearse_through_mock(void **state)
{
	char *root = t_tmpdir(), *doc = NULL;
	ferry *f = NULL;
	ferry_open_options oo = FERRY_OPEN_OPTIONS_INIT;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	fr_buf before = FR_BUF_INIT, after = FR_BUF_INIT;
	rehearsal_watch w;
	json_t *run, *steps, *step;
	(void)state;
	memset(&w, 0, sizeof w);
	o.skip_backup = 1;
	install(root, "mock:rh");
	reopen_at(&f, root, "0.0.0");
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	add_step_c(root);
	assert_int_equal(mock_db_dump("rh", &before), 0);
	ferry_close(f);
	oo.log = watch_log;
	oo.log_ctx = &w;
	assert_int_equal(ferry_open(&f, root, &oo), 0);

	o.rehearse = 1;
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	assert_int_equal(ferry_last_run(&doc, f), 0);
	run = json_loads(doc, 0, NULL);
	ferry_free(doc);
	assert_non_null(run);
	assert_true(json_is_true(json_object_get(run, "rehearsal")));
	assert_string_equal(json_string_value(json_object_get(run, "status")), "success");
	assert_string_equal(json_string_value(json_object_get(run, "to")), "0.2.0");
	steps = json_object_get(run, "steps");
	assert_int_equal(json_array_size(steps), 1);
	step = json_array_get(steps, 0);
	assert_string_equal(json_string_value(json_object_get(step, "id")), "0.2.0/001_c.sql");
	assert_string_equal(json_string_value(json_object_get(step, "status")), "applied");
	json_decref(run);

	/* A clone was made, the step ran on it, and it was dropped. */
	assert_int_equal(strncmp(w.clone, "ferry_rehearsal_", 16), 0);
	assert_int_equal(w.held_c, 1);
	assert_int_equal(mock_db_exists(w.clone), 0);
	/* The original store is as it was, and so is the version. */
	assert_int_equal(mock_db_has("rh", "c"), 0);
	assert_int_equal(mock_db_dump("rh", &after), 0);
	assert_string_equal(after.ptr, before.ptr);
	reopen_at(&f, root, "0.1.0");

	o.rehearse = 0;
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	assert_int_equal(mock_db_has("rh", "c"), 1);
	reopen_at(&f, root, "0.2.0");

	/* A rehearsal that fails: reported, its clone dropped all the same, the original kept. */
	t_write(root, "migrations/versions.yaml", "versions:\n  - version: 0.1.0\n"
	        "  - version: 0.2.0\n  - version: 0.3.0\n");
	t_write(root, "migrations/v0.2.0_to_v0.3.0/001_b.sql", STEP_B);
	t_write(root, "migrations/v0.2.0_to_v0.3.0/transition.yaml", "backup_required: false\n");
	ferry_close(f);
	assert_int_equal(ferry_open(&f, root, &oo), 0);
	memset(&w, 0, sizeof w);
	fr_buf_reset(&before);
	assert_int_equal(mock_db_dump("rh", &before), 0);
	o.rehearse = 1;
	assert_int_equal(ferry_up(f, NULL, &o), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(f), "the rehearsal failed"));
	assert_non_null(strstr(ferry_errmsg(f), "FAIL: the statement says so"));
	assert_int_equal(strncmp(w.clone, "ferry_rehearsal_", 16), 0);
	assert_int_equal(mock_db_exists(w.clone), 0);
	fr_buf_reset(&after);
	assert_int_equal(mock_db_dump("rh", &after), 0);
	assert_string_equal(after.ptr, before.ptr);
	reopen_at(&f, root, "0.2.0");

	ferry_close(f);
	fr_buf_release(&before);
	fr_buf_release(&after);
	t_rmrf(root);
	free(root);
}

/* What test_query's row callback saw. */
typedef struct {
	int rows, stop_at;
	fr_val v[5];
	char text[32], blob[8], name[8];
} seen_rows;

static int see_row(void *arg, const fr_val *cols, size_t n)
{
	seen_rows *s = arg;
	assert_int_equal(n, 5);
	memcpy(s->v, cols, sizeof s->v);
	if (cols[2].type == FR_VAL_TEXT)
		snprintf(s->text, sizeof s->text, "%s", cols[2].p);
	if (cols[3].type == FR_VAL_BLOB && cols[3].len <= sizeof s->blob)
		memcpy(s->blob, cols[3].p, cols[3].len);
	snprintf(s->name, sizeof s->name, "%s", cols[1].name);
	return ++s->rows == s->stop_at ? 7 : 0;
}

/*
 * query(): $N parameters of every type in, every type back as it went in
 * (64-bit integers exact, bytes with a NUL in them), column names, a row
 * callback that stops, a parameter count that does not match, inside a
 * transaction that is rolled back. A driver without it is refused by
 * fr_db_query with a message.
 */
static void test_query(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	const char *ins = "INSERT INTO q VALUES ($1, $2, $3, $4, $5)";
	const char *sel = "SELECT i, r, s, b, n FROM q WHERE i >= $1 ORDER BY i";
	fr_val p[5] = { { .type = FR_VAL_INT, .i = 9007199254740993LL },
	                { .type = FR_VAL_REAL, .r = 1.5 },
	                { .type = FR_VAL_TEXT, .p = "h\xc3\xa9llo", .len = 6 },
	                { .type = FR_VAL_BLOB, .p = "a\0b", .len = 3 },
	                { .type = FR_VAL_NULL } };
	fr_val from = { .type = FR_VAL_INT, .i = 0 };
	seen_rows s = { 0 };

	if (!e->d->q_table) {
		assert_int_equal(fr_db_query(db, "SELECT 1", NULL, 0, see_row, &s, &e->err), -1);
		assert_non_null(strstr(e->err.ptr, "runs no queries"));
		return;
	}
	t_exec_ok(db, e->d->q_table);
	assert_int_equal(fr_db_query(db, ins, p, 5, see_row, &s, &e->err), 0);
	assert_int_equal(s.rows, 0);
	p[0].i = -5;
	assert_int_equal(fr_db_query(db, ins, p, 5, see_row, &s, &e->err), 0);
	assert_int_equal(fr_db_query(db, sel, &from, 1, see_row, &s, &e->err), 0);
	assert_int_equal(s.rows, 1);
	assert_int_equal(s.v[0].type, FR_VAL_INT);
	assert_true(s.v[0].i == 9007199254740993LL);
	assert_int_equal(s.v[1].type, FR_VAL_REAL);
	assert_true(s.v[1].r == 1.5);
	assert_string_equal(s.name, "r");
	assert_int_equal(s.v[2].type, FR_VAL_TEXT);
	assert_string_equal(s.text, "h\xc3\xa9llo");
	assert_int_equal(s.v[3].type, FR_VAL_BLOB);
	assert_int_equal(s.v[3].len, 3);
	assert_memory_equal(s.blob, "a\0b", 3);
	assert_int_equal(s.v[4].type, FR_VAL_NULL);
	/* Both rows; the callback's non-zero return stops the query with it. */
	from.i = -100;
	s.rows = 0;
	s.stop_at = 1;
	assert_int_equal(fr_db_query(db, sel, &from, 1, see_row, &s, &e->err), 7);
	assert_int_equal(s.rows, 1);
	assert_true(s.v[0].i == -5);
	/* A parameter count that does not match is an error, not a guess. */
	assert_int_equal(fr_db_query(db, sel, NULL, 0, see_row, &s, &e->err), -1);
	assert_true(e->err.len > 0);
	fr_buf_reset(&e->err);
	/* Inside a transaction; a rollback takes the row back. */
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	p[0].i = 1;
	assert_int_equal(fr_db_query(db, ins, p, 5, see_row, &s, &e->err), 0);
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	s.rows = 0;
	s.stop_at = 0;
	assert_int_equal(fr_db_query(db, sel, &from, 1, see_row, &s, &e->err), 0);
	assert_int_equal(s.rows, 2);
	/* One statement only. */
	assert_int_equal(fr_db_query(db, "SELECT 1; SELECT 2", NULL, 0, see_row, &s, &e->err),
	                 -1);
}

/* What test_export_members's scan saw: the ids and names of xp, in order. */
typedef struct {
	int rows;
	long long ids[4];
	char names[4][8];
} seen_xp;

static int see_xp(void *arg, const fr_val *cols, size_t n)
{
	seen_xp *s = arg;
	assert_int_equal(n, 2);
	assert_int_equal(cols[0].type, FR_VAL_INT);
	assert_int_equal(cols[1].type, FR_VAL_TEXT);
	if (s->rows < 4) {
		s->ids[s->rows] = (long long)cols[0].i;
		snprintf(s->names[s->rows], sizeof s->names[0], "%s", cols[1].p);
	}
	s->rows++;
	return 0;
}

static int see_nothing(void *arg, const fr_val *cols, size_t n)
{
	(void)arg;
	(void)cols;
	(void)n;
	return 0;
}

/*
 * The members of export and import (lib/data/): tables() lists the
 * application's tables by name (ferry's own left out) with each column's
 * declared type, NOT NULL and primary key and the tables its foreign keys
 * reference; an import's transaction takes explicit ids, after_import()
 * moves what gives the next id past them; scan() reads in primary-key
 * order in read_begin()'s transaction; convert() keeps a timestamp with a
 * zone as the database keeps one. A driver without tables() is refused.
 */
static void test_export_members(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_db_table *t = NULL;
	fr_db_column col = { (char *)"at", (char *)"", 0, 0 };
	const fr_db_column *cols[2];
	fr_buf sql = FR_BUF_INIT, scratch = FR_BUF_INIT;
	fr_record r = t_record("0.2.0/001_a.sql", NULL);
	fr_val v[2] = { { .type = FR_VAL_INT, .i = 5 }, { .type = FR_VAL_TEXT, .p = "a", .len = 1 } };
	seen_xp s = { 0 };
	const fr_db_table *xc = NULL, *xp = NULL;
	size_t n = 7, i;

	if (!e->d->x_schema) {
		assert_int_equal(fr_db_tables(db, &t, &n, &e->err), -1);
		assert_null(t);
		assert_int_equal(n, 0);
		assert_non_null(strstr(e->err.ptr, "cannot list its tables"));
		return;
	}
	t_exec_ok(db, e->d->x_schema);
	assert_int_equal(db->drv->record_put(db, &r, &e->err), 0);
	assert_int_equal(fr_db_tables(db, &t, &n, &e->err), 0);
	/* By name (the shared test server may hold other tables); none of ferry's. */
	for (i = 0; i < n; i++) {
		assert_null(strstr(t[i].name, "ferry"));
		if (!strcmp(t[i].name, "xc"))
			xc = &t[i];
		if (!strcmp(t[i].name, "xp"))
			xp = &t[i];
		assert_true(i == 0 || strcmp(t[i - 1].name, t[i].name) < 0);
	}
	assert_non_null(xc);
	assert_non_null(xp);
	assert_string_equal(xp->sql, "\"xp\"");
	assert_int_equal(xc->nrefs, 1);
	assert_string_equal(xc->refs[0], "xp");
	assert_int_equal(xp->nrefs, 0);
	assert_int_equal(xc->ncols, 3);
	assert_string_equal(xc->cols[2].name, "at");
	assert_true(strlen(xc->cols[2].type) > 0);
	assert_int_equal(xp->cols[0].pk, 1);
	assert_int_equal(xp->cols[1].pk, 0);
	assert_int_equal(xp->cols[1].notnull, 1);

	/* An import's transaction: explicit ids, then the next id past them. */
	cols[0] = &xp->cols[0];
	cols[1] = &xp->cols[1];
	fr_db_insert_sql(db, xp, cols, 2, 1, &sql);
	assert_int_equal(fr_db_write_begin(db, &e->err), 0);
	assert_true(db->in_tx);
	assert_int_equal(fr_db_query(db, sql.ptr, v, 2, see_nothing, NULL, &e->err), 0);
	assert_int_equal(fr_db_after_import(db, xp, &e->err), 0);
	assert_int_equal(db->drv->commit(db, &e->err), 0);
	t_exec_ok(db, "INSERT INTO xp (name) VALUES ('b')");

	assert_int_equal(fr_db_read_begin(db, &e->err), 0);
	assert_int_equal(fr_db_scan(db, xp, see_xp, &s, &e->err), 0);
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	assert_int_equal(s.rows, 2);
	assert_true(s.ids[0] == 5 && s.ids[1] == 6);
	assert_string_equal(s.names[0], "a");
	assert_string_equal(s.names[1], "b");

	/* A timestamp with a zone, as this database keeps one. */
	v[1].p = "2024-01-02 03:04:05.5+02";
	v[1].len = strlen(v[1].p);
	assert_int_equal(fr_db_convert(db, &col, "timestamp with time zone", &v[1], &scratch,
	                               &e->err), 0);
	assert_int_equal(v[1].len, strlen(e->d->x_tz));
	assert_memory_equal(v[1].p, e->d->x_tz, v[1].len);
	fr_db_tables_free(t, n);
	fr_buf_release(&sql);
	fr_buf_release(&scratch);
}

#define CASE(drv, fn) { #drv ": " #fn, fn, setup_##drv, teardown, NULL }
#define DRIVER_CASES(drv)                                                   \
	CASE(drv, test_transactions), CASE(drv, test_exec_errors),          \
	CASE(drv, test_query_bool), CASE(drv, test_query), CASE(drv, test_records),  \
	CASE(drv, test_export_members),                \
	CASE(drv, test_records_with_commit),                                 \
	CASE(drv, test_record_table_rollback),                              \
	CASE(drv, test_caps_and_members), CASE(drv, test_urls),             \
	CASE(drv, test_location), CASE(drv, test_snapshot), CASE(drv, test_parse)

int main(void)
{
	const struct CMUnitTest tests[] = {
		DRIVER_CASES(sqlite),
		CASE(sqlite, test_sqlite_location),
#ifdef FR_HAVE_PQ
		DRIVER_CASES(postgres),
		CASE(postgres, test_postgres_location),
		{ "postgres: test_clone", test_clone, setup_postgres_clone,
		  teardown_postgres_clone, NULL },
#endif
		DRIVER_CASES(mock),
		CASE(mock, test_mock_location),
		CASE(mock, test_clone),
		cmocka_unit_test(test_incomplete_driver_refused),
		cmocka_unit_test(test_engine_through_mock),
		cmocka_unit_test(test_backup_through_mock),
		cmocka_unit_test(test_backup_of_unmade_mock),
		cmocka_unit_test(test_rehearse_through_mock),
	};
	int failed;
	fr_db_test_register(&mock_db_driver);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	mock_db_reset();
	return failed;
}
