/*
 * test_history.c - lib/history/: each tool's history table on real SQLite
 * and real PostgreSQL (FERRY_TEST_PG, from tests/pg/pg.sh; missing, its
 * group fails): the table made as the tool makes it (columns, types, keys),
 * record and unrecord inside a transaction and read back, a rolled back
 * transaction leaving nothing, the failed and dirty marks, goose's
 * latest-row rule, golang-migrate's watermark, Flyway's undo and baseline
 * rows, present() telling dbmate's schema_migrations from golang-migrate's,
 * and the checksums: Flyway's CRC-32 against values computed apart with
 * Python's zlib, sqlx's SHA-384 against sha384sum.
 */
#include "helpers.h"

#include "db/db.h"
#include "history/history.h"
#include "util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char *driver;
	char *dir;
	fr_dbconf conf;
	fr_db *db;
	fr_buf err;
} env;

static const char *pg_reset =
	"DROP TABLE IF EXISTS schema_migrations, goose_db_version, flyway_schema_history, "
	"__diesel_schema_migrations, _sqlx_migrations";

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
	const char *url = "sqlite:app.db";
	if (!strcmp(driver, "postgres")) {
		url = getenv("FERRY_TEST_PG");
		if (!url || !*url)
			fail_msg("FERRY_TEST_PG is not set: start a server with "
			         "'eval \"$(tests/pg/pg.sh start)\"' (tests/run.sh does it)");
	}
	e = calloc(1, sizeof *e);
	assert_non_null(e);
	*state = e;
	e->driver = driver;
	e->dir = t_tmpdir();
	fr_buf_init(&e->err);
	if (fr_db_url_parse(&e->conf, url, e->dir, &e->err))
		fail_msg("url '%s': %s", url, e->err.ptr);
	e->conf.name = fr_strdup("main");
	e->conf.url = fr_strdup(url);
	if (!strcmp(driver, "postgres"))
		t_exec_ok(open_db(e), pg_reset);
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

static int teardown(void **state)
{
	env *e = *state;
	if (!e)
		return 0;
	if (e->db && !strcmp(e->driver, "postgres"))
		e->db->drv->exec(e->db, pg_reset, NULL, &e->err);
	fr_db_close(e->db);
	fr_dbconf_clear(&e->conf);
	fr_buf_release(&e->err);
	t_rmrf(e->dir);
	free(e->dir);
	free(e);
	return 0;
}

static int is_pg(env *e)
{
	return !strcmp(e->driver, "postgres");
}

/* ---- small helpers ---- */

static void tx_record(env *e, const fr_history_tool *t, const fr_history_entry *en, int undo)
{
	fr_db *db = e->db;
	fr_buf_reset(&e->err);
	if (db->drv->begin(db, &e->err) ||
	    (undo ? t->unrecord(db, en, &e->err) : t->record(db, en, &e->err)) ||
	    db->drv->commit(db, &e->err))
		fail_msg("%s %s: %s", t->name, undo ? "unrecord" : "record", e->err.ptr);
}

static void read_ok(env *e, const fr_history_tool *t, fr_history *h)
{
	fr_buf_reset(&e->err);
	if (t->read(e->db, h, &e->err))
		fail_msg("%s read: %s", t->name, e->err.ptr);
}

/* The versions h lists, in its order, as "a b c" (failed ones with a "!"). */
static char *versions_of(const fr_history *h)
{
	fr_buf b = FR_BUF_INIT;
	size_t i;
	for (i = 0; i < h->n; i++)
		fr_buf_printf(&b, "%s%s%s", i ? " " : "", h->rows[i].version ? h->rows[i].version
		              : h->rows[i].name, h->rows[i].failed ? "!" : "");
	return fr_buf_detach(&b);
}

static void assert_versions(env *e, const fr_history_tool *t, const char *want)
{
	fr_history h = FR_HISTORY_INIT;
	char *got;
	read_ok(e, t, &h);
	got = versions_of(&h);
	assert_string_equal(got, want);
	fr_free(got);
	fr_history_clear(&h);
}

