/*
 * content.c - the content ops (set, rename, delete, env): the file an op
 * names is resolved inside the root, read, edited as text by its editor
 * (edit.h), recorded for undo (its bytes before, the SHA-256 of its bytes
 * after, the old value of each key), then written with fr_write_atomic()
 * (temporary file, fsync, rename, fsync of the folder), keeping its mode
 * and owner.
 */
#include "ops_int.h"
#include "../../util/alloc.h"
#include "../../util/base64.h"
#include "../../util/fs.h"
#include "../../util/hash.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int fr_ops_edit_text(const op *o, const char *text, size_t len, fr_buf *out, int *changed,
                     json_t *undo, fr_buf *err)
{
	fr_edit e = { o->file, text, len, out, 0, undo, err };
	int ret;

	switch (o->type) {
	case OP_SET:
		ret = o->ed->set(&e, o->path, o->value, o->if_missing);
		break;
	case OP_ENV:
		ret = o->ed->set(&e, o->key, o->value, o->if_missing);
		break;
	case OP_DELETE:
		ret = o->ed->remove(&e, o->path);
		break;
	default:
		ret = o->ed->rename(&e, o->from, o->to, o->if_missing);
	}
	*changed = e.changed;
	return ret;
}

int fr_ops_read_target(orun *R, const op *o, const char *abs, const char *rel, fr_buf *text,
                       int *exists)
{
	struct stat st;
	*exists = 0;
	if (stat(abs, &st)) {
		if (errno == ENOENT)
			return 0;
		fr_ops_err(R, o, "cannot read '%s': %s", rel, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		fr_ops_err(R, o, "'%s' is not a regular file", rel);
		return -1;
	}
	if (fr_read_file(abs, text)) {
		fr_ops_err(R, o, "cannot read '%s': %s", rel, strerror(errno));
		return -1;
	}
	*exists = 1;
	return 0;
}

int fr_ops_write_target(orun *R, const op *o, const char *abs, const char *rel,
                        const fr_editor *ed, const char *data, size_t len)
{
	if (fr_write_atomic(abs, data, len, ed->secret ? 0600 : 0644)) {
		fr_ops_err(R, o, "cannot write '%s': %s%s", rel, strerror(errno),
		           errno == ENOENT ? " (its folder does not exist: add a mkdir op before)" : "");
		return -1;
	}
	return 0;
}

/* set, rename, delete, env */
int fr_ops_edit(orun *R, const op *o)
{
	fr_buf text = FR_BUF_INIT, out = FR_BUF_INIT, msg = FR_BUF_INIT;
	json_t *sem = json_array(), *a = NULL, *before;
	char *abs = NULL, sha[65];
	int ex, changed = 0, ret = -1;

	if (!sem || !(abs = fr_ops_resolve(R, o, o->file, 1)))
		goto done;
	if (fr_ops_read_target(R, o, abs, o->file, &text, &ex))
		goto done;
	if (!ex && (o->type == OP_DELETE || o->type == OP_RENAME)) {
		ret = 0; /* nothing to delete or rename */
		goto done;
	}
	if (fr_ops_edit_text(o, text.ptr, text.len, &out, &changed, sem, &msg)) {
		fr_ops_err(R, o, "%s", msg.ptr);
		goto done;
	}
	if (!changed) {
		ret = 0;
		goto done;
	}
	if (fr_sha256_hex(out.ptr, out.len, sha)) {
		fr_ops_err(R, o, "cannot compute a checksum (libcrypto)");
		goto done;
	}
	a = fr_ops_action(o);
	if (!a)
		goto oom;
	json_object_set_new(a, "file", json_string(o->file));
	json_object_set_new(a, "format", json_string(o->ed->name));
	before = ex ? json_stringn(text.ptr, text.len) : json_null();
	if (!before) {
		fr_buf enc = FR_BUF_INIT;
		fr_base64_encode(&enc, text.ptr, text.len);
		json_object_set_new(a, "before_base64", json_stringn(enc.ptr, enc.len));
		fr_buf_release(&enc);
	} else {
		json_object_set_new(a, "before", before);
	}
	json_object_set_new(a, "after_sha256", json_string(sha));
	json_object_set(a, "keys", sem);
	/*
	 * Recorded before the write: a write that fails after its rename (the
	 * folder's fsync) has still changed the file, and the undo must see it.
	 */
	ret = fr_ops_record(R, o, a);
	a = NULL;
	if (ret == 0)
		ret = fr_ops_write_target(R, o, abs, o->file, o->ed, out.ptr, out.len);
	goto done;
oom:
	fr_ops_err(R, o, "out of memory");
done:
	json_decref(a);
	json_decref(sem);
	fr_free(abs);
	fr_buf_release(&text);
	fr_buf_release(&out);
	fr_buf_release(&msg);
	return ret;
}
