/*
 * undo.c - going back: the plan of a failed run's rollback, `down` and
 * `recover`, each made as a list of actions (rollback, undo, commit,
 * restore, version, hook) and walked like an up's plan. An applied step is
 * undone from the text its record keeps (its down, its script, the
 * recorded undo of its ops), so a newer release that changed or removed
 * the file does not stop it.
 */
#include "engine.h"
#include "actions.h"
#include "backup.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/proc.h"

#include <string.h>


static fr_action *add(struct ferry_plan *u, fr_act_kind k, const char *id, const run_db *r)
{
	return fr_plan_add(u, k, id, r ? r->conf->name : NULL);
}

/* Undoes a step inside whatever transaction is open on its database (none: at once). */
static int undo_step(engine *e, done_step *d)
{
	const fr_step_kind *k = fr_step_kind_find(d->kind);
	fr_db *db = d->rdb ? d->rdb->db : NULL;
	int rc = 0;
	e->ctx.from = d->from;
	e->ctx.to = d->to;
	e->ctx.step_id = d->id;
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
	/* Another tool's step: its history table says it is undone too, in the same transaction. */
	if (rc == 0 && db)
		rc = fr_adopt_unrecord(e, d->id, db);
	return rc;
}

/* The registry forgets the undone steps once their undo is committed. */
static void settle_undone(engine *e)
{
	ferry *f = e->f;
	size_t i;
	fr_state_begin(f->state);
	for (i = 0; i < e->ndone; i++) {
		done_step *d = &e->done[i];
		if (!d->undone)
			continue;
		fr_reg_write(e, d, "rolled_back", e->undo_why);
		d->undone = 0;
		d->seq = -1;
	}
	fr_state_commit(f->state);
}

/* Commits the open transaction of an undo; its undone steps leave the applied set. */
static int commit_undo(engine *e)
{
	if (e->tx) {
		if (e->tx->db->drv->commit(e->tx->db, &e->err))
			return FERRY_EFAILED;
		e->tx = NULL;
		e->txnum = 0;
	}
	settle_undone(e);
	return 0;
}

void fr_abort_undo(engine *e)
{
	size_t i;
	if (e->tx) {
		fr_buf ignore = FR_BUF_INIT;
		e->tx->db->drv->rollback(e->tx->db, &ignore);
		fr_buf_release(&ignore);
		e->tx = NULL;
		e->txnum = 0;
	}
	for (i = 0; i < e->ndone; i++) {
		if (e->done[i].undone) {
			e->done[i].undone = 0;
			fr_outcome_set(e, e->done[i].id, "applied");
		}
	}
}

/* The failed run's open transaction: rolled back, its steps gone with it. */
static void rollback_open(engine *e)
{
	ferry *f = e->f;
	fr_buf ignore = FR_BUF_INIT;
	size_t i;
	if (!e->tx)
		return;
	e->tx->db->drv->rollback(e->tx->db, &ignore);
	fr_buf_release(&ignore);
	e->tx = NULL;
	e->txnum = 0;
	for (i = 0; i < e->ndone; i++) {
		if (!e->done[i].committed) {
			fr_outcome_set(e, e->done[i].id, "rolled_back");
			fr_reg_write(e, &e->done[i], "rolled_back", e->undo_why);
			e->done[i].seq = -1; /* gone with the transaction */
		}
	}
	fr_log(f, FERRY_LOG_INFO, NULL, "rolled back the open transaction");
}

static int restore(engine *e, const char *id)
{
	ferry *f = e->f;
	size_t i;
	fr_log(f, FERRY_LOG_INFO, NULL, "restoring backup %s: %s", id, e->undo_why);
	if (fr_backup_restore(f, id, 0)) {
		fr_buf_printf(&e->err, "restoring backup '%s' failed: %s", id, ferry_errmsg(f));
		return FERRY_EUNRECOVERED;
	}
	for (i = e->floor; i < e->ndone; i++) {
		done_step *d = &e->done[i];
		if (!d->committed || d->seq < 0)
			continue;
		fr_outcome_set(e, d->id, "rolled_back");
		fr_reg_write(e, d, "rolled_back", "restored from the backup taken before it");
		d->seq = -1;
	}
	fr_log(f, FERRY_LOG_INFO, NULL, "restored backup %s", id);
	return 0;
}