static int collect_row(void *arg, const fr_val *cols, size_t n)
{
	fr_buf *b = arg;
	size_t i;
	for (i = 0; i < n; i++) {
		char *s = fr_history_text(&cols[i]);
		fr_buf_printf(b, "%s%s", i ? "|" : (b->len ? "\n" : ""), s ? s : "NULL");
		fr_free(s);
	}
	return 0;
}

/* The rows of sql as "a|b\nc|d" (NULL as NULL), malloc'd. */
static char *rows_of(env *e, const char *sql)
{
	fr_buf b = FR_BUF_INIT;
	fr_buf_reset(&e->err);
	if (fr_db_query(e->db, sql, NULL, 0, collect_row, &b, &e->err))
		fail_msg("%s: %s", sql, e->err.ptr);
	return fr_buf_detach(&b);
}

static void assert_rows(env *e, const char *sql, const char *want)
{
	char *got = rows_of(e, sql);
	assert_string_equal(got, want);
	fr_free(got);
}

/*
 * The table's columns as the database describes them, one line each:
 * SQLite "name|declared type|notnull|pk"; PostgreSQL "name|type|nullable".
 */
static void assert_columns(env *e, const char *table, const char *want_sqlite,
                           const char *want_pg)
{
	fr_buf q = FR_BUF_INIT;
	if (is_pg(e))
		fr_buf_printf(&q, "SELECT column_name, CASE WHEN character_maximum_length IS NULL "
		              "THEN data_type ELSE data_type || '(' || character_maximum_length || ')' "
		              "END, is_nullable FROM information_schema.columns WHERE table_schema = "
		              "current_schema() AND table_name = '%s' ORDER BY ordinal_position", table);
	else
		fr_buf_printf(&q, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('%s') "
		              "ORDER BY cid", table);
	assert_rows(e, q.ptr, is_pg(e) ? want_pg : want_sqlite);
	fr_buf_release(&q);
}

static int state_of(const fr_history *h, const char *version)
{
	return fr_history_state(h, version, NULL, NULL);
}

/* ---- dbmate ---- */

static void test_dbmate(void **state)
{
	env *e = *state;
	const fr_history_tool *t = fr_history_tool_find("dbmate");
	fr_history_entry a = { .version = "20240101000000" }, b = { .version = "20240202000000" };
	int yes = 1;

	open_db(e);
	assert_non_null(t);
	assert_string_equal(t->table, "schema_migrations");
	assert_int_equal(t->present(e->db, &yes, &e->err), 0);
	assert_int_equal(yes, 0);
	assert_versions(e, t, "");
	tx_record(e, t, &a, 0);
	tx_record(e, t, &b, 0);
	/* pkg/driver/sqlite/sqlite.go and postgres.go, CreateMigrationsTable. */
	assert_columns(e, "schema_migrations", "version|varchar(128)|0|1",
	               "version|character varying|NO");
	assert_int_equal(t->present(e->db, &yes, &e->err), 0);
	assert_int_equal(yes, 1);
	assert_versions(e, t, "20240202000000 20240101000000");
	tx_record(e, t, &b, 1);
	assert_versions(e, t, "20240101000000");
	assert_rows(e, "SELECT version FROM schema_migrations", "20240101000000");
}

