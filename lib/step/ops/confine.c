/*
 * confine.c - every path of an ops step stays inside the root. The ops
 * file's paths are checked when it is read: relative, without "..",
 * outside .ferry/ (fr_ops_path_problem()). At run time each is resolved
 * component by component (fr_ops_resolve()): a symlink on the way (or at the
 * end, for edits, copy sources and chmod) must point inside the root, or
 * the op is refused naming the op, the path and the link. Also here: the
 * run's root (resolved once) and the messages of a run, which name the op.
 */
#include "ops_int.h"
#include "../../util/alloc.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *fr_ops_path_problem(const char *p)
{
	const char *c = p;
	int real = 0;
	if (!*p)
		return "is empty";
	if (*p == '/')
		return "is absolute";
	while (*c) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return "goes up with '..'";
		if (n == 6 && !memcmp(c, ".ferry", 6) && !real)
			return "is inside .ferry (ferry's own state)";
		if (n && !(n == 1 && c[0] == '.'))
			real = 1;
		c += n;
		while (*c == '/')
			c++;
	}
	if (!real)
		return "names the root itself";
	return NULL;
}

void fr_ops_err(orun *R, const op *o, const char *fmt, ...)
{
	va_list ap;
	if (o)
		fr_buf_printf(R->err, "%s:%d: op '%s': ", R->rel, o->line, fr_ops_names[o->type]);
	else
		fr_buf_printf(R->err, "%s (undo): ", R->step_id);
	va_start(ap, fmt);
	fr_buf_vprintf(R->err, fmt, ap);
	va_end(ap);
}

int fr_ops_inside(const orun *R, const char *real)
{
	return !strncmp(real, R->root, R->rootlen) &&
	       (real[R->rootlen] == '/' || real[R->rootlen] == '\0');
}

const char *fr_ops_rel_of(const orun *R, const char *abs)
{
	return abs[R->rootlen] == '/' ? abs + R->rootlen + 1 : abs + R->rootlen;
}

int fr_ops_orun_init(orun *R, fr_run_ctx *ctx, const char *root, const char *rel,
                     const char *step_id, fr_buf *err)
{
	memset(R, 0, sizeof *R);
	R->ctx = ctx;
	R->rel = rel;
	R->step_id = step_id;
	R->err = err;
	{
		char *r = realpath(root && *root ? root : ".", NULL);
		if (!r) {
			fr_buf_printf(err, "%s: cannot resolve the root '%s': %s", rel, root,
			              strerror(errno));
			return -1;
		}
		R->root = fr_strdup(r);
		free(r);
	}
	if (!R->root) {
		fr_buf_printf(err, "%s: out of memory", rel);
		return -1;
	}
	R->rootlen = strlen(R->root);
	if (R->rootlen == 1)
		R->rootlen = 0; /* the root is "/": every path is inside */
	return 0;
}

char *fr_ops_resolve(orun *R, const op *o, const char *path, int follow)
{
	fr_buf cur = FR_BUF_INIT, ferry = FR_BUF_INIT;
	const char *c = path;
	char *real = NULL;

	fr_buf_puts(&cur, R->root);
	while (*c) {
		const char *e;
		size_t n;
		struct stat st;
		int last;
		while (*c == '/')
			c++;
		e = c + strcspn(c, "/");
		n = (size_t)(e - c);
		if (!n)
			break;
		last = e[strspn(e, "/")] == '\0';
		if (n == 1 && *c == '.') {
			c = e;
			continue;
		}
		fr_buf_putc(&cur, '/');
		fr_buf_add(&cur, c, n);
		c = e;
		if (cur.oom)
			goto oom;
		if (lstat(cur.ptr, &st)) {
			if (errno != ENOENT) {
				fr_ops_err(R, o, "cannot look at '%s': %s", path, strerror(errno));
				goto fail;
			}
			/* the rest does not exist yet */
			while (*c) {
				while (*c == '/')
					c++;
				e = c + strcspn(c, "/");
				if (e > c && !(e - c == 1 && *c == '.')) {
					fr_buf_putc(&cur, '/');
					fr_buf_add(&cur, c, (size_t)(e - c));
				}
				c = e;
			}
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t tl = readlink(cur.ptr, target, sizeof target - 1);
			target[tl > 0 ? tl : 0] = '\0';
			real = realpath(cur.ptr, NULL);
			if (!real && last && !follow)
				continue; /* a dangling link, taken as it is */
			if (!real) {
				fr_ops_err(R, o, "'%s' goes through the symlink '%s', which points to '%s', which "
				           "does not exist", path, fr_ops_rel_of(R, cur.ptr), target);
				goto fail;
			}
			if (!fr_ops_inside(R, real)) {
				fr_ops_err(R, o, "'%s' leads outside the root through the symlink '%s' (-> '%s'); "
				           "ops change only files inside the root", path, fr_ops_rel_of(R, cur.ptr),
				           target);
				goto fail;
			}
			if (!(last && !follow)) {
				fr_buf_reset(&cur);
				fr_buf_puts(&cur, real);
			}
			free(real);
			real = NULL;
		} else if (!last && !S_ISDIR(st.st_mode)) {
			fr_ops_err(R, o, "'%s': '%s' is not a folder", path, fr_ops_rel_of(R, cur.ptr));
			goto fail;
		}
	}
	if (cur.oom)
		goto oom;
	fr_buf_printf(&ferry, "%s/.ferry", R->root);
	if (!strncmp(cur.ptr, ferry.ptr, ferry.len) &&
	    (cur.ptr[ferry.len] == '/' || cur.ptr[ferry.len] == '\0')) {
		fr_ops_err(R, o, "'%s' is inside .ferry (ferry's own state); ops do not change it", path);
		goto fail;
	}
	if (cur.len <= R->rootlen + 1) {
		fr_ops_err(R, o, "'%s' is the root itself", path);
		goto fail;
	}
	fr_buf_release(&ferry);
	return fr_buf_detach(&cur);
oom:
	fr_ops_err(R, o, "out of memory");
fail:
	free(real);
	fr_buf_release(&cur);
	fr_buf_release(&ferry);
	return NULL;
}

void fr_ops_orun_free(orun *R)
{
	size_t i;
	for (i = 0; i < R->nov; i++) {
		fr_free(R->ov[i].abs);
		fr_buf_release(&R->ov[i].base);
		fr_buf_release(&R->ov[i].cur);
	}
	fr_free(R->ov);
	R->ov = NULL;
	R->nov = 0;
	fr_free(R->root);
	fr_free(R->stash_dir);
	R->root = R->stash_dir = NULL;
}

