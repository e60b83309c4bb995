/*
 * write.c - writing a backup archive (fr_backup_create, the estimate):
 * the id, a hidden temporary file in the backup folder, the selected files
 * walked in order, each database's snapshot through its driver (the first
 * one's taken on a thread while the files go in), the manifest last; then
 * the end of the stream, fsync, close, (--verify) the archive read back,
 * rename and fsync of the folder, and a row in state.db. It is said
 * written only when each of those succeeded; on any failure nothing of it
 * is left.
 *
 * Every byte streams through fixed buffers: a file is read and hashed in
 * 1 MiB chunks into a ring, which a writer thread hands to libarchive,
 * whose output goes to our zstd stream (or gzip, or none); the manifest is
 * written line by line to a temporary file and added last.
 */
#include "backup_int.h"
#include "../util/fs.h"
#include "../util/thread.h"
#include "../version.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/*
 * Test-only fault injection: FERRY_FAIL_WRITE_AT=N makes the Nth of the
 * archive's I/O calls fail with ENOSPC, as a full disk would. Counted in
 * order: each write of archive bytes, the manifest's flush, the archive's
 * fsync and close, its rename and the folder's fsync (see
 * tests/cli/backup_truth.bats, which fails each in turn). 0 when unset.
 * FERRY_DROP_WRITE_AT=N makes the Nth write of archive bytes report
 * success and write nothing, as a disk that loses data would: what
 * `backup create --verify` is there to catch.
 */
static void fault_arm(fr_sink *k)
{
	const char *s = getenv("FERRY_FAIL_WRITE_AT"), *d = getenv("FERRY_DROP_WRITE_AT");
	k->fault_at = s ? strtol(s, NULL, 10) : 0;
	k->drop_at = d ? strtol(d, NULL, 10) : 0;
	k->nio = k->nwrites = 0;
}

/* 1 (errno ENOSPC) when this I/O call is the one to fail. */
static int fault_hit(fr_sink *k)
{
	if (k->fault_at > 0 && ++k->nio == k->fault_at) {
		errno = ENOSPC;
		return 1;
	}
	return 0;
}

/*
 * Writes n bytes of the archive to its file; -1 with k->err (and a's error)
 * set. Every BK_WRITEBACK bytes the disk is asked to start writing what
 * came before (Linux), so the fsync at the end finds most of it done
 * instead of the whole archive in the page cache.
 */
static int sink_out(struct archive *a, fr_sink *k, const void *buf, size_t n)
{
	if (k->drop_at > 0 && ++k->nwrites == k->drop_at)
		return 0;
	if (fault_hit(k) || fr_write_all(k->fd, buf, n)) {
		if (!k->err)
			k->err = errno;
		bk_ar.archive_set_error(a, k->err, "%s", strerror(k->err));
		return -1;
	}
	k->written += (uint64_t)n;
#ifdef SYNC_FILE_RANGE_WRITE
	if (k->written - k->flushed >= BK_WRITEBACK) {
		sync_file_range(k->fd, (off_t)k->flushed, (off_t)(k->written - k->flushed),
		                SYNC_FILE_RANGE_WRITE);
		k->flushed = k->written;
	}
#endif
	return 0;
}

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	fr_sink *k = ctx;
	if (!k->z)
		return sink_out(a, k, buf, n) ? -1 : (la_ssize_t)n;
	{
		ZSTD_inBuffer in = { buf, n, 0 };
		while (in.pos < in.size) {
			ZSTD_outBuffer out = { k->out, k->outcap, 0 };
			size_t r = bk_zs.ZSTD_compressStream2(k->z, &out, &in, ZSTD_e_continue);
			if (bk_zs.ZSTD_isError(r)) {
				k->zerr = bk_zs.ZSTD_getErrorName(r);
				bk_ar.archive_set_error(a, EIO, "zstd: %s", k->zerr);
				return -1;
			}
			if (out.pos && sink_out(a, k, k->out, out.pos))
				return -1;
		}
	}
	return (la_ssize_t)n;
}

/*
 * libarchive's close callback. libarchive ignores what it returns, so the
 * zstd frame is not ended here but by sink_finish(), whose result counts.
 */
static int sink_close(struct archive *a, void *ctx)
{
	(void)a;
	(void)ctx;
	return ARCHIVE_OK;
}

/*
 * Ends the zstd frame once libarchive has written its end-of-archive
 * blocks and closed: every byte zstd still holds (with workers, most of
 * the archive) goes out here. 0, or -1 with k->err or k->zerr set.
 */
static int sink_finish(struct archive *a, fr_sink *k)
{
	size_t r;
	if (k->err || k->zerr)
		return -1; /* a write failed, whatever libarchive made of it */
	if (!k->z)
		return 0;
	do {
		ZSTD_inBuffer in = { NULL, 0, 0 };
		ZSTD_outBuffer out = { k->out, k->outcap, 0 };
		r = bk_zs.ZSTD_compressStream2(k->z, &out, &in, ZSTD_e_end);
		if (bk_zs.ZSTD_isError(r)) {
			k->zerr = bk_zs.ZSTD_getErrorName(r);
			return -1;
		}
		if (out.pos && sink_out(a, k, k->out, out.pos))
			return -1;
	} while (r);
	return 0;
}