/* present() tells dbmate's schema_migrations from golang-migrate's by its columns. */
static void test_schema_migrations_told_apart(void **state)
{
	env *e = *state;
	const fr_history_tool *dm = fr_history_tool_find("dbmate");
	const fr_history_tool *gm = fr_history_tool_find("golang-migrate");
	fr_history_entry v = { .version = "3" };
	int yes;

	open_db(e);
	tx_record(e, gm, &v, 0);
	assert_int_equal(gm->present(e->db, &yes, &e->err), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(dm->present(e->db, &yes, &e->err), 0);
	assert_int_equal(yes, 0);
	assert_versions(e, dm, ""); /* dbmate's reader does not take golang-migrate's row */
	t_exec_ok(e->db, "DROP TABLE schema_migrations");
	tx_record(e, dm, &v, 0);
	assert_int_equal(dm->present(e->db, &yes, &e->err), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(gm->present(e->db, &yes, &e->err), 0);
	assert_int_equal(yes, 0);
}

/* ---- goose ---- */

static void test_goose(void **state)
{
	env *e = *state;
	const fr_history_tool *t = fr_history_tool_find("goose");
	fr_history_entry a = { .version = "1" }, b = { .version = "20240101120000" };
	fr_history h = FR_HISTORY_INIT;

	open_db(e);
	tx_record(e, t, &a, 0);
	tx_record(e, t, &b, 0);
	/* internal/dialects/sqlite3.go and postgres.go, CreateTable. */
	assert_columns(e, "goose_db_version",
	               "id|INTEGER|0|1\nversion_id|INTEGER|1|0\nis_applied|INTEGER|1|0\n"
	               "tstamp|TIMESTAMP|0|0",
	               "id|integer|NO\nversion_id|bigint|NO\nis_applied|boolean|NO\n"
	               "tstamp|timestamp without time zone|NO");
	/* migrate.go, createVersionTable: version 0 first, then the migrations, applied. */
	assert_rows(e, "SELECT version_id, is_applied FROM goose_db_version ORDER BY id",
	            is_pg(e) ? "0|1\n1|1\n20240101120000|1" : "0|1\n1|1\n20240101120000|1");
	assert_versions(e, t, "20240101120000 1");
	/* Down deletes the version's rows (goose v3's store.Delete). */
	tx_record(e, t, &b, 1);
	assert_rows(e, "SELECT version_id FROM goose_db_version ORDER BY id", "0\n1");
	assert_versions(e, t, "1");

	/* The latest row of a version decides (goose v2 wrote is_applied false on down). */
	t_exec_ok(e->db, is_pg(e)
	          ? "INSERT INTO goose_db_version (version_id, is_applied) VALUES "
	            "(2, true), (2, false), (3, false), (3, true), (4, true), (1, false)"
	          : "INSERT INTO goose_db_version (version_id, is_applied) VALUES "
	            "(2, 1), (2, 0), (3, 0), (3, 1), (4, 1), (1, 0)");
	read_ok(e, t, &h);
	assert_int_equal(state_of(&h, "1"), FR_HISTORY_PENDING);
	assert_int_equal(state_of(&h, "2"), FR_HISTORY_PENDING);
	assert_int_equal(state_of(&h, "3"), FR_HISTORY_APPLIED);
	assert_int_equal(state_of(&h, "4"), FR_HISTORY_APPLIED);
	assert_int_equal(state_of(&h, "0"), FR_HISTORY_PENDING); /* the initial row is none */
	fr_history_clear(&h);
	assert_versions(e, t, "4 3");
}

/* ---- golang-migrate ---- */

static void test_golang_migrate(void **state)
{
	env *e = *state;
	const fr_history_tool *t = fr_history_tool_find("golang-migrate");
	fr_history_entry v3 = { .version = "3" }, v5 = { .version = "5", .prev_version = "3" };
	fr_history_entry v3down = { .version = "3", .prev_version = NULL };
	fr_history h = FR_HISTORY_INIT;

	open_db(e);
	read_ok(e, t, &h);
	assert_null(h.upto);
	tx_record(e, t, &v3, 0);
	tx_record(e, t, &v5, 0);
	/* database/sqlite3/sqlite3.go and database/postgres/postgres.go, ensureVersionTable. */
	assert_columns(e, "schema_migrations", "version|uint64|0|0\ndirty|bool|0|0",
	               "version|bigint|NO\ndirty|boolean|NO");
	if (!is_pg(e))
		assert_rows(e, "SELECT name FROM sqlite_master WHERE type = 'index' AND "
		            "tbl_name = 'schema_migrations'", "version_unique");
	/* SetVersion: one row, the current version, clean. */
	assert_rows(e, "SELECT version, dirty FROM schema_migrations", "5|0");
	read_ok(e, t, &h);
	assert_string_equal(h.upto, "5");
	assert_int_equal(h.n, 0);
	assert_int_equal(state_of(&h, "1"), FR_HISTORY_APPLIED);
	assert_int_equal(state_of(&h, "0004"), FR_HISTORY_APPLIED);
	assert_int_equal(state_of(&h, "5"), FR_HISTORY_APPLIED);
	assert_int_equal(state_of(&h, "6"), FR_HISTORY_PENDING);
	assert_int_equal(state_of(&h, "10"), FR_HISTORY_PENDING);
	/* Dirty: that version failed half way, the ones below stay applied. */
	t_exec_ok(e->db, is_pg(e) ? "UPDATE schema_migrations SET dirty = true"
	                          : "UPDATE schema_migrations SET dirty = 1");
	read_ok(e, t, &h);
	assert_int_equal(state_of(&h, "5"), FR_HISTORY_FAILED);
	assert_int_equal(state_of(&h, "4"), FR_HISTORY_APPLIED);
	/* Undo: the version before becomes the row; below the first, the table empties. */
	tx_record(e, t, &v5, 1);
	assert_rows(e, "SELECT version, dirty FROM schema_migrations", "3|0");
	tx_record(e, t, &v3down, 1);
	assert_rows(e, "SELECT count(*) FROM schema_migrations", "0");
	read_ok(e, t, &h);
	assert_null(h.upto);
	assert_int_equal(h.upto_failed, 0);
	assert_int_equal(state_of(&h, "1"), FR_HISTORY_PENDING);
	/* The nil version kept dirty (SetVersion(-1, true): the first one's down failed). */
	t_exec_ok(e->db, is_pg(e) ? "INSERT INTO schema_migrations VALUES (-1, true)"
	                          : "INSERT INTO schema_migrations VALUES (-1, 1)");
	read_ok(e, t, &h);
	assert_null(h.upto);
	assert_int_equal(h.upto_failed, 1);
	assert_int_equal(state_of(&h, "1"), FR_HISTORY_PENDING);
	fr_history_clear(&h);
}

/* ---- Flyway ---- */

/* Expected values: Python's zlib.crc32 over the lines (re.split on \r\n, \r, \n; the
 * last empty one dropped, a leading BOM dropped), carried into one CRC, as a signed int. */
static void test_flyway_checksum(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} v[] = {
		{ "", "0" },
		{ "CREATE TABLE a (x int);\n", "-1021620224" },
		{ "CREATE TABLE a (x int);\r\n", "-1021620224" },
		{ "\xef\xbb\xbf" "CREATE TABLE a (x int);\n", "-1021620224" },
		{ "-- V1\r\nCREATE TABLE t (id int);\n\nINSERT INTO t VALUES (1);", "-1492752791" },
		{ "a\rb\n\nc\r\n", "891568578" },
		{ "SELECT 1;\n", "78787420" },
	};
	const fr_history_tool *t = fr_history_tool_find("flyway");
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	size_t i;
	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		fr_buf_reset(&out);
		assert_int_equal(t->checksum(v[i].text, strlen(v[i].text), &out, &err), 0);
		assert_string_equal(out.ptr, v[i].want);
	}
	fr_buf_release(&out);
	fr_buf_release(&err);
}

