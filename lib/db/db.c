/*
 * db.c - the table of compiled-in database drivers and what the engine
 * asks of a database through it: opening (after checking the driver is
 * complete), reading a database URL by the driver that claims it, and the
 * fr_db_* wrappers that stand in for a missing optional member.
 *
 * A driver is one file exposing one const fr_db_driver; adding one is a
 * line in drivers[] (the PostgreSQL driver under FR_HAVE_PQ, set by the
 * build when libpq is found). Built with FR_TESTING (the tests' library
 * only), the table has one spare slot a test fills with a mock driver.
 */
#include "db.h"
#include "../util/alloc.h"

#include <string.h>

#ifdef FR_TESTING
#define FR_DB_TABLE_CONST
#else
#define FR_DB_TABLE_CONST const
#endif

static const fr_db_driver *FR_DB_TABLE_CONST drivers[] = {
	&fr_db_sqlite,
#ifdef FR_HAVE_PQ
	&fr_db_postgres,
#endif
#ifdef FR_TESTING
	NULL, /* the spare slot of fr_db_test_register */
#endif
	NULL,
};

#ifdef FR_TESTING
void fr_db_test_register(const fr_db_driver *drv)
{
	drivers[sizeof drivers / sizeof drivers[0] - 2] = drv;
}
#endif

/* The i-th driver of the table, skipping an empty spare slot; NULL past the end. */
static const fr_db_driver *driver_at(size_t i)
{
	size_t n = sizeof drivers / sizeof drivers[0] - 1, k;
	for (k = 0; k < n; k++)
		if (drivers[k] && i-- == 0)
			return drivers[k];
	return NULL;
}

