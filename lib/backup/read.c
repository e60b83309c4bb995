/*
 * read.c - reading a backup archive, for verify and for the extraction
 * of a restore: each entry checked as it comes by one set of rules for
 * both (entry_allowed: names, links, what may be written, once only),
 * hashed in one pass, written into the staging folder when
 * restoring, then the whole held against the manifest. A zstd archive is
 * decompressed on a thread of its own into a ring of chunks.
 */
#include "backup_int.h"
#include "../util/fs.h"
#include "../util/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

const char *bk_disk_error(struct archive *a, char *buf, size_t n)
{
	int e = bk_ar.archive_errno(a);
	const char *m = bk_ar.archive_error_string(a);
	if (e > 0 && e < 4096 && (!m || !strstr(m, strerror(e))))
		snprintf(buf, n, "%s: %s", m ? m : "failed", strerror(e));
	else
		snprintf(buf, n, "%s", m ? m : "failed");
	return buf;
}

/*
 * s as a JSON string. Text JSON cannot hold (bytes that are not UTF-8 by
 * jansson's rules: overlong forms, surrogates, above U+10FFFF) has each
 * byte above 0x7f written as \xNN, so a finding about a hostile name
 * still says what it is about.
 */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	fr_buf b = FR_BUF_INIT;
	const unsigned char *p;
	if (j)
		return j;
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x80)
			fr_buf_putc(&b, (char)*p);
		else
			fr_buf_printf(&b, "\\x%02x", *p);
	}
	j = b.oom ? NULL : json_string(b.ptr ? b.ptr : "");
	fr_buf_release(&b);
	return j ? j : json_string("(text that is not UTF-8)");
}

void bk_finding(fr_reader *r, const char *kind, const char *subject, const char *fmt, ...)
{
	fr_buf m = FR_BUF_INIT;
	json_t *o = json_object();
	va_list ap;
	va_start(ap, fmt);
	fr_buf_vprintf(&m, fmt, ap);
	va_end(ap);
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "subject", json_text(subject ? subject : "(no name)"));
	json_object_set_new(o, "message", json_text(m.ptr ? m.ptr : ""));
	json_array_append_new(r->findings, o);
	r->nfind++;
	fr_buf_release(&m);
}

static fr_rec *rec_push(fr_reader *r, const char *path, char type)
{
	fr_rec *x;
	if (fr_grow(&r->recs, &r->caprecs, r->nrecs + 1, sizeof *r->recs))
		return NULL;
	x = &r->recs[r->nrecs];
	memset(x, 0, sizeof *x);
	if (!(x->path = fr_strdup(path)))
		return NULL;
	x->type = type;
	r->nrecs++;
	return x;
}

int bk_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const fr_rec *)a)->path, ((const fr_rec *)b)->path);
}

fr_rec *bk_rec_find(fr_reader *r, const char *path)
{
	fr_rec key;
	key.path = (char *)path;
	return r->nrecs ? bsearch(&key, r->recs, r->nrecs, sizeof key, bk_rec_cmp) : NULL;
}

/*
 * The entry name made canonical: no "./" in front, no trailing '/'. NULL
 * when unsafe: absolute, with a ".." or an empty component.
 */
static char *name_norm(const char *name)
{
	const char *p;
	size_t n;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	n = strlen(name);
	while (n && name[n - 1] == '/')
		n--;
	if (!n || name[0] == '/')
		return NULL;
	for (p = name; p < name + n; p = bk_segnext(p, bk_seglen(p))) {
		size_t k = bk_seglen(p);
		if (p + k > name + n)
			k = (size_t)(name + n - p);
		if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
			return NULL;
		if (!p[k])
			break;
	}
	return fr_strndup(name, n);
}

/* "files/<rel>" -> rel; NULL for other names. */
static const char *files_rel(const char *name)
{
	return !strncmp(name, "files/", 6) && name[6] ? name + 6 : NULL;
}

/*
 * Follows the staged link at rel (below top) as the kernel would once the
 * tree is at root, through the links staged so far: 1 when it stays
 * inside. Components not there (yet) resolve lexically.
 */
