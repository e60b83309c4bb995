/*
 * mock_db.c - an in-memory database driver for the tests (mock_db.h): a
 * list of named objects and a record table per database, kept for the
 * life of the process. It proves the driver interface closed: the engine
 * runs up, down and verify through it with nothing about it known outside
 * this file and its line in the driver table (fr_db_test_register).
 *
 * It claims FR_DB_CAP_SNAPSHOT (the store written to a text file and read
 * back, see "the snapshot" below) and FR_DB_CAP_CLONE (the store copied
 * under a new name), so backups and rehearsals run through it too; it
 * leaves prepare and script_value NULL, so the wrappers' defaults are
 * exercised as well. begin() keeps a copy of the data that rollback() puts
 * back: one writer at a time, as the tests use it.
 */
#include "mock_db.h"
#include "ferry.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <inttypes.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MOCK_MAX_STORES 16

typedef struct {
	char **objs;
	size_t nobjs;
	fr_record *recs;
	size_t nrecs;
} mock_data;

typedef struct {
	char *name; /* NULL: the slot is free */
	mock_data data;
} mock_store;

typedef struct {
	fr_db base;
	mock_store *st;
	mock_data saved; /* the data when the transaction began */
	int code;        /* 1 after a failed statement, else 0 */
} mock_db;

static mock_store stores[MOCK_MAX_STORES];

static void data_free(mock_data *m)
{
	size_t i;
	for (i = 0; i < m->nobjs; i++)
		fr_free(m->objs[i]);
	fr_free(m->objs);
	fr_records_free(m->recs, m->nrecs);
	memset(m, 0, sizeof *m);
}

/* Frees r's strings, not r. */
static void rec_clear(fr_record *r)
{
	fr_free(r->id);
	fr_free(r->checksum);
	fr_free(r->kind);
	fr_free(r->from);
	fr_free(r->to);
	fr_free(r->status);
	fr_free(r->undo);
	memset(r, 0, sizeof *r);
}

/* s's copy in *out; 0, or -1 on out of memory. NULL stays NULL. */
static int dup_opt(char **out, const char *s)
{
	*out = s ? fr_strdup(s) : NULL;
	return s && !*out ? -1 : 0;
}

static int rec_dup(fr_record *dst, const fr_record *src)
{
	int bad;
	*dst = *src;
	bad = dup_opt(&dst->id, src->id);
	bad |= dup_opt(&dst->checksum, src->checksum);
	bad |= dup_opt(&dst->kind, src->kind);
	bad |= dup_opt(&dst->from, src->from);
	bad |= dup_opt(&dst->to, src->to);
	bad |= dup_opt(&dst->status, src->status);
	bad |= dup_opt(&dst->undo, src->undo);
	if (bad)
		rec_clear(dst);
	return bad ? -1 : 0;
}

static int data_copy(mock_data *dst, const mock_data *src)
{
	size_t i;
	memset(dst, 0, sizeof *dst);
	if (src->nobjs && !(dst->objs = fr_calloc(src->nobjs, sizeof *dst->objs)))
		goto oom;
	for (i = 0; i < src->nobjs; i++, dst->nobjs++)
		if (!(dst->objs[i] = fr_strdup(src->objs[i])))
			goto oom;
	if (src->nrecs && !(dst->recs = fr_calloc(src->nrecs, sizeof *dst->recs)))
		goto oom;
	for (i = 0; i < src->nrecs; i++, dst->nrecs++)
		if (rec_dup(&dst->recs[i], &src->recs[i]))
			goto oom;
	return 0;
oom:
	data_free(dst);
	return -1;
}

