/*
 * undo.c - the undo record of an ops step and undoing it. forward()
 * records, for each op that changed something, what it replaced: for a
 * file edit the file's bytes before (or its absence; base64 when they are
 * not UTF-8), the SHA-256 of its bytes after, and the editor's undo of
 * each key it touched; for mkdir the folders it created; for move, where
 * the thing went; for chmod every old mode; for remove (and for what copy
 * replaced) the place in the scratch folder the thing was moved to. The
 * record is kept as JSON ({"ferry_ops_undo": 1, "actions": [...]}) and
 * applied newest first. A file whose bytes are still what the op left gets
 * its old bytes back exactly; a file changed since gets the old values of
 * the keys put back (the rest of the later change stays).
 */
#include "ops_int.h"
#include "../../util/alloc.h"
#include "../../util/base64.h"
#include "../../util/fs.h"
#include "../../util/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNDO_FORMAT 1       /* "ferry_ops_undo" of the undo text */

/*
 * Write-ahead: the record, with this op's undo, goes to the crash journal
 * before the op changes anything (each op records before its change).
 */
int fr_ops_record(orun *R, const op *o, json_t *a)
{
	if (!a || json_array_append_new(R->actions, a)) {
		fr_ops_err(R, o, "out of memory");
		return -1;
	}
	return fr_ops_journal(R, o);
}

int fr_ops_journal_ahead(orun *R, const op *o, json_t *a)
{
	int ret;
	if (!R->ctx || !R->ctx->journal_undo)
		return 0;
	if (json_array_append(R->actions, a)) {
		fr_ops_err(R, o, "out of memory");
		return -1;
	}
	ret = fr_ops_journal(R, o);
	json_array_remove(R->actions, json_array_size(R->actions) - 1);
	return ret;
}

int fr_ops_journal(orun *R, const op *o)
{
	fr_buf t = FR_BUF_INIT;
	int ret = 0;
	if (!R->ctx || !R->ctx->journal_undo)
		return 0;
	if (fr_ops_undo_dump(R->actions, &t) || t.oom) {
		fr_ops_err(R, o, "out of memory");
		ret = -1;
	} else if (R->ctx->journal_undo(R->ctx, t.ptr)) {
		fr_ops_err(R, o, "cannot write the crash journal (state.db)");
		ret = -1;
	}
	fr_buf_release(&t);
	return ret;
}

json_t *fr_ops_action(const op *o)
{
	json_t *a = json_object();
	if (a) {
		json_object_set_new(a, "op", json_string(fr_ops_names[o->type]));
		json_object_set_new(a, "line", json_integer(o->line));
	}
	return a;
}


