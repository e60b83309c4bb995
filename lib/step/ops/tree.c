/*
 * tree.c - the file-tree ops: mkdir, move, copy, chmod, remove, and the
 * file-system work under them (copy a tree, remove one, move across file
 * systems). Trees are walked without following symlinks. Nothing is
 * deleted: what remove takes away, and what copy replaces, is moved to the
 * step's stash in the scratch folder, for undo to bring back. Each op
 * is write-ahead: the undo of what it is about to do (the folders it will
 * make, the modes it will change, where it will move things) is in the
 * crash journal before it changes anything, and its undo copes with an op
 * cut short anywhere; it then records what it did (undo.c), even when it
 * fails half-way, so that what it did is undone with the rest.
 */
#include "ops_int.h"
#include "text.h"
#include "../../util/alloc.h"
#include "../../util/fs.h"
#include "../../util/proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copies a file's bytes to dst (new) with mode, through a temporary file and a rename. */
static int copy_file(const char *src, const char *dst, mode_t mode)
{
	fr_buf tmp = FR_BUF_INIT;
	char buf[65536];
	int in = -1, out = -1, e = 0, rc = -1;
	ssize_t n;

	if (fr_tmp_path(&tmp, dst)) {
		fr_buf_release(&tmp); /* what the path had before the allocation failed */
		errno = ENOMEM;
		return -1;
	}
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		goto done;
	out = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		goto done;
	for (;;) {
		char *p = buf;
		n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		while (n > 0) {
			ssize_t w = write(out, p, (size_t)n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto done;
			p += w;
			n -= w;
		}
	}
	if (n < 0 || fchmod(out, mode & 07777) || fsync(out))
		goto done;
	if (close(out)) {
		out = -1;
		goto done;
	}
	out = -1;
	if (rename(tmp.ptr, dst))
		goto done;
	rc = 0;
done:
	e = errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rc)
		unlink(tmp.ptr);
	fr_buf_release(&tmp);
	errno = e;
	return rc;
}

/* Copies a file, folder tree or symlink (as a link) to dst, which must not exist. */
static int copy_tree(const char *src, const char *dst)
{
	struct stat st;
	DIR *d = NULL;
	struct dirent *de;
	fr_buf a = FR_BUF_INIT, b = FR_BUF_INIT;
	int rc = -1, e;

	if (lstat(src, &st))
		return -1;
	if (S_ISREG(st.st_mode))
		return copy_file(src, dst, st.st_mode);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof target - 1);
		if (n < 0)
			return -1;
		target[n] = '\0';
		return symlink(target, dst);
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = EINVAL; /* a device, socket or fifo */
		return -1;
	}
	if (mkdir(dst, 0700) || !(d = opendir(src)))
		goto done;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fr_buf_setf(&a, "%s/%s", src, de->d_name);
		fr_buf_setf(&b, "%s/%s", dst, de->d_name);
		if (a.oom || b.oom) {
			errno = ENOMEM;
			goto done;
		}
		if (copy_tree(a.ptr, b.ptr))
			goto done;
	}
	if (errno || chmod(dst, st.st_mode & 07777))
		goto done;
	rc = 0;
done:
	e = errno;
	if (d)
		closedir(d);
	fr_buf_release(&a);
	fr_buf_release(&b);
	errno = e;
	return rc;
}

int fr_ops_remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	fr_buf a = FR_BUF_INIT;
	int rc = 0, e = 0;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	if (!(d = opendir(path)))
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fr_buf_setf(&a, "%s/%s", path, de->d_name);
		if (a.oom || fr_ops_remove_tree(a.ptr)) {
			e = a.oom ? ENOMEM : errno;
			rc = -1;
			break;
		}
	}
	closedir(d);
	fr_buf_release(&a);
	if (rc) {
		errno = e;
		return -1;
	}
	return rmdir(path);
}

int fr_ops_move_path(const char *src, const char *dst)
{
	if (rename(src, dst) == 0) {
		fr_fsync_parent(dst); /* best effort: the rename itself is done */
		return 0;
	}
	if (errno != EXDEV)
		return -1;
	if (copy_tree(src, dst)) {
		int e = errno;
		fr_ops_remove_tree(dst);
		errno = e;
		return -1;
	}
	return fr_ops_remove_tree(src);
}

