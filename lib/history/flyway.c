/*
 * flyway.c - Flyway's flyway_schema_history: a log of rows ranked by
 * installed_rank, each with its version (NULL for a repeatable), type,
 * script, CRC-32 checksum, who, when, how long and whether it succeeded.
 * The latest row of a version (or of a repeatable's description) decides
 * it: an UNDO_* or DELETE row undoes it, success = false marks it failed,
 * a BASELINE row makes every version up to its own count as applied, and
 * the SCHEMA row (the schema Flyway created) is no migration.
 *
 * Flyway (github.com/flyway/flyway, commit c5e20fc, flyway-core 11):
 *   flyway-core/.../database/sqlite/SQLiteDatabase.java  getRawCreateScript
 *     (the table in schema "main"), doGetCurrentUser: ""
 *   flyway-database/flyway-database-postgresql/.../PostgreSQLDatabase.java
 *     getRawCreateScript (in the current schema), doGetCurrentUser: current_user
 *   flyway-core/.../database/base/Database.java  getInsertStatement
 *   flyway-core/.../schemahistory/SchemaHistory.java  addAppliedMigration
 *     (AbbreviationUtils: description 200, script 1000), calculateInstalledRank
 *     (the last rank + 1; 1 for the first)
 *   flyway-core/.../schemahistory/JdbcTableSchemaHistory.java  doAddAppliedMigration
 *   flyway-core/.../resolver/ChecksumCalculator.java  the CRC-32 of each line
 *     (BufferedReader.readLine: without its \n, \r or \r\n) as UTF-8, the
 *     first line without its byte order mark, as a signed int
 *   flyway-core/.../api/CoreMigrationType.java  SCHEMA, BASELINE, DELETE, SQL,
 *     UNDO_SCRIPT (undo types); Flyway Teams' `flyway undo` of a U file adds a
 *     row of type UNDO_SQL with the undone version, the U file as script and
 *     its checksum (documentation/Reference/Exit codes and error codes/
 *     Validate error codes.md names the type): ferry's undo writes that row
 */
#include "history.h"

#include "../util/alloc.h"

#include <stdint.h>
#include <string.h>

/* SQLiteDatabase.java, getRawCreateScript (table "main"."flyway_schema_history"). */
#define DDL_SQLITE "CREATE TABLE \"main\".\"flyway_schema_history\" (\n" \
	"    \"installed_rank\" INT NOT NULL PRIMARY KEY,\n" \
	"    \"version\" VARCHAR(50),\n" \
	"    \"description\" VARCHAR(200) NOT NULL,\n" \
	"    \"type\" VARCHAR(20) NOT NULL,\n" \
	"    \"script\" VARCHAR(1000) NOT NULL,\n" \
	"    \"checksum\" INT,\n" \
	"    \"installed_by\" VARCHAR(100) NOT NULL,\n" \
	"    \"installed_on\" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),\n" \
	"    \"execution_time\" INT NOT NULL,\n" \
	"    \"success\" BOOLEAN NOT NULL\n" \
	");\n" \
	"CREATE INDEX \"main\".\"flyway_schema_history_s_idx\" ON \"flyway_schema_history\" " \
	"(\"success\");"
/* PostgreSQLDatabase.java, getRawCreateScript, no tablespace (in current_schema()). */
#define DDL_PG "CREATE TABLE \"flyway_schema_history\" (\n" \
	"    \"installed_rank\" INT NOT NULL,\n" \
	"    \"version\" VARCHAR(50),\n" \
	"    \"description\" VARCHAR(200) NOT NULL,\n" \
	"    \"type\" VARCHAR(20) NOT NULL,\n" \
	"    \"script\" VARCHAR(1000) NOT NULL,\n" \
	"    \"checksum\" INTEGER,\n" \
	"    \"installed_by\" VARCHAR(100) NOT NULL,\n" \
	"    \"installed_on\" TIMESTAMP NOT NULL DEFAULT now(),\n" \
	"    \"execution_time\" INTEGER NOT NULL,\n" \
	"    \"success\" BOOLEAN NOT NULL\n" \
	");\n" \
	"ALTER TABLE \"flyway_schema_history\" ADD CONSTRAINT \"flyway_schema_history_pk\" " \
	"PRIMARY KEY (\"installed_rank\");\n" \
	"CREATE INDEX \"flyway_schema_history_s_idx\" ON \"flyway_schema_history\" (\"success\");"