const fr_db_driver *fr_db_driver_find(const char *name)
{
	const fr_db_driver *d;
	size_t i;
	if (!name)
		return NULL;
	for (i = 0; (d = driver_at(i)) != NULL; i++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

/* A capability and the members that come with it: all present, or none. */
static int cap_members(const fr_db_driver *d, unsigned cap, const char *what, int have,
                       int all, fr_buf *err)
{
	int claimed = (d->caps & cap) != 0;
	if (claimed && all)
		return 0;
	if (!claimed && !have)
		return 0;
	if (claimed)
		fr_buf_printf(err, "database driver '%s' claims %s but lacks a member of it",
		              d->name, what);
	else
		fr_buf_printf(err, "database driver '%s' has members of %s but does not claim it",
		              d->name, what);
	return -1;
}

int fr_db_driver_check(const fr_db_driver *d, fr_buf *err)
{
	static const char *const names[] = {
		"url_claims", "url_parse", "open", "close", "begin", "commit", "rollback", "exec",
		"query_bool", "record_read", "record_put", "record_delete", "integrity",
		"errcode",
	};
	const int present[] = {
		!!d->url_claims, !!d->url_parse, !!d->open, !!d->close, !!d->begin, !!d->commit,
		!!d->rollback, !!d->exec, !!d->query_bool, !!d->record_read, !!d->record_put,
		!!d->record_delete, !!d->integrity, !!d->errcode,
	};
	size_t i;
	if (!d->name || !*d->name) {
		fr_buf_puts(err, "a database driver has no name");
		return -1;
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!present[i]) {
			fr_buf_printf(err, "database driver '%s' is incomplete: it lacks %s()",
			              d->name, names[i]);
			return -1;
		}
	}
	if (cap_members(d, FR_DB_CAP_SESSION_LOCK, "the session lock",
	                d->lock || d->unlock || d->lock_holder,
	                d->lock && d->unlock && d->lock_holder, err) ||
	    cap_members(d, FR_DB_CAP_SHARED_VERSION, "the shared version",
	                d->version_get || d->version_set, d->version_get && d->version_set, err) ||
	    cap_members(d, FR_DB_CAP_LOCK_TIMEOUT, "the lock timeout", !!d->set_lock_timeout,
	                !!d->set_lock_timeout, err) ||
	    cap_members(d, FR_DB_CAP_SNAPSHOT, "snapshots",
	                d->snapshot || d->restore || d->snapshot_ext,
	                d->snapshot && d->restore && d->snapshot_ext, err) ||
	    cap_members(d, FR_DB_CAP_CLONE, "clones", d->clone || d->drop_clone,
	                d->clone && d->drop_clone, err))
		return -1;
	return 0;
}

void fr_db_url_forms(fr_buf *out)
{
	const fr_db_driver *d;
	size_t i, k;
	for (i = k = 0; (d = driver_at(i)) != NULL; i++)
		if (d->url_form)
			fr_buf_printf(out, "%s%s", k++ ? " or " : "", d->url_form);
}

int fr_db_url_parse(fr_dbconf *c, const char *url, const char *root, fr_buf *err)
{
	const fr_db_driver *d, *best = NULL;
	int claim = 0, n;
	size_t i;

	c->driver = c->path = c->where = NULL;
	for (i = 0; (d = driver_at(i)) != NULL; i++) {
		n = d->url_claims(url);
		if (n > claim) {
			claim = n;
			best = d;
		}
	}
	if (!best) {
		fr_buf_printf(err, "unknown database url '%s' (expected ", url);
		fr_db_url_forms(err);
		fr_buf_puts(err, ")");
		return -1;
	}
	if (best->url_parse(c, url, root, err))
		goto fail;
	if (!(c->driver = fr_strdup(best->name))) {
		fr_buf_puts(err, "out of memory");
		err->oom = 1;
		goto fail;
	}
	return 0;
fail:
	FR_FREE(c->path);
	FR_FREE(c->where);
	return -1;
}

void fr_dbconf_clear(fr_dbconf *c)
{
	if (!c)
		return;
	fr_free(c->name);
	fr_free(c->url);
	fr_free(c->driver);
	fr_free(c->path);
	fr_free(c->where);
	memset(c, 0, sizeof *c);
}

static const fr_db_driver *conf_driver(const fr_dbconf *c)
{
	return c ? fr_db_driver_find(c->driver) : NULL;
}

unsigned fr_db_caps(const fr_dbconf *c)
{
	const fr_db_driver *d = conf_driver(c);
	return d ? d->caps : 0;
}

int fr_db_can(const fr_dbconf *c, unsigned cap)
{
	return cap && (fr_db_caps(c) & cap) == cap;
}

int fr_db_exists(const fr_dbconf *c)
{
	const fr_db_driver *d = conf_driver(c);
	return d && d->exists ? d->exists(c) : 1;
}

int fr_db_prepare(const fr_dbconf *c, fr_buf *err)
{
	const fr_db_driver *d = conf_driver(c);
	return d && d->prepare ? d->prepare(c, err) : 0;
}

int fr_db_writable(const fr_dbconf *c, fr_buf *err)
{
	const fr_db_driver *d = conf_driver(c);
	return d && d->writable ? d->writable(c, err) : 0;
}

const char *fr_db_script_value(const fr_dbconf *c)
{
	const fr_db_driver *d = conf_driver(c);
	return d && d->script_value ? d->script_value(c) : c->url;
}

const char *fr_db_where(const fr_dbconf *c)
{
	const fr_db_driver *d = conf_driver(c);
	const char *s = d && d->describe ? d->describe(c) : NULL;
	return s ? s : c->name;
}

int fr_db_open(fr_db **out, const fr_dbconf *conf, fr_buf *err)
{
	const fr_db_driver *drv;
	*out = NULL;
	drv = fr_db_driver_find(conf->driver);
	if (!drv) {
		fr_buf_printf(err, "database '%s': driver '%s' is not built in",
		              conf->name ? conf->name : "", conf->driver ? conf->driver : "");
		return -1;
	}
	if (fr_db_driver_check(drv, err))
		return -1;
	return drv->open(out, conf, err);
}

void fr_db_close(fr_db *db)
{
	if (db)
		db->drv->close(db);
}

int fr_db_query(fr_db *db, const char *sql, const fr_val *params, size_t nparams,
                fr_db_row_fn row, void *arg, fr_buf *err)
{
	if (!db->drv->query) {
		fr_buf_printf(err, "database driver '%s' runs no queries", db->drv->name);
		return -1;
	}
	return db->drv->query(db, sql, params, nparams, row, arg, err);
}

int fr_db_files(const fr_dbconf *c, char ***out, size_t *n, fr_buf *err)
{
	const fr_db_driver *drv = fr_db_driver_find(c->driver);
	*out = NULL;
	*n = 0;
	return drv && drv->files ? drv->files(c, out, n, err) : 0;
}

int fr_db_can_copy(const fr_dbconf *c)
{
	const fr_db_driver *drv = fr_db_driver_find(c->driver);
	return drv && drv->copy;
}

int fr_db_copy(const fr_dbconf *c, const char *dest, fr_buf *err)
{
	const fr_db_driver *drv = fr_db_driver_find(c->driver);
	if (!drv || !drv->copy) {
		fr_buf_printf(err, "database '%s': %s databases cannot be copied into a file",
		              c->name ? c->name : "", c->driver ? c->driver : "?");
		return -1;
	}
	return drv->copy(c, dest, err);
}

void fr_records_free(fr_record *r, size_t n)
{
	size_t i;
	if (!r)
		return;
	for (i = 0; i < n; i++) {
		fr_free(r[i].id);
		fr_free(r[i].checksum);
		fr_free(r[i].kind);
		fr_free(r[i].from);
		fr_free(r[i].to);
		fr_free(r[i].status);
		fr_free(r[i].undo);
	}
	fr_free(r);
}

int fr_db_repoint(fr_dbconf *c, const char *url, const char *root, fr_buf *err)
{
	char *u = fr_strdup(url);
	if (!u) {
		fr_buf_puts(err, "out of memory");
		return -1;
	}
	FR_FREE(c->driver);
	FR_FREE(c->path);
	FR_FREE(c->where);
	fr_free(c->url);
	c->url = u;
	return fr_db_url_parse(c, c->url, root, err);
}

int fr_db_point_at_file(fr_dbconf *c, const char *path, fr_buf *err)
{
	char *p;
	if (!fr_db_can(c, FR_DB_CAP_FILES)) {
		fr_buf_printf(err, "database '%s' is not a file here", c->name ? c->name : "?");
		return -1;
	}
	if (!(p = fr_strdup(path))) {
		fr_buf_puts(err, "out of memory");
		return -1;
	}
	fr_free(c->path);
	c->path = p;
	return 0;
}

int fr_db_clone(const fr_dbconf *c, const char *name, char **out_url, fr_buf *err)
{
	const fr_db_driver *d = conf_driver(c);
	*out_url = NULL;
	if (!d || !(d->caps & FR_DB_CAP_CLONE)) {
		fr_buf_printf(err, "database '%s' cannot be cloned", c->name ? c->name : "?");
		return -1;
	}
	return d->clone(c, name, out_url, err);
}

int fr_db_drop_clone(const fr_dbconf *c, const char *name, fr_buf *err)
{
	const fr_db_driver *d = conf_driver(c);
	if (!d || !(d->caps & FR_DB_CAP_CLONE))
		return 0;
	return d->drop_clone(c, name, err);
}

/* ---- export and import (lib/data/): wrappers of the optional members ---- */

void fr_db_tables_free(fr_db_table *t, size_t n)
{
	size_t i, j;
	for (i = 0; t && i < n; i++) {
		fr_free(t[i].name);
		fr_free(t[i].sql);
		for (j = 0; j < t[i].ncols; j++) {
			fr_free(t[i].cols[j].name);
			fr_free(t[i].cols[j].type);
		}
		fr_free(t[i].cols);
		fr_strv_free(t[i].refs, t[i].nrefs);
	}
	fr_free(t);
}

int fr_db_tables(fr_db *db, fr_db_table **out, size_t *n, fr_buf *err)
{
	*out = NULL;
	*n = 0;
	if (!db->drv->tables) {
		fr_buf_printf(err, "database driver '%s' cannot list its tables, so its data can be "
		                   "neither exported nor imported", db->drv->name);
		return -1;
	}
	return db->drv->tables(db, out, n, err);
}

int fr_db_read_begin(fr_db *db, fr_buf *err)
{
	return db->drv->read_begin ? db->drv->read_begin(db, err) : db->drv->begin(db, err);
}

int fr_db_write_begin(fr_db *db, fr_buf *err)
{
	return db->drv->write_begin ? db->drv->write_begin(db, err) : db->drv->begin(db, err);
}

void fr_db_put_ident(fr_buf *b, const char *name)
{
	fr_buf_putc(b, '"');
	for (; *name; name++) {
		if (*name == '"')
			fr_buf_putc(b, '"');
		fr_buf_putc(b, *name);
	}
	fr_buf_putc(b, '"');
}

void fr_db_put_order(fr_buf *b, const fr_db_table *t)
{
	size_t i, k, any = 0;
	for (k = 1; k <= t->ncols; k++)
		for (i = 0; i < t->ncols; i++)
			if (t->cols[i].pk == (int)k) {
				fr_buf_puts(b, any++ ? ", " : " ORDER BY ");
				fr_db_put_ident(b, t->cols[i].name);
			}
}

int fr_db_scan(fr_db *db, const fr_db_table *t, fr_db_row_fn row, void *arg, fr_buf *err)
{
	fr_buf sql = FR_BUF_INIT;
	size_t i;
	int rc;
	if (db->drv->scan)
		return db->drv->scan(db, t, row, arg, err);
	fr_buf_puts(&sql, "SELECT ");
	for (i = 0; i < t->ncols; i++) {
		if (i)
			fr_buf_puts(&sql, ", ");
		fr_db_put_ident(&sql, t->cols[i].name);
	}
	fr_buf_printf(&sql, " FROM %s", t->sql);
	fr_db_put_order(&sql, t);
	if (sql.oom) {
		fr_buf_release(&sql); /* what it held before the append failed */
		err->oom = 1;
		return -1;
	}
	rc = fr_db_query(db, sql.ptr, NULL, 0, row, arg, err);
	fr_buf_release(&sql);
	return rc;
}

void fr_db_insert_sql(fr_db *db, const fr_db_table *t, const fr_db_column *const *cols,
                      size_t n, size_t rows, fr_buf *out)
{
	size_t i, r;
	fr_buf_printf(out, "INSERT INTO %s (", t->sql);
	for (i = 0; i < n; i++) {
		if (i)
			fr_buf_puts(out, ", ");
		fr_db_put_ident(out, cols[i]->name);
	}
	fr_buf_puts(out, ") ");
	if (db->drv->insert_overriding)
		fr_buf_printf(out, "%s ", db->drv->insert_overriding);
	fr_buf_puts(out, "VALUES ");
	for (r = 0; r < rows; r++) {
		fr_buf_puts(out, r ? ", (" : "(");
		for (i = 0; i < n; i++)
			fr_buf_printf(out, "%s$%zu", i ? ", " : "", r * n + i + 1);
		fr_buf_putc(out, ')');
	}
}

int fr_db_convert(fr_db *db, const fr_db_column *to, const char *from_type, fr_val *v,
                  fr_buf *scratch, fr_buf *err)
{
	return db->drv->convert ? db->drv->convert(to, from_type, v, scratch, err) : 0;
}

int fr_db_after_import(fr_db *db, const fr_db_table *t, fr_buf *err)
{
	return db->drv->after_import ? db->drv->after_import(db, t, err) : 0;
}
