/*
 * test_sql.c - the SQL step kind (lib/step/sql.c): the marker families,
 * load errors with file lines, and check/forward/verify/undo on a real
 * SQLite database through a hand-made run context.
 */
#include "helpers.h"

#include "db/db.h"
#include "step/step.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

#define REL "migrations/v0.1.0_to_v0.2.0/002_privacy.sql"

typedef struct {
	fr_run_ctx ctx;
	fr_buf err;      /* ctx->err */
	char *dir;
	char *path;
	fr_dbconf conf;
	fr_db *db;       /* "main", the default */
	fr_step step;
	fr_buf lerr;     /* load errors */
	int db_calls;
} env;

/* The engine's part: the default database and "main" are the one we opened. */
static fr_db *test_db(fr_run_ctx *ctx, const char *name)
{
	env *e = ctx->engine;
	e->db_calls++;
	if (!name || strcmp(name, "main") == 0)
		return e->db;
	fr_buf_printf(ctx->err, "database '%s' is not in ferry.yaml", name);
	return NULL;
}

static int setup(void **state)
{
	env *e = calloc(1, sizeof *e);
	fr_buf err = FR_BUF_INIT;
	assert_non_null(e);
	e->dir = t_tmpdir();
	e->path = t_path(e->dir, "app.db");
	e->conf.name = "main";
	e->conf.url = "sqlite:app.db";
	e->conf.driver = "sqlite";
	e->conf.path = e->path;
	assert_int_equal(fr_db_open(&e->db, &e->conf, &err), 0);
	fr_buf_release(&err);
	fr_buf_init(&e->err);
	fr_buf_init(&e->lerr);
	e->ctx.root = e->dir;
	e->ctx.db = test_db;
	e->ctx.err = &e->err;
	e->ctx.engine = e;
	e->step.id = "0.2.0/002_privacy.sql";
	e->step.name = "002_privacy.sql";
	e->step.rel = REL;
	e->step.kind = &fr_step_sql;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	fr_step_sql.unload(&e->step);
	assert_null(e->step.priv);
	fr_db_close(e->db);
	fr_buf_release(&e->err);
	fr_buf_release(&e->lerr);
	t_rmrf(e->dir);
	free(e->dir);
	free(e->path);
	free(e);
	return 0;
}

static int load(env *e, const char *text)
{
	fr_buf_reset(&e->lerr);
	return fr_step_sql.load(&e->step, text, strlen(text), &e->lerr);
}

static void load_ok(env *e, const char *text)
{
	if (load(e, text) != 0)
		fail_msg("load failed: %s", e->lerr.ptr);
	assert_non_null(e->step.priv);
}

static void load_fails(env *e, const char *text, const char *want)
{
	assert_int_equal(load(e, text), -1);
	assert_null(e->step.priv);
	assert_string_equal(e->lerr.ptr, want);
}

static char *undo_text(env *e)
{
	fr_buf b = FR_BUF_INIT;
	assert_int_equal(fr_step_sql.undo_text(&e->step, &b), 0);
	return fr_buf_detach(&b);
}

static void exec_ok(env *e, const char *sql)
{
	fr_buf err = FR_BUF_INIT;
	if (e->db->drv->exec(e->db, sql, NULL, &err))
		fail_msg("exec: %s", err.ptr);
	fr_buf_release(&err);
}

static int qbool(env *e, const char *sql)
{
	fr_buf err = FR_BUF_INIT;
	int v = -2;
	if (e->db->drv->query_bool(e->db, sql, &v, &err))
		fail_msg("query: %s", err.ptr);
	fr_buf_release(&err);
	return v;
}

