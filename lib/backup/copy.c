/*
 * copy.c - the copy of an installation into a new root for a rehearsal
 * (fr_copy_installation): the files walked as a backup walks them, but
 * all of them, absolute links into the root pointed into the copy, and
 * state.db and each file database copied consistently while the
 * application may be writing (state.c and the database drivers copy them).
 */
#include "backup_int.h"
#include "../util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
	ferry *f;
	const char *dest;
	unsigned char *buf;
	fr_buf *err;
} fr_copy;

static int copy_data(int in, int out, unsigned char *buf)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return -1;
		break;
	}
	for (;;) {
		ssize_t n = read(in, buf, BK_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (fr_write_all(out, buf, (size_t)n))
			return -1;
	}
}

static int copy_walked(fr_walk *wk, int event, const char *rel, const char *full,
                       const struct stat *st, const char *link, int sel)
{
	fr_copy *c = wk->ctx;
	char *to = bk_join(c->dest, rel);
	struct timespec ts[2];
	int rc = -1;
	(void)sel;
	if (!to) {
		fr_buf_puts(c->err, "out of memory");
		return -1;
	}
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = st->st_mtim;
	if (event == WALK_LEAVE) {
		/* The folder's own time, once its entries stopped changing it. */
		utimensat(AT_FDCWD, to, ts, AT_SYMLINK_NOFOLLOW);
		rc = 0;
	} else if (S_ISDIR(st->st_mode)) {
		if (mkdir(to, 0700) && errno != EEXIST)
			fr_buf_printf(c->err, "cannot create '%s': %s", to, strerror(errno));
		else if (chmod(to, st->st_mode & 07777))
			fr_buf_printf(c->err, "cannot set the mode of '%s': %s", to, strerror(errno));
		else
			rc = 0;
	} else if (S_ISLNK(st->st_mode)) {
		/* An absolute link into the root points into the copy, never at the original. */
		const char *in = link[0] == '/' ? bk_rel_in_root(c->f->root, link) : NULL;
		char *target = in ? (*in ? bk_join(c->dest, in) : fr_strdup(c->dest)) : fr_strdup(link);
		if (!target || symlink(target, to))
			fr_buf_printf(c->err, "cannot create link '%s': %s", to, strerror(errno));
		else
			rc = 0;
		if (!rc)
			utimensat(AT_FDCWD, to, ts, AT_SYMLINK_NOFOLLOW);
		fr_free(target);
	} else {
		int in = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1;
		if (in < 0 && errno == ENOENT) {
			fr_free(to);
			return 0;
		}
		if (in >= 0)
			out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (in < 0 || out < 0 || copy_data(in, out, c->buf) ||
		    fchmod(out, st->st_mode & 07777) || futimens(out, ts))
			fr_buf_printf(c->err, "cannot copy '%s' to '%s': %s", full, to, strerror(errno));
		else
			rc = 0;
		if (in >= 0)
			close(in);
		if (out >= 0 && close(out) && !rc) {
			fr_buf_printf(c->err, "cannot copy '%s': %s", to, strerror(errno));
			rc = -1;
		}
	}
	fr_free(to);
	return rc;
}

int fr_copy_db_path(ferry *f, const fr_dbconf *dc, const char *real, char **out, fr_buf *err)
{
	const fr_db_driver *drv = fr_db_driver_find(dc->driver);
	fr_buf p = FR_BUF_INIT;
	char **files = NULL, *rel = NULL;
	size_t n = 0;
	*out = NULL;
	if (fr_db_files(dc, &files, &n, err))
		return -1;
	if (n) {
		if (bk_rel_of(f->root, files[0], &rel) == 0 && rel && *rel)
			fr_buf_printf(&p, "%s/%s", real, rel);
		else
			fr_buf_printf(&p, "%s/.ferry/databases/%s%s", real, dc->name,
			              drv && drv->snapshot_ext ? drv->snapshot_ext : "");
	}
	fr_free(rel);
	fr_strv_free(files, n);
	if (p.oom) {
		fr_buf_release(&p);
		fr_buf_puts(err, "out of memory");
		return -1;
	}
	*out = n ? fr_buf_detach(&p) : NULL;
	fr_buf_release(&p);
	return 0;
}

