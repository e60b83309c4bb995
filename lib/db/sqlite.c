/*
 * sqlite.c - the SQLite driver (fr_db_sqlite), on SQLite 3.40.
 *
 * Promises:
 *  - the application's database keeps its journal mode; ferry sets only
 *    the busy timeout (5 s); foreign keys stay as SQLite's default (off),
 *    as in the sqlite3 shell, so a step that rebuilds a parent table
 *    (create, copy, drop, rename) does not cascade deletes into its
 *    children; `ferry verify` runs foreign_key_check afterwards;
 *  - begin() takes the write lock at once (BEGIN IMMEDIATE), so a group of
 *    steps never fails half-way on a lock another writer holds;
 *  - the record table ferry_steps is created by the first record_put() and
 *    never by a read; record_put() reuses prepared statements, so recording
 *    a step costs one INSERT (the engine records 1,000 steps in a loop);
 *  - in_tx follows SQLite's own state, so a transaction SQLite rolled back
 *    by itself (disk full, I/O error) is seen as closed.
 *
 * A database is one file: "sqlite:PATH" (relative to the installation),
 * "sqlite:/ABS", "sqlite:///ABS", or a bare name ending .db, .sqlite or
 * .sqlite3; conf->path is its absolute path, what scripts are given, and
 * where messages say it is.
 *
 * Driver calls return 0 or -1. exec() and query_bool() append SQLite's
 * message alone (the step kind adds the file and line); the other calls
 * name the database: "database 'NAME': what: message".
 */
#include "db.h"
#include "ferry.h"
#include "../util/alloc.h"
#include "../util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SQ_BUSY_TIMEOUT_MS 5000

#define SQ_CREATE \
	"CREATE TABLE IF NOT EXISTS ferry_steps (" \
	"id TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, checksum TEXT, kind TEXT, " \
	"from_version TEXT, to_version TEXT, status TEXT, undo TEXT, " \
	"applied_at_ms INTEGER, duration_ms INTEGER, run_id INTEGER) WITHOUT ROWID"
#define SQ_COLUMNS \
	"id, seq, checksum, kind, from_version, to_version, status, undo, " \
	"applied_at_ms, duration_ms, run_id"
#define SQ_PUT \
	"INSERT OR REPLACE INTO ferry_steps (" SQ_COLUMNS ") " \
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
#define SQ_MAXSEQ "SELECT coalesce(max(seq), 0) FROM ferry_steps"
#define SQ_EXISTS "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ferry_steps'"

typedef struct {
	fr_db base;            /* first, so an fr_db * is an sq_db * */
	sqlite3 *h;
	int errcode;           /* extended result code of the last failure */
	int have_table;        /* ferry_steps is known to exist on this connection */
	int64_t next_seq;      /* next seq to hand out; 0 = unknown (valid only in a tx) */
	sqlite3_stmt *put;     /* cached SQ_PUT */
	sqlite3_stmt *maxseq;  /* cached SQ_MAXSEQ */
} sq_db;

static const char *sq_name(const sq_db *d)
{
	return d->base.conf && d->base.conf->name ? d->base.conf->name : "?";
}

/* Appends "database 'NAME': what: <sqlite message>", keeps the code; returns -1. */
static int sq_fail(sq_db *d, fr_buf *err, const char *what)
{
	d->errcode = sqlite3_extended_errcode(d->h);
	fr_buf_printf(err, "database '%s': %s: %s", sq_name(d), what, sqlite3_errmsg(d->h));
	return -1;
}

/*
 * Brings in_tx in line with SQLite. A transaction that ended without our
 * commit() (rolled back by SQLite or by the script) may have taken the
 * record table with it, and the cached seq is stale either way.
 */
static void sq_sync_tx(sq_db *d)
{
	int open = !sqlite3_get_autocommit(d->h);
	if (d->base.in_tx && !open)
		d->have_table = 0;
	if (!open)
		d->next_seq = 0;
	d->base.in_tx = open;
}

/* Skips whitespace and SQL comments; returns where the next statement starts. */
static const char *sq_skip(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
		       *p == '\v')
			p++;
		if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			if (!end)
				return p; /* unterminated: let SQLite report it */
			p = end + 2;
		} else {
			return p;
		}
	}
}

