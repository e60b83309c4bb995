/*
 * record.c - what a run writes down: each step's outcome, the actions it
 * took, the registry rows (state.db's mirror) and each database's record,
 * the version, and the run's document (`up --json`, `down --json`).
 */
#include "engine.h"
#include "actions.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <stdlib.h>
#include <string.h>

int fr_outcome_add(engine *e, const char *id, const char *status, int64_t ms, const char *msg)
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
void fr_outcome_set(engine *e, const char *id, const char *status)
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
	fr_outcome_add(e, id, status, 0, NULL);
}

done_step *fr_done_add(engine *e)
{
	done_step *d;
	if (fr_grow(&e->done, &e->capdone, e->ndone + 1, sizeof *e->done))
		return NULL;
	d = &e->done[e->ndone++];
	memset(d, 0, sizeof *d);
	return d;
}

void fr_done_clear(done_step *d)
{
	fr_free(d->id);
	fr_free(d->kind);
	fr_free(d->from);
	fr_free(d->to);
	fr_free(d->checksum);
	fr_free(d->undo);
}

void fr_exec_add(engine *e, const fr_action *a, const char *status, double t0, const char *msg)
{
	if (fr_taken_add(&e->taken, &e->ntaken, &e->captaken, a, status,
	                 (int64_t)(fr_mono_ms() - t0), msg))
		e->taken_lost = 1;
}

/* The registry row of a done step, its texts pointing into d. */
static void reg_of(engine *e, const done_step *d, const char *status, const char *msg, fr_reg *r)
{
	memset(r, 0, sizeof *r);
	r->id = d->id;
	r->database = d->rdb ? (char *)d->rdb->conf->name : "";
	r->kind = d->kind;
	r->from = d->from;
	r->to = d->to;
	r->checksum = d->checksum;
	r->status = (char *)status;
	r->undo = d->undo;
	r->message = (char *)msg;
	r->applied_at_ms = d->applied_at_ms;
	r->duration_ms = d->duration_ms;
	r->run_id = e->run_id;
	r->seq = d->seq;
}

int fr_reg_write(engine *e, const done_step *d, const char *status, const char *msg)
{
	fr_reg r;
	reg_of(e, d, status, msg, &r);
	return fr_state_reg_put(e->f->state, &r);
}

/* Writes a done step's record into its database (in the open transaction, if any). */
int fr_record_put(engine *e, done_step *d)
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
	if (d->rdb->db->drv->record_put(d->rdb->db, &rec, &e->err))
		return -1;
	/* Another tool's step: its history table too, as the tool writes it (adopt.c). */
	return d->skipped ? 0 : fr_adopt_record(e, d->id, d->rdb->db, d->duration_ms);
}

/* Writes the registry rows of the committed steps not written yet, in one transaction. */
void fr_mirror(engine *e)
{
	ferry *f = e->f;
	fr_reg *rows = NULL;
	size_t i, n = 0;
	int bad;
	e->unmirrored = 0;
	for (i = 0; i < e->ndone; i++)
		n += e->done[i].committed && !e->done[i].mirrored && e->done[i].seq >= 0;
	if (n && !(rows = fr_calloc(n, sizeof *rows))) {
		fr_log(f, FERRY_LOG_WARN, NULL, "cannot update state.db: out of memory (the "
		                                "databases' records are authoritative and will be read "
		                                "again)");
		return;
	}
	n = 0;
	for (i = 0; i < e->ndone; i++) {
		done_step *d = &e->done[i];
		if (!d->committed || d->mirrored || d->seq < 0)
			continue;
		reg_of(e, d, d->skipped ? "skipped" : "applied", NULL, &rows[n++]);
		d->mirrored = 1;
	}
	fr_state_begin(f->state);
	bad = fr_state_reg_put_many(f->state, rows, n);
	if (fr_state_commit(f->state) || bad)
		fr_log(f, FERRY_LOG_WARN, NULL, "cannot update state.db: %s (the databases' records "
		                                "are authoritative and will be read again)",
		       fr_state_errmsg(f->state));
	fr_free(rows);
}

int fr_engine_record_version(engine *e, const fr_version *v)
{
	char text[FR_VERSION_STR_MAX];
	int rc;
	if (fr_version_cmp(v, &e->recorded) == 0 && strcmp(v->build, e->recorded.build) == 0)
		return 0;
	/* The registry holds every committed step before the version that counts on them. */
	if (e->unmirrored)
		fr_mirror(e);
	rc = fr_record_version(e->f, v);
	if (rc)
		return rc;
	e->recorded = *v;
	vfmt(v, text);
	fr_log(e->f, FERRY_LOG_INFO, NULL, "version %s recorded", text);
	return 0;
}

void fr_run_steps_save(engine *e)
{
	ferry *f = e->f;
	fr_run_step_row *rows = e->nout ? fr_calloc(e->nout, sizeof *rows) : NULL;
	size_t i;
	if (e->nout && !rows) {
		fr_log(f, FERRY_LOG_WARN, NULL, "cannot save the run's steps in state.db: out of memory");
		return;
	}
	for (i = 0; i < e->nout; i++) {
		rows[i].step_id = e->out[i].id;
		rows[i].status = e->out[i].status;
		rows[i].message = e->out[i].message;
		rows[i].duration_ms = e->out[i].duration_ms;
	}
	fr_state_begin(f->state);
	if (fr_state_run_steps_add(f->state, e->run_id, rows, e->nout) ||
	    fr_state_commit(f->state))
		fr_log(f, FERRY_LOG_WARN, NULL, "cannot save the run's steps in state.db: %s",
		       fr_state_errmsg(f->state));
	fr_free(rows);
}

