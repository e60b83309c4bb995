/*
 * adopt.c - other tools' history tables as the truth for their folders'
 * steps (SPEC section 3; the tables themselves are lib/history/'s).
 *
 * Read: what a tool's table lists as applied is adopted into the registry
 * (status "adopted", never run again); what it marks failed or dirty stops
 * a run; what it no longer lists although ferry applied it (the old tool
 * rolled it back meanwhile) is pending again, since for its folder the
 * tool's table is the truth. Where the tool keeps a checksum (Flyway's
 * CRC-32, sqlx's SHA-384) and the file no longer gives it, the adopted row
 * keeps the tool's checksum, so that ferry's drift check reports the file.
 *
 * Write: when ferry applies or undoes such a step, the tool's row is
 * written in the same transaction as the step and ferry's own record, as
 * the tool would write it, so the tool's `status` tells the truth and the
 * team can go back to it.
 */
#include "engine.h"
#include "history/history.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <string.h>

/* The database a foreign step runs on: its source's, or the default one. */
static const char *foreign_db(const ferry *f, const fr_step *s)
{
	if (s->source_db)
		return s->source_db;
	return f->cfg->ndbs ? f->cfg->dbs[0].name : NULL;
}

/*
 * The tool of foreign step i when it is the first step of its (tool,
 * database) pair, with that database in *db; NULL for every later step of
 * the pair: each tool's table of each database is read once.
 */
static const fr_history_tool *first_of_pair(const ferry *f, const fr_catalog *c, size_t i,
                                            const char **db)
{
	const fr_step *s = c->foreign[i];
	size_t j;
	*db = foreign_db(f, s);
	if (!*db)
		return NULL;
	for (j = 0; j < i; j++)
		if (!strcmp(c->foreign[j]->layout, s->layout) &&
		    !strcmp(foreign_db(f, c->foreign[j]), *db))
			return NULL;
	return fr_history_tool_find(s->layout);
}

static const char *base_name(const char *path)
{
	const char *b = path ? strrchr(path, '/') : NULL;
	return b ? b + 1 : path;
}

/* The step of the same source just before s in the tool's order (golang-migrate's undo). */
static const fr_step *prev_in_chain(const fr_catalog *c, const fr_step *s)
{
	const fr_step *best = NULL;
	size_t i;
	for (i = 0; i < c->nforeign; i++) {
		const fr_step *o = c->foreign[i];
		if (o->source != s->source || o->repeatable || o->chain >= s->chain)
			continue;
		if (!best || o->chain > best->chain)
			best = o;
	}
	return best;
}

/*
 * The catalog, where other tools' steps are known: `down` and `recover`
 * work from the records and may not have loaded it. One that does not load
 * leaves the tools' tables as they are, with a warning: going back from the
 * records must still work when a newer release broke the folder.
 */
static const fr_catalog *catalog_of(engine *e)
{
	ferry *f = e->f;
	fr_buf saved;
	int code;
	if (f->cat)
		return f->cat;
	saved = f->err;
	code = f->errcode;
	fr_buf_init(&f->err);
	if (fr_load_catalog(f))
		fr_log(f, FERRY_LOG_WARN, NULL, "other tools' history tables are left as they are: "
		       "%s", f->err.ptr);
	fr_buf_release(&f->err);
	f->err = saved;
	f->errcode = code;
	return f->cat;
}