static void test_ferry_markers(void **state)
{
	env *e = *state;
	char *down;
	fr_buf d = FR_BUF_INIT;

	load_ok(e, "-- Add privacy settings.\n"
	           "/* a block\n   comment */\n"
	           "\n"
	           "  -- ferry:database reports  \n"
	           "-- ferry:no-transaction\n"
	           "-- ferry:up\n"
	           "CREATE TABLE privacy (level TEXT);\n"
	           "\t-- ferry:down\t\r\n"
	           "DROP TABLE privacy;\n"
	           "--ferry:check\n"
	           "SELECT count(*) = 0 FROM sqlite_master WHERE name = 'privacy';\n"
	           "-- ferry:verify\n"
	           "SELECT level FROM privacy LIMIT 0;\n");
	assert_string_equal(fr_step_sql.database(&e->step), "reports");
	assert_false(fr_step_sql.transactional(&e->step));
	assert_true(fr_step_sql.reversible(&e->step));
	/* A no-transaction step's recorded down keeps the marker, so it runs outside one too. */
	down = undo_text(e);
	assert_string_equal(down, "-- ferry:no-transaction\nDROP TABLE privacy;\n");
	assert_false(fr_step_sql.undo_transactional(down));
	assert_true(fr_step_sql.undo_transactional("DROP TABLE privacy;\n"));
	free(down);
	assert_int_equal(fr_step_sql.describe(&e->step, &d), 0);
	assert_string_equal(d.ptr, "-- database reports (no transaction)\n"
	                           "CREATE TABLE privacy (level TEXT);\n");
	fr_buf_release(&d);

	/* Loading again replaces the parsed form. */
	load_ok(e, "-- ferry:up\nCREATE TABLE a (x);");
	assert_null(fr_step_sql.database(&e->step));
	assert_true(fr_step_sql.transactional(&e->step));
	assert_false(fr_step_sql.reversible(&e->step));
	down = undo_text(e);
	assert_string_equal(down, "");
	free(down);
	assert_int_equal(fr_step_sql.describe(&e->step, &d), 0);
	assert_string_equal(d.ptr, "-- default database (transaction)\nCREATE TABLE a (x);\n");
	fr_buf_release(&d);

	/* A down of comments only is no down. */
	load_ok(e, "-- ferry:up\nSELECT 1;\n-- ferry:down\n-- nothing to undo\n\n");
	assert_false(fr_step_sql.reversible(&e->step));
}

static void test_dbmate_markers(void **state)
{
	env *e = *state;
	char *down;

	load_ok(e, "-- migrate:up\nCREATE TABLE a (x);\n\n-- migrate:down\nDROP TABLE a;\n");
	assert_true(fr_step_sql.transactional(&e->step));
	assert_true(fr_step_sql.reversible(&e->step));
	down = undo_text(e);
	assert_string_equal(down, "DROP TABLE a;\n");
	free(down);

	load_ok(e, "-- migrate:up transaction:false\nVACUUM;\n-- migrate:down\nSELECT 1;\n");
	assert_false(fr_step_sql.transactional(&e->step));

	/* transaction:false on down does not make up non-transactional */
	load_ok(e, "-- migrate:up\nSELECT 1;\n-- migrate:down transaction:false\nSELECT 2;\n");
	assert_true(fr_step_sql.transactional(&e->step));

	load_fails(e, "-- migrate:up transaction:maybe\nSELECT 1;\n",
	           REL ":1: unknown option 'transaction:maybe' of marker 'migrate:up'");
	load_fails(e, "-- migrate:up\nSELECT 1;\n-- migrate:sideways\n",
	           REL ":3: unknown marker 'migrate:sideways'");
	load_fails(e, "-- migrate:up\nSELECT 1;\n-- ferry:up\nSELECT 2;\n",
	           REL ":3: second '-- ferry:up' section");
}

static void test_goose_markers(void **state)
{
	env *e = *state;
	char *down;

	load_ok(e, "-- +goose Up\n"
	           "-- +goose StatementBegin\n"
	           "CREATE TABLE a (x);\n"
	           "CREATE TRIGGER a_t AFTER INSERT ON a BEGIN SELECT 1; END;\n"
	           "-- +goose StatementEnd\n"
	           "-- +goose Down\n"
	           "DROP TABLE a;\n");
	assert_true(fr_step_sql.transactional(&e->step));
	assert_true(fr_step_sql.reversible(&e->step));
	down = undo_text(e);
	assert_string_equal(down, "DROP TABLE a;\n");
	free(down);

	/* The kept StatementBegin/End lines are comments: up runs. */
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), 0);
	assert_int_equal(qbool(e, "SELECT count(*) = 2 FROM sqlite_master"), 1);

	load_ok(e, "-- +goose NO TRANSACTION\n-- +goose up\nVACUUM;\n");
	assert_false(fr_step_sql.transactional(&e->step));
	assert_false(fr_step_sql.reversible(&e->step));

	load_fails(e, "-- +goose Up\nSELECT 1;\n-- +goose ENVSUB ON\n",
	           REL ":3: unknown marker '+goose ENVSUB ON'");
	load_fails(e, "-- +goose Up\nSELECT 1;\n-- +goose Down\n\n-- +goose Down\n",
	           REL ":5: second '-- +goose Down' section");
}

