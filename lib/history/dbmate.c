/*
 * dbmate.c - dbmate's schema_migrations: one column, the version string
 * of each applied migration (the leading digits of its file name).
 *
 * dbmate (github.com/amacneil/dbmate, commit f3e08f1):
 *   pkg/driver/sqlite/sqlite.go   CreateMigrationsTable, InsertMigration, DeleteMigration
 *   pkg/driver/postgres/postgres.go  the same; the table in current_schema()
 *     (or the url's search_path, or public), `version varchar primary key`
 * Up inserts the version, rollback deletes it; no checksum, no failure mark.
 */
#include "history.h"

#include "../util/alloc.h"

#include <string.h>

/* pkg/driver/sqlite/sqlite.go, CreateMigrationsTable (the name quoted by quoteIdentifier). */
#define DDL_SQLITE "create table if not exists \"schema_migrations\" " \
	"(version varchar(128) primary key)"
/* pkg/driver/postgres/postgres.go, CreateMigrationsTable: in current_schema(). */
#define DDL_PG "create table if not exists schema_migrations (version varchar primary key)"

typedef struct {
	fr_history *h;
	fr_buf *err;
} reader;

/* dbmate's schema_migrations has no `dirty` column; golang-migrate's has. */
static int dm_present(fr_db *db, int *yes, fr_buf *err)
{
	int dirty = 0;
	if (fr_history_table_exists(db, "schema_migrations", yes, err))
		return -1;
	if (*yes && fr_history_has_column(db, "schema_migrations", "dirty", &dirty, err))
		return -1;
	*yes = *yes && !dirty;
	return 0;
}

static int dm_row(void *arg, const fr_val *cols, size_t n)
{
	reader *r = arg;
	char *v = fr_history_text(&cols[0]);
	int rc;
	if (!v) {
		if (cols[0].type == FR_VAL_NULL)
			return 0;
		r->err->oom = 1;
		return -1;
	}
	rc = fr_history_add(r->h, v, NULL, NULL, 0, r->err);
	fr_free(v);
	return rc;
}

static int dm_read(fr_db *db, fr_history *out, fr_buf *err)
{
	reader r = { out, err };
	int yes;
	fr_history_clear(out);
	if (dm_present(db, &yes, err))
		return -1;
	if (!yes)
		return 0;
	/* pkg/driver/sqlite/sqlite.go, SelectMigrations. */
	if (fr_db_query(db, "select version from schema_migrations order by version desc",
	                NULL, 0, dm_row, &r, err)) {
		fr_history_clear(out);
		return -1;
	}
	return 0;
}

static int dm_record(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	fr_val v = { .type = FR_VAL_TEXT, .p = e->version, .len = strlen(e->version) };
	if (fr_history_run(db, fr_history_is_pg(db) ? DDL_PG : DDL_SQLITE, NULL, 0, err))
		return -1;
	return fr_history_run(db, "insert into schema_migrations (version) values ($1)", &v, 1,
	                      err);
}

static int dm_unrecord(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	fr_val v = { .type = FR_VAL_TEXT, .p = e->version, .len = strlen(e->version) };
	return fr_history_run(db, "delete from schema_migrations where version = $1", &v, 1, err);
}

static int dm_checksum(const char *text, size_t len, fr_buf *out, fr_buf *err)
{
	return 0;
}

const fr_history_tool fr_history_dbmate = {
	.name = "dbmate",
	.table = "schema_migrations",
	.present = dm_present,
	.read = dm_read,
	.record = dm_record,
	.unrecord = dm_unrecord,
	.checksum = dm_checksum,
};