static void test_flyway(void **state)
{
	env *e = *state;
	const fr_history_tool *t = fr_history_tool_find("flyway");
	const char *up = "CREATE TABLE a (x int);\n", *down = "SELECT 1;\n";
	fr_history_entry v1 = { .version = "1", .name = "create a", .script = "V1__create_a.sql",
	                        .text = up, .len = strlen(up), .duration_ns = 12345678 };
	fr_history_entry v12 = { .version = "1.2", .name = "more", .script = "V1_2__more.sql",
	                         .text = down, .len = strlen(down),
	                         .undo_script = "U1_2__more.sql", .undo_text = up,
	                         .undo_len = strlen(up) };
	fr_history_entry r = { .name = "views", .script = "R__views.sql", .text = down,
	                       .len = strlen(down) };
	fr_history h = FR_HISTORY_INIT;
	const char *sum;

	open_db(e);
	tx_record(e, t, &v1, 0);
	tx_record(e, t, &v12, 0);
	tx_record(e, t, &r, 0);
	/* SQLiteDatabase.java and PostgreSQLDatabase.java, getRawCreateScript. */
	assert_columns(e, "flyway_schema_history",
	               "installed_rank|INT|1|1\nversion|VARCHAR(50)|0|0\n"
	               "description|VARCHAR(200)|1|0\ntype|VARCHAR(20)|1|0\n"
	               "script|VARCHAR(1000)|1|0\nchecksum|INT|0|0\n"
	               "installed_by|VARCHAR(100)|1|0\ninstalled_on|TEXT|1|0\n"
	               "execution_time|INT|1|0\nsuccess|BOOLEAN|1|0",
	               "installed_rank|integer|NO\nversion|character varying(50)|YES\n"
	               "description|character varying(200)|NO\ntype|character varying(20)|NO\n"
	               "script|character varying(1000)|NO\nchecksum|integer|YES\n"
	               "installed_by|character varying(100)|NO\n"
	               "installed_on|timestamp without time zone|NO\n"
	               "execution_time|integer|NO\nsuccess|boolean|NO");
	assert_rows(e, is_pg(e)
	            ? "SELECT indexname FROM pg_indexes WHERE tablename = 'flyway_schema_history' "
	              "ORDER BY indexname"
	            : "SELECT name FROM sqlite_master WHERE type = 'index' AND "
	              "tbl_name = 'flyway_schema_history' ORDER BY name",
	            is_pg(e) ? "flyway_schema_history_pk\nflyway_schema_history_s_idx"
	                     : "flyway_schema_history_s_idx\nsqlite_autoindex_flyway_schema_history_1");
	/* The rows as Flyway writes them; installed_by is current_user (SQLite: ""). */
	assert_rows(e, is_pg(e)
	            ? "SELECT installed_rank, version, description, type, script, checksum, "
	              "installed_by = current_user, execution_time, success::int "
	              "FROM flyway_schema_history ORDER BY installed_rank"
	            : "SELECT installed_rank, version, description, type, script, checksum, "
	              "installed_by = '', execution_time, success "
	              "FROM flyway_schema_history ORDER BY installed_rank",
	            "1|1|create a|SQL|V1__create_a.sql|-1021620224|1|12|1\n"
	            "2|1.2|more|SQL|V1_2__more.sql|78787420|1|0|1\n"
	            "3|NULL|views|SQL|R__views.sql|78787420|1|0|1");
	read_ok(e, t, &h);
	assert_int_equal(fr_history_state(&h, "1", NULL, &sum), FR_HISTORY_APPLIED);
	assert_string_equal(sum, "-1021620224");
	assert_int_equal(fr_history_state(&h, NULL, "views", &sum), FR_HISTORY_APPLIED);
	assert_string_equal(sum, "78787420");
	assert_int_equal(state_of(&h, "1.2"), FR_HISTORY_APPLIED);

	/* Undo (Teams' U file): an UNDO_SQL row; the version is pending again. */
	tx_record(e, t, &v12, 1);
	assert_rows(e, "SELECT installed_rank, version, description, type, script, checksum "
	            "FROM flyway_schema_history WHERE installed_rank = 4",
	            "4|1.2|more|UNDO_SQL|U1_2__more.sql|-1021620224");
	read_ok(e, t, &h);
	assert_int_equal(state_of(&h, "1.2"), FR_HISTORY_PENDING);
	assert_int_equal(state_of(&h, "1"), FR_HISTORY_APPLIED);
	/* Applied again after its undo: the latest row decides. */
	tx_record(e, t, &v12, 0);
	read_ok(e, t, &h);
	assert_int_equal(state_of(&h, "1.2"), FR_HISTORY_APPLIED);
	/* A repeatable without a U file has no undo. */
	assert_int_equal(e->db->drv->begin(e->db, &e->err), 0);
	assert_int_equal(t->unrecord(e->db, &r, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "U file"));
	assert_int_equal(e->db->drv->rollback(e->db, &e->err), 0);

	/* success = false marks it failed; a BASELINE row is a watermark. */
	t_exec_ok(e->db, is_pg(e)
	          ? "INSERT INTO flyway_schema_history (installed_rank, version, description, type,"
	            " script, checksum, installed_by, execution_time, success) VALUES "
	            "(6, '2', 'broken', 'SQL', 'V2__broken.sql', 5, 'x', 1, false)"
	          : "INSERT INTO flyway_schema_history (installed_rank, version, description, type,"
	            " script, checksum, installed_by, execution_time, success) VALUES "
	            "(6, '2', 'broken', 'SQL', 'V2__broken.sql', 5, 'x', 1, 0)");
	read_ok(e, t, &h);
	assert_int_equal(state_of(&h, "2"), FR_HISTORY_FAILED);
	assert_null(h.upto);
	t_exec_ok(e->db, "DELETE FROM flyway_schema_history");
	t_exec_ok(e->db, is_pg(e)
	          ? "INSERT INTO flyway_schema_history (installed_rank, version, description, type,"
	            " script, checksum, installed_by, execution_time, success) VALUES "
	            "(1, '1.5', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL,"
	            " 'x', 0, true)"
	          : "INSERT INTO flyway_schema_history (installed_rank, version, description, type,"
	            " script, checksum, installed_by, execution_time, success) VALUES "
	            "(1, '1.5', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL,"
	            " 'x', 0, 1)");
	read_ok(e, t, &h);
	assert_string_equal(h.upto, "1.5");
	assert_int_equal(state_of(&h, "1.2"), FR_HISTORY_APPLIED);
	assert_int_equal(state_of(&h, "1.5"), FR_HISTORY_APPLIED);
	assert_int_equal(state_of(&h, "1.10"), FR_HISTORY_PENDING);
	fr_history_clear(&h);
	/* The next rank follows the last one. */
	tx_record(e, t, &v1, 0);
	assert_rows(e, "SELECT max(installed_rank) FROM flyway_schema_history", "2");
}