/* The database part of "mock:NAME?readonly": NAME's length, 0 when there is none. */
static size_t url_name(const char *url, const char **name)
{
	size_t n;
	if (!url || strncmp(url, "mock:", 5))
		return 0;
	*name = url + 5;
	n = strspn(*name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
	return (*name)[n] && strcmp(*name + n, "?readonly") ? 0 : n;
}

/* The store called name (n bytes); with create, a free slot takes it when there is none. */
static mock_store *store_get(const char *name, size_t n, int create)
{
	mock_store *free_slot = NULL;
	size_t i;
	if (!n)
		return NULL;
	for (i = 0; i < MOCK_MAX_STORES; i++) {
		if (!stores[i].name) {
			if (!free_slot)
				free_slot = &stores[i];
		} else if (strlen(stores[i].name) == n && !strncmp(stores[i].name, name, n)) {
			return &stores[i];
		}
	}
	if (!create || !free_slot || !(free_slot->name = fr_strndup(name, n)))
		return NULL;
	return free_slot;
}

static mock_store *find_store(const fr_dbconf *c, int create)
{
	const char *name = NULL;
	size_t n = url_name(c->where, &name);
	return store_get(name, n, create);
}

static void store_forget(mock_store *st)
{
	FR_FREE(st->name);
	data_free(&st->data);
}

void mock_db_reset(void)
{
	size_t i;
	for (i = 0; i < MOCK_MAX_STORES; i++)
		store_forget(&stores[i]);
}

static long find_obj(const mock_data *m, const char *obj, size_t len)
{
	size_t i;
	for (i = 0; i < m->nobjs; i++)
		if (strlen(m->objs[i]) == len && !strncmp(m->objs[i], obj, len))
			return (long)i;
	return -1;
}

int mock_db_has(const char *name, const char *object)
{
	const mock_store *st = store_get(name, strlen(name), 0);
	return st ? find_obj(&st->data, object, strlen(object)) >= 0 : -1;
}

int mock_db_exists(const char *name)
{
	return store_get(name, strlen(name), 0) != NULL;
}

/* ---- the url ---- */

static int mock_url_claims(const char *url)
{
	return strncmp(url, "mock:", 5) == 0 ? 2 : 0;
}

static int mock_url_parse(fr_dbconf *c, const char *url, const char *root, fr_buf *err)
{
	const char *name;
	if (!url_name(url, &name)) {
		fr_buf_printf(err, "database url '%s' has no name (expected mock:NAME)", url);
		return -1;
	}
	if (!(c->where = fr_strdup(url))) {
		fr_buf_puts(err, "out of memory");
		err->oom = 1;
		return -1;
	}
	return 0;
}

static int mock_exists(const fr_dbconf *c)
{
	return find_store(c, 0) != NULL;
}

static int mock_writable(const fr_dbconf *c, fr_buf *err)
{
	const char *q = c->where ? strchr(c->where, '?') : NULL;
	if (!q)
		return 0;
	fr_buf_printf(err, "the database '%s' '%s' is not writable by this user: read-only; "
	                   "nothing was changed (fix its permissions or run ferry as its owner)",
	              c->name ? c->name : "?", c->where);
	return FERRY_EINVALID;
}

static const char *mock_describe(const fr_dbconf *c)
{
	return c->where;
}

/* ---- connections and transactions ---- */

static const char *db_name(const mock_db *d)
{
	return d->base.conf->name ? d->base.conf->name : "?";
}

static int mock_open(fr_db **out, const fr_dbconf *conf, fr_buf *err)
{
	mock_db *d;
	mock_store *st = find_store(conf, 1);
	*out = NULL;
	if (!st) {
		fr_buf_printf(err, "database '%s': no mock database at '%s'",
		              conf->name ? conf->name : "?", conf->where ? conf->where : "");
		return -1;
	}
	if (!(d = fr_calloc(1, sizeof *d))) {
		fr_buf_printf(err, "database '%s': out of memory", conf->name ? conf->name : "?");
		return -1;
	}
	d->base.drv = &mock_db_driver;
	d->base.conf = conf;
	d->st = st;
	*out = &d->base;
	return 0;
}

static void mock_close(fr_db *db)
{
	mock_db *d = (mock_db *)db;
	if (!d)
		return;
	if (d->base.in_tx) {
		data_free(&d->st->data);
		d->st->data = d->saved;
	}
	fr_free(d);
}

static int mock_begin(fr_db *db, fr_buf *err)
{
	mock_db *d = (mock_db *)db;
	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': a transaction is already open", db_name(d));
		return -1;
	}
	if (data_copy(&d->saved, &d->st->data)) {
		fr_buf_printf(err, "database '%s': out of memory", db_name(d));
		return -1;
	}
	db->in_tx = 1;
	return 0;
}

static int mock_commit(fr_db *db, fr_buf *err)
{
	mock_db *d = (mock_db *)db;
	if (!db->in_tx) {
		fr_buf_printf(err, "database '%s': no transaction to commit", db_name(d));
		return -1;
	}
	data_free(&d->saved);
	db->in_tx = 0;
	return 0;
}