/* Writes one registry row for a foreign step: adopted, or pending again. */
static int put_row(engine *e, fr_step *s, const char *db, const char *status,
                   const char *checksum, const char *msg)
{
	ferry *f = e->f;
	char from[FR_VERSION_STR_MAX], to[FR_VERSION_STR_MAX];
	fr_buf undo = FR_BUF_INIT;
	fr_reg n;
	int rc;
	if (fr_step_load(s, &e->err))
		return -1;
	if (s->kind->undo_text(s, &undo) || undo.oom) {
		fr_buf_release(&undo);
		fr_buf_puts(&e->err, "out of memory");
		return -1;
	}
	fr_vpattern_format(&s->tr->from, from, sizeof from);
	fr_version_format(&s->tr->to, to, sizeof to);
	memset(&n, 0, sizeof n);
	n.id = s->id;
	n.database = (char *)db;
	n.kind = (char *)s->kind->name;
	n.from = from;
	n.to = to;
	n.checksum = (char *)checksum;
	n.status = (char *)status;
	n.undo = undo.len ? undo.ptr : NULL;
	n.message = (char *)msg;
	n.applied_at_ms = fr_now_ms();
	n.seq = fr_state_next_seq(f->state);
	rc = fr_state_reg_put(f->state, &n);
	fr_buf_release(&undo);
	if (rc)
		fr_buf_printf(&e->err, "cannot write state: %s", fr_state_errmsg(f->state));
	return rc ? -1 : 0;
}

/*
 * The tool's checksum of the step's file, compared with stored: 1 when they
 * differ (the file changed since the tool applied it), 0 when they agree or
 * the tool keeps none.
 */
static int tool_drift(engine *e, const fr_history_tool *t, const fr_step *s, const char *stored,
                      int *differs)
{
	fr_buf text = FR_BUF_INIT, sum = FR_BUF_INIT;
	int rc = 0;
	*differs = 0;
	if (!stored)
		return 0;
	if (fr_read_file(s->path, &text)) {
		fr_buf_printf(&e->err, "%s: cannot read '%s'", s->id, s->rel);
		rc = -1;
	} else if (t->checksum(text.ptr ? text.ptr : "", text.len, &sum, &e->err)) {
		rc = -1;
	} else {
		*differs = sum.len && strcmp(sum.ptr, stored) != 0;
	}
	fr_buf_release(&text);
	fr_buf_release(&sum);
	return rc;
}

/* One database and one tool: the steps of that tool's folders on it, against its table. */
static int adopt_one(engine *e, run_db *r, const char *db, const fr_history_tool *t,
                     fr_reg **idx, size_t nregs, int locked, fr_buf *failed, int *changed)
{
	ferry *f = e->f;
	const fr_catalog *c = f->cat; /* loaded by fr_engine_adopt */
	fr_history h = FR_HISTORY_INIT;
	fr_buf msg = FR_BUF_INIT, ck = FR_BUF_INIT;
	size_t i;
	int rc = -1, yes = 0;

	if (fr_engine_open_db(e, r))
		return -1;
	if (t->present(r->db, &yes, &e->err) || (yes && t->read(r->db, &h, &e->err)))
		goto done;
	fr_history_sort(&h); /* each step is looked up in it */
	if (h.upto_failed)
		fr_buf_printf(failed, "  %s in database '%s' is dirty at version %s: fix the database "
		              "by hand, then force the version with the tool (migrate force V)\n",
		              t->table, db, h.upto ? h.upto : "0");
	for (i = 0; i < c->nforeign; i++) {
		fr_step *s = c->foreign[i];
		const fr_reg *g;
		const char *stored = NULL;
		int st, differs = 0;
		if (strcmp(s->layout, t->name) || strcmp(foreign_db(f, s), db))
			continue;
		st = fr_history_state(&h, s->repeatable ? NULL : s->tool_version, s->tool_name,
		                      &stored);
		g = fr_reg_lookup(idx, nregs, s->id);
		if (st == FR_HISTORY_FAILED) {
			fr_buf_printf(failed, "  %s: marked failed in %s: undo what it did by hand, "
			              "remove its row from %s, then run again\n", s->rel, t->table,
			              t->table);
			continue;
		}
		if (st == FR_HISTORY_APPLIED && (!g || !fr_reg_applied(g->status))) {
			if (tool_drift(e, t, s, stored, &differs))
				goto done;
			/* A repeatable one the tool ran at another checksum runs again. */
			if (differs && s->repeatable)
				continue;
			if (fr_state_checksum(f->state, s)) {
				fr_buf_printf(&e->err, "%s: cannot read '%s'", s->id, s->rel);
				goto done;
			}
			/* A file changed since the tool applied it keeps the tool's sum: drift. */
			fr_buf_reset(&ck);
			if (differs)
				fr_buf_printf(&ck, "%s:%s", t->name, stored);
			else
				fr_buf_puts(&ck, s->checksum);
			fr_buf_reset(&msg);
			fr_buf_printf(&msg, "applied by %s (%s)", t->name, t->table);
			if (ck.oom || msg.oom ||
			    put_row(e, s, db, "adopted", ck.ptr, msg.ptr))
				goto done;
			*changed = 1;
		} else if (st == FR_HISTORY_PENDING && g && fr_reg_applied(g->status)) {
			fr_buf_reset(&msg);
			fr_buf_printf(&msg, "not in %s: undone with %s since", t->table, t->name);
			if (msg.oom || put_row(e, s, db, "rolled_back", g->checksum, msg.ptr))
				goto done;
			/* Under the lock, ferry's own record follows the tool's table. */
			if (locked && r->db->drv->record_delete(r->db, s->id, &e->err))
				goto done;
			/* Said by the run that finds it; a look (status, list) shows it as a state. */
			if (locked)
				fr_log(f, FERRY_LOG_WARN, s->id, "%s no longer lists %s: pending again",
				       t->table, s->id);
			*changed = 1;
		}
	}
	rc = 0;
done:
	fr_history_clear(&h);
	fr_buf_release(&msg);
	fr_buf_release(&ck);
	return rc;
}