static void test_load_errors(void **state)
{
	env *e = *state;

	load_fails(e, "CREATE TABLE a (x);\n",
	           REL ": no '-- ferry:up' section (every SQL step needs one)");
	load_fails(e, "-- just a comment\n-- ferry:down\nDROP TABLE a;\n",
	           REL ": no '-- ferry:up' section (every SQL step needs one)");
	/* An up marker with only comments under it is a placeholder: loaded, empty (issue 12). */
	load_ok(e, "-- ferry:up\n-- nothing here\n\n-- ferry:down\nDROP TABLE a;\n");
	assert_true(fr_step_sql.empty(&e->step));
	assert_true(fr_step_sql.reversible(&e->step));
	load_ok(e, "-- ferry:up\nSELECT 1;\n");
	assert_false(fr_step_sql.empty(&e->step));
	load_fails(e, "", REL ": no '-- ferry:up' section (every SQL step needs one)");
	load_fails(e, "-- ferry:up\nSELECT 1;\n-- ferry:down\nSELECT 2;\n\n-- ferry:down\nSELECT 3;\n",
	           REL ":6: second '-- ferry:down' section");
	load_fails(e, "-- ferry:up\nSELECT 1;\n-- ferry:xyz\n", REL ":3: unknown marker 'ferry:xyz'");
	load_fails(e, "-- ferry:up\nSELECT 1;\n-- ferry:\n", REL ":3: unknown marker 'ferry:'");
	load_fails(e, "-- header\n\nCREATE TABLE a (x);\n-- ferry:up\nSELECT 1;\n",
	           REL ":3: SQL before the first section marker (put it under '-- ferry:up')");
	load_fails(e, "-- ferry:database\n-- ferry:up\nSELECT 1;\n",
	           REL ":1: marker 'ferry:database' needs a database name");
	load_fails(e, "-- ferry:database a\n-- ferry:database b\n-- ferry:up\nSELECT 1;\n",
	           REL ":2: second '-- ferry:database' marker");
	load_fails(e, "-- ferry:up now\nSELECT 1;\n",
	           REL ":1: unexpected 'now' after marker 'ferry:up'");
	load_fails(e, "-- ferry:database a b\n-- ferry:up\nSELECT 1;\n",
	           REL ":1: unexpected 'b' after marker 'ferry:database'");
	assert_int_equal(fr_step_sql.load(&e->step, "-- ferry:up\nSELECT 1;\0x", 22, &e->lerr), -1);
	assert_null(e->step.priv);
}

static void test_crlf_and_bom(void **state)
{
	env *e = *state;
	char *down;

	load_ok(e, "\xEF\xBB\xBF-- ferry:up\r\nCREATE TABLE a (x);\r\n"
	           "-- ferry:down\r\nDROP TABLE a;\r\n");
	down = undo_text(e);
	assert_string_equal(down, "DROP TABLE a;\r\n");
	free(down);
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), 0);
	assert_int_equal(qbool(e, "SELECT count(*) FROM sqlite_master WHERE name = 'a'"), 1);
}