/*
 * The rollback of a failed up: the open transaction rolled back; the
 * service stopped when the run had brought the new version up; the
 * committed steps (after the last checkpoint) undone newest first, each in
 * a transaction of its own; or, when one of them cannot be undone, the
 * backup taken before them restored; the version they started from
 * recorded; the service started again, and checked, when the run had
 * stopped or started it. Without such a backup, *blocked is the step
 * that cannot be undone, and the undos stop above it.
 */
int fr_plan_rollback(engine *e, struct ferry_plan *u, int hooks_on, const done_step **blocked)
{
	const fr_config *c = e->f->cfg;
	const done_step *irrev = NULL;
	fr_action *a;
	size_t i;
	int tx = 0, up_new = e->touched, was_stopped = e->stopped;
	*blocked = NULL;
	if (e->tx) {
		if (!(a = add(u, FR_ACT_ROLLBACK, NULL, e->tx)))
			return -1;
		a->tx = e->txnum;
	}
	if (hooks_on && up_new && c->hook_stop && !add(u, FR_ACT_HOOK, "stop", NULL))
		return -1;
	for (i = e->ndone; i-- > e->floor && !irrev;) {
		const done_step *d = &e->done[i];
		if (d->committed && d->seq >= 0 && !d->skipped && !d->undo)
			irrev = d;
	}
	if (irrev && e->restore_id) {
		if (!add(u, FR_ACT_RESTORE, e->restore_id, NULL))
			return -1;
	} else {
		for (i = e->ndone; i-- > e->floor;) {
			const done_step *d = &e->done[i];
			if (!d->committed || d->seq < 0)
				continue;
			if (d == irrev)
				break;
			if (!(a = add(u, FR_ACT_UNDO, d->id, d->rdb)))
				return -1;
			a->done = i;
			a->reversible = 1;
			if (d->rdb && d->transactional) {
				a->tx = ++tx;
				if (!(a = add(u, FR_ACT_COMMIT, NULL, d->rdb)))
					return -1;
				a->tx = tx;
			}
		}
		*blocked = irrev;
	}
	if (fr_version_cmp(&e->floor_version, &e->recorded) ||
	    strcmp(e->floor_version.build, e->recorded.build)) {
		if (!(a = add(u, FR_ACT_VERSION, NULL, NULL)))
			return -1;
		a->version = e->floor_version;
	}
	if (hooks_on && c->hook_start && (was_stopped || up_new)) {
		if (!add(u, FR_ACT_HOOK, "start", NULL))
			return -1;
		if (up_new && c->hook_health && !add(u, FR_ACT_HOOK, "health", NULL))
			return -1;
	}
	return 0;
}

/*
 * The plan of undoing e->done (down, recover): newest first, consecutive
 * steps of one database in one transaction (one per step with
 * `transaction: step`), then target recorded.
 */