/* ---- diesel ---- */

static void test_diesel(void **state)
{
	env *e = *state;
	const fr_history_tool *t = fr_history_tool_find("diesel");
	fr_history_entry a = { .version = "20200101000000" }, b = { .version = "20210315123456" };

	open_db(e);
	tx_record(e, t, &a, 0);
	tx_record(e, t, &b, 0);
	/* diesel/src/migration/setup_migration_table.sql. */
	assert_columns(e, "__diesel_schema_migrations",
	               "version|VARCHAR(50)|1|1\nrun_on|TIMESTAMP|1|0",
	               "version|character varying(50)|NO\nrun_on|timestamp without time zone|NO");
	assert_rows(e, "SELECT count(*) FROM __diesel_schema_migrations WHERE run_on IS NOT NULL",
	            "2");
	assert_versions(e, t, "20210315123456 20200101000000");
	tx_record(e, t, &b, 1);
	assert_versions(e, t, "20200101000000");
}

/* ---- sqlx ---- */

static void test_sqlx(void **state)
{
	env *e = *state;
	const fr_history_tool *t = fr_history_tool_find("sqlx");
	const char *up = "\xef\xbb\xbf" "create table a (x int);\r\n-- é\n";
	fr_history_entry a = { .version = "20240101000000", .name = "create a", .text = up,
	                       .len = strlen(up), .duration_ns = 1234567890123LL };
	fr_history_entry b = { .version = "2", .name = "two", .text = "", .len = 0 };
	fr_history h = FR_HISTORY_INIT;
	fr_buf sum = FR_BUF_INIT;
	char *want, cmd[512];
	const char *got;

	/* sha384sum over the same bytes, written to a file. */
	t_write(e->dir, "up.sql", up);
	snprintf(cmd, sizeof cmd, "sha384sum '%s/up.sql' | cut -c1-96 > '%s/sum'", e->dir, e->dir);
	assert_int_equal(t_sh("%s", cmd), 0);
	want = t_read(e->dir, "sum");
	want[strcspn(want, "\n")] = '\0';
	assert_int_equal(t->checksum(up, strlen(up), &sum, &e->err), 0);
	assert_string_equal(sum.ptr, want);

	open_db(e);
	tx_record(e, t, &a, 0);
	tx_record(e, t, &b, 0);
	/* sqlx-sqlite/src/migrate.rs and sqlx-postgres/src/migrate.rs, ensure_migrations_table. */
	assert_columns(e, "_sqlx_migrations",
	               "version|BIGINT|0|1\ndescription|TEXT|1|0\ninstalled_on|TIMESTAMP|1|0\n"
	               "success|BOOLEAN|1|0\nchecksum|BLOB|1|0\nexecution_time|BIGINT|1|0",
	               "version|bigint|NO\ndescription|text|NO\n"
	               "installed_on|timestamp with time zone|NO\nsuccess|boolean|NO\n"
	               "checksum|bytea|NO\nexecution_time|bigint|NO");
	assert_rows(e, is_pg(e)
	            ? "SELECT version, description, success::int, length(checksum), execution_time"
	              " FROM _sqlx_migrations ORDER BY version"
	            : "SELECT version, description, success, length(checksum), execution_time"
	              " FROM _sqlx_migrations ORDER BY version",
	            "2|two|1|48|0\n20240101000000|create a|1|48|1234567890123");
	read_ok(e, t, &h);
	assert_int_equal(fr_history_state(&h, "20240101000000", NULL, &got), FR_HISTORY_APPLIED);
	assert_string_equal(got, want);
	/* success = false: failed (sqlx's dirty_version). */
	t_exec_ok(e->db, is_pg(e) ? "UPDATE _sqlx_migrations SET success = false WHERE version = 2"
	                          : "UPDATE _sqlx_migrations SET success = 0 WHERE version = 2");
	read_ok(e, t, &h);
	assert_int_equal(state_of(&h, "2"), FR_HISTORY_FAILED);
	fr_history_clear(&h);
	assert_versions(e, t, "2! 20240101000000");
	tx_record(e, t, &a, 1);
	assert_versions(e, t, "2!");
	free(want);
	fr_buf_release(&sum);
}