static const char *jstr(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * Puts back the old values of the keys an edit changed (newest first), on
 * text, through the file's editor.
 */
static int undo_keys(orun *R, const fr_editor *ed, const char *file, const json_t *keys,
                     const char *text, size_t len, fr_buf *out, int *changed)
{
	fr_buf cur = FR_BUF_INIT, next = FR_BUF_INIT, msg = FR_BUF_INIT;
	json_t *sem = json_array();
	size_t i = json_array_size(keys);
	int ret = -1;

	*changed = 0;
	fr_buf_add(&cur, text, len);
	while (i--) {
		fr_edit e = { file, cur.ptr, cur.len, &next, 0, sem, &msg };
		fr_buf_reset(&msg);
		if (ed->restore(&e, json_array_get(keys, i))) {
			fr_ops_err(R, NULL, "%s", msg.ptr);
			goto done;
		}
		if (e.changed) {
			fr_buf t = cur;
			cur = next;
			next = t;
			*changed = 1;
		}
	}
	fr_buf_release(out);
	*out = cur;
	fr_buf_init(&cur);
	ret = 0;
done:
	fr_buf_release(&cur);
	fr_buf_release(&next);
	fr_buf_release(&msg);
	json_decref(sem);
	return ret;
}

/* Undoes the file edit all[self]. */
static int undo_edit(orun *R, const json_t *all, size_t self)
{
	const json_t *a = json_array_get(all, self);
	const char *file = jstr(a, "file"), *fmts = jstr(a, "format");
	const char *after = jstr(a, "after_sha256");
	const json_t *bj = json_object_get(a, "before");
	fr_buf cur = FR_BUF_INIT, before = FR_BUF_INIT, out = FR_BUF_INIT;
	char *abs = NULL, sha[65];
	const fr_editor *ed;
	int ex, has_before, ch, ret = -1;
	size_t k;

	if (!file || !fmts || !after) {
		fr_ops_err(R, NULL, "an undo record is damaged (no file)");
		return -1;
	}
	if (!(ed = fr_ed_named(fmts)))
		ed = &fr_ed_env; /* as format 1 has always read an unknown one */
	has_before = !json_is_null(bj);
	if (json_is_string(bj))
		fr_buf_add(&before, json_string_value(bj), json_string_length(bj));
	else if (jstr(a, "before_base64"))
		fr_base64_decode(&before, jstr(a, "before_base64"));
	else if (bj)
		has_before = 0;
	if (!(abs = fr_ops_resolve(R, NULL, file, 1)) ||
	    fr_ops_read_target(R, NULL, abs, file, &cur, &ex))
		goto done;
	if (!ex) {
		/* gone since: it comes back as it was before the step */
		ret = has_before ? fr_ops_write_target(R, NULL, abs, file, ed, before.ptr, before.len) : 0;
		goto done;
	}
	if (fr_sha256_hex(cur.ptr, cur.len, sha)) {
		fr_ops_err(R, NULL, "cannot compute a checksum (libcrypto)");
		goto done;
	}
	if (!strcmp(sha, after)) {
		/* as the step left it: the old bytes, exactly */
		if (has_before) {
			ret = fr_ops_write_target(R, NULL, abs, file, ed, before.ptr, before.len);
		} else if (unlink(abs)) {
			fr_ops_err(R, NULL, "cannot remove '%s': %s", file, strerror(errno));
		} else {
			fr_fsync_parent(abs);
			ret = 0;
		}
		goto done;
	}
	/* undone already: the bytes are what they were before this op or an earlier one */
	for (k = 0; k <= self; k++) {
		const json_t *b = json_array_get(all, k);
		const char *bt = jstr(b, "before"), *bf = jstr(b, "file");
		if (bt && bf && !strcmp(bf, file) && strlen(bt) == cur.len &&
		    !memcmp(bt, cur.ptr, cur.len)) {
			ret = 0;
			goto done;
		}
	}
	if (has_before && cur.len == before.len && !memcmp(cur.ptr, before.ptr, cur.len)) {
		ret = 0;
		goto done;
	}
	/* changed since: only the keys the step touched go back */
	if (undo_keys(R, ed, file, json_object_get(a, "keys"), cur.ptr, cur.len, &out, &ch))
		goto done;
	ret = ch ? fr_ops_write_target(R, NULL, abs, file, ed, out.ptr, out.len) : 0;
done:
	fr_free(abs);
	fr_buf_release(&cur);
	fr_buf_release(&before);
	fr_buf_release(&out);
	return ret;
}

/* rmdir of the folders an op made, newest first. strict: a folder not empty is an error. */
static int undo_created(orun *R, const json_t *created, const char *opn, int strict)
{
	size_t i = json_array_size(created);
	fr_buf p = FR_BUF_INIT;
	int ret = 0;
	while (i--) {
		const char *rel = json_string_value(json_array_get(created, i));
		if (!rel)
			continue;
		fr_buf_setf(&p, "%s/%s", R->root, rel);
		if (rmdir(p.ptr) && errno != ENOENT && strict) {
			fr_ops_err(R, NULL, "cannot undo '%s': cannot remove the folder '%s' it made: %s%s", opn,
			           rel, strerror(errno), errno == ENOTEMPTY || errno == EEXIST ?
			           " (something was put in it since; empty it, then run 'ferry recover')" : "");
			ret = -1;
			break;
		}
	}
	fr_buf_release(&p);
	return ret;
}

static int undo_action(orun *R, const json_t *all, size_t self)
{
	const json_t *a = json_array_get(all, self);
	const char *opn = jstr(a, "op");
	char *x = NULL, *y = NULL;
	int ret = -1;

	if (!opn) {
		fr_ops_err(R, NULL, "an undo record is damaged (no op)");
		return -1;
	}
	if (!strcmp(opn, "set") || !strcmp(opn, "rename") || !strcmp(opn, "delete") ||
	    !strcmp(opn, "env"))
		return undo_edit(R, all, self);
	if (!strcmp(opn, "mkdir"))
		return undo_created(R, json_object_get(a, "created"), opn, 1);
	if (!strcmp(opn, "chmod")) {
		const json_t *modes = json_object_get(a, "modes");
		size_t i = json_array_size(modes);
		fr_buf p = FR_BUF_INIT;
		ret = 0;
		while (i--) {
			const json_t *m = json_array_get(modes, i);
			const char *rel = json_string_value(json_array_get(m, 0));
			struct stat st;
			if (!rel)
				continue;
			fr_buf_setf(&p, "%s/%s", R->root, rel);
			if (lstat(p.ptr, &st) || S_ISLNK(st.st_mode))
				continue; /* gone since */
			if (chmod(p.ptr, (mode_t)json_integer_value(json_array_get(m, 1)))) {
				fr_ops_err(R, NULL, "cannot give '%s' its old mode back: %s", rel, strerror(errno));
				ret = -1;
				break;
			}
		}
		fr_buf_release(&p);
		return ret;
	}
	if (!strcmp(opn, "move")) {
		const char *from = jstr(a, "from"), *to = jstr(a, "to");
		if (!from || !to || !(x = fr_ops_resolve(R, NULL, from, 0)) ||
		    !(y = fr_ops_resolve(R, NULL, to, 0)))
			goto damaged;
		if (fr_ops_exists(y) && !fr_ops_exists(x)) {
			if (fr_ops_move_path(y, x)) {
				fr_ops_err(R, NULL, "cannot move '%s' back to '%s': %s", to, from, strerror(errno));
				goto done;
			}
		} else if (fr_ops_exists(x) && fr_ops_exists(y)) {
			fr_ops_err(R, NULL, "cannot move '%s' back: '%s' exists again; move one of them away, "
			           "then run 'ferry recover'", to, from);
			goto done;
		} else if (!fr_ops_exists(x)) {
			fr_ops_err(R, NULL, "cannot move '%s' back to '%s': it is gone", to, from);
			goto done;
		}
		ret = undo_created(R, json_object_get(a, "created"), opn, 0);
		goto done;
	}
	if (!strcmp(opn, "copy") || !strcmp(opn, "remove")) {
		const char *path = jstr(a, !strcmp(opn, "copy") ? "to" : "path");
		const char *st = jstr(a, "stash");
		if (!path || !(x = fr_ops_resolve(R, NULL, path, 0)))
			goto damaged;
		if (st && !(y = fr_ops_stash_abs(R, st)))
			goto damaged;
		if (y && json_is_true(json_object_get(a, "ahead")) && !fr_ops_exists(y) &&
		    fr_ops_exists(x)) {
			/* cut short before it moved the target aside (write-ahead): it is still there */
			ret = strcmp(opn, "copy") ? 0 : undo_created(R, json_object_get(a, "created"),
			                                             opn, 0);
			goto done;
		}
		if (!strcmp(opn, "copy") && fr_ops_remove_tree(x)) {
			fr_ops_err(R, NULL, "cannot remove the copy '%s': %s", path, strerror(errno));
			goto done;
		}
		if (st) {
			if (!fr_ops_exists(x) && fr_ops_exists(y)) {
				if (fr_ops_move_path(y, x)) {
					fr_ops_err(R, NULL, "cannot put '%s' back from '%s': %s", path, y,
					           strerror(errno));
					goto done;
				}
				{
					char *slash = strrchr(y, '/');
					if (slash) {
						*slash = '\0';
						rmdir(y); /* the step's scratch folder, once empty */
					}
				}
			} else if (fr_ops_exists(x) && fr_ops_exists(y)) {
				fr_ops_err(R, NULL, "cannot put back '%s': it exists again; move it away, then run "
				           "'ferry recover'", path);
				goto done;
			} else if (!fr_ops_exists(x)) {
				fr_ops_err(R, NULL, "cannot put back '%s': what was taken away was kept at '%s', "
				           "which is gone", path, y);
				goto done;
			}
		}
		ret = strcmp(opn, "copy") ? 0 : undo_created(R, json_object_get(a, "created"), opn, 0);
		goto done;
	}
damaged:
	if (!R->err->len)
		fr_ops_err(R, NULL, "an undo record of op '%s' is damaged", opn);
done:
	fr_free(x);
	fr_free(y);
	return ret;
}

int fr_ops_undo_actions(orun *R, const json_t *actions)
{
	size_t i = json_array_size(actions);
	while (i--)
		if (undo_action(R, actions, i))
			return -1;
	return 0;
}

int fr_ops_undo_dump(json_t *actions, fr_buf *out)
{
	json_t *doc = json_object();
	json_t *acts = actions ? json_incref(actions) : json_array();
	char *txt = NULL;
	int rc = -1;
	if (doc && acts) {
		json_object_set_new(doc, "ferry_ops_undo", json_integer(UNDO_FORMAT));
		json_object_set(doc, "actions", acts);
		txt = json_dumps(doc, JSON_PRESERVE_ORDER | JSON_COMPACT);
	}
	if (txt)
		rc = fr_buf_puts(out, txt);
	free(txt);
	json_decref(acts);
	json_decref(doc);
	return rc;
}

int fr_ops_undo_replay(fr_run_ctx *ctx, const char *step_id, const char *text)
{
	json_error_t je;
	json_t *doc = text ? json_loads(text, 0, &je) : NULL;
	const json_t *acts = json_object_get(doc, "actions");
	orun R;
	int ret = -1;

	if (!doc || !json_is_array(acts) ||
	    json_integer_value(json_object_get(doc, "ferry_ops_undo")) != UNDO_FORMAT) {
		fr_buf_printf(ctx->err, "%s (undo): the recorded undo is not one this build reads "
		              "(ops undo format %d)", step_id, UNDO_FORMAT);
		goto done;
	}
	if (ctx->dry_run) {
		ret = 0;
		goto done;
	}
	if (fr_ops_orun_init(&R, ctx, ctx->root, step_id, step_id, ctx->err))
		goto done;
	ret = fr_ops_undo_actions(&R, acts);
	fr_ops_orun_free(&R);
done:
	json_decref(doc);
	return ret;
}