static int sink_zstd_init(fr_sink *k)
{
	/*
	 * One worker more than the CPUs (up to the bound): the reading thread
	 * and the writer wait on the disk and on each other, and a worker with
	 * a job ready keeps the CPUs busy meanwhile. On 2 CPUs shared with
	 * other work, 3 workers took 0.93x the time of 2 (median of 12
	 * interleaved rounds), as fast on a quiet machine.
	 */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int workers = cpus < 2 ? 0 : cpus >= BK_ZSTD_MAX_WORKERS ? BK_ZSTD_MAX_WORKERS : (int)cpus + 1;
	k->z = bk_zs.ZSTD_createCCtx();
	k->outcap = 512 * 1024;
	k->out = fr_malloc(k->outcap);
	if (!k->z || !k->out)
		return -1;
	bk_zs.ZSTD_CCtx_setParameter(k->z, ZSTD_c_compressionLevel, BK_ZSTD_LEVEL);
	/* A libzstd built without threads refuses workers: it then compresses on this one. */
	if (workers && !bk_zs.ZSTD_isError(bk_zs.ZSTD_CCtx_setParameter(k->z, ZSTD_c_nbWorkers, workers)))
		bk_zs.ZSTD_CCtx_setParameter(k->z, ZSTD_c_jobSize, BK_ZSTD_JOB);
	return 0;
}

static void sink_free(fr_sink *k)
{
	if (k->z)
		bk_zs.ZSTD_freeCCtx(k->z);
	fr_free(k->out);
	k->z = NULL;
	k->out = NULL;
}

/* ---- the archive written on a thread of its own ---- */

/*
 * Reading and hashing a file on one side, libarchive and zstd on the other
 * (zstd copies the bytes into its jobs, its workers compress them, and
 * what comes out is written to the archive): the caller's thread reads and
 * hashes into a ring of WQ_SLOTS chunks, and a writer thread hands each to
 * libarchive in order, so the two overlap as tar and zstd do in a pipe.
 * A slot is an entry's header or a chunk of its data. The writer allocates
 * nothing through ferry's allocator; while an allocation failure is armed
 * there is no thread, and each slot is written when it is posted.
 */
#define WQ_SLOTS 4

enum { WQ_HEADER = 1, WQ_DATA };

typedef struct {
	int kind;
	struct archive_entry *e; /* WQ_HEADER */
	unsigned char *buf;      /* WQ_DATA: len bytes of BK_CHUNK */
	size_t len;
} wq_slot;

typedef struct {
	struct archive *a;
	fr_sink *sink;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	wq_slot slot[WQ_SLOTS];
	size_t posted, done;     /* slots handed to the writer / written (or skipped) */
	int quit, failed;
	char name[PATH_MAX];     /* the entry being written, for messages */
	char msg[PATH_MAX + 256]; /* why the writer failed */
} fr_wq;

/* Writes one slot into the archive; on failure sets q->failed and q->msg. */
static void wq_do(fr_wq *q, wq_slot *s)
{
	if (s->kind == WQ_HEADER) {
		const char *p = bk_ar.archive_entry_pathname(s->e);
		snprintf(q->name, sizeof q->name, "%s", p ? p : "?");
		if (bk_ar.archive_write_header(q->a, s->e) < ARCHIVE_WARN) {
			snprintf(q->msg, sizeof q->msg, "cannot add '%s': %s", q->name, q->sink->err ?
			         strerror(q->sink->err) : bk_ar.archive_error_string(q->a));
			q->failed = 1;
		}
	} else if (bk_ar.archive_write_data(q->a, s->buf, s->len) != (la_ssize_t)s->len) {
		snprintf(q->msg, sizeof q->msg, "cannot write '%s' into the archive: %s", q->name,
		         q->sink->err ? strerror(q->sink->err) : bk_ar.archive_error_string(q->a));
		q->failed = 1;
	}
}

static void *wq_run(void *arg)
{
	fr_wq *q = arg;
	locale_t old = bk_utf8_enter(); /* libarchive's names, as on the caller's thread */
	pthread_mutex_lock(&q->mu);
	for (;;) {
		wq_slot *s;
		int skip;
		while (q->done == q->posted && !q->quit)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->done == q->posted)
			break;
		s = &q->slot[q->done % WQ_SLOTS];
		skip = q->failed || q->quit;
		pthread_mutex_unlock(&q->mu);
		/* Only this thread writes q->failed and q->msg, and reads them unlocked. */
		if (!skip)
			wq_do(q, s);
		pthread_mutex_lock(&q->mu);
		q->done++;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	bk_utf8_leave(old);
	return NULL;
}

/* Puts the writer's message into w->err; -1. */
static int wq_fail(fr_writer *w)
{
	fr_wq *q = w->wq;
	if (!w->err.len)
		fr_buf_puts(&w->err, q->msg);
	return -1;
}