static int plan_undo_all(engine *e, struct ferry_plan *u, const fr_version *target)
{
	run_db *open = NULL;
	fr_action *a;
	size_t i = e->ndone;
	int tx = 0;
	while (i--) {
		const done_step *d = &e->done[i];
		if (open && (open != d->rdb || !d->transactional)) {
			if (!(a = add(u, FR_ACT_COMMIT, NULL, open)))
				return -1;
			a->tx = tx;
			open = NULL;
		}
		if (d->rdb && d->transactional && !open) {
			open = d->rdb;
			tx++;
		}
		if (!(a = add(u, FR_ACT_UNDO, d->id, d->rdb)))
			return -1;
		a->done = i;
		a->reversible = d->skipped || d->undo != NULL;
		a->tx = d->rdb && d->transactional ? tx : 0;
		if (open && e->f->cfg->tx_per_step) {
			if (!(a = add(u, FR_ACT_COMMIT, NULL, open)))
				return -1;
			a->tx = tx;
			open = NULL;
		}
	}
	if (open) {
		if (!(a = add(u, FR_ACT_COMMIT, NULL, open)))
			return -1;
		a->tx = tx;
	}
	if (fr_version_cmp(target, &e->recorded) || strcmp(target->build, e->recorded.build)) {
		if (!(a = add(u, FR_ACT_VERSION, NULL, NULL)))
			return -1;
		a->version = *target;
	}
	return 0;
}

/* The failed undo's message, as a rollback reports it. */
static void undo_failed(engine *e, const done_step *d, int rollback)
{
	fr_buf msg = FR_BUF_INIT;
	if (rollback)
		fr_buf_printf(&msg, "undo of '%s' failed: %s. The installation is left part-way; fix "
		              "the step's down and run 'ferry recover' or restore a backup", d->id,
		              e->err.ptr);
	else
		fr_buf_puts(&msg, e->err.ptr);
	fr_buf_reset(&e->err);
	fr_buf_puts(&e->err, msg.ptr);
	fr_buf_release(&msg);
}

static int plan_restores(const struct ferry_plan *u)
{
	size_t i;
	for (i = 0; i < u->nacts; i++)
		if (u->acts[i].kind == FR_ACT_RESTORE)
			return 1;
	return 0;
}

/*
 * Walks an undo plan. A down (check_stop) stops between actions at an
 * interrupt and at the first failure. A rollback (!check_stop) runs to the
 * end: when an undo fails, the backup taken before the run (if any) is
 * restored in place of the remaining undos, and the version record and the
 * hooks after them still run. One function, as walk() in run.c: one case
 * per kind of action reads as the list it executes.
 */
