/*
 * actions.c - the resolved plan: the complete, ordered list of actions a
 * run takes (SPEC 6 steps 5 to 9), made from the path (plan.c), the
 * registry (which steps are applied), the configuration (hooks, databases,
 * transaction mode) and the run's options. Printing a plan, a dry run, a
 * plan file and the run itself all walk this one list; the engine (run.c)
 * executes it and decides nothing again.
 *
 * Transactions: consecutive steps on one database that may share a
 * transaction share one; the planner ends it (a commit action) when the
 * next step is of another database or outside any transaction, after every
 * step with `transaction: step`, and before a checkpoint. A version is
 * recorded once the transition that reaches it is whole and committed.
 *
 * Steps of other tools' folders (catalog.c ships them into transitions)
 * run in the transition that ships them, before its own steps (after them
 * with `foreign: after`); those of a transition the path goes around run
 * in the next one it takes. Pending ones of versions already reached run
 * first, schema only: no version is recorded for them. A repeatable one
 * (Flyway's R__) is pending again when its file changed.
 */
#include "actions.h"
#include "backup.h"
#include "util/alloc.h"
#include "util/hash.h"
#include "util/jsonw.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>


static int is_applied(fr_reg **idx, size_t n, const char *id)
{
	const fr_reg *r = fr_reg_lookup(idx, n, id);
	return r && fr_reg_applied(r->status);
}

int fr_step_pending(ferry *f, fr_reg **idx, size_t nregs, fr_step *s)
{
	const fr_reg *r = fr_reg_lookup(idx, nregs, s->id);
	if (!r || !fr_reg_applied(r->status))
		return 1;
	/* A repeatable one runs again when its checksum is not the one recorded. */
	return s->repeatable && fr_state_checksum(f->state, s) == 0 &&
	       strcmp(s->checksum, r->checksum) != 0;
}

static int on_path(const struct ferry_plan *p, const fr_transition *t)
{
	size_t i;
	for (i = 0; i < p->ntrs; i++)
		if (p->trs[i] == t)
			return 1;
	return 0;
}

int fr_plan_steps_of(const struct ferry_plan *p, size_t i, fr_step ***out, size_t *n)
{
	const fr_catalog *cat = p->cat;
	const fr_transition *t = p->trs[i];
	const fr_version *lo = i ? &p->trs[i - 1]->to : &p->from;
	fr_step **v;
	size_t j, k = 0, at;
	*out = NULL;
	*n = 0;
	if (!(v = fr_calloc(t->nsteps + cat->nforeign + 1, sizeof *v)))
		return -1;
	/* Where the foreign steps go: before its first one, or where they would be. */
	for (at = 0; at < t->nsteps && !t->steps[at]->layout; at++)
		;
	if (at == t->nsteps && !t->foreign_after)
		at = 0;
	for (j = 0; j < at; j++)
		v[k++] = t->steps[j];
	for (j = 0; j < cat->nforeign; j++) {
		fr_step *s = cat->foreign[j];
		if (s->tr->schema_only || on_path(p, s->tr) || fr_version_cmp(&s->tr->to, lo) <= 0 ||
		    fr_version_cmp(&s->tr->to, &t->to) > 0)
			continue;
		v[k++] = s;
	}
	for (j = at; j < t->nsteps; j++)
		v[k++] = t->steps[j];
	*out = v;
	*n = k;
	return 0;
}

int fr_schema_pending(ferry *f, fr_reg **idx, size_t nregs, const fr_version *cur,
                      fr_step ***out, size_t *n)
{
	size_t i, k = 0;
	fr_step **v;
	*out = NULL;
	*n = 0;
	if (!f->cat->nforeign)
		return 0;
	if (!(v = fr_calloc(f->cat->nforeign, sizeof *v)))
		return -1;
	for (i = 0; i < f->cat->nforeign; i++) {
		fr_step *s = f->cat->foreign[i];
		if ((s->tr->schema_only || fr_version_cmp(&s->tr->to, cur) <= 0) &&
		    fr_step_pending(f, idx, nregs, s))
			v[k++] = s;
	}
	if (!k)
		FR_FREE(v);
	*out = v;
	*n = k;
	return 0;
}

/* The planner's state while it lays out the steps. */
typedef struct {
	struct ferry_plan *p;
	ferry *f;
	const char *open_db; /* the database of the open transaction, or NULL */
	int tx;              /* its number; 0 when none is open */
	int ntx;             /* transactions numbered so far */
	fr_version last;     /* the version last recorded (or the start) */
	fr_version pending;  /* reached once the open transaction commits */
	int have_pending;
	fr_buf *err;
	int bad;             /* a step did not load */
} layout;

static int add_version(layout *L, const fr_version *v)
{
	fr_action *a;
	if (fr_version_cmp(v, &L->last) == 0 && strcmp(v->build, L->last.build) == 0)
		return 0;
	if (!(a = fr_plan_add(L->p, FR_ACT_VERSION, NULL, NULL)))
		return -1;
	a->version = *v;
	L->last = *v;
	return 0;
}

/* Ends the open transaction, then records the version it completes. */
static int add_commit(layout *L)
{
	fr_action *a;
	if (!L->tx)
		return 0;
	if (!(a = fr_plan_add(L->p, FR_ACT_COMMIT, NULL, L->open_db)))
		return -1;
	a->tx = L->tx;
	L->tx = 0;
	L->open_db = NULL;
	if (L->have_pending) {
		L->have_pending = 0;
		return add_version(L, &L->pending);
	}
	return 0;
}

/* The database a loaded step runs on: its own, the default, or NULL for none. */
static const char *step_db(const ferry *f, const fr_step *s)
{
	const char *db = s->kind->database(s);
	if (db && !*db)
		return NULL;
	if (db)
		return db;
	return f->cfg->ndbs ? f->cfg->dbs[0].name : NULL;
}