/* The next free slot (waiting for one); NULL with w->err set when the writer failed. */
static wq_slot *wq_next(fr_writer *w)
{
	fr_wq *q = w->wq;
	int failed;
	if (!q->started)
		return q->failed ? (wq_fail(w), NULL) : &q->slot[q->posted % WQ_SLOTS];
	pthread_mutex_lock(&q->mu);
	while (!q->failed && q->posted - q->done >= WQ_SLOTS)
		pthread_cond_wait(&q->cv, &q->mu);
	failed = q->failed;
	pthread_mutex_unlock(&q->mu);
	return failed ? (wq_fail(w), NULL) : &q->slot[q->posted % WQ_SLOTS];
}

/* Hands the slot wq_next() gave to the writer; -1 with w->err set when the writer failed. */
static int wq_post(fr_writer *w)
{
	fr_wq *q = w->wq;
	int failed;
	if (!q->started) {
		wq_do(q, &q->slot[q->posted++ % WQ_SLOTS]);
		return q->failed ? wq_fail(w) : 0;
	}
	pthread_mutex_lock(&q->mu);
	q->posted++;
	pthread_cond_broadcast(&q->cv);
	failed = q->failed;
	pthread_mutex_unlock(&q->mu);
	return failed ? wq_fail(w) : 0;
}

/* Waits until every slot posted is written: the archive is the caller's again. */
static int wq_drain(fr_writer *w)
{
	fr_wq *q = w->wq;
	int failed;
	if (!q->started)
		return q->failed ? wq_fail(w) : 0;
	pthread_mutex_lock(&q->mu);
	while (q->done != q->posted)
		pthread_cond_wait(&q->cv, &q->mu);
	failed = q->failed;
	pthread_mutex_unlock(&q->mu);
	return failed ? wq_fail(w) : 0;
}

/* Stops the writer (what is posted and not written yet is dropped) and frees it all. */
static void wq_free(fr_writer *w)
{
	fr_wq *q = w->wq;
	size_t i;
	if (!q)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->mu);
		q->quit = 1;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->thread, NULL);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	for (i = 0; i < WQ_SLOTS; i++) {
		if (q->slot[i].e)
			bk_ar.archive_entry_free(q->slot[i].e);
		fr_free(q->slot[i].buf);
	}
	fr_free(q);
	w->wq = NULL;
}

/* The ring for w->a, and its thread unless an allocation failure is armed; -1 on OOM. */
static int wq_start(fr_writer *w)
{
	fr_wq *q = fr_calloc(1, sizeof *q);
	size_t i;
	if (!q)
		return -1;
	q->a = w->a;
	q->sink = &w->sink;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	w->wq = q;
	for (i = 0; i < WQ_SLOTS; i++)
		if (!(q->slot[i].e = bk_ar.archive_entry_new()) ||
		    !(q->slot[i].buf = fr_malloc(BK_CHUNK)))
			return -1;
	/* No thread (or none to be had): each slot is written as it is posted. */
	if (!fr_alloc_faults_armed() && fr_thread_start(&q->thread, wq_run, q) == 0)
		q->started = 1;
	return 0;
}

/* The next slot, holding a header for path as st says (its size 0); NULL with w->err set. */
static struct archive_entry *entry_start(fr_writer *w, const char *path, const struct stat *st,
                                         unsigned type)
{
	wq_slot *s = wq_next(w);
	struct archive_entry *e;
	if (!s)
		return NULL;
	s->kind = WQ_HEADER;
	e = s->e;
	bk_ar.archive_entry_clear(e);
	bk_ar.archive_entry_set_pathname(e, path);
	bk_ar.archive_entry_set_filetype(e, type);
	bk_ar.archive_entry_set_perm(e, st->st_mode & 07777);
	bk_ar.archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	bk_ar.archive_entry_set_uid(e, st->st_uid);
	bk_ar.archive_entry_set_gid(e, st->st_gid);
	return e;
}

/* Adds the regular file at full as name, hashing what goes in. */
static int add_file(fr_writer *w, const char *name, const char *full, const struct stat *lst,
                    int in_manifest)
{
	struct stat st;
	struct archive_entry *e;
	char sha[65];
	int64_t left, size;
	int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME), rc = -1;
	if (fd < 0 && errno == EPERM)
		fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* removed while we walked: it is not part of the backup */
		fr_buf_printf(&w->err, "cannot read '%s': %s", full, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		fr_buf_printf(&w->err, "cannot read '%s': not a regular file any more", full);
		goto done;
	}
	if (lst)
		st.st_mode = (st.st_mode & ~07777u) | (lst->st_mode & 07777);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	size = left = st.st_size;
	if (!(e = entry_start(w, name, &st, AE_IFREG)))
		goto done;
	bk_ar.archive_entry_set_size(e, size);
	if (wq_post(w))
		goto done;
	while (left > 0) {
		size_t want = left > BK_CHUNK ? BK_CHUNK : (size_t)left;
		wq_slot *s = wq_next(w);
		ssize_t n;
		if (!s)
			goto done;
		while ((n = read(fd, s->buf, want)) < 0 && errno == EINTR)
			;
		if (n < 0) {
			fr_buf_printf(&w->err, "cannot read '%s': %s", full, strerror(errno));
			goto done;
		}
		if (n == 0) {
			/* Shrunk while we read: the header promised size bytes, so zeros follow. */
			memset(s->buf, 0, want);
			n = (ssize_t)want;
			if (!w->changed_warned++)
				fr_log(w->f, FERRY_LOG_WARN, NULL, "'%s' changed while it was backed up",
				       name);
		}
		if (fr_sha256_update(w->md, s->buf, (size_t)n)) {
			fr_buf_puts(&w->err, "cannot hash: libcrypto failed");
			goto done;
		}
		s->kind = WQ_DATA;
		s->len = (size_t)n;
		if (wq_post(w))
			goto done;
		left -= n;
		w->bytes += (uint64_t)n;
		bk_prog_at(&w->prog, w->bytes);
		if (w->f->interrupted) {
			rc = FERRY_EINTERRUPTED;
			goto done;
		}
	}
	if (fr_sha256_hex_reset(w->md, sha)) {
		fr_buf_puts(&w->err, "cannot hash: libcrypto failed");
		goto done;
	}
	rc = in_manifest ? bk_man_entry(w, name, "file", &st, size, sha, NULL) : 0;