int fr_walk_undo(engine *e, const struct ferry_plan *u, int check_stop)
{
	ferry *f = e->f;
	size_t i;
	int rc = 0, skip = 0;
	for (i = 0; i < u->nacts; i++) {
		const fr_action *a = &u->acts[i];
		double t0 = fr_mono_ms();
		const char *st = "done";
		int r = 0;
		if (skip && a->kind != FR_ACT_VERSION && a->kind != FR_ACT_HOOK)
			continue;
		if (check_stop && f->interrupted && (a->kind == FR_ACT_UNDO || a->kind == FR_ACT_COMMIT)) {
			rc = FERRY_EINTERRUPTED;
			break;
		}
		switch (a->kind) {
		case FR_ACT_ROLLBACK:
			rollback_open(e);
			break;
		case FR_ACT_HOOK: {
			fr_buf keep = FR_BUF_INIT;
			fr_buf_puts(&keep, e->err.ptr);
			/* A hook of a rollback that fails is reported, and the rollback goes on. */
			if (fr_engine_hook(e, a->id)) {
				fr_log(f, FERRY_LOG_ERROR, NULL, "hook '%s' after the rollback failed: %s",
				       a->id, e->err.ptr);
				st = "failed";
			}
			fr_buf_reset(&e->err);
			fr_buf_puts(&e->err, keep.ptr);
			fr_buf_release(&keep);
			break;
		}
		case FR_ACT_UNDO: {
			done_step *d = &e->done[a->done];
			fr_buf_reset(&e->err);
			if (d->rdb && fr_engine_open_db(e, d->rdb)) {
				r = FERRY_EFAILED;
				break;
			}
			if (a->tx && !e->tx) {
				if (d->rdb->db->drv->begin(d->rdb->db, &e->err)) {
					r = FERRY_EFAILED;
					break;
				}
				e->tx = d->rdb;
				e->txnum = a->tx;
			}
			fr_log(f, FERRY_LOG_INFO, d->id, "undoing");
			fr_log_flush(f);
			if (undo_step(e, d)) {
				fr_outcome_add(e, d->id, "failed", 0, e->err.ptr);
				undo_failed(e, d, !check_stop);
				r = FERRY_EFAILED;
				break;
			}
			d->undone = 1;
			fr_outcome_set(e, d->id, "rolled_back");
			fr_log(f, FERRY_LOG_INFO, d->id, "undone");
			if (!a->tx)
				settle_undone(e);
			st = "undone";
			break;
		}
		case FR_ACT_COMMIT:
			r = commit_undo(e);
			break;
		case FR_ACT_RESTORE:
			r = restore(e, a->id);
			st = r ? "failed" : "restored";
			break;
		case FR_ACT_VERSION:
			if ((r = fr_engine_record_version(e, &a->version))) {
				fr_buf_reset(&e->err);
				fr_buf_puts(&e->err, ferry_errmsg(f));
			}
			break;
		default:
			fr_buf_printf(&e->err, "an undo plan has no '%s' action", fr_act_name(a->kind));
			r = FERRY_EFAILED;
		}
		fr_exec_add(e, a, r ? "failed" : st, t0, r ? e->err.ptr : NULL);
		fr_crash_point("undo");
		if (!r)
			continue;
		fr_abort_undo(e);
		skip = 1;
		if (check_stop) {
			rc = r;
			break;
		}
		/* A rollback whose undo fails restores the backup taken before the run instead. */
		if (a->kind == FR_ACT_UNDO && e->restore_id && !plan_restores(u)) {
			fr_action ra;
			fr_buf why = FR_BUF_INIT;
			memset(&ra, 0, sizeof ra);
			ra.kind = FR_ACT_RESTORE;
			ra.id = e->restore_id;
			fr_buf_puts(&why, e->err.ptr);
			t0 = fr_mono_ms();
			fr_buf_reset(&e->err);
			if (restore(e, e->restore_id)) {
				fr_buf msg = FR_BUF_INIT;
				fr_buf_printf(&msg, "%s; %s", why.ptr, e->err.ptr);
				fr_buf_reset(&e->err);
				fr_buf_puts(&e->err, msg.ptr);
				fr_buf_release(&msg);
				fr_exec_add(e, &ra, "failed", t0, e->err.ptr);
				rc = FERRY_EUNRECOVERED;
			} else {
				fr_exec_add(e, &ra, "restored", t0, NULL);
			}
			fr_buf_release(&why);
			continue;
		}
		if (!rc)
			rc = FERRY_EUNRECOVERED;
	}
	return rc;
}

/* ---- down and recover ---- */

