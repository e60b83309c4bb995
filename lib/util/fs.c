/* fs.c - file helpers: whole-file reads, atomic writes, mkdir -p, clocks. */
#include "fs.h"
#include "alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <libgen.h>
#include <time.h>
#include <unistd.h>

int fr_read_file(const char *path, fr_buf *out)
{
	char tmp[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (fr_buf_add(out, tmp, (size_t)n)) {
			close(fd);
			errno = ENOMEM;
			return -1;
		}
	}
	if (n < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

int fr_fsync_parent(const char *path)
{
	char *dir = fr_strdup(path);
	char *slash;
	int fd, r;
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (!slash)
		dir[0] = '.', dir[1] = '\0';
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fr_free(dir);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int fr_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fr_tmp_path(fr_buf *out, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
	fr_buf_add(out, path, dir);
	return fr_buf_printf(out, "." FR_TMP_MARK "%s.%ld", path + dir, (long)getpid());
}

int fr_is_tmp_name(const char *name)
{
	size_t ml = strlen(FR_TMP_MARK);
	const char *dot;
	if (name[0] != '.' || strncmp(name + 1, FR_TMP_MARK, ml))
		return 0;
	dot = strrchr(name + 1 + ml, '.');
	if (!dot || dot == name + 1 + ml || !dot[1])
		return 0;
	return strspn(dot + 1, "0123456789") == strlen(dot + 1);
}

int fr_sweep_tmp(const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;
	fr_buf p = FR_BUF_INIT;
	int n = 0;
	if (depth < 0 || !(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, ".git"))
			continue;
		fr_buf_setf(&p, "%s/%s", dir, de->d_name);
		if (p.oom || lstat(p.ptr, &st))
			continue;
		if (S_ISDIR(st.st_mode))
			n += fr_sweep_tmp(p.ptr, depth - 1);
		else if (fr_is_tmp_name(de->d_name) && unlink(p.ptr) == 0)
			n++;
	}
	closedir(d);
	fr_buf_release(&p);
	return n;
}

int fr_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	fr_buf tmp = FR_BUF_INIT;
	struct stat st;
	int fd = -1, e, have_old;
	have_old = stat(path, &st) == 0;
	if (fr_tmp_path(&tmp, path)) {
		fr_buf_release(&tmp); /* what the path had before the allocation failed */
		errno = ENOMEM;
		return -1;
	}
	fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	          have_old ? (st.st_mode & 07777) : mode);
	if (fd < 0)
		goto fail;
	if (have_old) {
		if (fchmod(fd, st.st_mode & 07777))
			goto fail;
		if (fchown(fd, st.st_uid, st.st_gid) && errno != EPERM)
			goto fail;
	}
	if (fr_write_all(fd, data, len) || fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp.ptr, path))
		goto fail;
	fr_buf_release(&tmp);
	return fr_fsync_parent(path);
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp.ptr);
	fr_buf_release(&tmp);
	errno = e;
	return -1;
}

int fr_mkdir_p(const char *path, mode_t mode)
{
	char *p = fr_strdup(path), *s;
	struct stat st;
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	for (s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) && errno != EEXIST) {
				int e = errno;
				fr_free(p);
				errno = e;
				return -1;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	if (stat(p, &st) || !S_ISDIR(st.st_mode)) {
		fr_free(p);
		errno = ENOTDIR;
		return -1;
	}
	fr_free(p);
	return 0;
}

char *fr_path_join(const char *a, const char *b)
{
	fr_buf r = FR_BUF_INIT;
	size_t la;
	if (!a || !*a || b[0] == '/')
		return fr_strdup(b);
	la = strlen(a);
	fr_buf_add(&r, a, la);
	if (a[la - 1] != '/')
		fr_buf_putc(&r, '/');
	while (b[0] == '.' && b[1] == '/')
		b += 2;
	fr_buf_puts(&r, b);
	return fr_buf_detach(&r);
}

int fr_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int fr_writable(const char *path)
{
	struct stat sb;
	char *dir;
	int ok;
	errno = 0;
	if (fr_exists(path)) {
		ok = access(path, W_OK) == 0;
		if (ok) {
			dir = fr_strdup(path);
			ok = dir && (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ?
			             access(path, W_OK | X_OK) == 0 :
			             access(dirname(dir), W_OK | X_OK) == 0);
			fr_free(dir);
		}
	} else {
		dir = fr_strdup(path);
		while (dir && strcmp(dir, "/") && strcmp(dir, ".")) {
			char *up = dirname(dir);
			if (up != dir)
				memmove(dir, up, strlen(up) + 1);
			if (fr_exists(dir))
				break;
		}
		ok = dir && access(dir, W_OK | X_OK) == 0;
		fr_free(dir);
	}
	if (!ok && !errno)
		errno = EACCES;
	return ok;
}

int64_t fr_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

int64_t fr_stamp_ns(const struct stat *st)
{
	int64_t m = fr_mtime_ns(st);
	int64_t c = (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
	return c > m ? c : m;
}

int64_t fr_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double fr_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void fr_time_rfc3339(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT ? -1 : 0;
}

int fr_rmtree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int64_t fr_free_bytes(const char *path)
{
	char *dir = fr_strdup(path);
	struct statvfs sv;
	int64_t r = -1;
	while (dir && !fr_exists(dir) && strcmp(dir, "/") && strcmp(dir, ".")) {
		char *up = dirname(dir);
		if (up != dir)
			memmove(dir, up, strlen(up) + 1);
	}
	if (dir && statvfs(dir, &sv) == 0)
		r = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
	fr_free(dir);
	return r;
}
