/*
 * documents.c - the read-only documents of an installation: status, list,
 * history, one run's steps, the version history (docs/json.md), and publishing a document
 * to the caller. None takes the lock.
 */
#include "ferry_int.h"
#include "actions.h"
#include "db/db.h"
#include "plan.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jtime(int64_t ms)
{
	char ts[32];
	if (!ms)
		return json_null();
	fr_time_rfc3339(ms, ts, sizeof ts);
	return json_string(ts);
}

int fr_publish(ferry *f, json_t *doc, char **out)
{
	char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (!s)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	*out = fr_strdup(s);
	free(s);
	if (!*out)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	fr_ok(f);
	return 0;
}

json_t *fr_run_json(const fr_run_row *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "kind", json_string(r->kind));
	json_object_set_new(o, "started_at", jtime(r->started_at_ms));
	json_object_set_new(o, "finished_at", jtime(r->finished_at_ms));
	json_object_set_new(o, "from", json_string(r->from));
	json_object_set_new(o, "to", json_string(r->to));
	json_object_set_new(o, "status", json_string(r->status));
	json_object_set_new(o, "backup_id", jstr_or_null(r->backup_id));
	json_object_set_new(o, "message", jstr_or_null(r->message));
	if (r->finished_at_ms)
		json_object_set_new(o, "duration_ms",
		                    json_integer(r->finished_at_ms - r->started_at_ms));
	return o;
}



