/*
 * rehearse.c - up --rehearse: the whole plan run on a throw-away copy of
 * the installation (files and file databases copied, server databases
 * cloned into scratch databases), reported, then discarded. The real
 * installation is only read.
 */
#include "ferry_int.h"
#include "backup.h"
#include "run.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * up --rehearse: the whole plan on a throw-away copy of the installation
 * (files and SQLite databases copied consistently to a temporary root),
 * reported step by step, then discarded. The real installation is only
 * read. No backup and no hooks: nothing real is stopped or saved.
 */
int fr_rehearse(ferry *f, const char *target, const ferry_run_options *o)
{
	ferry_open_options oo = FERRY_OPEN_OPTIONS_INIT;
	ferry_run_options ro = *o;
	fr_buf dir = FR_BUF_INIT, err = FR_BUF_INIT;
	const char *tmp = getenv("TMPDIR");
	ferry *g = NULL;
	json_t *doc = NULL;
	char **clones = NULL; /* the scratch database of each server database, to drop */
	size_t i;
	int rc;
	for (i = 0; i < f->cfg->ndbs; i++) {
		const fr_db_driver *drv = fr_db_driver_find(f->cfg->dbs[i].driver);
		if (!f->cfg->dbs[i].path && (!drv || !drv->clone))
			return fr_fail(f, FERRY_EINVALID, "rehearsal cannot copy database '%s' (%s)",
			               f->cfg->dbs[i].name, f->cfg->dbs[i].driver);
	}
	clones = fr_calloc(f->cfg->ndbs ? f->cfg->ndbs : 1, sizeof *clones);
	if (!clones)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	fr_buf_printf(&dir, "%s/ferry-rehearsal-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (dir.oom || !mkdtemp(dir.ptr)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot make a folder for the rehearsal: %s",
		             strerror(errno));
		fr_buf_release(&dir);
		return rc;
	}
	fr_log(f, FERRY_LOG_INFO, NULL, "rehearsing on a copy in %s", dir.ptr);
	if (fr_copy_installation(f, dir.ptr, &err)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot copy the installation for the rehearsal: %s",
		             err.ptr);
		goto done;
	}
	oo.log = f->log;
	oo.log_ctx = f->log_ctx;
	rc = ferry_open(&g, dir.ptr, &oo);
	if (rc) {
		rc = fr_fail(f, rc, "cannot open the rehearsal copy: %s", ferry_errmsg(g));
		goto done;
	}
	/*
	 * Databases outside the root were copied under .ferry/databases/ of the
	 * copy; server databases are cloned into scratch databases, dropped below.
	 */
	for (i = 0; i < g->cfg->ndbs; i++) {
		fr_dbconf *c = &g->cfg->dbs[i];
		size_t rl = strlen(f->root);
		if (!c->path) {
			const fr_db_driver *drv = fr_db_driver_find(c->driver);
			fr_buf name = FR_BUF_INIT;
			char *url = NULL;
			fr_buf_printf(&name, "ferry_rehearsal_%ld_%zu", (long)getpid(), i);
			fr_log(f, FERRY_LOG_INFO, NULL, "cloning database '%s' into '%s'", c->name,
			       name.ptr);
			if (drv->clone(c, name.ptr, &url, &err)) {
				rc = fr_fail(f, FERRY_EFAILED, "cannot clone database '%s' for the rehearsal: "
				                               "%s", c->name, err.ptr);
				drv->drop_clone(c, name.ptr, &err);
				fr_buf_release(&name);
				goto done;
			}
			clones[i] = fr_buf_detach(&name);
			fr_free(c->url);
			c->url = url;
			continue;
		}
		if (strncmp(f->cfg->dbs[i].path, f->root, rl) || f->cfg->dbs[i].path[rl] != '/') {
			fr_buf p = FR_BUF_INIT;
			fr_buf_printf(&p, "%s/.ferry/databases/%s.sqlite", dir.ptr, c->name);
			fr_free(c->path);
			c->path = fr_buf_detach(&p);
		}
	}
	g->natives = f->natives; /* borrowed for the run, given back below */
	g->nnatives = f->nnatives;
	ro.rehearse = 0;
	ro.skip_backup = 1;
	ro.no_hooks = 1;
	ro.keep_going_on_start = 0;
	rc = ferry_up(g, target, &ro);
	g->natives = NULL;
	g->nnatives = 0;
	doc = g->last_run ? json_loads(g->last_run, 0, NULL) : json_object();
	if (!doc)
		doc = json_object();
	json_object_set_new(doc, "rehearsal", json_true());
	json_object_set_new(doc, "backup_id", json_null());
	json_object_set_new(doc, "run_id", json_null());
	if (rc)
		fr_fail(f, rc, "the rehearsal failed (the real installation is untouched): %s",
		        ferry_errmsg(g));
	else
		fr_ok(f);
	{
		char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fr_free(f->last_run);
		f->last_run = s ? fr_strdup(s) : NULL;
		free(s);
	}
done:
	json_decref(doc);
	for (i = 0; i < f->cfg->ndbs; i++) {
		const fr_db_driver *drv = fr_db_driver_find(f->cfg->dbs[i].driver);
		fr_buf_reset(&err);
		/* Dropped through the original's server: the copy's handle is closed first. */
		if (clones[i]) {
			fr_db_close(g ? g->vdb : NULL);
			if (g)
				g->vdb = NULL;
			if (drv->drop_clone(&f->cfg->dbs[i], clones[i], &err))
				fr_log(f, FERRY_LOG_WARN, NULL, "cannot drop the rehearsal database '%s': %s",
				       clones[i], err.ptr);
		}
		fr_free(clones[i]);
	}
	fr_free(clones);
	ferry_close(g);
	if (fr_rmtree(dir.ptr))
		fr_log(f, FERRY_LOG_WARN, NULL, "cannot remove the rehearsal copy %s: %s", dir.ptr,
		       strerror(errno));
	fr_buf_release(&dir);
	fr_buf_release(&err);
	return rc;
}

