/*
 * noop.c - the start-up check before the catalog (docs/design.md, "The
 * no-op start reads no catalog"). A digest of what the catalog is made
 * from: every entry of every migrations folder, at every depth (name,
 * size, modification and change times, inode, mode), ferry.yaml's stat,
 * which database files exist,
 * the native steps the application registered, the target asked for and
 * this build's version. A clean no-op (run.c) stores it, folded with the
 * current version, beside its own fingerprint; while it matches, the next
 * no-op `up` or `status` answers from the listing alone: no step is read,
 * no catalog is built, no registry row is read.
 *
 * Git's racy rule holds here too: an entry modified or changed less than
 * 2 seconds ago gives no digest (0), so the full check runs.
 *
 * An open handle also watches what it listed (inotify: every folder of the
 * listing and ferry.yaml), armed before the listing is read. After a clean
 * no-op, a later ferry_up() on the same handle for the same target is
 * answered by a quiet watch, state.db unchanged (PRAGMA data_version, and
 * no write of this connection) and, with a shared database, the version it
 * holds: no stat at all. The watch is not trusted (every call lists again)
 * when a step file has a second hard link (an edit through another name
 * tells no watched folder), on a file system that does not report every
 * change (NFS, FUSE: only local ones are trusted), or when the kernel's
 * queue overflowed. The ferry tool opens its handles FERRY_OPEN_ONE_SHOT
 * and never arms one: closing an inotify descriptor that holds watches
 * waits for the kernel (synchronize_srcu, up to milliseconds), so a closed
 * handle's descriptor, its watches removed, waits in a pool for the
 * process's next handle instead of being closed.
 */
#include "ferry_int.h"
#include "actions.h"
#include "state.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/statmemo.h"

#include "util/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MAX_DEPTH 8

/* The handle's watch and the clean no-op it vouches for. */
struct fr_noop {
	int fd;              /* inotify, or -1 */
	int *wd;             /* the watches of the last listing */
	size_t nwd, cwd;
	int armed;           /* every folder of the last listing and ferry.yaml are watched */
	int valid;           /* a clean no-op was remembered since the watch was armed */
	char *target;        /* what it was for (NULL: the latest) */
	fr_version cur;
	int64_t data_version, changes;
	uint64_t present;    /* fr_dbs_present() then */
};

typedef struct {
	uint64_t sum;   /* of every entry's digest: the order of a listing does not matter */
	uint64_t n;
	int64_t fresh;  /* times after this are too fresh to trust */
	int bad;
	struct fr_noop *q; /* the watch being armed, or NULL */
	fr_buf path;       /* the folder being read, for inotify_add_watch */
	fr_statmemo *memo; /* each entry's stat, for the catalog read next, or NULL */
	fr_buf dir;        /* the folder being read, as the catalog names it (with memo) */
	int dir_id;        /* its number in the memo */
} walk;

#define DIR_EVENTS                                                                   \
	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)
#define FILE_EVENTS (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)

/* ---- the watch ---- */

/* One descriptor of a closed handle, its watches gone, for the next one. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static int pool_fd = -1;

/* Whether fs reports every change to a watch: the local file systems. */
static int local_fs(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf))
		return 0;
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC: /* ext2, ext3 too */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
	case F2FS_SUPER_MAGIC:
	case OVERLAYFS_SUPER_MAGIC:
	case 0x2fc12fc1: /* zfs */
		return 1;
	default:
		return 0;
	}
}

/* Reads every queued event; 1 when none was (the watch is quiet). */
static int drain(struct fr_noop *q)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int quiet = 1;
	for (;;) {
		ssize_t n = read(q->fd, buf, sizeof buf);
		if (n <= 0)
			return quiet && n < 0 && errno == EAGAIN;
		quiet = 0;
	}
}

/* Removes the watches of the last listing (their IN_IGNORED drained). */
static void unwatch(struct fr_noop *q)
{
	size_t i;
	for (i = 0; i < q->nwd; i++)
		inotify_rm_watch(q->fd, q->wd[i]);
	q->nwd = 0;
	q->armed = 0;
	q->valid = 0;
	if (q->fd >= 0)
		drain(q);
}