/* Loads registry rows into done steps to undo, in the order they were applied. */
static int load_undo(engine *e, const fr_reg *regs, size_t nregs,
                     int (*want)(const fr_reg *r, const void *arg), const void *arg)
{
	size_t i;
	for (i = 0; i < nregs; i++) {
		const fr_reg *g = &regs[i];
		done_step *d;
		const fr_step_kind *k;
		if (!fr_reg_applied(g->status) || !want(g, arg))
			continue;
		d = fr_done_add(e);
		if (!d)
			return -1;
		d->id = fr_strdup(g->id);
		d->kind = fr_strdup(g->kind);
		d->from = fr_strdup(g->from);
		d->to = fr_strdup(g->to);
		d->checksum = fr_strdup(g->checksum);
		d->undo = g->undo && *g->undo ? fr_strdup(g->undo) : NULL;
		d->rdb = *g->database ? fr_engine_db(e, g->database) : NULL;
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

/* Makes the plan of undoing e->done down to target, keeps it in the document, walks it. */
static int undo_done(engine *e, const fr_version *target)
{
	struct ferry_plan *u = fr_calloc(1, sizeof *u);
	int rc;
	if (!u || plan_undo_all(e, u, target)) {
		fr_plan_free(u);
		fr_buf_puts(&e->err, "out of memory while planning the undo");
		return FERRY_EFAILED;
	}
	json_decref(e->undo_plan);
	e->undo_plan = fr_actions_json(u->acts, u->nacts);
	rc = fr_walk_undo(e, u, 1);
	fr_plan_free(u);
	return rc;
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
		int code = rc == FERRY_EINTERRUPTED ? rc : FERRY_EFAILED;
		fr_abort_undo(e);
		for (i = 0; i < e->ndone; i++)
			any_done |= e->done[i].seq < 0;
		/* recover's version moves only with what was undone (the run stays interrupted) */
		if (any_done || !e->keep_target) {
			version_left(e, target, &left);
			fr_engine_record_version(e, &left);
		} else {
			left = e->recorded;
		}
		vfmt(&left, text);
		fr_buf_puts(&why, rc == FERRY_EINTERRUPTED ? "interrupted by a signal" : e->err.ptr);
		if (e->keep_target)
			/*
			 * recover: the interrupted run stays interrupted, for the next
			 * recover to finish; not "rolled back" with its steps applied.
			 */
			rc = fr_fail(f, any_done ? FERRY_EUNRECOVERED : code,
			             "%s\n%s; the installation is recorded at '%s' with the steps 'ferry "
			             "list' shows as applied, and run %lld is still interrupted: fix the "
			             "cause and run 'ferry recover' again",
			             why.ptr, any_done ? "the rollback stopped part-way" : "nothing was undone",
			             text, (long long)e->run_id);
		else if (any_done)
			rc = fr_fail(f, FERRY_EUNRECOVERED,
			             "%s\nthe down run stopped part-way; the installation is recorded at "
			             "'%s' with the steps 'ferry list' shows as applied; fix the cause and "
			             "run 'ferry down' again",
			             why.ptr, text);
		else
			rc = fr_fail(f, code, "%s\nnothing was undone; the installation is at '%s' as before",
			             why.ptr, text);
		if (!e->keep_target)
			fr_state_run_end(f->state, e->run_id, any_done ? "failed" : "rolled_back", text,
			                 why.ptr);
		fr_buf_release(&why);
	} else {
		fr_engine_record_version(e, target);
		vfmt(target, text);
		fr_state_run_end(f->state, e->run_id, "success", e->keep_target ? NULL : text, ok_msg);
		fr_ok(f);
	}
	fr_run_steps_save(e);
	fr_set_result(e, rc == 0 ? "success" : rc == FERRY_EUNRECOVERED ? "failed" : "rolled_back",
	              NULL, NULL);
	return rc;
}

/* Lock, refuse after an interrupted run (unless recovering), reconcile. */
static int undo_prologue(engine *e, int wait, int recovering, fr_reg **regs, size_t *nregs)
{
	ferry *f = e->f;
	int rc;
	if ((rc = fr_engine_lock(e, wait, recovering)))
		return rc;
	if (fr_state_registry(f->state, regs, nregs))
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	if ((rc = fr_engine_reconcile(e, regs, nregs)))
		return rc;
	/* A failed mark does not stop going back: only what it leaves to undo counts. */
	return fr_engine_adopt(e, regs, nregs, 0);
}

/*
 * The newest backup taken at a version below v, as "backup 'ID' (taken at
 * X)", for a message pointing at what can still bring an installation back.
 */
static void newest_backup_below(ferry *f, const char *v, fr_buf *out)
{
	fr_backup_row *rows = NULL;
	fr_version lim, bv, best_v;
	size_t i, n = 0, best = (size_t)-1;
	if (fr_version_parse(&lim, v, NULL) || fr_state_backups(f->state, &rows, &n))
		return;
	for (i = 0; i < n; i++) {
		if (!rows[i].version || fr_version_parse(&bv, rows[i].version, NULL) ||
		    fr_version_cmp(&bv, &lim) >= 0)
			continue;
		if (best == (size_t)-1 || rows[i].created_at_ms > rows[best].created_at_ms) {
			best = i;
			best_v = bv;
		}
	}
	if (best != (size_t)-1) {
		char t[FR_VERSION_STR_MAX];
		fr_version_format(&best_v, t, sizeof t);
		fr_buf_printf(out, "backup '%s' (taken at %s)", rows[best].id, t);
	}
	fr_backup_rows_free(rows, n);
}

/*
 * Refuses, before anything changes, an undo that would reach a step it
 * cannot undo: the first such step the undo reaches (the newest), with
 * the newest backup taken before its version when there is one.
 */
static int check_reversible(engine *e, const char *what)
{
	size_t i = e->ndone;
	while (i--) {
		done_step *d = &e->done[i];
		const fr_step_kind *k = fr_step_kind_find(d->kind);
		fr_buf why = FR_BUF_INIT, bk = FR_BUF_INIT;
		int rc;
		if (d->skipped)
			continue;
		if (d->undo && !(k && k->can_undo && !k->can_undo(&e->ctx, d->id, d->undo)))
			continue;
		if (!d->undo)
			fr_buf_printf(&why, "step '%s' has no down section (irreversible)", d->id);
		else
			fr_buf_puts(&why, e->err.ptr);
		newest_backup_below(e->f, d->to, &bk);
		if (bk.len)
			rc = fr_fail(e->f, FERRY_EFAILED, "cannot %s: %s; nothing was changed; restore %s "
			             "instead ('ferry backup restore ID')", what, why.ptr, bk.ptr);
		else
			rc = fr_fail(e->f, FERRY_EFAILED, "cannot %s: %s; nothing was changed; restore a "
			             "backup taken before version '%s' instead", what, why.ptr, d->to);
		fr_buf_reset(&e->err);
		fr_buf_release(&why);
		fr_buf_release(&bk);
		return rc;
	}
	return 0;
}

static int down_dry_run(engine *e, const fr_version *tgt)
{
	struct ferry_plan *u = fr_calloc(1, sizeof *u);
	json_t *extra = json_object(), *steps = json_array();
	size_t i = e->ndone;
	int rc = 0;
	while (i--) {
		json_t *so = json_object();
		const fr_step_kind *k = fr_step_kind_find(e->done[i].kind);
		fr_buf shown = FR_BUF_INIT;
		/* A kind whose undo record holds values (ops: what a .env said) describes it. */
		if (e->done[i].undo && k && k->describe_undo)
			k->describe_undo(e->done[i].undo, &shown);
		json_object_set_new(so, "id", json_string(e->done[i].id));
		json_object_set_new(so, "statements",
		                    shown.len ? json_string(shown.ptr) :
		                    e->done[i].undo ? json_string(e->done[i].undo) : json_null());
		fr_buf_release(&shown);
		json_array_append_new(steps, so);
		fr_outcome_add(e, e->done[i].id, "pending", 0, NULL);
	}
	if (!u || plan_undo_all(e, u, tgt))
		rc = fr_fail(e->f, FERRY_EFAILED, "out of memory");
	else
		e->executed = fr_actions_json(u->acts, u->nacts);
	json_object_set_new(extra, "dry_run_steps", steps);
	e->recorded = *tgt;
	fr_set_result(e, "dry_run", NULL, extra);
	json_decref(extra);
	fr_plan_free(u);
	if (!rc)
		fr_ok(e->f);
	return rc;
}

int ferry_down(ferry *f, const char *target, const ferry_run_options *opts)
{
	ferry_run_options oo = fr_run_options_of(opts);
	const ferry_run_options *o = &oo;
	engine e;
	fr_version tgt;
	fr_reg *regs = NULL;
	size_t nregs = 0;
	char fromtext[FR_VERSION_STR_MAX], totext[FR_VERSION_STR_MAX];
	int rc, w;
	fr_last_run_clear(f);
	f->interrupted = 0;
	if ((rc = fr_engine_init(&e, f, o)))
		return rc;
	e.undo_why = "undone by a down run";
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
		rc = down_dry_run(&e, &tgt);
		goto done;
	}
	if (!e.ndone && fr_version_cmp(&tgt, &e.from) == 0) {
		fr_set_result(&e, "noop", NULL, NULL);
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
	rc = undo_done(&e, &tgt);
	rc = finish_undo_run(&e, rc, &tgt, NULL);
done:
	fr_lock_release(&f->lock);
	/* Refused before it began (lock, drift, bad input): nothing was changed. */
	if (rc && !f->last_run)
		fr_set_result(&e, e.run_id ? "failed" : "refused", NULL, NULL);
	fr_regs_free(regs, nregs);
	fr_engine_free(&e);
	return rc;
}

/* 1 when registry row id says the step is applied: its forward finished. */
static int applied_in(const fr_reg *regs, size_t nregs, const char *id)
{
	size_t i;
	for (i = 0; i < nregs; i++)
		if (!strcmp(regs[i].id, id))
			return fr_reg_applied(regs[i].status);
	return 0;
}

int fr_recover_journal(engine *e, const fr_reg *regs, size_t nregs)
{
	ferry *f = e->f;
	fr_journal_row *rows = NULL;
	size_t n = 0, i;
	int swept, rc = 0;
	char boot[64];
	if (fr_state_journal(f->state, &rows, &n))
		return fr_fail(f, FERRY_EUNRECOVERED, "cannot read the crash journal: %s",
		               fr_state_errmsg(f->state));
	/* First no child of the dead run may still be changing things. */
	fr_boot_id(boot);
	for (i = 0; i < n; i++) {
		/* A group of another boot died with the machine; its number may be another's now. */
		if (!rows[i].pgid || strcmp(rows[i].boot, boot))
			continue;
		if (fr_proc_group_gone((pid_t)rows[i].pgid, 5000)) {
			rc = fr_fail(f, FERRY_EUNRECOVERED,
			             "process group %lld of '%s' (run %lld) still runs after SIGKILL; "
			             "stop it, then run 'ferry recover' again", (long long)rows[i].pgid,
			             rows[i].what, (long long)rows[i].run_id);
			goto done;
		}
		fr_log(f, FERRY_LOG_INFO, NULL, "process group %lld of '%s' is gone",
		       (long long)rows[i].pgid, rows[i].what);
	}
	/* Then each forward that did not finish is undone (newest first), from its journal. */
	i = n;
	while (i--) {
		fr_journal_row *j = &rows[i];
		const fr_step_kind *k = *j->kind ? fr_step_kind_find(j->kind) : NULL;
		if (k && *j->undo && !applied_in(regs, nregs, j->what)) {
			fr_log(f, FERRY_LOG_INFO, j->what, "undoing a forward cut short (from the journal)");
			fr_buf_reset(&e->err);
			e->ctx.step_id = j->what;
			if (k->undo(&e->ctx, j->what, *j->db ? j->db : NULL, j->undo)) {
				/*
				 * Said once, then forgotten: an undo that cannot run (the
				 * forward had not begun, say) must not block every later
				 * recovery.
				 */
				rc = fr_fail(f, FERRY_EUNRECOVERED, "cannot undo the half-done step '%s': %s; "
				             "undo what it did by hand, then run 'ferry recover' again",
				             j->what, e->err.ptr);
				e->ctx.step_id = NULL;
				fr_state_journal_drop(f->state, j->id);
				goto done;
			}
			e->ctx.step_id = NULL;
		}
		fr_state_journal_drop(f->state, j->id);
	}
	/* The version file follows the record; a crash between the two left it behind. */
	if (f->cfg->version_file) {
		fr_version cur;
		if ((rc = fr_current(f, &cur)) || (rc = fr_record_version(f, &cur))) {
			rc = FERRY_EUNRECOVERED;
			goto done;
		}
	}
	swept = fr_sweep_tmp(f->root, 8);
	if (swept)
		fr_log(f, FERRY_LOG_INFO, NULL, "removed %d temporary file%s of ferry's", swept,
		       swept == 1 ? "" : "s");
done:
	fr_journal_rows_free(rows, n);
	return rc;
}

/*
 * recover --resume: the run may have committed a transition's last steps
 * and died before recording its version. The version moves up over each
 * transition of the path whose steps are all applied, so that the record
 * and the data agree (the version file follows the record).
 */
static void resume_version(engine *e, const char *run_to)
{
	ferry *f = e->f;
	ferry_plan *p = NULL;
	fr_reg *regs = NULL;
	fr_version cur, v;
	size_t nregs = 0, i, k;
	if (fr_plan_new(&p, f, run_to, &cur) || fr_state_registry(f->state, &regs, &nregs))
		goto done;
	v = cur;
	for (i = 0; i < p->ntrs; i++) {
		const fr_transition *t = p->trs[i];
		for (k = 0; k < t->nsteps && applied_in(regs, nregs, t->steps[k]->id); k++)
			;
		if (k < t->nsteps || !t->nsteps)
			break;
		v = t->to;
	}
	if (fr_version_cmp(&v, &cur) > 0 && fr_engine_record_version(e, &v) == 0) {
		char text[FR_VERSION_STR_MAX];
		vfmt(&v, text);
		fr_log(f, FERRY_LOG_INFO, NULL, "the run had applied every step up to %s: recorded",
		       text);
	}
done:
	fr_regs_free(regs, nregs);
	ferry_plan_free(p);
	fr_buf_reset(&f->err);
}

static int want_run(const fr_reg *r, const void *arg)
{
	return r->run_id == *(const int64_t *)arg;
}

int ferry_recover(ferry *f, int resume)
{
	static const ferry_run_options defaults = FERRY_RUN_OPTIONS_INIT;
	engine e;
	fr_reg *regs = NULL;
	fr_run_row run;
	fr_version from;
	size_t nregs = 0;
	int rc, found = 0, w;
	memset(&run, 0, sizeof run);
	fr_last_run_clear(f);
	f->interrupted = 0;
	if ((rc = fr_engine_init(&e, f, &defaults)))
		return rc;
	e.undo_why = "undone by a down run";
	if ((rc = undo_prologue(&e, 0, 1, &regs, &nregs)))
		goto done;
	if ((rc = fr_recover_journal(&e, regs, nregs)))
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
		fr_set_result(&e, "noop", NULL, NULL);
		goto done;
	}
	e.run_id = run.id;
	if (resume) {
		resume_version(&e, run.to);
		fr_state_run_end(f->state, run.id, "interrupted", NULL,
		                 "kept what it applied ('ferry recover --resume')");
		fr_log(f, FERRY_LOG_INFO, NULL, "run %lld marked interrupted; its applied steps stay",
		       (long long)run.id);
		fr_set_result(&e, "success", NULL, NULL);
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
	rc = undo_done(&e, &from);
	/* The interrupted run keeps its target in history: what it set out to do. */
	e.keep_target = 1;
	rc = finish_undo_run(&e, rc, &from, "rolled back by 'ferry recover'");
	if (rc == 0)
		fr_state_run_end(f->state, run.id, "rolled_back", NULL,
		                 "rolled back by 'ferry recover'");
done:
	fr_log_flush(f);
	fr_lock_release(&f->lock);
	fr_run_row_clear(&run);
	fr_regs_free(regs, nregs);
	fr_engine_free(&e);
	return rc;
}
