/*
 * run.c - executes plans: the only module that knows the order of a run
 * (SPEC section 6). up: fast path without the lock, lock, refuse after an
 * interrupted run, reconcile the registry with each database's record,
 * drift, pre-flight (every step parsed before anything changes), then each
 * step: check, forward, verify, record. Consecutive transactional steps on
 * one database share one transaction, committed when the next step is of
 * another kind or database (or after each step with `transaction: step`);
 * the version is recorded after each commit. On failure or interrupt the
 * open transaction is rolled back and the run's committed steps are undone
 * in reverse from their recorded undo text. down and recover use the same
 * undo machinery.
 */
#include "ferry_int.h"
#include "backup.h"
#include "hooks.h"
#include "plan.h"
#include "run.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

json_t *fr_plan_to_json(const ferry_plan *p, fr_buf *err);

typedef struct {
	const fr_dbconf *conf;
	fr_db *db;
	int reconciled;
	int locked;          /* holds the driver's session lock (PostgreSQL advisory lock) */
} run_db;

/* A step this run did (or an applied step that down/recover undoes). */
typedef struct {
	char *id;
	char *kind;          /* kind name, to find the undo */
	char *from, *to;
	char *checksum;
	char *undo;          /* NULL: irreversible */
	run_db *rdb;         /* NULL: on no database */
	int transactional;
	int committed;
	int mirrored;        /* its applied row is in state.db's registry */
	int undone;          /* down/recover: undone in the open transaction */
	int skipped;
	int64_t duration_ms;
	int64_t seq;
	int64_t applied_at_ms;
} done_step;

typedef struct {
	char *id, *status, *message;
	int64_t duration_ms;
} outcome;

typedef struct {
	ferry *f;
	const ferry_run_options *opts;
	run_db *dbs;
	size_t ndbs;
	run_db *tx;          /* the database with an open transaction */
	done_step *done;
	size_t ndone, capdone;
	outcome *out;
	size_t nout, capout;
	int64_t run_id;
	int64_t next_seq;
	fr_run_ctx ctx;
	fr_buf err;
	fr_version from;     /* where the run started */
	fr_version recorded; /* the version last recorded */
	fr_version reached;  /* the version reached once the open transaction commits */
	int have_reached;
	int touched;         /* a restart or health hook ran: start the service after a rollback */
	size_t unmirrored;   /* committed steps whose registry rows are not written yet */
	const char **db_names, **db_urls; /* what scripts get as FERRY_DB_<NAME> */
	char *scratch;       /* .ferry/scratch: what ops steps took away, kept until undone */
	char *backup_id;     /* the pre-run backup */
	char *restore_id;    /* what a failure restores: the pre-run or last checkpoint backup */
	size_t floor;        /* a failure undoes done[floor..]: 0, or after the last checkpoint */
	fr_version floor_version; /* and the version it goes back to */
} engine;

/* ---- small helpers ---- */

static void vfmt(const fr_version *v, char *buf)
{
	fr_version_format(v, buf, FR_VERSION_STR_MAX);
}

static int add_outcome(engine *e, const char *id, const char *status, int64_t ms,
                       const char *msg)
{
	outcome *o;
	if (fr_grow(&e->out, &e->capout, e->nout + 1, sizeof *e->out))
		return -1;
	o = &e->out[e->nout++];
	o->id = fr_strdup(id);
	o->status = fr_strdup(status);
	o->message = msg && *msg ? fr_strdup(msg) : NULL;
	o->duration_ms = ms;
	return 0;
}

/* Marks the last outcome of id with a new status (a step that got undone). */
static void set_outcome(engine *e, const char *id, const char *status)
{
	size_t i = e->nout;
	while (i--) {
		if (!strcmp(e->out[i].id, id)) {
			char *s = fr_strdup(status);
			if (s) {
				fr_free(e->out[i].status);
				e->out[i].status = s;
			}
			return;
		}
	}
	add_outcome(e, id, status, 0, NULL);
}

static done_step *add_done(engine *e)
{
	done_step *d;
	if (fr_grow(&e->done, &e->capdone, e->ndone + 1, sizeof *e->done))
		return NULL;
	d = &e->done[e->ndone++];
	memset(d, 0, sizeof *d);
	return d;
}

static void done_clear(done_step *d)
{
	fr_free(d->id);
	fr_free(d->kind);
	fr_free(d->from);
	fr_free(d->to);
	fr_free(d->checksum);
	fr_free(d->undo);
}

static run_db *find_db(engine *e, const char *name)
{
	size_t i;
	if (!e->ndbs)
		return NULL;
	if (!name || !*name)
		return &e->dbs[0];
	for (i = 0; i < e->ndbs; i++)
		if (!strcmp(e->dbs[i].conf->name, name))
			return &e->dbs[i];
	return NULL;
}

static int open_db(engine *e, run_db *r)
{
	if (r->db)
		return 0;
	if (r->conf->path) {
		char *dir = fr_strdup(r->conf->path);
		if (dir) {
			fr_mkdir_p(dirname(dir), 0755);
			fr_free(dir);
		}
	}
	return fr_db_open(&r->db, r->conf, &e->err);
}

static fr_db *ctx_db(fr_run_ctx *ctx, const char *name)
{
	engine *e = ctx->engine;
	run_db *r = find_db(e, name);
	if (!r) {
		fr_buf_printf(&e->err, "database '%s' is not defined in ferry.yaml",
		              name ? name : "(default)");
		return NULL;
	}
	return open_db(e, r) ? NULL : r->db;
}

/* A line a step printed: to the log with the step's id (the terminal shows it with -v). */
static void ctx_output(fr_run_ctx *ctx, const char *line)
{
	engine *e = ctx->engine;
	fr_log(e->f, FERRY_LOG_DEBUG, ctx->step_id, "| %s", line);
}

static int engine_init(engine *e, ferry *f, const ferry_run_options *opts)
{
	size_t i;
	memset(e, 0, sizeof *e);
	e->f = f;
	e->opts = opts;
	fr_buf_init(&e->err);
	e->ctx.root = f->root;
	e->ctx.dry_run = opts->dry_run;
	e->ctx.db = ctx_db;
	e->ctx.err = &e->err;
	e->ctx.engine = e;
	e->ctx.handle = f;
	e->ctx.interrupted = &f->interrupted;
	e->ctx.output = ctx_output;
	e->scratch = fr_path_join(f->ferry_dir, "scratch");
	e->ctx.scratch_dir = e->scratch;
	e->ndbs = f->cfg->ndbs;
	if (e->ndbs) {
		e->dbs = fr_calloc(e->ndbs, sizeof *e->dbs);
		e->db_names = fr_calloc(e->ndbs, sizeof *e->db_names);
		e->db_urls = fr_calloc(e->ndbs, sizeof *e->db_urls);
		if (!e->dbs || !e->db_names || !e->db_urls)
			return fr_fail(f, FERRY_EFAILED, "out of memory");
		for (i = 0; i < e->ndbs; i++) {
			e->dbs[i].conf = &f->cfg->dbs[i];
			e->db_names[i] = f->cfg->dbs[i].name;
			/* A script gets a file database's path, or the URL of a server's. */
			e->db_urls[i] = f->cfg->dbs[i].path ? f->cfg->dbs[i].path : f->cfg->dbs[i].url;
		}
		e->ctx.db_names = e->db_names;
		e->ctx.db_urls = e->db_urls;
		e->ctx.ndbs = e->ndbs;
	}
	return e->scratch ? 0 : fr_fail(f, FERRY_EFAILED, "out of memory");
}

static void engine_free(engine *e)
{
	size_t i;
	for (i = 0; i < e->ndbs; i++) {
		if (e->dbs[i].locked)
			e->dbs[i].db->drv->unlock(e->dbs[i].db);
		if (e->dbs[i].db && e->dbs[i].db->in_tx) {
			fr_buf ignore = FR_BUF_INIT;
			e->dbs[i].db->drv->rollback(e->dbs[i].db, &ignore);
			fr_buf_release(&ignore);
		}
		fr_db_close(e->dbs[i].db);
	}
	fr_free(e->dbs);
	fr_free(e->db_names);
	fr_free(e->db_urls);
	fr_free(e->scratch);
	for (i = 0; i < e->ndone; i++)
		done_clear(&e->done[i]);
	fr_free(e->done);
	for (i = 0; i < e->nout; i++) {
		fr_free(e->out[i].id);
		fr_free(e->out[i].status);
		fr_free(e->out[i].message);
	}
	fr_free(e->out);
	fr_free(e->backup_id);
	fr_free(e->restore_id);
	fr_buf_release(&e->err);
}

