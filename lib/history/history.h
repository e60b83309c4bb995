/*
 * history.h - other migration tools' history tables, read and written as
 * each tool does (SPEC sections 2-3): dbmate's and golang-migrate's
 * schema_migrations, goose_db_version, flyway_schema_history,
 * __diesel_schema_migrations and _sqlx_migrations.
 *
 * One file per tool behind one struct (fr_history_tool), found by the name
 * of the folder layout it serves (lib/layout/). Every table definition is
 * the tool's own, per database, with the tool's source cited beside it.
 * record() and unrecord() write inside the caller's open transaction, so
 * the tool's table changes with the step or not at all; they create the
 * table first when it is missing, as the tool would.
 *
 * This room sees db.h and util only: it knows nothing of steps, plans or
 * the engine. The engine matches a step's tool_version / tool_name
 * (lib/step/step.h) against what read() gives, through fr_history_state().
 */
#ifndef FR_HISTORY_H
#define FR_HISTORY_H

#include "../db/db.h"
#include "../util/buf.h"

#include <stddef.h>
#include <stdint.h>

/* One migration a tool's table lists. Strings are owned by the fr_history. */
typedef struct {
	char *version;  /* the tool's id as the table writes it; NULL: a Flyway repeatable */
	char *name;     /* the description (Flyway, sqlx), or NULL when the table keeps none */
	char *checksum; /* as checksum() below spells it; NULL when the table keeps none */
	int failed;     /* the tool marks it failed (Flyway, sqlx success = false) */
} fr_history_row;

/* What a tool's table says: the rows it lists as applied (or failed). */
typedef struct {
	fr_history_row *rows;
	size_t n;
	/*
	 * A watermark: every version of the folder up to and including it
	 * counts as applied (golang-migrate's single row; Flyway's BASELINE
	 * row), compared by fr_history_cmp(). NULL: none.
	 */
	char *upto;
	/*
	 * golang-migrate's dirty = true: the watermark's own version failed half
	 * way (upto NULL: the down of the first one did). golang-migrate runs
	 * nothing while its table is dirty, and neither should the engine.
	 */
	int upto_failed;
	int sorted;      /* rows are in fr_history_sort's order: fr_history_state searches */
} fr_history;

#define FR_HISTORY_INIT { NULL, 0, NULL, 0, 0 }

/* What the engine tells record() and unrecord() of a step of the tool's folder. */
typedef struct {
	const char *version; /* the step's tool_version; NULL: a Flyway repeatable */
	const char *name;    /* the step's tool_name (Flyway's and sqlx's description) */
	const char *script;  /* the file's name, as Flyway's `script` column holds it */
	const char *text;    /* the up file's bytes, for its checksum (Flyway, sqlx) */
	size_t len;
	int64_t duration_ns; /* how long the step took (Flyway keeps ms, sqlx ns) */
	/*
	 * golang-migrate's unrecord(): the folder's version below this one,
	 * which becomes the table's row (NULL: none, the table is emptied).
	 */
	const char *prev_version;
	/* Flyway's unrecord(): the U file undone with (its name, bytes, description). */
	const char *undo_script;
	const char *undo_text;
	size_t undo_len;
	const char *undo_name;
} fr_history_entry;

/*
 * A tool. Every member is mandatory; each returns 0, or -1 with a message
 * appended to err (err->oom on out of memory).
 */
typedef struct fr_history_tool {
	const char *name;  /* the layout it serves: "dbmate", "goose", ... */
	const char *table; /* its table's name */
	/* *yes = 1 when db holds this tool's table (told from another tool's by its columns). */
	int (*present)(fr_db *db, int *yes, fr_buf *err);
	/* Fills *out (cleared first) with what the table lists; none without the table. */
	int (*read)(fr_db *db, fr_history *out, fr_buf *err);
	/* Writes that e was applied, in the caller's transaction; creates the table if missing. */
	int (*record)(fr_db *db, const fr_history_entry *e, fr_buf *err);
	/* Writes that e was undone, in the caller's transaction, as the tool's down does. */
	int (*unrecord)(fr_db *db, const fr_history_entry *e, fr_buf *err);
	/*
	 * Appends to out the tool's checksum of a file as read() spells the
	 * stored one (Flyway: its signed CRC-32 in decimal; sqlx: the SHA-384
	 * in hex); appends nothing when the tool keeps none.
	 */
	int (*checksum)(const char *text, size_t len, fr_buf *out, fr_buf *err);
} fr_history_tool;