/* ---- every tool ---- */

/* A rolled back transaction leaves neither the row nor the table it made. */
static void test_rollback_leaves_nothing(void **state)
{
	env *e = *state;
	fr_history_entry en = { .version = "7", .name = "x", .script = "V7__x.sql", .text = "",
	                        .len = 0 };
	const fr_history_tool *t;
	size_t i;
	int yes;

	open_db(e);
	for (i = 0; (t = fr_history_tool_at(i)) != NULL; i++) {
		assert_int_equal(e->db->drv->begin(e->db, &e->err), 0);
		if (t->record(e->db, &en, &e->err))
			fail_msg("%s record: %s", t->name, e->err.ptr);
		assert_int_equal(t->present(e->db, &yes, &e->err), 0);
		assert_int_equal(yes, 1);
		assert_int_equal(e->db->drv->rollback(e->db, &e->err), 0);
		assert_int_equal(t->present(e->db, &yes, &e->err), 0);
		assert_int_equal(yes, 0);
	}
	assert_int_equal(i, 6);
}

/* What a tool cannot write is refused with a message, and nothing is written. */
static void test_refusals(void **state)
{
	env *e = *state;
	fr_history_entry bad = { .version = "20240101_x" }, noscript = { .version = "1" };
	static const char *numeric[] = { "goose", "golang-migrate", "sqlx" };
	size_t i;
	int yes;

	open_db(e);
	for (i = 0; i < 3; i++) {
		const fr_history_tool *t = fr_history_tool_find(numeric[i]);
		fr_buf_reset(&e->err);
		assert_int_equal(e->db->drv->begin(e->db, &e->err), 0);
		assert_int_equal(t->record(e->db, &bad, &e->err), -1);
		assert_non_null(strstr(e->err.ptr, "'20240101_x' is not an integer"));
		assert_int_equal(e->db->drv->rollback(e->db, &e->err), 0);
		assert_int_equal(t->present(e->db, &yes, &e->err), 0);
		assert_int_equal(yes, 0);
	}
	fr_buf_reset(&e->err);
	assert_int_equal(e->db->drv->begin(e->db, &e->err), 0);
	assert_int_equal(fr_history_flyway.record(e->db, &noscript, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "file name"));
	fr_buf_reset(&e->err);
	assert_int_equal(fr_history_flyway.unrecord(e->db, &noscript, &e->err), -1);
	assert_non_null(strstr(e->err.ptr, "U file"));
	assert_int_equal(e->db->drv->rollback(e->db, &e->err), 0);
}