static int add_step(layout *L, fr_step *s, int rerun)
{
	ferry *f = L->f;
	const char *db;
	fr_action *a;
	int transactional;
	if (fr_step_load(s, L->err)) {
		if (L->err->len && L->err->ptr[L->err->len - 1] != '\n')
			fr_buf_putc(L->err, '\n');
		L->bad = 1;
		return 0;
	}
	/* What the load hashed: the next start need not read the file again. */
	if (!fr_kind_has(s->kind, FR_KIND_NO_FILE))
		fr_state_cache_note(f->state, s);
	db = step_db(f, s);
	transactional = db && s->kind->transactional(s);
	if (L->tx && (!transactional || strcmp(L->open_db, db)) && add_commit(L))
		return -1;
	if (transactional && !L->tx) {
		L->tx = ++L->ntx;
		L->open_db = db;
	}
	if (!(a = fr_plan_add(L->p, FR_ACT_STEP, s->id, db)))
		return -1;
	a->step = s;
	a->rerun = rerun;
	a->tx = transactional ? L->tx : 0;
	a->reversible = s->kind->reversible(s);
	a->empty = fr_step_empty(s);
	if (transactional && f->cfg->tx_per_step)
		return add_commit(L);
	return 0;
}

/* SPEC 6.9: restarts (each service once, those ferry.yaml has a hook for), start, health. */
static int add_after_hooks(struct ferry_plan *p, const fr_config *c, int stopped)
{
	size_t i, k;
	for (i = 0; i < p->nrestarts; i++) {
		for (k = 0; k < c->n_hook_restart; k++) {
			if (!strcmp(c->hook_restart[k].name, p->restarts[i])) {
				fr_buf name = FR_BUF_INIT;
				fr_action *a;
				fr_buf_printf(&name, "restart.%s", p->restarts[i]);
				a = name.oom ? NULL : fr_plan_add(p, FR_ACT_HOOK, name.ptr, NULL);
				fr_buf_release(&name);
				if (!a)
					return -1;
				break;
			}
		}
	}
	if (stopped && c->hook_start && !fr_plan_add(p, FR_ACT_HOOK, "start", NULL))
		return -1;
	if (c->hook_health && !fr_plan_add(p, FR_ACT_HOOK, "health", NULL))
		return -1;
	return 0;
}

/* The step --rerun names when the path does not hold it (already passed): run first. */
static fr_step *rerun_outside(const struct ferry_plan *p, const fr_catalog *cat, const char *id)
{
	fr_step *s = fr_catalog_step(cat, id);
	size_t i, j;
	for (i = 0; s && i < p->ntrs; i++)
		for (j = 0; j < p->trs[i]->nsteps; j++)
			if (p->trs[i]->steps[j] == s)
				return NULL;
	return s;
}

static int add_drift(struct ferry_plan *p, const char *line)
{
	char **v = fr_realloc(p->drift, (p->ndrift + 1) * sizeof *v);
	if (!v)
		return -1;
	p->drift = v;
	return (v[p->ndrift] = fr_strdup(line)) ? (p->ndrift++, 0) : -1;
}

fr_drift fr_drift_of(ferry *f, const fr_reg *r, fr_step **s_out, int rehash)
{
	fr_step *s = fr_catalog_step(f->cat, r->id);
	if (s_out)
		*s_out = s;
	/* A native step has no file to drift; the program that runs it may be another. */
	if (!s)
		return fr_kind_has(fr_step_kind_find(r->kind), FR_KIND_NO_FILE) ? FR_DRIFT_NO_FILE :
		                                                                   FR_DRIFT_GONE;
	/* A repeatable one (Flyway's R__) that changed is pending again (fr_step_pending). */
	if (s->repeatable)
		return FR_DRIFT_NONE;
	/*
	 * verify reads the bytes: an edit that kept the size and put the
	 * modification time back fools the stat cache, which only the start-up
	 * path may trust.
	 */
	if (rehash && !fr_kind_has(s->kind, FR_KIND_NO_FILE)) {
		char ck[FR_CHECKSUM_LEN + 1];
		if (fr_checksum_file(s->path, ck))
			return FR_DRIFT_UNREADABLE;
		memcpy(s->checksum, ck, sizeof ck);
	}
	if (fr_state_checksum(f->state, s))
		return FR_DRIFT_UNREADABLE;
	return strcmp(s->checksum, r->checksum) ? FR_DRIFT_CHANGED : FR_DRIFT_NONE;
}

size_t fr_find_drift(ferry *f, const fr_reg *regs, size_t n, fr_buf *out)
{
	size_t i, count = 0;
	for (i = 0; i < n; i++) {
		fr_step *s;
		if (!fr_reg_applied(regs[i].status))
			continue;
		switch (fr_drift_of(f, &regs[i], &s, 0)) {
		case FR_DRIFT_NONE:
		case FR_DRIFT_NO_FILE:
			continue;
		case FR_DRIFT_GONE:
			/* A step of a version above the catalog's latest, or a removed file. */
			fr_buf_printf(out, "  %s: applied, but its file is gone\n", regs[i].id);
			break;
		case FR_DRIFT_UNREADABLE:
			fr_buf_printf(out, "  %s: cannot read '%s': %s\n", regs[i].id, s->rel,
			              strerror(errno));
			break;
		case FR_DRIFT_CHANGED:
			fr_buf_printf(out, "  %s: changed since it was applied (%s, now %s)\n",
			              regs[i].id, regs[i].checksum, s->checksum);
			break;
		}
		count++;
	}
	return count;
}

size_t fr_missing_dbs(ferry *f, const fr_reg *regs, size_t n, fr_buf *out, json_t *arr)
{
	size_t d, i, count = 0;
	for (d = 0; d < f->cfg->ndbs; d++) {
		const fr_dbconf *c = &f->cfg->dbs[d];
		size_t applied = 0;
		if (fr_db_exists(c))
			continue;
		for (i = 0; i < n; i++)
			applied += regs[i].database && !strcmp(regs[i].database, c->name) &&
			           fr_reg_applied(regs[i].status);
		if (!applied)
			continue;
		if (out)
			fr_buf_printf(out, "database '%s': '%s' does not exist, but %zu step%s recorded "
			                   "as applied to it\n",
			              c->name, fr_db_where(c), applied,
			              applied == 1 ? " is" : "s are");
		if (arr) {
			json_t *o = json_object();
			json_object_set_new(o, "database", json_string(c->name));
			json_object_set_new(o, "path", json_string(fr_db_where(c)));
			json_object_set_new(o, "applied_steps", json_integer((json_int_t)applied));
			json_array_append_new(arr, o);
		}
		count++;
	}
	return count;
}