done:
	close(fd);
	return rc;
}

static int add_walked(fr_walk *wk, int event, const char *rel, const char *full,
                      const struct stat *st, const char *link, int sel)
{
	fr_writer *w = wk->ctx;
	fr_buf name = FR_BUF_INIT;
	int rc = -1;
	(void)sel;
	if (event == WALK_LEAVE)
		return 0;
	if (fr_buf_printf(&name, "files/%s", rel)) {
		fr_buf_puts(&w->err, "out of memory");
		return -1;
	}
	if (S_ISREG(st->st_mode)) {
		rc = add_file(w, name.ptr, full, st, 1);
	} else {
		int dir = S_ISDIR(st->st_mode);
		struct archive_entry *e = entry_start(w, name.ptr, st, dir ? AE_IFDIR : AE_IFLNK);
		if (e && !dir)
			bk_ar.archive_entry_set_symlink(e, link);
		rc = !e || wq_post(w) ? -1 : bk_man_entry(w, name.ptr, dir ? "dir" : "symlink", st, 0,
		                                          NULL, dir ? NULL : link);
	}
	fr_buf_release(&name);
	if (rc > 0)
		return rc;
	return rc ? -1 : 0;
}

/* Totals of a walk: entries and content bytes, and the bytes of uncompressed tar. */
typedef struct {
	uint64_t entries, bytes, tar;
} fr_totals;

static int count_walked(fr_walk *wk, int event, const char *rel, const char *full,
                        const struct stat *st, const char *link, int sel)
{
	fr_totals *t = wk->ctx;
	(void)full;
	(void)link;
	(void)sel;
	if (event == WALK_LEAVE)
		return 0;
	t->entries++;
	/* A header, and a pax header too for long or non-ASCII names. */
	t->tar += 512 + (strlen(rel) > 90 ? 1024 : 0);
	if (S_ISREG(st->st_mode)) {
		t->bytes += (uint64_t)st->st_size;
		t->tar += ((uint64_t)st->st_size + 511) / 512 * 512;
	}
	return 0;
}

/* The bytes of a database's files here (0 for a server, or one not created yet). */
static uint64_t db_file_size(const fr_dbconf *c)
{
	fr_buf err = FR_BUF_INIT;
	char **files = NULL;
	size_t n = 0, i;
	uint64_t bytes = 0;
	struct stat st;
	if (fr_db_files(c, &files, &n, &err) == 0 && n && stat(files[0], &st) == 0) {
		bytes = (uint64_t)st.st_size;
		for (i = 1; i < n; i++)
			if (stat(files[i], &st) == 0)
				bytes += (uint64_t)st.st_size; /* the copy holds what a WAL holds */
	}
	fr_strv_free(files, n);
	fr_buf_release(&err);
	return bytes;
}

static int totals(ferry *f, fr_totals *t, uint64_t *db_bytes, uint64_t *db_max)
{
	fr_walk wk;
	fr_sel sel;
	size_t i;
	int rc;
	memset(t, 0, sizeof *t);
	memset(&wk, 0, sizeof wk);
	if (bk_sel_init(&sel, f, NULL, NULL, 0))
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	wk.f = f;
	wk.sel = &sel;
	wk.fn = count_walked;
	wk.ctx = t;
	wk.quiet = 1;
	fr_buf_init(&wk.err);
	rc = bk_walk(&wk);
	if (rc == FERRY_EINTERRUPTED)
		rc = fr_fail(f, rc, "interrupted; nothing was written");
	else if (rc)
		rc = fr_fail_msg(f, FERRY_EFAILED, wk.err.ptr);
	fr_buf_release(&wk.err);
	bk_sel_free(&sel);
	*db_bytes = *db_max = 0;
	for (i = 0; i < f->cfg->ndbs; i++) {
		uint64_t n = db_file_size(&f->cfg->dbs[i]);
		*db_bytes += n;
		if (n > *db_max)
			*db_max = n;
	}
	return rc;
}

int64_t fr_backup_estimate(ferry *f)
{
	fr_totals t;
	uint64_t dbs, dbmax;
	if (totals(f, &t, &dbs, &dbmax))
		return -1;
	/* tar of files and databases, each database's temporary copy, the manifest, the end. */
	return (int64_t)(t.tar + dbs + f->cfg->ndbs * 1024 + dbmax + t.entries * 256 + 65536);
}