static int mock_rollback(fr_db *db, fr_buf *err)
{
	mock_db *d = (mock_db *)db;
	if (!db->in_tx)
		return 0;
	data_free(&d->st->data);
	d->st->data = d->saved;
	memset(&d->saved, 0, sizeof d->saved);
	db->in_tx = 0;
	return 0;
}

/* ---- the language ---- */

/* Skips blanks and "--" comments, not past end. */
static const char *skip(const char *p, const char *end)
{
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		else if (p + 1 < end && p[0] == '-' && p[1] == '-')
			while (p < end && *p != '\n')
				p++;
		else
			break;
	}
	return p;
}

/* The words of statement [p, end): up to three, as (start, length) pairs; their count. */
static int words(const char *p, const char *end, const char *w[3], size_t n[3])
{
	int k = 0;
	for (p = skip(p, end); p < end; p = skip(p, end)) {
		const char *s = p;
		while (p < end && !strchr(" \t\r\n", *p))
			p++;
		if (k < 3) {
			w[k] = s;
			n[k] = (size_t)(p - s);
		}
		k++;
	}
	return k;
}

static int is_word(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

static int add_obj(mock_data *m, const char *name, size_t len)
{
	char **grown = fr_realloc(m->objs, (m->nobjs + 1) * sizeof *m->objs);
	if (!grown)
		return -1;
	m->objs = grown;
	if (!(m->objs[m->nobjs] = fr_strndup(name, len)))
		return -1;
	m->nobjs++;
	return 0;
}

static int run_stmt(mock_db *d, const char *p, const char *end, fr_buf *err)
{
	mock_data *m = &d->st->data;
	const char *w[3] = { NULL, NULL, NULL };
	size_t n[3] = { 0, 0, 0 };
	int k = words(p, end, w, n);
	long at;
	if (k == 1 && is_word(w[0], n[0], "FAIL")) {
		fr_buf_puts(err, "FAIL: the statement says so");
		return -1;
	}
	if (k != 2 || (!is_word(w[0], n[0], "CREATE") && !is_word(w[0], n[0], "DROP"))) {
		fr_buf_printf(err, "syntax error near '%.*s'", (int)n[0], w[0]);
		return -1;
	}
	at = find_obj(m, w[1], n[1]);
	if (is_word(w[0], n[0], "DROP")) {
		if (at < 0) {
			fr_buf_printf(err, "no such object: %.*s", (int)n[1], w[1]);
			return -1;
		}
		fr_free(m->objs[at]);
		m->objs[at] = m->objs[--m->nobjs];
		return 0;
	}
	if (at >= 0) {
		fr_buf_printf(err, "object '%.*s' already exists", (int)n[1], w[1]);
		return -1;
	}
	if (add_obj(m, w[1], n[1])) {
		fr_buf_puts(err, "out of memory");
		return -1;
	}
	return 0;
}

static int mock_exec(fr_db *db, const char *sql, size_t *err_offset, fr_buf *err)
{
	mock_db *d = (mock_db *)db;
	const char *p = sql, *end = sql + strlen(sql), *stop;
	d->code = 0;
	while ((p = skip(p, end)) < end) {
		if (*p == ';') {
			p++;
			continue;
		}
		stop = p + strcspn(p, ";");
		if (run_stmt(d, p, stop, err)) {
			if (err_offset)
				*err_offset = (size_t)(p - sql);
			d->code = 1;
			return -1;
		}
		p = stop;
	}
	return 0;
}

static int mock_query_bool(fr_db *db, const char *sql, int *out, fr_buf *err)
{
	mock_db *d = (mock_db *)db;
	const char *end = sql + strlen(sql), *stop = sql + strcspn(sql, ";");
	const char *w[3];
	size_t n[3];
	int k = words(sql, stop, w, n);
	d->code = 1;
	if (stop < end && skip(stop + 1, end) < end) {
		fr_buf_puts(err, "expected one query");
		return -1;
	}
	if (k == 2 && is_word(w[0], n[0], "EXISTS"))
		*out = find_obj(&d->st->data, w[1], n[1]) >= 0;
	else if (k == 1 && is_word(w[0], n[0], "TRUE"))
		*out = 1;
	else if (k == 1 && (is_word(w[0], n[0], "FALSE") || is_word(w[0], n[0], "NULL")))
		*out = 0;
	else if (k == 1 && is_word(w[0], n[0], "NONE"))
		*out = -1;
	else {
		fr_buf_printf(err, "syntax error near '%.*s'", k ? (int)n[0] : 0, k ? w[0] : "");
		return -1;
	}
	d->code = 0;
	return 0;
}

/* ---- the record ---- */

static int by_seq(const void *a, const void *b)
{
	int64_t x = ((const fr_record *)a)->seq, y = ((const fr_record *)b)->seq;
	return x < y ? -1 : x > y;
}

static int mock_record_read(fr_db *db, fr_record **out, size_t *n, fr_buf *err)
{
	mock_db *d = (mock_db *)db;
	mock_data copy;
	*out = NULL;
	*n = 0;
	if (data_copy(&copy, &d->st->data)) {
		fr_buf_printf(err, "database '%s': out of memory", db_name(d));
		return -1;
	}
	if (copy.nrecs)
		qsort(copy.recs, copy.nrecs, sizeof *copy.recs, by_seq);
	*out = copy.recs;
	*n = copy.nrecs;
	copy.recs = NULL;
	copy.nrecs = 0;
	data_free(&copy);
	return 0;
}

static int mock_record_put(fr_db *db, const fr_record *r, fr_buf *err)
{
	mock_db *d = (mock_db *)db;
	mock_data *m = &d->st->data;
	fr_record nr, *grown;
	int64_t max = 0;
	size_t i;
	for (i = 0; i < m->nrecs; i++)
		if (m->recs[i].seq > max)
			max = m->recs[i].seq;
	/* The record table is an object too, made by the first put (and rolled back with it). */
	if (find_obj(m, "ferry_steps", 11) < 0 && add_obj(m, "ferry_steps", 11))
		goto oom;
	if (rec_dup(&nr, r))
		goto oom;
	if (!nr.seq)
		nr.seq = max + 1;
	for (i = 0; i < m->nrecs; i++) {
		if (!strcmp(m->recs[i].id, r->id)) {
			rec_clear(&m->recs[i]);
			m->recs[i] = nr;
			return 0;
		}
	}
	grown = fr_realloc(m->recs, (m->nrecs + 1) * sizeof *m->recs);
	if (!grown) {
		rec_clear(&nr);
		goto oom;
	}
	m->recs = grown;
	m->recs[m->nrecs++] = nr;
	return 0;
oom:
	fr_buf_printf(err, "database '%s': out of memory", db_name(d));
	return -1;
}

static int mock_record_delete(fr_db *db, const char *id, fr_buf *err)
{
	mock_data *m = &((mock_db *)db)->st->data;
	size_t i;
	for (i = 0; i < m->nrecs; i++) {
		if (!strcmp(m->recs[i].id, id)) {
			rec_clear(&m->recs[i]);
			memmove(&m->recs[i], &m->recs[i + 1], (m->nrecs - i - 1) * sizeof *m->recs);
			m->nrecs--;
			return 0;
		}
	}
	return 0;
}

static int mock_integrity(fr_db *db, fr_buf *findings, fr_buf *err)
{
	return 0;
}

static int mock_errcode(fr_db *db)
{
	return ((mock_db *)db)->code;
}

/* ---- the snapshot: the store as a text file ---- */

/*
 * The file: the line SNAP_HEAD; a line "object" TEXT per object and
 * "record" TEXT*7 INT*4 per record (id, checksum, kind, from, to, status,
 * undo; applied_at_ms, duration_ms, run_id, seq), in the store's order;
 * then "end", so that a file cut short is refused. Each field follows a
 * tab: TEXT is "-" for NULL, or "=" and the string with backslash, tab,
 * newline and CR written \\, \t, \n and \r; INT is decimal.
 */
#define SNAP_HEAD "mock-snapshot 1\n"

static void put_text(fr_buf *b, const char *s)
{
	if (!s) {
		fr_buf_puts(b, "\t-");
		return;
	}
	fr_buf_puts(b, "\t=");
	for (; *s; s++) {
		if (*s == '\\')
			fr_buf_puts(b, "\\\\");
		else if (*s == '\t')
			fr_buf_puts(b, "\\t");
		else if (*s == '\n')
			fr_buf_puts(b, "\\n");
		else if (*s == '\r')
			fr_buf_puts(b, "\\r");
		else
			fr_buf_putc(b, *s);
	}
}

static void data_dump(const mock_data *m, fr_buf *b)
{
	size_t i;
	fr_buf_puts(b, SNAP_HEAD);
	for (i = 0; i < m->nobjs; i++) {
		fr_buf_puts(b, "object");
		put_text(b, m->objs[i]);
		fr_buf_putc(b, '\n');
	}
	for (i = 0; i < m->nrecs; i++) {
		const fr_record *r = &m->recs[i];
		fr_buf_puts(b, "record");
		put_text(b, r->id);
		put_text(b, r->checksum);
		put_text(b, r->kind);
		put_text(b, r->from);
		put_text(b, r->to);
		put_text(b, r->status);
		put_text(b, r->undo);
		fr_buf_printf(b, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\n",
		              r->applied_at_ms, r->duration_ms, r->run_id, r->seq);
	}
	fr_buf_puts(b, "end\n");
}

/* The TEXT field at *p, up to end: *out NULL or the string; 0, or -1 when malformed. */
static int get_text(const char **p, const char *end, char **out)
{
	const char *s = *p;
	fr_buf b = FR_BUF_INIT;
	*out = NULL;
	if (s >= end || *s++ != '\t' || s >= end)
		return -1;
	if (*s == '-' && (s + 1 == end || s[1] == '\t')) {
		*p = s + 1;
		return 0;
	}
	if (*s != '=')
		return -1;
	for (s++; s < end && *s != '\t'; s++) {
		char c = *s;
		if (c == '\\') {
			c = ++s == end ? 0 : *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' :
			    *s == '\\' ? '\\' : 0;
			if (!c) {
				fr_buf_release(&b);
				return -1;
			}
		}
		fr_buf_putc(&b, c);
	}
	*out = fr_buf_detach(&b);
	*p = s;
	return *out ? 0 : -1;
}

/* The INT field at *p, up to end; 0, or -1 when malformed. */
static int get_int(const char **p, const char *end, int64_t *out)
{
	const char *s = *p;
	char *e;
	long long v;
	if (end - s < 2 || s[0] != '\t' || !strchr("-0123456789", s[1]))
		return -1;
	errno = 0;
	v = strtoll(s + 1, &e, 10);
	if (errno || e == s + 1 || e > end)
		return -1;
	*out = v;
	*p = e;
	return 0;
}

static int get_record(const char *p, const char *eol, fr_record *r)
{
	memset(r, 0, sizeof *r);
	if (get_text(&p, eol, &r->id) || !r->id || get_text(&p, eol, &r->checksum) ||
	    get_text(&p, eol, &r->kind) || get_text(&p, eol, &r->from) ||
	    get_text(&p, eol, &r->to) || get_text(&p, eol, &r->status) ||
	    get_text(&p, eol, &r->undo) || get_int(&p, eol, &r->applied_at_ms) ||
	    get_int(&p, eol, &r->duration_ms) || get_int(&p, eol, &r->run_id) ||
	    get_int(&p, eol, &r->seq) || p != eol) {
		rec_clear(r);
		return -1;
	}
	return 0;
}

/* A snapshot's text read into *m; 0, or -1 (m empty) when it is not one or memory ran out. */
static int data_parse(mock_data *m, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *eol;
	size_t head = strlen(SNAP_HEAD);
	int done = 0;
	memset(m, 0, sizeof *m);
	if (len < head || memcmp(text, SNAP_HEAD, head))
		return -1;
	for (p += head; p < end && !done; p = eol + 1) {
		char *obj = NULL;
		const char *q;
		fr_record r, *grown;
		if (!(eol = memchr(p, '\n', (size_t)(end - p))))
			goto bad;
		if (eol - p == 3 && !memcmp(p, "end", 3)) {
			done = 1;
		} else if (eol - p > 6 && !memcmp(p, "object", 6)) {
			q = p + 6;
			if (get_text(&q, eol, &obj) || !obj || q != eol ||
			    add_obj(m, obj, strlen(obj))) {
				fr_free(obj);
				goto bad;
			}
			fr_free(obj);
		} else if (eol - p > 6 && !memcmp(p, "record", 6)) {
			if (get_record(p + 6, eol, &r))
				goto bad;
			if (!(grown = fr_realloc(m->recs, (m->nrecs + 1) * sizeof *m->recs))) {
				rec_clear(&r);
				goto bad;
			}
			m->recs = grown;
			m->recs[m->nrecs++] = r;
		} else {
			goto bad;
		}
	}
	if (done && p == end)
		return 0;
bad:
	data_free(m);
	return -1;
}

int mock_db_dump(const char *name, fr_buf *out)
{
	const mock_store *st = store_get(name, strlen(name), 0);
	if (!st)
		return -1;
	data_dump(&st->data, out);
	return out->oom ? -1 : 0;
}

/* The store written to a new file at path (mode 0600); path NULL: can it (always). */
static int mock_snapshot(fr_db *db, const char *path, fr_buf *err)
{
	mock_db *d = (mock_db *)db;
	fr_buf text = FR_BUF_INIT;
	int rc = 0;
	if (!path)
		return 0;
	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': cannot copy inside a transaction", db_name(d));
		return -1;
	}
	data_dump(&d->st->data, &text);
	if (text.oom) {
		fr_buf_printf(err, "database '%s': out of memory", db_name(d));
		rc = -1;
	} else if (fr_write_atomic(path, text.ptr, text.len, 0600)) {
		fr_buf_printf(err, "database '%s': cannot write '%s': %s", db_name(d), path,
		              strerror(errno));
		rc = -1;
	}
	fr_buf_release(&text);
	return rc;
}