/* mkdir -p of abs (inside the root), appending each folder made (relative) to created. */
static int make_dirs(orun *R, const char *abs, mode_t mode, json_t *created)
{
	fr_buf p = FR_BUF_INIT;
	const char *c = abs + R->rootlen;
	int rc = -1;
	fr_buf_puts(&p, R->root);
	while (*c) {
		const char *e;
		while (*c == '/')
			c++;
		e = c + strcspn(c, "/");
		if (e == c)
			break;
		fr_buf_putc(&p, '/');
		fr_buf_add(&p, c, (size_t)(e - c));
		c = e;
		if (p.oom) {
			errno = ENOMEM;
			goto done;
		}
		if (mkdir(p.ptr, mode) == 0) {
			if (json_array_append_new(created, json_string(fr_ops_rel_of(R, p.ptr)))) {
				errno = ENOMEM;
				goto done;
			}
		} else if (errno != EEXIST) {
			goto done;
		}
	}
	rc = 0;
done:
	fr_buf_release(&p);
	return rc;
}

/*
 * The folders mkdir -p of abs (inside the root) would make, appended
 * (relative) to plan: those of its path that are not there yet.
 */
static int plan_dirs(orun *R, const char *abs, json_t *plan)
{
	fr_buf p = FR_BUF_INIT;
	const char *c = abs + R->rootlen;
	struct stat st;
	int rc = 0, missing = 0;
	fr_buf_puts(&p, R->root);
	while (*c && !rc) {
		const char *e;
		while (*c == '/')
			c++;
		e = c + strcspn(c, "/");
		if (e == c)
			break;
		fr_buf_putc(&p, '/');
		fr_buf_add(&p, c, (size_t)(e - c));
		c = e;
		if (p.oom)
			rc = -1;
		else if (missing || (lstat(p.ptr, &st) && errno == ENOENT))
			missing = 1;
		if (!rc && missing && json_array_append_new(plan, json_string(fr_ops_rel_of(R, p.ptr))))
			rc = -1;
	}
	fr_buf_release(&p);
	return rc;
}

/* The folders make_parent() of abs would make, appended to plan. */
static int plan_parent(orun *R, const char *abs, json_t *plan)
{
	char *dir = fr_strdup(abs), *slash;
	int rc;
	if (!dir)
		return -1;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	rc = strlen(dir) > R->rootlen ? plan_dirs(R, dir, plan) : 0;
	fr_free(dir);
	return rc;
}

/* The folder holding abs, made if missing (folders made are appended to created). */
static int make_parent(orun *R, const char *abs, json_t *created)
{
	char *dir = fr_strdup(abs), *slash;
	int rc;
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	rc = strlen(dir) > R->rootlen ? make_dirs(R, dir, 0755, created) : 0;
	fr_free(dir);
	return rc;
}

/* Where the next thing taken away goes: <scratch>/<step>-XXXXXX/<n>-<name>. */
static char *stash_path(orun *R, const op *o, const char *abs)
{
	fr_buf p = FR_BUF_INIT;
	if (!R->stash_dir) {
		const char *scratch = R->ctx && R->ctx->scratch_dir && *R->ctx->scratch_dir
		                      ? R->ctx->scratch_dir : NULL;
		const char *c;
		char *real;
		if (scratch)
			fr_buf_puts(&p, scratch);
		else
			fr_buf_printf(&p, "%s/.ferry/scratch", R->root);
		if (p.oom || fr_mkdir_p(p.ptr, 0700)) {
			fr_ops_err(R, o, "cannot create the scratch folder '%s': %s", p.ptr,
			           p.oom ? strerror(ENOMEM) : strerror(errno));
			goto fail;
		}
		fr_buf_putc(&p, '/');
		for (c = R->step_id; *c; c++)
			fr_buf_putc(&p, isalnum((unsigned char)*c) || strchr("._-", *c) ? *c : '_');
		fr_buf_puts(&p, "-XXXXXX");
		if (p.oom || !mkdtemp(p.ptr)) {
			fr_ops_err(R, o, "cannot create a folder in the scratch folder: %s",
			           p.oom ? strerror(ENOMEM) : strerror(errno));
			goto fail;
		}
		real = realpath(p.ptr, NULL);
		R->stash_dir = fr_strdup(real ? real : p.ptr);
		free(real);
		if (!R->stash_dir)
			goto oom;
		fr_buf_reset(&p);
	}
	fr_buf_printf(&p, "%s/%d-%s", R->stash_dir, ++R->nstash, fr_base_name(abs));
	if (p.oom)
		goto oom;
	return fr_buf_detach(&p);
oom:
	fr_ops_err(R, o, "out of memory");
fail:
	fr_buf_release(&p);
	return NULL;
}