static void test_forward_error_line(void **state)
{
	env *e = *state;
	fr_db *db = e->db;

	load_ok(e, "-- Line 1: a header comment\n"    /* 1 */
	           "-- ferry:up\n"                    /* 2 */
	           "CREATE TABLE t (x);\n"            /* 3 */
	           "INSERT INTO t VALUES (1);\n"      /* 4 */
	           "INSERTT INTO t VALUES (2);\n"     /* 5: the up's 3rd line */
	           "-- ferry:down\n"
	           "DROP TABLE t;\n");
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), -1);
	assert_string_equal(e->err.ptr, REL ":5: near \"INSERTT\": syntax error");
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	assert_int_equal(qbool(e, "SELECT count(*) FROM sqlite_master"), 0);

	/* A statement over several lines, after a comment: the line it starts on. */
	fr_buf_reset(&e->err);
	load_ok(e, "-- ferry:up\n"                    /* 1 */
	           "CREATE TABLE t (x);\n"            /* 2 */
	           "\n"                               /* 3 */
	           "/* explain\n   more */\n"         /* 4, 5 */
	           "INSERT INTO\n"                    /* 6 */
	           "  missing VALUES (1);\n");
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), -1);
	assert_string_equal(e->err.ptr, REL ":6: no such table: missing");
}

static void test_forward_in_engine_tx(void **state)
{
	env *e = *state;
	fr_db *db = e->db;

	load_ok(e, "-- ferry:up\nCREATE TABLE a (x);\nINSERT INTO a VALUES (1);\n");
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), 0);
	assert_int_equal(db->in_tx, 1); /* forward neither commits nor ends the transaction */
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
	assert_int_equal(qbool(e, "SELECT count(*) FROM sqlite_master"), 0);

	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), 0);
	assert_int_equal(db->drv->commit(db, &e->err), 0);
	assert_int_equal(qbool(e, "SELECT count(*) = 1 FROM a"), 1);

	/* dry run: nothing happens */
	e->ctx.dry_run = 1;
	load_ok(e, "-- ferry:up\nDROP TABLE a;\n");
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), 0);
	assert_int_equal(qbool(e, "SELECT count(*) FROM sqlite_master WHERE name = 'a'"), 1);
	e->ctx.dry_run = 0;
}

static void test_no_transaction(void **state)
{
	env *e = *state;
	fr_db *db = e->db;

	exec_ok(e, "CREATE TABLE a (x); INSERT INTO a VALUES (1);");
	load_ok(e, "-- ferry:no-transaction\n-- ferry:up\nDELETE FROM a;\nVACUUM;\n");
	assert_false(fr_step_sql.transactional(&e->step));
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), 0);
	assert_int_equal(db->in_tx, 0);
	assert_int_equal(qbool(e, "SELECT count(*) FROM a"), 0);

	/* The engine must not have begun one. */
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), -1);
	assert_string_equal(e->err.ptr, REL ": step is marked no-transaction but a transaction is "
	                                    "open on its database");
	assert_int_equal(db->drv->rollback(db, &e->err), 0);
}

static void test_unknown_database(void **state)
{
	env *e = *state;
	int needed = 5;

	load_ok(e, "-- ferry:database reports\n-- ferry:up\nSELECT 1;\n-- ferry:check\nSELECT 1;\n");
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), -1);
	assert_string_equal(e->err.ptr, "database 'reports' is not in ferry.yaml");
	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_sql.check(&e->ctx, &e->step, &needed), -1);
	assert_string_equal(e->err.ptr, "database 'reports' is not in ferry.yaml");

	/* "main" named explicitly is found */
	fr_buf_reset(&e->err);
	load_ok(e, "-- ferry:database main\n-- ferry:up\nCREATE TABLE m (x);\n");
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), 0);
	assert_int_equal(qbool(e, "SELECT count(*) FROM sqlite_master WHERE name = 'm'"), 1);
}

static void test_check(void **state)
{
	env *e = *state;
	int needed = 5;

	/* No check: always needed, without touching a database. */
	load_ok(e, "-- ferry:up\nCREATE TABLE a (x);\n");
	assert_int_equal(fr_step_sql.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 1);
	assert_int_equal(e->db_calls, 0);

	load_ok(e, "-- ferry:up\nCREATE TABLE a (x);\n-- ferry:check\n"
	           "SELECT count(*) = 0 FROM sqlite_master WHERE name = 'a';\n");
	assert_int_equal(fr_step_sql.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 1);
	assert_int_equal(fr_step_sql.forward(&e->ctx, &e->step), 0);
	assert_int_equal(fr_step_sql.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 0);

	/* No row: not needed. */
	load_ok(e, "-- ferry:up\nSELECT 1;\n-- ferry:check\nSELECT 1 WHERE 0;\n");
	needed = 5;
	assert_int_equal(fr_step_sql.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 0);

	/* NULL: false. */
	load_ok(e, "-- ferry:up\nSELECT 1;\n-- ferry:check\nSELECT NULL;\n");
	assert_int_equal(fr_step_sql.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 0);

	load_ok(e, "-- ferry:up\nSELECT 1;\n\n-- ferry:check\nSELECT x FROM nowhere;\n");
	assert_int_equal(fr_step_sql.check(&e->ctx, &e->step, &needed), -1);
	assert_string_equal(e->err.ptr, REL ":5: check query failed: no such table: nowhere");
}

