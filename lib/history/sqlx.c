/*
 * sqlx.c - sqlx's _sqlx_migrations: one row per applied migration with
 * its version, description, SHA-384 checksum of the up file's text,
 * whether it succeeded and how long it took in nanoseconds.
 *
 * sqlx (github.com/launchbadge/sqlx, commit 9d6bf66):
 *   sqlx-sqlite/src/migrate.rs  ensure_migrations_table, dirty_version
 *     (success = false), apply: INSERT ... (TRUE, checksum, -1), then UPDATE
 *     execution_time = elapsed.as_nanos(); revert: DELETE the version
 *   sqlx-postgres/src/migrate.rs  the same, TIMESTAMPTZ and BYTEA; the table
 *     unqualified (the search_path's first schema)
 *   sqlx-core/src/migrate/migration.rs  checksum: Sha384::digest of the sql
 * read() spells a checksum as lowercase hex, as checksum() does.
 */
#include "history.h"

#include "../util/alloc.h"
#include "../util/hash.h"

#include <string.h>

/* sqlx-sqlite/src/migrate.rs, ensure_migrations_table. */
#define DDL_SQLITE "\nCREATE TABLE IF NOT EXISTS _sqlx_migrations (\n" \
	"    version BIGINT PRIMARY KEY,\n" \
	"    description TEXT NOT NULL,\n" \
	"    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n" \
	"    success BOOLEAN NOT NULL,\n" \
	"    checksum BLOB NOT NULL,\n" \
	"    execution_time BIGINT NOT NULL\n" \
	");\n                "
/* sqlx-postgres/src/migrate.rs, ensure_migrations_table. */
#define DDL_PG "\nCREATE TABLE IF NOT EXISTS _sqlx_migrations (\n" \
	"    version BIGINT PRIMARY KEY,\n" \
	"    description TEXT NOT NULL,\n" \
	"    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),\n" \
	"    success BOOLEAN NOT NULL,\n" \
	"    checksum BYTEA NOT NULL,\n" \
	"    execution_time BIGINT NOT NULL\n" \
	");\n                "

/* The SHA-384 sqlx keeps as a checksum (migration.rs: Sha384::digest of the sql). */
static int sha384(const char *text, size_t len, unsigned char md[48], fr_buf *err)
{
	if (fr_sha384(text, len, md)) {
		fr_buf_printf(err, "cannot compute sqlx's SHA-384: %s",
		              fr_crypto_error() ? fr_crypto_error() : "libcrypto failed");
		return -1;
	}
	return 0;
}

static int sx_present(fr_db *db, int *yes, fr_buf *err)
{
	return fr_history_table_exists(db, "_sqlx_migrations", yes, err);
}

static int sx_row(void *arg, const fr_val *cols, size_t n)
{
	fr_history_reader *r = arg;
	char *version, *desc, *sum = NULL;
	int rc = -1;
	if (n < 4 || cols[0].type == FR_VAL_NULL)
		return 0;
	version = fr_history_text(&cols[0]);
	desc = fr_history_text(&cols[1]);
	if (cols[2].type == FR_VAL_BLOB && (sum = fr_malloc(2 * cols[2].len + 1)) != NULL)
		fr_hex((const unsigned char *)cols[2].p, cols[2].len, sum);
	if (!version || (!desc && cols[1].type != FR_VAL_NULL) ||
	    (!sum && cols[2].type == FR_VAL_BLOB))
		r->err->oom = 1;
	else
		rc = fr_history_add(r->h, version, desc, sum, !fr_history_bool(&cols[3]), r->err);
	fr_free(version);
	fr_free(desc);
	fr_free(sum);
	return rc;
}

static int sx_read(fr_db *db, fr_history *out, fr_buf *err)
{
	fr_history_reader r = { out, err };
	/* migrate.rs, list_applied_migrations (and dirty_version's success). */
	return fr_history_read_rows(db, sx_present, "SELECT version, description, checksum, "
	                            "success FROM _sqlx_migrations ORDER BY version", sx_row, &r,
	                            out, err);
}

static int sx_record(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	unsigned char md[48];
	fr_val p[3], u[2];
	const char *desc = e->name ? e->name : "";

	if (sha384(e->text ? e->text : "", e->text ? e->len : 0, md, err))
		return -1;
	memset(p, 0, sizeof p);
	if (fr_history_int_version("sqlx", e->version, &p[0], err))
		return -1;
	p[1] = fr_history_val_text(desc);
	p[2].type = FR_VAL_BLOB;
	p[2].p = (const char *)md;
	p[2].len = sizeof md;
	u[0] = fr_history_val_int(e->duration_ns);
	u[1] = p[0];
	if (fr_history_run(db, fr_history_is_pg(db) ? DDL_PG : DDL_SQLITE, NULL, 0, err))
		return -1;
	/* migrate.rs, execute_migration, then the execution_time it measured. */
	if (fr_history_run(db, "\n    INSERT INTO _sqlx_migrations ( version, description, success, "
	                   "checksum, execution_time )\n    VALUES ( $1, $2, TRUE, $3, -1 )\n",
	                   p, 3, err))
		return -1;
	return fr_history_run(db, "\n    UPDATE _sqlx_migrations\n    SET execution_time = $1\n"
	                      "    WHERE version = $2\n", u, 2, err);
}

static int sx_unrecord(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	fr_val v;
	if (fr_history_int_version("sqlx", e->version, &v, err))
		return -1;
	return fr_history_run(db, "\n    DELETE FROM _sqlx_migrations\n    WHERE version = $1\n",
	                      &v, 1, err);
}

static int sx_checksum(const char *text, size_t len, fr_buf *out, fr_buf *err)
{
	unsigned char md[48];
	char h[97];
	if (sha384(text, len, md, err))
		return -1;
	fr_hex(md, sizeof md, h);
	if (fr_buf_puts(out, h) < 0 || out->oom) {
		err->oom = 1;
		return -1;
	}
	return 0;
}

const fr_history_tool fr_history_sqlx = {
	.name = "sqlx",
	.table = "_sqlx_migrations",
	.present = sx_present,
	.read = sx_read,
	.record = sx_record,
	.unrecord = sx_unrecord,
	.checksum = sx_checksum,
};
