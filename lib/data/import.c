/*
 * import.c - ferry_import(): an export (data.h, docs/data.md) read into a
 * database whose schema is there already, in one transaction: every row or
 * none. The file is read twice, in memory that does not grow with it: once
 * for its header and table lines (where each table's rows start), then
 * table by table in the order the target's foreign keys need, each row
 * converted to its column's type (by the driver: convert) and inserted.
 * Whatever stops it (another application's file, a table or column the
 * database lacks, a table that holds rows, a value that does not convert)
 * is FERRY_EINVALID and leaves the database as it was.
 */
#include "data.h"
#include "../ferry_int.h"
#include "../util/alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
	char *name;
	json_t *cols;        /* the file's columns, as its table line has them */
	long long offset;    /* where its first row starts */
	long line;           /* the line of its first row */
	const fr_db_table *target;
	const fr_db_column **map; /* the target's column for each of the file's */
	size_t ncols;
	long long rows;
	int keep;            /* to import (opts->tables) */
} file_table;

typedef struct {
	ferry *f;
	FILE *fp;
	const char *path;
	unsigned long size;
	fr_buf line;
	long long offset;    /* of the next line */
	long lineno;         /* of the line last read */
	json_t *header;
	file_table *tables;
	size_t nt, cap;
	fr_db *db;
	fr_buf err;
	json_t *warnings;
} import_job;

/* The next line (without its newline) in x->line: 1, or 0 at the end of the file. */
static int next_line(import_job *x)
{
	int c;
	fr_buf_reset(&x->line);
	while ((c = getc_unlocked(x->fp)) != EOF && c != '\n')
		fr_buf_putc(&x->line, (char)c);
	if (c == EOF && x->line.len == 0)
		return 0;
	x->offset += (long long)x->line.len + (c == '\n');
	x->lineno++;
	return 1;
}