/* The store replaced by the snapshot at path, all at once: on failure it is as it was. */
static int mock_restore(fr_db *db, const char *path, fr_buf *err)
{
	mock_db *d = (mock_db *)db;
	fr_buf text = FR_BUF_INIT;
	mock_data m;
	int rc = -1;
	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': cannot restore inside a transaction", db_name(d));
		return -1;
	}
	if (fr_read_file(path, &text))
		fr_buf_printf(err, "database '%s': cannot read '%s': %s", db_name(d), path,
		              strerror(errno));
	else if (text.oom || data_parse(&m, text.ptr, text.len))
		fr_buf_printf(err, "database '%s': '%s' is not a mock snapshot", db_name(d), path);
	else {
		data_free(&d->st->data);
		d->st->data = m;
		rc = 0;
	}
	fr_buf_release(&text);
	return rc;
}

/* ---- clones: a copy of the store under another name ---- */

/* A copy of conf's store (empty when it was never made) as store name, replacing one there. */
static int mock_clone(const fr_dbconf *conf, const char *name, char **out_url, fr_buf *err)
{
	const mock_store *src = find_store(conf, 0);
	mock_data copy, none;
	mock_store *dst;
	fr_buf url = FR_BUF_INIT;
	const char *nm;
	*out_url = NULL;
	memset(&none, 0, sizeof none);
	fr_buf_printf(&url, "mock:%s", name);
	if (url.oom || url_name(url.ptr, &nm) != strlen(name)) {
		fr_buf_printf(err, "cannot clone into '%s': not a mock database name", name);
		goto fail;
	}
	if (src && !strcmp(src->name, name)) {
		fr_buf_printf(err, "cannot clone '%s' into itself", name);
		goto fail;
	}
	if (data_copy(&copy, src ? &src->data : &none))
		goto oom;
	if (!(dst = store_get(name, strlen(name), 1))) {
		data_free(&copy);
		goto oom;
	}
	data_free(&dst->data);
	dst->data = copy;
	*out_url = fr_buf_detach(&url);
	return 0;
oom:
	fr_buf_printf(err, "cannot clone into '%s': out of memory or no free store", name);
fail:
	fr_buf_release(&url);
	return -1;
}