static void add_watch(walk *w, const char *path, uint32_t mask, int fd)
{
	struct fr_noop *q = w->q;
	int wd;
	if (!q || !q->armed)
		return;
	if (!local_fs(fd) || (wd = inotify_add_watch(q->fd, path, mask)) < 0 ||
	    fr_grow(&q->wd, &q->cwd, q->nwd + 1, sizeof *q->wd)) {
		q->armed = 0;
		return;
	}
	q->wd[q->nwd++] = wd;
}

/* The handle's watch, emptied and ready for a listing; NULL when it has none. */
static struct fr_noop *arm(ferry *f)
{
	struct fr_noop *q = f->noop;
	if (f->one_shot)
		return NULL;
	if (!q) {
		if (!(q = fr_calloc(1, sizeof *q)))
			return NULL;
		q->fd = -1;
		f->noop = q;
	}
	if (q->fd < 0) {
		pthread_mutex_lock(&pool_mu);
		q->fd = pool_fd;
		pool_fd = -1;
		pthread_mutex_unlock(&pool_mu);
		if (q->fd < 0)
			q->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (q->fd < 0)
			return NULL; /* no inotify here (or no instance left): every call lists */
	}
	unwatch(q);
	q->armed = 1;
	return q;
}

void fr_noop_forget(ferry *f)
{
	if (f->noop)
		f->noop->valid = 0;
}

void fr_noop_close(ferry *f)
{
	struct fr_noop *q = f->noop;
	if (!q)
		return;
	if (q->fd >= 0) {
		unwatch(q);
		pthread_mutex_lock(&pool_mu);
		if (pool_fd < 0) {
			pool_fd = q->fd;
			q->fd = -1;
		}
		pthread_mutex_unlock(&pool_mu);
		if (q->fd >= 0)
			close(q->fd);
	}
	fr_free(q->wd);
	fr_free(q->target);
	fr_free(q);
	f->noop = NULL;
}