int bk_resolves_inside(const char *top, const char *root, const char *rel)
{
	fr_buf cur = FR_BUF_INIT, rest = FR_BUF_INIT, full = FR_BUF_INIT, next = FR_BUF_INIT;
	char target[PATH_MAX];
	int hops = 0, inside = 0;
	fr_buf_puts(&rest, rel);
	while (rest.len) {
		size_t n = bk_seglen(rest.ptr), cl = cur.len;
		struct stat st;
		char comp[NAME_MAX * 4 + 1];
		if (n >= sizeof comp)
			goto done;
		memcpy(comp, rest.ptr, n);
		comp[n] = '\0';
		next.len = 0;
		fr_buf_reset(&next);
		fr_buf_puts(&next, bk_segnext(rest.ptr, n));
		fr_buf_reset(&rest);
		fr_buf_puts(&rest, next.ptr);
		if (!n || !strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			char *slash;
			if (!cur.len)
				goto done; /* above the root */
			slash = strrchr(cur.ptr, '/');
			fr_buf_truncate(&cur, slash ? (size_t)(slash - cur.ptr) : 0);
			continue;
		}
		if (cur.len)
			fr_buf_putc(&cur, '/');
		fr_buf_puts(&cur, comp);
		fr_buf_reset(&full);
		fr_buf_printf(&full, "%s/%s", top, cur.ptr);
		if (cur.oom || full.oom || rest.oom)
			goto done;
		if (lstat(full.ptr, &st) || !S_ISLNK(st.st_mode))
			continue;
		{
			ssize_t k = readlink(full.ptr, target, sizeof target - 1);
			if (k < 0 || ++hops > BK_LINK_HOPS)
				goto done;
			target[k] = '\0';
		}
		fr_buf_truncate(&cur, cl); /* the link is replaced by its target */
		fr_buf_reset(&next);
		if (target[0] == '/') {
			const char *in = bk_rel_in_root(root, target);
			if (!in)
				goto done;
			fr_buf_truncate(&cur, 0);
			fr_buf_puts(&next, in);
		} else {
			fr_buf_puts(&next, target);
		}
		if (rest.len) {
			fr_buf_putc(&next, '/');
			fr_buf_puts(&next, rest.ptr);
		}
		fr_buf_reset(&rest);
		fr_buf_puts(&rest, next.ptr);
	}
	inside = !cur.oom && !rest.oom;
done:
	fr_buf_release(&cur);
	fr_buf_release(&rest);
	fr_buf_release(&full);
	fr_buf_release(&next);
	return inside;
}

/* 1 for a block of zeros worth a hole; most blocks are told by their first byte. */
static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	return n >= 4096 && b[0] == 0 && memcmp(b, b + 1, n - 1) == 0;
}

static int hash_bytes(fr_reader *r, const void *p, size_t n)
{
	return fr_sha256_update(r->md, p, n);
}

/*
 * Starts writing a staged file to disk without waiting (Linux): the sync
 * before the swap then finds most of it done, and the disk works while
 * the next entries are decompressed.
 */
static void start_writeback(const char *path)
{
#ifdef SYNC_FILE_RANGE_WRITE
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		close(fd);
	}
#else
	(void)path;
#endif
}

/* ---- reading: zstd decompressed on a thread of its own ---- */

/*
 * GNU tar runs zstd -d in a second process, so decompressing and writing
 * the files overlap; libarchive's own zstd filter does both in turn on one
 * thread. For a zstd archive the reader therefore decompresses on a thread
 * into a ring of ZP_SLOTS chunks, and libarchive reads the tar stream from
 * it (a custom read callback); hashing and writing stay where they were.
 * Memory: the ring, one input buffer and zstd's window.
 */
#define ZP_SLOTS 4

typedef struct {
	int fd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *slot[ZP_SLOTS];
	size_t len[ZP_SLOTS];
	size_t filled, taken;       /* chunks published by the thread / handed to libarchive */
	int eof, quit;              /* the stream ended / the reader gave up */
	char err[160];              /* why the stream could not be decompressed */
	uint64_t in_bytes;          /* compressed bytes read so far (progress) */
	unsigned char *in;
	size_t incap;
	ZSTD_DCtx *z;
} fr_zpipe;