int fr_engine_adopt(engine *e, fr_reg **regs, size_t *nregs, int locked)
{
	ferry *f = e->f;
	const fr_catalog *c = catalog_of(e);
	fr_buf failed = FR_BUF_INIT;
	fr_reg **idx;
	size_t i;
	int rc = 0, changed = 0;

	if (!c || !c->nforeign)
		return 0;
	if (!(idx = fr_reg_index(*regs, *nregs)))
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	fr_buf_reset(&e->err);
	fr_state_begin(f->state);
	for (i = 0; i < c->nforeign && !rc; i++) {
		const char *db;
		const fr_history_tool *t = first_of_pair(f, c, i, &db);
		run_db *r;
		if (!t)
			continue;
		if (!(r = fr_engine_db(e, db)) || !fr_db_exists(r->conf))
			continue; /* a database not made yet holds no table */
		if (adopt_one(e, r, db, t, idx, *nregs, locked, &failed, &changed))
			rc = fr_fail_msg(f, FERRY_EFAILED, e->err.ptr);
	}
	if (fr_state_commit(f->state) && !rc)
		rc = fr_fail(f, FERRY_EFAILED, "cannot write state: %s", fr_state_errmsg(f->state));
	fr_free(idx);
	if (!rc && failed.len && locked)
		rc = fr_fail(f, FERRY_EVERIFY, "another tool's history marks a migration failed; "
		             "nothing was changed:\n%s", failed.ptr);
	fr_buf_release(&failed);
	if (!rc && changed) {
		fr_regs_free(*regs, *nregs);
		*regs = NULL;
		*nregs = 0;
		if (fr_state_registry(f->state, regs, nregs))
			rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s",
			             fr_state_errmsg(f->state));
	}
	return rc;
}

/* The history entry of a foreign step; the texts read into up and down. */
static int entry_of(engine *e, const fr_step *s, int64_t ms, fr_buf *up, fr_buf *down,
                    fr_history_entry *en)
{
	const fr_step *prev = prev_in_chain(e->f->cat, s);
	memset(en, 0, sizeof *en);
	if (fr_read_file(s->path, up)) {
		fr_buf_printf(&e->err, "%s: cannot read '%s'", s->id, s->rel);
		return -1;
	}
	if (s->down_path && fr_read_file(s->down_path, down)) {
		fr_buf_printf(&e->err, "%s: cannot read '%s'", s->id, s->down_path);
		return -1;
	}
	en->version = s->repeatable ? NULL : s->tool_version;
	en->name = s->tool_name;
	en->script = base_name(s->path);
	en->text = up->ptr ? up->ptr : "";
	en->len = up->len;
	en->duration_ns = ms * 1000000;
	en->prev_version = prev ? prev->tool_version : NULL;
	en->undo_script = s->down_path ? base_name(s->down_path) : NULL;
	en->undo_text = down->ptr;
	en->undo_len = down->len;
	en->undo_name = s->tool_name;
	return 0;
}