/*
 * Copies the file database dc into the copy at real, through its driver,
 * where fr_copy_db_path() says. One not created yet is left out.
 */
static int copy_db(ferry *f, const fr_dbconf *dc, const char *real, fr_buf *err)
{
	char *to = NULL, *slash;
	int rc = -1, bad;
	if (!fr_db_exists(dc))
		return 0;
	if (fr_copy_db_path(f, dc, real, &to, err))
		return -1;
	if (!to)
		return 0;
	slash = strrchr(to, '/');
	*slash = '\0';
	bad = fr_mkdir_p(to, 0755);
	*slash = '/';
	if (bad)
		fr_buf_printf(err, "cannot create the folder of '%s': %s", to, strerror(errno));
	else
		rc = fr_db_copy(dc, to, err);
	fr_free(to);
	return rc;
}

int fr_copy_installation(ferry *f, const char *dest_root, fr_buf *err)
{
	fr_copy c;
	fr_walk wk;
	fr_sel sel;
	fr_buf p = FR_BUF_INIT;
	char real[PATH_MAX];
	size_t i;
	int rc = -1;
	struct stat rst;
	memset(&wk, 0, sizeof wk);
	memset(&c, 0, sizeof c);
	fr_buf_init(&wk.err);
	if (fr_mkdir_p(dest_root, 0700) || !realpath(dest_root, real)) {
		fr_buf_printf(err, "cannot create '%s': %s", dest_root, strerror(errno));
		return -1;
	}
	if (bk_rel_in_root(f->root, real) || bk_rel_in_root(real, f->root)) {
		fr_buf_printf(err, "cannot copy the installation into '%s': it overlaps '%s'", real,
		              f->root);
		return -1;
	}
	if (bk_sel_init(&sel, f, NULL, NULL, 1)) {
		fr_buf_puts(err, "out of memory");
		return -1;
	}
	c.f = f;
	c.dest = real;
	c.err = err;
	c.buf = fr_malloc(BK_CHUNK);
	wk.f = f;
	wk.sel = &sel;
	wk.fn = copy_walked;
	wk.ctx = &c;
	wk.quiet = 1;
	if (!c.buf) {
		fr_buf_puts(err, "out of memory");
		goto done;
	}
	rc = bk_walk(&wk);
	if (rc) {
		if (wk.err.len)
			fr_buf_puts(err, wk.err.ptr);
		else if (rc == FERRY_EINTERRUPTED)
			fr_buf_puts(err, "interrupted");
		rc = -1;
		goto done;
	}
	if (stat(f->root, &rst) == 0)
		chmod(real, rst.st_mode & 07777);
	/* ferry's state, so that the copy opens at the same version with the same registry. */
	fr_buf_printf(&p, "%s/.ferry", real);
	if (p.oom || fr_mkdir_p(p.ptr, 0755)) {
		fr_buf_printf(err, "cannot create '%s': %s", p.ptr, strerror(errno));
		rc = -1;
		goto done;
	}
	fr_buf_puts(&p, "/state.db");
	if (p.oom || fr_state_copy(f->state, p.ptr, err)) {
		rc = -1;
		goto done;
	}
	for (i = 0; i < f->cfg->ndbs; i++) {
		/* Only file databases: a server's is the caller's to clone. */
		if (fr_db_can_copy(&f->cfg->dbs[i]) && copy_db(f, &f->cfg->dbs[i], real, err)) {
			rc = -1;
			goto done;
		}
	}
	rc = 0;
done:
	fr_free(c.buf);
	fr_buf_release(&wk.err);
	fr_buf_release(&p);
	bk_sel_free(&sel);
	return rc;
}
