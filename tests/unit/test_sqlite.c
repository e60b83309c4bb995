/*
 * test_sqlite.c - what is SQLite's own in its driver (lib/db/sqlite.c) and
 * the driver table (lib/db/db.c), on real database files in a temporary
 * folder. What every driver promises is test_db_conformance.c's.
 */
#include "helpers.h"

#include "db/db.h"
#include "util/alloc.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	char *dir;
	char *path;
	fr_dbconf conf;
	fr_db *db;
	fr_buf err;
} env;

static int setup(void **state)
{
	env *e = calloc(1, sizeof *e);
	assert_non_null(e);
	e->dir = t_tmpdir();
	e->path = t_path(e->dir, "app.db");
	e->conf.name = "main";
	e->conf.url = "sqlite:app.db";
	e->conf.driver = "sqlite";
	e->conf.path = e->path;
	fr_buf_init(&e->err);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	fr_db_close(e->db);
	fr_buf_release(&e->err);
	t_rmrf(e->dir);
	free(e->dir);
	free(e->path);
	free(e);
	return 0;
}

static fr_db *open_db(env *e)
{
	fr_db_close(e->db);
	e->db = NULL;
	assert_int_equal(fr_db_open(&e->db, &e->conf, &e->err), 0);
	assert_non_null(e->db);
	assert_string_equal(e->err.ptr, "");
	return e->db;
}

static void test_driver_table(void **state)
{
	env *e = *state;
	fr_dbconf bad = { .name = "reports", .url = "oracle://x", .driver = "oracle", .line = 3 };
	fr_db *db = (fr_db *)&bad; /* must be reset to NULL */

	assert_ptr_equal(fr_db_driver_find("sqlite"), &fr_db_sqlite);
	assert_null(fr_db_driver_find("oracle"));
	assert_null(fr_db_driver_find(NULL));
	assert_int_not_equal(fr_db_open(&db, &bad, &e->err), 0);
	assert_null(db);
	assert_string_equal(e->err.ptr, "database 'reports': driver 'oracle' is not built in");
	fr_db_close(NULL);
	fr_records_free(NULL, 0);
}

static void test_open_exec_commit(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);

	assert_int_equal(db->in_tx, 0);
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	assert_int_equal(db->in_tx, 1);
	t_exec_ok(db, "CREATE TABLE t (x INTEGER);\n-- comment\nINSERT INTO t VALUES (1);\n"
	            "INSERT INTO t VALUES (2); /* trailing */\n;;\n");
	assert_int_equal(db->drv->commit(db, &e->err), 0);
	assert_int_equal(db->in_tx, 0);

	/* A fresh connection sees it: it was committed. */
	db = open_db(e);
	assert_int_equal(t_qbool(db, "SELECT count(*) = 2 FROM t"), 1);
	/* Foreign keys stay off, so table rebuilds in a step cannot cascade deletes. */
	assert_int_equal(t_qbool(db, "PRAGMA foreign_keys"), 0);
	/* The application's journal mode is left alone. */
	assert_int_equal(t_sh("test \"$(sqlite3 '%s' 'PRAGMA journal_mode')\" = delete", e->path), 0);
}

static void test_wal_kept(void **state)
{
	env *e = *state;
	fr_db *db;
	assert_int_equal(t_sh("sqlite3 '%s' 'PRAGMA journal_mode=wal; CREATE TABLE t(x)' >/dev/null",
	                      e->path), 0);
	db = open_db(e);
	assert_int_equal(t_qbool(db, "SELECT count(*) = 1 FROM sqlite_master WHERE name = 't'"), 1);
	fr_db_close(e->db);
	e->db = NULL;
	assert_int_equal(t_sh("test \"$(sqlite3 '%s' 'PRAGMA journal_mode')\" = wal", e->path), 0);
}