static int sq_run(sq_db *d, const char *sql, const char *what, fr_buf *err)
{
	int rc = sqlite3_exec(d->h, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(d, err, what);
	return 0;
}

static void sq_close(fr_db *db)
{
	sq_db *d = (sq_db *)db;
	if (!d)
		return;
	sqlite3_finalize(d->put);
	sqlite3_finalize(d->maxseq);
	/* close_v2 rolls back an open transaction and never leaves the handle half-closed */
	sqlite3_close_v2(d->h);
	fr_free(d);
}

static int sq_open(fr_db **out, const fr_dbconf *conf, fr_buf *err)
{
	sq_db *d = NULL;
	const char *name = conf->name ? conf->name : "?";
	int rc, ret = -1;

	*out = NULL;
	if (!conf->path || !*conf->path) {
		fr_buf_printf(err, "database '%s': no file path for sqlite", name);
		goto done;
	}
	d = fr_calloc(1, sizeof *d);
	if (!d) {
		fr_buf_printf(err, "database '%s': out of memory", name);
		goto done;
	}
	d->base.drv = &fr_db_sqlite;
	d->base.conf = conf;
	rc = sqlite3_open_v2(conf->path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_extended_result_codes(d->h, 1);
		sqlite3_busy_timeout(d->h, SQ_BUSY_TIMEOUT_MS);
		/* Reading the schema now reports a missing folder or a non-database file here. */
		rc = sqlite3_exec(d->h, "SELECT count(*) FROM sqlite_master",
		                  NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		fr_buf_printf(err, "database '%s' at '%s': %s", name, conf->path,
		              d->h ? sqlite3_errmsg(d->h) : sqlite3_errstr(rc));
		goto done;
	}
	*out = &d->base;
	d = NULL;
	ret = 0;
done:
	if (d) {
		sqlite3_close_v2(d->h);
		fr_free(d);
	}
	return ret;
}

static int sq_begin(fr_db *db, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': a transaction is already open", sq_name(d));
		return -1;
	}
	if (sq_run(d, "BEGIN IMMEDIATE", "cannot begin a transaction", err)) {
		sq_sync_tx(d);
		return -1;
	}
	d->next_seq = 0;
	db->in_tx = 1;
	return 0;
}

static int sq_commit(fr_db *db, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	int ret = 0;
	if (!db->in_tx) {
		fr_buf_printf(err, "database '%s': no transaction to commit", sq_name(d));
		return -1;
	}
	if (sq_run(d, "COMMIT", "cannot commit", err))
		ret = -1; /* SQLite may keep the transaction open (busy): sync tells */
	else
		db->in_tx = 0; /* committed: the table, if created, stays */
	sq_sync_tx(d);
	return ret;
}

static int sq_rollback(fr_db *db, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	int ret = 0;
	if (sqlite3_get_autocommit(d->h)) {
		sq_sync_tx(d); /* already rolled back by SQLite: nothing to do */
		return 0;
	}
	if (sq_run(d, "ROLLBACK", "cannot roll back", err))
		ret = -1;
	sq_sync_tx(d);
	return ret;
}

static int sq_exec(fr_db *db, const char *sql, size_t *err_offset, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	sqlite3_stmt *st = NULL;
	const char *p = sql, *tail = NULL;
	int rc, ret = -1;

	while (*(p = sq_skip(p))) {
		rc = sqlite3_prepare_v2(d->h, p, -1, &st, &tail);
		if (rc == SQLITE_OK && st) {
			while ((rc = sqlite3_step(st)) == SQLITE_ROW)
				;
			if (rc == SQLITE_DONE)
				rc = SQLITE_OK;
		}
		if (rc != SQLITE_OK) {
			d->errcode = sqlite3_extended_errcode(d->h);
			fr_buf_puts(err, sqlite3_errmsg(d->h));
			if (err_offset)
				*err_offset = (size_t)(p - sql);
			goto done;
		}
		sqlite3_finalize(st);
		st = NULL;
		if (!tail || tail <= p) { /* SQLite made no progress: never loop, never skip silently */
			fr_buf_puts(err, "cannot parse the rest of the script");
			if (err_offset)
				*err_offset = (size_t)(p - sql);
			goto done;
		}
		p = tail;
	}
	ret = 0;
done:
	sqlite3_finalize(st);
	sq_sync_tx(d);
	return ret;
}

/* SQLite's words for text that does not parse (as against names it cannot resolve). */
static int sq_syntax_error(const char *msg)
{
	return strstr(msg, "syntax error") || !strncmp(msg, "incomplete input", 16) ||
	       !strncmp(msg, "unrecognized token", 18);
}

/* The end of the statement starting at p: past the first ';' that completes it. */
static const char *sq_stmt_end(const char *p)
{
	fr_buf b = FR_BUF_INIT;
	const char *q = p, *end = p + strlen(p);
	while ((q = strchr(q, ';'))) {
		q++;
		fr_buf_reset(&b);
		if (fr_buf_add(&b, p, (size_t)(q - p)))
			break;
		if (sqlite3_complete(b.ptr)) {
			end = q;
			break;
		}
	}
	fr_buf_release(&b);
	return end;
}

/*
 * Each statement prepared and finalized, never stepped: preparing reads
 * the schema and writes nothing. A statement that does not prepare for a
 * name it cannot resolve (a table an earlier statement creates) is passed
 * over; only the parser's own errors count.
 */
static int sq_parse(fr_db *db, const char *sql, size_t *err_offset, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	sqlite3_stmt *st = NULL;
	const char *p = sql, *tail = NULL;
	int rc;

	while (*(p = sq_skip(p))) {
		tail = NULL;
		rc = sqlite3_prepare_v2(d->h, p, -1, &st, &tail);
		sqlite3_finalize(st);
		st = NULL;
		if (rc != SQLITE_OK) {
			const char *msg = sqlite3_errmsg(d->h);
			int at = sqlite3_error_offset(d->h);
			if (sq_syntax_error(msg)) {
				fr_buf_puts(err, msg);
				if (err_offset)
					*err_offset = (size_t)(p - sql) + (at > 0 ? (size_t)at : 0);
				return 1;
			}
			tail = sq_stmt_end(p);
		}
		if (!tail || tail <= p)
			break; /* no progress: what is left cannot be told apart */
		p = tail;
	}
	return 0;
}

/* Truth of a text value: "", "0", "f", "false", "no", "off" are false. */
static int sq_text_true(const char *s)
{
	static const char *const no[] = { "", "0", "f", "false", "n", "no", "off", NULL };
	size_t i;
	for (i = 0; no[i]; i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return 1;
}

static int sq_query_bool(fr_db *db, const char *sql, int *out, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	int rc, ret = -1;

	*out = -1;
	rc = sqlite3_prepare_v2(d->h, sql, -1, &st, &tail);
	if (rc != SQLITE_OK)
		goto fail;
	if (!st) {
		fr_buf_puts(err, "empty query");
		goto done;
	}
	if (tail && *sq_skip(tail)) {
		fr_buf_puts(err, "expected one query, found more statements after it");
		goto done;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = 0;
		goto done;
	}
	if (rc != SQLITE_ROW)
		goto fail;
	if (sqlite3_column_count(st) < 1) {
		*out = 0;
	} else {
		switch (sqlite3_column_type(st, 0)) {
		case SQLITE_NULL:
			*out = 0;
			break;
		case SQLITE_INTEGER:
			*out = sqlite3_column_int64(st, 0) != 0;
			break;
		case SQLITE_FLOAT:
			*out = sqlite3_column_double(st, 0) != 0.0;
			break;
		case SQLITE_BLOB:
			*out = sqlite3_column_bytes(st, 0) > 0;
			break;
		default:
			*out = sq_text_true((const char *)sqlite3_column_text(st, 0));
			break;
		}
	}
	ret = 0;
	goto done;
fail:
	d->errcode = sqlite3_extended_errcode(d->h);
	fr_buf_puts(err, sqlite3_errmsg(d->h));
done:
	sqlite3_finalize(st);
	sq_sync_tx(d);
	return ret;
}

/* Binds query parameters, written $1, $2, ... (SQLite takes "$1" as a parameter's name). */
static int sq_bind(sq_db *d, sqlite3_stmt *st, const fr_val *params, size_t n, fr_buf *err)
{
	char name[24];
	size_t i;
	int at, rc = SQLITE_OK;
	if ((size_t)sqlite3_bind_parameter_count(st) != n) {
		fr_buf_printf(err, "the query takes %d parameters, %zu were given",
		              sqlite3_bind_parameter_count(st), n);
		return -1;
	}
	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		snprintf(name, sizeof name, "$%zu", i + 1);
		at = sqlite3_bind_parameter_index(st, name);
		if (at == 0) {
			fr_buf_printf(err, "the query has no parameter %s", name);
			return -1;
		}
		switch (params[i].type) {
		case FR_VAL_NULL:
			rc = sqlite3_bind_null(st, at);
			break;
		case FR_VAL_INT:
			rc = sqlite3_bind_int64(st, at, params[i].i);
			break;
		case FR_VAL_REAL:
			rc = sqlite3_bind_double(st, at, params[i].r);
			break;
		case FR_VAL_TEXT:
			rc = sqlite3_bind_text64(st, at, params[i].p, params[i].len, SQLITE_STATIC,
			                         SQLITE_UTF8);
			break;
		case FR_VAL_BLOB:
			rc = sqlite3_bind_blob64(st, at, params[i].p, params[i].len, SQLITE_STATIC);
			break;
		}
	}
	if (rc != SQLITE_OK) {
		d->errcode = rc;
		fr_buf_puts(err, sqlite3_errmsg(d->h));
		return -1;
	}
	return 0;
}

static int sq_query(fr_db *db, const char *sql, const fr_val *params, size_t nparams,
                    fr_db_row_fn row, void *arg, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	fr_val *cols = NULL;
	int rc, ret = -1, n = 0, i;

	rc = sqlite3_prepare_v2(d->h, sql, -1, &st, &tail);
	if (rc != SQLITE_OK)
		goto fail;
	if (!st) {
		fr_buf_puts(err, "empty query");
		goto done;
	}
	if (tail && *sq_skip(tail)) {
		fr_buf_puts(err, "expected one query, found more statements after it");
		goto done;
	}
	if (sq_bind(d, st, params, nparams, err))
		goto done;
	n = sqlite3_column_count(st);
	if (n > 0 && !(cols = fr_calloc((size_t)n, sizeof *cols))) {
		err->oom = 1;
		goto done;
	}
	for (i = 0; i < n; i++) {
		cols[i].name = sqlite3_column_name(st, i);
		cols[i].decl = sqlite3_column_decltype(st, i);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < n; i++) {
			fr_val *v = &cols[i];
			v->p = NULL;
			v->len = 0;
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_NULL:
				v->type = FR_VAL_NULL;
				break;
			case SQLITE_INTEGER:
				v->type = FR_VAL_INT;
				v->i = sqlite3_column_int64(st, i);
				break;
			case SQLITE_FLOAT:
				v->type = FR_VAL_REAL;
				v->r = sqlite3_column_double(st, i);
				break;
			case SQLITE_BLOB:
				v->type = FR_VAL_BLOB;
				v->p = sqlite3_column_blob(st, i);
				v->len = (size_t)sqlite3_column_bytes(st, i);
				if (!v->p)
					v->p = "";
				break;
			default:
				v->type = FR_VAL_TEXT;
				v->p = (const char *)sqlite3_column_text(st, i);
				v->len = (size_t)sqlite3_column_bytes(st, i);
				if (!v->p)
					v->p = "";
				break;
			}
		}
		if ((ret = row(arg, cols, (size_t)n)) != 0)
			goto done;
	}
	ret = -1;
	if (rc != SQLITE_DONE)
		goto fail;
	ret = 0;
	goto done;