/* Database.java, getInsertStatement; installed_by is the database's current user. */
#define INSERT_HEAD "INSERT INTO \"flyway_schema_history\" (\"installed_rank\", \"version\", " \
	"\"description\", \"type\", \"script\", \"checksum\", \"installed_by\", " \
	"\"execution_time\", \"success\") VALUES ($1, $2, $3, $4, $5, $6, "
#define INSERT_PG INSERT_HEAD "current_user, $7, $8)"
#define INSERT_SQLITE INSERT_HEAD "'', $7, $8)"

/* ---- the checksum ---- */

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	size_t i;
	int k;
	crc = ~crc;
	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/*
 * ChecksumCalculator: the lines' bytes without their ends, one after the
 * other into one CRC-32: the file's bytes with every CR and LF left out.
 */
static int32_t flyway_crc(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	uint32_t crc = 0;
	if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		p += 3;
	while (p < end) {
		const unsigned char *q = p;
		while (q < end && *q != '\r' && *q != '\n')
			q++;
		crc = crc32_update(crc, p, (size_t)(q - p));
		p = q;
		while (p < end && (*p == '\r' || *p == '\n'))
			p++;
	}
	return (int32_t)crc;
}

static int fw_checksum(const char *text, size_t len, fr_buf *out, fr_buf *err)
{
	if (fr_buf_printf(out, "%ld", (long)flyway_crc(text, len)) < 0 || out->oom) {
		err->oom = 1;
		return -1;
	}
	return 0;
}

/* ---- reading ---- */

typedef struct {
	fr_history *h;
	fr_buf *err;
	fr_history seen; /* versions (or repeatables) whose latest row was met */
} reader;

static int fw_present(fr_db *db, int *yes, fr_buf *err)
{
	return fr_history_table_exists(db, "flyway_schema_history", yes, err);
}

/* Rows newest first: the first row of a version (or repeatable) decides it. */
static int fw_row(void *arg, const fr_val *cols, size_t n)
{
	reader *r = arg;
	char *version = NULL, *desc = NULL, *type = NULL, *sum = NULL;
	int rc = -1;
	if (n < 5)
		return 0;
	version = fr_history_text(&cols[0]);
	desc = fr_history_text(&cols[1]);
	type = fr_history_text(&cols[2]);
	sum = fr_history_text(&cols[3]);
	if ((!version && cols[0].type != FR_VAL_NULL) || (!desc && cols[1].type != FR_VAL_NULL) ||
	    (!type && cols[2].type != FR_VAL_NULL) || (!sum && cols[3].type != FR_VAL_NULL)) {
		r->err->oom = 1;
		goto done;
	}
	rc = 0;
	if (!type || !strcmp(type, "SCHEMA") || (!version && !desc))
		goto done;
	if (fr_history_state(&r->seen, version, desc, NULL) != FR_HISTORY_PENDING)
		goto done;
	if ((rc = fr_history_add(&r->seen, version, version ? NULL : desc, NULL, 0, r->err)))
		goto done;
	if (!strcmp(type, "BASELINE")) {
		if (version && !r->h->upto && fr_history_bool(&cols[4]) &&
		    !(r->h->upto = fr_strdup(version))) {
			r->err->oom = 1;
			rc = -1;
		}
		goto done;
	}
	if (!strcmp(type, "DELETE") || !strncmp(type, "UNDO_", 5))
		goto done;
	rc = fr_history_add(r->h, version, desc, sum, !fr_history_bool(&cols[4]), r->err);
done:
	fr_free(version);
	fr_free(desc);
	fr_free(type);
	fr_free(sum);
	return rc;
}

