/*
 * copy.c - the copy of an installation into a new root for a rehearsal
 * (fr_copy_installation): the files walked as a backup walks them, but
 * all of them, absolute links into the root pointed into the copy, and
 * state.db and each file database copied consistently.
 */
#include "backup_int.h"
#include "../util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
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

/* A consistent copy of an SQLite file database with the online backup API. */
static int copy_sqlite(sqlite3 *src, const char *to, fr_buf *err)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc;
	rc = sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK) {
		b = sqlite3_backup_init(dst, "main", src, "main");
		if (b) {
			rc = sqlite3_backup_step(b, -1);
			rc = sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE ? SQLITE_OK :
			     sqlite3_errcode(dst);
		} else {
			rc = sqlite3_errcode(dst);
		}
	}
	if (rc != SQLITE_OK)
		fr_buf_printf(err, "cannot copy to '%s': %s", to, dst ? sqlite3_errmsg(dst) :
		              sqlite3_errstr(rc));
	sqlite3_close(dst);
	return rc == SQLITE_OK ? 0 : -1;
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
	if (copy_sqlite(fr_state_sqlite(f->state), p.ptr, err)) {
		rc = -1;
		goto done;
	}
	for (i = 0; i < f->cfg->ndbs; i++) {
		const fr_dbconf *dc = &f->cfg->dbs[i];
		char *rel = NULL;
		sqlite3 *src = NULL;
		int bad;
		if (!dc->path || strcmp(dc->driver, "sqlite") || !fr_exists(dc->path))
			continue;
		fr_buf_reset(&p);
		if (bk_rel_of(f->root, dc->path, &rel) == 0 && rel && *rel)
			fr_buf_printf(&p, "%s/%s", real, rel);
		else
			fr_buf_printf(&p, "%s/.ferry/databases/%s.sqlite", real, dc->name);
		fr_free(rel);
		{
			char *slash = strrchr(p.ptr, '/');
			*slash = '\0';
			bad = fr_mkdir_p(p.ptr, 0755);
			*slash = '/';
		}
		if (bad || p.oom) {
			fr_buf_printf(err, "cannot create the folder of '%s': %s", p.ptr, strerror(errno));
			rc = -1;
			goto done;
		}
		bad = sqlite3_open_v2(dc->path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK;
		if (!bad) {
			sqlite3_busy_timeout(src, 5000);
			bad = copy_sqlite(src, p.ptr, err);
		} else {
			fr_buf_printf(err, "database '%s': cannot open '%s': %s", dc->name, dc->path,
			              src ? sqlite3_errmsg(src) : "out of memory");
		}
		sqlite3_close(src);
		if (bad) {
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