uint64_t fr_dbs_present(ferry *f)
{
	uint64_t mask = 0;
	size_t d;
	for (d = 0; d < f->cfg->ndbs && d < 64; d++)
		if (fr_db_exists(&f->cfg->dbs[d]))
			mask |= (uint64_t)1 << d;
	return mask;
}

int fr_baseline(ferry *f, fr_version *out)
{
	fr_buf b = FR_BUF_INIT;
	int rc = fr_state_get_meta(f->state, "baseline", &b);
	int have = rc == 0 && b.len && fr_version_parse(out, b.ptr, NULL) == 0;
	fr_buf_release(&b);
	return have;
}

int fr_out_of_order(ferry *f, fr_reg **idx, size_t nregs, const fr_version *cur,
                    fr_step ***out, size_t *n)
{
	fr_version base;
	int has_base = fr_baseline(f, &base);
	size_t i, j, cnt = 0, cap = 0;
	fr_step **v = NULL;
	*out = NULL;
	*n = 0;
	for (i = 0; i < f->cat->ntrs; i++) {
		const fr_transition *t = f->cat->trs[i];
		int taken = 0;
		if (fr_version_cmp(&t->to, cur) > 0)
			break; /* trs are sorted by to */
		if (has_base && fr_version_cmp(&t->to, &base) <= 0)
			continue;
		for (j = 0; j < t->nsteps && !taken; j++)
			taken = !t->steps[j]->layout && is_applied(idx, nregs, t->steps[j]->id);
		if (!taken)
			continue; /* a transition the path went around: its steps are bypassed */
		for (j = 0; j < t->nsteps; j++) {
			/* another tool's steps of a version reached run schema only (fr_schema_pending) */
			if (t->steps[j]->layout || is_applied(idx, nregs, t->steps[j]->id))
				continue;
			if (fr_grow(&v, &cap, cnt + 1, sizeof *v)) {
				fr_free(v);
				return -1;
			}
			v[cnt++] = t->steps[j];
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

/*
 * A pre-run backup an earlier attempt took and nothing used since stands
 * for this run's (lib/backup/reuse.c decides when that is safe): the plan
 * says which, and the engine takes no new one.
 */
static void plan_reuse(struct ferry_plan *p, ferry *f)
{
	char v[FR_VERSION_STR_MAX];
	size_t i;
	if (!f || !f->state)
		return;
	for (i = 0; i < p->nacts; i++) {
		fr_action *a = &p->acts[i];
		if (a->kind != FR_ACT_BACKUP || strcmp(a->id, "pre-run"))
			continue;
		fr_version_format(&p->from, v, sizeof v);
		fr_free(a->reuse);
		a->reuse = fr_backup_reusable(f, v, p->basis_registry);
		return;
	}
}

/*
 * Digests of what the plan was made from, so that a plan file refuses to
 * run elsewhere: the catalog's part (every step on the path and of the
 * plan, with its checksum) and the registry's (the version, every applied
 * step with its checksum).
 */
static int make_basis(struct ferry_plan *p, ferry *f, fr_reg **idx, size_t nregs)
{
	fr_sha256 *h = fr_sha256_new();
	fr_buf m = FR_BUF_INIT; /* each digest's bytes, hashed in one update (not 4,000 small ones) */
	char v[FR_VERSION_STR_MAX];
	size_t i, j;
	int rc = -1;
	if (!h)
		return -1;
	for (i = 0; i <= p->ntrs; i++) {
		fr_step **sv = p->schema;
		size_t n = p->nschema;
		/* the schema-only steps, then each transition's */
		if (i < p->ntrs) {
			fr_buf_add(&m, p->trs[i]->name, strlen(p->trs[i]->name) + 1);
			if (fr_plan_steps_of(p, i, &sv, &n))
				goto done;
		}
		for (j = 0; j < n; j++) {
			fr_step *s = sv[j];
			if (!s->checksum[0] && !fr_kind_has(s->kind, FR_KIND_NO_FILE) &&
			    fr_state_checksum(f->state, s)) {
				if (i < p->ntrs)
					fr_free(sv);
				goto done;
			}
			fr_buf_add(&m, s->id, strlen(s->id) + 1);
			fr_buf_add(&m, s->checksum, strlen(s->checksum) + 1);
		}
		if (i < p->ntrs)
			fr_free(sv);
	}
	/* A step --only or --rerun names may be off the path. */
	for (i = 0; i < p->nacts; i++) {
		const fr_action *a = &p->acts[i];
		if (a->kind != FR_ACT_STEP || !a->rerun)
			continue;
		fr_buf_add(&m, a->id, strlen(a->id) + 1);
		fr_buf_add(&m, a->step->checksum, strlen(a->step->checksum) + 1);
	}
	if (m.oom || fr_sha256_update(h, m.ptr, m.len) || fr_sha256_hex_reset(h, p->basis_catalog))
		goto done;
	fr_buf_reset(&m);
	fr_version_format(&p->from, v, sizeof v);
	fr_buf_add(&m, v, strlen(v) + 1);
	for (i = 0; i < nregs; i++) {
		const fr_reg *r = idx[i];
		if (!fr_reg_applied(r->status))
			continue;
		fr_buf_add(&m, r->id, strlen(r->id) + 1);
		fr_buf_add(&m, r->checksum, strlen(r->checksum) + 1);
		fr_buf_add(&m, r->status, strlen(r->status) + 1);
	}
	rc = m.oom || fr_sha256_update(h, m.ptr, m.len) ? -1 : fr_sha256_hex_reset(h, p->basis_registry);
done:
	fr_sha256_free(h);
	fr_buf_release(&m);
	return rc;
}

/*
 * One function: the order of the actions is the order of its statements,
 * which is the point of reading it (SPEC 6 steps 5 to 9, top to bottom).
 */
int fr_plan_resolve(struct ferry_plan *p, ferry *f, fr_reg **idx, const fr_reg *regs,
                    size_t nregs, const ferry_run_options *o, fr_buf *err)
{
	layout L;
	fr_step *only = NULL, *extra = NULL, **ooo = NULL, **steps = NULL;
	fr_buf drift = FR_BUF_INIT;
	size_t i, j, npend = 0, nooo = 0, nsteps = 0;
	int stopped = 0, rc = FERRY_EFAILED;

	fr_actions_clear(p->acts, p->nacts);
	p->nacts = 0;
	for (i = 0; i < p->ndrift; i++)
		fr_free(p->drift[i]);
	p->ndrift = 0;
	p->opts = *o;
	p->resolved = 0;
	memset(&L, 0, sizeof L);
	L.p = p;
	L.f = f;
	L.last = p->from;
	L.err = err;

	if (o->only && !(only = fr_catalog_step(f->cat, o->only))) {
		fr_buf_printf(err, "no step '%s' in the catalog (see 'ferry list')", o->only);
		return FERRY_EINVALID;
	}
	if (!only && o->rerun) {
		if (!fr_catalog_step(f->cat, o->rerun)) {
			fr_buf_printf(err, "no step '%s' in the catalog (see 'ferry list')", o->rerun);
			return FERRY_EINVALID;
		}
		extra = rerun_outside(p, f->cat, o->rerun);
	}
	if (!only && fr_out_of_order(f, idx, nregs, &p->from, &ooo, &nooo))
		goto nomem;
	for (i = 0; i < p->nooo; i++)
		fr_free(p->ooo[i]);
	p->nooo = 0;
	for (i = 0; i < nooo; i++) {
		char **t = fr_realloc(p->ooo, (p->nooo + 1) * sizeof *t);
		if (!t)
			goto nomem;
		p->ooo = t;
		if (!(t[p->nooo] = fr_strdup(ooo[i]->id)))
			goto nomem;
		p->nooo++;
	}
	if (!o->allow_out_of_order)
		nooo = 0; /* listed, not planned: up refuses them */
	FR_FREE(p->schema);
	p->nschema = 0;
	if (!only && fr_schema_pending(f, idx, nregs, &p->from, &p->schema, &p->nschema))
		goto nomem;
	for (i = 0; i < p->nschema; i++)
		p->backup_required |= p->schema[i]->tr->backup_required;
	/* What is pending decides whether there is a run at all. */
	if (only || extra || nooo || p->nschema)
		npend = 1;
	for (i = 0; !only && !npend && i < p->ntrs; i++) {
		if (fr_plan_steps_of(p, i, &steps, &nsteps))
			goto nomem;
		for (j = 0; j < nsteps && !npend; j++)
			npend = fr_step_pending(f, idx, nregs, steps[j]) ||
			        (o->rerun && !strcmp(o->rerun, steps[j]->id));
		FR_FREE(steps);
	}
	if (nregs) {
		size_t k, nd = fr_find_drift(f, regs, nregs, &drift);
		char *line = drift.ptr;
		for (k = 0; k < nd && line && *line; k++) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			if (add_drift(p, line + 2))
				goto nomem;
			line = nl ? nl + 1 : NULL;
		}
	}
	/* Nothing pending and nowhere to go: a run of no actions (a no-op). */
	if (!npend && fr_version_cmp(&p->to, &p->from) == 0 && !only) {
		rc = 0;
		goto out;
	}

	if (!o->skip_backup && p->backup_required && npend &&
	    !fr_plan_add(p, FR_ACT_BACKUP, "pre-run", NULL))
		goto nomem;
	if (!o->no_hooks && f->cfg->hook_stop && fr_plan_needs_stop(p)) {
		if (!fr_plan_add(p, FR_ACT_HOOK, "stop", NULL))
			goto nomem;
		stopped = 1;
	}
	if (only) {
		if (add_step(&L, only, 1) || add_commit(&L))
			goto nomem;
	} else {
		if (extra && add_step(&L, extra, 1))
			goto nomem;
		/* --allow-out-of-order: the steps added below the current version, first, in order. */
		for (i = 0; i < nooo; i++)
			if (add_step(&L, ooo[i], 0))
				goto nomem;
		/* Schema only: other tools' pending steps of versions reached; no version after. */
		for (i = 0; i < p->nschema; i++)
			if (add_step(&L, p->schema[i], is_applied(idx, nregs, p->schema[i]->id)))
				goto nomem;
		for (i = 0; i < p->ntrs; i++) {
			fr_transition *t = p->trs[i];
			if (fr_plan_steps_of(p, i, &steps, &nsteps))
				goto nomem;
			for (j = 0; j < nsteps; j++) {
				fr_step *s = steps[j];
				int rerun = o->rerun && !strcmp(o->rerun, s->id);
				if (!fr_step_pending(f, idx, nregs, s) && !rerun)
					continue;
				/* a repeatable one that changed runs again over its record */
				if (add_step(&L, s, rerun || is_applied(idx, nregs, s->id)))
					goto nomem;
			}
			FR_FREE(steps);
			/* The transition is whole: its version counts once its steps are committed. */
			if (L.tx) {
				L.pending = t->to;
				L.have_pending = 1;
			} else if (add_version(&L, &t->to)) {
				goto nomem;
			}
			if (o->checkpoint_each_version && i + 1 < p->ntrs) {
				fr_action *a;
				if (add_commit(&L) || !(a = fr_plan_add(p, FR_ACT_BACKUP, "checkpoint", NULL)))
					goto nomem;
				a->version = t->to;
			}
		}
		if (add_commit(&L) || add_version(&L, &p->to))
			goto nomem;
	}
	if (add_commit(&L))
		goto nomem;
	if (!o->no_hooks && add_after_hooks(p, f->cfg, stopped))
		goto nomem;
	if (L.bad) {
		rc = FERRY_EINVALID;
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	fr_buf_puts(err, "out of memory while planning");
	rc = FERRY_EFAILED;
out:
	/* A plan with nothing to do needs no digest, unless it is to be printed or checked. */
	if (rc == 0 && (p->nacts || p->want_basis) && make_basis(p, f, idx, nregs)) {
		fr_buf_printf(err, "cannot make the plan's digest: %s", fr_crypto_error());
		rc = FERRY_EFAILED;
	}
	if (rc == 0 && p->nacts)
		plan_reuse(p, f);
	p->resolved = rc == 0;
	fr_free(ooo);
	fr_free(steps);
	fr_buf_release(&drift);
	return rc;
}

size_t fr_plan_nsteps(const struct ferry_plan *p)
{
	size_t i, n = 0;
	for (i = 0; i < p->nacts; i++)
		n += p->acts[i].kind == FR_ACT_STEP;
	return n;
}

/* ---- documents ---- */

json_t *fr_action_json(const fr_action *a)
{
	json_t *o = json_object();
	char v[FR_VERSION_STR_MAX];
	json_object_set_new(o, "kind", json_string(fr_act_name(a->kind)));
	switch (a->kind) {
	case FR_ACT_BACKUP:
		json_object_set_new(o, "type", json_string(a->id));
		if (a->reuse)
			json_object_set_new(o, "reuse", json_string(a->reuse));
		if (!strcmp(a->id, "checkpoint")) {
			fr_version_format(&a->version, v, sizeof v);
			json_object_set_new(o, "version", json_string(v));
		}
		break;
	case FR_ACT_HOOK:
		json_object_set_new(o, "hook", json_string(a->id));
		break;
	case FR_ACT_STEP:
	case FR_ACT_UNDO:
		json_object_set_new(o, "id", json_string(a->id));
		json_object_set_new(o, "database", a->database ? json_string(a->database) : json_null());
		json_object_set_new(o, "transaction", a->tx ? json_integer(a->tx) : json_null());
		if (a->kind == FR_ACT_STEP) {
			json_object_set_new(o, "reversible", json_boolean(a->reversible));
			if (a->rerun)
				json_object_set_new(o, "rerun", json_true());
			if (a->empty)
				json_object_set_new(o, "empty", json_true());
		}
		break;
	case FR_ACT_COMMIT:
	case FR_ACT_ROLLBACK:
		json_object_set_new(o, "database", json_string(a->database));
		json_object_set_new(o, "transaction", json_integer(a->tx));
		break;
	case FR_ACT_VERSION:
		fr_version_format(&a->version, v, sizeof v);
		json_object_set_new(o, "version", json_string(v));
		break;
	case FR_ACT_RESTORE:
		json_object_set_new(o, "backup", json_string(a->id));
		break;
	}
	return o;
}

json_t *fr_actions_json(const fr_action *a, size_t n)
{
	json_t *arr = json_array();
	size_t i;
	for (i = 0; i < n; i++)
		json_array_append_new(arr, fr_action_json(&a[i]));
	return arr;
}

int fr_taken_add(fr_taken **v, size_t *n, size_t *cap, const fr_action *a, const char *status,
                 int64_t duration_ms, const char *message)
{
	fr_taken *t;
	if (fr_grow(v, cap, *n + 1, sizeof **v))
		return -1;
	t = &(*v)[*n];
	memset(t, 0, sizeof *t);
	t->a = *a;
	t->a.step = NULL;
	t->a.id = t->a.database = t->a.reuse = NULL;
	t->duration_ms = duration_ms;
	if ((a->id && !(t->a.id = fr_strdup(a->id))) ||
	    (a->database && !(t->a.database = fr_strdup(a->database))) ||
	    (a->reuse && !(t->a.reuse = fr_strdup(a->reuse))) || !(t->status = fr_strdup(status)) ||
	    (message && *message && !(t->message = fr_strdup(message)))) {
		fr_taken_free(t, 1);
		return -1;
	}
	(*n)++;
	return 0;
}

json_t *fr_taken_json(const fr_taken *t)
{
	json_t *o = fr_action_json(&t->a);
	json_object_set_new(o, "status", json_string(t->status));
	json_object_set_new(o, "duration_ms", json_integer((json_int_t)t->duration_ms));
	json_object_set_new(o, "message", t->message ? json_string(t->message) : json_null());
	return o;
}

void fr_taken_free(fr_taken *v, size_t n)
{
	size_t i;
	for (i = 0; v && i < n; i++) {
		fr_free(v[i].a.id);
		fr_free(v[i].a.database);
		fr_free(v[i].a.reuse);
		fr_free(v[i].status);
		fr_free(v[i].message);
	}
}

static void wstrings(fr_jw *w, const char *key, char **v, size_t n)
{
	size_t i;
	fr_jw_array(w, key);
	for (i = 0; i < n; i++)
		fr_jw_str(w, NULL, v[i]);
	fr_jw_end(w);
}

/*
 * An action as fr_action_json() makes it, written (the plan document's
 * actions: 10,000 of them at 10,000 steps). test_actions holds the two
 * equal for every kind.
 */
static void action_write(fr_jw *w, const fr_action *a)
{
	char v[FR_VERSION_STR_MAX];
	fr_jw_object(w, NULL);
	fr_jw_str(w, "kind", fr_act_name(a->kind));
	switch (a->kind) {
	case FR_ACT_BACKUP:
		fr_jw_str(w, "type", a->id);
		if (a->reuse)
			fr_jw_str(w, "reuse", a->reuse);
		if (!strcmp(a->id, "checkpoint")) {
			fr_version_format(&a->version, v, sizeof v);
			fr_jw_str(w, "version", v);
		}
		break;
	case FR_ACT_HOOK:
		fr_jw_str(w, "hook", a->id);
		break;
	case FR_ACT_STEP:
	case FR_ACT_UNDO:
		fr_jw_str(w, "id", a->id);
		fr_jw_str(w, "database", a->database);
		if (a->tx)
			fr_jw_int(w, "transaction", a->tx);
		else
			fr_jw_null(w, "transaction");
		if (a->kind == FR_ACT_STEP) {
			fr_jw_bool(w, "reversible", a->reversible);
			if (a->rerun)
				fr_jw_bool(w, "rerun", 1);
			if (a->empty)
				fr_jw_bool(w, "empty", 1);
		}
		break;
	case FR_ACT_COMMIT:
	case FR_ACT_ROLLBACK:
		fr_jw_str(w, "database", a->database);
		fr_jw_int(w, "transaction", a->tx);
		break;
	case FR_ACT_VERSION:
		fr_version_format(&a->version, v, sizeof v);
		fr_jw_str(w, "version", v);
		break;
	case FR_ACT_RESTORE:
		fr_jw_str(w, "backup", a->id);
		break;
	}
	fr_jw_end(w);
}

void fr_actions_write(fr_jw *w, const char *key, const fr_action *a, size_t n)
{
	size_t i;
	fr_jw_array(w, key);
	for (i = 0; i < n; i++)
		action_write(w, &a[i]);
	fr_jw_end(w);
}

/* The options that shape a plan, as a plan file carries them. */
static void options_write(fr_jw *w, const ferry_run_options *o)
{
	fr_jw_object(w, "options");
	fr_jw_str(w, "only", o->only);
	fr_jw_str(w, "rerun", o->rerun);
	fr_jw_bool(w, "skip_backup", o->skip_backup);
	fr_jw_bool(w, "no_hooks", o->no_hooks);
	fr_jw_bool(w, "checkpoint_each_version", o->checkpoint_each_version);
	fr_jw_bool(w, "force", o->force);
	fr_jw_bool(w, "allow_out_of_order", o->allow_out_of_order);
	fr_jw_end(w);
}

/* A step as a plan's transitions list it; a load problem goes to err, a line each. */
static void step_write(fr_jw *w, fr_step *s, const char *dflt, fr_buf *err)
{
	const char *db = NULL;
	fr_jw_object(w, NULL);
	fr_jw_str(w, "id", s->id);
	fr_jw_str(w, "kind", s->kind->name);
	if (fr_step_load(s, err) == 0) {
		db = s->kind->database(s);
		fr_jw_bool(w, "reversible", s->kind->reversible(s));
		if (fr_step_empty(s))
			fr_jw_bool(w, "empty", 1);
	} else {
		/* One problem a line, however many steps have one. */
		if (err->len && err->ptr[err->len - 1] != '\n')
			fr_buf_putc(err, '\n');
		fr_jw_null(w, "reversible");
	}
	fr_jw_str(w, "database", db && !*db ? NULL : db ? db : dflt);
	if (s->layout) {
		/* another tool's migration: its layout and its own id and name */
		fr_jw_str(w, "layout", s->layout);
		fr_jw_str(w, "tool_version", s->repeatable ? NULL : s->tool_version);
		fr_jw_str(w, "tool_name", s->tool_name);
	}
	fr_jw_end(w);
}

/*
 * The plan document (SPEC 7's `plan --json`), written: at 10,000 steps it
 * is 3 MB, and jansson's tree of it cost more than planning (building,
 * dumping and freeing it, 45 ms of `ferry plan --json`'s 100).
 */
int fr_plan_write_json(const struct ferry_plan *p, fr_buf *out, fr_buf *err)
{
	const char *dflt = p->f && p->f->cfg->ndbs ? p->f->cfg->dbs[0].name : "default";
	char text[FR_VERSION_STR_MAX];
	fr_step **list = NULL;
	size_t i, j, nlist = 0;
	fr_jw w;
	fr_jw_init(&w, out, 2);
	fr_jw_object(&w, NULL);
	fr_version_format(&p->from, text, sizeof text);
	fr_jw_str(&w, "from", text);
	fr_version_format(&p->to, text, sizeof text);
	fr_jw_str(&w, "to", text);
	fr_jw_array(&w, "path");
	fr_version_format(&p->from, text, sizeof text);
	fr_jw_str(&w, NULL, text);
	for (i = 0; i < p->ntrs; i++) {
		fr_version_format(&p->trs[i]->to, text, sizeof text);
		fr_jw_str(&w, NULL, text);
	}
	/* A target between catalogued versions is reached by recording it: the path ends there. */
	if ((p->ntrs == 0 || fr_version_cmp(&p->trs[p->ntrs - 1]->to, &p->to) != 0) &&
	    fr_version_cmp(&p->from, &p->to) != 0) {
		fr_version_format(&p->to, text, sizeof text);
		fr_jw_str(&w, NULL, text);
	}
	fr_jw_end(&w);
	fr_jw_array(&w, "transitions");
	for (i = 0; i < p->ntrs; i++) {
		fr_transition *t = p->trs[i];
		fr_jw_object(&w, NULL);
		fr_vpattern_format(&t->from, text, sizeof text);
		fr_jw_str(&w, "from", text);
		fr_version_format(&t->to, text, sizeof text);
		fr_jw_str(&w, "to", text);
		fr_jw_str(&w, "description", t->description);
		fr_jw_bool(&w, "breaking_changes", t->breaking);
		wstrings(&w, "notes", t->notes, t->nnotes);
		wstrings(&w, "requires_restart", t->restarts, t->nrestarts);
		fr_jw_bool(&w, "backup_required", t->backup_required);
		fr_jw_real(&w, "estimated_duration_seconds", t->est_seconds);
		if (fr_plan_steps_of(p, i, &list, &nlist)) {
			fr_buf_puts(err, "out of memory");
			return -1;
		}
		fr_jw_array(&w, "steps");
		for (j = 0; j < nlist; j++)
			step_write(&w, list[j], dflt, err);
		fr_jw_end(&w);
		FR_FREE(list);
		fr_jw_end(&w);
	}
	fr_jw_end(&w);
	/* Other tools' steps run at the current version, recording none: not a transition. */
	if (p->nschema) {
		fr_jw_object(&w, "schema_only");
		fr_version_format(&p->from, text, sizeof text);
		fr_jw_str(&w, "version", text);
		fr_jw_array(&w, "steps");
		for (i = 0; i < p->nschema; i++)
			step_write(&w, p->schema[i], dflt, err);
		fr_jw_end(&w);
		fr_jw_end(&w);
	} else {
		fr_jw_null(&w, "schema_only");
	}
	fr_jw_real(&w, "estimated_duration_seconds", p->est_seconds);
	fr_jw_bool(&w, "backup_required", p->backup_required);
	wstrings(&w, "restarts", p->restarts, p->nrestarts);
	if (p->resolved) {
		/* The hooks a run of this plan calls, in order: read off the actions. */
		fr_jw_array(&w, "hooks");
		for (i = 0; i < p->nacts; i++)
			if (p->acts[i].kind == FR_ACT_HOOK)
				fr_jw_str(&w, NULL, p->acts[i].id);
		fr_jw_end(&w);
		fr_actions_write(&w, "actions", p->acts, p->nacts);
		options_write(&w, &p->opts);
		fr_jw_str(&w, "target", p->target_text);
		wstrings(&w, "drift", p->drift, p->ndrift);
		wstrings(&w, "out_of_order", p->ooo, p->nooo);
		fr_jw_object(&w, "basis");
		fr_version_format(&p->from, text, sizeof text);
		fr_jw_str(&w, "version", text);
		fr_jw_str(&w, "catalog", p->basis_catalog);
		fr_jw_str(&w, "registry", p->basis_registry);
		fr_jw_end(&w);
	}
	if (p->stopped_at_required) {
		fr_version_format(&p->to, text, sizeof text);
		fr_jw_str(&w, "required_stop", text);
		fr_version_format(&p->requested, text, sizeof text);
		fr_jw_str(&w, "requested", text);
	}
	fr_jw_end(&w);
	if (fr_jw_finish(&w)) {
		fr_buf_puts(err, "out of memory");
		return -1;
	}
	return 0;
}

json_t *fr_plan_to_json(const struct ferry_plan *p, fr_buf *err)
{
	fr_buf text = FR_BUF_INIT;
	json_t *doc = NULL;
	if (fr_plan_write_json(p, &text, err) == 0)
		doc = json_loadb(text.ptr, text.len, 0, NULL);
	fr_buf_release(&text);
	return doc;
}

/* ---- the public plan calls ---- */

/* The compact JSON of a plan's actions, as a plan file keeps them (free() it). */
static char *actions_text(const struct ferry_plan *p)
{
	json_t *acts = fr_actions_json(p->acts, p->nacts);
	char *a = acts ? json_dumps(acts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(acts);
	return a;
}

/*
 * A plan's expectations of the installation are its own basis and actions.
 * The actions' text is made when ferry_apply() compares them (its own
 * actions do not change after it is made): a plan only shown never pays for
 * it (at 10,000 steps, a tenth of `ferry plan`).
 */
static int expect_itself(struct ferry_plan *p)
{
	p->file_from = p->from;
	memcpy(p->file_catalog, p->basis_catalog, 65);
	memcpy(p->file_registry, p->basis_registry, 65);
	FR_FREE(p->file_actions); /* NULL: its own actions (fr_plan_check_file) */
	return 0;
}

int fr_plan_new(ferry_plan **out, ferry *f, const char *target, fr_version *current)
{
	fr_version cur, tgt;
	struct ferry_plan *p = NULL;
	int rc;
	*out = NULL;
	rc = fr_catalog_and_current(f, &cur);
	*current = cur;
	if (rc)
		return rc;
	if (target) {
		if (fr_version_parse(&tgt, target, &f->err))
			return fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
	} else {
		tgt = *fr_catalog_latest(f->cat);
		if (fr_version_cmp(&tgt, &cur) < 0)
			tgt = cur; /* ahead of the catalog (a newer release was rolled back?) */
	}
	fr_buf_reset(&f->err);
	rc = fr_plan_compute(&p, f->cat, &cur, &tgt, &f->err);
	if (rc)
		return fr_fail_msg(f, rc, f->err.ptr);
	p->f = f;
	if (target && !(p->target_text = fr_strdup(target))) {
		fr_plan_free(p);
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	*out = p;
	fr_ok(f);
	return 0;
}

int fr_plan_check_target(const struct ferry_plan *p, int force, fr_buf *err)
{
	const fr_version *latest = fr_catalog_latest(p->cat);
	char a[FR_VERSION_STR_MAX], b[FR_VERSION_STR_MAX];
	/*
	 * A major release above everything catalogued is a typo (3.1.0 for
	 * 0.3.1) far more often than a release: recorded, it would pass over
	 * every step later added below it. A catalog of no transitions (an
	 * application with no migrations yet) takes any version.
	 */
	if (force || !p->cat->ntrs || p->requested.major <= latest->major)
		return 0;
	fr_version_format(&p->requested, a, sizeof a);
	fr_version_format(latest, b, sizeof b);
	fr_buf_printf(err, "target '%s' is a major version above everything catalogued (the "
	              "latest is '%s'); check the version, list it in versions.yaml if it is a "
	              "release, or use --force to record it anyway", a, b);
	return FERRY_EINVALID;
}

int fr_plan_set_options(struct ferry_plan *p, const ferry_run_options *o)
{
	p->opts = *o;
	fr_free(p->opt_only);
	fr_free(p->opt_rerun);
	p->opt_only = o->only ? fr_strdup(o->only) : NULL;
	p->opt_rerun = o->rerun ? fr_strdup(o->rerun) : NULL;
	p->opts.only = p->opt_only;
	p->opts.rerun = p->opt_rerun;
	return (o->only && !p->opt_only) || (o->rerun && !p->opt_rerun) ? -1 : 0;
}

int ferry_plan_for(ferry_plan **out, ferry *f, const char *target,
                   const ferry_run_options *opts)
{
	ferry_run_options o = fr_run_options_of(opts);
	struct ferry_plan *p = NULL;
	fr_reg *regs = NULL, **idx = NULL;
	fr_version cur;
	size_t nregs = 0;
	int rc;
	*out = NULL;
	if ((rc = fr_plan_new(&p, f, target, &cur)))
		return rc;
	fr_buf_reset(&f->err);
	if ((rc = fr_plan_check_target(p, o.force, &f->err))) {
		rc = fr_fail_msg(f, rc, f->err.ptr);
		goto done;
	}
	if (fr_plan_set_options(p, &o)) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	p->want_basis = 1;
	/* The registry as the databases (and other tools' tables) say it is. */
	if ((rc = fr_registry_refresh(f, NULL)))
		goto done;
	if (fr_state_registry_ex(f->state, 0, &regs, &nregs)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
		goto done;
	}
	if (!(idx = fr_reg_index(regs, nregs))) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	fr_buf_reset(&f->err);
	if ((rc = fr_plan_resolve(p, f, idx, regs, nregs, &p->opts, &f->err))) {
		rc = fr_fail_msg(f, rc, f->err.ptr);
		goto done;
	}
	fr_state_cache_save(f->state);
	/* What it says it will do: ferry_apply() runs it only if that still holds. */
	if ((rc = expect_itself(p))) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	fr_ok(f);
	*out = p;
	p = NULL;
done:
	fr_free(idx);
	fr_regs_free(regs, nregs);
	fr_plan_free(p);
	return rc;
}

ferry_run_options fr_run_options_of(const ferry_run_options *opts)
{
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	/* Only as much of the caller's struct as its version has (an older header's is shorter). */
	if (opts && opts->version >= FERRY_RUN_OPTIONS_VERSION)
		o = *opts;
	else if (opts && opts->version == 2)
		memcpy(&o, opts, offsetof(ferry_run_options, allow_out_of_order));
	else if (opts && opts->version == 1)
		memcpy(&o, opts, offsetof(ferry_run_options, skip_backup));
	o.version = FERRY_RUN_OPTIONS_VERSION;
	return o;
}

int ferry_plan_new(ferry_plan **out, ferry *f, const char *target)
{
	return ferry_plan_for(out, f, target, NULL);
}

int ferry_plan_load(ferry_plan **out, ferry *f, const char *text)
{
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	json_error_t je;
	json_t *doc = NULL, *opts, *basis, *acts, *v;
	const char *target = NULL, *from, *cat, *reg;
	struct ferry_plan *p = NULL;
	char *a = NULL;
	int rc;
	*out = NULL;
	if (!(doc = json_loads(text, 0, &je)))
		return fr_fail(f, FERRY_EINVALID, "the plan file is not JSON (line %d: %s); write it "
		               "with 'ferry plan --json > FILE'", je.line, je.text);
	opts = json_object_get(doc, "options");
	basis = json_object_get(doc, "basis");
	acts = json_object_get(doc, "actions");
	from = json_string_value(json_object_get(basis, "version"));
	cat = json_string_value(json_object_get(basis, "catalog"));
	reg = json_string_value(json_object_get(basis, "registry"));
	if (!json_is_object(opts) || !from || !cat || !reg || strlen(cat) != 64 ||
	    strlen(reg) != 64 || !json_is_array(acts)) {
		rc = fr_fail(f, FERRY_EINVALID, "the plan file lacks its actions, options or basis; "
		             "write it with 'ferry plan --json > FILE'");
		goto done;
	}
	if ((v = json_object_get(doc, "target")) && json_is_string(v))
		target = json_string_value(v);
	o.only = json_string_value(json_object_get(opts, "only"));
	o.rerun = json_string_value(json_object_get(opts, "rerun"));
	o.skip_backup = json_is_true(json_object_get(opts, "skip_backup"));
	o.no_hooks = json_is_true(json_object_get(opts, "no_hooks"));
	o.checkpoint_each_version = json_is_true(json_object_get(opts, "checkpoint_each_version"));
	o.force = json_is_true(json_object_get(opts, "force"));
	o.allow_out_of_order = json_is_true(json_object_get(opts, "allow_out_of_order"));
	if ((rc = ferry_plan_for(&p, f, target, &o)))
		goto done;
	if (fr_version_parse(&p->file_from, from, NULL)) {
		rc = fr_fail(f, FERRY_EINVALID, "the plan file's basis version '%s' is not a version",
		             from);
		goto done;
	}
	memcpy(p->file_catalog, cat, 65);
	memcpy(p->file_registry, reg, 65);
	a = json_dumps(acts, JSON_COMPACT | JSON_SORT_KEYS);
	fr_free(p->file_actions);
	if (!a || !(p->file_actions = fr_strdup(a))) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	*out = p;
	p = NULL;
	rc = 0;
done:
	free(a);
	json_decref(doc);
	fr_plan_free(p);
	return rc;
}

int fr_plan_check_file(const struct ferry_plan *file, const struct ferry_plan *now, fr_buf *err)
{
	char a[FR_VERSION_STR_MAX], b[FR_VERSION_STR_MAX];
	char *s;
	int same;
	if (fr_version_cmp(&file->file_from, &now->from) != 0) {
		fr_version_format(&file->file_from, a, sizeof a);
		fr_version_format(&now->from, b, sizeof b);
		fr_buf_printf(err, "the plan was made for version '%s', and the installation is now "
		              "at '%s' (the version moved)", a, b);
		return FERRY_EINVALID;
	}
	if (strcmp(file->file_catalog, now->basis_catalog)) {
		fr_buf_puts(err, "the migrations on the plan's path changed since the plan was made "
		                 "(the catalog moved)");
		return FERRY_EINVALID;
	}
	if (strcmp(file->file_registry, now->basis_registry)) {
		fr_buf_puts(err, "steps were applied or undone since the plan was made (the registry "
		                 "moved)");
		return FERRY_EINVALID;
	}
	{
		char *own = file->file_actions ? NULL : actions_text(file);
		const char *want = file->file_actions ? file->file_actions : own;
		s = want ? actions_text(now) : NULL;
		if (!s) {
			free(own);
			fr_buf_puts(err, "out of memory");
			return FERRY_EFAILED;
		}
		same = !strcmp(s, want);
		free(s);
		free(own);
	}
	if (!same) {
		fr_buf_puts(err, "the plan's actions are not what a run would do now (the "
		                 "configuration moved: hooks, databases or transaction mode)");
		return FERRY_EINVALID;
	}
	return 0;
}

void ferry_plan_free(ferry_plan *p)
{
	fr_plan_free(p);
}

size_t ferry_plan_step_count(const ferry_plan *p)
{
	return p ? fr_plan_nsteps(p) : 0;
}

int ferry_plan_json(char **out, const ferry_plan *p)
{
	ferry *f = p->f;
	fr_buf err = FR_BUF_INIT, doc = FR_BUF_INIT;
	int rc;
	*out = NULL;
	rc = fr_plan_write_json(p, &doc, &err);
	if (rc || err.len) {
		/* A step that cannot be read says so (each on its line). */
		rc = rc ? fr_fail(f, FERRY_EFAILED, "out of memory") :
		          fr_fail_msg(f, FERRY_EINVALID, err.ptr);
		fr_buf_release(&doc);
		fr_buf_release(&err);
		return rc;
	}
	fr_buf_release(&err);
	if (!(*out = fr_buf_detach(&doc)))
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	fr_ok(f);
	return 0;
}

int ferry_plan_dot(char **out, const ferry_plan *p)
{
	fr_buf b = FR_BUF_INIT;
	*out = NULL;
	if (fr_plan_dot(p->cat, p, &b) || b.oom) {
		fr_buf_release(&b);
		return fr_fail(p->f, FERRY_EFAILED, "out of memory");
	}
	*out = fr_buf_detach(&b);
	return 0;
}