/* How a stash is recorded: relative to the root when inside it (the root may move). */
static json_t *stash_json(const orun *R, const char *abs)
{
	return json_string(fr_ops_inside(R, abs) ? fr_ops_rel_of(R, abs) : abs);
}

char *fr_ops_stash_abs(const orun *R, const char *rec)
{
	fr_buf p = FR_BUF_INIT;
	if (rec[0] == '/')
		fr_buf_puts(&p, rec);
	else
		fr_buf_printf(&p, "%s/%s", R->root, rec);
	return fr_buf_detach(&p);
}

int fr_ops_exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

int fr_ops_mkdir(orun *R, const op *o)
{
	json_t *created = json_array(), *a;
	struct stat st;
	char *abs = fr_ops_resolve(R, o, o->path, 1);
	int ret = -1, failed = 0;

	if (!abs || !created)
		goto done;
	if (stat(abs, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			ret = 0;
		else
			fr_ops_err(R, o, "'%s' exists and is not a folder", o->path);
		goto done;
	}
	/* write-ahead: the folders it will make; their undo passes over those not made */
	if (!(a = fr_ops_action(o)) || plan_dirs(R, abs, created) ||
	    json_object_set(a, "created", created)) {
		json_decref(a);
		fr_ops_err(R, o, "out of memory");
		goto done;
	}
	if (fr_ops_journal_ahead(R, o, a)) {
		json_decref(a);
		goto done;
	}
	json_decref(a);
	json_array_clear(created);
	if (make_dirs(R, abs, 0755, created) || (o->has_mode && chmod(abs, o->mode))) {
		fr_ops_err(R, o, "cannot create '%s': %s", o->path, strerror(errno));
		failed = 1;
	}
	fr_crash_point("op-acted"); /* the crash tests' cut between the act and its record */
	if (json_array_size(created)) {
		/* recorded even after a failure: what was made is undone with the rest */
		a = fr_ops_action(o);
		if (a)
			json_object_set(a, "created", created);
		if (fr_ops_record(R, o, a))
			goto done;
	}
	ret = failed ? -1 : 0;
done:
	json_decref(created);
	fr_free(abs);
	return ret;
}

int fr_ops_move(orun *R, const op *o)
{
	json_t *created = json_array(), *a;
	char *src = fr_ops_resolve(R, o, o->from, 0), *dst = src ? fr_ops_resolve(R, o, o->to, 0) : NULL;
	size_t sl;
	int ret = -1;

	if (!src || !dst || !created)
		goto done;
	if (!fr_ops_exists(src)) {
		if (fr_ops_exists(dst))
			ret = 0; /* moved before */
		else
			fr_ops_err(R, o, "'%s' does not exist: nothing to move", o->from);
		goto done;
	}
	if (fr_ops_exists(dst)) {
		if (o->if_missing)
			ret = 0;
		else
			fr_ops_err(R, o, "'%s' already exists; add if_missing: true to keep it and leave '%s', "
			           "or remove it first", o->to, o->from);
		goto done;
	}
	sl = strlen(src);
	if (!strncmp(dst, src, sl) && dst[sl] == '/') {
		fr_ops_err(R, o, "cannot move '%s' into itself ('%s')", o->from, o->to);
		goto done;
	}
	a = fr_ops_action(o);
	if (a) {
		json_object_set_new(a, "from", json_string(fr_ops_rel_of(R, src)));
		json_object_set_new(a, "to", json_string(fr_ops_rel_of(R, dst)));
		json_object_set(a, "created", created);
	}
	/* Write-ahead: the undo of a move not made yet finds the source in place, and leaves it. */
	if (a && fr_ops_journal_ahead(R, o, a)) {
		json_decref(a);
		goto done;
	}
	if (make_parent(R, dst, created) || fr_ops_move_path(src, dst)) {
		fr_ops_err(R, o, "cannot move '%s' to '%s': %s", o->from, o->to, strerror(errno));
		if (!json_array_size(created)) {
			json_decref(a);
			goto done;
		}
		ret = -2;
		if (a)
			json_object_set_new(a, "failed", json_true());
	}
	if (fr_ops_record(R, o, a) || ret == -2) {
		ret = -1;
		goto done;
	}
	ret = 0;
done:
	json_decref(created);
	fr_free(src);
	fr_free(dst);
	return ret;
}

int fr_ops_copy(orun *R, const op *o)
{
	json_t *created = json_array(), *a = NULL;
	char *src = fr_ops_resolve(R, o, o->from, 1), *dst = src ? fr_ops_resolve(R, o, o->to, 0) : NULL;
	char *stash = NULL;
	size_t sl;
	int ret = -1;

	if (!src || !dst || !created)
		goto done;
	if (!fr_ops_exists(src)) {
		fr_ops_err(R, o, "'%s' does not exist: nothing to copy", o->from);
		goto done;
	}
	sl = strlen(src);
	if (!strcmp(src, dst) || (!strncmp(dst, src, sl) && dst[sl] == '/')) {
		fr_ops_err(R, o, "cannot copy '%s' into itself ('%s')", o->from, o->to);
		goto done;
	}
	if (!(a = fr_ops_action(o)))
		goto oom;
	json_object_set_new(a, "to", json_string(fr_ops_rel_of(R, dst)));
	if (fr_ops_exists(dst)) {
		if (o->if_missing) {
			ret = 0;
			goto done;
		}
		/* what it replaces is kept, for undo */
		if (!(stash = stash_path(R, o, dst)))
			goto done;
		json_object_set_new(a, "stash", stash_json(R, stash));
	}
	/*
	 * Write-ahead: where what it replaces goes and the folders it will make.
	 * The undo of a copy cut short finds the target still in place (no
	 * stash yet: it is left) or moved aside (the copy is removed, it comes
	 * back).
	 */
	if (plan_parent(R, dst, created) || json_object_set(a, "created", created) ||
	    json_object_set_new(a, "ahead", json_true()))
		goto oom;
	if (fr_ops_journal_ahead(R, o, a))
		goto done;
	json_object_del(a, "ahead");
	json_array_clear(created);
	fr_crash_point("op-ahead"); /* the crash tests' cut between the journal and the act */
	if (stash && fr_ops_move_path(dst, stash)) {
		fr_ops_err(R, o, "cannot move '%s' aside to '%s': %s", o->to, stash, strerror(errno));
		goto done;
	}
	if (make_parent(R, dst, created) || copy_tree(src, dst)) {
		int e = errno;
		fr_ops_remove_tree(dst);
		fr_ops_err(R, o, "cannot copy '%s' to '%s': %s", o->from, o->to, strerror(e));
		fr_ops_record(R, o, a); /* so that the undo puts back what was moved aside */
		a = NULL;
		goto done;
	}
	fr_crash_point("op-acted");
	ret = fr_ops_record(R, o, a);
	a = NULL;
	goto done;
oom:
	fr_ops_err(R, o, "out of memory");
done:
	json_decref(a);
	json_decref(created);
	fr_free(src);
	fr_free(dst);
	fr_free(stash);
	return ret;
}

/*
 * The modes chmod of abs would change, and of everything under it when
 * recursive (symlinks left alone): [relative path, old mode] appended to
 * modes. Nothing is changed yet.
 */
static int chmod_walk(orun *R, const op *o, const char *abs, int recursive, json_t *modes)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	fr_buf p = FR_BUF_INIT;
	int rc = 0;

	if (lstat(abs, &st)) {
		fr_ops_err(R, o, "cannot change the mode of '%s': %s", fr_ops_rel_of(R, abs), strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode))
		return 0;
	if ((st.st_mode & 07777) != o->mode) {
		json_t *pair = json_pack("[s,i]", fr_ops_rel_of(R, abs), (int)(st.st_mode & 07777));
		if (!pair || json_array_append_new(modes, pair)) {
			fr_ops_err(R, o, "out of memory");
			return -1;
		}
	}
	if (!recursive || !S_ISDIR(st.st_mode))
		return 0;
	if (!(d = opendir(abs))) {
		fr_ops_err(R, o, "cannot list '%s': %s", fr_ops_rel_of(R, abs), strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && !rc) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fr_buf_setf(&p, "%s/%s", abs, de->d_name);
		if (p.oom) {
			fr_ops_err(R, o, "out of memory");
			rc = -1;
		} else {
			rc = chmod_walk(R, o, p.ptr, 1, modes);
		}
	}
	closedir(d);
	fr_buf_release(&p);
	return rc;
}