static int same_target(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

void fr_noop_remember(ferry *f, const char *target, const fr_version *cur)
{
	struct fr_noop *q = f->noop;
	char *t = NULL;
	if (!q || !q->armed)
		return;
	if (target && !(t = fr_strdup(target)))
		return;
	fr_free(q->target);
	q->target = t;
	q->cur = *cur;
	q->data_version = fr_state_data_version(f->state);
	q->changes = fr_state_changes(f->state);
	q->present = fr_dbs_present(f);
	q->valid = q->data_version >= 0;
}

int fr_noop_again(ferry *f, const char *target, fr_version *cur)
{
	struct fr_noop *q = f->noop;
	if (!q || !q->valid || !q->armed || !same_target(q->target, target))
		return 0;
	q->valid = 0;
	if (!drain(q)) {
		q->armed = 0; /* something changed: list again, with a new watch */
		return 0;
	}
	/* No watch looks at the databases' folders: a stat each (a file database gone). */
	if (fr_state_data_version(f->state) != q->data_version ||
	    fr_state_changes(f->state) != q->changes || fr_dbs_present(f) != q->present)
		return 0;
	if (fr_shared_record(f)) {
		/* Another machine may have moved the shared version: read it again. */
		if (fr_current(f, cur) || fr_version_cmp(cur, &q->cur) != 0)
			return 0;
	} else {
		*cur = q->cur;
	}
	q->valid = 1;
	return 1;
}

/* ---- the listing ---- */

/* An entry's digest under seed (its folder's); 0 with w->bad when too fresh. */
static uint64_t entry(walk *w, uint64_t seed, const char *name, const struct stat *st)
{
	int64_t m = fr_mtime_ns(st), c = fr_stamp_ns(st); /* c: the change time when later */
	uint64_t h;
	if (c > w->fresh) {
		w->bad = 1;
		return 0;
	}
	if (w->q && !S_ISDIR(st->st_mode) && st->st_nlink > 1)
		w->q->armed = 0; /* an edit through its other name would tell no watched folder */
	{
		int64_t k[5] = { (int64_t)st->st_size, m, c, (int64_t)st->st_ino,
		                 (int64_t)st->st_mode };
		h = fr_mix64(fr_mix64(seed, k, sizeof k), name, strlen(name));
	}
	w->sum += h;
	w->n++;
	return h;
}

/* Every entry of the folder dfd (taken: closed here) but hidden ones, and its folders'. */
static void walk_dir(walk *w, int dfd, uint64_t seed, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	if (!d) {
		close(dfd);
		w->bad = 1;
		return;
	}
	while (!w->bad) {
		struct stat st;
		uint64_t h;
		errno = 0;
		if (!(e = readdir(d))) {
			if (errno)
				w->bad = 1;
			break;
		}
		if (e->d_name[0] == '.')
			continue; /* no layout reads hidden files */
		if (w->q && e->d_type != DT_REG && e->d_type != DT_DIR)
			w->q->armed = 0; /* a link's target changes where no watch looks */
		if (fstatat(dirfd(d), e->d_name, &st, 0)) {
			w->bad = 1; /* gone meanwhile, or a dangling link: let the catalog say */
			break;
		}
		if (w->memo && fr_statmemo_put(w->memo, w->dir_id, e->d_name, &st))
			w->memo = NULL; /* out of memory: the catalog stats for itself */
		h = entry(w, seed, e->d_name, &st);
		if (h && S_ISDIR(st.st_mode)) {
			size_t len = w->path.len, dlen = w->dir.len;
			int sub, parent = w->dir_id;
			if (depth >= MAX_DEPTH ||
			    (sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
				w->bad = 1;
				break;
			}
			if (w->q && w->q->armed) {
				fr_buf_printf(&w->path, "/%s", e->d_name);
				add_watch(w, w->path.ptr, DIR_EVENTS | IN_ONLYDIR, sub);
			}
			if (w->memo) {
				fr_buf_printf(&w->dir, "/%s", e->d_name);
				if (w->dir.oom || (w->dir_id = fr_statmemo_dir(w->memo, w->dir.ptr)) < 0)
					w->memo = NULL;
			}
			walk_dir(w, sub, h, depth + 1);
			fr_buf_truncate(&w->path, len);
			if (w->memo) {
				fr_buf_truncate(&w->dir, dlen);
				w->dir_id = parent;
			}
		}
	}
	closedir(d);
}

/* 1 when no part of path is a symbolic link: it names the same folder tomorrow. */
static int real_path(const char *path)
{
	char *r = realpath(path, NULL);
	int same = r && strcmp(r, path) == 0;
	free(r);
	return same;
}

/* A source folder: its own stat, then its entries; a folder that is not there counts as such. */
static void walk_source(walk *w, const char *path)
{
	struct stat st;
	uint64_t h;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno != ENOENT)
			w->bad = 1;
		else
			w->sum += fr_mix64(0x6e6f6e65, path, strlen(path) + 1); /* "none" */
		if (w->q)
			w->q->armed = 0; /* nothing watches for it to appear */
		return;
	}
	if (w->q && w->q->armed && !real_path(path))
		w->q->armed = 0; /* a link on the way may point elsewhere later */
	if (fstat(dfd, &st)) {
		close(dfd);
		w->bad = 1;
		return;
	}
	h = entry(w, 0x736f75726365ULL, path, &st); /* "source" */
	if (!h) {
		close(dfd);
		return;
	}
	if (w->q && w->q->armed) {
		fr_buf_reset(&w->path);
		fr_buf_puts(&w->path, path);
		add_watch(w, path, DIR_EVENTS | IN_ONLYDIR, dfd);
	}
	if (w->memo) {
		fr_buf_reset(&w->dir);
		fr_buf_puts(&w->dir, path);
		if (w->dir.oom || (w->dir_id = fr_statmemo_dir(w->memo, path)) < 0)
			w->memo = NULL;
	}
	walk_dir(w, dfd, h, 0);
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	return s ? fr_mix64(h, s, strlen(s) + 1) : fr_mix64(h, "", 0);
}