/* Forgets the clone name (none there is fine); never conf's own store. */
static int mock_drop_clone(const fr_dbconf *conf, const char *name, fr_buf *err)
{
	mock_store *st = store_get(name, strlen(name), 0);
	if (st && st == find_store(conf, 0)) {
		fr_buf_printf(err, "cannot drop '%s': it is the database itself", name);
		return -1;
	}
	if (st)
		store_forget(st);
	return 0;
}

const fr_db_driver mock_db_driver = {
	.name = "mock",
	.caps = FR_DB_CAP_SNAPSHOT | FR_DB_CAP_CLONE,
	.url_claims = mock_url_claims,
	.url_parse = mock_url_parse,
	.exists = mock_exists,
	.writable = mock_writable,
	.describe = mock_describe,
	.open = mock_open,
	.close = mock_close,
	.begin = mock_begin,
	.commit = mock_commit,
	.rollback = mock_rollback,
	.exec = mock_exec,
	.query_bool = mock_query_bool,
	.record_read = mock_record_read,
	.record_put = mock_record_put,
	.record_delete = mock_record_delete,
	.integrity = mock_integrity,
	.errcode = mock_errcode,
	.snapshot = mock_snapshot,
	.restore = mock_restore,
	.snapshot_ext = ".mock",
	.clone = mock_clone,
	.drop_clone = mock_drop_clone,
};