int fr_ops_chmod(orun *R, const op *o)
{
	json_t *modes = json_array(), *a, *m;
	char *abs = fr_ops_resolve(R, o, o->path, 1);
	fr_buf p = FR_BUF_INIT;
	size_t i;
	int ret = -1, rc;

	if (!abs || !modes)
		goto done;
	if (!fr_ops_exists(abs)) {
		fr_ops_err(R, o, "'%s' does not exist", o->path);
		goto done;
	}
	if (chmod_walk(R, o, abs, o->recursive, modes))
		goto done;
	if (!json_array_size(modes)) {
		ret = 0;
		goto done;
	}
	/* write-ahead: the old modes are in the journal before the first one changes */
	a = fr_ops_action(o);
	if (a)
		json_object_set(a, "modes", modes);
	if (!a || fr_ops_journal_ahead(R, o, a)) {
		if (!a)
			fr_ops_err(R, o, "out of memory");
		json_decref(a);
		goto done;
	}
	rc = 0;
	json_array_foreach(modes, i, m) {
		fr_buf_setf(&p, "%s/%s", R->root, json_string_value(json_array_get(m, 0)));
		if (p.oom || chmod(p.ptr, o->mode)) {
			fr_ops_err(R, o, "cannot change the mode of '%s': %s",
			           json_string_value(json_array_get(m, 0)),
			           strerror(p.oom ? ENOMEM : errno));
			rc = -1;
			break;
		}
	}
	fr_crash_point("op-acted");
	/* recorded even after a failure, so that the modes changed so far are undone */
	if (fr_ops_record(R, o, a))
		goto done;
	ret = rc;
done:
	json_decref(modes);
	fr_buf_release(&p);
	fr_free(abs);
	return ret;
}

int fr_ops_remove(orun *R, const op *o)
{
	json_t *a;
	char *abs = fr_ops_resolve(R, o, o->path, 0), *stash = NULL;
	int ret = -1;

	if (!abs)
		goto done;
	if (!fr_ops_exists(abs)) {
		ret = 0;
		goto done;
	}
	if (!(stash = stash_path(R, o, abs)))
		goto done;
	a = fr_ops_action(o);
	if (a) {
		json_object_set_new(a, "path", json_string(fr_ops_rel_of(R, abs)));
		json_object_set_new(a, "stash", stash_json(R, stash));
	}
	/* Write-ahead: a crash after the move finds the stash in the journal. */
	if (a && fr_ops_journal_ahead(R, o, a)) {
		json_decref(a);
		goto done;
	}
	if (fr_ops_move_path(abs, stash)) {
		fr_ops_err(R, o, "cannot remove '%s' (moving it to '%s'): %s", o->path, stash,
		           strerror(errno));
		json_decref(a);
		goto done;
	}
	ret = fr_ops_record(R, o, a);
done:
	fr_free(abs);
	fr_free(stash);
	return ret;
}