static int fw_read(fr_db *db, fr_history *out, fr_buf *err)
{
	reader r = { out, err, FR_HISTORY_INIT };
	int rc = fr_history_read_rows(db, fw_present, "SELECT \"version\", \"description\", "
	                              "\"type\", \"checksum\", \"success\" FROM "
	                              "\"flyway_schema_history\" ORDER BY \"installed_rank\" DESC",
	                              fw_row, &r, out, err);
	fr_history_clear(&r.seen);
	return rc;
}

/* ---- writing ---- */

static int rank_row(void *arg, const fr_val *cols, size_t n)
{
	*(int64_t *)arg = n > 0 && cols[0].type == FR_VAL_INT ? cols[0].i : 1;
	return 0;
}

/* AbbreviationUtils: a description past 200 characters ends "...", a longer script starts so. */
static int abbreviate(fr_buf *b, const char *s, size_t max, int tail)
{
	size_t n = strlen(s);
	if (n <= max)
		return fr_buf_puts(b, s);
	if (tail) {
		fr_buf_puts(b, "...");
		return fr_buf_add(b, s + 3, max - 3);
	}
	fr_buf_add(b, s, max - 3);
	return fr_buf_puts(b, "...");
}

/* A text parameter of b's bytes (not copied). */
static fr_val buf_val(const fr_buf *b)
{
	fr_val v = { .type = FR_VAL_TEXT, .p = b->ptr, .len = b->len };
	return v;
}

/* addAppliedMigration: one row at the next rank, creating the table when missing. */
static int add_row(fr_db *db, const char *version, const char *desc, const char *type,
                   const char *script, const char *text, size_t len, int64_t ns, fr_buf *err)
{
	fr_buf d = FR_BUF_INIT, s = FR_BUF_INIT;
	fr_val p[8];
	int64_t rank = 1;
	int pg = fr_history_is_pg(db), yes, rc = -1;

	if (fw_present(db, &yes, err))
		return -1;
	if (!yes && db->drv->exec(db, pg ? DDL_PG : DDL_SQLITE, NULL, err))
		return -1;
	if (fr_db_query(db, "SELECT COALESCE(MAX(\"installed_rank\"), 0) + 1 "
	                "FROM \"flyway_schema_history\"", NULL, 0, rank_row, &rank, err))
		return -1;
	abbreviate(&d, desc ? desc : "", 200, 0);
	abbreviate(&s, script, 1000, 1);
	if (d.oom || s.oom) {
		err->oom = 1;
		goto done;
	}
	memset(p, 0, sizeof p);
	p[0] = fr_history_val_int(rank);
	if (version)
		p[1] = fr_history_val_text(version);
	p[2] = buf_val(&d);
	p[3] = fr_history_val_text(type);
	p[4] = buf_val(&s);
	p[5] = fr_history_val_int(flyway_crc(text ? text : "", text ? len : 0));
	p[6] = fr_history_val_int(ns / 1000000);
	p[7] = fr_history_val_int(1);
	rc = fr_history_run(db, pg ? INSERT_PG : INSERT_SQLITE, p, 8, err);
done:
	fr_buf_release(&d);
	fr_buf_release(&s);
	return rc;
}

static int fw_record(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	if (!e->script) {
		fr_buf_puts(err, "a Flyway history row needs the migration's file name");
		return -1;
	}
	return add_row(db, e->version, e->name, "SQL", e->script, e->text, e->len,
	               e->duration_ns, err);
}

static int fw_unrecord(fr_db *db, const fr_history_entry *e, fr_buf *err)
{
	if (!e->version || !e->undo_script) {
		fr_buf_printf(err, "Flyway undoes a versioned migration with its U file only "
		              "(version '%s')", e->version ? e->version : "none");
		return -1;
	}
	return add_row(db, e->version, e->undo_name ? e->undo_name : e->name, "UNDO_SQL",
	               e->undo_script, e->undo_text, e->undo_len, e->duration_ns, err);
}

const fr_history_tool fr_history_flyway = {
	.name = "flyway",
	.table = "flyway_schema_history",
	.present = fw_present,
	.read = fw_read,
	.record = fw_record,
	.unrecord = fw_unrecord,
	.checksum = fw_checksum,
};