void fr_set_result(engine *e, const char *status, const char *backup_id, json_t *extra)
{
	ferry *f = e->f;
	json_t *doc = json_object(), *steps = json_array();
	char text[FR_VERSION_STR_MAX];
	size_t i;
	json_object_set_new(doc, "run_id", e->run_id ? json_integer(e->run_id) : json_null());
	json_object_set_new(doc, "status", json_string(status));
	vfmt(&e->from, text);
	json_object_set_new(doc, "from", json_string(text));
	vfmt(&e->recorded, text);
	json_object_set_new(doc, "to", json_string(text));
	json_object_set_new(doc, "backup_id", backup_id ? json_string(backup_id) : json_null());
	if (backup_id && e->backup_reused)
		json_object_set_new(doc, "backup_reused", json_true());
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
	if (e->taken_given) {
		/* An earlier result of this run holds them: they are this one's too, first. */
		fr_taken *later = e->taken;
		size_t nlater = e->ntaken;
		e->taken = f->last_taken;
		e->ntaken = e->captaken = f->nlast_taken;
		f->last_taken = NULL;
		f->nlast_taken = 0;
		e->taken_given = 0;
		if (nlater && !fr_grow(&e->taken, &e->captaken, e->ntaken + nlater, sizeof *e->taken)) {
			memcpy(e->taken + e->ntaken, later, nlater * sizeof *later);
			e->ntaken += nlater;
		} else if (nlater) {
			fr_taken_free(later, nlater);
			e->taken_lost = 1;
		}
		fr_free(later);
	}
	if (e->executed)
		json_object_set(doc, "actions", e->executed);
	else if (e->ntaken && !e->taken_lost)
		json_object_set_new(doc, "actions", json_null()); /* its place; filled when read */
	else
		json_object_set_new(doc, "actions", json_array());
	if (e->undo_plan)
		json_object_set(doc, "undo_plan", e->undo_plan);
	if (f->errcode && f->err.len)
		json_object_set_new(doc, "error", json_string(f->err.ptr));
	if (extra)
		json_object_update(doc, extra);
	/* Its text when asked: the tool prints a summary and wants none (a 1,000-step run's is 350 kB). */
	fr_last_run_clear(f);
	f->last_run = doc;
	if (!e->executed && e->ntaken && !e->taken_lost) {
		f->last_taken = e->taken;
		f->nlast_taken = e->ntaken;
		f->last_taken_pending = 1;
		e->taken = NULL;
		e->ntaken = e->captaken = 0;
		e->taken_given = 1;
	}
}

void fr_last_run_clear(ferry *f)
{
	json_decref(f->last_run);
	f->last_run = NULL;
	fr_free(f->last_run_text);
	f->last_run_text = NULL;
	fr_taken_free(f->last_taken, f->nlast_taken);
	fr_free(f->last_taken);
	f->last_taken = NULL;
	f->nlast_taken = 0;
	f->last_taken_pending = 0;
}

json_t *fr_last_run_doc(ferry *f)
{
	if (f->last_run && f->last_taken_pending) {
		json_t *arr = json_array();
		size_t i;
		for (i = 0; arr && i < f->nlast_taken; i++)
			if (json_array_append_new(arr, fr_taken_json(&f->last_taken[i]))) {
				json_decref(arr);
				arr = NULL;
			}
		/* Replacing the placeholder keeps the key where it was. */
		if (!arr || json_object_set_new(f->last_run, "actions", arr))
			return NULL;
		f->last_taken_pending = 0; /* the list stays: a later result of the run takes it back */
	}
	return f->last_run;
}

int ferry_last_run(char **out, ferry *f)
{
	*out = NULL;
	/* No document: the failure that prevented it keeps its message. */
	if (!f->last_run)
		return FERRY_EINVALID;
	if (!f->last_run_text) {
		char *s;
		if (!fr_last_run_doc(f))
			return fr_fail(f, FERRY_EFAILED, "out of memory");
		s = json_dumps(f->last_run, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		f->last_run_text = s ? fr_strdup(s) : NULL;
		free(s);
		if (!f->last_run_text)
			return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	*out = fr_strdup(f->last_run_text);
	return *out ? 0 : fr_fail(f, FERRY_EFAILED, "out of memory");
}

int ferry_last_run_summary(char **out, ferry *f)
{
	json_t *sum, *v, *steps;
	const char *key;
	size_t i, n = 0;
	*out = NULL;
	if (!f->last_run)
		return FERRY_EINVALID;
	if (!(sum = json_object()))
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	json_object_foreach(f->last_run, key, v)
		if (!json_is_array(v) && !json_is_object(v) && strcmp(key, "actions"))
			json_object_set(sum, key, v); /* "actions" may be its placeholder, null */
	steps = json_object_get(f->last_run, "steps");
	json_array_foreach(steps, i, v) {
		const char *st = json_string_value(json_object_get(v, "status"));
		n += st && (!strcmp(st, "applied") || !strcmp(st, "rolled_back"));
	}
	json_object_set_new(sum, "changed", json_integer((json_int_t)n));
	{
		char *s = json_dumps(sum, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(sum);
		*out = s ? fr_strdup(s) : NULL;
		free(s);
	}
	return *out ? 0 : fr_fail(f, FERRY_EFAILED, "out of memory");
}

void ferry_interrupt(ferry *f)
{
	if (f)
		f->interrupted = 1;
}
