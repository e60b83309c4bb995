/*
 * db.c - the table of compiled-in database drivers, looked up by the
 * driver name a database URL gives ("sqlite", "postgres"), and what every
 * driver shares: opening through the table, closing, freeing records.
 *
 * A driver is one file exposing one const fr_db_driver; adding one is a
 * line in drivers[] (the PostgreSQL driver under FR_HAVE_PQ, set by the
 * build when libpq is found).
 */
#include "db.h"
#include "../util/alloc.h"

#include <string.h>

static const fr_db_driver *const drivers[] = {
	&fr_db_sqlite,
#ifdef FR_HAVE_PQ
	&fr_db_postgres,
#endif
	NULL,
};

const fr_db_driver *fr_db_driver_find(const char *name)
{
	size_t i;
	if (!name)
		return NULL;
	for (i = 0; drivers[i]; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
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
	return drv->open(out, conf, err);
}

void fr_db_close(fr_db *db)
{
	if (db)
		db->drv->close(db);
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