/*
 * Every allocation failing in turn (lib/util/alloc.h): read() fails with
 * nothing half read, record() fails inside a transaction that is rolled
 * back; then both succeed.
 */
static void test_alloc_faults(void **state)
{
	env *e = *state;
	const char *up = "CREATE TABLE a (x int);\n";
	fr_history_entry en[2] = {
		{ .version = "1", .name = "one", .script = "V1__one.sql", .text = up,
		  .len = strlen(up) },
		{ .version = "2", .name = "two", .script = "V2__two.sql", .text = up,
		  .len = strlen(up) },
	};
	const fr_history_tool *t;
	size_t i;
	long n;
	int rc;

	open_db(e);
	for (i = 0; (t = fr_history_tool_at(i)) != NULL; i++) {
		if (!strcmp(t->name, "golang-migrate"))
			continue; /* dbmate's schema_migrations is there */
		tx_record(e, t, &en[0], 0);
		for (n = 0;; n++) {
			fr_history h = FR_HISTORY_INIT;
			fr_buf_reset(&e->err);
			fr_alloc_fail_after(n);
			rc = t->read(e->db, &h, &e->err);
			fr_alloc_fail_after(-1);
			if (rc == 0) {
				assert_int_equal(h.n, 1);
				assert_true(n > 0); /* some allocation failed on the way */
				fr_history_clear(&h);
				break;
			}
			assert_int_equal(h.n, 0);
			assert_null(h.rows);
			assert_true(n < 10000);
		}
		for (n = 0;; n++) {
			fr_buf_reset(&e->err);
			assert_int_equal(e->db->drv->begin(e->db, &e->err), 0);
			fr_alloc_fail_after(n);
			rc = t->record(e->db, &en[1], &e->err);
			fr_alloc_fail_after(-1);
			assert_int_equal(e->db->drv->rollback(e->db, &e->err), 0);
			if (rc == 0)
				break; /* (a record() may need no allocation at all) */
			assert_true(n < 10000);
		}
		assert_versions(e, t, "1"); /* every record() above was rolled back */
	}
}