static void test_exec_error_offset(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	const char *sql = "CREATE TABLE a (x);\n  -- the next one fails\n  INSERT INTO nope VALUES (1);\n"
	                  "CREATE TABLE b (x);\n";
	const char *syn = "SELECT 1;\n/* c */ SELEC 2;\nSELECT 3;";
	size_t off = 12345;

	assert_int_equal(db->drv->exec(db, sql, &off, &e->err), -1);
	assert_int_equal(off, (size_t)(strstr(sql, "INSERT") - sql));
	assert_string_equal(e->err.ptr, "no such table: nope");
	assert_int_equal(db->drv->errcode(db), SQLITE_ERROR);

	fr_buf_reset(&e->err);
	assert_int_equal(db->drv->exec(db, syn, &off, &e->err), -1);
	assert_int_equal(off, (size_t)(strstr(syn, "SELEC 2") - syn));
	assert_non_null(strstr(e->err.ptr, "syntax error"));

	/* A constraint failure keeps SQLite's extended code. */
	fr_buf_reset(&e->err);
	t_exec_ok(db, "CREATE TABLE u (x UNIQUE); INSERT INTO u VALUES (1)");
	assert_int_equal(db->drv->exec(db, "INSERT INTO u VALUES (1)", &off, &e->err), -1);
	assert_int_equal(off, 0);
	assert_int_equal(db->drv->errcode(db), SQLITE_CONSTRAINT_UNIQUE);

	/* A block comment is no statement either. */
	assert_int_equal(db->drv->exec(db, "/* at all */\n", &off, &e->err), 0);
}

static void test_query_bool(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	int v = 7;

	assert_int_equal(t_qbool(db, "SELECT 42"), 1);
	assert_int_equal(t_qbool(db, "SELECT 0.5"), 1);
	assert_int_equal(t_qbool(db, "SELECT 0.0"), 0);
	assert_int_equal(t_qbool(db, "SELECT 't'"), 1);
	assert_int_equal(t_qbool(db, "SELECT 'true'"), 1);
	assert_int_equal(t_qbool(db, "SELECT 'yes'"), 1);
	assert_int_equal(t_qbool(db, "SELECT 'f'"), 0);
	assert_int_equal(t_qbool(db, "SELECT 'FALSE'"), 0);
	assert_int_equal(t_qbool(db, "SELECT '0'"), 0);
	assert_int_equal(t_qbool(db, "SELECT ''"), 0);
	assert_int_equal(t_qbool(db, "  -- leading comment\nSELECT 1; -- trailing\n"), 1);

	assert_int_equal(db->drv->query_bool(db, "SELECT nope FROM nowhere", &v, &e->err), -1);
	assert_string_equal(e->err.ptr, "no such table: nowhere");
	fr_buf_reset(&e->err);
	assert_int_equal(db->drv->query_bool(db, "SELECT 1; SELECT 0", &v, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "one query"));
}

static void test_integrity(void **state)
{
	env *e = *state;
	fr_db *db;
	fr_buf findings = FR_BUF_INIT;

	/* The sqlite3 shell leaves foreign keys off, so the bad row gets in. */
	assert_int_equal(t_sh("sqlite3 '%s' \"CREATE TABLE parent (id INTEGER PRIMARY KEY);"
	                      "CREATE TABLE child (id INTEGER PRIMARY KEY,"
	                      " pid INTEGER REFERENCES parent (id));"
	                      "INSERT INTO parent VALUES (1);"
	                      "INSERT INTO child VALUES (1, 1), (7, 99);\"", e->path), 0);
	db = open_db(e);
	assert_int_equal(db->drv->integrity(db, &findings, &e->err), 0);
	assert_string_equal(findings.ptr, "table child row 7 violates foreign key to parent\n");

	t_exec_ok(db, "DELETE FROM child WHERE id = 7");
	fr_buf_reset(&findings);
	assert_int_equal(db->drv->integrity(db, &findings, &e->err), 0);
	assert_string_equal(findings.ptr, "");
	fr_buf_release(&findings);

	/*
	 * Foreign keys stay off on the migration connection (so a step that
	 * rebuilds a parent table does not cascade); integrity() still finds a
	 * bad row a step lets in.
	 */
	t_exec_ok(db, "INSERT INTO child VALUES (8, 98)");
	assert_int_equal(db->drv->integrity(db, &findings, &e->err), 0);
	assert_string_equal(findings.ptr, "table child row 8 violates foreign key to parent\n");
	fr_buf_release(&findings);
}

