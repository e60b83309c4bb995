/*
 * golang_migrate.c - golang-migrate's schema_migrations: a single row, the
 * current version and whether it is dirty (a migration that failed half
 * way). Every migration of the folder up to that version counts as
 * applied: read() gives it as the watermark (fr_history.upto), and the
 * version itself as failed when dirty.
 *
 * golang-migrate (github.com/golang-migrate/migrate, commit 18966c7, v4):
 *   database/sqlite3/sqlite3.go  ensureVersionTable (the table and a unique
 *     index), SetVersion: DELETE every row, then INSERT (version, dirty)
 *     unless the version is nil (-1) and clean
 *   database/postgres/postgres.go  ensureVersionTable, SetVersion (TRUNCATE,
 *     then INSERT), Version; the table in current_schema()
 *   migrate.go  runMigrations: SetVersion(target, dirty=true), run the body,
 *     SetVersion(target, false); a down's target is the version before, or
 *     nil (the table emptied) below the first
 * ferry writes the last SetVersion only: inside the step's transaction the
 * dirty row between the two would never be seen.
 */
#include "history.h"

#include "../util/alloc.h"

#include <string.h>

/* database/sqlite3/sqlite3.go, ensureVersionTable. */
#define DDL_SQLITE "\n\tCREATE TABLE IF NOT EXISTS schema_migrations " \
	"(version uint64,dirty bool);\n" \
	"  CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version);\n  "
/* database/postgres/postgres.go, ensureVersionTable (schema: current_schema()). */
#define DDL_PG "CREATE TABLE IF NOT EXISTS \"schema_migrations\" " \
	"(version bigint not null primary key, dirty boolean not null)"

/* golang-migrate's schema_migrations has a `dirty` column; dbmate's has not. */
static int gm_present(fr_db *db, int *yes, fr_buf *err)
{
	return fr_history_table_with(db, "schema_migrations", "dirty", 1, yes, err);
}

static int gm_row(void *arg, const fr_val *cols, size_t n)
{
	fr_history_reader *r = arg;
	if (n < 2 || cols[0].type == FR_VAL_NULL || r->h->upto)
		return 0;
	if (!(r->h->upto = fr_history_text(&cols[0]))) {
		r->err->oom = 1;
		return -1;
	}
	r->h->upto_failed = fr_history_bool(&cols[1]);
	return 0;
}

static int gm_read(fr_db *db, fr_history *out, fr_buf *err)
{
	fr_history_reader r = { out, err };
	/* database/postgres/postgres.go, Version. */
	if (fr_history_read_rows(db, gm_present, "SELECT version, dirty FROM "
	                         "\"schema_migrations\" LIMIT 1", gm_row, &r, out, err))
		return -1;
	/*
	 * The nil version (-1) kept dirty: a down of the first migration failed
	 * half way. No version is applied, and the table stays dirty.
	 */
	if (out->upto && !strcmp(out->upto, "-1"))
		FR_FREE(out->upto);
	return 0;
}

/* SetVersion(version, false); version NULL is nil: the table emptied. */
static int set_version(fr_db *db, const char *version, fr_buf *err)
{
	fr_val p[2] = { { .type = FR_VAL_INT }, { .type = FR_VAL_INT, .i = 0 } };
	int pg = fr_history_is_pg(db);
	if (version && fr_history_int_version("golang-migrate", version, &p[0], err))
		return -1;
	if (db->drv->exec(db, pg ? DDL_PG : DDL_SQLITE, NULL, err))
		return -1;
	if (fr_history_run(db, pg ? "TRUNCATE \"schema_migrations\""
	                          : "DELETE FROM schema_migrations", NULL, 0, err))
		return -1;
	if (!version)
		return 0;
	return fr_history_run(db, "INSERT INTO schema_migrations (version, dirty) VALUES ($1, $2)",
	                      p, 2, err);
}

static int gm_record(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	return set_version(db, e->version, err);
}

static int gm_unrecord(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	return set_version(db, e->prev_version, err);
}

const fr_history_tool fr_history_golang_migrate = {
	.name = "golang-migrate",
	.table = "schema_migrations",
	.present = gm_present,
	.read = gm_read,
	.record = gm_record,
	.unrecord = gm_unrecord,
	.checksum = fr_history_no_checksum,
};
