/*
 * run.c - the engine of `up` (SPEC section 6): the only module that knows
 * the order of a run's set-up. Fast path without the lock, lock, refuse
 * after an interrupted run, reconcile the registry with each database's
 * record, resolve the plan (actions.c) and check drift, pre-flight (every
 * step parsed and every target writable before anything changes), then
 * walk the plan's actions: backups, hooks, steps, commits, version
 * records. The engine executes the list and decides nothing again; on a
 * failure or an interrupt it makes the plan of the rollback (undo.c) and
 * walks that.
 */
#include "engine.h"
#include "actions.h"
#include "backup.h"
#include "hooks.h"
#include "run.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/proc.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the engine's databases ---- */

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

int fr_engine_open_db(engine *e, run_db *r)
{
	if (r->db)
		return 0;
	if (fr_db_prepare(r->conf, &e->err))
		return -1;
	return fr_db_open(&r->db, r->conf, &e->err);
}

run_db *fr_engine_db(engine *e, const char *name)
{
	return find_db(e, name);
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
	return fr_engine_open_db(e, r) ? NULL : r->db;
}

/* A line a step printed: to the log with the step's id (the terminal shows it with -v). */
static void ctx_output(fr_run_ctx *ctx, const char *line)
{
	engine *e = ctx->engine;
	fr_log(e->f, FERRY_LOG_DEBUG, ctx->step_id, "| %s", line);
}

/* ---- the crash journal (state.db): what a crash could cut in half ---- */

static int ctx_journal_undo(fr_run_ctx *ctx, const char *undo)
{
	engine *e = ctx->engine;
	if (!e->jid)
		return 0;
	return fr_state_journal_undo(e->f->state, e->jid, undo);
}

static int ctx_proc_started(void *arg, pid_t pgid, fr_buf *err)
{
	engine *e = arg;
	fr_state *st = e->f->state;
	int rc = e->jid ? fr_state_journal_pgid(st, e->jid, pgid) :
	         fr_state_journal_add(st, e->run_id, e->ctx.step_id ? e->ctx.step_id : "process",
	                              "", "", "", &e->pg_jid) ||
	         fr_state_journal_pgid(st, e->pg_jid, pgid);
	if (rc)
		fr_buf_printf(err, "cannot write the crash journal: %s", fr_state_errmsg(st));
	return rc ? -1 : 0;
}

static void ctx_proc_ended(void *arg, pid_t pgid)
{
	engine *e = arg;
	(void)pgid;
	if (e->pg_jid) {
		fr_state_journal_drop(e->f->state, e->pg_jid);
		e->pg_jid = 0;
	} else if (e->jid) {
		fr_state_journal_pgid(e->f->state, e->jid, 0);
	}
}

/* The step is recorded (or undid itself): the journal forgets it. */
static void journal_done(engine *e)
{
	if (e->jid)
		fr_state_journal_drop(e->f->state, e->jid);
	e->jid = 0;
}

/*
 * Out of memory while the engine was set up: what it allocated is freed
 * and it is left as fr_engine_init's memset left it, so that a caller
 * that frees it anyway (verify.c's checker) frees nothing twice.
 */
static int engine_init_failed(engine *e)
{
	ferry *f = e->f;
	const ferry_run_options *opts = e->opts;
	e->ndbs = 0; /* no database is open yet, and e->dbs may be NULL */
	fr_engine_free(e);
	memset(e, 0, sizeof *e);
	e->f = f;
	e->opts = opts;
	fr_buf_init(&e->err);
	return fr_fail(f, FERRY_EFAILED, "out of memory");
}

int fr_engine_init(engine *e, ferry *f, const ferry_run_options *opts)
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
	e->ctx.journal_undo = ctx_journal_undo;
	e->ctx.proc_started = ctx_proc_started;
	e->ctx.proc_ended = ctx_proc_ended;
	e->ctx.proc_arg = e;
	e->scratch = fr_path_join(f->ferry_dir, "scratch");
	e->ctx.scratch_dir = e->scratch;
	e->ndbs = f->cfg->ndbs;
	if (e->ndbs) {
		e->dbs = fr_calloc(e->ndbs, sizeof *e->dbs);
		e->db_names = fr_calloc(e->ndbs, sizeof *e->db_names);
		e->db_urls = fr_calloc(e->ndbs, sizeof *e->db_urls);
		e->db_shown = fr_calloc(e->ndbs, sizeof *e->db_shown);
		if (!e->dbs || !e->db_names || !e->db_urls || !e->db_shown)
			return engine_init_failed(e);
		for (i = 0; i < e->ndbs; i++) {
			e->dbs[i].conf = &f->cfg->dbs[i];
			e->db_names[i] = f->cfg->dbs[i].name;
			e->db_urls[i] = fr_db_script_value(&f->cfg->dbs[i]);
			e->db_shown[i] = fr_db_where(&f->cfg->dbs[i]);
		}
		e->ctx.db_names = e->db_names;
		e->ctx.db_urls = e->db_urls;
		e->ctx.db_shown = e->db_shown;
		e->ctx.ndbs = e->ndbs;
	}
	return e->scratch ? 0 : engine_init_failed(e);
}

void fr_engine_free(engine *e)
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
	fr_free(e->db_shown);
	fr_free(e->scratch);
	for (i = 0; i < e->ndone; i++)
		fr_done_clear(&e->done[i]);
	json_decref(e->executed);
	fr_taken_free(e->taken, e->ntaken);
	fr_free(e->taken);
	json_decref(e->undo_plan);
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
		int rc;
		if (!fr_db_can(r->conf, FR_DB_CAP_SESSION_LOCK) || r->locked)
			continue;
		if (fr_engine_open_db(e, r))
			return fr_fail_msg(f, FERRY_EINVALID, e->err.ptr);
		rc = r->db->drv->lock(r->db, wait, &f->interrupted, &e->err);
		if (rc)
			return fr_fail_msg(f, rc, e->err.ptr);
		r->locked = 1;
	}
	return 0;
}

/* ---- reconcile: each database's record wins over state.db's mirror ---- */