int ferry_status(char **out, ferry *f)
{
	json_t *doc = NULL, *pend, *locked = json_null();
	fr_version cur;
	struct ferry_plan *plan = NULL;
	fr_buf err = FR_BUF_INIT;
	fr_reg *regs = NULL, **idx = NULL;
	fr_run_row *runs = NULL, running;
	fr_lock_holder h;
	size_t nregs = 0, nruns = 0, i, j, npending = 0, nsteps = 0;
	fr_step **steps = NULL;
	char text[FR_VERSION_STR_MAX];
	int rc, found = 0, held, clean, quick = 0, have_runs = 0, run_row = 1;
	const fr_version *latest;
	*out = NULL;
	/*
	 * Nothing changed in the folders since a clean no-op at the version
	 * recorded now (noop.c): no catalog, and the latest is where it is.
	 * Not with a database other machines share (its record may have moved
	 * on: the refresh below reads it). An interrupted run is reported
	 * below either way. The listing arms no watch: that is up's.
	 */
	if (!fr_shared_record(f)) {
		fr_noop_state q;
		uint64_t listing;
		fr_vdb_start(f);
		fr_noop_quick_read(f, &q);
		listing = fr_noop_listing(f, NULL, 0, !q.stored);
		quick = fr_noop_quick(f, listing, &q, &cur, &run_row);
		/*
		 * The last run, in the same read as the version and whether a run
		 * is going on: with none going on, no query for it below.
		 */
		have_runs = quick && fr_state_runs(f->state, 1, &runs, &nruns) == 0;
		fr_state_commit(f->state);
	}
	if (!quick &&
	    ((rc = fr_catalog_and_current(f, &cur)) || (rc = fr_registry_refresh(f, NULL)))) {
		fr_statmemo_end(f);
		return rc;
	}
	latest = quick ? &cur : fr_catalog_latest(f->cat);
	/*
	 * The registry, even at the latest version (a step added later to a
	 * version already passed is pending too, out of order), unless the
	 * fingerprint of a clean no-op still holds: then nothing can be.
	 */
	clean = quick || (fr_version_cmp(&cur, latest) >= 0 && fr_noop_is_clean(f, &cur));
	if ((!clean && (fr_state_registry_ex(f->state, 0, &regs, &nregs) ||
	                !(idx = fr_reg_index(regs, nregs)))) ||
	    (!have_runs && fr_state_runs(f->state, 1, &runs, &nruns)) ||
	    ((!have_runs || run_row) && fr_state_running(f->state, &running, &found))) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
		goto done;
	}
	doc = json_object();
	json_object_set_new(doc, "app", json_string(f->cfg->app));
	fr_version_format(&cur, text, sizeof text);
	json_object_set_new(doc, "current", json_string(text));
	fr_version_format(latest, text, sizeof text);
	json_object_set_new(doc, "latest", json_string(text));
	pend = json_array();
	if (fr_version_cmp(&cur, latest) < 0 &&
	    fr_plan_compute(&plan, f->cat, &cur, latest, &err) == 0) {
		for (i = 0; i < plan->ntrs; i++) {
			fr_transition *t = plan->trs[i];
			json_t *o = json_object();
			fr_vpattern_format(&t->from, text, sizeof text);
			json_object_set_new(o, "from", json_string(text));
			fr_version_format(&t->to, text, sizeof text);
			json_object_set_new(o, "to", json_string(text));
			json_array_append_new(pend, o);
			if (fr_plan_steps_of(plan, i, &steps, &nsteps)) {
				rc = fr_fail(f, FERRY_EFAILED, "out of memory");
				goto done;
			}
			for (j = 0; j < nsteps; j++)
				npending += (size_t)fr_step_pending(f, idx, nregs, steps[j]);
			FR_FREE(steps);
		}
	}
	/* Other tools' steps of versions reached: pending too, run without a version change. */
	if (!clean) {
		if (fr_schema_pending(f, idx, nregs, &cur, &steps, &nsteps)) {
			rc = fr_fail(f, FERRY_EFAILED, "out of memory");
			goto done;
		}
		npending += nsteps;
		json_object_set_new(doc, "schema_only_steps", json_integer((json_int_t)nsteps));
		FR_FREE(steps);
	} else {
		json_object_set_new(doc, "schema_only_steps", json_integer(0));
	}
	{
		fr_step **ooo = NULL;
		size_t nooo = 0;
		json_t *arr = json_array();
		if (!clean && fr_out_of_order(f, idx, nregs, &cur, &ooo, &nooo)) {
			json_decref(arr);
			rc = fr_fail(f, FERRY_EFAILED, "out of memory");
			goto done;
		}
		for (i = 0; i < nooo; i++)
			json_array_append_new(arr, json_string(ooo[i]->id));
		fr_free(ooo);
		json_object_set_new(doc, "out_of_order", arr);
	}
	{
		/* A database file gone while steps are recorded on it: not up to date (up exits 3). */
		json_t *gone = json_array();
		if (!clean)
			fr_missing_dbs(f, regs, nregs, NULL, gone);
		json_object_set_new(doc, "missing_databases", gone);
	}
	json_object_set_new(doc, "pending_transitions", pend);
	json_object_set_new(doc, "pending_steps", json_integer((json_int_t)npending));
	if (err.len)
		json_object_set_new(doc, "plan_error", json_string(err.ptr));
	json_object_set_new(doc, "last_run", nruns ? fr_run_json(&runs[0]) : json_null());
	held = fr_lock_probe(f->ferry_dir, &h);
	if (held > 0) {
		locked = json_object();
		json_object_set_new(locked, "pid", h.pid ? json_integer(h.pid) : json_null());
		json_object_set_new(locked, "host", h.host[0] ? json_string(h.host) : json_null());
		json_object_set_new(locked, "since", h.since[0] ? json_string(h.since) : json_null());
	}
	/* A runner on another machine holds the database's own lock (PostgreSQL). */
	if (held <= 0) {
		int vrc;
		fr_db *vdb = fr_version_db(f, &vrc);
		fr_buf who = FR_BUF_INIT, werr = FR_BUF_INIT;
		if (vdb && fr_db_can(vdb->conf, FR_DB_CAP_SESSION_LOCK) &&
		    vdb->drv->lock_holder(vdb, &who, &werr) == 0 && who.len) {
			json_decref(locked);
			locked = json_object();
			json_object_set_new(locked, "pid", json_null());
			json_object_set_new(locked, "host", json_null());
			json_object_set_new(locked, "since", json_null());
			json_object_set_new(locked, "database", json_string(f->cfg->dbs[0].name));
			json_object_set_new(locked, "holder", json_string(who.ptr));
		}
		fr_buf_release(&who);
		fr_buf_release(&werr);
	}
	json_object_set_new(doc, "locked_by", locked);
	/* A paused run: the walker that recorded it still holds the lock (lib/pause.c). */
	{
		fr_pause_row pr;
		json_t *paused = json_null();
		int got = fr_state_pause_get(f->state, &pr);
		if (got > 0 && held > 0 && pr.pid == h.pid) {
			paused = json_object();
			json_object_set_new(paused, "run", pr.run_id ? json_integer(pr.run_id) : json_null());
			json_object_set_new(paused, "since", jtime(pr.since_ms));
			json_object_set_new(paused, "by", json_string(pr.by));
		}
		fr_free(pr.by);
		json_object_set_new(doc, "paused", paused);
	}
	json_object_set_new(doc, "interrupted", json_boolean(found && held <= 0));
	if (found && held <= 0)
		json_object_set_new(doc, "interrupted_run", fr_run_json(&running));
	rc = fr_publish(f, doc, out);
	doc = NULL;