static void test_find_and_checksums(void **state)
{
	static const char *names[] = { "dbmate", "goose", "golang-migrate", "flyway", "diesel",
	                               "sqlx" };
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	size_t i;
	(void)state;
	for (i = 0; i < 6; i++) {
		const fr_history_tool *t = fr_history_tool_find(names[i]);
		assert_non_null(t);
		assert_ptr_equal(t, fr_history_tool_at(i));
		fr_buf_reset(&out);
		assert_int_equal(t->checksum("x\n", 2, &out, &err), 0);
		/* Only Flyway and sqlx keep a checksum. */
		assert_int_equal(out.len > 0, !strcmp(names[i], "flyway") || !strcmp(names[i], "sqlx"));
	}
	assert_null(fr_history_tool_find("ferry"));
	assert_null(fr_history_tool_find(NULL));
	assert_null(fr_history_tool_at(6));
	fr_buf_release(&out);
	fr_buf_release(&err);
}

static void test_cmp(void **state)
{
	(void)state;
	assert_int_equal(fr_history_cmp("1", "1"), 0);
	assert_int_equal(fr_history_cmp("1.0", "1"), 0);
	assert_int_equal(fr_history_cmp("007", "7"), 0);
	assert_true(fr_history_cmp("1.9", "1.10") < 0);
	assert_true(fr_history_cmp("2", "1.10") > 0);
	assert_true(fr_history_cmp("9", "10") < 0);
	assert_true(fr_history_cmp("20240101000000", "20231231235959") > 0);
	assert_true(fr_history_cmp("1.2.1", "1.2") > 0);
	assert_true(fr_history_cmp("a", "b") < 0);
}

#define DB_TESTS(setup) \
	cmocka_unit_test_setup_teardown(test_dbmate, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_schema_migrations_told_apart, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_goose, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_golang_migrate, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_flyway, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_diesel, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_sqlx, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_refusals, setup, teardown)

int main(void)
{
	const struct CMUnitTest common[] = {
		cmocka_unit_test(test_find_and_checksums),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_flyway_checksum),
	};
	const struct CMUnitTest sqlite[] = {
		DB_TESTS(setup_sqlite),
		cmocka_unit_test_setup_teardown(test_alloc_faults, setup_sqlite, teardown),
	};
#ifdef FR_HAVE_PQ
	const struct CMUnitTest postgres[] = { DB_TESTS(setup_postgres) };
#endif
	int failed = cmocka_run_group_tests_name("history", common, NULL, NULL);
	failed += cmocka_run_group_tests_name("history_sqlite", sqlite, NULL, NULL);
#ifdef FR_HAVE_PQ
	failed += cmocka_run_group_tests_name("history_postgres", postgres, NULL, NULL);
#endif
	return failed;
}
