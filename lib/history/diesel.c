/*
 * diesel.c - diesel's __diesel_schema_migrations: the version of each
 * applied migration (its folder name's text before the first `_`, dashes
 * removed: 2020-01-01-000000_x -> 20200101000000) and when it ran.
 *
 * diesel (github.com/diesel-rs/diesel, commit 04cc1b0):
 *   diesel/src/migration/setup_migration_table.sql  the table, one text for
 *     every backend (CREATE_MIGRATIONS_TABLE in diesel/src/migration/mod.rs),
 *     unqualified: PostgreSQL puts it in the search_path's first schema
 *   diesel_migrations/src/migration_harness.rs  run: insert the version (run_on
 *     defaults); revert: delete the row with that version
 * No checksum, no failure mark.
 */
#include "history.h"


/* diesel/src/migration/setup_migration_table.sql, as it is (SQLite and PostgreSQL). */
#define DDL "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (\n" \
	"       version VARCHAR(50) PRIMARY KEY NOT NULL,\n" \
	"       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n" \
	");\n"

static int ds_present(fr_db *db, int *yes, fr_buf *err)
{
	return fr_history_table_exists(db, "__diesel_schema_migrations", yes, err);
}

static int ds_read(fr_db *db, fr_history *out, fr_buf *err)
{
	/* migration_harness.rs, applied_migrations: the versions, newest first. */
	return fr_history_read_versions(db, ds_present, "SELECT version FROM "
	                                "__diesel_schema_migrations ORDER BY version DESC", out,
	                                err);
}

static int ds_record(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	fr_val v = fr_history_val_text(e->version);
	if (fr_history_run(db, DDL, NULL, 0, err))
		return -1;
	return fr_history_run(db, "INSERT INTO __diesel_schema_migrations (version) VALUES ($1)",
	                      &v, 1, err);
}

static int ds_unrecord(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	fr_val v = fr_history_val_text(e->version);
	return fr_history_run(db, "DELETE FROM __diesel_schema_migrations WHERE version = $1",
	                      &v, 1, err);
}

const fr_history_tool fr_history_diesel = {
	.name = "diesel",
	.table = "__diesel_schema_migrations",
	.present = ds_present,
	.read = ds_read,
	.record = ds_record,
	.unrecord = ds_unrecord,
	.checksum = fr_history_no_checksum,
};