static int bad(import_job *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* FERRY_EINVALID with "import: 'FILE' line N: <fmt>". */
static int bad(import_job *x, const char *fmt, ...)
{
	fr_buf msg = FR_BUF_INIT;
	va_list ap;
	fr_buf_printf(&msg, "import: '%s' line %ld: ", x->path, x->lineno);
	va_start(ap, fmt);
	fr_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	fr_fail_msg(x->f, FERRY_EINVALID, msg.ptr);
	fr_buf_release(&msg);
	return FERRY_EINVALID;
}

static int is_control(const fr_buf *l, const char *key)
{
	size_t n = strlen(key);
	return l->len > n + 3 && l->ptr[0] == '{' && l->ptr[1] == '"' &&
	       !strncmp(l->ptr + 2, key, n) && l->ptr[2 + n] == '"';
}

/* The first pass: the header, each table's columns and where its rows start, the end line. */
static int read_outline(import_job *x)
{
	json_error_t je;
	json_t *j;
	const char *kind;
	int ended = 0;
	if (!next_line(x) || !(x->header = json_loadb(x->line.ptr, x->line.len, 0, &je)) ||
	    !(kind = json_string_value(json_object_get(x->header, "$ferry"))) ||
	    strcmp(kind, "export"))
		return bad(x, "not an export of ferry (its first line is no {\"$ferry\": \"export\"} "
		              "header)");
	if (json_integer_value(json_object_get(x->header, "format")) != FR_DATA_FORMAT)
		return bad(x, "an export in another format than %d, the one this ferry reads",
		           FR_DATA_FORMAT);
	while (next_line(x)) {
		file_table *t;
		if (ended)
			return bad(x, "a line after the {\"$end\"} line");
		if (is_control(&x->line, "$end")) {
			ended = 1;
			continue;
		}
		if (!is_control(&x->line, "$table")) {
			if (x->nt == 0)
				return bad(x, "a row before the first table line");
			x->tables[x->nt - 1].rows++;
			continue;
		}
		j = json_loadb(x->line.ptr, x->line.len, 0, &je);
		if (!j || !json_is_string(json_object_get(j, "$table")) ||
		    !json_is_array(json_object_get(j, "columns"))) {
			json_decref(j);
			return bad(x, "a table line without \"$table\" and \"columns\"");
		}
		if (fr_grow(&x->tables, &x->cap, x->nt + 1, sizeof *x->tables)) {
			json_decref(j);
			return fr_fail(x->f, FERRY_EFAILED, "out of memory");
		}
		t = &x->tables[x->nt++];
		memset(t, 0, sizeof *t);
		t->name = fr_strdup(json_string_value(json_object_get(j, "$table")));
		t->cols = json_incref(json_object_get(j, "columns"));
		t->ncols = json_array_size(t->cols);
		t->offset = x->offset;
		t->line = x->lineno + 1;
		t->keep = 1;
		json_decref(j);
		if (!t->name)
			return fr_fail(x->f, FERRY_EFAILED, "out of memory");
	}
	if (ferror(x->fp))
		return fr_fail(x->f, FERRY_EFAILED, "import: cannot read '%s': %s", x->path,
		               strerror(errno));
	if (!ended)
		return bad(x, "the file ends before its {\"$end\"} line: it was cut short");
	return 0;
}

static const char *col_name(const file_table *t, size_t k)
{
	return json_string_value(json_object_get(json_array_get(t->cols, k), "name"));
}

static const char *col_type(const file_table *t, size_t k)
{
	return json_string_value(json_object_get(json_array_get(t->cols, k), "type"));
}

/*
 * Each table to import against the target's: the table and every column of
 * the file must be there; a file of another version is then fine, with a
 * warning. The target's columns the file lacks get their defaults.
 */
static int map_tables(import_job *x, const fr_dbconf *c, const fr_db_table *tt, size_t ntt)
{
	size_t i, k, j;
	for (i = 0; i < x->nt; i++) {
		file_table *t = &x->tables[i];
		if (!t->keep)
			continue;
		t->target = fr_data_table(tt, ntt, t->name);
		if (!t->target)
			return fr_fail(x->f, FERRY_EINVALID, "import: database '%s' has no table '%s' "
			               "(line %ld of '%s'); nothing was imported", c->name, t->name,
			               t->line - 1, x->path);
		t->map = fr_calloc(t->ncols ? t->ncols : 1, sizeof *t->map);
		if (!t->map)
			return fr_fail(x->f, FERRY_EFAILED, "out of memory");
		for (k = 0; k < t->ncols; k++) {
			const char *name = col_name(t, k);
			for (j = 0; name && j < t->target->ncols; j++)
				if (!strcmp(t->target->cols[j].name, name))
					t->map[k] = &t->target->cols[j];
			if (!t->map[k])
				return fr_fail(x->f, FERRY_EINVALID, "import: table '%s' of database '%s' "
				               "has no column '%s'; nothing was imported", t->name, c->name,
				               name ? name : "?");
		}
	}
	return 0;
}

static int seen_row(void *arg, const fr_val *v, size_t n)
{
	(void)v;
	(void)n;
	*(int *)arg = 1;
	return 0;
}

/* After a failed insert (the transaction rolled back): the column whose value the type refuses. */
static const char *diagnose(import_job *x, const file_table *t, const fr_val *vals,
                            fr_buf *why)
{
	fr_buf sql = FR_BUF_INIT;
	size_t k;
	const char *hit = NULL;
	for (k = 0; k < t->ncols && !hit; k++) {
		int dummy = 0;
		if (vals[k].type == FR_VAL_NULL || !*t->map[k]->type)
			continue;
		fr_buf_reset(&sql);
		fr_buf_printf(&sql, "SELECT CAST($1 AS %s)", t->map[k]->type);
		fr_buf_reset(why);
		if (fr_db_query(x->db, sql.ptr, &vals[k], 1, seen_row, &dummy, why) != 0)
			hit = t->map[k]->name;
	}
	fr_buf_release(&sql);
	return hit;
}

/*
 * Rows go in batches, one INSERT of many rows each (a round trip a row is
 * what makes a PostgreSQL import slow), of at most this many rows and this
 * many parameters (SQLite's smallest limit).
 */
#define IMPORT_BATCH_ROWS 100
#define IMPORT_BATCH_PARAMS 999

typedef struct {
	size_t cap;          /* rows a batch holds */
	size_t m;            /* rows in it now */
	json_t **rows;       /* each row's object: its values point into it */
	long *lines;         /* each row's line in the file */
	long long first;     /* the table's number (from 1) of the batch's first row */
	fr_val *vals;        /* cap * ncols, row by row */
	fr_buf *bufs, *conv; /* each value's own (decoded bytes, converted text) */
	fr_buf full, sql;    /* the INSERT of cap rows; of fewer */
} batch;

static void batch_free(batch *b, size_t ncols)
{
	size_t k;
	for (k = 0; k < b->m; k++)
		json_decref(b->rows[k]);
	for (k = 0; b->bufs && b->conv && k < b->cap * ncols; k++) {
		fr_buf_release(&b->bufs[k]);
		fr_buf_release(&b->conv[k]);
	}
	fr_free(b->rows);
	fr_free(b->lines);
	fr_free(b->vals);
	fr_free(b->bufs);
	fr_free(b->conv);
	fr_buf_release(&b->full);
	fr_buf_release(&b->sql);
}

static int batch_init(batch *b, import_job *x, const file_table *t)
{
	size_t n = t->ncols ? t->ncols : 1, k;
	memset(b, 0, sizeof *b);
	fr_buf_init(&b->full);
	fr_buf_init(&b->sql);
	b->cap = IMPORT_BATCH_PARAMS / n;
	if (b->cap > IMPORT_BATCH_ROWS)
		b->cap = IMPORT_BATCH_ROWS;
	if (b->cap == 0)
		b->cap = 1;
	b->rows = fr_calloc(b->cap, sizeof *b->rows);
	b->lines = fr_calloc(b->cap, sizeof *b->lines);
	b->vals = fr_calloc(b->cap * n, sizeof *b->vals);
	b->bufs = fr_calloc(b->cap * n, sizeof *b->bufs);
	b->conv = fr_calloc(b->cap * n, sizeof *b->conv);
	if (!b->rows || !b->lines || !b->vals || !b->bufs || !b->conv)
		return fr_fail(x->f, FERRY_EFAILED, "out of memory");
	for (k = 0; k < b->cap * n; k++) {
		fr_buf_init(&b->bufs[k]);
		fr_buf_init(&b->conv[k]);
	}
	fr_db_insert_sql(x->db, t->target, t->map, t->ncols, b->cap, &b->full);
	return b->full.oom ? fr_fail(x->f, FERRY_EFAILED, "out of memory") : 0;
}

/* The line just read as the batch's next row, each value decoded and converted. */
static int batch_add(import_job *x, const file_table *t, batch *b, long long n)
{
	json_error_t je;
	json_t *row = json_loadb(x->line.ptr, x->line.len, JSON_ALLOW_NUL, &je);
	fr_val *vals = &b->vals[b->m * t->ncols];
	size_t k;
	if (!json_is_object(row)) {
		json_decref(row);
		return bad(x, "table '%s': a row that is no JSON object (%s)", t->name, je.text);
	}
	if (b->m == 0)
		b->first = n;
	b->rows[b->m] = row;
	b->lines[b->m++] = x->lineno;
	if (json_object_size(row) != t->ncols)
		return bad(x, "table '%s': a row whose keys are not the columns of the table line",
		           t->name);
	for (k = 0; k < t->ncols; k++) {
		json_t *j = json_object_get(row, col_name(t, k));
		size_t at = (b->m - 1) * t->ncols + k;
		fr_buf_reset(&x->err);
		if (!j || fr_data_get_value(j, &vals[k], &b->bufs[at], &x->err) ||
		    fr_db_convert(x->db, t->map[k], col_type(t, k), &vals[k], &b->conv[at],
		                  &x->err))
			return bad(x, "table '%s', row %lld, column '%s': %s; nothing was imported",
			           t->name, n, col_name(t, k), j ? x->err.ptr : "missing from the row");
	}
	return 0;
}

/*
 * The batch's rows into the database. When the database refuses them the
 * import's transaction is over: it is rolled back, and each row's values
 * are tried against their columns' types to name the row and column.
 */
static int batch_flush(import_job *x, const file_table *t, batch *b)
{
	fr_buf *sql = &b->full, why = FR_BUF_INIT, dberr = FR_BUF_INIT;
	const char *col = NULL;
	size_t r, k;
	int rc = 0, dummy = 0;
	if (b->m == 0)
		return 0;
	if (b->m < b->cap) {
		sql = &b->sql;
		fr_buf_reset(sql);
		fr_db_insert_sql(x->db, t->target, t->map, t->ncols, b->m, sql);
		if (sql->oom)
			return fr_fail(x->f, FERRY_EFAILED, "out of memory");
	}
	fr_buf_reset(&x->err);
	if (fr_db_query(x->db, sql->ptr, b->vals, b->m * t->ncols, seen_row, &dummy, &x->err)) {
		fr_buf_puts(&dberr, x->err.ptr);
		x->db->drv->rollback(x->db, &why);
		for (r = 0; r < b->m && !col; r++)
			col = diagnose(x, t, &b->vals[r * t->ncols], &why);
		x->lineno = b->lines[col ? r - 1 : 0];
		if (col)
			rc = bad(x, "table '%s', row %lld, column '%s': %s; nothing was imported",
			         t->name, b->first + (long long)r - 1, col, why.ptr);
		else if (b->m == 1)
			rc = bad(x, "table '%s', row %lld: %s; nothing was imported", t->name, b->first,
			         dberr.ptr);
		else
			rc = bad(x, "table '%s', rows %lld to %lld (to line %ld): %s; nothing was "
			            "imported", t->name, b->first, b->first + (long long)b->m - 1,
			         b->lines[b->m - 1], dberr.ptr);
	}
	for (k = 0; k < b->m; k++)
		json_decref(b->rows[k]);
	b->m = 0;
	fr_buf_release(&why);
	fr_buf_release(&dberr);
	return rc;
}

/* One table's rows, from where the first pass found them. */
static int import_table(import_job *x, file_table *t, int append)
{
	fr_buf sql = FR_BUF_INIT;
	batch b;
	long long n = 0;
	int rc, any = 0;

	memset(&b, 0, sizeof b);
	fr_buf_printf(&sql, "SELECT 1 FROM %s LIMIT 1", t->target->sql);
	if (!append && (fr_db_query(x->db, sql.ptr, NULL, 0, seen_row, &any, &x->err) || any)) {
		if (any)
			rc = fr_fail(x->f, FERRY_EINVALID, "import: table '%s' holds rows already "
			             "(--append adds to them); nothing was imported", t->name);
		else
			rc = fr_fail(x->f, FERRY_EFAILED, "import: table '%s': %s", t->name, x->err.ptr);
		goto done;
	}
	if ((rc = batch_init(&b, x, t)) != 0)
		goto done;
	if (fseeko(x->fp, (off_t)t->offset, SEEK_SET)) {
		rc = fr_fail(x->f, FERRY_EFAILED, "import: cannot read '%s' again: %s", x->path,
		             strerror(errno));
		goto done;
	}
	x->offset = t->offset;
	x->lineno = t->line - 1;
	while (next_line(x) && !is_control(&x->line, "$table") && !is_control(&x->line, "$end")) {
		if ((rc = batch_add(x, t, &b, ++n)) != 0 ||
		    (b.m == b.cap && (rc = batch_flush(x, t, &b)) != 0))
			goto done;
		if (x->f->progress && n % 1000 == 0)
			x->f->progress(x->f->progress_ctx, "import", (unsigned long)x->offset, x->size);
	}
	if ((rc = batch_flush(x, t, &b)) != 0)
		goto done;
	if (fr_db_after_import(x->db, t->target, &x->err)) {
		rc = fr_fail(x->f, FERRY_EFAILED, "import: table '%s': %s", t->name, x->err.ptr);
		goto done;
	}
	t->rows = n;
done:
	batch_free(&b, t->ncols ? t->ncols : 1);
	fr_buf_release(&sql);
	return rc;
}

/* Marks the tables opts names; FERRY_EINVALID for one the file does not hold. */
static int select_tables(import_job *x, const ferry_import_options *opts)
{
	size_t i, k;
	if (!opts || !opts->tables)
		return 0;
	for (i = 0; i < x->nt; i++)
		x->tables[i].keep = 0;
	for (k = 0; k < opts->ntables; k++) {
		for (i = 0; i < x->nt; i++)
			if (!strcmp(x->tables[i].name, opts->tables[k]))
				break;
		if (i == x->nt)
			return fr_fail(x->f, FERRY_EINVALID, "import: '%s' holds no table '%s'",
			               x->path, opts->tables[k]);
		x->tables[i].keep = 1;
	}
	return 0;
}

/* The header against this installation: another application's refused, another version warned. */
static int check_header(import_job *x)
{
	const char *app = json_string_value(json_object_get(x->header, "app"));
	const char *ver = json_string_value(json_object_get(x->header, "version"));
	char cur[FR_VERSION_STR_MAX];
	fr_version v;
	if (!app || strcmp(app, x->f->cfg->app))
		return fr_fail(x->f, FERRY_EINVALID, "import: '%s' is an export of application "
		               "'%s', and this installation is '%s'; nothing was imported", x->path,
		               app ? app : "?", x->f->cfg->app);
	if (fr_current(x->f, &v))
		memset(&v, 0, sizeof v);
	fr_version_format(&v, cur, sizeof cur);
	if (!ver || strcmp(ver, cur)) {
		fr_buf w = FR_BUF_INIT;
		fr_buf_printf(&w, "'%s' was exported at version %s and this installation is at %s: "
		                  "its tables and columns all exist here, so it is imported",
		              x->path, ver ? ver : "?", cur);
		fr_log(x->f, FERRY_LOG_WARN, NULL, "%s", w.ptr);
		json_array_append_new(x->warnings, json_string(w.ptr));
		fr_buf_release(&w);
	}
	return 0;
}

/* Which tables, in which order: the target's foreign keys decide. */
static int fill_order(import_job *x, size_t **out, size_t *n)
{
	fr_db_table *view = fr_calloc(x->nt ? x->nt : 1, sizeof *view);
	size_t *idx = fr_calloc(x->nt ? x->nt : 1, sizeof *idx);
	size_t *order = fr_calloc(x->nt ? x->nt : 1, sizeof *order);
	size_t i, k = 0;
	if (!view || !idx || !order)
		goto oom;
	for (i = 0; i < x->nt; i++)
		if (x->tables[i].keep) {
			view[k] = *x->tables[i].target;
			idx[k++] = i;
		}
	if (fr_data_order(view, k, order))
		goto oom;
	for (i = 0; i < k; i++)
		order[i] = idx[order[i]];
	fr_free(view);
	fr_free(idx);
	*out = order;
	*n = k;
	return 0;
oom:
	fr_free(view);
	fr_free(idx);
	fr_free(order);
	return fr_fail(x->f, FERRY_EFAILED, "out of memory");
}

int ferry_import(char **out, ferry *f, const char *path, const ferry_import_options *opts)
{
	import_job x;
	fr_lock lock = FR_LOCK_INIT;
	const fr_dbconf *c;
	fr_db_table *tt = NULL;
	size_t ntt = 0, i, *order = NULL, norder = 0;
	json_t *doc = NULL, *list = NULL;
	struct stat st;
	long long total = 0;
	int rc;
	const char *name = opts && opts->version >= 1 ? opts->database : NULL;

	if (out)
		*out = NULL;
	memset(&x, 0, sizeof x);
	x.f = f;
	x.path = path;
	fr_buf_init(&x.line);
	fr_buf_init(&x.err);
	x.warnings = json_array();
	c = fr_config_db(f->cfg, name);
	if (!c) {
		rc = fr_fail(f, FERRY_EINVALID, "import: no database '%s' in ferry.yaml",
		             name ? name : "");
		goto done;
	}
	if (!path || !(x.fp = fopen(path, "rb"))) {
		rc = fr_fail(f, FERRY_EINVALID, "import: cannot open '%s': %s", path ? path : "",
		             path ? strerror(errno) : "no file given");
		goto done;
	}
	if (fstat(fileno(x.fp), &st) == 0)
		x.size = (unsigned long)st.st_size;
	if ((rc = read_outline(&x)) || (rc = check_header(&x)) || (rc = select_tables(&x, opts)))
		goto done;
	rc = fr_lock_acquire(&lock, f->ferry_dir, 0, &f->interrupted, &x.err);
	if (rc) {
		rc = fr_fail(f, rc, "import: %s", x.err.ptr);
		goto done;
	}
	rc = FERRY_EFAILED;
	if (fr_db_open(&x.db, c, &x.err) || fr_db_tables(x.db, &tt, &ntt, &x.err)) {
		fr_fail(f, rc, "import: %s", x.err.oom ? "out of memory" : x.err.ptr);
		goto done;
	}
	if ((rc = map_tables(&x, c, tt, ntt)) || (rc = fill_order(&x, &order, &norder)))
		goto done;
	rc = FERRY_EFAILED;
	if (fr_db_write_begin(x.db, &x.err)) {
		fr_fail(f, rc, "import: %s", x.err.ptr);
		goto done;
	}
	for (i = 0; i < norder; i++)
		if ((rc = import_table(&x, &x.tables[order[i]], opts && opts->append)))
			goto done;
	fr_buf_reset(&x.err);
	if (x.db->drv->commit(x.db, &x.err)) {
		/* What fails at the commit is what was deferred to it: the foreign keys. */
		rc = fr_fail(f, FERRY_EINVALID, "import: the rows break the database's constraints "
		             "(%s); nothing was imported", x.err.ptr);
		goto done;
	}
	if (f->progress)
		f->progress(f->progress_ctx, "import", x.size, x.size);
	doc = json_object();
	list = json_array();
	for (i = 0; i < norder; i++) {
		json_t *e = json_object();
		file_table *t = &x.tables[order[i]];
		json_object_set_new(e, "name", json_string(t->name));
		json_object_set_new(e, "rows", json_integer(t->rows));
		json_array_append_new(list, e);
		total += t->rows;
	}
	json_object_set_new(doc, "database", json_string(c->name));
	json_object_set_new(doc, "driver", json_string(c->driver));
	json_object_set_new(doc, "tables", list);
	json_object_set_new(doc, "rows", json_integer(total));
	json_object_set(doc, "warnings", x.warnings);
	fr_log(f, FERRY_LOG_DEBUG, NULL, "imported %lld rows into database '%s' from '%s'", total,
	       c->name, path);
	if (out) {
		rc = fr_publish(f, doc, out); /* consumes doc */
		doc = NULL;
	} else {
		rc = 0;
		fr_ok(f);
	}
done:
	if (x.db && x.db->in_tx)
		x.db->drv->rollback(x.db, &x.err);
	fr_db_close(x.db);
	fr_lock_release(&lock);
	fr_db_tables_free(tt, ntt);
	for (i = 0; i < x.nt; i++) {
		fr_free(x.tables[i].name);
		json_decref(x.tables[i].cols);
		fr_free(x.tables[i].map);
	}
	fr_free(x.tables);
	fr_free(order);
	if (x.fp)
		fclose(x.fp);
	json_decref(x.header);
	json_decref(x.warnings);
	json_decref(doc);
	fr_buf_release(&x.line);
	fr_buf_release(&x.err);
	return rc;
}
