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

/* pkg/driver/sqlite/sqlite.go, CreateMigrationsTable (the name quoted by quoteIdentifier). */
#define DDL_SQLITE "create table if not exists \"schema_migrations\" " \
	"(version varchar(128) primary key)"
/* pkg/driver/postgres/postgres.go, CreateMigrationsTable: in current_schema(). */
#define DDL_PG "create table if not exists schema_migrations (version varchar primary key)"

/* dbmate's schema_migrations has no `dirty` column; golang-migrate's has. */
static int dm_present(fr_db *db, int *yes, fr_buf *err)
{
	return fr_history_table_with(db, "schema_migrations", "dirty", 0, yes, err);
}

static int dm_read(fr_db *db, fr_history *out, fr_buf *err)
{
	/* pkg/driver/sqlite/sqlite.go, SelectMigrations. */
	return fr_history_read_versions(db, dm_present, "select version from schema_migrations "
	                                "order by version desc", out, err);
}

static int dm_record(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	fr_val v = fr_history_val_text(e->version);
	if (fr_history_run(db, fr_history_is_pg(db) ? DDL_PG : DDL_SQLITE, NULL, 0, err))
		return -1;
	return fr_history_run(db, "insert into schema_migrations (version) values ($1)", &v, 1,
	                      err);
}

static int dm_unrecord(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	fr_val v = fr_history_val_text(e->version);
	return fr_history_run(db, "delete from schema_migrations where version = $1", &v, 1, err);
}

const fr_history_tool fr_history_dbmate = {
	.name = "dbmate",
	.table = "schema_migrations",
	.present = dm_present,
	.read = dm_read,
	.record = dm_record,
	.unrecord = dm_unrecord,
	.checksum = fr_history_no_checksum,
};