fail:
	d->errcode = sqlite3_extended_errcode(d->h);
	fr_buf_puts(err, sqlite3_errmsg(d->h));
done:
	fr_free(cols);
	sqlite3_finalize(st);
	sq_sync_tx(d);
	return ret;
}

/* *yes = 1 when ferry_steps exists; trusts the per-connection cache when set. */
static int sq_table_exists(sq_db *d, int *yes, fr_buf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	*yes = 0;
	if (d->have_table) {
		*yes = 1;
		return 0;
	}
	if (sqlite3_prepare_v2(d->h, SQ_EXISTS, -1, &st, NULL) != SQLITE_OK)
		return sq_fail(d, err, "cannot read the schema");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*yes = 1;
	else if (rc != SQLITE_DONE) {
		sq_fail(d, err, "cannot read the schema");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	d->have_table = *yes;
	return 0;
}

/* A column as a new string; NULL stays NULL. -1 on out of memory. */
static int sq_col_dup(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char *t;
	*out = NULL;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return 0;
	t = sqlite3_column_text(st, i);
	if (!t)
		return -1; /* SQLite's own out of memory */
	*out = fr_strndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
	return *out ? 0 : -1;
}

static int sq_record_read(fr_db *db, fr_record **out, size_t *n, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	sqlite3_stmt *st = NULL;
	fr_record *v = NULL, *r;
	size_t len = 0, cap = 0;
	int rc, yes, ret = -1;

	*out = NULL;
	*n = 0;
	if (sq_table_exists(d, &yes, err))
		goto done;
	if (!yes) {
		ret = 0;
		goto done;
	}
	if (sqlite3_prepare_v2(d->h, "SELECT " SQ_COLUMNS " FROM ferry_steps ORDER BY seq, id",
	                       -1, &st, NULL) != SQLITE_OK) {
		sq_fail(d, err, "cannot read ferry_steps");
		goto done;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			fr_record *nv = fr_realloc(v, ncap * sizeof *nv);
			if (!nv)
				goto oom;
			v = nv;
			cap = ncap;
		}
		r = &v[len];
		memset(r, 0, sizeof *r);
		len++;
		if (sq_col_dup(st, 0, &r->id) || sq_col_dup(st, 2, &r->checksum) ||
		    sq_col_dup(st, 3, &r->kind) || sq_col_dup(st, 4, &r->from) ||
		    sq_col_dup(st, 5, &r->to) || sq_col_dup(st, 6, &r->status) ||
		    sq_col_dup(st, 7, &r->undo))
			goto oom;
		r->seq = sqlite3_column_int64(st, 1);
		r->applied_at_ms = sqlite3_column_int64(st, 8);
		r->duration_ms = sqlite3_column_int64(st, 9);
		r->run_id = sqlite3_column_int64(st, 10);
	}
	if (rc != SQLITE_DONE) {
		sq_fail(d, err, "cannot read ferry_steps");
		goto done;
	}
	*out = v;
	*n = len;
	v = NULL;
	ret = 0;
	goto done;
oom:
	fr_buf_printf(err, "database '%s': out of memory reading ferry_steps", sq_name(d));
done:
	fr_records_free(v, len);
	sqlite3_finalize(st);
	return ret;
}

