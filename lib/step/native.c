/*
 * native.c - steps written in C by the application embedding libferry
 * (ferry_register_step). They have no file: the catalog holds them with
 * priv pointing at the registered ferry_native_step, and they behave like
 * the other kinds in plans, the registry and rollback. Their undo needs
 * the program that registered them: the registry keeps "native:<id>", and
 * undo looks the id up among the steps registered on the handle.
 */
#include "step.h"
#include "ferry.h"
#include "../util/alloc.h"

#include <string.h>

static const ferry_native_step *native_of(const fr_step *s)
{
	return s->priv;
}

/* The message a callback left with ferry_set_error(), or a plain one. */
static void callback_failed(fr_run_ctx *ctx, const char *id, const char *what, int rc)
{
	char *msg = fr_native_take_error(ctx->handle);
	if (msg && *msg)
		fr_buf_printf(ctx->err, "%s (%s): %s", id, what, msg);
	else
		fr_buf_printf(ctx->err, "%s (%s): the callback failed (returned %d)", id, what, rc);
	fr_free(msg);
}

static int native_claims(const char *filename, int executable)
{
	(void)filename;
	(void)executable;
	return 0; /* never a file */
}

static const char *native_database(const fr_step *s)
{
	(void)s;
	return ""; /* a C step changes what it changes itself */
}

static int native_transactional(const fr_step *s)
{
	(void)s;
	return 0;
}

static int native_reversible(const fr_step *s)
{
	return native_of(s)->backward != NULL;
}

static int native_check(fr_run_ctx *ctx, fr_step *s, int *needed)
{
	const ferry_native_step *n = native_of(s);
	int rc;
	*needed = 1;
	if (!n->check || ctx->dry_run)
		return 0;
	rc = n->check(ctx->handle, n->ctx, needed);
	if (rc)
		callback_failed(ctx, s->id, "check", rc);
	return rc ? -1 : 0;
}

static int native_forward(fr_run_ctx *ctx, fr_step *s)
{
	const ferry_native_step *n = native_of(s);
	int rc;
	if (ctx->dry_run)
		return 0;
	rc = n->forward(ctx->handle, n->ctx);
	if (rc)
		callback_failed(ctx, s->id, "forward", rc);
	return rc ? -1 : 0;
}

static int native_undo_text(const fr_step *s, fr_buf *out)
{
	if (!native_of(s)->backward)
		return 0;
	fr_buf_printf(out, "native:%s", s->id);
	return out->oom ? -1 : 0;
}

static int native_undo(fr_run_ctx *ctx, const char *step_id, const char *db_name,
                       const char *text)
{
	const ferry_native_step *n;
	int rc;
	(void)db_name;
	if (!text || strncmp(text, "native:", 7)) {
		fr_buf_printf(ctx->err, "%s: the recorded undo is not a native step's", step_id);
		return -1;
	}
	n = fr_native_find(ctx->handle, text + 7);
	if (n && n->backward) {
		rc = n->backward(ctx->handle, n->ctx);
		if (rc)
			callback_failed(ctx, step_id, "backward", rc);
		return rc ? -1 : 0;
	}
	fr_buf_printf(ctx->err, "%s: native step not registered with a backward by this program; "
	                        "run the program that registered it to undo it",
	              step_id);
	return -1;
}

static int native_can_undo(fr_run_ctx *ctx, const char *step_id, const char *text)
{
	const ferry_native_step *n = text && !strncmp(text, "native:", 7) ?
	                             fr_native_find(ctx->handle, text + 7) : NULL;
	if (n && n->backward)
		return 1;
	fr_buf_printf(ctx->err, "%s: native step not registered with a backward by this program; "
	                        "run the program that registered it to undo it",
	              step_id);
	return 0;
}

static int native_describe(const fr_step *s, fr_buf *out)
{
	const ferry_native_step *n = native_of(s);
	fr_buf_printf(out, "-- native C step%s%s\n", n->description ? ": " : "",
	              n->description ? n->description : "");
	return out->oom ? -1 : 0;
}

const fr_step_kind fr_step_native = {
	.name = "native",
	.noun = "native step",
	.flags = FR_KIND_NO_FILE,
	.claims = native_claims,
	.database = native_database,
	.transactional = native_transactional,
	.reversible = native_reversible,
	.check = native_check,
	.forward = native_forward,
	.undo_text = native_undo_text,
	.undo = native_undo,
	.can_undo = native_can_undo,
	.describe = native_describe,
};