done:
	fr_statmemo_end(f);
	if (found)
		fr_run_row_clear(&running);
	json_decref(doc);
	fr_plan_free(plan);
	fr_buf_release(&err);
	fr_free(idx);
	fr_regs_free(regs, nregs);
	fr_run_rows_free(runs, nruns);
	return rc;
}

/* Steps in the order they run: by version (semver precedence), then by id. */
static int step_order(const void *a, const void *b)
{
	const fr_step *x = *(fr_step *const *)a, *y = *(fr_step *const *)b;
	int c = fr_version_cmp(&x->tr->to, &y->tr->to);
	if (c)
		return c;
	/* Other tools' steps keep their chain's order, before (or after) a version's own. */
	if (x->layout && y->layout) {
		if (x->source != y->source)
			return x->source < y->source ? -1 : 1;
		return x->chain < y->chain ? -1 : x->chain > y->chain;
	}
	if (x->layout || y->layout)
		return (x->layout ? -1 : 1) * (x->tr->foreign_after ? -1 : 1);
	return strcmp(x->id, y->id);
}

int ferry_list(char **out, ferry *f)
{
	fr_step **order = NULL, **ooo = NULL;
	fr_version cur, base;
	json_t *doc, *arr;
	fr_reg *regs = NULL, **idx = NULL;
	size_t nregs = 0, i, nooo = 0;
	char text[FR_VERSION_STR_MAX];
	int rc, has_base;
	*out = NULL;
	if ((rc = fr_catalog_and_current(f, &cur)) || (rc = fr_registry_refresh(f, NULL)))
		return rc;
	if (fr_state_registry(f->state, &regs, &nregs))
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	if (!(idx = fr_reg_index(regs, nregs))) {
		fr_regs_free(regs, nregs);
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	order = fr_malloc((f->cat->nsteps ? f->cat->nsteps : 1) * sizeof *order);
	if (!order) {
		fr_free(idx);
		fr_regs_free(regs, nregs);
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	if (f->cat->nsteps)
		memcpy(order, f->cat->steps, f->cat->nsteps * sizeof *order);
	qsort(order, f->cat->nsteps, sizeof *order, step_order);
	if (fr_out_of_order(f, idx, nregs, &cur, &ooo, &nooo)) {
		fr_free(order);
	fr_free(ooo);
		fr_free(idx);
		fr_regs_free(regs, nregs);
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	has_base = fr_baseline(f, &base);
	doc = json_object();
	arr = json_array();
	for (i = 0; i < f->cat->nsteps; i++) {
		fr_step *s = order[i];
		const fr_reg *r = fr_reg_lookup(idx, nregs, s->id);
		json_t *o = json_object();
		const char *state = "pending";
		int below_base = 0;
		int ck = fr_state_checksum(f->state, s);
		/*
		 * Not applied, and at or below the current version: added later to a
		 * transition already taken (out of order), or the path went another
		 * way or began above it (bypassed, then below the baseline if one was set).
		 */
		int pending = s->layout && fr_step_pending(f, idx, nregs, s);
		if (pending) {
			/* another tool's step: pending until applied (or changed, when repeatable) */
		} else if (fr_version_cmp(&s->tr->to, &cur) <= 0) {
			size_t k;
			state = "bypassed";
			for (k = 0; k < nooo; k++)
				if (ooo[k] == s)
					state = "out_of_order";
			if (!strcmp(state, "bypassed") && has_base &&
			    fr_version_cmp(&s->tr->to, &base) <= 0)
				below_base = 1;
		}
		if (r && !pending && (fr_reg_applied(r->status) || strcmp(state, "bypassed"))) {
			state = r->status;
			if (fr_reg_applied(r->status) && fr_drift_of(f, r, NULL, 0) != FR_DRIFT_NONE)
				state = "changed";
		}
		json_object_set_new(o, "id", json_string(s->id));
		fr_vpattern_format(&s->tr->from, text, sizeof text);
		json_object_set_new(o, "from", json_string(text));
		fr_version_format(&s->tr->to, text, sizeof text);
		json_object_set_new(o, "to", json_string(text));
		json_object_set_new(o, "kind", json_string(s->kind->name));
		json_object_set_new(o, "state", json_string(state));
		if (s->layout) {
			json_object_set_new(o, "layout", json_string(s->layout));
			json_object_set_new(o, "tool_version", s->repeatable ? json_null() :
			                                                       json_string(s->tool_version));
			json_object_set_new(o, "tool_name", json_string(s->tool_name));
		}
		json_object_set_new(o, "checksum", ck ? json_null() : json_string(s->checksum));
		json_object_set_new(o, "applied_at", r && fr_reg_applied(r->status) ?
		                                         jtime(r->applied_at_ms) : json_null());
		json_object_set_new(o, "duration_ms", r ? json_integer(r->duration_ms) : json_null());
		if (r && strcmp(state, r->status) == 0 && r->message)
			json_object_set_new(o, "message", json_string(r->message));
		if (below_base && !strcmp(state, "bypassed")) {
			fr_version_format(&base, text, sizeof text);
			json_object_set_new(o, "baseline", json_string(text));
		}
		json_array_append_new(arr, o);
	}
	/* Applied steps whose files are gone. */
	for (i = 0; i < nregs; i++) {
		json_t *o;
		if (fr_catalog_step(f->cat, regs[i].id) || !fr_reg_applied(regs[i].status))
			continue;
		o = json_object();
		json_object_set_new(o, "id", json_string(regs[i].id));
		json_object_set_new(o, "from", json_string(regs[i].from));
		json_object_set_new(o, "to", json_string(regs[i].to));
		json_object_set_new(o, "kind", json_string(regs[i].kind));
		/* A native step registered by the application, not by this program: applied. */
		json_object_set_new(o, "state", json_string(fr_kind_has(fr_step_kind_find(regs[i].kind),
		                                                        FR_KIND_NO_FILE) ?
		                                            "applied" : "missing"));
		json_object_set_new(o, "checksum", json_string(regs[i].checksum));
		json_object_set_new(o, "applied_at", jtime(regs[i].applied_at_ms));
		json_object_set_new(o, "duration_ms", json_integer(regs[i].duration_ms));
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "steps", arr);
	fr_state_cache_save(f->state);
	fr_free(order);
	fr_free(ooo);
	fr_free(idx);
	fr_regs_free(regs, nregs);
	return fr_publish(f, doc, out);
}

int ferry_history(char **out, ferry *f)
{
	fr_run_row *runs = NULL;
	size_t n = 0, i;
	json_t *doc, *arr;
	*out = NULL;
	if (fr_state_runs(f->state, 0, &runs, &n))
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	doc = json_object();
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, fr_run_json(&runs[i]));
	json_object_set_new(doc, "runs", arr);
	fr_run_rows_free(runs, n);
	return fr_publish(f, doc, out);
}

int ferry_history_run(char **out, ferry *f, long run_id)
{
	fr_run_row *runs = NULL;
	fr_run_step_row *steps = NULL;
	size_t n = 0, nsteps = 0, i;
	json_t *doc, *arr;
	*out = NULL;
	if (fr_state_runs(f->state, 0, &runs, &n))
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	for (i = 0; i < n && runs[i].id != run_id; i++)
		;
	if (i == n) {
		fr_run_rows_free(runs, n);
		return fr_fail(f, FERRY_EINVALID, "no run #%ld (see 'ferry history')", run_id);
	}
	if (fr_state_run_steps(f->state, run_id, &steps, &nsteps)) {
		fr_run_rows_free(runs, n);
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	}
	doc = json_object();
	json_object_set_new(doc, "run", fr_run_json(&runs[i]));
	arr = json_array();
	for (i = 0; i < nsteps; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(steps[i].step_id));
		json_object_set_new(o, "status", json_string(steps[i].status));
		json_object_set_new(o, "duration_ms", json_integer(steps[i].duration_ms));
		json_object_set_new(o, "message", jstr_or_null(steps[i].message));
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "steps", arr);
	fr_run_step_rows_free(steps, nsteps);
	fr_run_rows_free(runs, n);
	return fr_publish(f, doc, out);
}

int ferry_versions(char **out, ferry *f)
{
	json_t *doc, *arr;
	fr_version cur;
	char text[FR_VERSION_STR_MAX];
	size_t i;
	int rc;
	*out = NULL;
	if ((rc = fr_catalog_and_current(f, &cur)))
		return rc;
	doc = json_object();
	arr = json_array();
	for (i = 0; i < f->cat->nversions; i++) {
		const fr_vinfo *vi = &f->cat->versions[i];
		json_t *o = json_object();
		fr_version_format(&vi->v, text, sizeof text);
		json_object_set_new(o, "version", json_string(text));
		json_object_set_new(o, "notes", jstr_or_null(vi->notes));
		json_object_set_new(o, "required_stop", json_boolean(vi->required_stop));
		json_object_set_new(o, "current", json_boolean(fr_version_cmp(&vi->v, &cur) == 0));
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "versions", arr);
	return fr_publish(f, doc, out);
}