/* A word for a type or label: letters, digits and those of extra; not empty. */
static int word_ok(const char *s, const char *extra)
{
	if (!s || !*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr(extra, *s)))
			return 0;
	return 1;
}

/* Removes temporary files of backups whose process is gone (killed mid-way). */
static void clean_stale(const char *dir)
{
	char **names = NULL;
	size_t n = 0, i;
	if (bk_list_dir(dir, &names, &n))
		return;
	for (i = 0; i < n; i++) {
		const char *t = strstr(names[i], ".tmp-");
		long pid;
		char *end;
		if (names[i][0] != '.' || !t)
			continue;
		pid = strtol(t + 5, &end, 10);
		if (*end || pid <= 0 || (kill((pid_t)pid, 0) && errno == ESRCH)) {
			char *p = fr_path_join(dir, names[i]);
			if (p)
				unlink(p);
			fr_free(p);
		}
	}
	fr_strv_free(names, n);
}

/* Creates the backup folder private (0700, whatever the umask) when it is missing. */
static int backup_dir_ready(ferry *f)
{
	const char *dir = f->cfg->backup_dir;
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return fr_fail(f, FERRY_EFAILED, "backup folder '%s' is not a folder; fix "
			               "backup.dir in ferry.yaml", dir);
		return 0;
	}
	if (fr_mkdir_p(dir, 0700) || chmod(dir, 0700))
		return fr_fail(f, FERRY_EFAILED, "cannot create backup folder '%s': %s; fix "
		               "backup.dir in ferry.yaml or the folder's permissions", dir,
		               strerror(errno));
	return 0;
}

/* ---- the databases: the first one's copy taken while the files go in ---- */

/*
 * A file database (SQLite) is copied in-process: the first one's copy is
 * taken on a thread of its own while the files are archived, and added
 * after them. Only one copy exists at a time, as fr_backup_estimate()
 * counts. A server's dump runs a child process, which is started from the
 * engine's thread only: it is taken in turn, as are later databases.
 */
typedef struct {
	const fr_dbconf *c;
	const char *tmp;
	size_t index;       /* in the manifest's databases */
	pthread_t thread;
	int threaded;       /* the copy of index is taken on the thread */
	int started, rc;    /* the thread runs (not joined yet); its result */
	fr_buf err;
} fr_snap;

static int snap_take(const fr_dbconf *c, const char *tmp, fr_buf *err)
{
	fr_db *db = NULL;
	int rc;
	unlink(tmp);
	if (fr_db_open(&db, c, err))
		return -1;
	rc = db->drv->snapshot(db, tmp, err);
	fr_db_close(db);
	if (rc)
		unlink(tmp);
	return rc ? -1 : 0;
}

static void *snap_run(void *arg)
{
	fr_snap *sn = arg;
	sn->rc = snap_take(sn->c, sn->tmp, &sn->err);
	return NULL;
}

/* Starts the first file database's copy, when there is one and a thread may be had. */
static void snap_start(fr_snap *sn, ferry *f, json_t *dbs, const char *tmp)
{
	size_t i;
	json_t *o;
	fr_buf_init(&sn->err);
	if (fr_alloc_faults_armed()) /* the Nth allocation stays the Nth */
		return;
	json_array_foreach(dbs, i, o) {
		if (!json_string_value(json_object_get(o, "entry")))
			continue;
		if (!fr_db_can(&f->cfg->dbs[i], FR_DB_CAP_FILES))
			return;
		sn->c = &f->cfg->dbs[i];
		sn->tmp = tmp;
		sn->index = i;
		unlink(tmp);
		sn->threaded = sn->started = fr_thread_start(&sn->thread, snap_run, sn) == 0;
		return;
	}
}

/* Waits for the copy started, if any; its result, with why in sn->err. */
static int snap_join(fr_snap *sn)
{
	if (!sn->started)
		return 0;
	pthread_join(sn->thread, NULL);
	sn->started = 0;
	return sn->rc;
}