static void test_unopenable(void **state)
{
	env *e = *state;
	char *missing = t_path(e->dir, "no/such/folder/app.db");
	char *junk = t_path(e->dir, "junk.db");
	char want[8192];
	fr_db *db = NULL;

	e->conf.path = missing;
	assert_int_equal(fr_db_open(&db, &e->conf, &e->err), -1);
	assert_null(db);
	snprintf(want, sizeof want, "database 'main' at '%s': unable to open database file", missing);
	assert_string_equal(e->err.ptr, want);
	assert_int_equal(t_sh("test ! -e '%s/no'", e->dir), 0); /* no folder made */

	fr_buf_reset(&e->err);
	t_write(e->dir, "junk.db", "this is not a database, just a long enough text file..."
	                           "................................................");
	e->conf.path = junk;
	assert_int_equal(fr_db_open(&db, &e->conf, &e->err), -1);
	assert_null(db);
	snprintf(want, sizeof want, "database 'main' at '%s': file is not a database", junk);
	assert_string_equal(e->err.ptr, want);
	e->conf.path = e->path;
	free(missing);
	free(junk);
}

/* The engine's hot loop: 1,000 one-statement steps and their records in one transaction. */
static void test_many_steps(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_record r = t_record("", NULL), *out = NULL;
	char id[64], sql[128];
	size_t n = 0;
	struct timespec t0, t1;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(db->drv->begin(db, &e->err), 0);
	for (i = 1; i <= 1000; i++) {
		snprintf(sql, sizeof sql, "CREATE TABLE t%d (x INTEGER);", i);
		snprintf(id, sizeof id, "1.0.0/%04d.sql", i);
		r.id = id;
		assert_int_equal(db->drv->exec(db, sql, NULL, &e->err), 0);
		assert_int_equal(db->drv->record_put(db, &r, &e->err), 0);
	}
	assert_int_equal(db->drv->commit(db, &e->err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("1000 steps: %.1f ms\n",
	              (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

	assert_int_equal(db->drv->record_read(db, &out, &n, &e->err), 0);
	assert_int_equal(n, 1000);
	for (i = 0; i < 1000; i++) {
		snprintf(id, sizeof id, "1.0.0/%04d.sql", i + 1);
		assert_string_equal(out[i].id, id);
		assert_int_equal(out[i].seq, i + 1);
	}
	fr_records_free(out, n);
}

/* Allocation failures while opening and reading the record: an error, no leak. */
static void test_oom(void **state)
{
	env *e = *state;
	fr_db *db = open_db(e);
	fr_record r = t_record("1.0.0/a.sql", "DROP TABLE a;"), *out = NULL;
	size_t n = 0;
	long k;
	int rc = -1;

	assert_int_equal(db->drv->record_put(db, &r, &e->err), 0);
	r.id = "1.0.0/b.sql";
	assert_int_equal(db->drv->record_put(db, &r, &e->err), 0);
	for (k = 0; k < 100 && rc != 0; k++) {
		fr_buf_release(&e->err);
		fr_alloc_fail_after(k);
		rc = db->drv->record_read(db, &out, &n, &e->err);
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_null(out);
			assert_int_equal(n, 0);
		}
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 2);
	fr_records_free(out, n);

	fr_db_close(e->db);
	e->db = NULL;
	fr_buf_release(&e->err);
	fr_alloc_fail_after(0);
	rc = fr_db_open(&db, &e->conf, &e->err);
	fr_alloc_fail_after(-1);
	assert_int_equal(rc, -1);
	assert_null(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_driver_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_exec_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_error_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_bool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unopenable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