static void test_verify(void **state)
{
	env *e = *state;

	/* No verify: success. */
	load_ok(e, "-- ferry:up\nSELECT 1;\n");
	assert_int_equal(fr_step_sql.verify(&e->ctx, &e->step), 0);

	exec_ok(e, "CREATE TABLE users (id INTEGER, full_name TEXT); INSERT INTO users VALUES (1, 'a');");
	load_ok(e, "-- ferry:up\nSELECT 1;\n-- ferry:verify\nSELECT full_name FROM users LIMIT 0;\n");
	assert_int_equal(fr_step_sql.verify(&e->ctx, &e->step), 0); /* no row: ok */

	load_ok(e, "-- ferry:up\nSELECT 1;\n-- ferry:verify\nSELECT count(*) = 1 FROM users;\n");
	assert_int_equal(fr_step_sql.verify(&e->ctx, &e->step), 0);

	load_ok(e, "-- ferry:up\nSELECT 1;\n-- ferry:verify\nSELECT count(*) = 2 FROM users;\n");
	assert_int_equal(fr_step_sql.verify(&e->ctx, &e->step), -1);
	assert_string_equal(e->err.ptr, REL ":4: verify query returned false");

	fr_buf_reset(&e->err);
	load_ok(e, "-- ferry:up\nSELECT 1;\n-- ferry:verify\nSELECT nickname FROM users LIMIT 0;\n");
	assert_int_equal(fr_step_sql.verify(&e->ctx, &e->step), -1);
	assert_string_equal(e->err.ptr, REL ":4: verify query failed: no such column: nickname");
}

static void test_undo(void **state)
{
	env *e = *state;

	/* The round trip from the recorded text is test_kinds.c's; here, its failures. */
	assert_int_equal(fr_step_sql.undo(&e->ctx, "0.2.0/002_privacy.sql", "main",
	                                  "DROP TABLE b;\nDROP TABLE a;\n"), -1);
	assert_string_equal(e->err.ptr, "0.2.0/002_privacy.sql (down): no such table: b");

	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_sql.undo(&e->ctx, "x/y.sql", "", "  -- nothing\n"), -1);
	assert_string_equal(e->err.ptr,
	                    "x/y.sql (down): nothing to run (the step has no down section)");

	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_sql.undo(&e->ctx, "x/y.sql", "reports", "DROP TABLE a;"), -1);
	assert_string_equal(e->err.ptr, "database 'reports' is not in ferry.yaml");
}

/* Every allocation of load() may fail: no crash, no leak, no half-parsed step. */
static void test_load_oom(void **state)
{
	env *e = *state;
	const char *text = "-- ferry:database main\n-- ferry:up\nCREATE TABLE a (x);\n"
	                   "-- ferry:down\nDROP TABLE a;\n-- ferry:check\nSELECT 1;\n"
	                   "-- ferry:verify\nSELECT 1;\n";
	long n;
	int rc = -1;

	for (n = 0; n < 100 && rc != 0; n++) {
		fr_buf_release(&e->lerr);
		fr_alloc_fail_after(n);
		rc = fr_step_sql.load(&e->step, text, strlen(text), &e->lerr);
		fr_alloc_fail_after(-1);
		if (rc)
			assert_null(e->step.priv);
	}
	assert_int_equal(rc, 0);
	assert_true(n > 3);
	assert_true(fr_step_sql.reversible(&e->step));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ferry_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dbmate_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_goose_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_and_bom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_error_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_in_engine_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_oom, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