int fr_engine_reconcile(engine *e, fr_reg **regs, size_t *nregs)
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
		if (!fr_db_exists(r->conf))
			continue; /* a database not made yet (an SQLite file) holds no record */
		if (e->shared_only && !fr_db_can(r->conf, FR_DB_CAP_SHARED_VERSION))
			continue;
		if (fr_engine_open_db(e, r)) {
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
			if (!g || !fr_reg_applied(g->status) || strcmp(g->status, recs[j].status) ||
			    strcmp(g->checksum, recs[j].checksum ? recs[j].checksum : "")) {
				fr_reg n;
				memset(&n, 0, sizeof n);
				n.id = recs[j].id;
				n.database = (char *)r->conf->name;
				n.kind = recs[j].kind ? recs[j].kind : (char *)fr_step_kind_default()->name;
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
			/* An adopted one is in the tool's table, not ferry's (adopt.c). */
			if (strcmp(g->database, r->conf->name) || !fr_reg_applied(g->status) ||
			    !strcmp(g->status, "adopted"))
				continue;
			if (!nrecs || !bsearch(&key, ids, nrecs, sizeof *ids, str_ptr_cmp)) {
				fr_reg n = *g;
				n.status = "rolled_back";
				n.message = "not in the database's record";
				fr_state_reg_put(f->state, &n);
				changed = 1;
				if (e->lost)
					fr_buf_printf(e->lost, "%s\t%s\n", g->id, r->conf->name);
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

int fr_shared_record(ferry *f)
{
	size_t i;
	for (i = 0; i < f->cfg->ndbs; i++)
		if (fr_db_can(&f->cfg->dbs[i], FR_DB_CAP_SHARED_VERSION))
			return 1;
	return 0;
}

int fr_registry_refresh(ferry *f, fr_buf *lost)
{
	static const ferry_run_options defaults = FERRY_RUN_OPTIONS_INIT;
	engine e;
	fr_reg *regs = NULL;
	size_t nregs = 0;
	int rc;
	if (!fr_shared_record(f) && !(f->cat && f->cat->nforeign))
		return 0;
	if ((rc = fr_engine_init(&e, f, &defaults)))
		return rc;
	e.shared_only = 1;
	e.lost = lost;
	if (fr_state_registry(f->state, &regs, &nregs))
		rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	else if (!(rc = fr_engine_reconcile(&e, &regs, &nregs)))
		rc = fr_engine_adopt(&e, &regs, &nregs, 0);
	fr_regs_free(regs, nregs);
	fr_engine_free(&e);
	return rc;
}

/* ---- the no-op fingerprint ---- */

/*
 * A digest of everything a clean no-op depends on that a stat can see:
 * ferry.yaml, every step file (path, size, stamp: the later of mtime and
 * ctime, inode), which database files exist, the current and
 * target versions, and what other tools' history tables list (they
 * change with no file's stat: `dbmate rollback`; one query a table). 0 when
 * a file is too fresh to trust its mtime (the "racy git" rule: changed
 * within the same tick as we look), or a table cannot be read.
 */
static uint64_t noop_fingerprint(ferry *f, const ferry_plan *p, const fr_version *cur)
{
	uint64_t h = 14695981039346656037ULL;
	int64_t fresh = (fr_now_ms() - 2000) * 1000000LL;
	char v[FR_VERSION_STR_MAX];
	struct stat st;
	size_t i;
	if (stat(f->cfg->path, &st) || fr_stamp_ns(&st) > fresh)
		return 0;
	if (f->cat->nforeign) {
		fr_buf tables = FR_BUF_INIT;
		int bad = fr_adopt_tables_text(f, &tables);
		if (!bad)
			h = fr_mix64(h, tables.ptr, tables.len);
		fr_buf_release(&tables);
		if (bad)
			return 0;
	}
	h = fr_mix64(h, &st.st_size, sizeof st.st_size);
	{
		uint64_t present = fr_dbs_present(f);
		h = fr_mix64(h, &present, sizeof present);
	}
	{
		int64_t stamp = fr_stamp_ns(&st);
		h = fr_mix64(h, &stamp, sizeof stamp);
	}
	for (i = 0; i < f->cat->nsteps; i++) {
		const fr_step *s = f->cat->steps[i];
		if (s->mtime_ns > fresh)
			return 0;
		h = fr_mix64(h, s->path, strlen(s->path) + 1);
		h = fr_mix64(h, &s->size, sizeof s->size);
		h = fr_mix64(h, &s->mtime_ns, sizeof s->mtime_ns);
		h = fr_mix64(h, &s->ino, sizeof s->ino);
	}
	vfmt(cur, v);
	h = fr_mix64(h, v, strlen(v) + 1);
	vfmt(&p->to, v);
	h = fr_mix64(h, v, strlen(v) + 1);
	return h ? h : 1;
}

/* ---- pre-flight checks ---- */

/* Refuses after an interrupted run (exit 5); *seen (may be NULL) says that was the refusal. */
static int refuse_interrupted(ferry *f, int *seen)
{
	fr_run_row r;
	int found = 0, rc = 0;
	if (fr_state_running(f->state, &r, &found))
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	if (seen)
		*seen = found;
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


int fr_engine_lock(engine *e, int wait, int recovering)
{
	ferry *f = e->f;
	int rc = fr_lock_acquire(&f->lock, f->ferry_dir, wait, &f->interrupted, &e->err);
	if (rc)
		return fr_fail_msg(f, rc, e->err.ptr);
	if ((rc = lock_databases(e, wait)))
		return rc;
	return recovering ? 0 : refuse_interrupted(f, NULL);
}

/*
 * The lock of `up`. After an interrupted run (a crash), the run is rolled
 * back first as `ferry recover` does, said in the log, and the lock taken
 * again (the plan is then made again from what recovery left); with
 * no_recover, the refusal of exit 5 stays.
 */
static int lock_for_up(engine *e, int wait)
{
	ferry *f = e->f;
	size_t i;
	int rc = fr_lock_acquire(&f->lock, f->ferry_dir, wait, &f->interrupted, &e->err), seen = 0;
	if (rc)
		return fr_fail_msg(f, rc, e->err.ptr);
	if ((rc = lock_databases(e, wait)))
		return rc;
	if (!(rc = refuse_interrupted(f, &seen)) || !seen || e->opts->no_recover) {
		/*
		 * The lock file came at once: the catalog the first pass read a
		 * moment ago is the locked pass's too, with no stat of every file
		 * again (fr_load_catalog). After a wait, or a recovery, it is
		 * checked as usual.
		 */
		f->cat_keep = !rc && !f->lock.waited;
		return rc;
	}
	fr_log(f, FERRY_LOG_WARN, NULL, "%s; rolling it back first, as 'ferry recover' does",
	       ferry_errmsg(f));
	fr_log_flush(f);
	for (i = 0; i < e->ndbs; i++)
		if (e->dbs[i].locked) {
			e->dbs[i].db->drv->unlock(e->dbs[i].db);
			e->dbs[i].locked = 0;
		}
	fr_lock_release(&f->lock);
	if ((rc = ferry_recover(f, 0)))
		return fr_fail(f, rc, "the interrupted run could not be rolled back: %s",
		               ferry_errmsg(f));
	fr_log(f, FERRY_LOG_WARN, NULL, "the interrupted run was rolled back; going on with 'up'");
	fr_last_run_clear(f);
	return fr_engine_lock(e, wait, 0);
}

/* ---- commits ---- */

/*
 * A commit action: the group's steps are recorded in their database and
 * the transaction commits; then the registry mirrors them.
 */
static int commit_group(engine *e)
{
	ferry *f = e->f;
	run_db *r = e->tx;
	size_t i, n = 0;
	if (r) {
		for (i = 0; i < e->ndone; i++) {
			done_step *d = &e->done[i];
			if (!d->committed && d->rdb == r && d->transactional && fr_record_put(e, d))
				return FERRY_EFAILED;
		}
		if (r->db->drv->commit(r->db, &e->err))
			return FERRY_EFAILED;
		e->tx = NULL;
		e->txnum = 0;
	}
	for (i = 0; i < e->ndone; i++) {
		done_step *d = &e->done[i];
		if (d->committed)
			continue;
		d->committed = 1;
		n++;
	}
	e->unmirrored += n;
	/*
	 * With a commit per step the registry rows are written in batches: the
	 * databases' own records are authoritative, and the next locked run
	 * reads them again. Always before a version is recorded.
	 */
	if (!f->cfg->tx_per_step || e->unmirrored >= 100)
		fr_mirror(e);
	if (r && n)
		fr_log(f, FERRY_LOG_INFO, NULL, "committed %zu step%s on '%s'", n, n == 1 ? "" : "s",
		       r->conf->name);
	return 0;
}

/* A step outside any transaction is done once it ran: recorded and mirrored at once. */
static void settle(engine *e, done_step *d)
{
	d->committed = 1;
	/* A step on no database has no other record than the registry. */
	e->unmirrored += d->rdb ? 1 : 100;
	if (!e->f->cfg->tx_per_step || e->unmirrored >= 100)
		fr_mirror(e);
}

/* ---- one step ---- */

/* A step action: check, forward, verify, then its record (at once, or with its group). */
static int run_step(engine *e, const fr_action *a)
{
	ferry *f = e->f;
	fr_step *s = a->step;
	const fr_step_kind *k = s->kind;
	run_db *r = NULL;
	done_step *d;
	double t0 = fr_mono_ms();
	int needed = 1;
	char tv[FR_VERSION_STR_MAX], fv[FR_VERSION_STR_MAX];
	fr_buf undo = FR_BUF_INIT;

	if (a->database) {
		r = find_db(e, a->database);
		if (!r || fr_engine_open_db(e, r))
			return FERRY_EFAILED;
	}
	if (a->tx && !e->tx) {
		if (r->db->drv->begin(r->db, &e->err))
			return FERRY_EFAILED;
		e->tx = r;
		e->txnum = a->tx;
	}
	fr_buf_reset(&e->err);
	fr_vpattern_format(&s->tr->from, fv, sizeof fv);
	vfmt(&s->tr->to, tv);
	e->ctx.from = fv;
	e->ctx.to = tv;
	e->ctx.step_id = s->id;
	if (k->check && !a->rerun && k->check(&e->ctx, s, &needed))
		return FERRY_EFAILED;
	if (needed) {
		fr_log(f, FERRY_LOG_INFO, s->id, "applying");
		/* The log on disk shows the step in progress, however long it takes. */
		fr_log_flush(f);
		/*
		 * Outside a transaction a crash can cut the forward in half: its
		 * undo so far is journaled before it starts (and by the kind as it
		 * goes), and recovery undoes it from there.
		 */
		if (!a->tx && !e->opts->dry_run) {
			fr_buf pre = FR_BUF_INIT;
			int jr = k->undo_text(s, &pre) || pre.oom ||
			         fr_state_journal_add(f->state, e->run_id, s->id, k->name,
			                              a->database ? a->database : "", pre.ptr ? pre.ptr : "",
			                              &e->jid);
			fr_buf_release(&pre);
			if (jr) {
				fr_buf_printf(&e->err, "%s: cannot write the crash journal: %s", s->id,
				              fr_state_errmsg(f->state));
				e->jid = 0;
				return FERRY_EFAILED;
			}
		}
		if (k->forward(&e->ctx, s) || (k->verify && k->verify(&e->ctx, s))) {
			/* A forward that fails undoes its own half before it returns. */
			journal_done(e);
			return FERRY_EFAILED;
		}
	}
	if (fr_state_checksum(f->state, s)) {
		fr_buf_printf(&e->err, "%s: cannot read '%s': %s", s->id, s->rel, strerror(errno));
		return FERRY_EFAILED;
	}
	if (k->undo_text(s, &undo) || undo.oom || !(d = fr_done_add(e))) {
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
	d->transactional = a->tx != 0;
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
	if (r && !a->tx && fr_record_put(e, d))
		return FERRY_EFAILED;
	fr_outcome_add(e, s->id, d->skipped ? "skipped" : "applied", d->duration_ms, NULL);
	if (d->skipped)
		fr_log(f, FERRY_LOG_INFO, s->id, "skipped (its check says it is done)");
	else
		fr_log(f, FERRY_LOG_INFO, s->id, "applied in %lld ms", (long long)d->duration_ms);
	if (!a->tx)
		settle(e, d);
	journal_done(e);
	return 0;
}

/* ---- hooks (SPEC 6 steps 6 and 9) ---- */

int fr_engine_hook(engine *e, const char *name)
{
	ferry *f = e->f;
	const fr_config *c = f->cfg;
	const char *cmd = NULL;
	size_t k;
	fr_buf_reset(&e->err);
	if (!strcmp(name, "stop")) {
		e->stopped = 1;
		e->touched = 0;
		return fr_hook_run(f, name, c->hook_stop, &e->err);
	}
	/* From here the service runs the version the run is at. */
	e->touched = 1;
	if (!strcmp(name, "start")) {
		e->stopped = 0;
		return fr_hook_run(f, name, c->hook_start, &e->err);
	}
	if (!strcmp(name, "health"))
		return fr_hook_health(f, c->hook_health, 0, &e->err);
	for (k = 0; k < c->n_hook_restart && !cmd; k++)
		if (!strncmp(name, "restart.", 8) && !strcmp(c->hook_restart[k].name, name + 8))
			cmd = c->hook_restart[k].command;
	if (!cmd) {
		fr_buf_printf(&e->err, "no hook '%s' in ferry.yaml", name);
		return FERRY_EFAILED;
	}
	return fr_hook_run(f, name, cmd, &e->err);
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
	if (have >= 0 && have < need) {
		fr_buf a = FR_BUF_INIT, b = FR_BUF_INIT;
		int rc;
		fr_buf_bytes(&a, need);
		fr_buf_bytes(&b, have);
		rc = fr_fail(f, FERRY_EFAILED,
		             "not enough disk space for the pre-run backup in '%s': it needs up to %s, "
		             "%s %s free; nothing was changed (free some space, set backup.dir "
		             "elsewhere, or use --skip-backup)",
		             f->cfg->backup_dir, a.ptr, b.ptr, have == 1 ? "is" : "are");
		fr_buf_release(&a);
		fr_buf_release(&b);
		return rc;
	}
	return 0;
}

/*
 * The pre-run backup, or the plan's reuse of an earlier attempt's: that
 * one is noted (with the version, registry digest and fingerprint it was
 * taken at) so that a later attempt can tell it is still unused.
 */
static int pre_run_backup(engine *e, const ferry_plan *p, const fr_action *a)
{
	ferry *f = e->f;
	char fp[65], v[FR_VERSION_STR_MAX];
	int rc;
	if (a->reuse) {
		fr_log(f, FERRY_LOG_INFO, NULL, "reusing the pre-run backup %s: an earlier attempt "
		       "took it and nothing changed since", a->reuse);
		if (!(e->backup_id = fr_strdup(a->reuse)) || !(e->restore_id = fr_strdup(a->reuse)))
			return fr_fail(f, FERRY_EFAILED, "out of memory");
		e->backup_reused = 1;
		return 0;
	}
	if (fr_backup_fingerprint(f, fp))
		fp[0] = '\0';
	fr_log(f, FERRY_LOG_INFO, NULL, "taking the pre-run backup");
	rc = fr_backup_create(f, "pre-run", NULL, &e->backup_id);
	if (rc) {
		rc = fr_fail(f, rc == FERRY_EINTERRUPTED ? rc : FERRY_EFAILED,
		             "cannot take the pre-run backup: %s; nothing was changed (use "
		             "--skip-backup to go on without one)", ferry_errmsg(f));
		fr_buf_reset(&e->err);
		fr_buf_puts(&e->err, ferry_errmsg(f));
		return rc;
	}
	e->restore_id = fr_strdup(e->backup_id);
	if (e->run_id)
		fr_state_run_set_backup(f->state, e->run_id, e->backup_id);
	vfmt(&e->from, v);
	fr_backup_note_prerun(f, e->backup_id, v, p->basis_registry, fp);
	return 0;
}

/*
 * --checkpoint-each-version: after the commit and the version record
 * before it, a backup; a later failure rolls back only to here.
 */
static int checkpoint(engine *e, const fr_version *v)
{
	ferry *f = e->f;
	char *id = NULL;
	int rc = fr_backup_create(f, "checkpoint", NULL, &id);
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

/* ---- pre-flight ---- */

/* The registry remembers the step that failed (list shows it), with the message. */
static void record_failed(engine *e, const fr_action *a, const char *msg)
{
	char tv[FR_VERSION_STR_MAX], fv[FR_VERSION_STR_MAX];
	fr_step *s = a->step;
	fr_reg r;
	memset(&r, 0, sizeof r);
	fr_vpattern_format(&s->tr->from, fv, sizeof fv);
	vfmt(&s->tr->to, tv);
	r.id = s->id;
	r.database = (char *)(a->database ? a->database : "");
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

/*
 * FERRY_EINVALID with a message when path (or, when it does not exist yet,
 * the nearest folder above it) is not writable.
 */
static int need_writable(const char *path, const char *what, fr_buf *err)
{
	if (fr_writable(path))
		return 0;
	fr_buf_printf(err, "the %s '%s' is not writable by this user: %s; nothing was changed "
	                   "(fix its permissions or run ferry as its owner)",
	              what, path, strerror(errno ? errno : EACCES));
	return FERRY_EINVALID;
}

/*
 * Before anything changes: every step of the plan names a database that
 * exists, what the run will write is writable (the SQLite files the steps
 * touch and their folders, the version file, .ferry; root passes access()
 * anyway), and the disk can hold the pre-run backup.
 */
static int preflight(engine *e, const ferry_plan *p)
{
	ferry *f = e->f;
	fr_buf err = FR_BUF_INIT;
	size_t i, k;
	int rc = 0, backup = 0;
	for (i = 0; i < p->nacts; i++) {
		const fr_action *a = &p->acts[i];
		const char *db;
		backup |= a->kind == FR_ACT_BACKUP && !strcmp(a->id, "pre-run") && !a->reuse;
		if (a->kind != FR_ACT_STEP)
			continue;
		db = a->step->kind->database(a->step);
		if (db && *db && !find_db(e, db)) {
			fr_buf_printf(&err, "%s: names database '%s', which ferry.yaml does not define "
			                    "(defined: ",
			              a->step->rel, db);
			if (!f->cfg->ndbs)
				fr_buf_puts(&err, "none");
			for (k = 0; k < f->cfg->ndbs; k++)
				fr_buf_printf(&err, "%s%s", k ? ", " : "", f->cfg->dbs[k].name);
			fr_buf_puts(&err, ")\n");
			rc = FERRY_EINVALID;
		} else if (!db && !f->cfg->ndbs && fr_kind_has(a->step->kind, FR_KIND_NEEDS_DB)) {
			fr_buf_printf(&err, "%s: an %s needs a database, and ferry.yaml defines none "
			                    "(add one under 'databases:')\n",
			              a->step->rel, fr_kind_noun(a->step->kind));
			rc = FERRY_EINVALID;
		}
	}
	/* Each database once, however many steps name it. */
	for (i = 0; i < p->nacts && !rc; i++) {
		const fr_action *a = &p->acts[i];
		run_db *r = a->kind == FR_ACT_STEP && a->database ? find_db(e, a->database) : NULL;
		if (r && !r->checked) {
			rc = fr_db_writable(r->conf, &err);
			r->checked = 1;
		}
	}
	if (!rc && f->cfg->version_file)
		rc = need_writable(f->cfg->version_file, "version file", &err);
	if (!rc)
		rc = need_writable(f->ferry_dir, "state folder", &err);
	if (rc)
		fr_fail_msg(f, rc, err.ptr);
	fr_buf_release(&err);
	if (!rc && backup)
		rc = check_backup_space(e);
	return rc;
}

/* ---- walking the plan ---- */

/* The run's record in state.db begins with its first change (a backup changes nothing). */
static int begin_run(engine *e, const ferry_plan *p)
{
	ferry *f = e->f;
	char a[FR_VERSION_STR_MAX], b[FR_VERSION_STR_MAX];
	size_t n;
	if (e->run_id)
		return 0;
	n = fr_plan_nsteps(p); /* here, not before: begin_run is asked before every action */
	vfmt(&e->from, a);
	vfmt(&p->to, b);
	if (fr_state_run_begin(f->state, "up", a, b, &e->run_id))
		return fr_fail(f, FERRY_EFAILED, "cannot record the run in state.db: %s",
		               fr_state_errmsg(f->state));
	e->next_seq = fr_state_next_seq(f->state);
	if (e->backup_id)
		fr_state_run_set_backup(f->state, e->run_id, e->backup_id);
	if (!strcmp(a, b)) /* other tools' steps of a version reached: the version stays */
		fr_log(f, FERRY_LOG_INFO, NULL, "run %lld: at %s, the version stays, %zu step%s",
		       (long long)e->run_id, a, n, n == 1 ? "" : "s");
	else
		fr_log(f, FERRY_LOG_INFO, NULL, "run %lld: %s -> %s, %zu step%s",
		       (long long)e->run_id, a, b, n, n == 1 ? "" : "s");
	return 0;
}

/*
 * Executes p's actions in order, each appended to the executed list with
 * its outcome. Stops at the first failure (rc) or, before a step or a
 * commit, at an interrupt (FERRY_EINTERRUPTED). The message of a failure
 * is in e->err.
 */
static int walk(engine *e, const ferry_plan *p)
{
	ferry *f = e->f;
	size_t i;
	int rc = 0;
	for (i = 0; i < p->nacts && !rc; i++) {
		const fr_action *a = &p->acts[i];
		const char *status = "done";
		double t0 = fr_mono_ms();
		if (!(a->kind == FR_ACT_BACKUP && !strcmp(a->id, "pre-run")) && (rc = begin_run(e, p))) {
			fr_buf_reset(&e->err);
			fr_buf_puts(&e->err, ferry_errmsg(f));
			break;
		}
		/* A safe point: nothing half-done, no transaction open (pause.c). */
		if (!e->tx && (rc = fr_pause_point(e)))
			break;
		t0 = fr_mono_ms(); /* a pause is no action's time */
		if ((a->kind == FR_ACT_STEP || a->kind == FR_ACT_COMMIT) && f->interrupted) {
			rc = FERRY_EINTERRUPTED;
			break;
		}
		fr_buf_reset(&e->err);
		fr_event_action(e, i, a, 0);
		switch (a->kind) {
		case FR_ACT_BACKUP:
			rc = !strcmp(a->id, "pre-run") ? pre_run_backup(e, p, a) :
			                                 checkpoint(e, &a->version);
			break;
		case FR_ACT_HOOK:
			if ((rc = fr_engine_hook(e, a->id)))
				fr_log(f, FERRY_LOG_ERROR, NULL, "%s", e->err.ptr);
			break;
		case FR_ACT_STEP:
			rc = run_step(e, a);
			/* A step cut short by ferry_interrupt() (a script killed) ends as one. */
			if (rc && f->interrupted)
				rc = FERRY_EINTERRUPTED;
			if (rc) {
				fr_buf msg = FR_BUF_INIT;
				fr_buf_puts(&msg, e->err.ptr);
				fr_log(f, FERRY_LOG_ERROR, a->id, "failed: %s", msg.ptr);
				fr_outcome_add(e, a->id, "failed", 0, msg.ptr);
				if (!a->rerun)
					record_failed(e, a, msg.ptr);
				fr_buf_release(&msg);
			} else {
				status = e->done[e->ndone - 1].skipped ? "skipped" : "applied";
			}
			break;
		case FR_ACT_COMMIT:
			if ((rc = commit_group(e)))
				fr_log(f, FERRY_LOG_ERROR, NULL, "commit failed: %s", e->err.ptr);
			break;
		case FR_ACT_VERSION:
			if ((rc = fr_engine_record_version(e, &a->version))) {
				fr_buf_reset(&e->err);
				fr_buf_puts(&e->err, ferry_errmsg(f));
			}
			break;
		default:
			fr_buf_printf(&e->err, "a plan of 'up' has no '%s' action", fr_act_name(a->kind));
			rc = FERRY_EFAILED;
		}
		fr_exec_add(e, a, rc == FERRY_EINTERRUPTED ? "interrupted" : rc ? "failed" : status, t0,
		            rc ? e->err.ptr : NULL);
		fr_event_action(e, i, a, 1);
		fr_crash_point("action");
	}
	return rc;
}

/*
 * After a failure: the plan of the rollback is made from what the run did
 * (undo.c), kept in the document, and walked. 0 when the installation is
 * back where the run started (or at its last checkpoint).
 */
static int roll_back(engine *e, const char *why, int hooks_on)
{
	struct ferry_plan *u = fr_calloc(1, sizeof *u);
	const done_step *blocked = NULL;
	int rc;
	if (!u || fr_plan_rollback(e, u, hooks_on, &blocked)) {
		fr_plan_free(u);
		fr_buf_reset(&e->err);
		fr_buf_puts(&e->err, "out of memory while planning the rollback");
		return FERRY_EUNRECOVERED;
	}
	json_decref(e->undo_plan);
	e->undo_plan = fr_actions_json(u->acts, u->nacts);
	e->undo_why = why;
	rc = fr_walk_undo(e, u, 0);
	if (!rc && blocked) {
		fr_buf applied = FR_BUF_INIT;
		size_t k;
		for (k = 0; k < e->ndone; k++)
			if (e->done[k].committed && e->done[k].seq >= 0)
				fr_buf_printf(&applied, "%s%s", applied.len ? ", " : "", e->done[k].id);
		fr_buf_reset(&e->err);
		fr_buf_printf(&e->err,
		              "cannot undo step '%s': it has no down section (irreversible). "
		              "The installation is left part-way: these steps of this run stay "
		              "applied and recorded: %s. Restore the backup taken before the run "
		              "(databases and their ferry_steps record together), or undo them by "
		              "hand and delete their rows from ferry_steps, then run 'ferry up' "
		              "again",
		              blocked->id, applied.ptr);
		fr_buf_release(&applied);
		rc = FERRY_EUNRECOVERED;
	}
	fr_plan_free(u);
	return rc;
}

/*
 * The no-op's document, with what decided it (`noop_check`): the listing
 * digest (noop.c), the catalog's stat fingerprint, or the registry read.
 */
static void noop_result(engine *e, const char *how)
{
	json_t *extra = json_object();
	fr_ok(e->f);
	json_object_set_new(extra, "noop_check", json_string(how));
	fr_set_result(e, "noop", NULL, extra);
	json_decref(extra);
}

/*
 * After a clean no-op, the listing digest taken before the catalog was read
 * (noop.c), but not for other tools' folders: their history tables change
 * with no file's stat, and only the full check reads them.
 */
static int store_quick(ferry *f, uint64_t listing, const fr_version *cur)
{
	if (!listing || !f->cat || f->cat->nforeign)
		return 0;
	fr_state_set_quick_fp(f->state, fr_noop_quick_fp(listing, cur));
	return 1;
}

/* Nothing to plan and nothing changed on disk since the last clean check. */
static int fingerprint_matches(engine *e, const ferry_plan *p, uint64_t *fp)
{
	ferry *f = e->f;
	fr_state_begin_read(f->state);
	*fp = noop_fingerprint(f, p, &e->from);
	return *fp && *fp == fr_state_noop_fp(f->state);
}

/* The end of a run that walked its plan: rolled back on failure, recorded either way. */
static int finish_up(engine *e, const ferry_plan *p, int rc, int hooks_on)
{
	ferry *f = e->f;
	char totext[FR_VERSION_STR_MAX], fromtext[FR_VERSION_STR_MAX];
	json_t *extra = NULL;
	vfmt(&e->from, fromtext);
	if (rc) {
		fr_buf why = FR_BUF_INIT;
		int urc;
		if (rc == FERRY_EINTERRUPTED)
			fr_buf_puts(&why, "interrupted by a signal");
		else
			fr_buf_puts(&why, e->err.len ? e->err.ptr : ferry_errmsg(f));
		urc = roll_back(e, why.ptr, hooks_on);
		if (urc) {
			rc = fr_fail_msg(f, urc, e->err.ptr);
			fr_state_run_end(f->state, e->run_id, "failed", NULL, e->err.ptr);
		} else {
			char back[FR_VERSION_STR_MAX];
			vfmt(&e->floor_version, back);
			if (rc == FERRY_EINTERRUPTED)
				fr_fail(f, rc, "interrupted; the run was rolled back to '%s'", back);
			else if (e->floor)
				fr_fail(f, FERRY_EFAILED, "%s\nthe run was rolled back to its last "
				                          "checkpoint: the installation is at '%s'",
				        why.ptr, back);
			else
				fr_fail(f, FERRY_EFAILED, "%s\nthe run was rolled back; the installation "
				                          "is at '%s' as before",
				        why.ptr, fromtext);
			if (rc != FERRY_EINTERRUPTED)
				rc = e->ctx.invalid_input ? FERRY_EINVALID : FERRY_EFAILED;
			f->errcode = rc;
			fr_state_run_end(f->state, e->run_id,
			                 rc == FERRY_EINTERRUPTED ? "interrupted" : "rolled_back", NULL,
			                 why.ptr);
			/* Put back as before: the pre-run backup still holds the installation. */
			if (rc != FERRY_EINTERRUPTED && !e->floor && e->backup_id)
				fr_backup_refresh_prerun(f, e->backup_id);
		}
		fr_buf_release(&why);
	} else {
		if (e->unmirrored)
			fr_mirror(e);
		vfmt(&e->recorded, totext);
		fr_state_run_end(f->state, e->run_id, "success", totext, NULL);
		if (p->stopped_at_required)
			fr_log(f, FERRY_LOG_WARN, NULL,
			       "stopped at %s, a required stop: start the application at this version "
			       "once, then run 'ferry up' again", totext);
		fr_ok(f);
	}
	fr_run_steps_save(e);
	fr_state_cache_save(f->state);
	if (p->stopped_at_required) {
		char rq[FR_VERSION_STR_MAX];
		vfmt(&p->to, totext);
		vfmt(&p->requested, rq);
		extra = json_object();
		json_object_set_new(extra, "required_stop", json_string(totext));
		json_object_set_new(extra, "requested", json_string(rq));
	}
	fr_set_result(e, rc == 0 ? "success" : rc == FERRY_EUNRECOVERED ? "failed" : "rolled_back",
	              e->backup_id, extra);
	json_decref(extra);
	return rc;
}

/*
 * A dry run's look at whether a step is still needed: its check, with
 * FERRY_DRY_RUN=1 for a script (the kinds' check must change nothing).
 * Asked only of a step on no database or on one that exists (opening a
 * SQLite file that is not there would make it). 1 needed, 0 not; a check
 * that fails is logged and the step counted as needed.
 */
static int dry_needed(engine *e, const fr_action *a)
{
	fr_step *s = a->step;
	run_db *r = a->database ? find_db(e, a->database) : NULL;
	int needed = 1;
	if (!s->kind->check || a->rerun || (a->database && (!r || !fr_db_exists(r->conf))))
		return 1;
	fr_buf_reset(&e->err);
	if (s->kind->check(&e->ctx, s, &needed)) {
		fr_log(e->f, FERRY_LOG_WARN, s->id, "its check failed in the dry run: %s", e->err.ptr);
		needed = 1;
	}
	fr_buf_reset(&e->err);
	return needed;
}

static int dry_run(engine *e, const ferry_plan *p)
{
	ferry *f = e->f;
	json_t *extra = json_object(), *steps = json_array();
	fr_buf text = FR_BUF_INIT, err = FR_BUF_INIT;
	char fv[FR_VERSION_STR_MAX], tv[FR_VERSION_STR_MAX];
	size_t i;
	for (i = 0; i < p->nacts; i++) {
		const fr_action *a = &p->acts[i];
		fr_step *s = a->step;
		json_t *o;
		int needed;
		if (a->kind != FR_ACT_STEP)
			continue;
		o = json_object();
		fr_vpattern_format(&s->tr->from, fv, sizeof fv);
		vfmt(&s->tr->to, tv);
		e->ctx.from = fv;
		e->ctx.to = tv;
		e->ctx.step_id = s->id;
		needed = dry_needed(e, a);
		fr_buf_reset(&text);
		if (s->kind->describe_in)
			s->kind->describe_in(&e->ctx, s, &text);
		else
			s->kind->describe(s, &text);
		json_object_set_new(o, "id", json_string(s->id));
		json_object_set_new(o, "kind", json_string(s->kind->name));
		json_object_set_new(o, "database", a->database ? json_string(a->database) : json_null());
		json_object_set_new(o, "transaction", json_boolean(a->tx != 0));
		json_object_set_new(o, "reversible", json_boolean(a->reversible));
		json_object_set_new(o, "statements", json_string(text.ptr));
		if (!needed)
			json_object_set_new(o, "needed", json_false());
		json_array_append_new(steps, o);
		fr_outcome_add(e, s->id, needed ? "pending" : "skipped", 0,
		               needed ? NULL : "its check says it is done");
	}
	e->ctx.from = e->ctx.to = e->ctx.step_id = NULL;
	json_object_set_new(extra, "dry_run_steps", steps);
	json_object_set_new(extra, "plan", fr_plan_to_json(p, &err));
	json_decref(e->executed);
	e->executed = fr_actions_json(p->acts, p->nacts);
	e->recorded = p->to;
	fr_ok(f);
	fr_set_result(e, "dry_run", NULL, extra);
	json_decref(extra);
	fr_buf_release(&text);
	fr_buf_release(&err);
	return 0;
}

/* Warns once for each restart the plan asks for that ferry.yaml has no hook for. */
static void warn_missing_restarts(ferry *f, const ferry_plan *p)
{
	size_t i, k;
	for (i = 0; i < p->nrestarts; i++) {
		int have = 0;
		for (k = 0; k < f->cfg->n_hook_restart; k++)
			have |= !strcmp(f->cfg->hook_restart[k].name, p->restarts[i]);
		if (!have)
			fr_log(f, FERRY_LOG_WARN, NULL, "the plan restarts '%s', but ferry.yaml has no "
			       "hooks.restart.%s: restart it yourself", p->restarts[i], p->restarts[i]);
	}
}

/*
 * 1 when a run was interrupted (its row still says running and nobody
 * holds the lock: not a run going on now): even an up with nothing to do
 * then takes the lock, which rolls it back first (or refuses with
 * --no-recover) and plans again. 0 when none, or state cannot be read
 * (the locked pass says so).
 */
static int run_interrupted(ferry *f, int *running)
{
	fr_run_row r;
	fr_lock_holder h;
	int found = 0;
	*running = 1; /* unknown: as if one were */
	if (fr_state_running(f->state, &r, &found))
		return 0;
	*running = found;
	if (found)
		fr_run_row_clear(&r);
	return found && fr_lock_probe(f->ferry_dir, &h) == 0;
}

/*
 * up: two passes. The first, without the lock, resolves the plan and
 * returns at once when it has no actions (the start-up fast path) and no
 * run was interrupted (a crash after its last version record); the
 * second, under the lock and after reconciling, resolves it again and
 * walks it. given: a plan read from a file, which must be the plan made
 * now or nothing runs. One function because the two passes are one loop
 * (goto again) over the same locals; its steps are the calls it makes.
 */
static int run_up(ferry *f, const ferry_plan *given, const char *target,
                  const ferry_run_options *o)
{
	engine e;
	ferry_plan *p = NULL;
	const ferry_run_options *po = given ? &given->opts : o; /* the options that shape it */
	fr_reg *regs = NULL, **idx = NULL;
	size_t nregs = 0;
	int rc, locked_pass = 0, crashed, running = 0, stored;
	uint64_t fp = 0, listing = 0;

	if ((rc = fr_engine_init(&e, f, o)))
		return rc;
	if (given)
		target = given->target_text;
	/*
	 * The start-up check before the catalog (noop.c): nothing changed in
	 * the folders since a clean no-op at the version recorded now, and no
	 * run was interrupted. The listing is taken before the catalog is
	 * read, so a digest stored below never speaks for files newer than
	 * what the check saw.
	 */
	if (!given && !po->only && !po->rerun && !o->dry_run) {
		/* On a handle whose watch saw nothing since its last clean no-op: not even a stat. */
		const char *how = NULL;
		if (fr_noop_again(f, target, &e.from)) {
			how = "watch";
		} else {
			fr_noop_state q;
			fr_vdb_start(f);
			fr_noop_quick_read(f, &q);
			listing = fr_noop_listing(f, target, 1, !q.stored);
			if (fr_noop_quick(f, listing, &q, &e.from, &running)) {
				if (!running || !run_interrupted(f, &running))
					how = "listing";
				fr_state_commit(f->state);
				if (how && !running)
					fr_noop_remember(f, target, &e.from);
			}
		}
		if (how) {
			e.recorded = e.floor_version = e.from;
			noop_result(&e, how);
			rc = 0;
			goto done;
		}
	}
again:
	/* One reading of the version a pass: the plan's (one round trip on PostgreSQL). */
	ferry_plan_free(p);
	p = NULL;
	rc = fr_plan_new(&p, f, target, &e.from);
	e.recorded = e.floor_version = e.from; /* a refusal's document says where it is too */
	if (rc)
		goto done;
	if (fr_plan_set_options(p, po)) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	p->want_basis = given != NULL;
	fr_buf_reset(&e.err);
	if ((rc = fr_plan_check_target(p, po->force, &e.err))) {
		rc = fr_fail_msg(f, rc, e.err.ptr);
		goto done;
	}
	fr_regs_free(regs, nregs);
	regs = NULL;
	nregs = 0;
	/*
	 * Nothing to plan and nothing changed on disk since the last clean
	 * check: a no-op without reading the registry (git's index trick).
	 * The read transaction makes storing the fingerprint fail when another
	 * process wrote state meanwhile.
	 */
	fp = 0;
	running = 1;
	crashed = !locked_pass && !o->dry_run && run_interrupted(f, &running);
	if (!locked_pass && !crashed && !given && !po->only && !po->rerun && !o->dry_run &&
	    p->ntrs == 0 &&
	    fr_version_cmp(&p->to, &e.from) == 0 && fingerprint_matches(&e, p, &fp)) {
		stored = store_quick(f, listing, &e.from);
		if (fr_state_commit(f->state) == 0 && stored && !running)
			fr_noop_remember(f, target, &e.from);
		noop_result(&e, "fingerprint");
		goto done;
	}
	if (fr_state_registry_ex(f->state, 0, &regs, &nregs)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
		goto done;
	}
	if (locked_pass && (rc = fr_engine_reconcile(&e, &regs, &nregs)))
		goto done;
	/* Other tools' tables, in both passes: the first must not call a step done that is not. */
	if ((rc = fr_engine_adopt(&e, &regs, &nregs, locked_pass)))
		goto done;
	fr_free(idx);
	if (!(idx = fr_reg_index(regs, nregs))) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	fr_buf_reset(&e.err);
	if ((rc = fr_plan_resolve(p, f, idx, regs, nregs, po, &e.err))) {
		rc = fr_fail_msg(f, rc, e.err.ptr);
		goto done;
	}
	fr_state_cache_save(f->state);
	if (given) {
		fr_buf_reset(&e.err);
		if ((rc = fr_plan_check_file(given, p, &e.err))) {
			rc = fr_fail(f, rc, "the plan file no longer fits the installation: %s; nothing "
			             "was changed (make a new plan with 'ferry plan --json')", e.err.ptr);
			goto done;
		}
	}
	/*
	 * A database file gone while steps are recorded as applied to it: the
	 * installation is not where the record says, whatever the files say
	 * (a volume not mounted, a file deleted). No --force: a no-op stored
	 * over it would be believed next time.
	 */
	{
		fr_buf gone = FR_BUF_INIT;
		if (fr_missing_dbs(f, regs, nregs, &gone, NULL)) {
			rc = fr_fail(f, FERRY_EVERIFY,
			             "%snothing was changed: restore it ('ferry backup list', then "
			             "'ferry backup restore ID'), or correct its path in %s",
			             gone.ptr, f->cfg->path);
			fr_buf_release(&gone);
			goto done;
		}
		fr_buf_release(&gone);
	}
	/* The fast path: nothing to do, nothing drifted, nothing passed over; no lock taken. */
	if (!p->nacts && !p->ndrift && !p->nooo && !crashed) {
		if (fp) {
			fr_state_set_noop_fp(f->state, fp);
			stored = store_quick(f, listing, &e.from);
			if (fr_state_commit(f->state) == 0 && stored && !running)
				fr_noop_remember(f, target, &e.from);
		}
		noop_result(&e, "registry");
		goto done;
	}
	if (p->ndrift && !po->force) {
		fr_buf lines = FR_BUF_INIT;
		size_t i;
		for (i = 0; i < p->ndrift; i++)
			fr_buf_printf(&lines, "  %s\n", p->drift[i]);
		rc = fr_fail(f, FERRY_EVERIFY,
		             "%zu applied step%s drifted:\n%sput the files back as they were "
		             "applied, or run again with --force to go on anyway",
		             p->ndrift, p->ndrift == 1 ? "" : "s", lines.ptr);
		fr_buf_release(&lines);
		goto done;
	}
	if (p->nooo && !po->allow_out_of_order) {
		fr_buf lines = FR_BUF_INIT;
		size_t i;
		for (i = 0; i < p->nooo; i++)
			fr_buf_printf(&lines, "  %s\n", p->ooo[i]);
		rc = fr_fail(f, FERRY_EVERIFY,
		             "%zu step%s added to versions this installation already passed, never "
		             "applied:\n%srun 'ferry up --allow-out-of-order' to apply %s first, or move "
		             "%s into a new version's transition", p->nooo, p->nooo == 1 ? " was" : "s were",
		             lines.ptr, p->nooo == 1 ? "it" : "them", p->nooo == 1 ? "it" : "them");
		fr_buf_release(&lines);
		goto done;
	}
	if (!p->nacts && !crashed) {
		/* --force over drift with nothing to do: nothing happens, and no run is recorded. */
		noop_result(&e, "registry");
		goto done;
	}
	if (o->dry_run) {
		rc = dry_run(&e, p);
		goto done;
	}
	/* The read transaction of the first look ends before the lock. */
	fr_state_commit(f->state);
	if (!locked_pass) {
		if ((rc = lock_for_up(&e, o->wait_seconds)))
			goto done;
		/* Look again now that the lock is ours: another runner may have done it all. */
		locked_pass = 1;
		goto again;
	}
	if (p->ndrift) {
		fr_buf lines = FR_BUF_INIT;
		size_t i;
		for (i = 0; i < p->ndrift; i++)
			fr_buf_printf(&lines, "  %s\n", p->drift[i]);
		fr_log(f, FERRY_LOG_WARN, NULL, "going on despite drift (--force):\n%s", lines.ptr);
		fr_buf_release(&lines);
	}
	if ((rc = preflight(&e, p)))
		goto done;
	if (!po->no_hooks)
		warn_missing_restarts(f, p);
	rc = walk(&e, p);
	/* A pre-run backup that failed leaves nothing to undo: the run never began. */
	if (rc && !e.run_id) {
		rc = fr_fail_msg(f, rc, ferry_errmsg(f)[0] ? ferry_errmsg(f) : e.err.ptr);
		goto done;
	}
	rc = finish_up(&e, p, rc, !po->no_hooks);
done:
	f->cat_keep = 0;
	fr_statmemo_end(f);
	fr_state_commit(f->state); /* a read transaction left open by an early exit */
	fr_log_flush(f);
	if (f->lock.fd >= 0)
		fr_pause_forget(f); /* a pause asked too late for this run is not the next one's */
	fr_lock_release(&f->lock);
	/* Refused before it began (lock, drift, bad input): nothing was changed. */
	if (rc && !f->last_run)
		fr_set_result(&e, e.run_id ? "failed" : "refused", NULL, NULL);
	fr_free(idx);
	fr_regs_free(regs, nregs);
	ferry_plan_free(p);
	fr_engine_free(&e);
	if (rc && o->keep_going_on_start) {
		fr_log(f, FERRY_LOG_WARN, NULL, "migrations failed at start-up: %s", f->err.ptr);
		return 0;
	}
	return rc;
}

int ferry_up(ferry *f, const char *target, const ferry_run_options *opts)
{
	ferry_run_options oo = fr_run_options_of(opts);
	const ferry_run_options *o = &oo;
	int rc;
	fr_last_run_clear(f);
	f->interrupted = 0;
	if (o->rehearse && !o->dry_run)
		return fr_rehearse(f, target, o);
	rc = run_up(f, NULL, target, o);
	fr_event_finished(f, rc);
	return rc;
}

int ferry_apply(ferry *f, const ferry_plan *p, const ferry_run_options *opts)
{
	ferry_run_options o = fr_run_options_of(opts);
	int rc;
	fr_last_run_clear(f);
	f->interrupted = 0;
	rc = run_up(f, p, NULL, &o);
	fr_event_finished(f, rc);
	return rc;
}

int fr_noop_is_clean(ferry *f, const fr_version *cur)
{
	struct ferry_plan p;
	uint64_t fp;
	/* The fingerprint a clean no-op up to cur stored: nothing pending, drifted or passed over. */
	memset(&p, 0, sizeof p);
	p.to = *cur;
	fp = noop_fingerprint(f, &p, cur);
	return fp && fp == fr_state_noop_fp(f->state);
}
