/*
 * export.c - ferry_export(): one database's data as JSON lines (data.h,
 * docs/data.md). Every table of the application (or those asked for), in
 * the order their foreign keys need, read in one transaction that sees
 * one snapshot, each row written as it is read: memory does not grow with
 * the data. Nothing is written to the database.
 */
#include "data.h"
#include "../ferry_int.h"
#include "../util/alloc.h"
#include "../util/fs.h"

#include <string.h>

#define EXPORT_FLUSH (64 * 1024) /* bytes gathered before write() gets them */

typedef struct {
	ferry *f;
	ferry_write_fn write;
	void *ctx;
	fr_buf out;           /* lines not handed to write() yet */
	unsigned long written;
	const fr_db_table *t;
	long long rows;
	int failed;           /* write() refused */
} export_job;

static int flush(export_job *x, int all)
{
	if (x->out.len < (all ? 1 : EXPORT_FLUSH))
		return 0;
	if (x->write(x->ctx, x->out.ptr, x->out.len)) {
		x->failed = 1;
		return -1;
	}
	x->written += (unsigned long)x->out.len;
	fr_buf_reset(&x->out);
	if (x->f->progress)
		x->f->progress(x->f->progress_ctx, "export", x->written, 0);
	return 0;
}

static int put_row(void *arg, const fr_val *cols, size_t n)
{
	export_job *x = arg;
	size_t i;
	fr_buf_putc(&x->out, '{');
	for (i = 0; i < n; i++) {
		if (i)
			fr_buf_puts(&x->out, ", ");
		fr_data_put_string(&x->out, x->t->cols[i].name, strlen(x->t->cols[i].name));
		fr_buf_puts(&x->out, ": ");
		fr_data_put_value(&x->out, &cols[i], x->t->cols[i].type, cols[i].type_oid);
	}
	fr_buf_puts(&x->out, "}\n");
	x->rows++;
	if (x->out.oom)
		return -1;
	return flush(x, 0);
}

/* Appends o as one line of the file and takes it (a JSON object, compact, in its order). */
static void put_line(fr_buf *b, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s) {
		b->oom = 1;
		return;
	}
	fr_buf_puts(b, s);
	fr_buf_putc(b, '\n');
	free(s);
}

static void put_table_line(fr_buf *b, const fr_db_table *t)
{
	json_t *o = json_object(), *cols = json_array();
	size_t i;
	json_object_set_new(o, "$table", json_string(t->name));
	for (i = 0; i < t->ncols; i++) {
		json_t *c = json_object();
		json_object_set_new(c, "name", json_string(t->cols[i].name));
		json_object_set_new(c, "type", json_string(t->cols[i].type));
		json_object_set_new(c, "notnull", json_boolean(t->cols[i].notnull));
		json_object_set_new(c, "pk", json_integer(t->cols[i].pk));
		json_array_append_new(cols, c);
	}
	json_object_set_new(o, "columns", cols);
	put_line(b, o);
}

static void put_header(ferry *f, fr_buf *b, const fr_dbconf *c)
{
	json_t *o = json_object();
	fr_version v;
	char ver[FR_VERSION_STR_MAX], ts[32];
	if (fr_current(f, &v))
		memset(&v, 0, sizeof v);
	fr_version_format(&v, ver, sizeof ver);
	fr_time_rfc3339(fr_now_ms(), ts, sizeof ts);
	json_object_set_new(o, "$ferry", json_string("export"));
	json_object_set_new(o, "format", json_integer(FR_DATA_FORMAT));
	json_object_set_new(o, "app", json_string(f->cfg->app));
	json_object_set_new(o, "version", json_string(ver));
	json_object_set_new(o, "database", json_string(c->name));
	json_object_set_new(o, "driver", json_string(c->driver));
	json_object_set_new(o, "exported_at", json_string(ts));
	json_object_set_new(o, "ferry_version", json_string(FERRY_VERSION_STRING));
	put_line(b, o);
}

/* The last line: each table's row count and the sum; a file without it was cut short. */
static void put_end(fr_buf *b, json_t *counts, long long total)
{
	json_t *end = json_object();
	json_object_set_new(end, "$end", json_true());
	json_object_set(end, "tables", counts);
	json_object_set_new(end, "rows", json_integer(total));
	put_line(b, end);
}

