/*
 * statmemo.c - stat results by path for one call (statmemo.h). Noting is
 * kept cheap, one note an entry of a listing: a folder number, the name
 * copied into an arena and the fields of the stat the catalog reads, in
 * chunks that never move. The table that finds a path (open addressing over
 * indices, FNV-1a over DIR "/" NAME, so that any cut of a path into a folder
 * and a name finds it) is built at the first lookup.
 */
#include "statmemo.h"
#include "alloc.h"
#include "buf.h"

#include <stdint.h>
#include <string.h>

/* What the catalog reads of a stat, and no more: a listing's memo is a few pages. */
typedef struct {
	uint32_t dir;    /* index into dirs */
	uint32_t name;   /* offset of the name in the arena */
	uint32_t len;
	uint32_t mode;
	int64_t size, ino;
	int64_t mtime_s, ctime_s;
	uint32_t mtime_ns, ctime_ns;
} memo_entry;

/* Entries in chunks that never move: growing copies nothing (a listing notes thousands). */
#define CHUNK 512

struct fr_statmemo {
	memo_entry **chunk;
	size_t n, nchunks, cchunks;
	uint32_t *dirs;  /* offset of each folder's path in the arena */
	uint32_t *dlen;
	size_t ndirs, cdirs, cdlen;
	fr_buf arena;
	uint32_t *slot;  /* entry index + 1; 0: empty; NULL until the first lookup */
	uint64_t *hash;  /* each entry's, made with the table */
	size_t nslot;
	int oom;
	size_t hits;
};

#define E(m, i) (&(m)->chunk[(i) / CHUNK][(i) % CHUNK])

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static uint64_t key_hash(const char *dir, size_t ld, const char *name, size_t ln)
{
	return fnv(fnv(fnv(14695981039346656037ULL, dir, ld), "/", 1), name, ln);
}

fr_statmemo *fr_statmemo_new(void)
{
	return fr_calloc(1, sizeof(fr_statmemo));
}

void fr_statmemo_free(fr_statmemo *m)
{
	if (!m)
		return;
	size_t i;
	for (i = 0; i < m->nchunks; i++)
		fr_free(m->chunk[i]);
	fr_free(m->chunk);
	fr_free(m->dirs);
	fr_free(m->dlen);
	fr_free(m->slot);
	fr_free(m->hash);
	fr_buf_release(&m->arena);
	fr_free(m);
}

int fr_statmemo_dir(fr_statmemo *m, const char *dir)
{
	size_t ld = strlen(dir);
	if (!m || m->oom)
		return -1;
	if (m->ndirs >= UINT32_MAX || m->arena.len + ld >= UINT32_MAX ||
	    fr_grow(&m->dirs, &m->cdirs, m->ndirs + 1, sizeof *m->dirs) ||
	    fr_grow(&m->dlen, &m->cdlen, m->ndirs + 1, sizeof *m->dlen))
		goto oom;
	m->dirs[m->ndirs] = (uint32_t)m->arena.len;
	m->dlen[m->ndirs] = (uint32_t)ld;
	fr_buf_add(&m->arena, dir, ld);
	if (m->arena.oom)
		goto oom;
	return (int)m->ndirs++;
oom:
	m->oom = 1;
	return -1;
}

static int add_chunk(fr_statmemo *m)
{
	if (m->n >= UINT32_MAX - CHUNK ||
	    fr_grow(&m->chunk, &m->cchunks, m->nchunks + 1, sizeof *m->chunk) ||
	    !(m->chunk[m->nchunks] = fr_malloc(CHUNK * sizeof(memo_entry))))
		return -1;
	m->nchunks++;
	return 0;
}