/* The databases, after the files: each one's copy, added as a file, then removed. */
static int add_databases(fr_writer *w, ferry *f, json_t *dbs, const char *tmp, fr_snap *sn)
{
	size_t i;
	json_t *o;
	json_array_foreach(dbs, i, o) {
		const char *entry = json_string_value(json_object_get(o, "entry"));
		const fr_dbconf *c = &f->cfg->dbs[i];
		struct stat st;
		int rc;
		if (!entry)
			continue;
		if (sn->threaded && i == sn->index) {
			if (snap_join(sn)) {
				fr_buf_puts(&w->err, sn->err.ptr ? sn->err.ptr : "cannot copy the database");
				return -1;
			}
		} else if (snap_take(c, tmp, &w->err)) {
			return -1;
		}
		if (stat(tmp, &st)) {
			fr_buf_printf(&w->err, "database '%s': its copy vanished", c->name);
			return -1;
		}
		st.st_mode = S_IFREG | 0600;
		st.st_mtim.tv_sec = (time_t)(w->now_ms / 1000);
		st.st_mtim.tv_nsec = 0;
		rc = add_file(w, entry, tmp, &st, 1);
		unlink(tmp);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * The id of a new backup: app, the time in UTC, made unique within the
 * second ("-2", "-3"...), the name and the type. -1 after failing f, or
 * on OOM with f's code left 0.
 */
static int new_id(ferry *f, int64_t now_ms, const char *name, const char *type, fr_buf *id)
{
	char stamp[32], *app = bk_app_token(f->cfg->app);
	time_t secs = (time_t)(now_ms / 1000);
	bk_row *rows = NULL;
	size_t nrows = 0, i;
	struct tm tm;
	int k, taken = 1;
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
	if (!app || bk_gather(f, &rows, &nrows, 0)) {
		fr_free(app);
		return -1;
	}
	for (k = 1; taken && k < 1000; k++) {
		fr_buf_reset(id);
		fr_buf_printf(id, "%s_%s", app, stamp);
		if (k > 1)
			fr_buf_printf(id, "-%d", k);
		if (name)
			fr_buf_printf(id, "_%s", name);
		fr_buf_printf(id, "_%s", type);
		taken = 0;
		for (i = 0; i < nrows && !taken; i++)
			taken = !strcmp(rows[i].id, id->ptr);
		for (i = 0; bk_exts[i] && !taken; i++) {
			fr_buf p = FR_BUF_INIT;
			fr_buf_printf(&p, "%s/%s%s", f->cfg->backup_dir, id->ptr, bk_exts[i]);
			taken = fr_exists(p.ptr);
			fr_buf_release(&p);
		}
	}
	bk_rows_free(rows, nrows);
	fr_free(app);
	return 0;
}

/* Removes the database copy at tmp and what SQLite may have left beside it. */
static void unlink_db_copy(const char *tmp)
{
	static const char *const sfx[] = { "-journal", "-wal", "-shm" };
	fr_buf p = FR_BUF_INIT;
	size_t i;
	unlink(tmp);
	for (i = 0; i < sizeof sfx / sizeof *sfx; i++) {
		fr_buf_reset(&p);
		fr_buf_printf(&p, "%s%s", tmp, sfx[i]);
		if (!p.oom)
			unlink(p.ptr);
	}
	fr_buf_release(&p);
}

/*
 * backup create --verify: the archive at tmp read back whole and held
 * against its manifest, as `backup verify` does. 0 when it is good; else
 * a code, with why in err.
 */
static int read_back(ferry *f, const char *tmp, fr_buf *err)
{
	fr_reader r;
	json_t *man = NULL;
	int rc;
	memset(&r, 0, sizeof r);
	r.f = f;
	rc = bk_read_archive(&r, tmp, "verify", &man);
	if (rc == FERRY_EINTERRUPTED) {
		/* f's message is the reader's: the caller says none was written. */
	} else if (rc) {
		fr_buf_printf(err, "cannot read it back: %s", ferry_errmsg(f));
	} else if (r.nfind) {
		fr_buf_puts(err, "reading it back found it damaged: ");
		bk_findings_text(&r, err);
		rc = FERRY_EFAILED;
	}
	json_decref(man);
	bk_reader_free(&r);
	return rc;
}

/*
 * One function because the archive is one stream with one single exit:
 * the temporary files and the open archive it holds from the checks to
 * the rename are removed on every failure, and only there.
 */
int bk_create(ferry *f, const char *type, const char *name, const char *compression,
              int verify, char **out_id)
{
	fr_writer w;
	fr_walk wk;
	fr_sel sel;
	fr_snap sn;
	fr_totals t;
	fr_version cur;
	fr_buf id = FR_BUF_INIT, path = FR_BUF_INIT, tmp = FR_BUF_INIT, mtmp = FR_BUF_INIT,
	       dtmp = FR_BUF_INIT, err = FR_BUF_INIT;
	json_t *dbs = NULL;
	char version[FR_VERSION_STR_MAX];
	const char *ext;
	uint64_t db_bytes = 0, db_max = 0;
	int fd = -1, mfd = -1, rc = FERRY_EFAILED, took = 0, zstd, gzip, bad, renamed = 0;
	time_t secs;
	bk_row row;

	*out_id = NULL;
	memset(&w, 0, sizeof w);
	memset(&wk, 0, sizeof wk);
	memset(&sel, 0, sizeof sel);
	memset(&sn, 0, sizeof sn);
	fr_buf_init(&w.err);
	fr_buf_init(&wk.err);
	fr_buf_init(&sn.err);
	w.sink.fd = -1;
	if (!type)
		type = "manual";
	if (!compression)
		compression = f->cfg->backup_compression ? f->cfg->backup_compression : "zstd";
	if (!word_ok(type, "-"))
		return fr_fail(f, FERRY_EINVALID, "invalid backup type '%s' (use letters, digits "
		               "and '-')", type);
	if (name && !word_ok(name, "._-"))
		return fr_fail(f, FERRY_EINVALID, "invalid backup name '%s' (use letters, digits, "
		               "'.', '_' and '-', at most 64)", name);
	zstd = !strcmp(compression, "zstd");
	gzip = !strcmp(compression, "gzip");
	if (!zstd && !gzip && strcmp(compression, "none"))
		return fr_fail(f, FERRY_EINVALID, "unknown compression '%s' (use zstd, gzip or none)",
		               compression);
	ext = zstd ? ".tar.zst" : gzip ? ".tar.gz" : ".tar";
	if ((rc = bk_lock_take(f, &took)))
		return rc;
	if ((rc = fr_current(f, &cur)) || (rc = backup_dir_ready(f)) ||
	    (rc = bk_load_libs(f, zstd)))
		goto done;
	rc = FERRY_EFAILED;
	clean_stale(f->cfg->backup_dir);
	fr_version_format(&cur, version, sizeof version);
	dbs = bk_db_list(f, &bad, &err);
	if (bad) {
		rc = fr_fail_msg(f, FERRY_EFAILED, err.ptr);
		goto done;
	}
	if ((rc = totals(f, &t, &db_bytes, &db_max)))
		goto done;
	rc = FERRY_EFAILED;

	w.now_ms = fr_now_ms();
	secs = (time_t)(w.now_ms / 1000);
	if (new_id(f, w.now_ms, name, type, &id))
		goto oom_or_fail;
	fr_buf_printf(&path, "%s/%s%s", f->cfg->backup_dir, id.ptr, ext);
	fr_buf_printf(&tmp, "%s/.%s%s.tmp-%ld", f->cfg->backup_dir, id.ptr, ext, (long)getpid());
	fr_buf_printf(&mtmp, "%s/.%s.manifest.tmp-%ld", f->cfg->backup_dir, id.ptr, (long)getpid());
	fr_buf_printf(&dtmp, "%s/.%s.db.tmp-%ld", f->cfg->backup_dir, id.ptr, (long)getpid());
	if (id.oom || path.oom || tmp.oom || mtmp.oom || dtmp.oom)
		goto oom;

	fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	mfd = open(mtmp.ptr, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || mfd < 0 || fchmod(fd, 0600)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot create a backup in '%s': %s",
		             f->cfg->backup_dir, strerror(errno));
		goto done;
	}
	if (!(w.man = fdopen(mfd, "w+")))
		goto oom;
	mfd = -1;
	w.f = f;
	w.sink.fd = fd;
	fault_arm(&w.sink);
	w.md = fr_sha256_new();
	w.a = bk_ar.archive_write_new();
	if (!w.md || !w.a || (zstd && sink_zstd_init(&w.sink)))
		goto oom;
	/* pax, not pax_restricted: every entry keeps its mtime to the nanosecond. */
	if (bk_ar.archive_write_set_format_pax(w.a) != ARCHIVE_OK ||
	    (gzip && bk_ar.archive_write_add_filter_gzip(w.a) != ARCHIVE_OK) ||
	    bk_ar.archive_write_set_bytes_per_block(w.a, 0) != ARCHIVE_OK ||
	    bk_ar.archive_write_open(w.a, &w.sink, NULL, sink_write, sink_close) != ARCHIVE_OK) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot start the archive: %s",
		             bk_ar.archive_error_string(w.a));
		goto done;
	}
	if (wq_start(&w) || bk_sel_init(&sel, f, NULL, NULL, 0))
		goto oom;
	bk_prog_start(&w.prog, f, "backup", t.bytes + db_bytes);
	fr_log(f, FERRY_LOG_DEBUG, NULL, "backup '%s': %llu files and folders, %llu bytes",
	       id.ptr, (unsigned long long)t.entries, (unsigned long long)(t.bytes + db_bytes));
	if (bk_man_head(&w, f, id.ptr, type, name, version, compression, dbs))
		goto werr;
	snap_start(&sn, f, dbs, dtmp.ptr);

	wk.f = f;
	wk.sel = &sel;
	wk.fn = add_walked;
	wk.ctx = &w;
	if ((rc = bk_walk(&wk)) != 0) {
		if (rc != FERRY_EINTERRUPTED && wk.err.len)
			fr_buf_puts(&w.err, wk.err.ptr);
		goto werr;
	}
	if ((rc = add_databases(&w, f, dbs, dtmp.ptr, &sn)) != 0 || (rc = wq_drain(&w)) != 0)
		goto werr;

	/* The manifest's tail, then the manifest itself as the last entry. */
	fprintf(w.man, "\n  ],\n  \"entry_count\": %zu,\n  \"content_bytes\": %llu\n}\n",
	        w.nentries, (unsigned long long)w.bytes);
	if (fault_hit(&w.sink) || fflush(w.man) || ferror(w.man)) {
		if (!w.sink.err)
			w.sink.err = errno;
		fr_buf_printf(&w.err, "cannot write the manifest: %s", strerror(w.sink.err));
		goto werr;
	}
	{
		struct stat st;
		memset(&st, 0, sizeof st);
		st.st_mode = S_IFREG | 0600;
		st.st_mtim.tv_sec = secs;
		st.st_uid = getuid();
		st.st_gid = getgid();
		if ((rc = add_file(&w, "MANIFEST.json", mtmp.ptr, &st, 0)) != 0 ||
		    (rc = wq_drain(&w)) != 0)
			goto werr;
	}
	/* The archive is written only when its last byte is on disk: each of these counts. */
	if (bk_ar.archive_write_close(w.a) != ARCHIVE_OK || sink_finish(w.a, &w.sink)) {
		fr_buf_printf(&w.err, "cannot finish the archive: %s", w.sink.err ?
		              strerror(w.sink.err) : w.sink.zerr ? w.sink.zerr :
		              bk_ar.archive_error_string(w.a));
		goto werr;
	}
	if (fault_hit(&w.sink) || fsync(fd)) {
		w.sink.err = errno;
		fr_buf_printf(&w.err, "cannot sync the archive: %s", strerror(errno));
		goto werr;
	}
	{
		int e = fault_hit(&w.sink) ? ENOSPC : 0;
		if (close(fd) && !e)
			e = errno;
		fd = -1;
		if (e) {
			w.sink.err = e;
			fr_buf_printf(&w.err, "cannot write the archive: %s", strerror(w.sink.err));
			goto werr;
		}
	}
	if (verify && (rc = read_back(f, tmp.ptr, &w.err)) != 0)
		goto werr;
	if (fault_hit(&w.sink) || rename(tmp.ptr, path.ptr)) {
		w.sink.err = errno;
		fr_buf_printf(&w.err, "cannot rename the archive into place: %s", strerror(errno));
		goto werr;
	}
	renamed = 1;
	if (fault_hit(&w.sink) || fr_fsync_parent(path.ptr)) {
		w.sink.err = errno;
		fr_buf_printf(&w.err, "cannot sync the backup folder: %s", strerror(errno));
		goto werr;
	}
	bk_prog_end(&w.prog);

	memset(&row, 0, sizeof row);
	row.id = id.ptr;
	row.path = path.ptr;
	row.version = version;
	row.type = (char *)type;
	{
		struct stat st;
		row.size = stat(path.ptr, &st) == 0 ? st.st_size : 0;
	}
	row.created_at_ms = w.now_ms;
	row.verified = verify ? 1 : 0;
	if ((rc = bk_row_put(f, &row)))
		goto done;
	fr_log(f, FERRY_LOG_INFO, NULL, "backup '%s' written (%lld bytes)%s", id.ptr,
	       (long long)row.size, verify ? ", read back whole" : "");
	*out_id = fr_buf_detach(&id);
	if (!*out_id)
		goto oom;
	fr_ok(f);
	rc = 0;
	goto done;