static int sq_prepare_cached(sq_db *d, sqlite3_stmt **st, const char *sql, fr_buf *err)
{
	if (*st)
		return 0;
	if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return sq_fail(d, err, "cannot record the step");
	}
	return 0;
}

/*
 * The next seq: cached inside our transaction (BEGIN IMMEDIATE holds the
 * write lock, so only we write; a step's own SQL must not write ferry_steps),
 * read with max(seq) otherwise.
 */
static int sq_next_seq(sq_db *d, int64_t *seq, fr_buf *err)
{
	int rc;
	if (d->base.in_tx && d->next_seq > 0) {
		*seq = d->next_seq;
		return 0;
	}
	if (sq_prepare_cached(d, &d->maxseq, SQ_MAXSEQ, err))
		return -1;
	rc = sqlite3_step(d->maxseq);
	if (rc != SQLITE_ROW) {
		sq_fail(d, err, "cannot record the step");
		sqlite3_reset(d->maxseq);
		return -1;
	}
	*seq = sqlite3_column_int64(d->maxseq, 0) + 1;
	sqlite3_reset(d->maxseq);
	return 0;
}

static int sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int sq_record_put(fr_db *db, const fr_record *r, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	int64_t seq = r->seq;
	int rc, ret = -1;

	if (!d->have_table) {
		if (sq_run(d, SQ_CREATE, "cannot create ferry_steps", err))
			goto done;
		d->have_table = 1;
	}
	if (seq <= 0 && sq_next_seq(d, &seq, err))
		goto done;
	if (sq_prepare_cached(d, &d->put, SQ_PUT, err))
		goto done;
	rc = sq_bind_text(d->put, 1, r->id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(d->put, 2, seq);
	if (rc == SQLITE_OK)
		rc = sq_bind_text(d->put, 3, r->checksum);
	if (rc == SQLITE_OK)
		rc = sq_bind_text(d->put, 4, r->kind);
	if (rc == SQLITE_OK)
		rc = sq_bind_text(d->put, 5, r->from);
	if (rc == SQLITE_OK)
		rc = sq_bind_text(d->put, 6, r->to);
	if (rc == SQLITE_OK)
		rc = sq_bind_text(d->put, 7, r->status);
	if (rc == SQLITE_OK)
		rc = sq_bind_text(d->put, 8, r->undo);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(d->put, 9, r->applied_at_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(d->put, 10, r->duration_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(d->put, 11, r->run_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(d->put);
	if (rc != SQLITE_DONE) {
		sq_fail(d, err, "cannot record the step");
		goto done;
	}
	if (d->base.in_tx && seq >= d->next_seq)
		d->next_seq = seq + 1;
	ret = 0;
done:
	if (d->put) {
		sqlite3_reset(d->put);
		sqlite3_clear_bindings(d->put); /* the bound strings are the caller's */
	}
	sq_sync_tx(d);
	return ret;
}

static int sq_record_delete(fr_db *db, const char *id, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	sqlite3_stmt *st = NULL;
	int yes, ret = -1;

	if (sq_table_exists(d, &yes, err))
		goto done;
	if (!yes) {
		ret = 0;
		goto done;
	}
	if (sqlite3_prepare_v2(d->h, "DELETE FROM ferry_steps WHERE id = ?1", -1, &st, NULL) !=
	        SQLITE_OK ||
	    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(d, err, "cannot delete the record of a step");
		goto done;
	}
	ret = 0;
done:
	sqlite3_finalize(st);
	sq_sync_tx(d);
	return ret;
}

static int sq_integrity(fr_db *db, fr_buf *findings, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(d->h, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(st, 0);
		if (msg && strcmp(msg, "ok") != 0)
			fr_buf_printf(findings, "%s\n", msg);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;

	/* Columns: table, rowid (NULL for WITHOUT ROWID tables), parent, fkid. */
	if (sqlite3_prepare_v2(d->h, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *table = (const char *)sqlite3_column_text(st, 0);
		const char *parent = (const char *)sqlite3_column_text(st, 2);
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			fr_buf_printf(findings, "table %s row (without rowid) violates foreign key to %s\n",
			              table ? table : "?", parent ? parent : "?");
		else
			fr_buf_printf(findings, "table %s row %lld violates foreign key to %s\n",
			              table ? table : "?", (long long)sqlite3_column_int64(st, 1),
			              parent ? parent : "?");
	}
	if (rc != SQLITE_DONE)
		goto fail;
	ret = 0;
	goto done;
fail:
	sq_fail(d, err, "cannot check integrity");
done:
	sqlite3_finalize(st);
	return ret;
}

static int sq_errcode(fr_db *db)
{
	return db ? ((sq_db *)db)->errcode : 0;
}

/*
 * Copies every page between two connections in one backup step, so the
 * copy is one consistent read of the source (a writer in another process
 * waits, or in WAL mode goes on beside it) and the destination changes in
 * one transaction. Busy is retried twice more: each try already waits
 * through the connection's busy timeout.
 */
static int sq_copy_pages(sqlite3 *to, sqlite3 *from, sqlite3 **errh)
{
	sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
	int rc, tries = 0;
	*errh = to;
	if (!b)
		return sqlite3_errcode(to);
	for (;;) {
		rc = sqlite3_backup_step(b, -1);
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || ++tries > 2)
			break;
		sqlite3_sleep(100);
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	if (sqlite3_backup_finish(b) != SQLITE_OK && rc == SQLITE_OK)
		rc = sqlite3_errcode(to);
	if (rc != SQLITE_OK && sqlite3_errcode(to) == SQLITE_OK)
		*errh = from;
	return rc;
}

/*
 * A consistent copy of the database open at from in a new file at path
 * (mode 0600), for snapshot() and copy(); name is the database's, for the
 * message, and *errcode (when not NULL) gets SQLite's code of a failure.
 */
static int sq_copy_to_file(sqlite3 *from, const char *path, const char *name, int *errcode,
                           fr_buf *err)
{
	sqlite3 *to = NULL, *errh = NULL;
	int rc, ret = -1;
	/* A private file from the start, whatever the umask: SQLite opens it as it is. */
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			fr_buf_printf(err, "database '%s': cannot create '%s': %s", name, path,
			              strerror(errno));
			return -1;
		}
		close(fd);
	}
	rc = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE, NULL);
	/*
	 * The new file needs no journal and no fsync: a failed copy is removed,
	 * not rolled back, and a backup's copy is made durable once, as part
	 * of the archive that holds it (a rehearsal's needs not outlive it).
	 */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(to, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", NULL, NULL,
		                  NULL);
	if (rc == SQLITE_OK)
		rc = sq_copy_pages(to, from, &errh);
	else
		errh = to;
	if (rc != SQLITE_OK) {
		if (errcode)
			*errcode = rc;
		fr_buf_printf(err, "database '%s': cannot copy to '%s': %s", name, path,
		              errh ? sqlite3_errmsg(errh) : sqlite3_errstr(rc));
		goto done;
	}
	ret = 0;
done:
	if (to && sqlite3_close(to) != SQLITE_OK && ret == 0) {
		fr_buf_printf(err, "database '%s': cannot close '%s'", name, path);
		ret = -1;
	}
	return ret;
}

/* A consistent copy of the database in a new file at path (mode 0600); path NULL: can it. */
static int sq_snapshot(fr_db *db, const char *path, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	if (!path)
		return 0; /* the pre-flight: SQLite can always copy */
	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': cannot copy inside a transaction", sq_name(d));
		return -1;
	}
	return sq_copy_to_file(d->h, path, sq_name(d), &d->errcode, err);
}

/*
 * Replaces the whole content of the database with the copy at path, in one
 * write transaction of the destination: on failure it is left as it was.
 */
static int sq_restore(fr_db *db, const char *path, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	sqlite3 *from = NULL, *errh = NULL;
	int rc, ret = -1;
	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': cannot restore inside a transaction", sq_name(d));
		return -1;
	}
	rc = sqlite3_open_v2(path, &from, SQLITE_OPEN_READONLY, NULL);
	/*
	 * No fsync inside the copy: the journal still undoes a failed copy
	 * (it is in the page cache), and the restore syncs the filesystem once
	 * every database is back, before it reports success. The copy would
	 * otherwise sync the journal at every spill of the page cache.
	 */
	if (rc == SQLITE_OK) {
		sqlite3_stmt *st = NULL;
		char again[40];
		int sync = 2; /* FULL, SQLite's default */
		if (sqlite3_prepare_v2(d->h, "PRAGMA synchronous", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			sync = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		sqlite3_exec(d->h, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
		rc = sq_copy_pages(d->h, from, &errh);
		snprintf(again, sizeof again, "PRAGMA synchronous=%d", sync);
		sqlite3_exec(d->h, again, NULL, NULL, NULL);
	}
	else
		errh = from;
	if (rc != SQLITE_OK) {
		d->errcode = rc;
		fr_buf_printf(err, "database '%s': cannot restore from '%s': %s", sq_name(d), path,
		              errh ? sqlite3_errmsg(errh) : sqlite3_errstr(rc));
		goto done;
	}
	/* The schema changed under the cached statements and the record table may be gone. */
	sqlite3_finalize(d->put);
	sqlite3_finalize(d->maxseq);
	d->put = d->maxseq = NULL;
	d->have_table = 0;
	d->next_seq = 0;
	ret = 0;
done:
	sqlite3_close(from);
	sq_sync_tx(d);
	return ret;
}

/* The file and the three SQLite keeps beside it, whether they exist now or not. */
static int sq_files(const fr_dbconf *c, char ***out, size_t *n, fr_buf *err)
{
	static const char *const side[] = { "", "-wal", "-shm", "-journal" };
	char **v;
	size_t i;
	*out = NULL;
	*n = 0;
	if (!c->path || !*c->path)
		return 0;
	if (!(v = fr_calloc(4, sizeof *v)))
		goto oom;
	for (i = 0; i < 4; i++) {
		fr_buf b = FR_BUF_INIT;
		fr_buf_printf(&b, "%s%s", c->path, side[i]);
		if (!(v[i] = fr_buf_detach(&b))) {
			fr_strv_free(v, i);
			goto oom;
		}
	}
	*out = v;
	*n = 4;
	return 0;
oom:
	fr_buf_printf(err, "database '%s': out of memory", c->name ? c->name : "?");
	return -1;
}

/* A consistent copy of conf's file through a read-only connection of its own. */
static int sq_copy(const fr_dbconf *c, const char *dest, fr_buf *err)
{
	const char *name = c->name ? c->name : "?";
	sqlite3 *from = NULL;
	int rc, ret = -1;
	if (!c->path || !*c->path) {
		fr_buf_printf(err, "database '%s': no file path for sqlite", name);
		return -1;
	}
	rc = sqlite3_open_v2(c->path, &from, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(from, SQ_BUSY_TIMEOUT_MS);
		ret = sq_copy_to_file(from, dest, name, NULL, err);
	} else {
		fr_buf_printf(err, "database '%s': cannot open '%s': %s", name, c->path,
		              from ? sqlite3_errmsg(from) : sqlite3_errstr(rc));
	}
	sqlite3_close(from);
	return ret;
}

/* ---- where the database is: the url, the file ---- */

static int sq_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

static int sq_url_claims(const char *url)
{
	if (strncasecmp(url, "sqlite:", 7) == 0)
		return 2;
	if (sq_has_suffix(url, ".db") || sq_has_suffix(url, ".sqlite") ||
	    sq_has_suffix(url, ".sqlite3"))
		return 1;
	return 0;
}

static int sq_url_parse(fr_dbconf *c, const char *url, const char *root, fr_buf *err)
{
	const char *file = url;
	if (strncasecmp(url, "sqlite:", 7) == 0) {
		file = url + 7;
		if (strncmp(file, "///", 3) == 0) {
			file += 2;
		} else if (strncmp(file, "//", 2) == 0) {
			fr_buf_printf(err, "database url '%s' has a host part "
			              "(expected sqlite:PATH or sqlite:///ABSOLUTE/PATH)", url);
			return -1;
		}
		if (!*file) {
			fr_buf_printf(err, "database url '%s' has no path (expected sqlite:PATH)",
			              url);
			return -1;
		}
	}
	c->path = root ? fr_path_join(root, file) : fr_strdup(file);
	if (!c->path) {
		fr_buf_puts(err, "out of memory");
		err->oom = 1;
		return -1;
	}
	return 0;
}

static int sq_exists(const fr_dbconf *c)
{
	return c->path && fr_exists(c->path);
}

/* The file's folder: SQLite creates the file, not the folders above it. */
static int sq_prepare(const fr_dbconf *c, fr_buf *err)
{
	char *dir = c->path ? fr_strdup(c->path) : NULL;
	char *slash = dir ? strrchr(dir, '/') : NULL;
	int rc = 0;
	if (slash && slash != dir) {
		*slash = '\0';
		if (fr_mkdir_p(dir, 0755)) {
			fr_buf_printf(err, "database '%s': cannot create the folder '%s': %s",
			              c->name ? c->name : "?", dir, strerror(errno));
			rc = -1;
		}
	}
	fr_free(dir);
	return rc;
}

static int sq_writable(const fr_dbconf *c, fr_buf *err)
{
	if (!c->path || fr_writable(c->path))
		return 0;
	fr_buf_printf(err, "the database '%s' '%s' is not writable by this user: %s; nothing "
	                   "was changed (fix its permissions or run ferry as its owner)",
	              c->name ? c->name : "?", c->path, strerror(errno ? errno : EACCES));
	return FERRY_EINVALID;
}

static const char *sq_path(const fr_dbconf *c)
{
	return c->path;
}

/* ---- export and import ---- */

/* Appends a copy of s to the string array *v (of *n, room for *cap). */
static int sq_push_str(char ***v, size_t *n, size_t *cap, const char *s)
{
	char *c = fr_strdup(s ? s : "");
	if (!c || fr_grow(v, cap, *n + 1, sizeof **v)) {
		fr_free(c);
		return -1;
	}
	(*v)[(*n)++] = c;
	return 0;
}

/* t's columns (table_xinfo: generated and hidden ones left out) and the tables it references. */
static int sq_table_detail(sq_db *d, fr_db_table *t, fr_buf *err)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0, rcap = 0, i;
	int rc, ret = -1;
	rc = sqlite3_prepare_v2(d->h, "SELECT name, type, \"notnull\", pk, hidden "
	                              "FROM pragma_table_xinfo(?1) ORDER BY cid", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fr_db_column *c;
		if (sqlite3_column_int(st, 4) != 0)
			continue; /* generated (2, 3) or a virtual table's hidden column (1) */
		if (fr_grow(&t->cols, &cap, t->ncols + 1, sizeof *t->cols))
			goto oom;
		c = &t->cols[t->ncols++];
		memset(c, 0, sizeof *c);
		c->name = fr_strdup((const char *)sqlite3_column_text(st, 0));
		c->type = fr_strdup(sqlite3_column_text(st, 1) ?
		                    (const char *)sqlite3_column_text(st, 1) : "");
		c->notnull = sqlite3_column_int(st, 2) != 0;
		c->pk = sqlite3_column_int(st, 3);
		if (!c->name || !c->type)
			goto oom;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	rc = sqlite3_prepare_v2(d->h, "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *ref = (const char *)sqlite3_column_text(st, 0);
		int seen = !ref || !strcmp(ref, t->name);
		for (i = 0; i < t->nrefs && !seen; i++)
			seen = !strcmp(t->refs[i], ref);
		if (!seen && sq_push_str(&t->refs, &t->nrefs, &rcap, ref))
			goto oom;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	ret = 0;
	goto done;
oom:
	err->oom = 1;
	goto done;
fail:
	sq_fail(d, err, "cannot read the schema");
done:
	sqlite3_finalize(st);
	return ret;
}

static int sq_tables(fr_db *db, fr_db_table **out, size_t *n, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	sqlite3_stmt *st = NULL;
	fr_db_table *t = NULL;
	fr_buf q = FR_BUF_INIT;
	size_t cap = 0, nt = 0, i;
	int rc, ret = -1;
	*out = NULL;
	*n = 0;
	/* Virtual tables are their module's (shadow tables hold the rows); ferry's are left out. */
	rc = sqlite3_prepare_v2(d->h, "SELECT name FROM sqlite_master WHERE type = 'table' AND "
	                              "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND "
	                              "name <> 'ferry_steps' AND "
	                              "coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK) {
		sq_fail(d, err, "cannot read the schema");
		goto done;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fr_grow(&t, &cap, nt + 1, sizeof *t))
			goto oom;
		memset(&t[nt], 0, sizeof *t);
		t[nt].name = fr_strdup((const char *)sqlite3_column_text(st, 0));
		nt++;
		fr_buf_reset(&q);
		fr_db_put_ident(&q, t[nt - 1].name ? t[nt - 1].name : "");
		t[nt - 1].sql = fr_buf_detach(&q);
		if (!t[nt - 1].name || !t[nt - 1].sql)
			goto oom;
	}
	if (rc != SQLITE_DONE) {
		sq_fail(d, err, "cannot read the schema");
		goto done;
	}
	for (i = 0; i < nt; i++)
		if (sq_table_detail(d, &t[i], err))
			goto done;
	*out = t;
	*n = nt;
	t = NULL;
	ret = 0;
	goto done;
oom:
	err->oom = 1;
done:
	sqlite3_finalize(st);
	fr_buf_release(&q);
	fr_db_tables_free(t, nt);
	return ret;
}

/*
 * A read that sees one snapshot without taking the write lock (begin()'s
 * IMMEDIATE would hold the application's writers back for the whole
 * export): deferred, and a first read starts the snapshot.
 */
static int sq_read_begin(fr_db *db, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': a transaction is already open", sq_name(d));
		return -1;
	}
	if (sq_run(d, "BEGIN DEFERRED", "cannot begin a transaction", err) ||
	    sq_run(d, "SELECT count(*) FROM sqlite_master", "cannot read the schema", err)) {
		sq_sync_tx(d);
		return -1;
	}
	d->next_seq = 0;
	db->in_tx = 1;
	return 0;
}

/*
 * Foreign keys are checked at the commit: on for the import's connection
 * (outside a transaction, where the pragma works), deferred inside it.
 */
static int sq_write_begin(fr_db *db, fr_buf *err)
{
	sq_db *d = (sq_db *)db;
	if (!db->in_tx && sq_run(d, "PRAGMA foreign_keys = ON", "cannot check foreign keys", err))
		return -1;
	if (sq_begin(db, err))
		return -1;
	return sq_run(d, "PRAGMA defer_foreign_keys = ON", "cannot defer foreign keys", err);
}

static int sq_digits(const char *p, int n, int *out)
{
	int i, v = 0;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * "YYYY-MM-DD HH:MM:SS[.ffffff]" (or with a 'T') and a zone (+HH, +HH:MM,
 * +HHMM, Z) into UTC text without the zone, as an application that keeps
 * timestamps in SQLite writes them (CURRENT_TIMESTAMP is UTC). -1 when t
 * is not of that form.
 */
static int sq_utc_text(const char *t, size_t len, fr_buf *out)
{
	struct tm tm;
	time_t at;
	size_t i = 19, fend;
	int y, mo, dd, h, mi, se, oh = 0, om = 0, sign = 1;
	if (len < 19 || sq_digits(t, 4, &y) || t[4] != '-' || sq_digits(t + 5, 2, &mo) ||
	    t[7] != '-' || sq_digits(t + 8, 2, &dd) || (t[10] != ' ' && t[10] != 'T') ||
	    sq_digits(t + 11, 2, &h) || t[13] != ':' || sq_digits(t + 14, 2, &mi) ||
	    t[16] != ':' || sq_digits(t + 17, 2, &se))
		return -1;
	if (i < len && t[i] == '.')
		for (i++; i < len && t[i] >= '0' && t[i] <= '9'; i++)
			;
	fend = i;
	if (i < len && (t[i] == 'Z' || t[i] == 'z')) {
		i++;
	} else if (i < len && (t[i] == '+' || t[i] == '-')) {
		sign = t[i] == '-' ? -1 : 1;
		if (i + 3 > len || sq_digits(t + i + 1, 2, &oh))
			return -1;
		i += 3;
		if (i < len && t[i] == ':')
			i++;
		if (i + 2 <= len && !sq_digits(t + i, 2, &om))
			i += 2;
		if (i + 3 <= len && t[i] == ':') /* seconds of an old zone: rounded away */
			i += 3;
	}
	if (i != len)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = dd;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	at = timegm(&tm) - (time_t)sign * (oh * 3600 + om * 60);
	if (!gmtime_r(&at, &tm))
		return -1;
	fr_buf_printf(out, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	fr_buf_add(out, t + 19, fend - 19);
	return 0;
}

/* A timestamp with a zone (PostgreSQL's timestamptz) is kept as UTC text without one. */
static int sq_convert(const fr_db_column *to, const char *from_type, fr_val *v, fr_buf *scratch,
                      fr_buf *err)
{
	(void)to;
	if (v->type != FR_VAL_TEXT || !from_type ||
	    (strcmp(from_type, "timestamp with time zone") && strcmp(from_type, "timestamptz")))
		return 0;
	fr_buf_reset(scratch);
	if (sq_utc_text(v->p, v->len, scratch)) {
		fr_buf_printf(err, "'%.40s' is not a timestamp", v->p);
		return -1;
	}
	if (scratch->oom) {
		err->oom = 1;
		return -1;
	}
	v->p = scratch->ptr;
	v->len = scratch->len;
	return 0;
}

const fr_db_driver fr_db_sqlite = {
	.name = "sqlite",
	.caps = FR_DB_CAP_SNAPSHOT | FR_DB_CAP_FILES,
	.url_claims = sq_url_claims,
	.url_parse = sq_url_parse,
	.url_form = "sqlite:PATH",
	.exists = sq_exists,
	.prepare = sq_prepare,
	.writable = sq_writable,
	.script_value = sq_path,
	.describe = sq_path,
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.exec = sq_exec,
	.parse = sq_parse,
	.query_bool = sq_query_bool,
	.query = sq_query,
	.record_read = sq_record_read,
	.record_put = sq_record_put,
	.record_delete = sq_record_delete,
	.integrity = sq_integrity,
	.errcode = sq_errcode,
	.snapshot = sq_snapshot,
	.restore = sq_restore,
	.snapshot_ext = ".sqlite",
	.files = sq_files,
	.copy = sq_copy,
	.tables = sq_tables,
	.read_begin = sq_read_begin,
	.write_begin = sq_write_begin,
	.convert = sq_convert,
};