static int applied_status(const char *s)
{
	return !strcmp(s, "applied") || !strcmp(s, "skipped");
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * After the flock: the lock of each database that has one of its own
 * (PostgreSQL's session advisory lock), so that runners on other machines
 * sharing it wait too. Held until the engine closes its connections.
 */
static int lock_databases(engine *e, int wait)
{
	ferry *f = e->f;
	size_t i;
	for (i = 0; i < e->ndbs; i++) {
		run_db *r = &e->dbs[i];
		const fr_db_driver *drv = fr_db_driver_find(r->conf->driver);
		int rc;
		if (!drv || !drv->lock || r->locked)
			continue;
		if (open_db(e, r))
			return fr_fail_msg(f, FERRY_EINVALID, e->err.ptr);
		rc = r->db->drv->lock(r->db, wait, &f->interrupted, &e->err);
		if (rc)
			return fr_fail_msg(f, rc, e->err.ptr);
		r->locked = 1;
	}
	return 0;
}

/* ---- reconcile: each database's record wins over state.db's mirror ---- */

static int reconcile(engine *e, fr_reg **regs, size_t *nregs)
{
	ferry *f = e->f;
	size_t i, j;
	int changed = 0;
	fr_reg **idx = fr_reg_index(*regs, *nregs);
	if (!idx)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	for (i = 0; i < e->ndbs; i++) {
		run_db *r = &e->dbs[i];
		fr_record *recs = NULL;
		char **ids = NULL;
		size_t nrecs = 0;
		if (r->conf->path && !fr_exists(r->conf->path))
			continue; /* an SQLite file not made yet holds no record */
		if (open_db(e, r)) {
			fr_free(idx);
			return fr_fail_msg(f, FERRY_EINVALID, e->err.ptr);
		}
		if (r->db->drv->record_read(r->db, &recs, &nrecs, &e->err)) {
			fr_free(idx);
			return fr_fail_msg(f, FERRY_EFAILED, e->err.ptr);
		}
		ids = fr_malloc((nrecs ? nrecs : 1) * sizeof *ids);
		if (!ids) {
			fr_records_free(recs, nrecs);
			fr_free(idx);
			return fr_fail(f, FERRY_EFAILED, "out of memory");
		}
		for (j = 0; j < nrecs; j++)
			ids[j] = recs[j].id;
		qsort(ids, nrecs, sizeof *ids, str_ptr_cmp);
		for (j = 0; j < nrecs; j++) {
			const fr_reg *g = fr_reg_lookup(idx, *nregs, recs[j].id);
			if (!g || !applied_status(g->status) || strcmp(g->status, recs[j].status) ||
			    strcmp(g->checksum, recs[j].checksum ? recs[j].checksum : "")) {
				fr_reg n;
				memset(&n, 0, sizeof n);
				n.id = recs[j].id;
				n.database = (char *)r->conf->name;
				n.kind = recs[j].kind ? recs[j].kind : "sql";
				n.from = recs[j].from ? recs[j].from : "";
				n.to = recs[j].to ? recs[j].to : "";
				n.checksum = recs[j].checksum ? recs[j].checksum : "";
				n.status = recs[j].status ? recs[j].status : "applied";
				n.undo = recs[j].undo;
				n.applied_at_ms = recs[j].applied_at_ms;
				n.duration_ms = recs[j].duration_ms;
				n.run_id = recs[j].run_id;
				n.seq = recs[j].seq;
				fr_state_reg_put(f->state, &n);
				changed = 1;
			}
		}
		/* Registry rows of this database that its record does not hold: not applied. */
		for (j = 0; j < *nregs; j++) {
			const fr_reg *g = &(*regs)[j];
			char *key = g->id;
			if (strcmp(g->database, r->conf->name) || !applied_status(g->status))
				continue;
			if (!nrecs || !bsearch(&key, ids, nrecs, sizeof *ids, str_ptr_cmp)) {
				fr_reg n = *g;
				n.status = "rolled_back";
				n.message = "not in the database's record";
				fr_state_reg_put(f->state, &n);
				changed = 1;
			}
		}
		fr_free(ids);
		fr_records_free(recs, nrecs);
		r->reconciled = 1;
	}
	fr_free(idx);
	if (changed) {
		fr_regs_free(*regs, *nregs);
		*regs = NULL;
		*nregs = 0;
		if (fr_state_registry(f->state, regs, nregs))
			return fr_fail(f, FERRY_EFAILED, "cannot read state: %s",
			               fr_state_errmsg(f->state));
	}
	return 0;
}

/* ---- the no-op fingerprint ---- */

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	while (n--)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

/*
 * A digest of everything a clean no-op depends on that a stat can see:
 * ferry.yaml, every step file (path, size, mtime, inode), the current and
 * target versions. 0 when a file is too fresh to trust its mtime (the
 * "racy git" rule: changed within the same tick as we look).
 */
static uint64_t noop_fingerprint(ferry *f, const ferry_plan *p, const fr_version *cur)
{
	uint64_t h = 14695981039346656037ULL;
	int64_t fresh = (fr_now_ms() - 2000) * 1000000LL;
	char v[FR_VERSION_STR_MAX];
	struct stat st;
	size_t i;
	if (stat(f->cfg->path, &st) || fr_mtime_ns(&st) > fresh)
		return 0;
	h = fnv(h, &st.st_size, sizeof st.st_size);
	h = fnv(h, &st.st_mtim, sizeof st.st_mtim);
	for (i = 0; i < f->cat->nsteps; i++) {
		const fr_step *s = f->cat->steps[i];
		if (s->mtime_ns > fresh)
			return 0;
		h = fnv(h, s->path, strlen(s->path) + 1);
		h = fnv(h, &s->size, sizeof s->size);
		h = fnv(h, &s->mtime_ns, sizeof s->mtime_ns);
		h = fnv(h, &s->ino, sizeof s->ino);
	}
	vfmt(cur, v);
	h = fnv(h, v, strlen(v) + 1);
	vfmt(&p->to, v);
	h = fnv(h, v, strlen(v) + 1);
	return h ? h : 1;
}

/* ---- drift ---- */

/* Appends one line per applied step whose file changed or vanished; returns the count. */
static size_t find_drift(ferry *f, const fr_reg *regs, size_t n, fr_buf *out)
{
	size_t i, count = 0;
	for (i = 0; i < n; i++) {
		fr_step *s;
		if (!applied_status(regs[i].status))
			continue;
		s = fr_catalog_step(f->cat, regs[i].id);
		/* A native step has no file to drift; the program that runs it may be another. */
		if (!s && !strcmp(regs[i].kind, "native"))
			continue;
		if (!s) {
			/* A step of a version above the catalog's latest, or a removed file. */
			fr_buf_printf(out, "  %s: applied, but its file is gone\n", regs[i].id);
			count++;
		} else if (fr_state_checksum(f->state, s)) {
			fr_buf_printf(out, "  %s: cannot read '%s': %s\n", regs[i].id, s->rel,
			              strerror(errno));
			count++;
		} else if (strcmp(s->checksum, regs[i].checksum)) {
			fr_buf_printf(out, "  %s: changed since it was applied (%s, now %s)\n",
			              regs[i].id, regs[i].checksum, s->checksum);
			count++;
		}
	}
	return count;
}

/* ---- the run's document ---- */

static void set_result(engine *e, const char *status, const char *backup_id, json_t *extra)
{
	ferry *f = e->f;
	json_t *doc = json_object(), *steps = json_array();
	char text[FR_VERSION_STR_MAX];
	size_t i;
	char *s;
	json_object_set_new(doc, "run_id", e->run_id ? json_integer(e->run_id) : json_null());
	json_object_set_new(doc, "status", json_string(status));
	vfmt(&e->from, text);
	json_object_set_new(doc, "from", json_string(text));
	vfmt(&e->recorded, text);
	json_object_set_new(doc, "to", json_string(text));
	json_object_set_new(doc, "backup_id", backup_id ? json_string(backup_id) : json_null());
	for (i = 0; i < e->nout; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(e->out[i].id));
		json_object_set_new(o, "status", json_string(e->out[i].status));
		json_object_set_new(o, "duration_ms", json_integer(e->out[i].duration_ms));
		json_object_set_new(o, "message",
		                    e->out[i].message ? json_string(e->out[i].message) : json_null());
		json_array_append_new(steps, o);
	}
	json_object_set_new(doc, "steps", steps);
	if (f->errcode && f->err.len)
		json_object_set_new(doc, "error", json_string(f->err.ptr));
	if (extra)
		json_object_update(doc, extra);
	s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	fr_free(f->last_run);
	f->last_run = s ? fr_strdup(s) : NULL;
	free(s);
}

int ferry_last_run(char **out, ferry *f)
{
	*out = NULL;
	/* No document: the failure that prevented it keeps its message. */
	if (!f->last_run)
		return FERRY_EINVALID;
	*out = fr_strdup(f->last_run);
	return *out ? 0 : fr_fail(f, FERRY_EFAILED, "out of memory");
}

void ferry_interrupt(ferry *f)
{
	if (f)
		f->interrupted = 1;
}

/* ---- recording ---- */

static int record_version(engine *e, const fr_version *v)
{
	char text[FR_VERSION_STR_MAX];
	int rc;
	if (fr_version_cmp(v, &e->recorded) == 0 && strcmp(v->build, e->recorded.build) == 0)
		return 0;
	rc = fr_record_version(e->f, v);
	if (rc)
		return rc;
	e->recorded = *v;
	vfmt(v, text);
	fr_log(e->f, FERRY_LOG_INFO, NULL, "version %s recorded", text);
	return 0;
}

static int reg_write(engine *e, const done_step *d, const char *status, const char *msg)
{
	fr_reg r;
	memset(&r, 0, sizeof r);
	r.id = d->id;
	r.database = d->rdb ? (char *)d->rdb->conf->name : "";
	r.kind = d->kind;
	r.from = d->from;
	r.to = d->to;
	r.checksum = d->checksum;
	r.status = (char *)status;
	r.undo = d->undo;
	r.message = (char *)msg;
	r.applied_at_ms = d->applied_at_ms;
	r.duration_ms = d->duration_ms;
	r.run_id = e->run_id;
	r.seq = d->seq;
	return fr_state_reg_put(e->f->state, &r);
}

/* Writes a done step's record into its database (in the open transaction, if any). */
static int put_record(engine *e, done_step *d)
{
	fr_record rec;
	memset(&rec, 0, sizeof rec);
	rec.id = d->id;
	rec.checksum = d->checksum;
	rec.kind = d->kind;
	rec.from = d->from;
	rec.to = d->to;
	rec.status = d->skipped ? "skipped" : "applied";
	rec.undo = d->undo;
	rec.applied_at_ms = d->applied_at_ms;
	rec.duration_ms = d->duration_ms;
	rec.run_id = e->run_id;
	rec.seq = d->seq;
	return d->rdb->db->drv->record_put(d->rdb->db, &rec, &e->err);
}

/* Writes the registry rows of the committed steps not written yet, in one transaction. */
static void mirror(engine *e)
{
	ferry *f = e->f;
	size_t i;
	e->unmirrored = 0;
	fr_state_begin(f->state);
	for (i = 0; i < e->ndone; i++) {
		done_step *d = &e->done[i];
		if (!d->committed || d->mirrored || d->seq < 0)
			continue;
		reg_write(e, d, d->skipped ? "skipped" : "applied", NULL);
		d->mirrored = 1;
	}
	if (fr_state_commit(f->state))
		fr_log(f, FERRY_LOG_WARN, NULL, "cannot update state.db: %s (the databases' records "
		                                "are authoritative and will be read again)",
		       fr_state_errmsg(f->state));
}

/* Records the group's steps and commits; then mirrors them and the version into state. */
static int commit_group(engine *e)
{
	ferry *f = e->f;
	run_db *r = e->tx;
	size_t i, n = 0;
	if (r) {
		for (i = 0; i < e->ndone; i++) {
			done_step *d = &e->done[i];
			if (!d->committed && d->rdb == r && d->transactional && put_record(e, d))
				return FERRY_EFAILED;
		}
		if (r->db->drv->commit(r->db, &e->err))
			return FERRY_EFAILED;
		e->tx = NULL;
	}
	for (i = 0; i < e->ndone; i++) {
		done_step *d = &e->done[i];
		if (d->committed)
			continue;
		d->committed = 1;
		n++;
		/* A step on no database has no other record: mirror it now. */
		if (!d->rdb)
			e->unmirrored += 100;
	}
	e->unmirrored += n;
	/*
	 * With a commit per step the registry rows are written in batches: the
	 * databases' own records are authoritative, and the next locked run
	 * reads them again. Always before a version is recorded.
	 */
	if (!f->cfg->tx_per_step || e->have_reached || e->unmirrored >= 100)
		mirror(e);
	if (r && n)
		fr_log(f, FERRY_LOG_INFO, NULL, "committed %zu step%s on '%s'", n, n == 1 ? "" : "s",
		       r->conf->name);
	if (e->have_reached) {
		e->have_reached = 0;
		return record_version(e, &e->reached);
	}
	return 0;
}

/* ---- undo ---- */

static int undo_one(engine *e, done_step *d)
{
	const fr_step_kind *k = fr_step_kind_find(d->kind);
	fr_db *db = d->rdb ? d->rdb->db : NULL;
	int own_tx = 0, rc = 0;
	e->ctx.from = d->from;
	e->ctx.to = d->to;
	e->ctx.step_id = d->id;
	if (db && open_db(e, d->rdb) == 0)
		db = d->rdb->db;
	if (db && !db->in_tx && d->transactional) {
		if (db->drv->begin(db, &e->err))
			return -1;
		own_tx = 1;
	}
	if (!d->skipped) {
		if (!k) {
			fr_buf_printf(&e->err, "%s: no step kind '%s' in this build to undo it", d->id,
			              d->kind);
			rc = -1;
		} else {
			rc = k->undo(&e->ctx, d->id, d->rdb ? d->rdb->conf->name : "", d->undo);
		}
	}
	if (rc == 0 && db)
		rc = db->drv->record_delete(db, d->id, &e->err);
	if (own_tx) {
		if (rc == 0)
			rc = db->drv->commit(db, &e->err);
		else {
			fr_buf ignore = FR_BUF_INIT;
			db->drv->rollback(db, &ignore);
			fr_buf_release(&ignore);
		}
	}
	return rc;
}

/*
 * Undoes what the run did, newest first: the open transaction is rolled
 * back, committed steps are undone from their undo text. Returns 0 when the
 * installation is back where the run started, else FERRY_EUNRECOVERED with
 * the message saying where it is.
 */
static int undo_run(engine *e, const char *why)
{
	ferry *f = e->f;
	fr_buf ignore = FR_BUF_INIT, applied = FR_BUF_INIT;
	size_t i;
	int rc = 0;
	/* Committed steps are mirrored first: what cannot be undone stays recorded applied. */
	if (e->unmirrored) {
		fr_buf keep = FR_BUF_INIT;
		fr_buf_puts(&keep, e->err.ptr);
		mirror(e); /* only committed steps: the open transaction's are not */
		fr_buf_reset(&e->err);
		fr_buf_puts(&e->err, keep.ptr);
		fr_buf_release(&keep);
	}
	if (e->tx) {
		e->tx->db->drv->rollback(e->tx->db, &ignore);
		e->tx = NULL;
		e->have_reached = 0;
		for (i = 0; i < e->ndone; i++) {
			if (!e->done[i].committed) {
				set_outcome(e, e->done[i].id, "rolled_back");
				reg_write(e, &e->done[i], "rolled_back", why);
				e->done[i].seq = -1; /* gone with the transaction */
			}
		}
		fr_log(f, FERRY_LOG_INFO, NULL, "rolled back the open transaction");
	}
	i = e->ndone;
	while (i-- > e->floor) {
		done_step *d = &e->done[i];
		if (!d->committed || d->seq < 0)
			continue;
		if (!d->skipped && !d->undo) {
			size_t k;
			for (k = 0; k <= i; k++)
				if (e->done[k].committed && e->done[k].seq >= 0)
					fr_buf_printf(&applied, "%s%s", applied.len ? ", " : "", e->done[k].id);
			rc = FERRY_EUNRECOVERED;
			fr_buf_reset(&e->err);
			fr_buf_printf(&e->err,
			              "cannot undo step '%s': it has no down section (irreversible). "
			              "The installation is left part-way: these steps of this run stay "
			              "applied and recorded: %s. Restore the backup taken before the run "
			              "(databases and their ferry_steps record together), or undo them by "
			              "hand and delete their rows from ferry_steps, then run 'ferry up' "
			              "again",
			              d->id, applied.ptr);
			break;
		}
		fr_log(f, FERRY_LOG_INFO, d->id, "undoing");
		fr_log_flush(f);
		fr_buf_reset(&e->err);
		if (undo_one(e, d)) {
			fr_buf msg = FR_BUF_INIT;
			fr_buf_printf(&msg, "undo of '%s' failed: %s. The installation is left part-way; "
			                    "fix the step's down and run 'ferry recover' or restore a backup",
			              d->id, e->err.ptr);
			fr_buf_reset(&e->err);
			fr_buf_puts(&e->err, msg.ptr);
			fr_buf_release(&msg);
			rc = FERRY_EUNRECOVERED;
			break;
		}
		set_outcome(e, d->id, "rolled_back");
		reg_write(e, d, "rolled_back", why);
		d->seq = -1;
		fr_log(f, FERRY_LOG_INFO, d->id, "undone");
	}
	fr_buf_release(&ignore);
	fr_buf_release(&applied);
	/* A step that cannot be undone: the backup taken before it brings everything back. */
	if (rc == FERRY_EUNRECOVERED && e->restore_id) {
		fr_buf why_restore = FR_BUF_INIT;
		fr_buf_puts(&why_restore, e->err.ptr);
		fr_log(f, FERRY_LOG_INFO, NULL, "restoring backup %s: %s", e->restore_id,
		       why_restore.ptr);
		if (fr_backup_restore(f, e->restore_id, 0) == 0) {
			for (i = e->floor; i < e->ndone; i++) {
				done_step *d = &e->done[i];
				if (!d->committed || d->seq < 0)
					continue;
				set_outcome(e, d->id, "rolled_back");
				reg_write(e, d, "rolled_back", "restored from the backup taken before it");
				d->seq = -1;
			}
			fr_log(f, FERRY_LOG_INFO, NULL, "restored backup %s", e->restore_id);
			rc = 0;
		} else {
			fr_buf_reset(&e->err);
			fr_buf_printf(&e->err, "%s; restoring backup '%s' failed too: %s",
			              why_restore.ptr, e->restore_id, ferry_errmsg(f));
		}
		fr_buf_release(&why_restore);
	}
	/*
	 * Back where it started (or at the last checkpoint): record that
	 * version. Left part-way: a transition only counts when whole, so it
	 * is still the honest one, and the message lists what stays applied.
	 */
	if (record_version(e, &e->floor_version) && rc == 0)
		rc = FERRY_EUNRECOVERED;
	return rc;
}

/* ---- one step ---- */

static int run_step(engine *e, fr_step *s, int rerun)
{
	ferry *f = e->f;
	const fr_step_kind *k = s->kind;
	const char *dbname = k->database(s);
	run_db *r = NULL;
	done_step *d;
	double t0 = fr_mono_ms();
	int transactional, needed = 1, rc;
	char tv[FR_VERSION_STR_MAX], fv[FR_VERSION_STR_MAX];
	fr_buf undo = FR_BUF_INIT;

	if (!dbname || *dbname) {
		r = find_db(e, dbname);
		if (!r || open_db(e, r))
			return FERRY_EFAILED;
	}
	transactional = r && k->transactional(s);
	if (e->tx && (e->tx != r || !transactional) && (rc = commit_group(e)))
		return rc;
	if (transactional && !e->tx) {
		if (r->db->drv->begin(r->db, &e->err))
			return FERRY_EFAILED;
		e->tx = r;
	}
	fr_buf_reset(&e->err);
	fr_vpattern_format(&s->tr->from, fv, sizeof fv);
	vfmt(&s->tr->to, tv);
	e->ctx.from = fv;
	e->ctx.to = tv;
	e->ctx.step_id = s->id;
	if (k->check && !rerun && k->check(&e->ctx, s, &needed))
		return FERRY_EFAILED;
	if (needed) {
		fr_log(f, FERRY_LOG_INFO, s->id, "applying");
		/* The log on disk shows the step in progress, however long it takes. */
		fr_log_flush(f);
		if (k->forward(&e->ctx, s))
			return FERRY_EFAILED;
		if (k->verify && k->verify(&e->ctx, s))
			return FERRY_EFAILED;
	}
	if (fr_state_checksum(f->state, s)) {
		fr_buf_printf(&e->err, "%s: cannot read '%s': %s", s->id, s->rel, strerror(errno));
		return FERRY_EFAILED;
	}
	if (k->undo_text(s, &undo) || undo.oom) {
		fr_buf_release(&undo);
		fr_buf_puts(&e->err, "out of memory");
		return FERRY_EFAILED;
	}
	d = add_done(e);
	if (!d) {
		fr_buf_release(&undo);
		fr_buf_puts(&e->err, "out of memory");
		return FERRY_EFAILED;
	}
	d->id = fr_strdup(s->id);
	d->kind = fr_strdup(k->name);
	d->from = fr_strdup(fv);
	d->to = fr_strdup(tv);
	d->checksum = fr_strdup(s->checksum);
	d->undo = undo.len ? fr_buf_detach(&undo) : NULL;
	fr_buf_release(&undo);
	d->rdb = r;
	d->transactional = transactional;
	d->skipped = !needed;
	d->seq = e->next_seq++;
	d->applied_at_ms = fr_now_ms();
	d->duration_ms = (int64_t)(fr_mono_ms() - t0);
	if (!d->id || !d->kind || !d->from || !d->to || !d->checksum) {
		fr_buf_puts(&e->err, "out of memory");
		return FERRY_EFAILED;
	}
	/*
	 * A step in a transaction is recorded with its group, just before the
	 * commit: one insert statement prepared once, not re-prepared after
	 * every step's schema change. Outside a transaction, at once.
	 */
	if (r && !transactional && put_record(e, d))
		return FERRY_EFAILED;
	add_outcome(e, s->id, d->skipped ? "skipped" : "applied", d->duration_ms, NULL);
	if (d->skipped)
		fr_log(f, FERRY_LOG_INFO, s->id, "skipped (its check says it is done)");
	else
		fr_log(f, FERRY_LOG_INFO, s->id, "applied in %lld ms", (long long)d->duration_ms);
	if (!transactional || f->cfg->tx_per_step)
		return commit_group(e);
	return 0;
}

/* ---- hooks (SPEC 6 steps 6 and 9) ---- */

/*
 * After every step is committed: each service the plan names restarts
 * (once), the service starts when stop stopped it, and health is retried
 * for 30 s. Any failure fails the run, which is then rolled back.
 */
static int after_hooks(engine *e, const ferry_plan *p, int stopped)
{
	ferry *f = e->f;
	size_t i, k;
	int rc;
	fr_buf_reset(&e->err);
	for (i = 0; i < p->nrestarts; i++) {
		const char *cmd = NULL;
		fr_buf name = FR_BUF_INIT;
		for (k = 0; k < f->cfg->n_hook_restart && !cmd; k++)
			if (!strcmp(f->cfg->hook_restart[k].name, p->restarts[i]))
				cmd = f->cfg->hook_restart[k].command;
		if (!cmd) {
			fr_log(f, FERRY_LOG_WARN, NULL, "the plan restarts '%s', but ferry.yaml has no "
			       "hooks.restart.%s: restart it yourself", p->restarts[i], p->restarts[i]);
			continue;
		}
		e->touched = 1;
		fr_buf_printf(&name, "restart.%s", p->restarts[i]);
		rc = fr_hook_run(f, name.ptr, cmd, &e->err);
		fr_buf_release(&name);
		if (rc)
			return rc;
	}
	if (stopped && f->cfg->hook_start && (rc = fr_hook_run(f, "start", f->cfg->hook_start,
	                                                       &e->err)))
		return rc;
	if (f->cfg->hook_health && (rc = fr_hook_health(f, f->cfg->hook_health, 0, &e->err))) {
		e->touched = 1;
		return rc;
	}
	return 0;
}

/* After a rollback the service is started again when the run stopped or restarted it. */
static int stopped_or_touched(const engine *e, int stopped)
{
	return stopped || e->touched;
}

/* ---- backups in a run (SPEC 6 steps 5 and 8) ---- */

/* Refuses a backup the disk cannot hold, before anything changes. */
static int check_backup_space(engine *e)
{
	ferry *f = e->f;
	int64_t need = fr_backup_estimate(f), have;
	if (need < 0)
		return f->errcode ? f->errcode : FERRY_EFAILED;
	have = fr_free_bytes(f->cfg->backup_dir);
	if (have >= 0 && have < need)
		return fr_fail(f, FERRY_EFAILED,
		               "not enough disk space for the pre-run backup in '%s': it needs up to "
		               "%lld MiB, %lld MiB are free; nothing was changed (free some space, set "
		               "backup.dir elsewhere, or use --skip-backup)",
		               f->cfg->backup_dir, (long long)(need >> 20), (long long)(have >> 20));
	return 0;
}

static int pre_run_backup(engine *e)
{
	ferry *f = e->f;
	int rc = check_backup_space(e);
	if (rc)
		return rc;
	fr_log(f, FERRY_LOG_INFO, NULL, "taking the pre-run backup");
	rc = fr_backup_create(f, "pre-run", NULL, &e->backup_id);
	if (rc)
		return fr_fail(f, rc == FERRY_EINTERRUPTED ? rc : FERRY_EFAILED,
		               "cannot take the pre-run backup: %s; nothing was changed (use "
		               "--skip-backup to go on without one)", ferry_errmsg(f));
	e->restore_id = fr_strdup(e->backup_id);
	return 0;
}

/*
 * --checkpoint-each-version: the version is committed, backed up, and a
 * later failure rolls back only to here.
 */
static int checkpoint(engine *e, const fr_version *v)
{
	ferry *f = e->f;
	char *id = NULL;
	int rc = commit_group(e);
	if (rc)
		return rc;
	rc = fr_backup_create(f, "checkpoint", NULL, &id);
	if (rc) {
		fr_buf_reset(&e->err);
		fr_buf_printf(&e->err, "cannot take the checkpoint backup: %s", ferry_errmsg(f));
		return rc == FERRY_EINTERRUPTED ? rc : FERRY_EFAILED;
	}
	fr_log(f, FERRY_LOG_INFO, NULL, "checkpoint backup %s taken", id);
	fr_free(e->restore_id);
	e->restore_id = id;
	e->floor = e->ndone;
	e->floor_version = *v;
	return 0;
}

/* ---- up ---- */

/* The registry remembers the step that failed (list shows it), with the message. */
static void record_failed(engine *e, fr_step *s, const char *msg)
{
	char tv[FR_VERSION_STR_MAX], fv[FR_VERSION_STR_MAX];
	const char *db = s->loaded ? s->kind->database(s) : NULL;
	fr_reg r;
	memset(&r, 0, sizeof r);
	fr_vpattern_format(&s->tr->from, fv, sizeof fv);
	vfmt(&s->tr->to, tv);
	r.id = s->id;
	r.database = (char *)(db && *db ? db : e->ndbs && (!db || *db) ? e->dbs[0].conf->name : "");
	r.kind = (char *)s->kind->name;
	r.from = fv;
	r.to = tv;
	r.checksum = s->checksum;
	r.status = "failed";
	r.message = (char *)msg;
	r.applied_at_ms = fr_now_ms();
	r.run_id = e->run_id;
	r.seq = e->next_seq++;
	fr_state_reg_put(e->f->state, &r);
}

static int is_applied(fr_reg **idx, size_t n, const char *id)
{
	const fr_reg *r = fr_reg_lookup(idx, n, id);
	return r && applied_status(r->status);
}

/* The steps a plan still has to run, in order (borrowed pointers). */
static int pending_steps(const ferry_plan *p, fr_reg **regs, size_t nregs,
                         const ferry_run_options *o, fr_step ***out, size_t *n)
{
	size_t i, j, cnt = 0, cap = 0;
	fr_step **v = NULL;
	for (i = 0; i < p->ntrs; i++) {
		for (j = 0; j < p->trs[i]->nsteps; j++) {
			fr_step *s = p->trs[i]->steps[j];
			int rerun = o->rerun && !strcmp(o->rerun, s->id);
			if (is_applied(regs, nregs, s->id) && !rerun)
				continue;
			if (fr_grow(&v, &cap, cnt + 1, sizeof *v)) {
				fr_free(v);
				return -1;
			}
			v[cnt++] = s;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int dry_run(engine *e, const ferry_plan *p, fr_step **pend, size_t npend)
{
	ferry *f = e->f;
	json_t *extra = json_object(), *steps = json_array();
	fr_buf text = FR_BUF_INIT, err = FR_BUF_INIT;
	size_t i;
	int rc = 0;
	for (i = 0; i < npend; i++) {
		fr_step *s = pend[i];
		json_t *o = json_object();
		const char *db;
		fr_buf_reset(&text);
		if (fr_step_load(s, &err)) {
			rc = FERRY_EINVALID;
			continue;
		}
		s->kind->describe(s, &text);
		db = s->kind->database(s);
		json_object_set_new(o, "id", json_string(s->id));
		json_object_set_new(o, "kind", json_string(s->kind->name));
		json_object_set_new(o, "database",
		                    db && !*db ? json_null() :
		                    json_string(db ? db : (f->cfg->ndbs ? f->cfg->dbs[0].name : "")));
		json_object_set_new(o, "transaction", json_boolean(s->kind->transactional(s)));
		json_object_set_new(o, "reversible", json_boolean(s->kind->reversible(s)));
		json_object_set_new(o, "statements", json_string(text.ptr));
		json_array_append_new(steps, o);
		add_outcome(e, s->id, "pending", 0, NULL);
	}
	if (rc) {
		json_decref(steps);
		json_decref(extra);
		rc = fr_fail_msg(f, rc, err.ptr);
	} else {
		json_t *pj = fr_plan_to_json(p, &err);
		json_object_set_new(extra, "dry_run_steps", steps);
		json_object_set_new(extra, "plan", pj);
		e->recorded = p->to;
		fr_ok(f);
		set_result(e, "dry_run", NULL, extra);
		json_decref(extra);
	}
	fr_buf_release(&text);
	fr_buf_release(&err);
	return rc;
}

/*
 * FERRY_EINVALID with a message when path (or, when it does not exist yet,
 * the nearest folder above it) is not writable.
 */
static int need_writable(const char *path, const char *what, const char *name, fr_buf *err)
{
	char *dir;
	int ok;
	if (fr_exists(path)) {
		ok = access(path, W_OK) == 0;
		/*
		 * A file also needs its folder: a database for the journal beside
		 * it, the version file for the atomic rename.
		 */
		if (ok) {
			struct stat sb;
			dir = fr_strdup(path);
			ok = dir && (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ?
			             access(path, W_OK | X_OK) == 0 :
			             access(dirname(dir), W_OK | X_OK) == 0);
			fr_free(dir);
		}
	} else {
		dir = fr_strdup(path);
		/* The nearest existing folder above must let us create it. */
		while (dir && strcmp(dir, "/") && strcmp(dir, ".")) {
			char *up = dirname(dir);
			if (up != dir)
				memmove(dir, up, strlen(up) + 1);
			if (fr_exists(dir))
				break;
		}
		ok = dir && access(dir, W_OK | X_OK) == 0;
		fr_free(dir);
	}
	if (ok)
		return 0;
	fr_buf_printf(err, "the %s%s%s%s '%s' is not writable by this user: %s; nothing was "
	                   "changed (fix its permissions or run ferry as its owner)",
	              what, name ? " '" : "", name ? name : "", name ? "'" : "", path,
	              strerror(errno ? errno : EACCES));
	return FERRY_EINVALID;
}

static int preflight(engine *e, fr_step **pend, size_t npend)
{
	ferry *f = e->f;
	fr_buf err = FR_BUF_INIT;
	size_t i;
	int rc = 0;
	for (i = 0; i < npend; i++) {
		fr_step *s = pend[i];
		const char *db;
		if (fr_step_load(s, &err)) {
			rc = FERRY_EINVALID;
			if (err.len && err.ptr[err.len - 1] != '\n')
				fr_buf_putc(&err, '\n');
			continue;
		}
		db = s->kind->database(s);
		if (db && *db && !find_db(e, db)) {
			fr_buf_printf(&err, "%s: names database '%s', which ferry.yaml does not define "
			                    "(defined: ",
			              s->rel, db);
			if (!f->cfg->ndbs)
				fr_buf_puts(&err, "none");
			for (size_t k = 0; k < f->cfg->ndbs; k++)
				fr_buf_printf(&err, "%s%s", k ? ", " : "", f->cfg->dbs[k].name);
			fr_buf_puts(&err, ")\n");
			rc = FERRY_EINVALID;
		} else if (!db && !f->cfg->ndbs) {
			fr_buf_printf(&err, "%s: an SQL step needs a database, and ferry.yaml defines "
			                    "none (add one under 'databases:')\n",
			              s->rel);
			rc = FERRY_EINVALID;
		}
	}
	/*
	 * What the run will write must be writable before anything changes:
	 * the SQLite files the steps touch (and their folders, for the
	 * journal), the version file, .ferry. Root passes access() anyway.
	 */
	for (i = 0; i < npend && !rc; i++) {
		const char *db = pend[i]->loaded ? pend[i]->kind->database(pend[i]) : NULL;
		run_db *r = db && !*db ? NULL : find_db(e, db);
		if (r && r->conf->path)
			rc = need_writable(r->conf->path, "database", r->conf->name, &err);
	}
	if (!rc && f->cfg->version_file)
		rc = need_writable(f->cfg->version_file, "version file", NULL, &err);
	if (!rc)
		rc = need_writable(f->ferry_dir, "state folder", NULL, &err);
	if (rc)
		fr_fail_msg(f, rc, err.ptr);
	fr_buf_release(&err);
	return rc;
}

static int refuse_interrupted(ferry *f)
{
	fr_run_row r;
	int found = 0, rc = 0;
	if (fr_state_running(f->state, &r, &found))
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	if (found) {
		char ts[32];
		fr_time_rfc3339(r.started_at_ms, ts, sizeof ts);
		rc = fr_fail(f, FERRY_EUNRECOVERED,
		             "run %lld (%s from %s to %s, started %s by pid %ld) was interrupted; "
		             "run 'ferry recover' to roll it back, or 'ferry recover --resume' "
		             "to keep what it applied",
		             (long long)r.id, r.kind, r.from, r.to, ts, r.pid);
		fr_run_row_clear(&r);
	}
	return rc;
}

static int run_up(ferry *f, const ferry_plan *given, const char *target,
                  const ferry_run_options *o)
{
	engine e;
	ferry_plan *made = NULL;
	const ferry_plan *p = given;
	fr_reg *regs = NULL, **idx = NULL;
	fr_step **pend = NULL;
	fr_buf drift = FR_BUF_INIT;
	size_t nregs = 0, npend = 0, ndrift, i;
	char fromtext[FR_VERSION_STR_MAX], totext[FR_VERSION_STR_MAX];
	int rc, locked_pass = 0, stopped = 0, hooks_on = !o->no_hooks;
	uint64_t fp = 0;
	fr_step *only = NULL, *rerun_extra = NULL;

	if ((rc = engine_init(&e, f, o)))
		return rc;
again:
	/* One reading of the version a pass: the plan's (one round trip on PostgreSQL). */
	if (!given) {
		ferry_plan_free(made);
		made = NULL;
		rc = fr_plan_new(&made, f, target, &e.from);
		p = made;
	} else {
		rc = fr_catalog_and_current(f, &e.from);
	}
	e.recorded = e.floor_version = e.from; /* a refusal's document says where it is too */
	if (rc)
		goto done;
	if (given && fr_version_cmp(&e.from, &p->from) != 0) {
		vfmt(&e.from, fromtext);
		vfmt(&p->from, totext);
		rc = fr_fail(f, FERRY_EFAILED,
		             "the installation is at '%s', not '%s' where the plan starts; "
		             "make a new plan",
		             fromtext, totext);
		goto done;
	}
	fr_regs_free(regs, nregs);
	regs = NULL;
	/*
	 * Nothing to plan and nothing changed on disk since the last clean
	 * check: a no-op without reading the registry (git's index trick).
	 * The read transaction makes storing the fingerprint fail when another
	 * process wrote state meanwhile.
	 */
	fp = 0;
	if (!locked_pass && !o->only && !o->rerun && !o->dry_run && p->ntrs == 0 &&
	    fr_version_cmp(&p->to, &e.from) == 0) {
		fr_state_begin_read(f->state);
		fp = noop_fingerprint(f, p, &e.from);
		if (fp && fp == fr_state_noop_fp(f->state)) {
			fr_state_commit(f->state);
			fr_ok(f);
			set_result(&e, "noop", NULL, NULL);
			rc = 0;
			goto done;
		}
	}
	if (fr_state_registry_ex(f->state, 0, &regs, &nregs)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
		goto done;
	}
	if (locked_pass && (rc = reconcile(&e, &regs, &nregs)))
		goto done;
	fr_free(idx);
	idx = fr_reg_index(regs, nregs);
	if (!idx) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	fr_free(pend);
	pend = NULL;
	rerun_extra = NULL;
	if (o->only) {
		only = fr_catalog_step(f->cat, o->only);
		if (!only) {
			rc = fr_fail(f, FERRY_EINVALID, "no step '%s' in the catalog (see 'ferry list')",
			             o->only);
			goto done;
		}
		pend = fr_malloc(sizeof *pend);
		if (!pend) {
			rc = fr_fail(f, FERRY_EFAILED, "out of memory");
			goto done;
		}
		pend[0] = only;
		npend = 1;
	} else if (pending_steps(p, idx, nregs, o, &pend, &npend)) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	} else if (o->rerun) {
		/* --rerun of a step the plan does not hold (already passed): run it first. */
		fr_step *rs = fr_catalog_step(f->cat, o->rerun), **t;
		size_t k;
		int in_plan = 0;
		if (!rs) {
			rc = fr_fail(f, FERRY_EINVALID, "no step '%s' in the catalog (see 'ferry list')",
			             o->rerun);
			goto done;
		}
		for (k = 0; k < npend; k++)
			in_plan |= pend[k] == rs;
		if (!in_plan) {
			t = fr_realloc(pend, (npend + 1) * sizeof *pend);
			if (!t) {
				rc = fr_fail(f, FERRY_EFAILED, "out of memory");
				goto done;
			}
			pend = t;
			memmove(pend + 1, pend, npend * sizeof *pend);
			pend[0] = rerun_extra = rs;
			npend++;
		}
	}
	fr_buf_reset(&drift);
	ndrift = find_drift(f, regs, nregs, &drift);
	fr_state_cache_save(f->state);

	/* The fast path: nothing to do, nothing drifted; no lock taken. */
	if (!npend && (only || fr_version_cmp(&p->to, &e.from) == 0) && !ndrift) {
		if (fp) {
			fr_state_set_noop_fp(f->state, fp);
			fr_state_commit(f->state);
		}
		fr_ok(f);
		set_result(&e, "noop", NULL, NULL);
		rc = 0;
		goto done;
	}
	if (ndrift && !o->force) {
		rc = fr_fail(f, FERRY_EVERIFY,
		             "%zu applied step%s drifted:\n%sput the files back as they were "
		             "applied, or run again with --force to go on anyway",
		             ndrift, ndrift == 1 ? "" : "s", drift.ptr);
		goto done;
	}
	if (o->dry_run) {
		rc = dry_run(&e, p, pend, npend);
		goto done;
	}
	/* The read transaction of the first look ends before the lock. */
	fr_state_commit(f->state);
	if (!locked_pass) {
		rc = fr_lock_acquire(&f->lock, f->ferry_dir, o->wait_seconds, &f->interrupted, &e.err);
		if (rc) {
			rc = fr_fail_msg(f, rc, e.err.ptr);
			goto done;
		}
		if ((rc = lock_databases(&e, o->wait_seconds)))
			goto done;
		if ((rc = refuse_interrupted(f)))
			goto done;
		/* Look again now that the lock is ours: another runner may have done it all. */
		locked_pass = 1;
		goto again;
	}
	if (ndrift)
		fr_log(f, FERRY_LOG_WARN, NULL, "going on despite drift (--force):\n%s", drift.ptr);
	if ((rc = preflight(&e, pend, npend)))
		goto done;
	/* SPEC 6.5: the pre-run backup, when a transition wants one. */
	if (!o->skip_backup && p->backup_required && npend && (rc = pre_run_backup(&e)))
		goto done;

	vfmt(&e.from, fromtext);
	vfmt(&p->to, totext);
	if (fr_state_run_begin(f->state, "up", fromtext, totext, &e.run_id)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot record the run in state.db: %s",
		             fr_state_errmsg(f->state));
		goto done;
	}
	e.next_seq = fr_state_next_seq(f->state);
	if (e.backup_id)
		fr_state_run_set_backup(f->state, e.run_id, e.backup_id);
	fr_log(f, FERRY_LOG_INFO, NULL, "run %lld: %s -> %s, %zu step%s", (long long)e.run_id,
	       fromtext, totext, npend, npend == 1 ? "" : "s");

	/* SPEC 6.6: stop the service before the first step of a breaking or restarting plan. */
	rc = 0;
	if (hooks_on && f->cfg->hook_stop && fr_plan_needs_stop(p)) {
		rc = fr_hook_run(f, "stop", f->cfg->hook_stop, &e.err);
		stopped = 1;
		if (rc)
			fr_log(f, FERRY_LOG_ERROR, NULL, "%s", e.err.ptr);
	}
	if (rc) {
		/* Nothing ran; the loop below is skipped and the service started again. */
	} else if (only) {
		rc = run_step(&e, only, 1);
	} else {
		size_t ti, si;
		if (rerun_extra && (rc = run_step(&e, rerun_extra, 1)) != 0) {
			fr_log(f, FERRY_LOG_ERROR, rerun_extra->id, "failed: %s", e.err.ptr);
			add_outcome(&e, rerun_extra->id, "failed", 0, e.err.ptr);
		}
		for (ti = 0; ti < p->ntrs && !rc; ti++) {
			fr_transition *t = p->trs[ti];
			for (si = 0; si < t->nsteps && !rc; si++) {
				fr_step *s = t->steps[si];
				int rerun = o->rerun && !strcmp(o->rerun, s->id);
				if (is_applied(idx, nregs, s->id) && !rerun)
					continue;
				if (f->interrupted) {
					rc = FERRY_EINTERRUPTED;
					break;
				}
				rc = run_step(&e, s, rerun);
				/* A step cut short by ferry_interrupt() (a script killed) ends as one. */
				if (rc && f->interrupted)
					rc = FERRY_EINTERRUPTED;
				if (rc) {
					fr_buf msg = FR_BUF_INIT;
					fr_buf_puts(&msg, e.err.ptr);
					fr_log(f, FERRY_LOG_ERROR, s->id, "failed: %s", msg.ptr);
					add_outcome(&e, s->id, "failed", 0, msg.ptr);
					if (!rerun)
						record_failed(&e, s, msg.ptr);
					fr_buf_release(&msg);
				}
			}
			if (rc)
				break;
			/* The transition is whole: its version counts once its steps are committed. */
			e.reached = t->to;
			e.have_reached = 1;
			if (!e.tx) {
				e.have_reached = 0;
				rc = record_version(&e, &t->to);
			}
			if (!rc && o->checkpoint_each_version && ti + 1 < p->ntrs)
				rc = checkpoint(&e, &t->to);
		}
		if (!rc && f->interrupted)
			rc = FERRY_EINTERRUPTED;
	}
	if (!rc && (rc = commit_group(&e)) != 0) {
		/* A failed commit says why in e.err; a failed version record, in f's message. */
		if (!e.err.len)
			fr_buf_puts(&e.err, ferry_errmsg(f));
		fr_log(f, FERRY_LOG_ERROR, NULL, "commit failed: %s", e.err.ptr);
	}
	if (!rc && e.unmirrored)
		mirror(&e);
	if (!rc && !only)
		rc = record_version(&e, &p->to);
	/* SPEC 6.9: restarts, start, health; a failure here rolls the run back. */
	if (!rc && hooks_on && (rc = after_hooks(&e, p, stopped)) != 0)
		fr_log(f, FERRY_LOG_ERROR, NULL, "%s", e.err.ptr);
	if (rc) {
		fr_buf why = FR_BUF_INIT;
		int urc;
		if (rc == FERRY_EINTERRUPTED)
			fr_buf_puts(&why, "interrupted by a signal");
		else
			fr_buf_puts(&why, e.err.len ? e.err.ptr : ferry_errmsg(f));
		urc = undo_run(&e, why.ptr);
		/* The old version is back (or as far back as it goes): so is the service. */
		if (hooks_on && stopped_or_touched(&e, stopped) && f->cfg->hook_start) {
			fr_buf herr = FR_BUF_INIT;
			if (fr_hook_run(f, "start", f->cfg->hook_start, &herr))
				fr_log(f, FERRY_LOG_ERROR, NULL, "starting the service again failed: %s",
				       herr.ptr);
			fr_buf_release(&herr);
		}
		if (urc) {
			rc = fr_fail_msg(f, urc, e.err.ptr);
			fr_state_run_end(f->state, e.run_id, "failed", NULL, e.err.ptr);
		} else {
			char back[FR_VERSION_STR_MAX];
			vfmt(&e.floor_version, back);
			if (rc == FERRY_EINTERRUPTED)
				fr_fail(f, rc, "interrupted; the run was rolled back to '%s'", back);
			else if (e.floor)
				fr_fail(f, FERRY_EFAILED, "%s\nthe run was rolled back to its last "
				                          "checkpoint: the installation is at '%s'",
				        why.ptr, back);
			else
				fr_fail(f, FERRY_EFAILED, "%s\nthe run was rolled back; the installation "
				                          "is at '%s' as before",
				        why.ptr, fromtext);
			if (rc != FERRY_EINTERRUPTED)
				rc = e.ctx.invalid_input ? FERRY_EINVALID : FERRY_EFAILED;
			f->errcode = rc;
			fr_state_run_end(f->state, e.run_id,
			                 rc == FERRY_EINTERRUPTED ? "interrupted" : "rolled_back", NULL,
			                 why.ptr);
		}
		fr_buf_release(&why);
	} else {
		vfmt(&e.recorded, totext);
		fr_state_run_end(f->state, e.run_id, "success", totext, NULL);
		if (p->stopped_at_required)
			fr_log(f, FERRY_LOG_WARN, NULL,
			       "stopped at %s, a required stop: start the application at this version "
			       "once, then run 'ferry up' again", totext);
		fr_ok(f);
	}
	fr_state_begin(f->state);
	for (i = 0; i < e.nout; i++)
		fr_state_run_step(f->state, e.run_id, e.out[i].id, e.out[i].status,
		                  e.out[i].duration_ms, e.out[i].message);
	fr_state_commit(f->state);
	fr_state_cache_save(f->state);
	{
		json_t *extra = NULL;
		if (p->stopped_at_required) {
			char rq[FR_VERSION_STR_MAX];
			vfmt(&p->requested, rq);
			extra = json_object();
			json_object_set_new(extra, "required_stop", json_string(totext));
			json_object_set_new(extra, "requested", json_string(rq));
		}
		set_result(&e, rc == 0 ? "success" : rc == FERRY_EUNRECOVERED ? "failed" :
		           "rolled_back", e.backup_id, extra);
		json_decref(extra);
	}
done:
	fr_state_commit(f->state); /* a read transaction left open by an early exit */
	fr_log_flush(f);
	fr_lock_release(&f->lock);
	/* Refused before it began (lock, drift, bad input): nothing was changed. */
	if (rc && !f->last_run)
		set_result(&e, e.run_id ? "failed" : "refused", NULL, NULL);
	fr_free(pend);
	fr_free(idx);
	fr_regs_free(regs, nregs);
	fr_buf_release(&drift);
	ferry_plan_free(made);
	engine_free(&e);
	if (rc && o->keep_going_on_start) {
		fr_log(f, FERRY_LOG_WARN, NULL, "migrations failed at start-up: %s", f->err.ptr);
		return 0;
	}
	return rc;
}

static const ferry_run_options default_opts = FERRY_RUN_OPTIONS_INIT;

/*
 * The caller's options, read only as far as its version of the struct
 * goes; the rest stays at the defaults (an application built against an
 * older header passes a shorter struct).
 */
static ferry_run_options options_of(const ferry_run_options *opts)
{
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	if (opts && opts->version >= 2)
		o = *opts;
	else if (opts && opts->version == 1)
		memcpy(&o, opts, offsetof(ferry_run_options, skip_backup));
	o.version = FERRY_RUN_OPTIONS_VERSION;
	return o;
}

int ferry_up(ferry *f, const char *target, const ferry_run_options *opts)
{
	ferry_run_options oo = options_of(opts);
	const ferry_run_options *o = &oo;
	fr_free(f->last_run);
	f->last_run = NULL;
	f->interrupted = 0;
	if (o->version >= 2 && o->rehearse && !o->dry_run)
		return fr_rehearse(f, target, o);
	return run_up(f, NULL, target, o);
}

int ferry_apply(ferry *f, const ferry_plan *p, const ferry_run_options *opts)
{
	ferry_run_options o = options_of(opts);
	fr_free(f->last_run);
	f->last_run = NULL;
	f->interrupted = 0;
	return run_up(f, p, NULL, &o);
}

/* ---- down and recover: undo applied steps from their record ---- */

/* Loads registry rows into done steps to undo, newest first taken from the end. */
static int load_undo(engine *e, const fr_reg *regs, size_t nregs,
                     int (*want)(const fr_reg *r, const void *arg), const void *arg)
{
	size_t i;
	for (i = 0; i < nregs; i++) {
		const fr_reg *g = &regs[i];
		done_step *d;
		const fr_step_kind *k;
		if (!applied_status(g->status) || !want(g, arg))
			continue;
		d = add_done(e);
		if (!d)
			return -1;
		d->id = fr_strdup(g->id);
		d->kind = fr_strdup(g->kind);
		d->from = fr_strdup(g->from);
		d->to = fr_strdup(g->to);
		d->checksum = fr_strdup(g->checksum);
		d->undo = g->undo && *g->undo ? fr_strdup(g->undo) : NULL;
		d->rdb = *g->database ? find_db(e, g->database) : NULL;
		k = fr_step_kind_find(g->kind);
		d->transactional = d->rdb && (!k || !k->undo_transactional ||
		                              k->undo_transactional(d->undo));
		d->committed = 1;
		d->skipped = !strcmp(g->status, "skipped");
		d->seq = g->seq;
		d->applied_at_ms = g->applied_at_ms;
		if (*g->database && !d->rdb) {
			fr_buf_printf(&e->err, "step '%s' was applied to database '%s', which ferry.yaml "
			                       "no longer defines", g->id, g->database);
			return -2;
		}
	}
	return 0;
}

static int want_above(const fr_reg *r, const void *arg)
{
	fr_version to;
	return fr_version_parse(&to, r->to, NULL) == 0 && fr_version_cmp(&to, arg) > 0;
}

/* Commits the open transaction of a down; its undone steps leave the registry's applied set. */
static int commit_undo(engine *e)
{
	ferry *f = e->f;
	size_t i;
	if (e->tx) {
		if (e->tx->db->drv->commit(e->tx->db, &e->err))
			return FERRY_EFAILED;
		e->tx = NULL;
	}
	fr_state_begin(f->state);
	for (i = 0; i < e->ndone; i++) {
		done_step *d = &e->done[i];
		if (!d->undone)
			continue;
		reg_write(e, d, "rolled_back", "undone by a down run");
		d->undone = 0;
		d->seq = -1;
	}
	fr_state_commit(f->state);
	return 0;
}

/* Rolls back the open transaction of a down: its steps stay applied. */
static void abort_undo(engine *e)
{
	size_t i;
	if (e->tx) {
		fr_buf ignore = FR_BUF_INIT;
		e->tx->db->drv->rollback(e->tx->db, &ignore);
		fr_buf_release(&ignore);
		e->tx = NULL;
	}
	for (i = 0; i < e->ndone; i++) {
		if (e->done[i].undone) {
			e->done[i].undone = 0;
			set_outcome(e, e->done[i].id, "applied");
		}
	}
}

/*
 * Undoes e->done from the newest, grouping consecutive steps of one
 * database into one transaction (one per step with transaction: step).
 */
static int undo_all(engine *e)
{
	ferry *f = e->f;
	size_t i = e->ndone;
	int rc = 0;
	while (i--) {
		done_step *d = &e->done[i];
		fr_db *db;
		if (f->interrupted) {
			rc = FERRY_EINTERRUPTED;
			break;
		}
		if (d->rdb && open_db(e, d->rdb)) {
			rc = FERRY_EFAILED;
			break;
		}
		db = d->rdb ? d->rdb->db : NULL;
		if (e->tx && (e->tx != d->rdb || !d->transactional) && (rc = commit_undo(e)))
			break;
		if (db && !e->tx && d->transactional) {
			if (db->drv->begin(db, &e->err)) {
				rc = FERRY_EFAILED;
				break;
			}
			e->tx = d->rdb;
		}
		fr_log(f, FERRY_LOG_INFO, d->id, "undoing");
		fr_log_flush(f);
		if (undo_one(e, d)) {
			rc = FERRY_EFAILED;
			add_outcome(e, d->id, "failed", 0, e->err.ptr);
			break;
		}
		d->undone = 1;
		add_outcome(e, d->id, "rolled_back", 0, NULL);
		/* Outside a transaction the undo is done: record it at once. */
		if ((f->cfg->tx_per_step || !d->transactional) && (rc = commit_undo(e)))
			break;
	}
	if (!rc)
		rc = commit_undo(e);
	return rc;
}

/* The greatest version still applied after a partial undo, at least floor. */
static void version_left(engine *e, const fr_version *floor, fr_version *out)
{
	size_t i;
	*out = *floor;
	for (i = 0; i < e->ndone; i++) {
		fr_version to;
		if (e->done[i].seq >= 0 && fr_version_parse(&to, e->done[i].to, NULL) == 0 &&
		    fr_version_cmp(&to, out) > 0)
			*out = to;
	}
}

static int finish_undo_run(engine *e, int rc, const fr_version *target, const char *ok_msg)
{
	ferry *f = e->f;
	char text[FR_VERSION_STR_MAX];
	size_t i;
	int any_done = 0;
	if (rc) {
		fr_version left;
		fr_buf why = FR_BUF_INIT;
		abort_undo(e);
		for (i = 0; i < e->ndone; i++)
			any_done |= e->done[i].seq < 0;
		version_left(e, target, &left);
		record_version(e, &left);
		vfmt(&left, text);
		fr_buf_puts(&why, rc == FERRY_EINTERRUPTED ? "interrupted by a signal" : e->err.ptr);
		if (any_done)
			rc = fr_fail(f, FERRY_EUNRECOVERED,
			             "%s\nthe down run stopped part-way; the installation is recorded at "
			             "'%s' with the steps 'ferry list' shows as applied; fix the cause and "
			             "run 'ferry down' again",
			             why.ptr, text);
		else
			rc = fr_fail(f, rc == FERRY_EINTERRUPTED ? rc : FERRY_EFAILED,
			             "%s\nnothing was undone; the installation is at '%s' as before",
			             why.ptr, text);
		fr_state_run_end(f->state, e->run_id, any_done ? "failed" : "rolled_back", text,
		                 why.ptr);
		fr_buf_release(&why);
	} else {
		record_version(e, target);
		vfmt(target, text);
		fr_state_run_end(f->state, e->run_id, "success", text, ok_msg);
		fr_ok(f);
	}
	fr_state_begin(f->state);
	for (i = 0; i < e->nout; i++)
		fr_state_run_step(f->state, e->run_id, e->out[i].id, e->out[i].status,
		                  e->out[i].duration_ms, e->out[i].message);
	fr_state_commit(f->state);
	set_result(e, rc == 0 ? "success" : rc == FERRY_EUNRECOVERED ? "failed" : "rolled_back",
	           NULL, NULL);
	return rc;
}

/* Lock, refuse after an interrupted run (unless recovering), reconcile. */
static int undo_prologue(engine *e, int wait, int recovering, fr_reg **regs, size_t *nregs)
{
	ferry *f = e->f;
	int rc;
	rc = fr_lock_acquire(&f->lock, f->ferry_dir, wait, &f->interrupted, &e->err);
	if (rc)
		return fr_fail_msg(f, rc, e->err.ptr);
	if ((rc = lock_databases(e, wait)))
		return rc;
	if (!recovering && (rc = refuse_interrupted(f)))
		return rc;
	if (fr_state_registry(f->state, regs, nregs))
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	return reconcile(e, regs, nregs);
}

static int check_reversible(engine *e, const char *what)
{
	size_t i;
	for (i = 0; i < e->ndone; i++) {
		done_step *d = &e->done[i];
		if (!d->skipped && !d->undo)
			return fr_fail(e->f, FERRY_EFAILED,
			               "cannot %s: step '%s' has no down section (irreversible); nothing "
			               "was changed; restore a backup taken before version '%s' instead",
			               what, d->id, d->to);
	}
	return 0;
}

int ferry_down(ferry *f, const char *target, const ferry_run_options *opts)
{
	ferry_run_options oo = options_of(opts);
	const ferry_run_options *o = &oo;
	engine e;
	fr_version tgt;
	fr_reg *regs = NULL;
	size_t nregs = 0, i;
	char fromtext[FR_VERSION_STR_MAX], totext[FR_VERSION_STR_MAX];
	int rc, w;
	fr_free(f->last_run);
	f->last_run = NULL;
	f->interrupted = 0;
	if ((rc = engine_init(&e, f, o)))
		return rc;
	if (!target) {
		rc = fr_fail(f, FERRY_EINVALID, "down needs a target version");
		goto done;
	}
	if (fr_version_parse(&tgt, target, &f->err)) {
		rc = fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
		goto done;
	}
	if ((rc = fr_current(f, &e.from)))
		goto done;
	e.recorded = e.from;
	vfmt(&e.from, fromtext);
	vfmt(&tgt, totext);
	if (fr_version_cmp(&tgt, &e.from) > 0) {
		rc = fr_fail(f, FERRY_EINVALID, "target '%s' is above the current version '%s' "
		                                "(use 'ferry up %s')", totext, fromtext, totext);
		goto done;
	}
	if ((rc = undo_prologue(&e, o->wait_seconds, 0, &regs, &nregs)))
		goto done;
	w = load_undo(&e, regs, nregs, want_above, &tgt);
	if (w) {
		rc = w == -2 ? fr_fail_msg(f, FERRY_EINVALID, e.err.ptr) :
		               fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	if ((rc = check_reversible(&e, "go down")))
		goto done;
	if (o->dry_run) {
		json_t *extra = json_object(), *steps = json_array();
		i = e.ndone;
		while (i--) {
			json_t *so = json_object();
			json_object_set_new(so, "id", json_string(e.done[i].id));
			json_object_set_new(so, "statements",
			                    e.done[i].undo ? json_string(e.done[i].undo) : json_null());
			json_array_append_new(steps, so);
			add_outcome(&e, e.done[i].id, "pending", 0, NULL);
		}
		json_object_set_new(extra, "dry_run_steps", steps);
		e.recorded = tgt;
		set_result(&e, "dry_run", NULL, extra);
		json_decref(extra);
		fr_ok(f);
		goto done;
	}
	if (!e.ndone && fr_version_cmp(&tgt, &e.from) == 0) {
		set_result(&e, "noop", NULL, NULL);
		fr_ok(f);
		goto done;
	}
	if (fr_state_run_begin(f->state, "down", fromtext, totext, &e.run_id)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot record the run in state.db: %s",
		             fr_state_errmsg(f->state));
		goto done;
	}
	fr_log(f, FERRY_LOG_INFO, NULL, "run %lld: down %s -> %s, %zu step%s", (long long)e.run_id,
	       fromtext, totext, e.ndone, e.ndone == 1 ? "" : "s");
	rc = undo_all(&e);
	rc = finish_undo_run(&e, rc, &tgt, NULL);
done:
	fr_lock_release(&f->lock);
	/* Refused before it began (lock, drift, bad input): nothing was changed. */
	if (rc && !f->last_run)
		set_result(&e, e.run_id ? "failed" : "refused", NULL, NULL);
	fr_regs_free(regs, nregs);
	engine_free(&e);
	return rc;
}

static int want_run(const fr_reg *r, const void *arg)
{
	return r->run_id == *(const int64_t *)arg;
}

int ferry_recover(ferry *f, int resume)
{
	engine e;
	fr_reg *regs = NULL;
	fr_run_row run;
	fr_version from;
	size_t nregs = 0;
	int rc, found = 0, w;
	memset(&run, 0, sizeof run);
	fr_free(f->last_run);
	f->last_run = NULL;
	f->interrupted = 0;
	if ((rc = engine_init(&e, f, &default_opts)))
		return rc;
	if ((rc = undo_prologue(&e, 0, 1, &regs, &nregs)))
		goto done;
	if (fr_state_running(f->state, &run, &found)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
		goto done;
	}
	if ((rc = fr_current(f, &e.from)))
		goto done;
	e.recorded = e.from;
	if (!found) {
		fr_ok(f);
		set_result(&e, "noop", NULL, NULL);
		goto done;
	}
	e.run_id = run.id;
	if (resume) {
		fr_state_run_end(f->state, run.id, "interrupted", NULL,
		                 "kept what it applied ('ferry recover --resume')");
		fr_log(f, FERRY_LOG_INFO, NULL, "run %lld marked interrupted; its applied steps stay",
		       (long long)run.id);
		set_result(&e, "success", NULL, NULL);
		fr_ok(f);
		goto done;
	}
	if (fr_version_parse(&from, run.from, &f->err)) {
		rc = fr_fail_msg(f, FERRY_EFAILED, f->err.ptr);
		goto done;
	}
	w = load_undo(&e, regs, nregs, want_run, &run.id);
	if (w) {
		rc = w == -2 ? fr_fail_msg(f, FERRY_EINVALID, e.err.ptr) :
		               fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	if ((rc = check_reversible(&e, "roll back the interrupted run"))) {
		rc = FERRY_EUNRECOVERED;
		goto done;
	}
	fr_log(f, FERRY_LOG_INFO, NULL, "rolling back interrupted run %lld (%zu step%s)",
	       (long long)run.id, e.ndone, e.ndone == 1 ? "" : "s");
	rc = undo_all(&e);
	rc = finish_undo_run(&e, rc, &from, "rolled back by 'ferry recover'");
	if (rc == 0)
		fr_state_run_end(f->state, run.id, "rolled_back", run.from,
		                 "rolled back by 'ferry recover'");
done:
	fr_log_flush(f);
	fr_lock_release(&f->lock);
	fr_run_row_clear(&run);
	fr_regs_free(regs, nregs);
	engine_free(&e);
	return rc;
}