uint64_t fr_noop_listing(ferry *f, const char *target, int watch, int memo)
{
	walk w = { 0, 0, (fr_now_ms() - 2000) * 1000000LL, 0, NULL, FR_BUF_INIT, NULL, FR_BUF_INIT, -1 };
	struct stat st;
	uint64_t h = 14695981039346656037ULL;
	size_t i;
	int cfd;
	/*
	 * What it stats, the catalog read next in this call need not stat
	 * again (fr_load_catalog): asked for when no digest is stored that
	 * could answer, so the catalog will be read.
	 */
	fr_statmemo_end(f);
	if (memo)
		w.memo = f->statmemo = fr_statmemo_new();
	/* Armed before anything is read: a change from here on is in its queue. */
	w.q = watch ? arm(f) : NULL;
	if (w.q) {
		if (!real_path(f->cfg->path) ||
		    (cfd = open(f->cfg->path, O_RDONLY | O_CLOEXEC)) < 0) {
			w.q->armed = 0;
		} else {
			add_watch(&w, f->cfg->path, FILE_EVENTS, cfd);
			close(cfd);
		}
	}
	if (stat(f->cfg->path, &st))
		return 0;
	h = entry(&w, h, f->cfg->path, &st);
	if (h) {
		if (f->cfg->nsources)
			for (i = 0; i < f->cfg->nsources && !w.bad; i++)
				walk_source(&w, f->cfg->sources[i].path);
		else if (f->cfg->migrations)
			walk_source(&w, f->cfg->migrations);
	}
	fr_buf_release(&w.path);
	fr_buf_release(&w.dir);
	if (!h || w.bad) {
		if (w.q)
			w.q->armed = 0;
		return 0;
	}
	h = fr_mix64(h, &w.sum, sizeof w.sum);
	h = fr_mix64(h, &w.n, sizeof w.n);
	for (i = 0; i < f->nnatives; i++) {
		const ferry_native_step *n = &f->natives[i];
		h = mix_str(h, n->id);
		h = mix_str(h, n->from);
		h = mix_str(h, n->to);
		h = mix_str(h, n->description);
	}
	h = fr_mix64(h, &f->nnatives, sizeof f->nnatives);
	{
		uint64_t present = fr_dbs_present(f); /* a database file gone: the full check */
		h = fr_mix64(h, &present, sizeof present);
	}
	h = mix_str(h, target ? target : "\001latest");
	h = mix_str(h, FERRY_VERSION_STRING);
	return h ? h : 1;
}

uint64_t fr_noop_quick_fp(uint64_t listing, const fr_version *cur)
{
	char v[FR_VERSION_STR_MAX];
	uint64_t h;
	fr_version_format(cur, v, sizeof v);
	h = fr_mix64(listing, v, strlen(v) + 1);
	return h ? h : 1;
}

void fr_noop_quick_read(ferry *f, fr_noop_state *q)
{
	memset(q, 0, sizeof *q);
	q->running = 1;
	/* One read transaction: the version (when state.db keeps it) and the digest agree. */
	fr_state_begin_read(f->state);
	if (fr_shared_record(f)) {
		/* The version is the shared database's (read after the listing); the rest is this machine's. */
		fr_run_row r;
		int found = 1;
		if (fr_state_running(f->state, &r, &found))
			goto no;
		if (found)
			fr_run_row_clear(&r);
		q->running = found;
		q->stored = fr_state_quick_fp(f->state);
	} else {
		fr_buf v = FR_BUF_INIT;
		int bad = fr_state_quick_read(f->state, &v, &q->stored, &q->running) || !v.len ||
		          fr_version_parse(&q->cur, v.ptr, NULL);
		fr_buf_release(&v);
		if (bad)
			goto no; /* no version recorded (a version file's, say): the full check */
	}
	q->ok = 1;
	return;
no:
	q->stored = 0;
	fr_state_commit(f->state);
}

int fr_noop_quick(ferry *f, uint64_t listing, const fr_noop_state *q, fr_version *cur,
                  int *running)
{
	*running = 1;
	if (!q->ok)
		return 0;
	*running = q->running;
	if (!listing || !q->stored)
		goto no;
	if (fr_shared_record(f)) {
		if (fr_current(f, cur))
			goto no;
	} else {
		*cur = q->cur;
	}
	if (q->stored == fr_noop_quick_fp(listing, cur))
		return 1;
no:
	fr_state_commit(f->state);
	return 0;
}
