/*
 * rehearse.c - up --rehearse: the whole plan run on a throw-away copy of
 * the installation (files and file databases copied, server databases
 * cloned into scratch databases), reported, then discarded. The real
 * installation is only read.
 */
#include "ferry_int.h"
#include "backup.h"
#include "plan.h"
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
/*
 * One function: the copy, the run on it and the clean-up share every
 * resource (the folder, the copy's handle, the clones) and one done: path.
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
		const fr_dbconf *c = &f->cfg->dbs[i];
		if (!fr_db_can_copy(c) && !fr_db_can(c, FR_DB_CAP_CLONE))
			return fr_fail(f, FERRY_EINVALID, "rehearsal cannot copy database '%s' (%s): "
			               "its driver can neither copy nor clone it", c->name, fr_db_where(c));
	}
	/* Nothing to do: nothing to copy or clone. */
	{
		ferry_plan *p = NULL;
		ferry_run_options po = *o;
		po.rehearse = 0;
		po.skip_backup = 1;
		po.no_hooks = 1;
		if ((rc = ferry_plan_for(&p, f, target, &po)))
			return rc;
		i = ferry_plan_step_count(p) + (p->nacts ? 1 : 0);
		ferry_plan_free(p);
		if (!i) {
			po.rehearse = 0;
			return ferry_up(f, target, &po);
		}
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
	 * File databases point at their copies (those outside the root were
	 * copied under .ferry/databases/ of the copy); server databases are
	 * cloned into scratch databases, dropped below.
	 */
	for (i = 0; i < g->cfg->ndbs; i++) {
		fr_dbconf *c = &g->cfg->dbs[i];
		char *to = NULL;
		if (fr_db_can(c, FR_DB_CAP_CLONE)) {
			fr_buf name = FR_BUF_INIT;
			char *url = NULL;
			fr_buf_printf(&name, "ferry_rehearsal_%ld_%zu", (long)getpid(), i);
			fr_log(f, FERRY_LOG_INFO, NULL, "cloning database '%s' into '%s'", c->name,
			       name.ptr);
			if (fr_db_clone(c, name.ptr, &url, &err) ||
			    fr_db_repoint(c, url, g->root, &err)) {
				rc = fr_fail(f, FERRY_EFAILED, "cannot clone database '%s' for the rehearsal: "
				                               "%s", c->name, err.ptr);
				fr_db_drop_clone(&f->cfg->dbs[i], name.ptr, &err);
				fr_free(url);
				fr_buf_release(&name);
				goto done;
			}
			fr_free(url);
			clones[i] = fr_buf_detach(&name);
			continue;
		}
		if (fr_copy_db_path(f, &f->cfg->dbs[i], dir.ptr, &to, &err) ||
		    (to && fr_db_point_at_file(c, to, &err))) {
			fr_free(to);
			rc = fr_fail(f, FERRY_EFAILED, "cannot point database '%s' at its copy: %s",
			             c->name, err.ptr);
			goto done;
		}
		fr_free(to);
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
	doc = g->last_run && fr_last_run_doc(g) ? json_deep_copy(g->last_run) : json_object();
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
	fr_last_run_clear(f);
	f->last_run = json_incref(doc);
done:
	json_decref(doc);
	for (i = 0; i < f->cfg->ndbs; i++) {
		fr_buf_reset(&err);
		/* Dropped through the original's server: the copy's handle is closed first. */
		if (clones[i]) {
			fr_db_close(g ? g->vdb : NULL);
			if (g)
				g->vdb = NULL;
			if (fr_db_drop_clone(&f->cfg->dbs[i], clones[i], &err))
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

