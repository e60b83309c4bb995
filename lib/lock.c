/*
 * lock.c - flock() on .ferry/lock. The kernel drops the lock when the
 * holding process dies, so there are no stale locks to clean after a crash;
 * the pid/host/since line in the file only tells status who holds it.
 */
#include "lock.h"
#include "../include/ferry.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static char *lock_path(const char *ferry_dir)
{
	return fr_path_join(ferry_dir, "lock");
}

static void read_holder(int fd, fr_lock_holder *h)
{
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	memset(h, 0, sizeof *h);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %255s %63s", &h->pid, h->host, h->since) < 1)
		h->pid = 0;
}

static void describe(fr_buf *err, const fr_lock_holder *h)
{
	if (h->pid)
		fr_buf_printf(err, "another ferry run holds the lock (pid %ld on '%s' since %s); "
		                   "wait for it, or use --wait SECONDS",
		              h->pid, h->host, h->since);
	else
		fr_buf_puts(err, "another ferry run holds the lock; wait for it, or use --wait SECONDS");
}

int fr_lock_acquire(fr_lock *l, const char *ferry_dir, int wait_seconds,
                    volatile sig_atomic_t *stop, fr_buf *err)
{
	char *path = lock_path(ferry_dir);
	char line[512], host[256] = "", since[64];
	double deadline;
	int fd, n;
	if (!path) {
		fr_buf_puts(err, "out of memory");
		return FERRY_EFAILED;
	}
	if (l->fd >= 0) {
		fr_free(path);
		return 0;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fr_buf_printf(err, "cannot open lock file '%s': %s", path, strerror(errno));
		fr_free(path);
		return FERRY_EFAILED;
	}
	fr_free(path);
	deadline = fr_mono_ms() + wait_seconds * 1000.0;
	l->waited = 0;
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		l->waited = 1;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			fr_buf_printf(err, "cannot lock: %s", strerror(errno));
			close(fd);
			return FERRY_EFAILED;
		}
		if (stop && *stop) {
			fr_buf_puts(err, "interrupted while waiting for the lock; nothing was changed");
			close(fd);
			return FERRY_EINTERRUPTED;
		}
		if (fr_mono_ms() >= deadline) {
			fr_lock_holder h;
			read_holder(fd, &h);
			describe(err, &h);
			close(fd);
			return FERRY_ELOCKED;
		}
		{
			struct timespec ts = { 0, 20 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	gethostname(host, sizeof host - 1);
	fr_time_rfc3339(fr_now_ms(), since, sizeof since);
	n = snprintf(line, sizeof line, "%ld %s %s\n", (long)getpid(), host[0] ? host : "-", since);
	if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) != n) {
		/* The holder line is informational; a failed write does not matter. */
	}
	l->fd = fd;
	return 0;
}

void fr_lock_release(fr_lock *l)
{
	if (l->fd < 0)
		return;
	if (ftruncate(l->fd, 0)) {
		/* informational content only */
	}
	flock(l->fd, LOCK_UN);
	close(l->fd);
	l->fd = -1;
}

int fr_lock_probe(const char *ferry_dir, fr_lock_holder *h)
{
	char *path = lock_path(ferry_dir);
	int fd, held;
	memset(h, 0, sizeof *h);
	if (!path)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	fr_free(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		held = 0;
	} else {
		held = 1;
		read_holder(fd, h);
	}
	close(fd);
	return held;
}

int fr_lock_remove(const char *ferry_dir)
{
	char *path = lock_path(ferry_dir);
	int r;
	if (!path)
		return -1;
	r = unlink(path);
	fr_free(path);
	return r == 0 || errno == ENOENT ? 0 : -1;
}