extern const fr_history_tool fr_history_dbmate;
extern const fr_history_tool fr_history_goose;
extern const fr_history_tool fr_history_golang_migrate;
extern const fr_history_tool fr_history_flyway;
extern const fr_history_tool fr_history_diesel;
extern const fr_history_tool fr_history_sqlx;

/* The tool that serves the layout called name, or NULL (ferry's own layout has none). */
const fr_history_tool *fr_history_tool_find(const char *name);
/* The i-th tool of the table, NULL past the last. */
const fr_history_tool *fr_history_tool_at(size_t i);

/* Frees what h holds and makes it FR_HISTORY_INIT again; NULL is fine. */
void fr_history_clear(fr_history *h);

/* What a tool's table says of one migration (fr_history_state). */
enum {
	FR_HISTORY_PENDING = 0, /* not listed: to run */
	FR_HISTORY_APPLIED = 1, /* listed as applied (or under the watermark) */
	FR_HISTORY_FAILED = 2   /* listed as failed or dirty: the run stops */
};

/*
 * Sorts h's rows (by version, then a repeatable's name) so that
 * fr_history_state finds each in log time: the engine asks it of every
 * step of a folder at every start. A read gives each version once.
 */
void fr_history_sort(fr_history *h);

/*
 * The state of the migration with version (or, when version is NULL, the
 * Flyway repeatable called name) in h; *checksum (when not NULL) is set to
 * the stored checksum, or NULL when the table keeps none for it.
 */
int fr_history_state(const fr_history *h, const char *version, const char *name,
                     const char **checksum);

/*
 * Orders two tool versions: dot-separated runs of digits compared as
 * numbers part by part, a missing part being 0 ("1.10" > "1.9", "1.0" ==
 * "1", "007" == "7"); parts that are not all digits compare as text.
 */
int fr_history_cmp(const char *a, const char *b);

/* ---- for the tools' files (history.c) ---- */

/* 1 when db's driver speaks PostgreSQL (the tools' DDL differs by database). */
int fr_history_is_pg(const fr_db *db);
/* *yes = 1 when table exists: SQLite's main schema; PostgreSQL's current_schema(). */
int fr_history_table_exists(fr_db *db, const char *table, int *yes, fr_buf *err);
/* *yes = 1 when table has a column called column (same places as above). */
int fr_history_has_column(fr_db *db, const char *table, const char *column, int *yes,
                          fr_buf *err);
/* Adds a row to h (strings copied; NULL stays NULL). 0, or -1 with err->oom. */
int fr_history_add(fr_history *h, const char *version, const char *name, const char *checksum,
                   int failed, fr_buf *err);
/* A query's text column as a string: integers in decimal, NULL as NULL. fr_free it. */
char *fr_history_text(const fr_val *v);
/* A query's boolean column: SQLite 0/1 integers, PostgreSQL booleans, text 't'/'true'. */
int fr_history_bool(const fr_val *v);
/* Runs sql with params, ignoring any rows. */
int fr_history_run(fr_db *db, const char *sql, const fr_val *params, size_t n, fr_buf *err);
/*
 * *yes = 1 when table exists and has (has = 1) or has not (has = 0) the
 * column: how dbmate's schema_migrations and golang-migrate's tell apart.
 */
int fr_history_table_with(fr_db *db, const char *table, const char *column, int has, int *yes,
                          fr_buf *err);
/* What a tool's row function adds to: the rows into h, out of memory into err. */
typedef struct {
	fr_history *h;
	fr_buf *err;
} fr_history_reader;
/*
 * A tool's read: out is cleared, then, when present says the table is
 * there, each row of sql goes to row(arg, ...); a failure clears out again.
 */
int fr_history_read_rows(fr_db *db, int (*present)(fr_db *db, int *yes, fr_buf *err),
                         const char *sql, fr_db_row_fn row, void *arg, fr_history *out,
                         fr_buf *err);
/*
 * The read of a table of one version column (dbmate's, diesel's): out is
 * cleared, then, when present says the table is there, holds the first
 * column of each row of sql (NULL rows left out) in its order.
 */
int fr_history_read_versions(fr_db *db, int (*present)(fr_db *db, int *yes, fr_buf *err),
                             const char *sql, fr_history *out, fr_buf *err);
/* A text parameter of s (not copied), an integer parameter of i. */
fr_val fr_history_val_text(const char *s);
fr_val fr_history_val_int(int64_t i);
/* A version that the tool keeps as an integer, as a parameter; -1 with "<tool> version '...'". */
int fr_history_int_version(const char *tool, const char *s, fr_val *v, fr_buf *err);
/* The checksum of a tool that keeps none: out stays empty. */
int fr_history_no_checksum(const char *text, size_t len, fr_buf *out, fr_buf *err);

#endif