/*
 * Writes (apply) or clears (!apply) the tool's row of step id on db, in
 * the transaction open there. A step of ferry's own layout: nothing.
 */
static int history_write(engine *e, const char *id, fr_db *db, int64_t ms, int apply)
{
	const fr_catalog *c = catalog_of(e);
	fr_step *s;
	if (!c)
		return 0; /* catalog_of said once why the tools' tables are left */
	s = fr_catalog_step(c, id);
	const fr_history_tool *t;
	fr_buf up = FR_BUF_INIT, down = FR_BUF_INIT;
	fr_history_entry en;
	int rc;
	if (!s || !s->layout) {
		/* Another tool's step ("<layout>:...") whose file is gone: its row cannot be told. */
		const char *colon = strchr(id, ':');
		char tool[32];
		if (!s && colon && (size_t)(colon - id) < sizeof tool) {
			memcpy(tool, id, (size_t)(colon - id));
			tool[colon - id] = '\0';
			if (fr_history_tool_find(tool))
				fr_log(e->f, FERRY_LOG_WARN, id, "%s: its file is gone: %s's history "
				       "table is left as it is", id, tool);
		}
		return 0;
	}
	if (!(t = fr_history_tool_find(s->layout)))
		return 0;
	rc = entry_of(e, s, ms, &up, &down, &en);
	if (!rc)
		rc = apply ? t->record(db, &en, &e->err) : t->unrecord(db, &en, &e->err);
	fr_buf_release(&up);
	fr_buf_release(&down);
	return rc;
}

int fr_adopt_record(engine *e, const char *id, fr_db *db, int64_t duration_ms)
{
	return history_write(e, id, db, duration_ms, 1);
}

int fr_adopt_unrecord(engine *e, const char *id, fr_db *db)
{
	return history_write(e, id, db, 0, 0);
}

/*
 * The no-op fingerprint's part of other tools' tables (run.c): what each
 * tool's table of each database with its steps lists, one line a row, in
 * out. A database not made yet adds its name and "none". -1 when one
 * cannot be read: then the start takes the long way, which reports it.
 */
int fr_adopt_tables_text(ferry *f, fr_buf *out)
{
	const fr_catalog *c = f->cat;
	fr_buf err = FR_BUF_INIT;
	size_t i, k;
	int rc = 0;
	for (i = 0; c && i < c->nforeign && !rc; i++) {
		const char *db;
		const fr_history_tool *t = first_of_pair(f, c, i, &db);
		const fr_dbconf *conf;
		fr_history h = FR_HISTORY_INIT;
		fr_db *d = NULL;
		int yes = 0;
		if (!t)
			continue;
		conf = fr_config_db(f->cfg, db);
		fr_buf_printf(out, "%s\t%s\n", t->name, db);
		if (!conf) {
			rc = -1;
			break;
		}
		if (!fr_db_exists(conf)) {
			fr_buf_puts(out, "none\n");
			continue;
		}
		if (fr_db_open(&d, conf, &err) || t->present(d, &yes, &err) ||
		    (yes && t->read(d, &h, &err))) {
			rc = -1;
		} else {
			/* Not through printf: a row of every migration, at every start. */
			for (k = 0; k < h.n; k++) {
				const fr_history_row *w = &h.rows[k];
				fr_buf_puts(out, w->version ? w->version : "");
				fr_buf_putc(out, '\t');
				fr_buf_puts(out, w->name ? w->name : "");
				fr_buf_putc(out, '\t');
				fr_buf_puts(out, w->checksum ? w->checksum : "");
				fr_buf_puts(out, w->failed ? "\tfailed\n" : "\n");
			}
			fr_buf_printf(out, "upto\t%s\t%d\n", h.upto ? h.upto : "", h.upto_failed);
		}
		fr_history_clear(&h);
		fr_db_close(d);
	}
	fr_buf_release(&err);
	return rc || out->oom ? -1 : 0;
}