/* Marks in keep[] the tables opts names; FERRY_EINVALID naming one the database lacks. */
static int select_tables(ferry *f, const fr_dbconf *c, const fr_db_table *t, size_t n,
                         const char *const *names, size_t nnames, unsigned char *keep)
{
	size_t i, k;
	for (i = 0; i < n; i++)
		keep[i] = names == NULL;
	for (k = 0; names && k < nnames; k++) {
		const fr_db_table *hit = fr_data_table(t, n, names[k]);
		if (!hit)
			return fr_fail(f, FERRY_EINVALID, "export: database '%s' has no table '%s' "
			                                  "of the application", c->name, names[k]);
		keep[hit - t] = 1;
	}
	return 0;
}

int ferry_export(char **out, ferry *f, const ferry_export_options *opts, ferry_write_fn write,
                 void *write_ctx)
{
	export_job x = { 0 };
	const fr_dbconf *c;
	fr_db *db = NULL;
	fr_db_table *t = NULL;
	size_t nt = 0, i, *order = NULL;
	unsigned char *keep = NULL;
	fr_buf err = FR_BUF_INIT;
	json_t *doc = NULL, *list = NULL, *counts = NULL;
	long long total = 0;
	int rc = FERRY_EFAILED;
	const char *name = opts && opts->version >= 1 ? opts->database : NULL;

	if (out)
		*out = NULL;
	fr_buf_init(&x.out);
	x.f = f;
	x.write = write;
	x.ctx = write_ctx;
	if (!write)
		return fr_fail(f, FERRY_EINVALID, "export: no write callback");
	c = fr_config_db(f->cfg, name);
	if (!c)
		return fr_fail(f, FERRY_EINVALID, "export: no database '%s' in ferry.yaml",
		               name ? name : "");
	if (fr_db_open(&db, c, &err) || fr_db_tables(db, &t, &nt, &err)) {
		rc = fr_fail(f, FERRY_EFAILED, "export: %s", err.oom ? "out of memory" : err.ptr);
		goto done;
	}
	order = fr_calloc(nt ? nt : 1, sizeof *order);
	keep = fr_calloc(nt ? nt : 1, 1);
	if (!order || !keep || fr_data_order(t, nt, order)) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	if ((rc = select_tables(f, c, t, nt, opts ? opts->tables : NULL, opts ? opts->ntables : 0,
	                        keep)) != 0)
		goto done;
	rc = FERRY_EFAILED;
	if (fr_db_read_begin(db, &err)) {
		fr_fail(f, rc, "export: %s", err.ptr);
		goto done;
	}
	doc = json_object();
	list = json_array();
	counts = json_object();
	put_header(f, &x.out, c);
	for (i = 0; i < nt; i++) {
		const fr_db_table *tb = &t[order[i]];
		json_t *e;
		if (!keep[order[i]])
			continue;
		put_table_line(&x.out, tb);
		x.t = tb;
		x.rows = 0;
		if (fr_db_scan(db, tb, put_row, &x, &err) || x.out.oom) {
			if (x.failed)
				fr_fail(f, rc, "export: writing the export failed after %lu bytes",
				        x.written);
			else
				fr_fail(f, rc, "export: table '%s': %s", tb->name,
				        err.oom || x.out.oom ? "out of memory" : err.ptr);
			goto done;
		}
		e = json_object();
		json_object_set_new(e, "name", json_string(tb->name));
		json_object_set_new(e, "rows", json_integer(x.rows));
		json_array_append_new(list, e);
		json_object_set_new(counts, tb->name, json_integer(x.rows));
		total += x.rows;
	}
	put_end(&x.out, counts, total);
	if (x.out.oom) {
		fr_fail(f, rc, "out of memory");
		goto done;
	}
	if (flush(&x, 1)) {
		fr_fail(f, rc, "export: writing the export failed after %lu bytes", x.written);
		goto done;
	}
	if (f->progress)
		f->progress(f->progress_ctx, "export", x.written, x.written);
	json_object_set_new(doc, "database", json_string(c->name));
	json_object_set_new(doc, "driver", json_string(c->driver));
	json_object_set_new(doc, "tables", list);
	list = NULL;
	json_object_set_new(doc, "rows", json_integer(total));
	json_object_set_new(doc, "bytes", json_integer((json_int_t)x.written));
	if (out) {
		rc = fr_publish(f, doc, out); /* consumes doc */
		doc = NULL;
	} else {
		rc = 0;
		fr_ok(f);
	}
done:
	if (db && db->in_tx)
		db->drv->rollback(db, &err);
	fr_db_close(db);
	fr_db_tables_free(t, nt);
	fr_free(order);
	fr_free(keep);
	fr_buf_release(&x.out);
	fr_buf_release(&err);
	json_decref(doc);
	json_decref(list);
	json_decref(counts);
	return rc;
}