werr:
	wq_free(&w); /* the writer stopped: w.sink is read below */
	if (rc == FERRY_EINTERRUPTED) {
		rc = fr_fail(f, rc, "interrupted; no backup was written");
	} else {
		rc = fr_fail(f, FERRY_EFAILED, "cannot write backup '%s': %s%s", id.ptr,
		             w.err.len ? w.err.ptr : "unknown error",
		             w.sink.err == ENOSPC || w.sink.err == EDQUOT ?
		             "; free some space or set backup.dir in ferry.yaml to a larger disk" : "");
	}
	goto done;
oom_or_fail:
	if (f->errcode) {
		rc = f->errcode;
		goto done;
	}
oom:
	rc = fr_fail(f, FERRY_EFAILED, "out of memory");
done:
	wq_free(&w);
	snap_join(&sn);
	if (w.a)
		bk_ar.archive_write_free(w.a); /* closes what is open: the sink's fd is ours */
	if (w.md)
		fr_sha256_free(w.md);
	sink_free(&w.sink);
	if (w.man)
		fclose(w.man);
	if (mfd >= 0)
		close(mfd);
	if (fd >= 0)
		close(fd);
	if (mtmp.len)
		unlink(mtmp.ptr);
	if (dtmp.len)
		unlink_db_copy(dtmp.ptr);
	if (rc && tmp.len)
		unlink(tmp.ptr);
	if (rc && renamed) {
		unlink(path.ptr); /* recorded nowhere: do not leave it for list to show */
		fr_fsync_parent(path.ptr);
	}
	json_decref(dbs);
	bk_sel_free(&sel);
	fr_buf_release(&sn.err);
	fr_buf_release(&wk.err);
	fr_buf_release(&w.err);
	fr_buf_release(&id);
	fr_buf_release(&path);
	fr_buf_release(&tmp);
	fr_buf_release(&mtmp);
	fr_buf_release(&dtmp);
	fr_buf_release(&err);
	bk_lock_give(f, took);
	return rc;
}

int fr_backup_create(ferry *f, const char *type, const char *name, char **out_id)
{
	locale_t old = bk_utf8_enter();
	int rc = bk_create(f, type, name, NULL, 0, out_id);
	bk_utf8_leave(old);
	return rc;
}

int ferry_backup_create(char **out_id, ferry *f, const ferry_backup_options *opts)
{
	const char *type = NULL, *name = NULL, *comp = NULL;
	locale_t old;
	int rc, verify = 0;
	*out_id = NULL;
	if (opts && opts->version >= 1) {
		type = opts->type;
		name = opts->name;
		comp = opts->compression;
	}
	if (opts && opts->version >= 2) /* older callers' structs end before it */
		verify = opts->verify;
	old = bk_utf8_enter();
	rc = bk_create(f, type, name, comp, verify, out_id);
	bk_utf8_leave(old);
	return rc;
}