static int zp_publish(fr_zpipe *p, size_t len)
{
	int quit;
	pthread_mutex_lock(&p->mu);
	p->len[p->filled % ZP_SLOTS] = len;
	p->filled++;
	pthread_cond_broadcast(&p->cv);
	/*
	 * Chunks held..filled-1 are libarchive's or waiting for it (held: the
	 * one it has now, taken - 1); the next slot is free while they fill
	 * fewer than all the slots.
	 */
	while (!p->quit && p->filled - (p->taken ? p->taken - 1 : 0) >= ZP_SLOTS)
		pthread_cond_wait(&p->cv, &p->mu);
	quit = p->quit;
	pthread_mutex_unlock(&p->mu);
	return quit ? -1 : 0;
}

static void *zp_run(void *arg)
{
	fr_zpipe *p = arg;
	ZSTD_outBuffer out = { p->slot[0], BK_CHUNK, 0 };
	size_t last = 0;
	uint64_t in_total = 0;
	int full;
	for (;;) {
		ssize_t n = read(p->fd, p->in, p->incap);
		ZSTD_inBuffer in = { p->in, n > 0 ? (size_t)n : 0, 0 };
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(p->err, sizeof p->err, "cannot read: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			if (last != 0)
				snprintf(p->err, sizeof p->err, "the zstd stream is cut short");
			break;
		}
		in_total += (uint64_t)n;
		__atomic_store_n(&p->in_bytes, in_total, __ATOMIC_RELAXED);
		/* A full chunk may leave output inside zstd: call again until it is not full. */
		do {
			last = bk_zs.ZSTD_decompressStream(p->z, &out, &in);
			if (bk_zs.ZSTD_isError(last)) {
				snprintf(p->err, sizeof p->err, "zstd: %s", bk_zs.ZSTD_getErrorName(last));
				goto end;
			}
			full = out.pos == out.size;
			if (full) {
				if (zp_publish(p, out.pos))
					return NULL;
				out.dst = p->slot[p->filled % ZP_SLOTS];
				out.pos = 0;
			}
		} while (in.pos < in.size || full);
	}
end:
	pthread_mutex_lock(&p->mu);
	if (!p->err[0] && out.pos) {
		p->len[p->filled % ZP_SLOTS] = out.pos;
		p->filled++;
	}
	p->eof = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* libarchive's read callback: the next chunk; the one handed out before is free again. */
static la_ssize_t zp_read(struct archive *a, void *arg, const void **buf)
{
	fr_zpipe *p = arg;
	la_ssize_t n = 0;
	pthread_mutex_lock(&p->mu);
	/* The chunk libarchive held until now (if any) is given back; it takes the next. */
	p->taken++;
	pthread_cond_broadcast(&p->cv);
	while (p->filled < p->taken && !p->eof)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->filled >= p->taken) {
		size_t i = (p->taken - 1) % ZP_SLOTS;
		*buf = p->slot[i];
		n = (la_ssize_t)p->len[i];
	} else if (p->err[0]) {
		bk_ar.archive_set_error(a, EIO, "%s", p->err);
		n = -1;
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* Frees what zp_start() allocated (the thread is stopped or was never started). */
static void zp_release(fr_zpipe *p)
{
	size_t i;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	for (i = 0; i < ZP_SLOTS; i++)
		fr_free(p->slot[i]);
	fr_free(p->in);
	if (p->z)
		bk_zs.ZSTD_freeDCtx(p->z);
	fr_free(p);
}

/* Stops the thread and frees everything. */
static void zp_free(fr_zpipe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	zp_release(p);
}

/*
 * A decompressing thread for fd when it holds a zstd stream (and libzstd
 * and the memory are there); NULL otherwise, and libarchive's filters read
 * it. fd is left at its start either way.
 */
static fr_zpipe *zp_start(int fd)
{
	static const unsigned char magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	unsigned char head[4];
	fr_zpipe *p;
	size_t i;
	int ok;
	if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head || memcmp(head, magic, 4) ||
	    bk_zstd_open() || !(p = fr_calloc(1, sizeof *p)))
		return NULL;
	p->fd = fd;
	p->incap = bk_zs.ZSTD_DStreamInSize();
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	ok = (p->in = fr_malloc(p->incap)) && (p->z = bk_zs.ZSTD_createDCtx());
	for (i = 0; ok && i < ZP_SLOTS; i++)
		ok = (p->slot[i] = fr_malloc(BK_CHUNK)) != NULL;
	if (!ok || fr_thread_start(&p->thread, zp_run, p)) {
		zp_release(p);
		return NULL;
	}
	return p;
}

static uint64_t zp_in_bytes(const fr_zpipe *p)
{
	return __atomic_load_n(&p->in_bytes, __ATOMIC_RELAXED);
}

/* Reads one entry's data: hashes it (holes as zeros) and, restoring, writes it. */
static int read_data(fr_reader *r, const char *name, int64_t *size)
{
	const void *buf;
	size_t len;
	la_int64_t off, pos = 0;
	int ar;
	for (;;) {
		ar = bk_ar.archive_read_data_block(r->r, &buf, &len, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			bk_finding(r, "damaged", name, "cannot read: %s", bk_ar.archive_error_string(r->r));
			r->stop = 1;
			return -1;
		}
		while (pos < off) {
			size_t z = off - pos > BK_CHUNK ? BK_CHUNK : (size_t)(off - pos);
			hash_bytes(r, r->zeros, z);
			pos += (la_int64_t)z;
		}
		if (hash_bytes(r, buf, len)) {
			bk_finding(r, "damaged", name, "cannot hash: libcrypto failed");
			r->stop = 1;
			return -1;
		}
		/*
		 * Zero blocks are left as holes (write_disk sets the size at the
		 * end): a sparse file stays sparse. Cheaper than libarchive's
		 * ARCHIVE_EXTRACT_SPARSE, which scans every block.
		 * Strict: write_disk reports a failed write() (disk full) as a warning.
		 */
		if (r->disk && !all_zero(buf, len) &&
		    bk_ar.archive_write_data_block(r->disk, buf, len, off) != ARCHIVE_OK) {
			char eb[512];
			bk_finding(r, "write", name, "cannot write: %s", bk_disk_error(r->disk, eb, sizeof eb));
			r->stop = r->write_failed = 1;
			return -1;
		}
		pos = off + (la_int64_t)len;
		bk_prog_at(&r->prog, r->zp ? zp_in_bytes(r->zp)
		                        : (uint64_t)bk_ar.archive_filter_bytes(r->r, -1));
		if (r->f->interrupted) {
			r->stop = 1;
			return -1;
		}
	}
	*size = pos;
	return 0;
}

/* Checks a link entry; 0 when it may be written. */
static int check_link(fr_reader *r, const char *name, const char *lnk, int hard)
{
	const char *rel = files_rel(name);
	if (!rel) {
		bk_finding(r, "unsafe", name, "a link outside files/");
		return -1;
	}
	if (hard) {
		char *t = name_norm(lnk);
		fr_rec *x = NULL;
		size_t i;
		int ok = t && files_rel(t);
		/* Only to a regular file this archive put in staging before. */
		for (i = 0; ok && i < r->nrecs && !x; i++)
			if (!strcmp(r->recs[i].path, t))
				x = &r->recs[i];
		ok = ok && x && x->type == 'f';
		if (ok && r->stage)
			ok = bk_resolves_inside(r->stage, r->f->root, t);
		fr_free(t);
		if (!ok) {
			bk_finding(r, "unsafe", name, "a hard link to '%s', which is not a file of this "
			        "backup", lnk);
			return -1;
		}
		return 0;
	}
	if (!bk_link_inside(r->f->root, rel, lnk)) {
		bk_finding(r, "unsafe", name, "a symbolic link to '%s', outside the installation", lnk);
		return -1;
	}
	return 0;
}

/* ---- what an entry may be: the one set of rules, for verify and restore alike ---- */

static size_t name_hash(const char *s)
{
	size_t h = 1469598103934665603ull & (size_t)-1;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ull;
	return h;
}

/* 1 when an entry called name was read before. */
static int seen_has(const fr_reader *r, const char *name)
{
	size_t i, mask = r->capseen - 1;
	if (!r->capseen)
		return 0;
	for (i = name_hash(name) & mask; r->seen[i]; i = (i + 1) & mask)
		if (!strcmp(r->seen[i], name))
			return 1;
	return 0;
}

/* Remembers the entry read at name (a record's path, which outlives the set); -1 on OOM. */
static int seen_put(fr_reader *r, const char *name)
{
	size_t i, mask;
	if ((r->nseen + 1) * 2 > r->capseen) {
		size_t ncap = r->capseen ? r->capseen * 2 : 256, k;
		const char **nt = fr_calloc(ncap, sizeof *nt);
		if (!nt)
			return -1;
		for (k = 0; k < r->capseen; k++) {
			if (!r->seen[k])
				continue;
			for (i = name_hash(r->seen[k]) & (ncap - 1); nt[i]; i = (i + 1) & (ncap - 1))
				;
			nt[i] = r->seen[k];
		}
		fr_free(r->seen);
		r->seen = nt;
		r->capseen = ncap;
	}
	mask = r->capseen - 1;
	for (i = name_hash(name) & mask; r->seen[i]; i = (i + 1) & mask)
		;
	r->seen[i] = name;
	r->nseen++;
	return 0;
}

/*
 * What an entry of a ferry backup may be, for verify and restore alike:
 * under files/ (anything the installation may hold but .ferry/, a
 * database's files and the backup folder) or a file directly under
 * databases/; no device, pipe or socket; links that stay inside the
 * installation; once only. 0 when it may be read on (and written); -1
 * after a finding, with r->stop (and r->unsafe) set; 1 for a second entry
 * of a name when verifying: a finding, and the reader reads past it.
 */
static int entry_allowed(fr_reader *r, const char *name, char type, const char *lnk, int hard)
{
	const char *rel = files_rel(name);
	if (!type) {
		bk_finding(r, "unsafe", name, "a device, pipe or socket");
		r->unsafe = r->stop = 1;
		return -1;
	}
	if (!rel && strcmp(name, "files") &&
	    !(!strncmp(name, "databases/", 10) && name[10] && !strchr(name + 10, '/') &&
	      type == 'f') && !(!strcmp(name, "databases") && type == 'd')) {
		/* Nothing else belongs in a backup. */
		bk_finding(r, "unexpected", name, "not part of a ferry backup");
		r->unsafe = r->stop = 1;
		return -1;
	}
	if (rel && r->sel && bk_sel_is_hard(r->sel, rel)) {
		bk_finding(r, "unsafe", name, "would overwrite ferry's state, a database or the "
		        "backups");
		r->unsafe = r->stop = 1;
		return -1;
	}
	if ((type == 'l' || type == 'h') && (!lnk || check_link(r, name, lnk, hard))) {
		if (!lnk)
			bk_finding(r, "unsafe", name, "a link without a target");
		r->unsafe = r->stop = 1;
		return -1;
	}
	if (seen_has(r, name)) {
		/* The first copy was read (and staged): a restore cannot write both. */
		bk_finding(r, "duplicate", name, "in the archive twice");
		if (r->disk) {
			r->stop = 1;
			return -1;
		}
		return 1;
	}
	return 0;
}

/*
 * Reads the next entry; 1 at the end, 0 to go on, -1 to stop. One
 * function because its checks are one sequence over the same entry (its
 * name, type, links, what it may overwrite), each ending the read with a
 * finding, before the one place that writes it.
 */
static int read_entry(fr_reader *r)
{
	struct archive_entry *e;
	const char *raw, *lnk;
	char *name = NULL;
	fr_buf dest = FR_BUF_INIT, hl = FR_BUF_INIT;
	fr_rec *x;
	unsigned ft;
	int ar, rc = -1, hard, allowed;
	char type;
	int64_t size = 0;

	ar = bk_ar.archive_read_next_header(r->r, &e);
	if (ar == ARCHIVE_EOF)
		return 1;
	if (ar < ARCHIVE_WARN) {
		bk_finding(r, "damaged", "archive", "cannot read the next entry: %s",
		        bk_ar.archive_error_string(r->r));
		r->stop = 1;
		return -1;
	}
	raw = bk_ar.archive_entry_pathname(e);
	if (!raw || !(name = name_norm(raw))) {
		bk_finding(r, "unsafe", raw ? raw : "?", "an absolute path, '..', or an empty name");
		r->unsafe = r->stop = 1;
		goto done;
	}
	ft = bk_ar.archive_entry_filetype(e);
	lnk = bk_ar.archive_entry_hardlink(e);
	hard = lnk != NULL;
	type = hard ? 'h' : ft == AE_IFREG ? 'f' : ft == AE_IFDIR ? 'd' : ft == AE_IFLNK ? 'l' : 0;
	if (!hard && ft == AE_IFLNK)
		lnk = bk_ar.archive_entry_symlink(e);
	if (!strcmp(name, "MANIFEST.json") && type == 'f') {
		const void *buf;
		size_t len;
		la_int64_t off;
		if (r->have_manifest++) {
			bk_finding(r, "duplicate", name, "a second manifest");
			r->stop = 1;
			goto done;
		}
		while ((ar = bk_ar.archive_read_data_block(r->r, &buf, &len, &off)) == ARCHIVE_OK) {
			if (r->manifest.len + len > (size_t)BK_MANIFEST_MAX ||
			    (la_int64_t)r->manifest.len != off || fr_buf_add(&r->manifest, buf, len)) {
				bk_finding(r, "manifest", name, "too large or sparse");
				r->stop = 1;
				goto done;
			}
		}
		if (ar != ARCHIVE_EOF) {
			bk_finding(r, "damaged", name, "cannot read: %s", bk_ar.archive_error_string(r->r));
			r->stop = 1;
			goto done;
		}
		rc = 0;
		goto done;
	}
	if ((allowed = entry_allowed(r, name, type, lnk, hard)) < 0)
		goto done;
	if (r->disk && strcmp(name, "files") && strcmp(name, "databases")) {
		fr_buf_printf(&dest, "%s/%s", r->stage, name);
		bk_ar.archive_entry_set_pathname(e, dest.ptr);
		if (hard) {
			char *t = name_norm(lnk);
			fr_buf_printf(&hl, "%s/%s", r->stage, t ? t : "");
			fr_free(t);
			bk_ar.archive_entry_set_hardlink(e, hl.ptr);
		}
		if (dest.oom || hl.oom) {
			bk_finding(r, "write", name, "out of memory");
			r->stop = 1;
			goto done;
		}
		if (bk_ar.archive_write_header(r->disk, e) != ARCHIVE_OK) {
			char eb[512];
			bk_finding(r, "write", name, "cannot extract: %s", bk_disk_error(r->disk, eb, sizeof eb));
			r->stop = r->write_failed = 1;
			goto done;
		}
	}
	if (read_data(r, name, &size))
		goto done;
	if (r->disk && strcmp(name, "files") && strcmp(name, "databases") &&
	    bk_ar.archive_write_finish_entry(r->disk) != ARCHIVE_OK) {
		bk_finding(r, "write", name, "cannot extract: %s", bk_ar.archive_error_string(r->disk));
		r->stop = 1;
		goto done;
	}
	if (r->disk && type == 'f' && size >= BK_CHUNK)
		start_writeback(dest.ptr);
	if (allowed == 1) {
		/* A second copy, read past: its finding is made, the first copy is the record. */
		char sha[65];
		rc = fr_sha256_hex_reset(r->md, sha) ? -1 : 0;
		goto done;
	}
	if (!(x = rec_push(r, name, type)) || seen_put(r, x->path)) {
		bk_finding(r, "damaged", name, "out of memory");
		r->stop = 1;
		goto done;
	}
	x->size = size;
	x->mode = (unsigned)bk_ar.archive_entry_perm(e) & 07777;
	if (fr_sha256_hex_reset(r->md, x->sha)) {
		bk_finding(r, "damaged", name, "cannot hash: libcrypto failed");
		r->stop = 1;
		goto done;
	}
	if (lnk && !(x->target = fr_strdup(lnk))) {
		r->stop = 1;
		goto done;
	}
	if (r->disk && type == 'l' && bk_strv_push(&r->links, &r->nlinks, fr_strdup(files_rel(name)))) {
		r->stop = 1;
		goto done;
	}
	rc = 0;
done:
	fr_free(name);
	fr_buf_release(&dest);
	fr_buf_release(&hl);
	return rc;
}

void bk_reader_free(fr_reader *r)
{
	size_t i;
	for (i = 0; i < r->nrecs; i++) {
		fr_free(r->recs[i].path);
		fr_free(r->recs[i].target);
	}
	fr_free(r->recs);
	fr_free(r->seen);
	fr_strv_free(r->links, r->nlinks);
	fr_buf_release(&r->manifest);
	json_decref(r->findings);
	fr_free(r->zeros);
	if (r->md)
		fr_sha256_free(r->md);
	if (r->r)
		bk_ar.archive_read_free(r->r);
	memset(r, 0, sizeof *r);
}

int bk_read_archive(fr_reader *r, const char *path, const char *what, json_t **man)
{
	struct stat st;
	int fd, done = 0;
	*man = NULL;
	r->findings = json_array();
	r->zeros = fr_calloc(1, BK_CHUNK);
	r->md = fr_sha256_new();
	fr_buf_init(&r->manifest);
	if (!r->findings || !r->zeros || !r->md)
		return fr_fail(r->f, FERRY_EFAILED, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return fr_fail(r->f, FERRY_EFAILED, "cannot open backup '%s': %s", path, strerror(e));
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->r = bk_ar.archive_read_new();
	if (!r->r) {
		close(fd);
		return fr_fail(r->f, FERRY_EFAILED, "out of memory");
	}
	bk_ar.archive_read_support_format_tar(r->r);
	r->zp = zp_start(fd);
	if (!r->zp) {
		bk_ar.archive_read_support_filter_zstd(r->r);
		bk_ar.archive_read_support_filter_gzip(r->r);
	}
	if ((r->zp ? bk_ar.archive_read_open(r->r, r->zp, NULL, zp_read, NULL)
	           : bk_ar.archive_read_open_fd(r->r, fd, BK_CHUNK)) != ARCHIVE_OK) {
		bk_finding(r, "damaged", "archive", "not a tar archive ferry can read: %s",
		        bk_ar.archive_error_string(r->r));
		zp_free(r->zp);
		r->zp = NULL;
		close(fd);
		return 0;
	}
	bk_prog_start(&r->prog, r->f, what, (uint64_t)st.st_size);
	while (!done && !r->stop)
		done = read_entry(r) == 1;
	bk_ar.archive_read_free(r->r); /* closes the archive; the fd stays ours */
	r->r = NULL;
	zp_free(r->zp);
	r->zp = NULL;
	close(fd);
	if (r->f->interrupted)
		return fr_fail(r->f, FERRY_EINTERRUPTED, "interrupted; nothing was changed");
	/*
	 * Damage found after the manifest (a gzip trailer's CRC) still leaves
	 * every entry read: name the ones that differ too.
	 */
	if (!r->stop || (r->have_manifest && !r->unsafe)) {
		bk_prog_end(&r->prog);
		*man = bk_check_manifest(r);
	}
	return 0;
}

void bk_findings_text(fr_reader *r, fr_buf *out)
{
	size_t i;
	json_t *o;
	json_array_foreach(r->findings, i, o) {
		if (i == 3) {
			fr_buf_printf(out, "; and %zu more", r->nfind - 3);
			break;
		}
		fr_buf_printf(out, "%s%s '%s': %s", i ? "; " : "",
		              json_string_value(json_object_get(o, "kind")),
		              json_string_value(json_object_get(o, "subject")),
		              json_string_value(json_object_get(o, "message")));
	}
}

/*
 * The manifest of the archive at path, read without checking the entries
 * before it (for `backup list` of an archive state.db does not know).
 * NULL when it cannot be read or is not a ferry manifest.
 */
json_t *bk_read_manifest(const char *path)
{
	struct archive *a;
	struct archive_entry *e;
	fr_buf text = FR_BUF_INIT;
	json_t *man = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ar, found = 0;
	if (fd < 0)
		return NULL;
	if (!(a = bk_ar.archive_read_new())) {
		close(fd);
		return NULL;
	}
	bk_ar.archive_read_support_format_tar(a);
	bk_ar.archive_read_support_filter_zstd(a);
	bk_ar.archive_read_support_filter_gzip(a);
	if (bk_ar.archive_read_open_fd(a, fd, BK_CHUNK) != ARCHIVE_OK)
		goto done;
	while (!found && bk_ar.archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = bk_ar.archive_entry_pathname(e);
		const void *buf;
		size_t len;
		la_int64_t off;
		if (!name || strcmp(name, "MANIFEST.json") ||
		    bk_ar.archive_entry_filetype(e) != AE_IFREG)
			continue;
		while ((ar = bk_ar.archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
			if (text.len + len > (size_t)BK_MANIFEST_MAX || fr_buf_add(&text, buf, len))
				goto done;
		found = ar == ARCHIVE_EOF;
	}
	if (found) {
		man = json_loadb(text.ptr, text.len, 0, NULL);
		if (!json_is_object(man) ||
		    strcmp(json_string_value(json_object_get(man, "format")) ?
		           json_string_value(json_object_get(man, "format")) : "", "ferry-backup")) {
			json_decref(man);
			man = NULL;
		}
	}
done:
	bk_ar.archive_read_free(a);
	close(fd);
	fr_buf_release(&text);
	return man;
}
