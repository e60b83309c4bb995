/*
 * ops.c - the ops step kind (fr_step_ops, SPEC section 4): a *.yaml file of
 * declarative edits that ferry knows how to undo.
 *
 *   description: Add privacy settings, move the cache
 *   ops:
 *     - set:    {file: config/app.json, path: privacy.level, value: x, if_missing: true}
 *     - rename: {file: config/app.yaml, from: db.path, to: database.url, if_missing: true}
 *     - delete: {file: config/app.json, path: legacy.flags}
 *     - env:    {file: .env, key: BACKUP_ENABLED, value: "true", if_missing: true}
 *     - mkdir:  {path: data/cache, mode: "0750"}
 *     - move:   {from: data/old_index, to: data/index, if_missing: true}
 *     - copy:   {from: config/defaults.json, to: config/local.json, if_missing: true}
 *     - chmod:  {path: data, mode: "0750", recursive: true}
 *     - remove: {path: data/tmp}
 *
 * Meaning, chosen so that running a step twice changes nothing the second
 * time: if_missing skips an op whose target (key, variable, destination)
 * exists; rename and move of a source that is gone, delete and remove of
 * what is not there, and a set to the value already there do nothing;
 * rename and move onto an existing target fail unless if_missing; copy
 * replaces an existing target unless if_missing; mkdir of an existing
 * folder does nothing. Key paths are dot-separated, a number indexes a
 * list (`a.b.0.c`); `set` creates the mappings on the way.
 *
 * This file is the kind itself (fr_step_ops) and the glue of its members;
 * the work is in the rooms ops_int.h lists, and the file formats behind
 * edit.h. A forward() that fails undoes its own earlier ops before it
 * returns (the engine undoes completed steps only).
 */
#include "ops_int.h"
#include "text.h"
#include "../../util/alloc.h"
#include "../../util/proc.h"

#include <string.h>

static const char *ops_rel(const fr_step *s)
{
	if (s->rel)
		return s->rel;
	return s->name ? s->name : "(ops step)";
}

static void ops_unload(fr_step *s)
{
	fr_ops_priv_free(s->priv);
	s->priv = NULL;
}

static int ops_claims(const char *filename, int executable)
{
	(void)executable;
	if (!filename || !strcmp(filename, "transition.yaml") || !strcmp(filename, "versions.yaml"))
		return 0;
	return fr_ends_with(filename, ".yaml") || fr_ends_with(filename, ".yml");
}

static int ops_load(fr_step *s, const char *text, size_t len, fr_buf *err)
{
	ops_priv *p;
	ops_unload(s);
	if (fr_ops_parse(ops_rel(s), text, len, &p, err))
		return -1;
	s->priv = p;
	return 0;
}

static const char *ops_database(const fr_step *s)
{
	(void)s;
	return ""; /* files only */
}

static int ops_transactional(const fr_step *s)
{
	(void)s;
	return 0;
}

static int ops_reversible(const fr_step *s)
{
	(void)s;
	return 1; /* every op records its own undo */
}

static int op_apply(orun *R, const op *o)
{
	switch (o->type) {
	case OP_SET:
	case OP_RENAME:
	case OP_DELETE:
	case OP_ENV:
		return fr_ops_edit(R, o);
	case OP_MKDIR:
		return fr_ops_mkdir(R, o);
	case OP_MOVE:
		return fr_ops_move(R, o);
	case OP_COPY:
		return fr_ops_copy(R, o);
	case OP_CHMOD:
		return fr_ops_chmod(R, o);
	default:
		return fr_ops_remove(R, o);
	}
}

static int ops_forward(fr_run_ctx *ctx, fr_step *s)
{
	ops_priv *p = s->priv;
	const char *id = ctx->step_id ? ctx->step_id : s->id;
	orun R;
	size_t i;
	int ret = -1;

	if (ctx->dry_run)
		return 0; /* describe() tells what would change */
	json_decref(p->undo);
	if (!(p->undo = json_array())) {
		fr_buf_printf(ctx->err, "%s: out of memory", ops_rel(s));
		return -1;
	}
	if (fr_ops_orun_init(&R, ctx, ctx->root, ops_rel(s), id, ctx->err))
		return -1;
	R.actions = p->undo;
	for (i = 0; i < p->nops; i++) {
		if (ctx->interrupted && *ctx->interrupted) {
			fr_ops_err(&R, &p->ops[i], "interrupted before this op");
			break;
		}
		if (op_apply(&R, &p->ops[i]))
			break;
		fr_crash_point("op"); /* the crash tests' cut between two ops */
	}
	if (i == p->nops) {
		ret = 0;
	} else if (json_array_size(p->undo)) {
		/* the engine undoes completed steps only: this one's earlier ops are undone here */
		fr_buf uerr = FR_BUF_INIT;
		R.err = &uerr;
		if (fr_ops_undo_actions(&R, p->undo)) {
			fr_buf_puts(ctx->err, "; undoing the step's earlier ops failed too: ");
			fr_buf_puts(ctx->err, uerr.oom ? "out of memory" : uerr.ptr);
			fr_buf_puts(ctx->err, "; restore the run's backup");
		} else {
			fr_buf_puts(ctx->err, "; the step's earlier ops were undone");
		}
		fr_buf_release(&uerr);
		json_array_clear(p->undo);
	}
	fr_ops_orun_free(&R);
	return ret;
}

static int ops_undo_text(const fr_step *s, fr_buf *out)
{
	const ops_priv *p = s->priv;
	return fr_ops_undo_dump(p ? p->undo : NULL, out);
}

static int ops_undo(fr_run_ctx *ctx, const char *step_id, const char *db_name, const char *text)
{
	(void)db_name;
	return fr_ops_undo_replay(ctx, step_id, text);
}

static int ops_undo_transactional(const char *text)
{
	(void)text;
	return 0;
}

/* The root a step's files are under: its path without its relative path. */
static char *step_root(const fr_step *s)
{
	size_t lp = s->path ? strlen(s->path) : 0, lr = s->rel ? strlen(s->rel) : 0;
	if (lp > lr + 1 && lr && !strcmp(s->path + lp - lr, s->rel) && s->path[lp - lr - 1] == '/')
		return fr_strndup(s->path, lp - lr - 1);
	return NULL;
}

static int ops_describe(const fr_step *s, fr_buf *out)
{
	char *root = step_root(s);
	int rc = fr_ops_dry_run(s->priv, ops_rel(s), s->id, root, out);
	fr_free(root);
	return rc;
}

const fr_step_kind fr_step_ops = {
	.name = "ops",
	.noun = "ops step",
	.files = "*.yaml or *.yml",
	.new_ext = "yaml",
	.new_template = fr_ops_new_template,
	.is_template = fr_ops_is_template,
	.claims = ops_claims,
	.load = ops_load,
	.unload = ops_unload,
	.database = ops_database,
	.transactional = ops_transactional,
	.reversible = ops_reversible,
	.check = NULL,
	.forward = ops_forward,
	.verify = NULL,
	.undo_text = ops_undo_text,
	.undo = ops_undo,
	.undo_transactional = ops_undo_transactional,
	.describe = ops_describe,
	.describe_undo = fr_ops_describe_undo,
};