/* Runs once an entry of every listing: the growth checks inline, one copy of the name. */
int fr_statmemo_put(fr_statmemo *m, int dir, const char *name, const struct stat *st)
{
	size_t ln = strlen(name);
	memo_entry *x;
	if (!m || m->oom || dir < 0 || (size_t)dir >= m->ndirs)
		return -1;
	if ((m->n == m->nchunks * CHUNK && add_chunk(m)) ||
	    (m->arena.len + ln + 1 > m->arena.cap &&
	     (m->arena.len + ln >= UINT32_MAX ||
	      fr_buf_grow(&m->arena, ln + 1 > 16384 ? ln + 1 : 16384)))) {
		m->oom = 1;
		return -1;
	}
	x = E(m, m->n);
	m->n++;
	x->dir = (uint32_t)dir;
	x->name = (uint32_t)m->arena.len;
	x->len = (uint32_t)ln;
	memcpy(m->arena.ptr + m->arena.len, name, ln);
	m->arena.len += ln;
	m->arena.ptr[m->arena.len] = '\0'; /* as an fr_buf is kept */
	x->mode = (uint32_t)st->st_mode;
	x->size = (int64_t)st->st_size;
	x->ino = (int64_t)st->st_ino;
	x->mtime_s = (int64_t)st->st_mtim.tv_sec;
	x->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
	x->ctime_s = (int64_t)st->st_ctim.tv_sec;
	x->ctime_ns = (uint32_t)st->st_ctim.tv_nsec;
	if (m->slot) {
		FR_FREE(m->slot); /* built again at the next lookup */
		FR_FREE(m->hash);
	}
	return 0;
}

/* DIR "/" NAME is the entry's path, however the path is cut into the two. */
static int key_is(const fr_statmemo *m, const memo_entry *x, const char *dir, size_t ld,
                  const char *name, size_t ln)
{
	const char *a = m->arena.ptr;
	size_t xd = m->dlen[x->dir], total = xd + 1 + x->len, i;
	if (total != ld + 1 + ln)
		return 0;
	/* Compare byte by byte across the two cuts: (xdir, '/', xname) against (dir, '/', name). */
	for (i = 0; i < total; i++) {
		char p = i < xd ? a[m->dirs[x->dir] + i] : i == xd ? '/' : a[x->name + i - xd - 1];
		char q = i < ld ? dir[i] : i == ld ? '/' : name[i - ld - 1];
		if (p != q)
			return 0;
	}
	return 1;
}

static int build(fr_statmemo *m)
{
	size_t nslot = 64, i;
	while (nslot < m->n * 2)
		nslot *= 2;
	if (!(m->slot = fr_calloc(nslot, sizeof *m->slot)) ||
	    !(m->hash = fr_calloc(m->n, sizeof *m->hash))) {
		FR_FREE(m->slot);
		return -1;
	}
	m->nslot = nslot;
	for (i = 0; i < m->n; i++) {
		memo_entry *x = E(m, i);
		size_t j;
		m->hash[i] = key_hash(m->arena.ptr + m->dirs[x->dir], m->dlen[x->dir],
		                      m->arena.ptr + x->name, x->len);
		/* A path noted twice: the later stat, in the earlier's slot. */
		for (j = (size_t)m->hash[i] & (nslot - 1); m->slot[j]; j = (j + 1) & (nslot - 1)) {
			memo_entry *y = E(m, m->slot[j] - 1);
			if (m->hash[m->slot[j] - 1] == m->hash[i] &&
			    key_is(m, y, m->arena.ptr + m->dirs[x->dir], m->dlen[x->dir],
			           m->arena.ptr + x->name, x->len))
				break;
		}
		m->slot[j] = (uint32_t)(i + 1);
	}
	return 0;
}

int fr_statmemo_get(fr_statmemo *m, const char *dir, const char *name, struct stat *st)
{
	size_t ld, ln, j;
	uint64_t h;
	if (!m || !m->n || m->oom || (!m->slot && build(m)))
		return 0;
	ld = strlen(dir);
	ln = strlen(name);
	h = key_hash(dir, ld, name, ln);
	for (j = (size_t)h & (m->nslot - 1); m->slot[j]; j = (j + 1) & (m->nslot - 1)) {
		const memo_entry *x = E(m, m->slot[j] - 1);
		if (m->hash[m->slot[j] - 1] == h && key_is(m, x, dir, ld, name, ln)) {
			memset(st, 0, sizeof *st);
			st->st_mode = (mode_t)x->mode;
			st->st_size = (off_t)x->size;
			st->st_ino = (ino_t)x->ino;
			st->st_mtim.tv_sec = (time_t)x->mtime_s;
			st->st_mtim.tv_nsec = (long)x->mtime_ns;
			st->st_ctim.tv_sec = (time_t)x->ctime_s;
			st->st_ctim.tv_nsec = (long)x->ctime_ns;
			m->hits++;
			return 1;
		}
	}
	return 0;
}

size_t fr_statmemo_count(const fr_statmemo *m)
{
	return m ? m->n : 0;
}

size_t fr_statmemo_hits(const fr_statmemo *m)
{
	return m ? m->hits : 0;
}
